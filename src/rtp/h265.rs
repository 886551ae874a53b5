//! H.265 payloader, RFC 7798 without DONL (`sprop-max-don-diff` = 0).
//!
//! The payload header has the layout of the 2-byte H.265 NAL unit header
//! (§4.2): `F | Type(6) | LayerId(6) | TID(3)`.
//!
//! - A NAL unit that fits is sent as a single NAL unit packet (§4.4.1).
//! - A larger one is cut into FUs (§4.4.3): PayloadHdr with Type 49 and the
//!   NAL unit's F, LayerId and TID; FU header `S | E | FuType(6)`; then a
//!   piece of the NAL unit without its 2-byte header.
//! - Runs of VPS, SPS, PPS and prefix SEI are gathered into one aggregation
//!   packet (§4.4.2) when at least two fit: PayloadHdr with Type 48, F = OR of
//!   the F bits, LayerId and TID the lowest of the aggregated units; then for
//!   each unit a 16-bit size and the NAL unit.
//! - Access unit delimiters (type 35) and NAL units shorter than their header
//!   are dropped.

use super::nal::{NalPayloader, NalScheme};
use super::packetizer::Payloader;
use crate::codec::h265::{NalType, nal_type};

/// Type of an aggregation packet (RFC 7798 §4.4.2).
pub const AP: u8 = 48;
/// Type of a fragmentation unit (RFC 7798 §4.4.3).
pub const FU: u8 = 49;

/// [`Payloader`] for H.265. The default aggregates parameter sets into APs.
#[derive(Debug, Clone)]
pub struct H265Payloader {
    inner: NalPayloader<H265>,
}

impl H265Payloader {
    /// A payloader that uses aggregation packets for parameter sets and
    /// prefix SEI when `aggregate` is true.
    pub fn new(aggregate: bool) -> Self {
        Self {
            inner: NalPayloader::new(aggregate),
        }
    }

    /// Whether aggregation packets are produced.
    pub fn aggregates(&self) -> bool {
        self.inner.aggregates()
    }
}

impl Default for H265Payloader {
    fn default() -> Self {
        Self::new(true)
    }
}

impl Payloader for H265Payloader {
    fn begin(&mut self, _access_unit: &[u8]) {
        self.inner.begin();
    }

    fn next_payload(&mut self, access_unit: &[u8], out: &mut [u8]) -> Option<usize> {
        self.inner.next_payload(access_unit, out)
    }
}

/// RFC 7798 header layout.
#[derive(Debug, Clone, Copy)]
struct H265;

impl NalScheme for H265 {
    const NAL_HEADER_LEN: usize = 2;
    const FU_HEADER_LEN: usize = 3;
    const AP_HEADER_LEN: usize = 2;

    fn is_dropped(nal: &[u8]) -> bool {
        nal.len() < 2 || nal_type(nal[0]) == NalType::AUD
    }

    fn is_aggregated(nal: &[u8]) -> bool {
        matches!(
            nal_type(nal[0]),
            NalType::VPS | NalType::SPS | NalType::PPS | NalType::PREFIX_SEI
        )
    }

    /// PayloadHdr and FU header, RFC 7798 §4.4.3.
    fn fu_header(nal_header: &[u8], start: bool, end: bool) -> [u8; 3] {
        let (h0, h1) = (nal_header[0], nal_header[1]);
        let fu = (u8::from(start) << 7) | (u8::from(end) << 6) | nal_type(h0).0;
        [(h0 & 0x81) | (FU << 1), h1, fu]
    }

    /// PayloadHdr of an aggregation packet, RFC 7798 §4.4.2.
    fn ap_header(acc: Option<[u8; 2]>, nal: &[u8]) -> [u8; 2] {
        let fields = |h0: u8, h1: u8| (h0 & 0x80, ((h0 & 1) << 5) | (h1 >> 3), h1 & 0x07);
        let (mut f, mut layer, mut tid) = fields(nal[0], nal[1]);
        if let Some([a0, a1]) = acc {
            let (af, alayer, atid) = fields(a0, a1);
            f |= af;
            layer = layer.min(alayer);
            tid = tid.min(atid);
        }
        [f | (AP << 1) | (layer >> 5), ((layer & 0x1f) << 3) | tid]
    }
}
