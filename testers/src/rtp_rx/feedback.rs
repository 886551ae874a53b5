//! What the receiver sends back over RTCP, written from the RFCs with its
//! own code (nothing shared with the streamer):
//!
//! - reception statistics of RFC 3550 Appendix A.1 (extended sequence
//!   numbers), A.3 (expected, lost, fraction lost) and A.8 (interarrival
//!   jitter), the figures of a report block (§6.4.1);
//! - the packets: RR (§6.4.2) with one report block, SDES CNAME (§6.5),
//!   PLI (RFC 4585 §6.3.1) and FIR (RFC 5104 §4.3.1), each compound
//!   starting with the RR (RFC 3550 §6.1).
//!
//! Pure: times are passed in (ms since the run's start).

/// RTP clock rate of the video payloads we receive (RFC 6184 §8.2.1,
/// RFC 7798 §7.1).
pub const CLOCK_RATE: f64 = 90_000.0;

const PT_RR: u8 = 201;
const PT_SDES: u8 = 202;
const PT_PSFB: u8 = 206;
const FMT_PLI: u8 = 1;
const FMT_FIR: u8 = 4;
const CNAME: &[u8] = b"rtp_receiver_tester";

/// Per-source reception state (RFC 3550 A.1, A.3, A.8).
#[derive(Clone, Debug, Default)]
pub struct Reception {
    pub ssrc: Option<u32>,
    base_seq: u32,
    max_seq: u16,
    /// Sequence number cycles, shifted (A.1 `cycles`).
    cycles: u32,
    received: u64,
    expected_prior: u64,
    received_prior: u64,
    /// Previous packet's transit time, RTP units (A.8); `None` before one.
    transit: Option<f64>,
    /// Interarrival jitter, RTP units (A.8's estimator in floating point).
    pub jitter: f64,
}

/// The figures of one report block (RFC 3550 §6.4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockFigures {
    pub ssrc: u32,
    pub fraction_lost: u8,
    /// Clamped to the field's 24-bit signed range.
    pub cumulative_lost: i32,
    pub extended_highest_seq: u32,
    pub jitter: u32,
}

impl Reception {
    /// One RTP packet of `ssrc` that arrived `at_ms` after the start. A new
    /// SSRC starts the statistics again (A.1: a new source).
    pub fn observe(&mut self, ssrc: u32, seq: u16, rtp_ts: u32, at_ms: f64) {
        if self.ssrc != Some(ssrc) {
            *self = Reception {
                ssrc: Some(ssrc),
                base_seq: u32::from(seq),
                max_seq: seq,
                ..Reception::default()
            };
        } else {
            // A.1, without the probation and the large-jump resync: a step
            // forward below 2^15 advances (and may wrap), anything else is
            // late or duplicate and only counts as received.
            let delta = seq.wrapping_sub(self.max_seq);
            if delta != 0 && delta < 0x8000 {
                if seq < self.max_seq {
                    self.cycles = self.cycles.wrapping_add(1 << 16);
                }
                self.max_seq = seq;
            }
        }
        self.received += 1;
        // A.8: transit = arrival - timestamp (both in RTP units; the
        // constant offset between the clocks cancels in the difference).
        let arrival = at_ms * CLOCK_RATE / 1000.0;
        let transit = arrival - f64::from(rtp_ts);
        if let Some(prev) = self.transit {
            let mut d = (transit - prev).abs();
            // A timestamp wrap between two packets shows as a 2^32 jump.
            if d > 2_147_483_648.0 {
                d = (d - 4_294_967_296.0).abs();
            }
            self.jitter += (d - self.jitter) / 16.0;
        }
        self.transit = Some(transit);
    }

