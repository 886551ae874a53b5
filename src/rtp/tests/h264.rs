use super::depay::{self, parse};
use super::{annexb, nal, packetizer, packets};
use crate::rtp::H264Payloader;
use crate::rtp::h264::{FU_A, STAP_A};

const SPS: [u8; 26] = [
    0x67, 0x64, 0x00, 0x1e, 0xac, 0xd9, 0x40, 0xa0, 0x2f, 0xf9, 0x70, 0x11, 0x00, 0x00, 0x03, 0x00,
    0x01, 0x00, 0x00, 0x03, 0x00, 0x32, 0x0f, 0x16, 0x2d, 0x96,
];
const PPS: [u8; 6] = [0x68, 0xeb, 0xe3, 0xcb, 0x22, 0xc0];

fn payloads(mtu: usize, pay: &mut H264Payloader, nals: &[Vec<u8>]) -> Vec<depay::Packet> {
    let mut p = packetizer(mtu, 0);
    packets(&mut p, pay, &annexb(nals), 0)
        .iter()
        .map(|b| parse(b))
        .collect()
}

#[test]
fn small_nal_is_a_single_nal_unit_packet() {
    let idr = nal(0x65, 100);
    let pkts = payloads(
        1400,
        &mut H264Payloader::default(),
        std::slice::from_ref(&idr),
    );
    assert_eq!(pkts.len(), 1);
    assert!(pkts[0].marker);
    assert_eq!(pkts[0].payload, idr);
}

#[test]
fn nal_of_exactly_max_payload_is_not_fragmented() {
    let pkts = payloads(1400, &mut H264Payloader::default(), &[nal(0x41, 1388)]);
    assert_eq!(pkts.len(), 1);
    let pkts = payloads(1400, &mut H264Payloader::default(), &[nal(0x41, 1389)]);
    assert_eq!(pkts.len(), 2);
    assert_eq!(pkts[0].payload[0] & 0x1f, FU_A);
}

#[test]
fn large_nal_is_fragmented_into_fu_a() {
    let idr = nal(0x65, 5000);
    let mut p = packetizer(1400, 0);
    let raw = packets(
        &mut p,
        &mut H264Payloader::default(),
        &annexb(std::slice::from_ref(&idr)),
        0,
    );
    // 4999 bytes after the header, 1386 per FU-A.
    assert_eq!(raw.len(), 4);
    assert!(raw.iter().all(|b| b.len() <= 1400));
    assert!(raw[..3].iter().all(|b| b.len() == 1400));
    let pkts: Vec<_> = raw.iter().map(|b| parse(b)).collect();
    for (i, pkt) in pkts.iter().enumerate() {
        let last = i == pkts.len() - 1;
        assert_eq!(pkt.payload[0], 0x60 | FU_A, "FU indicator keeps F and NRI");
        let header = pkt.payload[1];
        assert_eq!(header & 0x80 != 0, i == 0, "S bit");
        assert_eq!(header & 0x40 != 0, last, "E bit");
        assert_eq!(header & 0x3f, 5, "R = 0, type = IDR");
        assert_eq!(pkt.marker, last);
    }
    assert_eq!(depay::h264(&pkts), [idr]);
}

#[test]
fn access_unit_delimiters_are_dropped() {
    let aud = vec![0x09, 0xf0];
    let slice = nal(0x41, 50);
    let pkts = payloads(
        1400,
        &mut H264Payloader::default(),
        &[aud.clone(), slice.clone()],
    );
    assert_eq!(depay::h264(&pkts), std::slice::from_ref(&slice));
    let pkts = payloads(1400, &mut H264Payloader::default(), &[slice.clone(), aud]);
    assert_eq!(pkts.len(), 1);
    assert!(pkts[0].marker);
}

#[test]
fn parameter_sets_and_sei_share_a_stap_a() {
    let sei = vec![0x06, 0x05, 0x01, 0xaa, 0x80];
    let idr = nal(0x65, 40);
    let nals = [
        vec![0x09, 0xf0],
        SPS.to_vec(),
        PPS.to_vec(),
        sei.clone(),
        idr.clone(),
    ];
    let pkts = payloads(1400, &mut H264Payloader::default(), &nals);
    assert_eq!(pkts.len(), 2);
    let mut expected = vec![0x60 | STAP_A, 0, 26];
    expected.extend_from_slice(&SPS);
    expected.extend_from_slice(&[0, 6]);
    expected.extend_from_slice(&PPS);
    expected.extend_from_slice(&[0, 5]);
    expected.extend_from_slice(&sei);
    assert_eq!(pkts[0].payload, expected);
    assert!(!pkts[0].marker);
    assert_eq!(pkts[1].payload, idr);
    assert!(pkts[1].marker);
}

#[test]
fn stap_a_header_takes_or_of_f_and_max_nri() {
    let sei = vec![0x86, 0x01, 0x80]; // F=1, NRI=0
    let pps = vec![0x48, 0xce]; // NRI=2
    let pkts = payloads(1400, &mut H264Payloader::default(), &[sei, pps]);
    assert_eq!(pkts.len(), 1);
    assert_eq!(pkts[0].payload[0], 0x80 | 0x40 | STAP_A);
}

#[test]
fn stap_a_takes_as_many_units_as_fit() {
    // 52 bytes of payload: STAP-A(SPS, PPS) is 37 bytes, a 40-byte SEI
    // would need 42 more.
    let sei = nal(0x06, 40);
    let pkts = payloads(
        64,
        &mut H264Payloader::default(),
        &[SPS.to_vec(), PPS.to_vec(), sei.clone()],
    );
    assert_eq!(pkts.len(), 2);
    assert_eq!(pkts[0].payload[0] & 0x1f, STAP_A);
    assert_eq!(pkts[0].payload.len(), 37);
    assert_eq!(pkts[1].payload, sei);
}

#[test]
fn lone_or_oversized_parameter_sets_go_alone() {
    let idr = nal(0x65, 20);
    let pkts = payloads(
        1400,
        &mut H264Payloader::default(),
        &[PPS.to_vec(), idr.clone()],
    );
    assert_eq!(
        pkts.iter().map(|p| p.payload.clone()).collect::<Vec<_>>(),
        [PPS.to_vec(), idr]
    );
    // A 50-byte SPS fits a 52-byte payload alone but not in a STAP-A.
    let sps = nal(0x67, 50);
    let pkts = payloads(
        64,
        &mut H264Payloader::default(),
        &[sps.clone(), PPS.to_vec()],
    );
    assert_eq!(
        pkts.iter().map(|p| p.payload.clone()).collect::<Vec<_>>(),
        [sps, PPS.to_vec()]
    );
}

#[test]
fn aggregation_can_be_disabled() {
    let mut pay = H264Payloader::new(false);
    assert!(!pay.aggregates() && H264Payloader::default().aggregates());
    let pkts = payloads(1400, &mut pay, &[SPS.to_vec(), PPS.to_vec()]);
    assert_eq!(
        pkts.iter().map(|p| p.payload.clone()).collect::<Vec<_>>(),
        [SPS.to_vec(), PPS.to_vec()]
    );
}
