//! The ZeroMQ sync listener (contract §3).
//!
//! A sync is a hint that a new frame is in the segment, never the truth: a
//! SUB socket misses the first messages after connecting (slow joiner) and a
//! producer re-initialising writes frame 0 without one. The ingest loop
//! therefore also polls the metadata when no sync arrives.

use std::time::Duration;

use super::IngestError;
use crate::contract::{SyncError, SyncMessage};

/// Why a received message was skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skipped {
    OtherMagic,
    OtherLabel,
    Malformed,
}

/// What one wait returned.
#[derive(Debug, Default)]
pub struct Received {
    /// The newest sync for our source, if any arrived.
    pub latest: Option<SyncMessage>,
    pub accepted: u64,
    pub skipped: u64,
}

pub struct SyncListener {
    socket: zmq::Socket,
    endpoint: String,
    label: Option<String>,
}

impl SyncListener {
    /// Connects a SUB socket to the producer's PUB endpoint. Connecting to an
    /// endpoint whose producer has not started yet is fine: ZeroMQ
    /// reconnects in the background.
    pub fn connect(
        ctx: &zmq::Context,
        endpoint: &str,
        label: Option<String>,
    ) -> Result<Self, IngestError> {
        let zerr = |source| IngestError::Zmq {
            endpoint: endpoint.to_owned(),
            source,
        };
        let socket = ctx.socket(zmq::SUB).map_err(zerr)?;
        socket.set_linger(0).map_err(zerr)?;
        socket.set_rcvhwm(1024).map_err(zerr)?;
        socket.set_reconnect_ivl(50).map_err(zerr)?;
        socket.set_subscribe(b"").map_err(zerr)?;
        socket.connect(endpoint).map_err(zerr)?;
        Ok(Self {
            socket,
            endpoint: endpoint.to_owned(),
            label,
        })
    }

    /// Waits up to `timeout` for a message, then drains all pending ones
    /// without blocking, keeping the newest sync that matches our label.
    pub fn wait(&mut self, timeout: Duration) -> Result<Received, IngestError> {
        let zerr = |source| IngestError::Zmq {
            endpoint: self.endpoint.clone(),
            source,
        };
        let mut out = Received::default();
        let ms = i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX);
        match self.socket.poll(zmq::POLLIN, ms) {
            Ok(0) => return Ok(out),
            Ok(_) => {}
            // A signal arrived (poll(2) is never restarted): nothing to read
            // yet; the loop checks its stop flag and waits again.
            Err(zmq::Error::EINTR) => return Ok(out),
            Err(e) => return Err(zerr(e)),
        }
        loop {
            let msg = match self.socket.recv_msg(zmq::DONTWAIT) {
                Ok(m) => m,
                Err(zmq::Error::EAGAIN) => break,
                Err(zmq::Error::EINTR) => continue,
                Err(e) => return Err(zerr(e)),
            };
            let more = self.socket.get_rcvmore().map_err(zerr)?;
            match self.classify(&msg, more) {
                Ok(sync) => {
                    out.accepted += 1;
                    out.latest = Some(sync);
                }
                Err(_) => out.skipped += 1,
            }
        }
        Ok(out)
    }

    fn classify(&self, msg: &[u8], more: bool) -> Result<SyncMessage, Skipped> {
        if more {
            // Syncs are single-part; drain the rest of a foreign multipart message.
            while self.socket.get_rcvmore().unwrap_or(false) {
                if self.socket.recv_msg(zmq::DONTWAIT).is_err() {
                    break;
                }
            }
            return Err(Skipped::Malformed);
        }
        match SyncMessage::parse(msg) {
            Ok(sync) => match &self.label {
                Some(label) if !sync.label_matches(label) => Err(Skipped::OtherLabel),
                _ => Ok(sync),
            },
            Err(SyncError::OtherMagic { .. }) => Err(Skipped::OtherMagic),
            Err(_) => Err(Skipped::Malformed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// Issue 13, defect 10: a signal during the ZeroMQ poll (EINTR) ended
    /// ingest with exit 1. The wait now returns empty-handed instead.
    #[test]
    fn a_signal_during_the_wait_is_not_an_error() {
        let hit = Arc::new(AtomicBool::new(false));
        signal_hook::flag::register(libc::SIGUSR1, hit.clone()).unwrap();
        let ctx = zmq::Context::new();
        let endpoint = format!("ipc:///tmp/cvmst_eintr_{}.ipc", std::process::id());
        let mut l = SyncListener::connect(&ctx, &endpoint, None).unwrap();
        // SAFETY: pthread_self has no preconditions.
        let me = unsafe { libc::pthread_self() };
        let done = Arc::new(AtomicBool::new(false));
        let kicker = {
            let done = done.clone();
            std::thread::spawn(move || {
                // Signal until the waiting thread returned (bounded by its
                // own timeout): it may not have entered poll yet.
                while !done.load(Ordering::Relaxed) {
                    // SAFETY: `me` is alive until `done` is set.
                    unsafe { libc::pthread_kill(me, libc::SIGUSR1) };
                    std::thread::sleep(Duration::from_millis(20));
                }
            })
        };
        let started = std::time::Instant::now();
        let got = l.wait(Duration::from_secs(5));
        done.store(true, Ordering::Relaxed);
        kicker.join().unwrap();
        let got = got.expect("EINTR is not an error");
        assert!(got.latest.is_none());
        assert!(hit.load(Ordering::Relaxed), "the signal was delivered");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "returned at the signal"
        );
    }
}
