//! Batches beyond one machine: jobs on a NATS JetStream work-queue stream,
//! pulled by `cvmmap_tools worker` processes anywhere that see the files.
//! JetStream is the scheduler (ack wait, redelivery, bounded deliveries);
//! nothing here schedules.
//!
//! The layout on the server, created (or found) by whoever comes first:
//!
//! - stream `CVMMAP_JOBS` (subjects `cvmmap.jobs.>`, work-queue retention,
//!   file storage): one message per job, `{"batch": ID, "job": Job}` on
//!   `cvmmap.jobs.<batch>`, published with `Nats-Msg-Id: <batch>.<job id>`
//!   (a job published twice within the duplicate window is queued once);
//! - its one durable pull consumer `workers` (explicit ack, `ack_wait`,
//!   `max_deliver`): every worker pulls from it, one job at a time; a job
//!   whose worker went silent for `ack_wait` is delivered again, to anyone;
//!   after `max_deliver` deliveries the server gives it up and says so in
//!   the advisory `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.CVMMAP_JOBS.workers`;
//! - stream `CVMMAP_RESULTS` (subjects `cvmmap.results.>`, limits
//!   retention): one [`Outcome`] per job on `cvmmap.results.<batch>`,
//!   published with `Nats-Msg-Id: <batch>.<job id>` before the job is acked,
//!   so a result published twice (a worker that finished and died before
//!   its ack) is kept once;
//! - core subject `cvmmap.progress.<batch>`: `{"id", "worker", "delivery"}`
//!   each time a worker starts a job (not stored: for whoever follows).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::{self, AckPolicy, DeliverPolicy, pull};
use async_nats::jetstream::context::PublishAckFuture;
use async_nats::jetstream::stream::{self, RetentionPolicy, StorageType};
use async_nats::jetstream::{self, AckKind};
use futures_util::StreamExt;
use tracing::{debug, info, warn};

use super::job::{self, Job, Outcome, Slot};

/// Subjects of the jobs stream.
const JOBS_SUBJECTS: &str = "cvmmap.jobs.>";
/// Subjects of the results stream.
const RESULTS_SUBJECTS: &str = "cvmmap.results.>";
/// The one durable consumer every worker pulls from.
pub const WORKERS_CONSUMER: &str = "workers";
/// How long the results stream remembers a result id: longer than any job
/// with its redeliveries (a duplicate after it is still ignored by `wait`).
const RESULTS_DUPLICATE_WINDOW: Duration = Duration::from_secs(60 * 60);
/// Results are kept this long.
const RESULTS_MAX_AGE: Duration = Duration::from_secs(30 * 24 * 60 * 60);
/// The longest a worker's pull request waits for a job: `stop` and
/// `idle_exit` are looked at between two.
const PULL_EXPIRY: Duration = Duration::from_secs(1);
/// How often `wait` asks the server whether jobs were given up while no one
/// listened to its advisories (a job is reported after two answers in a
/// row say so).
const SWEEP_EVERY: Duration = Duration::from_secs(5);

/// Where the queue is and how it behaves.
#[derive(Debug, Clone)]
pub struct QueueConfig {
    /// `nats://HOST:PORT`.
    pub url: String,
    /// The work-queue stream of jobs (`CVMMAP_JOBS`).
    pub jobs_stream: String,
    /// The stream of results (`CVMMAP_RESULTS`), one per job (deduplicated
    /// by job id).
    pub results_stream: String,
    /// How long a delivered job may go without a sign of life (workers
    /// send progress acks while they run) before JetStream redelivers it.
    pub ack_wait: Duration,
    /// Deliveries before a job is given up and reported failed.
    pub max_deliver: i64,
}

impl QueueConfig {
    /// The defaults (`CVMMAP_JOBS`, `CVMMAP_RESULTS`, 30 s, 3 deliveries)
    /// at `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            jobs_stream: "CVMMAP_JOBS".into(),
            results_stream: "CVMMAP_RESULTS".into(),
            ack_wait: Duration::from_secs(30),
            max_deliver: 3,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("NATS at {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error("JetStream: {0}")]
    JetStream(String),
    /// A batch id that cannot be one token of a subject.
    #[error("batch id {0:?}: only letters, digits, '-' and '_' may name a batch on a queue")]
    BadBatch(String),
}

fn js_err(what: &str, e: impl std::fmt::Display) -> QueueError {
    QueueError::JetStream(format!("{what}: {e}"))
}

/// What `wait` reports as it goes.
#[derive(Debug, Clone)]
pub enum QueueEvent {
    /// A worker took a job (delivery n).
    Started {
        id: String,
        worker: String,
        delivery: u64,
    },
    /// A job's result (from the results stream), or its failure after its
    /// last delivery.
    Done(Outcome),
}

/// A job on the wire.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct JobMessage {
    batch: String,
    job: Job,
}

