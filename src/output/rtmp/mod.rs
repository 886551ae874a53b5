//! RTMP output: a [`Sink`] per destination (`--rtmp-url`, repeatable) that
//! owns its TCP session on its own thread, reconnects with capped
//! exponential backoff, and muxes units into FLV tags ([`mux`]). Each
//! destination has its own queue, session, backoff and counters, so a slow
//! or dead server holds up nobody else. `rtmps://` destinations run the
//! same session through TLS ([`tls`]); a failed handshake (e.g. an
//! untrusted certificate) is a connect failure, retried, never plaintext.
//!
//! Backpressure is the fan-out's: when the peer stalls, this sink's queue
//! fills and whole units are dropped in front of it until the next keyframe
//! (`output::sink`); memory is bounded by the queue's capacity.

mod mux;
mod session;
pub(crate) mod tls;
mod transport;

use std::net::Shutdown;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tracing::{info, warn};

use super::OutputError;
use super::sink::{Abort, Flow, Sink};
use crate::encode::AccessUnit;
use crate::flv::VideoTagForm;
use crate::rtmp::RtmpUrl;
use crate::signals::KeyframeRequests;
use crate::telemetry::{Events, RtmpCounters, add};
use mux::Muxer;
use session::{Session, SessionError};
use tls::TlsClient;
use transport::Transport;

const BACKOFF_START: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// Where the link to the server stands.
enum Link {
    Connected(Box<Session>),
    /// Not connected; the next attempt is due at `retry_at`.
    Waiting {
        retry_at: Instant,
    },
    /// The server refused the stream (bad app or key) and other
    /// destinations are still live: this one is retired, not retried.
    Refused,
}

/// The counters of every destination together, and this one's own.
#[derive(Debug, Clone)]
pub struct RtmpStats {
    pub total: Arc<RtmpCounters>,
    pub own: Arc<RtmpCounters>,
}

impl RtmpStats {
    fn add(&self, field: fn(&RtmpCounters) -> &AtomicU64, n: u64) {
        add(field(&self.total), n);
        add(field(&self.own), n);
    }
}

/// One destination of several (`--rtmp-url` repeated).
pub struct Destination {
    pub url: RtmpUrl,
    pub form: VideoTagForm,
    /// Its place in `--rtmp-url` order (logs, events).
    pub index: usize,
    /// Destinations not refused yet, shared by all: a refusal is fatal
    /// (exit 7, as with one destination) only for the last one.
    pub live: Arc<AtomicUsize>,
    /// Trust for `rtmps://` (`--rtmp-ca` or the system roots).
    pub tls: Option<TlsClient>,
}

/// What the shutdown deadline reaches from outside the sink's thread.
#[derive(Default)]
struct AbortSlot {
    aborted: AtomicBool,
    /// A clone of the live session's socket.
    socket: Mutex<Option<Transport>>,
}

impl AbortSlot {
    fn abort(&self) {
        self.aborted.store(true, Ordering::Relaxed);
        if let Some(s) = self.socket.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    fn aborted(&self) -> bool {
        self.aborted.load(Ordering::Relaxed)
    }
}

pub struct RtmpSink {
    dest: Destination,
    stats: RtmpStats,
    keyframes: KeyframeRequests,
    events: Events,
    mux: Muxer,
    link: Link,
    /// The wait after the next failure.
    backoff: Duration,
    sessions: u64,
    abort: Arc<AbortSlot>,
}

impl RtmpSink {
    /// The first connection is attempted with the first unit (or idle tick).
    pub fn new(
        dest: Destination,
        stats: RtmpStats,
        keyframes: KeyframeRequests,
        events: Events,
    ) -> Self {
        info!(url = %dest.url, form = ?dest.form, destination = dest.index, "RTMP output started");
        Self {
            mux: Muxer::new(dest.form),
            dest,
            stats,
            keyframes,
            events,
            link: Link::Waiting {
                retry_at: Instant::now(),
            },
            backoff: BACKOFF_START,
            sessions: 0,
            abort: Arc::default(),
        }
    }

