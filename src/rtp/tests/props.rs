//! Round trips through the packetizer and the test depacketizer.

use proptest::prelude::*;

use super::depay::{self, parse};
use super::{annexb, packetizer};
use crate::rtp::{H264Payloader, H265Payloader, Payloader};

/// Inserts emulation prevention bytes (H.264 §7.4.1.1) and makes the NAL
/// unit end in a non-zero byte, so Annex-B framing gives it back unchanged.
fn escape(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 64 + 1);
    let mut zeros = 0;
    for &b in raw {
        if zeros >= 2 && b <= 3 {
            out.push(3);
            zeros = 0;
        }
        out.push(b);
        zeros = if b == 0 { zeros + 1 } else { 0 };
    }
    if out.last() == Some(&0) {
        out.push(0x80);
    }
    out
}

/// NAL unit bodies of up to 20000 bytes, often short enough to aggregate.
fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..64),
        proptest::collection::vec(any::<u8>(), 0..20_000),
    ]
}

/// H.264 NAL units of 1..20000 bytes, types 1..=23 except AUD (9), with
/// extra SEI/SPS/PPS to exercise STAP-A.
fn h264_nal() -> impl Strategy<Value = Vec<u8>> {
    let nal_type = prop_oneof![
        (1u8..=23).prop_filter("AUD is dropped", |t| *t != 9),
        proptest::sample::select(vec![6u8, 7, 8]),
    ];
    (any::<u8>(), nal_type, body()).prop_map(|(bits, t, body)| {
        let mut raw = vec![(bits & 0xe0) | t];
        raw.extend(body);
        escape(&raw)
    })
}

/// H.265 NAL units of 2..20000 bytes, types 0..=47 except AUD (35), with
/// extra VPS/SPS/PPS/prefix SEI to exercise aggregation packets.
fn h265_nal() -> impl Strategy<Value = Vec<u8>> {
    let nal_type = prop_oneof![
        (0u8..=47).prop_filter("AUD is dropped", |t| *t != 35),
        proptest::sample::select(vec![32u8, 33, 34, 39]),
    ];
    let header = (any::<bool>(), nal_type, 0u8..64, 1u8..=7);
    (header, body()).prop_map(|((f, t, layer, tid), body)| {
        let mut raw = vec![
            (u8::from(f) << 7) | (t << 1) | (layer >> 5),
            ((layer & 0x1f) << 3) | tid,
        ];
        raw.extend(body);
        escape(&raw)
    })
}

/// Packetizes `au`, checks the per-packet invariants, returns the parsed packets.
fn packetize(
    pay: &mut impl Payloader,
    au: &[u8],
    mtu: usize,
    seq: u16,
    ts: u32,
) -> Vec<depay::Packet> {
    let mut p = packetizer(mtu, seq);
    let mut raw = Vec::new();
    let n = p
        .packetize(pay, au, ts, |pkt| {
            raw.push(pkt.to_vec());
            Ok::<_, ()>(())
        })
        .unwrap();
    assert_eq!(n, raw.len());
    assert!(
        raw.iter().all(|pkt| pkt.len() <= mtu),
        "packet over MTU {mtu}"
    );
    let pkts: Vec<_> = raw.iter().map(|b| parse(b)).collect();
    for (i, pkt) in pkts.iter().enumerate() {
        assert_eq!(
            pkt.marker,
            i == pkts.len() - 1,
            "marker on packet {i} of {}",
            pkts.len()
        );
        assert_eq!(pkt.seq, seq.wrapping_add(i as u16));
        assert_eq!(
            (pkt.timestamp, pkt.ssrc, pkt.payload_type),
            (ts, 0xdead_beef, 96)
        );
    }
    assert_eq!(p.next_sequence(), seq.wrapping_add(n as u16));
    pkts
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn h264_round_trip(
        nals in proptest::collection::vec(h264_nal(), 1..8),
        mtu in 64usize..2000,
        aggregate in any::<bool>(),
        seq in any::<u16>(),
        ts in any::<u32>(),
    ) {
        let au = annexb(&nals);
        let pkts = packetize(&mut H264Payloader::new(aggregate), &au, mtu, seq, ts);
        prop_assert_eq!(depay::h264(&pkts), nals);
    }

    #[test]
    fn h265_round_trip(
        nals in proptest::collection::vec(h265_nal(), 1..8),
        mtu in 64usize..2000,
        aggregate in any::<bool>(),
        seq in any::<u16>(),
        ts in any::<u32>(),
    ) {
        let au = annexb(&nals);
        let pkts = packetize(&mut H265Payloader::new(aggregate), &au, mtu, seq, ts);
        prop_assert_eq!(depay::h265(&pkts), nals);
    }
}
