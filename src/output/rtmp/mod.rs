//! RTMP output: a [`Sink`] that owns the TCP session on its own thread,
//! reconnects with capped exponential backoff, and muxes units into FLV
//! tags ([`mux`]).
//!
//! Backpressure is the fan-out's: when the peer stalls, this sink's queue
//! fills and whole units are dropped in front of it until the next keyframe
//! (`output::sink`); memory is bounded by the queue's capacity.

mod mux;
mod session;

use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tracing::{info, warn};

use super::OutputError;
use super::sink::{Abort, Flow, Sink};
use crate::config::RtmpOutput;
use crate::encode::AccessUnit;
use crate::signals::KeyframeRequests;
use crate::telemetry::{Events, RtmpCounters, add, incr};
use mux::Muxer;
use session::{Session, SessionError};

const BACKOFF_START: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// Where the link to the server stands.
enum Link {
    Connected(Box<Session>),
    /// Not connected; the next attempt is due at `retry_at`.
    Waiting {
        retry_at: Instant,
    },
}

/// What the shutdown deadline reaches from outside the sink's thread.
#[derive(Default)]
struct AbortSlot {
    aborted: AtomicBool,
    /// A clone of the live session's socket.
    socket: Mutex<Option<TcpStream>>,
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
    cfg: RtmpOutput,
    stats: Arc<RtmpCounters>,
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
        cfg: &RtmpOutput,
        stats: Arc<RtmpCounters>,
        keyframes: KeyframeRequests,
        events: Events,
    ) -> Self {
        info!(url = %cfg.url, form = ?cfg.form, "RTMP output started");
        Self {
            mux: Muxer::new(cfg.form),
            cfg: cfg.clone(),
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
        match Session::open(&self.cfg.url, self.cfg.form) {
            Ok(session) => {
                self.sessions += 1;
                if self.sessions > 1 {
                    incr(&self.stats.rtmp_reconnects);
                }
                info!(url = %self.cfg.url, session = self.sessions, "RTMP publishing");
                self.events.emit(
                    "rtmp_connected",
                    serde_json::json!({"session": self.sessions}),
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
            }) => Err(OutputError::RtmpRejected {
                step,
                code,
                description,
            }),
            Err(e) => {
                warn!(error = %e, retry_ms = self.backoff.as_millis() as u64, "RTMP connect failed");
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
        warn!(error = %e, "RTMP session ended; reconnecting");
        self.events.emit(
            "rtmp_disconnected",
            serde_json::json!({"error": e.to_string()}),
        );
        self.wait_backoff();
    }

    /// Sends one unit on a live session (metadata and sequence header first
    /// where the muxer says so).
    fn send(&mut self, au: &AccessUnit) -> Result<(), SessionError> {
        let Link::Connected(session) = &mut self.link else {
            incr(&self.stats.rtmp_units_dropped);
            return Ok(());
        };
        if !self.mux.accepts(au) {
            incr(&self.stats.rtmp_units_dropped);
            return Ok(());
        }
        let tags = match self.mux.mux(au) {
            Ok(t) => t,
            Err(e) => {
                warn!(error = %e, "cannot build FLV tags for this unit; dropped");
                incr(&self.stats.rtmp_units_dropped);
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
        incr(&self.stats.rtmp_units_sent);
        add(&self.stats.rtmp_bytes_sent, session.bytes_sent - before);
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
            match session.unpublish(&self.cfg.url.stream) {
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
