//! When the receiver sends RTCP back, and what it measures of the answer:
//! `--send-pli-after-ms` / `--send-fir-after-ms` ask for a keyframe that
//! long after the first RTP packet, `--rr-interval-ms` sends receiver
//! reports; `keyframe_after_pli_ms` is the time from the PLI leaving to
//! the first packet of the next keyframe unit arriving.
//!
//! Feedback goes to where the sender reports come from (the sender's RTCP
//! socket), from our RTCP port: the RTP port + 1 (RFC 3550 §11). Nothing is
//! sent before a sender report has shown that address. Pure: times are ms
//! since the run's start, and the caller sends the bytes.

use std::net::SocketAddr;

use serde::Serialize;

use super::feedback::{self, Reception};
use super::rtcp::SenderReport;

/// What the command line asked for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PlanArgs {
    pub pli_after_ms: Option<u64>,
    /// PLIs to send (a flood, to see the keyframe limiter), `pli_interval_ms` apart.
    pub pli_repeat: u64,
    pub pli_interval_ms: u64,
    pub fir_after_ms: Option<u64>,
    pub rr_interval_ms: Option<u64>,
}

/// The measured side, for the JSON report.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct FeedbackReport {
    /// When the (first) PLI left, ms after the start; null: none sent.
    pub pli_sent_at_ms: Option<f64>,
    pub plis_sent: u64,
    /// First PLI -> first packet of the next keyframe unit, ms.
    pub keyframe_after_pli_ms: Option<f64>,
    /// Complete keyframe units whose first packet came after the first PLI.
    pub keyframes_after_pli: u64,
    pub fir_sent_at_ms: Option<f64>,
    pub keyframe_after_fir_ms: Option<f64>,
    pub keyframes_after_fir: u64,
    /// Receiver reports sent (alone or in front of a PLI / FIR).
    pub rtcp_rr_sent: u64,
    /// Our own interarrival jitter estimate (RFC 3550 A.8), ms.
    pub rx_jitter_ms: Option<f64>,
    /// The sender's RTCP address, learnt from its sender reports.
    pub rtcp_peer: Option<String>,
    /// Why asked-for feedback was not sent.
    pub feedback_note: Option<String>,
}

/// The plan and its state.
#[derive(Debug)]
pub struct FeedbackPlan {
    args: PlanArgs,
    own_ssrc: u32,
    peer: Option<SocketAddr>,
    /// LSR of the last SR and when it came (RFC 3550 §6.4.1).
    last_sr: Option<(u32, f64)>,
    first_rtp_ms: Option<f64>,
    reception: Reception,
    /// RTP timestamp and first-packet arrival of the last two units.
    unit_first: [Option<(u32, f64)>; 2],
    fir_seq: u8,
    next_rr_ms: Option<f64>,
    buf: Vec<u8>,
    pub report: FeedbackReport,
}

impl FeedbackPlan {
    pub fn new(args: PlanArgs, own_ssrc: u32) -> Self {
        Self {
            args,
            own_ssrc,
            peer: None,
            last_sr: None,
            first_rtp_ms: None,
            reception: Reception::default(),
            unit_first: [None; 2],
            fir_seq: 0,
            next_rr_ms: None,
            buf: Vec::with_capacity(128),
            report: FeedbackReport::default(),
        }
    }

    fn active(&self) -> bool {
        let a = &self.args;
        a.pli_after_ms.is_some() || a.fir_after_ms.is_some() || a.rr_interval_ms.is_some()
    }

    /// One RTP packet of the expected payload type.
    pub fn on_rtp(&mut self, ssrc: u32, seq: u16, rtp_ts: u32, at_ms: f64) {
        self.first_rtp_ms.get_or_insert(at_ms);
        self.reception.observe(ssrc, seq, rtp_ts, at_ms);
        if self.unit_first[1].is_none_or(|(ts, _)| ts != rtp_ts) {
            self.unit_first = [self.unit_first[1], Some((rtp_ts, at_ms))];
        }
    }

    /// A sender report from `peer` (the sender's RTCP socket).
    pub fn on_sr(&mut self, sr: &SenderReport, peer: SocketAddr, at_ms: f64) {
        self.peer = Some(peer);
        self.report.rtcp_peer = Some(peer.to_string());
        self.last_sr = Some((feedback::lsr(sr.ntp_msw, sr.ntp_lsw), at_ms));
    }

