//! The NATS producer side of the contract (`cv-mmap-ipc.md` §4, §5):
//! status events, body-tracking messages and the `source.info` /
//! `source.reset` requests.
//!
//! NATS runs on its own thread with a current-thread tokio runtime. The frame
//! loop only hands messages over with a non-blocking `try_send` into a bounded
//! queue ([`QUEUE_DEPTH`]); when the queue is full (server stalled or gone) the
//! message is dropped and counted, so NATS can never delay a frame. The client
//! is built with `retry_on_initial_connect`: an unreachable server costs one
//! log line, and the client connects whenever the server appears.
//!
//! Order on the connection: the request subscriptions first, then the queued
//! messages (ONLINE first), and at exit OFFLINE followed by a round trip
//! through the server, so that OFFLINE has really reached it before the
//! process ends (bounded by [`SHUTDOWN_BUDGET`]).

pub mod control;
pub mod proto;
pub mod subjects;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::Duration;

use async_nats::connection::State;
use async_nats::{Client, Event, Subscriber};
use bytes::Bytes;
use futures_util::StreamExt;
use prost::Message;
use tokio::sync::{Notify, mpsc};

pub use control::SourceState;
use proto::{ModuleStatusCode, ModuleStatusEvent};
use subjects::{ControlPrefix, Subjects};

use super::runner::wall_clock_ns;

/// Messages waiting for the NATS thread; more are dropped and counted.
pub const QUEUE_DEPTH: usize = 64;
/// How long the exit may spend on the last messages, OFFLINE and the final
/// round trip once the frame loop has stopped.
pub const SHUTDOWN_BUDGET: Duration = Duration::from_millis(1500);

/// NATS settings of a run (`--nats-url` and friends).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NatsConfig {
    pub url: String,
    /// §1 NATS key: base name with `.` replaced by `_`, or `--nats-key`.
    pub key: String,
    pub control: ControlPrefix,
    /// `--body-every N`: a body message for every N-th frame; 0 = none.
    pub body_every: u64,
    /// `--body-count K`: records per body message.
    pub body_count: u16,
}

impl NatsConfig {
    /// Whether the `index`-th published frame (0-based) gets a body message.
    pub fn body_due(&self, index: u64) -> bool {
        self.body_every > 0 && index.is_multiple_of(self.body_every)
    }
}

#[derive(Debug, Default)]
struct Counters {
    connected: AtomicBool,
    unreachable_logged: AtomicBool,
    status_published: AtomicU64,
    body_published: AtomicU64,
    requests_answered: AtomicU64,
    dropped: AtomicU64,
    flushed: AtomicBool,
}

/// What NATS did during a run (the `--json` summary).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NatsReport {
    /// A connection to the server was established at some point.
    pub connected: bool,
    /// Status events accepted by the client (queued while disconnected).
    pub status_published: u64,
    /// Body messages accepted by the client.
    pub body_published: u64,
    /// Requests answered (INVALID_PAYLOAD answers included).
    pub requests_answered: u64,
    /// Messages the frame loop dropped because the NATS queue was full.
    pub dropped: u64,
    /// The server confirmed everything up to OFFLINE at exit.
    pub flushed: bool,
}

enum Outbound {
    /// A status code with its wall-clock time.
    Status(ModuleStatusCode, u64),
    Body(Vec<u8>),
}

#[derive(Clone, Copy, Debug)]
enum Request {
    Info,
    Reset,
}

/// The frame loop's handle on the NATS thread.
pub struct NatsLink {
    tx: Option<mpsc::Sender<Outbound>>,
    stop: Arc<Notify>,
    done: std::sync::mpsc::Receiver<()>,
    thread: Option<thread::JoinHandle<()>>,
    counters: Arc<Counters>,
}

