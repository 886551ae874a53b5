//! RTMP output: the pipeline hands access units to a bounded queue (never
//! blocking); a driver thread owns the TCP session, reconnects with capped
//! exponential backoff, and muxes units into FLV tags ([`mux`]).
//!
//! Backpressure: when the queue is full (peer stalled, or reconnecting),
//! whole units are dropped until the next keyframe, and a keyframe is asked
//! for; memory is bounded by the queue's capacity.

mod mux;
mod session;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tracing::{info, warn};

use super::OutputError;
use crate::config::RtmpOutput;
use crate::encode::AccessUnit;
use crate::pipeline::{KeyframeRequests, Stats};
use mux::Muxer;
use session::{Session, SessionError};

/// Units queued towards the driver: about one second at 30 fps.
pub const QUEUE_UNITS: usize = 32;
const BACKOFF_START: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// The pipeline's side of the RTMP output.
pub struct RtmpPublisher {
    tx: Option<SyncSender<AccessUnit>>,
    dropping: bool,
    stats: Arc<Stats>,
    keyframes: KeyframeRequests,
    driver: Option<JoinHandle<()>>,
}

impl RtmpPublisher {
    pub fn start(
        cfg: &RtmpOutput,
        stats: Arc<Stats>,
        keyframes: KeyframeRequests,
        stop: Arc<AtomicBool>,
        fatal: Arc<Mutex<Option<OutputError>>>,
    ) -> Self {
        let (tx, rx) = sync_channel(QUEUE_UNITS);
        let driver = Driver {
            cfg: cfg.clone(),
            rx,
            stats: stats.clone(),
            keyframes: keyframes.clone(),
            stop,
            fatal,
        };
        let driver = std::thread::Builder::new()
            .name("rtmp".into())
            .spawn(move || driver.run())
            .expect("spawn RTMP driver");
        info!(url = %cfg.url, form = ?cfg.form, "RTMP output started");
        Self {
            tx: Some(tx),
            dropping: false,
            stats,
            keyframes,
            driver: Some(driver),
        }
    }

    /// Queues `au` without blocking; drops whole units until a keyframe
    /// once the queue was full.
    pub fn publish(&mut self, au: &AccessUnit) {
        let Some(tx) = &self.tx else { return };
        if self.dropping && !au.keyframe {
            Stats::incr(&self.stats.rtmp_units_dropped);
            return;
        }
        match tx.try_send(au.clone()) {
            Ok(()) => self.dropping = false,
            Err(TrySendError::Full(_)) => {
                if !self.dropping {
                    warn!("RTMP peer is not keeping up: dropping units until the next keyframe");
                }
                self.dropping = true;
                self.keyframes.request();
                Stats::incr(&self.stats.rtmp_units_dropped);
            }
            Err(TrySendError::Disconnected(_)) => {}
        }
    }

    /// Closes the queue and waits for the driver to send what is queued.
    pub fn finish(&mut self) {
        self.tx = None;
        if let Some(d) = self.driver.take() {
            let _ = d.join();
        }
    }
}

struct Driver {
    cfg: RtmpOutput,
    rx: Receiver<AccessUnit>,
    stats: Arc<Stats>,
    keyframes: KeyframeRequests,
    stop: Arc<AtomicBool>,
    fatal: Arc<Mutex<Option<OutputError>>>,
}

/// How a session ended.
enum Ended {
    /// The pipeline closed the queue: we are done.
    QueueClosed,
    Failed(SessionError),
}

impl Driver {
    fn run(self) {
        let mut mux = Muxer::new(self.cfg.form);
        let mut backoff = BACKOFF_START;
        let mut sessions = 0u64;
        loop {
            match Session::open(&self.cfg.url, self.cfg.form) {
                Ok(mut session) => {
                    sessions += 1;
                    if sessions > 1 {
                        Stats::incr(&self.stats.rtmp_reconnects);
                    }
                    info!(url = %self.cfg.url, session = sessions, "RTMP publishing");
                    backoff = BACKOFF_START;
                    // Units queued while disconnected are stale: start over
                    // at a fresh keyframe with metadata and sequence header.
                    while self.rx.try_recv().is_ok() {}
                    mux.new_session();
                    self.keyframes.request();
                    match self.publish(&mut session, &mut mux) {
                        Ended::QueueClosed => return,
                        Ended::Failed(e) => warn!(error = %e, "RTMP session ended; reconnecting"),
                    }
                }
                Err(SessionError::Rejected {
                    step,
                    code,
                    description,
                }) => {
                    let e = OutputError::RtmpRejected {
                        step,
                        code,
                        description,
                    };
                    warn!(error = %e, "RTMP server refused the stream");
                    *self.fatal.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                    self.stop.store(true, Ordering::Relaxed);
                    return;
                }
                Err(e) => {
                    warn!(error = %e, retry_ms = backoff.as_millis() as u64, "RTMP connect failed")
                }
            }
            // Wait out the backoff, draining the queue so it stays fresh.
            let until = Instant::now() + backoff;
            while let Some(left) = until.checked_duration_since(Instant::now()) {
                match self.rx.recv_timeout(left) {
                    Ok(_) => Stats::incr(&self.stats.rtmp_units_dropped),
                    Err(RecvTimeoutError::Timeout) => break,
                    Err(RecvTimeoutError::Disconnected) => return,
                }
            }
            backoff = (backoff * 2).min(BACKOFF_MAX);
        }
    }

    fn publish(&self, session: &mut Session, mux: &mut Muxer) -> Ended {
        loop {
            let au = match self.rx.recv_timeout(Duration::from_millis(100)) {
                Ok(au) => Some(au),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => return Ended::QueueClosed,
            };
            if session.is_broken() {
                return Ended::Failed(SessionError::Io(std::io::ErrorKind::ConnectionReset.into()));
            }
            if let Err(e) = session.flush_control() {
                return Ended::Failed(e);
            }
            let Some(au) = au else { continue };
            if !mux.accepts(&au) {
                Stats::incr(&self.stats.rtmp_units_dropped);
                continue;
            }
            let tags = match mux.mux(&au) {
                Ok(t) => t,
                Err(e) => {
                    warn!(error = %e, "cannot build FLV tags for this unit; dropped");
                    Stats::incr(&self.stats.rtmp_units_dropped);
                    continue;
                }
            };
            let before = session.bytes_sent;
            let sent = (|| {
                if let Some(meta) = &tags.metadata {
                    session.send_metadata(meta)?;
                }
                if let Some(header) = tags.sequence_header {
                    session.send_video(tags.dts_ms, header)?;
                }
                session.send_video(tags.dts_ms, tags.frame)
            })();
            if let Err(e) = sent {
                return Ended::Failed(e);
            }
            Stats::incr(&self.stats.rtmp_units_sent);
            Stats::add(&self.stats.rtmp_bytes_sent, session.bytes_sent - before);
        }
    }
}
