//! RTCP from receivers: reception reports (RFC 3550 §6.4.1, §6.4.2),
//! Picture Loss Indication (RFC 4585 §6.3.1) and Full Intra Request
//! (RFC 5104 §4.3.1). Pure: no sockets, no clocks; the driver
//! (`output::rtcp_feedback`) owns the socket and the wall clock.
//!
//! Every packet of a compound datagram starts with (RFC 3550 §6.4.1):
//!
//! ```text
//! |V=2|P| RC/FMT  |      PT       |   length (32-bit words - 1)   |
//! ```
//!
//! A datagram is checked whole before anything in it is believed
//! (RFC 3550 Appendix A.2): version 2 everywhere, padding only on the last
//! packet, lengths that add up to the datagram exactly. It need not start
//! with an SR or RR: RFC 5506 §3 lets receivers send feedback alone
//! (reduced-size RTCP), which is what a PLI right after a loss often is.

/// RTCP packet types (RFC 3550 §12.1, RFC 4585 §6.1).
const PT_SR: u8 = 200;
const PT_RR: u8 = 201;
/// Payload-specific feedback (RFC 4585 §6.1).
const PT_PSFB: u8 = 206;
/// PSFB FMT 1: Picture Loss Indication (RFC 4585 §6.3.1).
const FMT_PLI: u8 = 1;
/// PSFB FMT 4: Full Intra Request (RFC 5104 §4.3.1.1).
const FMT_FIR: u8 = 4;

/// One reception report block is 24 bytes (RFC 3550 §6.4.1).
const REPORT_BLOCK_LEN: usize = 24;
/// Feedback header: common header, sender SSRC, media SSRC (RFC 4585 §6.1).
const FB_HEADER_LEN: usize = 12;
/// One FIR FCI entry: SSRC, seq nr, 3 reserved bytes (RFC 5104 §4.3.1.1).
const FIR_ENTRY_LEN: usize = 8;

/// Why a datagram was not taken as RTCP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FeedbackError {
    #[error("{0} bytes left, shorter than an RTCP header")]
    TooShort(usize),
    #[error("RTCP version {0}, expected 2")]
    BadVersion(u8),
    #[error("packet of {declared} bytes overruns the {available} bytes left")]
    LengthOverrun { declared: usize, available: usize },
    #[error("padding on a packet that is not the last one")]
    PaddingNotLast,
    #[error("invalid padding count {0}")]
    BadPadding(u8),
    #[error("packet type {packet_type} (count {count}) does not fit its {len} bytes")]
    Truncated {
        packet_type: u8,
        count: u8,
        len: usize,
    },
}

/// One reception report block about our stream (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportBlock {
    /// The receiver that sent it (the SR/RR's own SSRC).
    pub reporter_ssrc: u32,
    /// Fraction of packets lost since its previous report, in 1/256.
    pub fraction_lost: u8,
    /// Packets lost since the start: a 24-bit *signed* count, negative
    /// when duplicates outnumber losses (§6.4.1).
    pub cumulative_lost: i32,
    /// Extended highest sequence number received (cycles << 16 | seq).
    pub highest_seq: u32,
    /// Interarrival jitter in RTP timestamp units (§6.4.1, A.8).
    pub jitter: u32,
    /// Middle 32 bits of the NTP timestamp of our last SR it received; 0: none.
    pub lsr: u32,
    /// Delay since that SR, in 1/65536 s; 0 when `lsr` is 0.
    pub dlsr: u32,
}

impl ReportBlock {
    /// The fraction lost as a number in [0, 1).
    pub fn fraction_lost_ratio(&self) -> f64 {
        f64::from(self.fraction_lost) / 256.0
    }
}