impl NatsLink {
    /// Starts the NATS thread; it connects (or keeps trying) on its own.
    pub fn start(cfg: NatsConfig, label: String, state: Arc<SourceState>) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::channel(QUEUE_DEPTH);
        let stop = Arc::new(Notify::new());
        let counters = Arc::new(Counters::default());
        let (done_tx, done) = std::sync::mpsc::channel();
        let thread = thread::Builder::new().name("nats".into()).spawn({
            let stop = Arc::clone(&stop);
            let counters = Arc::clone(&counters);
            move || {
                match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt.block_on(serve(cfg, label, state, rx, stop, counters)),
                    Err(e) => tracing::error!("NATS: cannot start its runtime: {e}"),
                }
                let _ = done_tx.send(());
            }
        })?;
        Ok(Self {
            tx: Some(tx),
            stop,
            done,
            thread: Some(thread),
            counters,
        })
    }

    /// Queues a status event (§4) stamped with the wall clock now.
    pub fn status(&self, code: ModuleStatusCode) {
        self.send(Outbound::Status(code, wall_clock_ns()));
    }

    /// Queues one body-tracking message (§4).
    pub fn body(&self, message: Vec<u8>) {
        self.send(Outbound::Body(message));
    }

    /// Never blocks: a full queue drops the message.
    fn send(&self, m: Outbound) {
        let Some(tx) = &self.tx else { return };
        if tx.try_send(m).is_err() {
            let n = self.counters.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if n.is_power_of_two() {
                tracing::warn!("NATS queue full: {n} message(s) dropped so far");
            }
        }
    }

    /// Publishes OFFLINE after what is queued, waits (bounded) for the
    /// server to confirm it, stops the thread and reports.
    pub fn finish(mut self) -> NatsReport {
        self.shutdown();
        let c = &self.counters;
        NatsReport {
            connected: c.connected.load(Ordering::Relaxed),
            status_published: c.status_published.load(Ordering::Relaxed),
            body_published: c.body_published.load(Ordering::Relaxed),
            requests_answered: c.requests_answered.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            flushed: c.flushed.load(Ordering::Relaxed),
        }
    }

    fn shutdown(&mut self) {
        // Closing the queue tells the thread that the frame loop is done.
        if self.tx.take().is_none() {
            return;
        }
        self.stop.notify_one();
        match self
            .done
            .recv_timeout(SHUTDOWN_BUDGET + Duration::from_millis(500))
        {
            Ok(()) => {
                if let Some(t) = self.thread.take() {
                    let _ = t.join();
                }
            }
            Err(_) => tracing::warn!("NATS thread did not stop in time; leaving it behind"),
        }
    }
}

impl Drop for NatsLink {
    /// Also on error paths: OFFLINE still goes out.
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn on_event(c: &Counters, url: &str, event: Event) {
    match event {
        Event::Connected => {
            if c.connected.swap(true, Ordering::Relaxed) {
                tracing::info!("NATS reconnected to {url}");
            } else {
                tracing::info!("NATS connected to {url}");
            }
        }
        Event::Disconnected => {
            tracing::warn!("NATS connection to {url} lost; reconnecting, frames go on")
        }
        Event::ClientError(e) if !c.connected.load(Ordering::Relaxed) => {
            if !c.unreachable_logged.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    "NATS server {url} unreachable ({e}); producing frames without NATS, connecting when it appears"
                );
            }
        }
        other => tracing::debug!("NATS event: {other}"),
    }
}

/// The NATS thread: connect, subscribe, publish the queue, then OFFLINE.
async fn serve(
    cfg: NatsConfig,
    label: String,
    state: Arc<SourceState>,
    mut rx: mpsc::Receiver<Outbound>,
    stop: Arc<Notify>,
    counters: Arc<Counters>,
) {
    let subjects = Subjects::new(&cfg.key, cfg.control);
    let options = async_nats::ConnectOptions::new()
        .name("cvmmap_sim")
        .retry_on_initial_connect()
        .event_callback({
            let counters = Arc::clone(&counters);
            let url = cfg.url.clone();
            move |event| {
                on_event(&counters, &url, event);
                async {}
            }
        });
    let client = match options.connect(cfg.url.as_str()).await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!("NATS {}: {e}; producing frames without NATS", cfg.url);
            return;
        }
    };
    tracing::info!(
        "NATS key {}: status/body on {} / {}, requests on {} and {}",
        cfg.key,
        subjects.status,
        subjects.body,
        subjects.info,
        subjects.reset
    );
    // Subscriptions go first on the connection, so the server knows them
    // before it sees ONLINE.
    let has_body = cfg.body_every > 0;
    for (subject, kind) in [
        (&subjects.info, Request::Info),
        (&subjects.reset, Request::Reset),
    ] {
        match client.subscribe(subject.clone()).await {
            Ok(sub) => {
                tokio::spawn(answer(
                    client.clone(),
                    sub,
                    kind,
                    Arc::clone(&state),
                    has_body,
                    Arc::clone(&counters),
                ));
            }
            Err(e) => tracing::warn!("NATS: cannot subscribe to {subject}: {e}"),
        }
    }
    let work = async {
        while let Some(m) = rx.recv().await {
            publish(&client, &subjects, &label, m, &counters).await;
        }
        // The queue closed: the frame loop has stopped (§4: OFFLINE at exit).
        let offline = Outbound::Status(ModuleStatusCode::Offline, wall_clock_ns());
        publish(&client, &subjects, &label, offline, &counters).await;
        confirm(&client).await
    };
    let budget = async {
        stop.notified().await;
        tokio::time::sleep(SHUTDOWN_BUDGET).await;
    };
    tokio::select! {
        confirmed = work => counters.flushed.store(confirmed, Ordering::Relaxed),
        () = budget => tracing::warn!(
            "NATS: exit did not complete within {SHUTDOWN_BUDGET:?}; OFFLINE may not have been delivered"
        ),
    }
}

