//! The RTP output's RTCP reader: a small thread on the RTCP socket (the
//! one that sends our sender reports, connected to the receiver's RTP
//! port + 1, so only datagrams from there arrive: RFC 3550 §11's port
//! pair, and a filter against anyone else). It turns each PLI
//! (RFC 4585 §6.3.1) and new FIR (RFC 5104 §4.3.1) into a keyframe
//! request at once, not at the next unit the sink writes, and keeps the
//! latest reception report (RFC 3550 §6.4.1) in the counters.
//!
//! The request goes through [`KeyframeRequests::request`], which the encode
//! loop hands to the keyframe policy: at most one forced keyframe per
//! `--keyframe-min-spacing` frames, requests inside the window coalesced
//! and answered when it ends. A receiver flooding PLIs gets no more.

use std::io::ErrorKind;
use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tracing::{debug, info, warn};

use crate::rtp::rtcp_feedback::{Feedback, FirDedup, ReportBlock, SentReports, parse_feedback};
use crate::signals::KeyframeRequests;
use crate::telemetry::{LatestReport, RtcpCounters, incr};

/// How long a blocked read waits before it looks at the stop flag.
const READ_TICK: Duration = Duration::from_millis(100);
/// Largest datagram read; RTCP from a receiver is far smaller (RFC 3550
/// §6.1 keeps compounds under the path MTU).
const MAX_DATAGRAM: usize = 1500;

/// What the RTCP reader needs from the pipeline: where its figures go and
/// whom to ask for keyframes.
#[derive(Clone)]
pub struct RtcpLink {
    pub stats: Arc<RtcpCounters>,
    pub keyframes: KeyframeRequests,
}

/// Our sender reports, shared by the sink thread that sends them and the
/// reader that computes the round-trip time from the receivers' echoes.
#[derive(Clone)]
pub(crate) struct SentLog {
    origin: Instant,
    reports: Arc<Mutex<SentReports>>,
}

impl SentLog {
    pub(crate) fn new() -> Self {
        Self {
            origin: Instant::now(),
            reports: Arc::default(),
        }
    }

    fn mono_ns(&self) -> u64 {
        self.origin.elapsed().as_nanos() as u64
    }

    /// An SR whose NTP timestamp has these middle 32 bits just left.
    pub(crate) fn sent(&self, lsr: u32) {
        let now = self.mono_ns();
        self.reports
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .record(lsr, now);
    }

    fn rtt(&self, lsr: u32, dlsr: u32, arrival_ns: u64) -> Option<u32> {
        self.reports
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .rtt(lsr, dlsr, arrival_ns)
    }
}

