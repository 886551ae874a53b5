//! Tests of the RTP packetizer, payloaders and SDP. [`depay`] is a
//! deliberately separate, test-only depacketizer used to check round trips.

mod depay;
mod h264;
mod h265;
mod packetizer;
mod props;
mod sdp;

use super::{PacketizerConfig, Payloader, RtpPacketizer};

/// An Annex-B access unit made of `nals`, with 4-byte start codes.
pub(crate) fn annexb(nals: &[Vec<u8>]) -> Vec<u8> {
    let mut au = Vec::new();
    for nal in nals {
        au.extend_from_slice(&[0, 0, 0, 1]);
        au.extend_from_slice(nal);
    }
    au
}

pub(crate) fn packetizer(mtu: usize, initial_seq: u16) -> RtpPacketizer {
    RtpPacketizer::new(PacketizerConfig {
        payload_type: 96,
        ssrc: 0xdead_beef,
        initial_seq,
        mtu,
    })
    .expect("valid config")
}

/// Packetizes `au` and collects copies of the packets.
pub(crate) fn packets(
    packetizer: &mut RtpPacketizer,
    payloader: &mut impl Payloader,
    au: &[u8],
    ts: u32,
) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let n = packetizer
        .packetize(payloader, au, ts, |p| {
            out.push(p.to_vec());
            Ok::<_, std::convert::Infallible>(())
        })
        .unwrap();
    assert_eq!(n, out.len());
    out
}

/// A NAL unit of `len` bytes (header included) with H.264 header `header`
/// and a body free of start code emulation.
pub(crate) fn nal(header: u8, len: usize) -> Vec<u8> {
    let mut v = vec![header];
    v.extend((1..len).map(|i| (i % 251) as u8 | 1));
    v
}