    /// A complete keyframe unit with this RTP timestamp.
    pub fn on_keyframe(&mut self, rtp_ts: u32) {
        let Some((_, first_ms)) = self
            .unit_first
            .iter()
            .flatten()
            .find(|(ts, _)| *ts == rtp_ts)
        else {
            return;
        };
        let r = &mut self.report;
        if let Some(sent) = r.pli_sent_at_ms
            && *first_ms >= sent
        {
            r.keyframes_after_pli += 1;
            r.keyframe_after_pli_ms.get_or_insert(first_ms - sent);
        }
        if let Some(sent) = r.fir_sent_at_ms
            && *first_ms >= sent
        {
            r.keyframes_after_fir += 1;
            r.keyframe_after_fir_ms.get_or_insert(first_ms - sent);
        }
    }

    fn pli_due(&self) -> Option<f64> {
        let after = self.args.pli_after_ms?;
        let n = self.report.plis_sent;
        if n >= self.args.pli_repeat.max(1) {
            return None;
        }
        let start = self.first_rtp_ms? + after as f64;
        Some(start + (n * self.args.pli_interval_ms) as f64)
    }

    fn fir_due(&self) -> Option<f64> {
        let after = self.args.fir_after_ms?;
        if self.report.fir_sent_at_ms.is_some() {
            return None;
        }
        Some(self.first_rtp_ms? + after as f64)
    }

    fn rr_due(&self) -> Option<f64> {
        self.args.rr_interval_ms?;
        self.reception.ssrc?;
        Some(self.next_rr_ms.unwrap_or(0.0))
    }

    /// The next time something is due, ms after the start; `None` when
    /// nothing can be sent yet (no sender report seen, no stream).
    pub fn next_due_ms(&self) -> Option<f64> {
        self.peer?;
        self.reception.ssrc?;
        [self.pli_due(), self.fir_due(), self.rr_due()]
            .into_iter()
            .flatten()
            .reduce(f64::min)
    }

    /// Sends whatever is due at `now_ms` through `send(bytes, peer)`, one
    /// compound packet: RR + SDES, then a PLI and/or FIR.
    pub fn tick(&mut self, now_ms: f64, mut send: impl FnMut(&[u8], SocketAddr) -> bool) {
        let (Some(peer), Some(media)) = (self.peer, self.reception.ssrc) else {
            return;
        };
        let due = |t: Option<f64>| t.is_some_and(|t| t <= now_ms);
        let (pli, fir, rr) = (due(self.pli_due()), due(self.fir_due()), due(self.rr_due()));
        if !(pli || fir || rr) {
            return;
        }
        let block = self.reception.block().map(|b| {
            let (lsr, dlsr) = self
                .last_sr
                .map_or((0, 0), |(lsr, at)| (lsr, feedback::dlsr(now_ms - at)));
            (b, lsr, dlsr)
        });
        let mut buf = std::mem::take(&mut self.buf);
        feedback::write_rr(&mut buf, self.own_ssrc, block);
        if pli {
            feedback::append_pli(&mut buf, self.own_ssrc, media);
        }
        if fir {
            feedback::append_fir(&mut buf, self.own_ssrc, media, self.fir_seq);
            self.fir_seq = self.fir_seq.wrapping_add(1);
        }
        let sent = send(&buf, peer);
        self.buf = buf;
        if !sent {
            self.report
                .feedback_note
                .get_or_insert_with(|| format!("an RTCP send to {peer} failed"));
        }
        let r = &mut self.report;
        r.rtcp_rr_sent += 1;
        r.rx_jitter_ms = Some(self.reception.jitter * 1000.0 / feedback::CLOCK_RATE);
        if pli {
            r.plis_sent += 1;
            r.pli_sent_at_ms.get_or_insert(now_ms);
            tracing::debug!(
                "RTCP PLI {} for SSRC {media:#x} sent to {peer} at {now_ms:.1} ms",
                r.plis_sent
            );
        }
        if fir {
            r.fir_sent_at_ms = Some(now_ms);
            tracing::info!("RTCP FIR for SSRC {media:#x} sent to {peer} at {now_ms:.1} ms");
        }
        if let Some(every) = self.args.rr_interval_ms {
            self.next_rr_ms = Some(now_ms + every as f64);
        }
    }

