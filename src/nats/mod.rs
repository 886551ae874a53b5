//! NATS (contract §4): the producer's status, body tracking and control, and
//! the streamer's own periodic status and micro service.
//!
//! A small driver: one thread with a current-thread tokio runtime owns the
//! client. The frame path never waits on it; it only shares atomics and the
//! bounded [`BodyStore`]. An unreachable server is reported once and retried
//! in the background; streaming goes on without status and body (contract §4).
//!
//! - [`proto`]: the protobuf messages (prost derives, no build script).
//! - [`subjects`]: subject names for one source key.
//! - [`status`]: the streamer's JSON status.
//! - `driver`: connection, subscriptions, requests, service endpoints.

mod body_store;
mod connect;
mod driver;
mod producer;
pub mod proto;
pub(crate) mod status;
pub(crate) mod subjects;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use serde::Serialize;
use tracing::warn;

use crate::encode::{Codec, EncoderReport};
use crate::signals::{KeyframeRequests, ProducerSignals};
use crate::telemetry::{Counters, Events};

pub use body_store::BodyStore;

pub use status::SourceInfo;

/// How the client authenticates (`--nats-token`, `--nats-user`/`--nats-password`,
/// `--nats-creds`).
#[derive(Clone, PartialEq, Eq)]
pub enum NatsAuth {
    None,
    Token(String),
    UserPassword {
        user: String,
        password: String,
    },
    /// A `.creds` file (JWT + NKey seed).
    Credentials(PathBuf),
}

impl std::fmt::Debug for NatsAuth {
    // Never print secrets in logs or panics.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NatsAuth::None => write!(f, "None"),
            NatsAuth::Token(_) => write!(f, "Token(***)"),
            NatsAuth::UserPassword { user, .. } => write!(f, "UserPassword({user}, ***)"),
            NatsAuth::Credentials(p) => write!(f, "Credentials({})", p.display()),
        }
    }
}

/// TLS settings (`--nats-tls*`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NatsTls {
    pub required: bool,
    pub ca: Option<PathBuf>,
    /// Client certificate and key, for mutual TLS.
    pub client: Option<(PathBuf, PathBuf)>,
}

/// Validated NATS settings; absent from the config with `--no-nats`.
#[derive(Debug, Clone)]
pub struct NatsConfig {
    /// Server URLs (comma-separated on the command line).
    pub servers: Vec<async_nats::ServerAddr>,
    /// As given, for logs and the summary (credentials stripped).
    pub url_display: String,
    pub auth: NatsAuth,
    pub tls: NatsTls,
    /// The source's NATS key (contract §1).
    pub key: String,
    /// The producer's instance name, when known (body label check).
    pub instance: Option<String>,
    /// Period of `cvmmap_streamer.<key>.status` (0: not published).
    pub status_interval: Duration,
    /// How long to wait for `source.info` answers.
    pub request_timeout: Duration,
    /// Carry body tracking in-band as SEI (`--body-sei`).
    pub body_sei: bool,
}

/// What the pipeline shares with the NATS driver.
#[derive(Clone)]
pub struct NatsContext {
    /// Every stage's counters: NATS increments its own group and reports all.
    pub counters: Counters,
    pub events: Events,
    pub keyframes: KeyframeRequests,
    pub producer: Arc<ProducerSignals>,
    pub body: Option<Arc<BodyStore>>,
    /// Valid body messages also go here (the recorder's `/<label>/body`).
    pub body_sink: Option<BodySink>,
    pub encoder: Arc<Mutex<EncoderReport>>,
    pub codec: Codec,
}

/// Where valid body-tracking messages go besides SEI: (the frame's
/// timestamp, the whole message). Called on the NATS task: must not block.
pub type BodySink = Arc<dyn Fn(u64, &[u8]) + Send + Sync>;

/// NATS facts for the run summary.
#[derive(Debug, Clone, Serialize, Default)]
pub struct NatsSummary {
    pub enabled: bool,
    pub url: Option<String>,
    /// Whether a connection was ever established.
    pub connected: bool,
    /// Why NATS did not take part, when it did not.
    pub reason: Option<String>,
    /// The producer's answer to `source.info`, if any came.
    pub source_info: Option<SourceInfo>,
}

impl NatsSummary {
    pub fn disabled() -> Self {
        Self {
            reason: Some("disabled with --no-nats".into()),
            ..Self::default()
        }
    }
}

/// The running driver; [`NatsLink::finish`] publishes a last status and stops it.
pub struct NatsLink {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<NatsSummary>>,
}

impl NatsLink {
    /// Starts the driver thread. Never fails on the network: an unreachable
    /// server is retried in the background.
    pub fn start(cfg: NatsConfig, ctx: NatsContext) -> Self {
        let (stop, stop_rx) = tokio::sync::oneshot::channel();
        let thread = std::thread::Builder::new()
            .name("nats".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        warn!(error = %e, "cannot start the NATS runtime: continuing without NATS");
                        return NatsSummary {
                            enabled: true,
                            reason: Some(format!("runtime: {e}")),
                            ..NatsSummary::default()
                        };
                    }
                };
                rt.block_on(driver::run(cfg, ctx, stop_rx))
            })
            .expect("spawn nats thread");
        Self {
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// Publishes the final status (bounded wait), stops, and reports.
    pub fn finish(mut self) -> NatsSummary {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.thread
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default()
    }
}

impl Drop for NatsLink {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
