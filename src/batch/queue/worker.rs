//! `cvmmap_tools worker`: pull a job, run it, publish its outcome, ack.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, AckKind};
use futures_util::StreamExt;
use tracing::{debug, info, warn};

use super::*;
use crate::batch::job::{self, Job, Slot};

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
