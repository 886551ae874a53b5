use super::depay::parse;
use super::{annexb, nal, packetizer, packets};
use crate::rtp::{
    DEFAULT_MTU, H264Payloader, MAX_MTU, MIN_MTU, PacketizerConfig, RtpError, RtpHeader,
    RtpPacketizer,
};

fn config(mtu: usize, payload_type: u8) -> PacketizerConfig {
    PacketizerConfig {
        payload_type,
        ssrc: 1,
        initial_seq: 0,
        mtu,
    }
}

#[test]
fn rejects_out_of_range_config() {
    assert_eq!(
        RtpPacketizer::new(config(63, 96)).unwrap_err(),
        RtpError::MtuOutOfRange {
            mtu: 63,
            min: MIN_MTU,
            max: MAX_MTU
        }
    );
    assert!(matches!(
        RtpPacketizer::new(config(65_508, 96)),
        Err(RtpError::MtuOutOfRange { mtu: 65_508, .. })
    ));
    assert_eq!(
        RtpPacketizer::new(config(1400, 128)).unwrap_err(),
        RtpError::PayloadTypeOutOfRange { payload_type: 128 }
    );
    assert!(RtpPacketizer::new(config(MIN_MTU, 127)).is_ok());
    assert!(RtpPacketizer::new(config(MAX_MTU, 0)).is_ok());
    let err = RtpPacketizer::new(config(10, 96)).unwrap_err().to_string();
    assert_eq!(err, "RTP MTU 10 is out of range 64..=65507");
}

#[test]
fn random_config_defaults() {
    let cfg = PacketizerConfig::random(97);
    assert_eq!((cfg.payload_type, cfg.mtu), (97, DEFAULT_MTU));
    let p = RtpPacketizer::new(cfg).unwrap();
    assert_eq!(p.ssrc(), cfg.ssrc);
    assert_eq!(p.next_sequence(), cfg.initial_seq);
    assert_eq!(p.payload_type(), 97);
    assert_eq!((p.mtu(), p.max_payload()), (1400, 1388));
}

#[test]
fn first_packet_header_bytes() {
    let mut p = packetizer(1400, 0x1234);
    let au = annexb(&[vec![0x65, 0x88, 0x84]]);
    let pkts = packets(&mut p, &mut H264Payloader::default(), &au, 0x0102_0304);
    assert_eq!(
        pkts,
        [vec![
            0x80,
            0x80 | 96,
            0x12,
            0x34,
            0x01,
            0x02,
            0x03,
            0x04,
            0xde,
            0xad,
            0xbe,
            0xef,
            0x65,
            0x88,
            0x84
        ]]
    );
    assert_eq!(p.next_sequence(), 0x1235);
}

#[test]
fn header_write_masks_payload_type() {
    let mut out = [0u8; 12];
    let header = RtpHeader {
        marker: false,
        payload_type: 0xff,
        sequence: 1,
        timestamp: 2,
        ssrc: 3,
    };
    header.write(&mut out);
    assert_eq!(out, [0x80, 0x7f, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3]);
}

#[test]
fn sequence_wraps_around() {
    let mut p = packetizer(64, 65_534);
    // 3 FU-A packets at 52 bytes of payload.
    let au = annexb(&[nal(0x65, 130)]);
    let pkts: Vec<_> = packets(&mut p, &mut H264Payloader::default(), &au, 9)
        .iter()
        .map(|b| parse(b))
        .collect();
    let seqs: Vec<u16> = pkts.iter().map(|p| p.seq).collect();
    assert_eq!(seqs, [65_534, 65_535, 0]);
    assert_eq!(p.next_sequence(), 1);
}

#[test]
fn marker_on_last_packet_of_each_access_unit() {
    let mut p = packetizer(1400, 7);
    let mut pay = H264Payloader::default();
    for ts in [0u32, 3000, 6000] {
        let au = annexb(&[nal(0x41, 3000), nal(0x41, 100), nal(0x41, 10)]);
        let pkts: Vec<_> = packets(&mut p, &mut pay, &au, ts)
            .iter()
            .map(|b| parse(b))
            .collect();
        assert_eq!(pkts.len(), 5);
        let markers: Vec<bool> = pkts.iter().map(|p| p.marker).collect();
        assert_eq!(markers, [false, false, false, false, true]);
        assert!(
            pkts.iter()
                .all(|p| p.timestamp == ts && p.ssrc == 0xdead_beef)
        );
        assert!(pkts.iter().all(|p| p.payload_type == 96));
    }
    assert_eq!(p.next_sequence(), 7 + 15);
}

#[test]
fn empty_access_unit_emits_nothing() {
    let mut p = packetizer(1400, 42);
    let mut pay = H264Payloader::default();
    assert!(packets(&mut p, &mut pay, &[], 0).is_empty());
    assert!(packets(&mut p, &mut pay, &annexb(&[vec![0x09, 0xf0]]), 0).is_empty());
    assert_eq!(p.next_sequence(), 42);
}

#[test]
fn emit_error_stops_and_propagates() {
    let mut p = packetizer(1400, 100);
    let au = annexb(&[nal(0x41, 10), nal(0x41, 10), nal(0x41, 10)]);
    let mut calls = 0;
    let result = p.packetize(&mut H264Payloader::default(), &au, 0, |_| {
        calls += 1;
        if calls == 2 { Err("full") } else { Ok(()) }
    });
    assert_eq!(result, Err("full"));
    assert_eq!(calls, 2);
    assert_eq!(p.next_sequence(), 102);
    // The next access unit starts cleanly.
    let pkts = packets(&mut p, &mut H264Payloader::default(), &au, 1);
    assert_eq!(pkts.len(), 3);
    assert_eq!(parse(&pkts[0]).seq, 102);
}

#[test]
fn packet_buffers_are_reused() {
    let mut p = packetizer(1400, 0);
    let mut pay = H264Payloader::default();
    let before = p.scratch_identity();
    assert_eq!(before.1, 2 * 1400);
    for len in [1, 500, 1388, 1389, 5000, 60_000] {
        let au = annexb(&[nal(0x67, 20), nal(0x68, 5), nal(0x65, len)]);
        let mut sizes = Vec::new();
        p.packetize(&mut pay, &au, 0, |pkt| {
            sizes.push(pkt.len());
            Ok::<_, ()>(())
        })
        .unwrap();
        assert!(sizes.iter().all(|&s| s <= 1400));
        assert_eq!(p.scratch_identity(), before);
    }
}