    /// The figures of a report block now; advances the "prior" counts,
    /// so the next fraction covers the next interval (A.3).
    pub fn block(&mut self) -> Option<BlockFigures> {
        let ssrc = self.ssrc?;
        let extended = self.cycles.wrapping_add(u32::from(self.max_seq));
        let expected = u64::from(extended.wrapping_sub(self.base_seq)) + 1;
        let lost = expected as i64 - self.received as i64;
        let expected_interval = expected.saturating_sub(self.expected_prior);
        let received_interval = self.received.saturating_sub(self.received_prior);
        self.expected_prior = expected;
        self.received_prior = self.received;
        let lost_interval = expected_interval as i64 - received_interval as i64;
        let fraction_lost = if expected_interval == 0 || lost_interval <= 0 {
            0
        } else {
            ((lost_interval << 8) / expected_interval as i64).min(255) as u8
        };
        Some(BlockFigures {
            ssrc,
            fraction_lost,
            cumulative_lost: lost.clamp(-0x80_0000, 0x7F_FFFF) as i32,
            extended_highest_seq: extended,
            jitter: self.jitter as u32,
        })
    }
}

fn header(out: &mut Vec<u8>, count: u8, pt: u8, words_minus_one: u16) {
    out.push(0x80 | (count & 0x1F));
    out.push(pt);
    out.extend_from_slice(&words_minus_one.to_be_bytes());
}

/// RR from `own_ssrc` with one report block when `block` is given, then
/// SDES CNAME (a compound packet, RFC 3550 §6.1). `lsr`: middle 32 bits of
/// the last SR's NTP timestamp, `dlsr`: 1/65536 s since it came; both 0
/// without one (§6.4.1). `out` is cleared first.
pub fn write_rr(out: &mut Vec<u8>, own_ssrc: u32, block: Option<(BlockFigures, u32, u32)>) {
    out.clear();
    let rc = u8::from(block.is_some());
    header(out, rc, PT_RR, 1 + 6 * u16::from(rc));
    out.extend_from_slice(&own_ssrc.to_be_bytes());
    if let Some((b, lsr, dlsr)) = block {
        out.extend_from_slice(&b.ssrc.to_be_bytes());
        out.push(b.fraction_lost);
        out.extend_from_slice(&b.cumulative_lost.to_be_bytes()[1..]);
        out.extend_from_slice(&b.extended_highest_seq.to_be_bytes());
        out.extend_from_slice(&b.jitter.to_be_bytes());
        out.extend_from_slice(&lsr.to_be_bytes());
        out.extend_from_slice(&dlsr.to_be_bytes());
    }
    // SDES: one chunk, CNAME, END, padded to 32 bits (§6.5).
    let chunk = 4 + 2 + CNAME.len() + 1;
    let padded = chunk.div_ceil(4) * 4;
    header(out, 1, PT_SDES, (padded / 4) as u16);
    out.extend_from_slice(&own_ssrc.to_be_bytes());
    out.push(1);
    out.push(CNAME.len() as u8);
    out.extend_from_slice(CNAME);
    out.resize(out.len() + padded - (4 + 2 + CNAME.len()), 0);
}

/// Appends a PLI (RFC 4585 §6.3.1): PSFB FMT 1, no FCI, the media source
/// SSRC naming the stream whose picture is lost.
pub fn append_pli(out: &mut Vec<u8>, own_ssrc: u32, media_ssrc: u32) {
    header(out, FMT_PLI, PT_PSFB, 2);
    out.extend_from_slice(&own_ssrc.to_be_bytes());
    out.extend_from_slice(&media_ssrc.to_be_bytes());
}

/// Appends a FIR (RFC 5104 §4.3.1.1): PSFB FMT 4, media source SSRC 0,
/// one FCI entry (the stream's SSRC, the command sequence number, 3
/// reserved bytes).
pub fn append_fir(out: &mut Vec<u8>, own_ssrc: u32, media_ssrc: u32, seq: u8) {
    header(out, FMT_FIR, PT_PSFB, 4);
    out.extend_from_slice(&own_ssrc.to_be_bytes());
    out.extend_from_slice(&0u32.to_be_bytes());
    out.extend_from_slice(&media_ssrc.to_be_bytes());
    out.extend_from_slice(&[seq, 0, 0, 0]);
}