    /// Connects when an attempt is due. A refusal (bad app or stream name)
    /// is fatal; anything else is retried after the backoff.
    fn connect_if_due(&mut self) -> Result<Flow, OutputError> {
        let Link::Waiting { retry_at } = self.link else {
            return Ok(Flow::Continue);
        };
        if Instant::now() < retry_at || self.abort.aborted() {
            return Ok(Flow::Continue);
        }
        match Session::open(&self.dest.url, self.dest.form, self.dest.tls.as_ref()) {
            Ok(session) => {
                self.sessions += 1;
                if self.sessions > 1 {
                    self.stats.add(|c| &c.rtmp_reconnects, 1);
                }
                info!(url = %self.dest.url, destination = self.dest.index, session = self.sessions, "RTMP publishing");
                self.events.emit(
                    "rtmp_connected",
                    serde_json::json!({"session": self.sessions, "destination": self.dest.index}),
                );
                self.backoff = BACKOFF_START;
                *self.abort.socket.lock().unwrap_or_else(|p| p.into_inner()) =
                    session.closer().ok();
                self.link = Link::Connected(Box::new(session));
                // Start over at a fresh keyframe with metadata and sequence
                // header; units queued while connecting are stale.
                self.mux.new_session();
                self.keyframes.request();
                Ok(Flow::SkipBacklog)
            }
            Err(SessionError::Rejected {
                step,
                code,
                description,
            }) => {
                if self.dest.live.fetch_sub(1, Ordering::Relaxed) == 1 {
                    return Err(OutputError::RtmpRejected {
                        step,
                        code,
                        description,
                    });
                }
                warn!(url = %self.dest.url, destination = self.dest.index, step, code, description,
                    "RTMP server refused the stream; this destination is retired, the others go on");
                self.events.emit(
                    "rtmp_refused",
                    serde_json::json!({"destination": self.dest.index, "step": step, "code": code}),
                );
                self.link = Link::Refused;
                Ok(Flow::Continue)
            }
            Err(e) => {
                warn!(error = %e, destination = self.dest.index, retry_ms = self.backoff.as_millis() as u64, "RTMP connect failed");
                self.wait_backoff();
                Ok(Flow::Continue)
            }
        }
    }

    fn wait_backoff(&mut self) {
        self.link = Link::Waiting {
            retry_at: Instant::now() + self.backoff,
        };
        self.backoff = (self.backoff * 2).min(BACKOFF_MAX);
    }

    fn disconnected(&mut self, e: SessionError) {
        warn!(error = %e, destination = self.dest.index, "RTMP session ended; reconnecting");
        self.events.emit(
            "rtmp_disconnected",
            serde_json::json!({"error": e.to_string(), "destination": self.dest.index}),
        );
        self.wait_backoff();
    }

    /// Sends one unit on a live session (metadata and sequence header first
    /// where the muxer says so).
    fn send(&mut self, au: &AccessUnit) -> Result<(), SessionError> {
        let Link::Connected(session) = &mut self.link else {
            self.stats.add(|c| &c.rtmp_units_dropped, 1);
            return Ok(());
        };
        if !self.mux.accepts(au) {
            self.stats.add(|c| &c.rtmp_units_dropped, 1);
            return Ok(());
        }
        let tags = match self.mux.mux(au) {
            Ok(t) => t,
            Err(e) => {
                warn!(error = %e, "cannot build FLV tags for this unit; dropped");
                self.stats.add(|c| &c.rtmp_units_dropped, 1);
                return Ok(());
            }
        };
        let before = session.bytes_sent;
        if let Some(meta) = &tags.metadata {
            session.send_metadata(meta)?;
        }
        if let Some(header) = tags.sequence_header {
            session.send_video(tags.dts_ms, header)?;
        }
        session.send_video(tags.dts_ms, tags.frame)?;
        self.stats.add(|c| &c.rtmp_units_sent, 1);
        self.stats
            .add(|c| &c.rtmp_bytes_sent, session.bytes_sent - before);
        Ok(())
    }

    /// Answers the server's control messages; notices a closed session.
    fn service_session(&mut self) -> Result<(), SessionError> {
        let Link::Connected(session) = &mut self.link else {
            return Ok(());
        };
        if session.is_broken() {
            return Err(SessionError::Io(std::io::ErrorKind::ConnectionReset.into()));
        }
        session.flush_control()
    }
}

impl Sink for RtmpSink {
    fn name(&self) -> &'static str {
        "rtmp"
    }

    fn write(&mut self, au: &AccessUnit) -> Result<Flow, OutputError> {
        let flow = self.connect_if_due()?;
        if let Err(e) = self.service_session().and_then(|()| self.send(au)) {
            self.disconnected(e);
        }
        Ok(flow)
    }

    fn idle(&mut self) -> Result<Flow, OutputError> {
        let flow = self.connect_if_due()?;
        if let Err(e) = self.service_session() {
            self.disconnected(e);
        }
        Ok(flow)
    }

    fn finish(&mut self) {
        if let Link::Connected(session) = &mut self.link
            && !self.abort.aborted()
        {
            match session.unpublish(&self.dest.url.stream) {
                Ok(()) => info!("RTMP stream unpublished"),
                Err(e) => warn!(error = %e, "RTMP unpublish failed"),
            }
        }
        // Dropping the session closes it (and stops its reader thread).
        self.link = Link::Waiting {
            retry_at: Instant::now(),
        };
    }

    fn abort_handle(&self) -> Option<Abort> {
        let slot = self.abort.clone();
        Some(Arc::new(move || slot.abort()))
    }
}
