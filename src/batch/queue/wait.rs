//! `batch --queue --wait`: every job's outcome, from the results stream
//! or the server giving the job up.

use std::collections::{HashMap, HashSet};

use async_nats::jetstream::consumer::{self, DeliverPolicy, pull};
use futures_util::StreamExt;
use tracing::{debug, warn};

use super::*;
use crate::batch::job::{self, Job, Outcome, Slot};

/// What [`wait_report`] saw.
#[derive(Debug, Clone)]
pub struct WaitReport {
    /// In the order of the jobs.
    pub outcomes: Vec<Outcome>,
    /// Results that came for a job that already had one (ignored).
    pub duplicates: u64,
}

/// Follows batch `batch` until every job has an outcome: its result from
/// the results stream (those that came before `wait` began included; a
/// second result for a job is ignored), or a failed outcome ("gave up
/// after N deliveries") when the queue gave the job up: told by the
/// server's max-deliveries advisory, or, for a job given up while no one
/// listened, found by asking the workers' consumer and the jobs stream
/// every few seconds. Calls `on_event` for each start and outcome; returns
/// the outcomes in the order of `jobs`. Runs until then: bound it from
/// outside (its thread) where workers may never come.
pub fn wait(
    cfg: &QueueConfig,
    batch: &str,
    jobs: &[Job],
    on_event: &mut dyn FnMut(QueueEvent),
) -> Result<Vec<Outcome>, QueueError> {
    wait_report(cfg, batch, jobs, on_event).map(|r| r.outcomes)
}

/// [`wait`], also counting the duplicate results it ignored.
pub fn wait_report(
    cfg: &QueueConfig,
    batch: &str,
    jobs: &[Job],
    on_event: &mut dyn FnMut(QueueEvent),
) -> Result<WaitReport, QueueError> {
    check_batch(batch)?;
    runtime()?.block_on(wait_async(cfg, batch, jobs, on_event))
}

/// The failed outcome of a job the queue gave up.
fn given_up(j: &Job, deliveries: u64) -> Outcome {
    let now = job::unix_ms();
    Outcome {
        id: j.id.clone(),
        verb: j.verb,
        input: j.input.clone(),
        outputs: j.outputs.clone(),
        ok: false,
        exit_code: None,
        error: Some(format!("gave up after {deliveries} deliveries")),
        note: None,
        slot: Slot::Any,
        started_unix_ms: now,
        ended_unix_ms: now,
        seconds: 0.0,
        worker: String::new(),
        delivery: deliveries,
        result: None,
    }
}

fn done(outcomes: &mut HashMap<String, Outcome>, o: Outcome, on_event: &mut dyn FnMut(QueueEvent)) {
    on_event(QueueEvent::Done(o.clone()));
    outcomes.insert(o.id.clone(), o);
}

/// The (batch, job id) of the job at `seq` of the jobs stream.
async fn job_at(q: &Queue, cfg: &QueueConfig, seq: u64) -> Option<(String, String)> {
    if let Some(known) = published_job(&cfg.jobs_stream, seq) {
        return Some(known);
    }
    let m = q.jobs.get_raw_message(seq).await.ok()?;
    let msg: JobMessage = serde_json::from_slice(&m.payload).ok()?;
    Some((msg.batch, msg.job.id))
}

/// Jobs of `batch` among `missing` that the queue gave up while no one
/// listened to its advisory: with nothing pending and nothing awaiting an
/// ack on the workers' consumer, a job message still in the work-queue
/// stream is one past its last delivery.
async fn sweep_given_up(
    q: &Queue,
    cfg: &QueueConfig,
    batch: &str,
    missing: &HashSet<String>,
) -> Result<Vec<(String, u64)>, QueueError> {
    let c: consumer::PullConsumer = match q.jobs.get_consumer(WORKERS_CONSUMER).await {
        Ok(c) => c,
        Err(_) => return Ok(Vec::new()),
    };
    let info = c
        .get_info()
        .await
        .map_err(|e| js_err(&format!("consumer {WORKERS_CONSUMER}"), e))?;
    if info.num_pending > 0 || info.num_ack_pending > 0 {
        return Ok(Vec::new());
    }
    let deliveries = u64::try_from(info.config.max_deliver).unwrap_or(0);
    let mut found = Vec::new();
    let mut seen = HashSet::new();
    // Those this process published, by sequence.
    for id in missing {
        if let Some(seq) = published_seq(&cfg.jobs_stream, batch, id)
            && q.jobs.get_raw_message(seq).await.is_ok()
        {
            seen.insert(id.clone());
            found.push((id.clone(), deliveries));
        }
    }
    if seen.len() == missing.len() {
        return Ok(found);
    }
    // The others: the batch's messages still in the stream.
    let subject = jobs_subject(batch);
    let mut seq = 1u64;
    loop {
        let m = q
            .jobs
            .raw_message_builder()
            .sequence(seq)
            .next_by_subject(subject.clone())
            .send()
            .await;
        let Ok(m) = m else { break };
        seq = m.sequence + 1;
        if let Ok(msg) = serde_json::from_slice::<JobMessage>(&m.payload)
            && missing.contains(&msg.job.id)
            && seen.insert(msg.job.id.clone())
        {
            found.push((msg.job.id, deliveries));
        }
    }
    Ok(found)
}