/// What a compound datagram says that concerns our stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feedback {
    /// A reception report block about our SSRC (from an RR or an SR).
    Report(ReportBlock),
    /// Picture Loss Indication for our SSRC (RFC 4585 §6.3.1).
    Pli { sender_ssrc: u32 },
    /// One Full Intra Request entry naming our SSRC (RFC 5104 §4.3.1).
    /// The same `seq` from the same sender is a retransmission of one
    /// request (§4.3.1.2): see [`FirDedup`].
    Fir { sender_ssrc: u32, seq: u8 },
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Validates `datagram` as RTCP (Appendix A.2, minus the SR/RR-first rule,
/// see the module doc) and calls `each` for everything in it about
/// `our_ssrc`: report blocks, PLIs, FIR entries. SDES, BYE, APP, other
/// feedback and unknown types are skipped. Nothing is delivered from a
/// datagram that fails validation. Never panics, never allocates.
pub fn parse_feedback(
    datagram: &[u8],
    our_ssrc: u32,
    mut each: impl FnMut(Feedback),
) -> Result<(), FeedbackError> {
    // First pass: every packet checked (structure and each packet's own
    // layout) with nothing delivered, so a bad tail discards the whole
    // datagram (found by fuzzing: a truncated FIR after a valid PLI).
    walk(datagram, |packet_type, count, p| {
        packet_feedback(packet_type, count, p, our_ssrc, &mut |_| {})
    })?;
    walk(datagram, |packet_type, count, p| {
        packet_feedback(packet_type, count, p, our_ssrc, &mut each)
    })
}

/// Splits a compound datagram into its packets (header included, padding
/// removed) and calls `f(packet_type, count, packet)` for each.
fn walk(
    datagram: &[u8],
    mut f: impl FnMut(u8, u8, &[u8]) -> Result<(), FeedbackError>,
) -> Result<(), FeedbackError> {
    if datagram.is_empty() {
        return Err(FeedbackError::TooShort(0));
    }
    let mut at = 0;
    while at < datagram.len() {
        let rest = &datagram[at..];
        if rest.len() < 4 {
            return Err(FeedbackError::TooShort(rest.len()));
        }
        let version = rest[0] >> 6;
        if version != 2 {
            return Err(FeedbackError::BadVersion(version));
        }
        let padded = rest[0] & 0x20 != 0;
        let count = rest[0] & 0x1f;
        let len = 4 * (usize::from(u16::from_be_bytes([rest[2], rest[3]])) + 1);
        if len > rest.len() {
            return Err(FeedbackError::LengthOverrun {
                declared: len,
                available: rest.len(),
            });
        }
        let mut packet = &rest[..len];
        if padded {
            // §6.4.1: only the last packet of a compound may be padded; the
            // last octet counts the padding, itself included.
            if len != rest.len() {
                return Err(FeedbackError::PaddingNotLast);
            }
            let pad = packet[len - 1];
            if pad == 0 || usize::from(pad) > len - 4 {
                return Err(FeedbackError::BadPadding(pad));
            }
            packet = &packet[..len - usize::from(pad)];
        }
        f(rest[1], count, packet)?;
        at += len;
    }
    Ok(())
}

fn packet_feedback(
    packet_type: u8,
    count: u8,
    p: &[u8],
    our_ssrc: u32,
    each: &mut impl FnMut(Feedback),
) -> Result<(), FeedbackError> {
    let truncated = FeedbackError::Truncated {
        packet_type,
        count,
        len: p.len(),
    };
    match packet_type {
        // §6.4.1 SR: header, SSRC, 20 bytes of sender info, then RC blocks;
        // §6.4.2 RR: header, SSRC, then RC blocks. Profile-specific
        // extensions may follow the blocks and are ignored.
        PT_SR | PT_RR => {
            let blocks_at = if packet_type == PT_SR { 28 } else { 8 };
            let end = blocks_at + usize::from(count) * REPORT_BLOCK_LEN;
            if p.len() < end {
                return Err(truncated);
            }
            let reporter_ssrc = be32(p, 4);
            for b in p[blocks_at..end].chunks_exact(REPORT_BLOCK_LEN) {
                if be32(b, 0) != our_ssrc {
                    continue;
                }
                // 24-bit two's complement, sign-extended.
                let cumulative_lost = (i32::from_be_bytes([b[5], b[6], b[7], 0])) >> 8;
                each(Feedback::Report(ReportBlock {
                    reporter_ssrc,
                    fraction_lost: b[4],
                    cumulative_lost,
                    highest_seq: be32(b, 8),
                    jitter: be32(b, 12),
                    lsr: be32(b, 16),
                    dlsr: be32(b, 20),
                }));
            }
        }
        PT_PSFB => {
            if p.len() < FB_HEADER_LEN {
                return Err(truncated);
            }
            let sender_ssrc = be32(p, 4);
            match count {
                // RFC 4585 §6.3.1: no FCI; the media source SSRC names the
                // stream whose picture was lost.
                FMT_PLI if be32(p, 8) == our_ssrc => each(Feedback::Pli { sender_ssrc }),
                // RFC 5104 §4.3.1.1: the media source SSRC is unused (0);
                // each FCI entry names the stream it asks a keyframe of.
                FMT_FIR => {
                    let fci = &p[FB_HEADER_LEN..];
                    if !fci.len().is_multiple_of(FIR_ENTRY_LEN) {
                        return Err(truncated);
                    }
                    for e in fci.chunks_exact(FIR_ENTRY_LEN) {
                        if be32(e, 0) == our_ssrc {
                            each(Feedback::Fir {
                                sender_ssrc,
                                seq: e[4],
                            });
                        }
                    }
                }
                // A PLI for another stream; SLI, RPSI, TSTR, REMB (APP-based)
                // and others: not ours.
                _ => {}
            }
        }
        // SDES, BYE, APP, RTPFB (NACK) and unknown types: skipped.
        _ => {}
    }
    Ok(())
}

/// Remembers the last FIR sequence number per sender, so a retransmitted
/// FIR is one request (RFC 5104 §4.3.1.2: "the same command sequence
/// number ... shall be treated as the same request"). A handful of
/// senders, no allocation.
#[derive(Debug, Default, Clone)]
pub struct FirDedup {
    /// (sender SSRC, last seq nr); the oldest entry is replaced when full.
    seen: [Option<(u32, u8)>; 8],
    next: usize,
}

impl FirDedup {
    /// Whether this FIR is a new request (and remembers it).
    pub fn is_new(&mut self, sender_ssrc: u32, seq: u8) -> bool {
        if let Some(slot) = self
            .seen
            .iter_mut()
            .flatten()
            .find(|(s, _)| *s == sender_ssrc)
        {
            let new = slot.1 != seq;
            slot.1 = seq;
            return new;
        }
        self.seen[self.next] = Some((sender_ssrc, seq));
        self.next = (self.next + 1) % self.seen.len();
        true
    }
}

/// NTP short format (RFC 3550 §4: the middle 32 bits of a 64-bit NTP
/// timestamp; 16.16 seconds) as milliseconds.
pub fn ntp_short_to_ms(units: u32) -> f64 {
    f64::from(units) * 1000.0 / 65536.0
}

/// The sender reports we sent last: the middle 32 bits of each one's NTP
/// timestamp (what a receiver echoes as LSR) and when, on the caller's
/// monotonic clock, it left. RTT needs the send time, not the NTP field:
/// our SRs carry the capture time of the unit they map (a wall-clock time
/// that is earlier than the send), so A - LSR - DLSR (RFC 3550 §6.4.1)
/// with A from the wall clock would count the pipeline's latency as
/// network delay.
#[derive(Debug, Default, Clone)]
pub struct SentReports {
    ring: [Option<(u32, u64)>; 16],
    next: usize,
}

impl SentReports {
    /// An SR whose NTP timestamp's middle 32 bits are `lsr` left at
    /// `sent_mono_ns`.
    pub fn record(&mut self, lsr: u32, sent_mono_ns: u64) {
        // The same NTP time again (the final SR, sent with BYE, maps the
        // last unit like the SR before it): a receiver echoes the newer.
        if let Some(slot) = self.ring.iter_mut().flatten().find(|(l, _)| *l == lsr) {
            slot.1 = sent_mono_ns;
            return;
        }
        self.ring[self.next] = Some((lsr, sent_mono_ns));
        self.next = (self.next + 1) % self.ring.len();
    }

    /// The round-trip time in NTP short units (1/65536 s) of a report that
    /// arrived at `arrival_mono_ns` echoing `lsr` after `dlsr`
    /// (RFC 3550 §6.4.1: "A - LSR - DLSR", with A - LSR measured on our
    /// own clock). `None`: no SR received yet (LSR 0), an SR we do not
    /// remember, or a DLSR longer than the time since we sent it (a bogus
    /// report) beyond 1 ms of rounding.
    pub fn rtt(&self, lsr: u32, dlsr: u32, arrival_mono_ns: u64) -> Option<u32> {
        if lsr == 0 {
            return None;
        }
        let &(_, sent) = self.ring.iter().flatten().find(|(l, _)| *l == lsr)?;
        let elapsed_ns = arrival_mono_ns.checked_sub(sent)?;
        let elapsed = (u128::from(elapsed_ns) * 65536 / 1_000_000_000).min(u128::from(u32::MAX));
        let rtt = i64::try_from(elapsed).ok()? - i64::from(dlsr);
        // DLSR is truncated to 1/65536 s by the receiver: allow 1 ms of it.
        const SLACK: i64 = 66;
        match rtt {
            r if r >= 0 => u32::try_from(r).ok(),
            r if r >= -SLACK => Some(0),
            _ => None,
        }
    }
}

/// The middle 32 bits of a 64-bit NTP timestamp (RFC 3550 §4, §6.4.1 LSR).
pub fn ntp_middle32(ntp: u64) -> u32 {
    (ntp >> 16) as u32
}

/// Interarrival jitter in RTP units of a `clock_rate` Hz clock, as ms.
pub fn jitter_ms(jitter: u32, clock_rate: u32) -> f64 {
    f64::from(jitter) * 1000.0 / f64::from(clock_rate.max(1))
}

#[cfg(test)]
#[path = "rtcp_feedback_tests.rs"]
mod tests;