/// Middle 32 bits of an SR's NTP timestamp (RFC 3550 §6.4.1 LSR).
pub fn lsr(ntp_msw: u32, ntp_lsw: u32) -> u32 {
    (ntp_msw << 16) | (ntp_lsw >> 16)
}

/// `ms` as NTP short units (1/65536 s, §6.4.1 DLSR), saturating.
pub fn dlsr(ms: f64) -> u32 {
    (ms.max(0.0) * 65.536).min(f64::from(u32::MAX)) as u32
}

#[cfg(test)]
mod tests {
    use super::super::rtcp::{RtcpPacket, parse_compound};
    use super::*;

    #[test]
    fn loss_and_fraction_follow_appendix_a3() {
        let mut r = Reception::default();
        assert_eq!(r.block(), None, "no source yet");
        // 65530..=65535, then 0..=9 with 3 and 4 lost: 14 of 16 received.
        for (k, seq) in (65530u16..=65535)
            .chain((0..10).filter(|s| *s != 3 && *s != 4))
            .enumerate()
        {
            r.observe(7, seq, k as u32 * 3000, k as f64 * 33.3333);
        }
        let b = r.block().unwrap();
        assert_eq!(b.extended_highest_seq, (1 << 16) | 9);
        assert_eq!(b.cumulative_lost, 2);
        assert_eq!(b.fraction_lost, (2 * 256 / 16) as u8);
        // Nothing new: the next interval lost nothing.
        assert_eq!(r.block().unwrap().fraction_lost, 0);
        // A duplicate counts as received: cumulative loss may go down.
        r.observe(7, 9, 0, 0.0);
        assert_eq!(r.block().unwrap().cumulative_lost, 1);
    }

    #[test]
    fn jitter_is_zero_for_perfect_pacing_and_grows_with_wobble() {
        let mut r = Reception::default();
        for k in 0..100u32 {
            r.observe(1, k as u16, k * 3000, f64::from(k) * 1000.0 / 30.0);
        }
        assert!(r.jitter < 0.01, "{}", r.jitter);
        for k in 100..200u32 {
            let wobble = if k % 2 == 0 { 5.0 } else { 0.0 };
            r.observe(1, k as u16, k * 3000, f64::from(k) * 1000.0 / 30.0 + wobble);
        }
        // |D| = 5 ms = 450 units every packet: J converges to 450.
        assert!((r.jitter - 450.0).abs() < 5.0, "{}", r.jitter);
    }

    #[test]
    fn packets_parse_with_our_own_rtcp_reader() {
        let mut out = Vec::new();
        let b = BlockFigures {
            ssrc: 0xABCD,
            fraction_lost: 1,
            cumulative_lost: -1,
            extended_highest_seq: 5,
            jitter: 9,
        };
        write_rr(
            &mut out,
            0x1234,
            Some((b, lsr(0x0001_0002, 0x0003_0000), dlsr(1000.0))),
        );
        assert_eq!(&out[8..12], &0xABCDu32.to_be_bytes());
        assert_eq!(&out[13..16], &[0xFF, 0xFF, 0xFF], "24-bit -1");
        assert_eq!(&out[24..28], &0x0002_0003u32.to_be_bytes(), "LSR");
        assert_eq!(&out[28..32], &65536u32.to_be_bytes(), "DLSR 1 s");
        append_pli(&mut out, 0x1234, 0xABCD);
        append_fir(&mut out, 0x1234, 0xABCD, 7);
        let packets = parse_compound(&out).unwrap();
        assert_eq!(
            packets[0],
            RtcpPacket::ReceiverReport {
                ssrc: 0x1234,
                report_blocks: 1
            }
        );
        assert_eq!(packets[1], RtcpPacket::Sdes { chunks: 1 });
        assert_eq!(
            packets[2..],
            [
                RtcpPacket::Other { packet_type: 206 },
                RtcpPacket::Other { packet_type: 206 }
            ]
        );
        assert_eq!(&out[out.len() - 4..], &[7, 0, 0, 0]);
        write_rr(&mut out, 1, None);
        assert_eq!(out[0], 0x80, "RC 0");
        assert_eq!(out.len() % 4, 0);
    }
}
