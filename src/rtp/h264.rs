//! H.264 payloader, RFC 6184 packetization-mode=1 (non-interleaved, §6.3).
//!
//! - A NAL unit that fits the payload is sent alone: Single NAL Unit packet
//!   (§5.6), the payload being the NAL unit itself.
//! - A larger one is cut into FU-A packets (§5.8): each starts with the FU
//!   indicator (`F | NRI | 28`, copied from the NAL header) and the FU header
//!   (`S | E | R=0 | nal_unit_type`), followed by a piece of the NAL unit
//!   without its header byte.
//! - Runs of parameter sets and SEI (SPS, PPS, SEI) are gathered into one
//!   STAP-A packet (§5.7.1) when at least two fit: STAP-A NAL header
//!   (`F` = OR of the `F` bits, `NRI` = highest `NRI`, type 24), then for each
//!   unit a 16-bit big-endian size and the NAL unit. Strict receivers expect
//!   the parameter sets of a keyframe in one packet.
//! - Access unit delimiters (type 9) are dropped: the RTP timestamp and the
//!   marker bit already delimit access units.

use super::nal::{NalPayloader, NalScheme};
use super::packetizer::Payloader;
use crate::codec::h264::{NalType, nal_type};

/// NAL unit type of a STAP-A packet (RFC 6184 §5.7.1, Table 1).
pub const STAP_A: u8 = 24;
/// NAL unit type of an FU-A packet (RFC 6184 §5.8, Table 1).
pub const FU_A: u8 = 28;

/// [`Payloader`] for H.264, packetization-mode=1. The default aggregates
/// parameter sets into STAP-A packets.
#[derive(Debug, Clone)]
pub struct H264Payloader {
    inner: NalPayloader<H264>,
}

impl H264Payloader {
    /// A payloader that uses STAP-A for parameter sets and SEI when
    /// `aggregate` is true, and only single NAL unit and FU-A packets
    /// otherwise.
    pub fn new(aggregate: bool) -> Self {
        Self {
            inner: NalPayloader::new(aggregate),
        }
    }

    /// Whether STAP-A packets are produced.
    pub fn aggregates(&self) -> bool {
        self.inner.aggregates()
    }
}

impl Default for H264Payloader {
    fn default() -> Self {
        Self::new(true)
    }
}

impl Payloader for H264Payloader {
    fn begin(&mut self, _access_unit: &[u8]) {
        self.inner.begin();
    }

    fn next_payload(&mut self, access_unit: &[u8], out: &mut [u8]) -> Option<usize> {
        self.inner.next_payload(access_unit, out)
    }
}

/// RFC 6184 header layout.
#[derive(Debug, Clone, Copy)]
struct H264;

impl NalScheme for H264 {
    const NAL_HEADER_LEN: usize = 1;
    const FU_HEADER_LEN: usize = 2;
    const AP_HEADER_LEN: usize = 1;

    fn is_dropped(nal: &[u8]) -> bool {
        nal_type(nal[0]) == NalType::AUD
    }

    fn is_aggregated(nal: &[u8]) -> bool {
        matches!(nal_type(nal[0]), NalType::SPS | NalType::PPS | NalType::SEI)
    }

    /// FU indicator and FU header, RFC 6184 §5.8.
    fn fu_header(nal_header: &[u8], start: bool, end: bool) -> [u8; 3] {
        let h = nal_header[0];
        let indicator = (h & 0xe0) | FU_A;
        let fu = (u8::from(start) << 7) | (u8::from(end) << 6) | (h & 0x1f);
        [indicator, fu, 0]
    }

    /// STAP-A NAL header, RFC 6184 §5.7.1 and §5.3 (F: OR; NRI: maximum).
    fn ap_header(acc: Option<[u8; 2]>, nal: &[u8]) -> [u8; 2] {
        let h = nal[0];
        let (f, nri) = match acc {
            None => (h & 0x80, h & 0x60),
            Some([a, _]) => ((a | h) & 0x80, (a & 0x60).max(h & 0x60)),
        };
        [f | nri | STAP_A, 0]
    }
}
