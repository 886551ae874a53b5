use super::depay::{self, parse};
use super::{annexb, packetizer, packets};
use crate::rtp::H265Payloader;
use crate::rtp::h265::{AP, FU};

/// An H.265 NAL unit of `len` bytes with header `[h0, h1]`.
fn nal(h0: u8, h1: u8, len: usize) -> Vec<u8> {
    let mut v = vec![h0, h1];
    v.extend((2..len).map(|i| (i % 251) as u8 | 1));
    v
}

fn payloads(mtu: usize, nals: &[Vec<u8>]) -> Vec<depay::Packet> {
    let mut p = packetizer(mtu, 0);
    packets(&mut p, &mut H265Payloader::default(), &annexb(nals), 0)
        .iter()
        .map(|b| parse(b))
        .collect()
}

#[test]
fn small_nal_is_a_single_nal_unit_packet() {
    let idr = nal(0x26, 0x01, 300);
    let pkts = payloads(1400, std::slice::from_ref(&idr));
    assert_eq!(pkts.len(), 1);
    assert_eq!(pkts[0].payload, idr);
    assert!(pkts[0].marker);
}

#[test]
fn large_nal_is_fragmented_into_fus() {
    let idr = nal(0x26, 0x01, 3000);
    let pkts = payloads(1400, std::slice::from_ref(&idr));
    // 2998 bytes after the header, 1385 per FU.
    assert_eq!(pkts.len(), 3);
    for (i, pkt) in pkts.iter().enumerate() {
        let last = i == 2;
        assert_eq!(pkt.payload[..2], [FU << 1, 0x01], "PayloadHdr");
        let header = pkt.payload[2];
        assert_eq!((header & 0x80 != 0, header & 0x40 != 0), (i == 0, last));
        assert_eq!(header & 0x3f, 19, "FuType = IDR_W_RADL");
        assert_eq!(pkt.marker, last);
    }
    assert_eq!(depay::h265(&pkts), [idr]);
}

#[test]
fn parameter_sets_share_an_aggregation_packet() {
    let aud = vec![0x46, 0x01, 0x50];
    let vps = nal(0x40, 0x01, 24);
    let sps = nal(0x42, 0x01, 40);
    let pps = nal(0x44, 0x01, 8);
    let idr = nal(0x26, 0x01, 100);
    let pkts = payloads(
        1400,
        &[aud, vps.clone(), sps.clone(), pps.clone(), idr.clone()],
    );
    assert_eq!(pkts.len(), 2);
    let mut expected = vec![AP << 1, 0x01, 0, 24];
    expected.extend_from_slice(&vps);
    expected.extend_from_slice(&[0, 40]);
    expected.extend_from_slice(&sps);
    expected.extend_from_slice(&[0, 8]);
    expected.extend_from_slice(&pps);
    assert_eq!(pkts[0].payload, expected);
    assert_eq!(pkts[1].payload, idr);
    assert_eq!(depay::h265(&pkts), [vps, sps, pps, idr]);
}

#[test]
fn aggregation_header_takes_lowest_layer_and_tid() {
    // VPS: LayerId 33, TID 3; SEI: F=1, LayerId 2, TID 5.
    let vps = nal(0x41, (1 << 3) | 3, 4);
    let sei = nal(0x80 | (39 << 1), (2 << 3) | 5, 4);
    let pkts = payloads(1400, &[vps, sei]);
    assert_eq!(pkts.len(), 1);
    assert_eq!(pkts[0].payload[..2], [0x80 | (AP << 1), (2 << 3) | 3]);
}

#[test]
fn truncated_nal_units_are_dropped() {
    let pkts = payloads(1400, &[vec![0x02], nal(0x02, 0x01, 10)]);
    assert_eq!(pkts.len(), 1);
    assert_eq!(pkts[0].payload.len(), 10);
}