/// A worker took a job (`cvmmap.progress.<batch>`).
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct StartedMessage {
    id: String,
    worker: String,
    delivery: u64,
}

/// What the server says when it gives a message up.
#[derive(Debug, serde::Deserialize)]
struct MaxDeliveriesAdvisory {
    stream_seq: u64,
    #[serde(default)]
    deliveries: u64,
}

pub fn jobs_subject(batch: &str) -> String {
    format!("cvmmap.jobs.{batch}")
}

pub fn results_subject(batch: &str) -> String {
    format!("cvmmap.results.{batch}")
}

pub fn progress_subject(batch: &str) -> String {
    format!("cvmmap.progress.{batch}")
}

/// The advisory the server sends when a job of `jobs_stream` reaches its
/// last delivery unacked.
pub fn max_deliveries_subject(jobs_stream: &str) -> String {
    format!("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{jobs_stream}.{WORKERS_CONSUMER}")
}

/// The `Nats-Msg-Id` of a job and of its result.
fn message_id(batch: &str, job_id: &str) -> String {
    format!("{batch}.{job_id}")
}

fn check_batch(batch: &str) -> Result<(), QueueError> {
    let ok = !batch.is_empty()
        && batch
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(QueueError::BadBatch(batch.to_owned()))
    }
}

/// Stream sequences of the jobs this process published: (jobs stream,
/// sequence) -> (batch, job id). `wait` in the same process maps an
/// advisory's sequence back without asking the server.
static PUBLISHED: Mutex<Vec<(String, u64, String, String)>> = Mutex::new(Vec::new());

fn published_job(stream: &str, seq: u64) -> Option<(String, String)> {
    let list = PUBLISHED.lock().unwrap_or_else(|p| p.into_inner());
    list.iter()
        .rev()
        .find(|(s, q, ..)| s == stream && *q == seq)
        .map(|(_, _, b, id)| (b.clone(), id.clone()))
}

fn published_seq(stream: &str, batch: &str, id: &str) -> Option<u64> {
    let list = PUBLISHED.lock().unwrap_or_else(|p| p.into_inner());
    list.iter()
        .rev()
        .find(|(s, _, b, i)| s == stream && b == batch && i == id)
        .map(|(_, q, ..)| *q)
}

fn runtime() -> Result<tokio::runtime::Runtime, QueueError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| QueueError::JetStream(format!("cannot start a runtime: {e}")))
}

/// A connection and its JetStream context, the streams there.
struct Queue {
    client: async_nats::Client,
    js: jetstream::Context,
    jobs: stream::Stream,
    results: stream::Stream,
}

async fn connect(cfg: &QueueConfig, name: &str) -> Result<Queue, QueueError> {
    let client = async_nats::ConnectOptions::new()
        .name(name)
        .connection_timeout(Duration::from_secs(5))
        .connect(cfg.url.as_str())
        .await
        .map_err(|e| QueueError::Connect {
            url: cfg.url.clone(),
            reason: e.to_string(),
        })?;
    let js = jetstream::new(client.clone());
    let jobs = js
        .get_or_create_stream(stream::Config {
            name: cfg.jobs_stream.clone(),
            subjects: vec![JOBS_SUBJECTS.into()],
            retention: RetentionPolicy::WorkQueue,
            storage: StorageType::File,
            ..Default::default()
        })
        .await
        .map_err(|e| js_err(&format!("stream {}", cfg.jobs_stream), e))?;
    let results = js
        .get_or_create_stream(stream::Config {
            name: cfg.results_stream.clone(),
            subjects: vec![RESULTS_SUBJECTS.into()],
            retention: RetentionPolicy::Limits,
            storage: StorageType::File,
            duplicate_window: RESULTS_DUPLICATE_WINDOW,
            max_age: RESULTS_MAX_AGE,
            ..Default::default()
        })
        .await
        .map_err(|e| js_err(&format!("stream {}", cfg.results_stream), e))?;
    Ok(Queue {
        client,
        js,
        jobs,
        results,
    })
}