async fn wait_async(
    cfg: &QueueConfig,
    batch: &str,
    jobs: &[Job],
    on_event: &mut dyn FnMut(QueueEvent),
) -> Result<WaitReport, QueueError> {
    let q = connect(cfg, "cvmmap batch wait").await?;
    let by_id: HashMap<&str, &Job> = jobs.iter().map(|j| (j.id.as_str(), j)).collect();
    let mut outcomes: HashMap<String, Outcome> = HashMap::new();
    let mut duplicates = 0u64;

    let mut started = q
        .client
        .subscribe(progress_subject(batch))
        .await
        .map_err(|e| js_err("subscribe to progress", e))?;
    let mut advisories = q
        .client
        .subscribe(max_deliveries_subject(&cfg.jobs_stream))
        .await
        .map_err(|e| js_err("subscribe to advisories", e))?;
    q.client.flush().await.map_err(|e| js_err("flush", e))?;
    // Every result of the batch, from the first: those that came before we
    // began count too.
    let mut results = q
        .results
        .create_consumer(pull::OrderedConfig {
            filter_subject: results_subject(batch),
            deliver_policy: DeliverPolicy::All,
            ..Default::default()
        })
        .await
        .map_err(|e| js_err(&format!("consumer on {}", cfg.results_stream), e))?
        .messages()
        .await
        .map_err(|e| js_err(&format!("results of {batch}"), e))?;
    let mut suspects: HashSet<String> = HashSet::new();
    let mut sweep = tokio::time::interval(SWEEP_EVERY);
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

    while by_id.keys().any(|id| !outcomes.contains_key(*id)) {
        tokio::select! {
            m = started.next() => {
                let Some(m) = m else { return Err(js_err("progress", "subscription closed")) };
                if let Ok(s) = serde_json::from_slice::<StartedMessage>(&m.payload)
                    && by_id.contains_key(s.id.as_str())
                {
                    on_event(QueueEvent::Started { id: s.id, worker: s.worker, delivery: s.delivery });
                }
            }
            m = results.next() => {
                let m = match m {
                    None => return Err(js_err(&format!("results of {batch}"), "the consumer ended")),
                    Some(Err(e)) => {
                        warn!(error = %e, "results of {batch}");
                        continue;
                    }
                    Some(Ok(m)) => m,
                };
                match serde_json::from_slice::<Outcome>(&m.payload) {
                    Err(e) => warn!(error = %e, "a result of {batch} that is no outcome"),
                    Ok(o) if !by_id.contains_key(o.id.as_str()) => {
                        debug!(id = %o.id, "a result of {batch} for a job not waited for");
                    }
                    Ok(o) if outcomes.contains_key(&o.id) => {
                        duplicates += 1;
                        warn!(id = %o.id, worker = %o.worker, delivery = o.delivery, "a second result, ignored");
                    }
                    Ok(o) => done(&mut outcomes, o, on_event),
                }
            }
            m = advisories.next() => {
                let Some(m) = m else { return Err(js_err("advisories", "subscription closed")) };
                let Ok(a) = serde_json::from_slice::<MaxDeliveriesAdvisory>(&m.payload) else { continue };
                let Some((b, id)) = job_at(&q, cfg, a.stream_seq).await else { continue };
                if b != batch || outcomes.contains_key(&id) {
                    continue;
                }
                if let Some(j) = by_id.get(id.as_str()) {
                    let n = if a.deliveries > 0 { a.deliveries } else { cfg.max_deliver.max(0) as u64 };
                    warn!(id = %id, deliveries = n, "job given up");
                    done(&mut outcomes, given_up(j, n), on_event);
                }
            }
            _ = sweep.tick() => {
                let missing: HashSet<String> = by_id
                    .keys()
                    .filter(|id| !outcomes.contains_key(**id))
                    .map(|id| id.to_string())
                    .collect();
                match sweep_given_up(&q, cfg, batch, &missing).await {
                    Err(e) => warn!(error = %e, "cannot ask the queue for given-up jobs"),
                    Ok(list) => {
                        // Only what two sweeps in a row found: never a job
                        // caught between its result and its ack.
                        let before = std::mem::replace(
                            &mut suspects,
                            list.iter().map(|(id, _)| id.clone()).collect(),
                        );
                        for (id, n) in list {
                            if !before.contains(&id) {
                                continue;
                            }
                            if !outcomes.contains_key(&id) && let Some(j) = by_id.get(id.as_str()) {
                                warn!(id = %id, deliveries = n, "job given up");
                                done(&mut outcomes, given_up(j, n), on_event);
                            }
                        }
                    }
                }
            }
        }
    }
    let outcomes = jobs.iter().map(|j| outcomes[&j.id].clone()).collect();
    Ok(WaitReport {
        outcomes,
        duplicates,
    })
}