    /// The report, with a note when asked-for feedback never left.
    pub fn finish(&self) -> FeedbackReport {
        let a = self.args;
        let mut r = self.report.clone();
        if self.active() && r.feedback_note.is_none() {
            let why = if self.peer.is_none() {
                Some("no RTCP sender report came: the sender's RTCP address is unknown")
            } else if self.reception.ssrc.is_none() {
                Some("no RTP packet came")
            } else if (a.pli_after_ms.is_some() && r.plis_sent == 0)
                || (a.fir_after_ms.is_some() && r.fir_sent_at_ms.is_none())
            {
                Some("the run ended before the keyframe request was due")
            } else {
                None
            };
            r.feedback_note = why.map(str::to_owned);
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sr() -> SenderReport {
        SenderReport {
            ssrc: 0x55,
            ntp_msw: 0x0001_0002,
            ntp_lsw: 0x0003_0000,
            rtp_timestamp: 0,
            packet_count: 0,
            octet_count: 0,
            report_blocks: 0,
        }
    }

    fn peer() -> SocketAddr {
        "127.0.0.1:4000".parse().unwrap()
    }

    fn sent(plan: &mut FeedbackPlan, now: f64) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        plan.tick(now, |b, p| {
            assert_eq!(p, peer());
            out.push(b.to_vec());
            true
        });
        out
    }

    #[test]
    fn a_pli_leaves_once_after_the_delay_and_the_next_keyframe_is_timed() {
        let mut p = FeedbackPlan::new(
            PlanArgs {
                pli_after_ms: Some(1500),
                ..PlanArgs::default()
            },
            9,
        );
        p.on_rtp(0x55, 1, 1000, 100.0);
        assert_eq!(p.next_due_ms(), None, "no SR yet: no address");
        p.on_sr(&sr(), peer(), 150.0);
        assert_eq!(p.next_due_ms(), Some(1600.0));
        assert!(sent(&mut p, 1599.0).is_empty());
        let d = sent(&mut p, 1600.0);
        assert_eq!(d.len(), 1);
        // RR (8 + 24) + SDES (4 + 4 + 2 + 19 + END -> 32) + PLI (12).
        let b = &d[0];
        assert_eq!(b[1], 201);
        assert_eq!(&b[b.len() - 12..b.len() - 8], &[0x81, 206, 0, 2]);
        assert_eq!(&b[b.len() - 4..], &0x55u32.to_be_bytes(), "media SSRC");
        assert_eq!(&b[24..28], &0x0002_0003u32.to_be_bytes(), "LSR");
        assert_eq!(p.next_due_ms(), None, "once");
        assert!(sent(&mut p, 5000.0).is_empty());
        // A keyframe unit that began before the PLI does not count.
        p.on_rtp(0x55, 2, 2000, 1590.0);
        p.on_rtp(0x55, 3, 2000, 1610.0);
        p.on_keyframe(2000);
        assert_eq!(p.report.keyframe_after_pli_ms, None);
        p.on_rtp(0x55, 4, 5000, 1640.0);
        p.on_rtp(0x55, 5, 5000, 1650.0);
        p.on_keyframe(5000);
        assert_eq!(p.report.keyframe_after_pli_ms, Some(40.0));
        assert_eq!(p.report.pli_sent_at_ms, Some(1600.0));
        assert_eq!(p.finish().feedback_note, None);
    }

    #[test]
    fn fir_sequence_numbers_and_periodic_reports() {
        let mut p = FeedbackPlan::new(
            PlanArgs {
                fir_after_ms: Some(10),
                rr_interval_ms: Some(1000),
                ..PlanArgs::default()
            },
            9,
        );
        p.on_sr(&sr(), peer(), 0.0);
        p.on_rtp(0x55, 1, 1000, 0.0);
        let d = sent(&mut p, 0.0);
        assert_eq!(d.len(), 1, "the first RR at once");
        assert_eq!(p.next_due_ms(), Some(10.0));
        let d = sent(&mut p, 10.0);
        let b = &d[0];
        assert_eq!(&b[b.len() - 20..b.len() - 16], &[0x84, 206, 0, 4]);
        assert_eq!(b[b.len() - 4], 0, "first FIR seq");
        assert_eq!(p.next_due_ms(), Some(1010.0));
        assert_eq!(p.report.rtcp_rr_sent, 2);
    }

    #[test]
    fn a_pli_flood_and_a_note_when_nothing_could_be_sent() {
        let mut p = FeedbackPlan::new(
            PlanArgs {
                pli_after_ms: Some(0),
                pli_repeat: 3,
                pli_interval_ms: 10,
                ..PlanArgs::default()
            },
            9,
        );
        p.on_rtp(0x55, 1, 1000, 0.0);
        p.on_sr(&sr(), peer(), 0.0);
        for t in [0.0, 10.0, 20.0, 30.0] {
            sent(&mut p, t);
        }
        assert_eq!(p.report.plis_sent, 3);
        assert_eq!(p.report.pli_sent_at_ms, Some(0.0));
        let q = FeedbackPlan::new(
            PlanArgs {
                pli_after_ms: Some(0),
                ..PlanArgs::default()
            },
            9,
        );
        assert!(q.finish().feedback_note.unwrap().contains("sender report"));
        let idle = FeedbackPlan::new(PlanArgs::default(), 9);
        assert_eq!(idle.finish(), FeedbackReport::default());
    }
}