impl Queue {
    /// The workers' consumer, created with `cfg`'s ack wait and deliveries
    /// when it is not there yet (an existing one keeps its own: they are
    /// the queue's, not one worker's).
    async fn workers(&self, cfg: &QueueConfig) -> Result<consumer::PullConsumer, QueueError> {
        let mut c: consumer::PullConsumer = self
            .jobs
            .get_or_create_consumer(
                WORKERS_CONSUMER,
                pull::Config {
                    durable_name: Some(WORKERS_CONSUMER.into()),
                    ack_policy: AckPolicy::Explicit,
                    deliver_policy: DeliverPolicy::All,
                    ack_wait: cfg.ack_wait,
                    max_deliver: cfg.max_deliver,
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| js_err(&format!("consumer {}", WORKERS_CONSUMER), e))?;
        if let Ok(info) = c.info().await {
            let (wait, deliver) = (info.config.ack_wait, info.config.max_deliver);
            if wait != cfg.ack_wait || deliver != cfg.max_deliver {
                warn!(
                    ack_wait_s = wait.as_secs_f64(),
                    max_deliver = deliver,
                    "the queue's consumer {WORKERS_CONSUMER} was made with other settings; it keeps its own"
                );
            }
        }
        Ok(c)
    }
}

/// Publishes `jobs` of batch `batch`.
pub fn publish(cfg: &QueueConfig, batch: &str, jobs: &[Job]) -> Result<(), QueueError> {
    check_batch(batch)?;
    runtime()?.block_on(async {
        let q = connect(cfg, "cvmmap batch").await?;
        q.workers(cfg).await?;
        let subject = jobs_subject(batch);
        let mut acks: Vec<(&Job, PublishAckFuture)> = Vec::with_capacity(jobs.len());
        for j in jobs {
            let body = serde_json::to_vec(&JobMessage {
                batch: batch.to_owned(),
                job: j.clone(),
            })
            .map_err(|e| js_err("job to JSON", e))?;
            let ack =
                q.js.send_publish(
                    subject.clone(),
                    jetstream::message::PublishMessage::build()
                        .payload(body.into())
                        .message_id(message_id(batch, &j.id)),
                )
                .await
                .map_err(|e| js_err(&format!("publish job {}", j.id), e))?;
            acks.push((j, ack));
        }
        for (j, ack) in acks {
            let ack = ack
                .await
                .map_err(|e| js_err(&format!("publish job {}", j.id), e))?;
            debug!(id = %j.id, seq = ack.sequence, duplicate = ack.duplicate, "job queued");
            PUBLISHED.lock().unwrap_or_else(|p| p.into_inner()).push((
                cfg.jobs_stream.clone(),
                ack.sequence,
                batch.to_owned(),
                j.id.clone(),
            ));
        }
        Ok(())
    })
}

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

/// Options of one worker.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Stop after this many jobs.
    pub max_jobs: Option<u64>,
    /// Stop when no job came for this long.
    pub idle_exit: Option<Duration>,
}

/// Pulls jobs, runs each with `tools`, publishes its outcome, acks it;
/// until `stop` or the options say. Returns the jobs run.
///
/// `stop` is looked at between jobs: the job at hand runs to its end, its
/// result is published and it is acked (a second signal, which ends the
/// process, leaves it to be delivered again).
pub fn work(
    cfg: &QueueConfig,
    tools: &Path,
    opts: &WorkerOptions,
    stop: &AtomicBool,
) -> Result<u64, QueueError> {
    runtime()?.block_on(work_async(cfg, tools, opts, stop))
}