/// The reader thread; stopped and joined on drop.
pub(crate) struct RtcpReader {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl RtcpReader {
    /// Starts reading `socket` (a clone of the sending one). The socket is
    /// made blocking with a short read timeout, so the thread sleeps in
    /// `recv` and still notices the stop flag; the sender's sends get a
    /// short write timeout instead of non-blocking (they share the flag).
    pub(crate) fn start(
        socket: UdpSocket,
        our_ssrc: u32,
        clock_rate: u32,
        link: RtcpLink,
        sent: SentLog,
    ) -> std::io::Result<Self> {
        socket.set_nonblocking(false)?;
        socket.set_read_timeout(Some(READ_TICK))?;
        socket.set_write_timeout(Some(Duration::from_millis(20)))?;
        let stop = Arc::new(AtomicBool::new(false));
        let reader = Reader {
            socket,
            our_ssrc,
            clock_rate,
            link,
            sent,
            fir: FirDedup::default(),
            first_request_logged: false,
            first_report_logged: false,
        };
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("rtcp-rx".into())
            .spawn(move || reader.run(&flag))?;
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for RtcpReader {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct Reader {
    socket: UdpSocket,
    our_ssrc: u32,
    clock_rate: u32,
    link: RtcpLink,
    sent: SentLog,
    fir: FirDedup,
    first_request_logged: bool,
    first_report_logged: bool,
}

impl Reader {
    fn run(mut self, stop: &AtomicBool) {
        // One buffer for the thread's life: nothing allocated per datagram.
        let mut buf = [0u8; MAX_DATAGRAM];
        while !stop.load(Ordering::Relaxed) {
            match self.socket.recv(&mut buf) {
                Ok(len) => self.on_datagram(&buf[..len]),
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                    ) => {}
                // An ICMP port unreachable for an SR sent before the
                // receiver was up: nothing to read, keep listening.
                Err(e) if e.kind() == ErrorKind::ConnectionRefused => {}
                Err(e) => {
                    warn!(error = %e, "RTCP socket unreadable: no more receiver feedback");
                    return;
                }
            }
        }
    }

    fn on_datagram(&mut self, datagram: &[u8]) {
        let arrival_ns = self.sent.mono_ns();
        let mut feedback = [None; 8];
        let mut n = 0;
        let mut overflow = false;
        // Collected first (a fixed array, no allocation), acted on after:
        // the parse delivers nothing from a datagram that fails validation.
        let parsed = parse_feedback(datagram, self.our_ssrc, |f| {
            if n < feedback.len() {
                feedback[n] = Some(f);
                n += 1;
            } else {
                overflow = true;
            }
        });
        // A handle, not a borrow of self: the loop below takes &mut self.
        let stats = Arc::clone(&self.link.stats);
        if let Err(e) = parsed {
            incr(&stats.rtcp_invalid);
            debug!(error = %e, len = datagram.len(), "invalid RTCP datagram ignored");
            return;
        }
        incr(&stats.rtcp_packets_received);
        if overflow {
            debug!("more than 8 feedback items in one RTCP datagram: the rest ignored");
        }
        for f in feedback.into_iter().flatten() {
            match f {
                Feedback::Pli { sender_ssrc } => {
                    incr(&stats.rtcp_pli_received);
                    self.request_keyframe("pli", sender_ssrc);
                }
                Feedback::Fir { sender_ssrc, seq } => {
                    if self.fir.is_new(sender_ssrc, seq) {
                        incr(&stats.rtcp_fir_received);
                        self.request_keyframe("fir", sender_ssrc);
                    }
                }
                Feedback::Report(b) => self.on_report(&b, arrival_ns),
            }
        }
    }

    fn request_keyframe(&mut self, kind: &'static str, sender_ssrc: u32) {
        self.link.keyframes.request();
        if self.first_request_logged {
            debug!(kind, sender_ssrc, "RTCP keyframe request");
        } else {
            self.first_request_logged = true;
            info!(
                kind,
                sender_ssrc, "receiver asked for a keyframe over RTCP (later ones logged at debug)"
            );
        }
    }

    fn on_report(&mut self, b: &ReportBlock, arrival_ns: u64) {
        let stats = &self.link.stats;
        // A report that cannot give one (no SR echoed yet, an SR we no
        // longer remember) keeps the last round-trip time measured.
        let rtt = self
            .sent
            .rtt(b.lsr, b.dlsr, arrival_ns)
            .or_else(|| stats.latest().and_then(|l| l.rtt));
        let latest = LatestReport {
            fraction_lost: b.fraction_lost,
            cumulative_lost: b.cumulative_lost,
            highest_seq: b.highest_seq,
            jitter: b.jitter,
            clock_rate: self.clock_rate,
            rtt,
        };
        incr(&stats.rtcp_rr_received);
        stats.set_latest(latest);
        let snap = stats.snapshot();
        let (jitter_ms, rtt_ms) = (snap.jitter_ms(), snap.rtt_ms());
        if self.first_report_logged {
            debug!(
                reporter = b.reporter_ssrc,
                fraction_lost = b.fraction_lost,
                cumulative_lost = b.cumulative_lost,
                highest_seq = b.highest_seq,
                ?jitter_ms,
                ?rtt_ms,
                "RTCP receiver report"
            );
        } else {
            self.first_report_logged = true;
            info!(
                reporter = b.reporter_ssrc,
                fraction_lost = b.fraction_lost,
                cumulative_lost = b.cumulative_lost,
                highest_seq = b.highest_seq,
                ?jitter_ms,
                ?rtt_ms,
                "first RTCP receiver report (later ones logged at debug)"
            );
        }
    }
}
