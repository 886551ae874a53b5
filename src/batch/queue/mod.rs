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

use std::sync::Mutex;
use std::time::Duration;

use async_nats::jetstream::consumer::{self, AckPolicy, DeliverPolicy, pull};
use async_nats::jetstream::context::PublishAckFuture;
use async_nats::jetstream::stream::{self, RetentionPolicy, StorageType};
use async_nats::jetstream::{self};
use tracing::{debug, warn};

use super::job::{Job, Outcome};

mod wait;
mod worker;

pub use wait::{WaitReport, wait, wait_report};
pub use worker::{WorkerOptions, work};

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

/// The stream, created if missing. A worker and a batch starting together
/// both find it missing and both create it; the server then refuses the
/// second creation ("subjects overlap with an existing stream", nats-server
/// 2.9) instead of returning the stream, so a failed creation is retried
/// once: by then the stream exists and is simply fetched.
async fn ensure_stream(
    js: &jetstream::Context,
    config: stream::Config,
) -> Result<stream::Stream, QueueError> {
    let what = format!("stream {}", config.name);
    match js.get_or_create_stream(config.clone()).await {
        Ok(s) => Ok(s),
        Err(first) => {
            debug!(error = %first, stream = %config.name, "creating the stream raced; fetching it");
            js.get_or_create_stream(config)
                .await
                .map_err(|e| js_err(&what, e))
        }
    }
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
    let jobs = ensure_stream(
        &js,
        stream::Config {
            name: cfg.jobs_stream.clone(),
            subjects: vec![JOBS_SUBJECTS.into()],
            retention: RetentionPolicy::WorkQueue,
            storage: StorageType::File,
            ..Default::default()
        },
    )
    .await?;
    let results = ensure_stream(
        &js,
        stream::Config {
            name: cfg.results_stream.clone(),
            subjects: vec![RESULTS_SUBJECTS.into()],
            retention: RetentionPolicy::Limits,
            storage: StorageType::File,
            duplicate_window: RESULTS_DUPLICATE_WINDOW,
            max_age: RESULTS_MAX_AGE,
            ..Default::default()
        },
    )
    .await?;
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