fn status_event(code: ModuleStatusCode, label: &str, timestamp_ns: u64) -> ModuleStatusEvent {
    ModuleStatusEvent {
        status: code as i32,
        instance: label.to_string(),
        timestamp_ns,
    }
}

async fn publish(
    client: &Client,
    subjects: &Subjects,
    label: &str,
    m: Outbound,
    counters: &Counters,
) {
    let (subject, payload, counter) = match m {
        Outbound::Status(code, ts) => (
            &subjects.status,
            status_event(code, label, ts).encode_to_vec(),
            &counters.status_published,
        ),
        Outbound::Body(bytes) => (&subjects.body, bytes, &counters.body_published),
    };
    match client.publish(subject.clone(), Bytes::from(payload)).await {
        Ok(()) => {
            counter.fetch_add(1, Ordering::Relaxed);
        }
        Err(e) => tracing::warn!("NATS: cannot publish on {subject}: {e}"),
    }
}

/// After OFFLINE: flush, then a round trip through the server on a private
/// inbox. The server handles one connection's messages in order, so when
/// our own message comes back, OFFLINE has reached it.
async fn confirm(client: &Client) -> bool {
    if client.connection_state() != State::Connected {
        tracing::warn!("NATS not connected at exit: OFFLINE not delivered");
        return false;
    }
    let inbox = client.new_inbox();
    let Ok(mut sub) = client.subscribe(inbox.clone()).await else {
        return false;
    };
    if client.publish(inbox, Bytes::new()).await.is_err() || client.flush().await.is_err() {
        return false;
    }
    sub.next().await.is_some()
}

/// Answers one kind of request until the subscription ends.
async fn answer(
    client: Client,
    mut sub: Subscriber,
    kind: Request,
    state: Arc<SourceState>,
    has_body: bool,
    counters: Arc<Counters>,
) {
    while let Some(msg) = sub.next().await {
        let Some(reply) = msg.reply else {
            tracing::debug!("NATS: request on {} without a reply subject", msg.subject);
            continue;
        };
        let payload = match kind {
            Request::Info => control::info_response(&msg.payload, has_body, &state).encode_to_vec(),
            Request::Reset => {
                let r = control::reset_response(&msg.payload, &state);
                tracing::info!("source.reset request on {}: {:?}", msg.subject, r.error());
                r.encode_to_vec()
            }
        };
        match client.publish(reply, Bytes::from(payload)).await {
            Ok(()) => {
                counters.requests_answered.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => tracing::warn!("NATS: cannot answer on {}: {e}", msg.subject),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(body_every: u64) -> NatsConfig {
        NatsConfig {
            url: "nats://127.0.0.1:1".into(),
            key: "k".into(),
            control: ControlPrefix::Producer,
            body_every,
            body_count: 1,
        }
    }

    #[test]
    fn body_cadence() {
        let due: Vec<u64> = (0..10).filter(|&i| cfg(3).body_due(i)).collect();
        assert_eq!(due, [0, 3, 6, 9]);
        assert!((0..10).all(|i| !cfg(0).body_due(i)));
        assert!((0..10).all(|i| cfg(1).body_due(i)));
    }

    #[test]
    fn status_event_carries_label_and_time() {
        let e = status_event(ModuleStatusCode::Online, "cam", 5);
        assert_eq!(
            (e.status(), e.instance.as_str(), e.timestamp_ns),
            (ModuleStatusCode::Online, "cam", 5)
        );
    }

    /// Nothing listens on port 1: frames must never wait for NATS, and the
    /// exit must not hang either.
    #[test]
    fn unreachable_server_neither_blocks_nor_hangs() {
        let link = NatsLink::start(cfg(1), "cam".into(), Arc::default()).unwrap();
        let t = std::time::Instant::now();
        for _ in 0..(QUEUE_DEPTH * 4) {
            link.body(vec![0; 64]);
        }
        link.status(ModuleStatusCode::StreamReset);
        assert!(t.elapsed() < Duration::from_millis(200));
        let r = link.finish();
        assert!(t.elapsed() < SHUTDOWN_BUDGET + Duration::from_secs(1));
        assert!(!r.connected && !r.flushed);
    }
}