async fn work_async(
    cfg: &QueueConfig,
    tools: &Path,
    opts: &WorkerOptions,
    stop: &AtomicBool,
) -> Result<u64, QueueError> {
    let q = connect(cfg, "cvmmap worker").await?;
    let mut consumer = q.workers(cfg).await?;
    // Progress acks follow the consumer's own ack wait.
    let ack_wait = consumer
        .info()
        .await
        .map(|i| i.config.ack_wait)
        .unwrap_or(cfg.ack_wait);
    let beat = (ack_wait / 3).max(Duration::from_millis(100));
    let worker = job::worker_name();
    info!(worker = %worker, url = %cfg.url, stream = %cfg.jobs_stream, "worker ready");
    let mut ran = 0u64;
    let mut idle_since = Instant::now();
    loop {
        if stop.load(Ordering::Relaxed) {
            info!(jobs = ran, "worker stopping");
            break;
        }
        if opts.max_jobs.is_some_and(|n| ran >= n) {
            info!(jobs = ran, "worker done: its last job");
            break;
        }
        if opts.idle_exit.is_some_and(|d| idle_since.elapsed() >= d) {
            info!(jobs = ran, "worker done: idle");
            break;
        }
        let expiry = opts
            .idle_exit
            .map(|d| d.saturating_sub(idle_since.elapsed()))
            .unwrap_or(PULL_EXPIRY)
            .clamp(Duration::from_millis(100), PULL_EXPIRY);
        let msg = match consumer
            .batch()
            .max_messages(1)
            .expires(expiry)
            .messages()
            .await
        {
            Err(e) => {
                warn!(error = %e, "cannot pull a job");
                tokio::time::sleep(PULL_EXPIRY).await;
                continue;
            }
            Ok(mut b) => match b.next().await {
                None => continue,
                Some(Err(e)) => {
                    warn!(error = %e, "cannot pull a job");
                    tokio::time::sleep(PULL_EXPIRY).await;
                    continue;
                }
                Some(Ok(m)) => m,
            },
        };
        let delivery = msg
            .info()
            .map(|i| u64::try_from(i.delivered).unwrap_or(1))
            .unwrap_or(1);
        let JobMessage { batch, job } = match serde_json::from_slice(&msg.payload) {
            Ok(j) => j,
            Err(e) => {
                warn!(subject = %msg.subject, error = %e, "not a job; dropped");
                if let Err(e) = msg.ack_with(AckKind::Term).await {
                    warn!(error = %e, "cannot drop it");
                }
                continue;
            }
        };
        info!(id = %job.id, input = %job.input.display(), delivery, batch = %batch, "job started");
        let started = serde_json::to_vec(&StartedMessage {
            id: job.id.clone(),
            worker: worker.clone(),
            delivery,
        })
        .unwrap_or_default();
        if let Err(e) = q
            .client
            .publish(progress_subject(&batch), started.into())
            .await
        {
            debug!(error = %e, "cannot say the job started");
        }

        // The job on its own thread; signs of life while it runs.
        let (tx, mut rx) = tokio::sync::oneshot::channel();
        {
            let (tools, job): (PathBuf, Job) = (tools.to_owned(), job.clone());
            std::thread::spawn(move || {
                let _ = tx.send(job::run(&tools, &job, Slot::Any, delivery));
            });
        }
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + beat, beat);
        let outcome = loop {
            tokio::select! {
                o = &mut rx => break o.map_err(|_| js_err("job", "its thread ended without an outcome"))?,
                _ = ticks.tick() => {
                    if let Err(e) = msg.ack_with(AckKind::Progress).await {
                        warn!(id = %job.id, error = %e, "cannot say the job is alive");
                    }
                }
            }
        };
        info!(
            id = %job.id,
            input = %job.input.display(),
            delivery,
            ok = outcome.ok,
            seconds = outcome.seconds,
            error = outcome.error.as_deref().unwrap_or(""),
            "job done"
        );
        ran += 1;

        // The result first, then the ack: a worker that dies between the
        // two leaves a job that is run again and a result kept once.
        let body = serde_json::to_vec(&outcome).map_err(|e| js_err("outcome to JSON", e))?;
        let mut published = false;
        for attempt in 1..=3 {
            let sent =
                q.js.send_publish(
                    results_subject(&batch),
                    jetstream::message::PublishMessage::build()
                        .payload(body.clone().into())
                        .message_id(message_id(&batch, &job.id)),
                )
                .await;
            let acked = match sent {
                Ok(ack) => ack.await.map(|_| ()).map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            match acked {
                Ok(()) => {
                    published = true;
                    break;
                }
                Err(e) => {
                    warn!(id = %job.id, attempt, error = %e, "cannot publish the result");
                    let _ = msg.ack_with(AckKind::Progress).await;
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
        if published {
            if let Err(e) = msg.double_ack().await {
                // The result is in; the job may run again, its second
                // result is dropped as a duplicate.
                warn!(id = %job.id, error = %e, "cannot ack the job");
            }
        } else if let Err(e) = msg.ack_with(AckKind::Nak(None)).await {
            warn!(id = %job.id, error = %e, "cannot give the job back");
        }
        idle_since = Instant::now();
    }
    Ok(ran)
}
