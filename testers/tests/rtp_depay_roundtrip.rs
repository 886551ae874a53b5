//! Round trip: random NAL units -> the test's own packetizer (`common::rtp`,
//! random MTU, single NAL unit / aggregation / fragmentation packets) -> the
//! receiver's depacketizer must give back exactly the same NAL units, grouped
//! in the same access units, all complete, with no error counted. With one
//! packet dropped, only the units around the loss may be incomplete, and loss
//! is never reported as a sender error.

mod common;

use std::time::SystemTime;

use common::rtp::{Kind, Packetizer};
use cvmmap_testers::rtp_rx::depay::{AccessUnit, Assembler, Codec, Packet};
use cvmmap_testers::rtp_rx::header;
use proptest::prelude::*;

/// A NAL unit with a valid header of `kind` and `body_len` random-ish bytes.
fn arb_nal(kind: Kind) -> impl Strategy<Value = Vec<u8>> {
    let header = match kind {
        Kind::H264 => (0u8..4, 1u8..=23)
            .prop_map(|(nri, t)| vec![(nri << 5) | t])
            .boxed(),
        Kind::H265 => (0u8..=47, 0u8..64, 1u8..8)
            .prop_map(|(t, layer, tid)| vec![(t << 1) | (layer >> 5), ((layer & 0x1F) << 3) | tid])
            .boxed(),
    };
    (
        header,
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..40),
            proptest::collection::vec(any::<u8>(), 0..3000),
        ],
    )
        .prop_map(|(mut h, body)| {
            h.extend(body);
            h
        })
}

fn arb_case() -> impl Strategy<Value = (Kind, Vec<Vec<Vec<u8>>>, usize, u16, bool)> {
    prop_oneof![Just(Kind::H264), Just(Kind::H265)].prop_flat_map(|kind| {
        (
            Just(kind),
            proptest::collection::vec(proptest::collection::vec(arb_nal(kind), 1..6), 1..6),
            20usize..1500,
            any::<u16>(),
            any::<bool>(),
        )
    })
}

fn codec(kind: Kind) -> Codec {
    match kind {
        Kind::H264 => Codec::H264,
        Kind::H265 => Codec::H265,
    }
}

/// Packets of all units, 3000 ticks apart starting near the timestamp wrap.
fn packetize(
    kind: Kind,
    units: &[Vec<Vec<u8>>],
    mtu: usize,
    seq: u16,
    aggregate: bool,
) -> Vec<Vec<u8>> {
    let mut p = Packetizer::new(kind, 96, 0x5EED, seq, mtu);
    p.aggregate = aggregate;
    units
        .iter()
        .enumerate()
        .flat_map(|(k, nals)| p.packetize((u32::MAX - 6000).wrapping_add(3000 * k as u32), nals))
        .collect()
}

fn depacketize(c: Codec, packets: &[Vec<u8>]) -> (Vec<AccessUnit>, Assembler) {
    let mut a = Assembler::new(c);
    let mut out = Vec::new();
    for raw in packets {
        let h = header::parse(raw).expect("the test's packets are valid RTP");
        a.push(
            &Packet {
                ssrc: h.ssrc,
                sequence: h.sequence,
                timestamp: h.timestamp,
                marker: h.marker,
                payload: &raw[h.payload_offset..h.payload_offset + h.payload_len],
                arrival: SystemTime::now(),
            },
            &mut out,
        );
    }
    (out, a)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn depacketizer_returns_the_packetized_nal_units(
        (kind, units, mtu, seq, aggregate) in arb_case(),
    ) {
        let packets = packetize(kind, &units, mtu, seq, aggregate);
        prop_assert!(packets.iter().all(|p| p.len() <= mtu));
        let (aus, a) = depacketize(codec(kind), &packets);
        prop_assert_eq!(aus.len(), units.len());
        for (au, nals) in aus.iter().zip(&units) {
            prop_assert!(au.is_complete(), "{:?}", au);
            prop_assert_eq!(&au.nals, nals);
        }
        let c = &a.counters;
        prop_assert_eq!(c.access_units_complete, units.len() as u64);
        prop_assert_eq!(
            (c.access_units_incomplete, c.missing_marker, c.fu_errors, c.malformed_packets),
            (0, 0, 0, 0)
        );
    }

    #[test]
    fn one_lost_packet_is_loss_not_a_sender_error(
        (kind, units, mtu, seq, aggregate) in arb_case(),
        pick in any::<prop::sample::Index>(),
    ) {
        let mut packets = packetize(kind, &units, mtu, seq, aggregate);
        prop_assume!(packets.len() >= 3);
        // Neither the first nor the last packet: no later or earlier packet
        // could tell a receiver that it missed those.
        let drop = 1 + pick.index(packets.len() - 2);
        packets.remove(drop);
        let (aus, a) = depacketize(codec(kind), &packets);
        let c = &a.counters;
        prop_assert_eq!((c.missing_marker, c.fu_errors, c.malformed_packets), (0, 0, 0));
        prop_assert!(c.access_units_complete + 2 >= units.len() as u64);
        prop_assert!(c.access_units_incomplete >= 1);
        // Whatever is reported complete is exactly what was sent.
        let first_ts = u32::MAX - 6000;
        for au in aus.iter().filter(|a| a.is_complete()) {
            let k = (au.timestamp.wrapping_sub(first_ts) / 3000) as usize;
            prop_assert_eq!(&au.nals, &units[k]);
        }
    }
}
