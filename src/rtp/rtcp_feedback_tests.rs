use proptest::prelude::*;

use super::*;

const OURS: u32 = 0x1122_3344;
const RX: u32 = 0xAABB_CCDD;

fn header(out: &mut Vec<u8>, count: u8, pt: u8, words_minus_one: u16) {
    out.push(0x80 | count);
    out.push(pt);
    out.extend_from_slice(&words_minus_one.to_be_bytes());
}

fn block(out: &mut Vec<u8>, ssrc: u32, lost: i32, jitter: u32, lsr: u32, dlsr: u32) {
    out.extend_from_slice(&ssrc.to_be_bytes());
    out.push(64); // fraction lost 64/256
    out.extend_from_slice(&lost.to_be_bytes()[1..]);
    out.extend_from_slice(&0x0001_0203u32.to_be_bytes());
    out.extend_from_slice(&jitter.to_be_bytes());
    out.extend_from_slice(&lsr.to_be_bytes());
    out.extend_from_slice(&dlsr.to_be_bytes());
}

fn rr(blocks: &[(u32, i32)]) -> Vec<u8> {
    let mut p = Vec::new();
    header(&mut p, blocks.len() as u8, 201, 1 + 6 * blocks.len() as u16);
    p.extend_from_slice(&RX.to_be_bytes());
    for &(ssrc, lost) in blocks {
        block(&mut p, ssrc, lost, 900, 0x1234_5678, 0x0001_0000);
    }
    p
}

fn pli(media: u32) -> Vec<u8> {
    let mut p = Vec::new();
    header(&mut p, 1, 206, 2);
    p.extend_from_slice(&RX.to_be_bytes());
    p.extend_from_slice(&media.to_be_bytes());
    p
}

fn fir(entries: &[(u32, u8)]) -> Vec<u8> {
    let mut p = Vec::new();
    header(&mut p, 4, 206, 2 + 2 * entries.len() as u16);
    p.extend_from_slice(&RX.to_be_bytes());
    p.extend_from_slice(&0u32.to_be_bytes());
    for &(ssrc, seq) in entries {
        p.extend_from_slice(&ssrc.to_be_bytes());
        p.extend_from_slice(&[seq, 0, 0, 0]);
    }
    p
}

fn sdes() -> Vec<u8> {
    let mut p = Vec::new();
    header(&mut p, 1, 202, 2);
    p.extend_from_slice(&RX.to_be_bytes());
    p.extend_from_slice(&[1, 1, b'r', 0]);
    p
}

fn parse(d: &[u8]) -> Result<Vec<Feedback>, FeedbackError> {
    let mut out = Vec::new();
    parse_feedback(d, OURS, |f| out.push(f)).map(|()| out)
}

#[test]
fn receiver_report_blocks_about_our_stream_only() {
    let mut d = rr(&[(0x999, 5), (OURS, -3)]);
    d.extend(sdes());
    let got = parse(&d).unwrap();
    assert_eq!(
        got,
        [Feedback::Report(ReportBlock {
            reporter_ssrc: RX,
            fraction_lost: 64,
            cumulative_lost: -3,
            highest_seq: 0x0001_0203,
            jitter: 900,
            lsr: 0x1234_5678,
            dlsr: 0x0001_0000,
        })]
    );
    let Feedback::Report(b) = got[0] else {
        unreachable!()
    };
    assert_eq!(b.fraction_lost_ratio(), 0.25);
}

#[test]
fn cumulative_lost_is_24_bit_signed() {
    for lost in [0, 1, 0x7F_FFFF, -1, -0x80_0000] {
        let got = parse(&rr(&[(OURS, lost)])).unwrap();
        let [Feedback::Report(b)] = got[..] else {
            panic!("{got:?}")
        };
        assert_eq!(b.cumulative_lost, lost);
    }
}

/// RFC 3550 §6.4.1: a receiver that also sends puts its blocks in its SR.
#[test]
fn report_blocks_inside_a_sender_report() {
    let mut d = Vec::new();
    header(&mut d, 1, 200, 12);
    d.extend_from_slice(&RX.to_be_bytes());
    d.extend_from_slice(&[0; 20]); // sender info
    block(&mut d, OURS, 7, 90, 0, 0);
    let got = parse(&d).unwrap();
    assert!(
        matches!(
            got[..],
            [Feedback::Report(ReportBlock {
                cumulative_lost: 7,
                jitter: 90,
                lsr: 0,
                ..
            })]
        ),
        "{got:?}"
    );
}

#[test]
fn pli_counts_only_for_our_media_ssrc() {
    let mut d = rr(&[]);
    d.extend(pli(OURS));
    d.extend(pli(0x5555));
    assert_eq!(parse(&d).unwrap(), [Feedback::Pli { sender_ssrc: RX }]);
    // Reduced-size RTCP (RFC 5506): a PLI on its own.
    assert_eq!(
        parse(&pli(OURS)).unwrap(),
        [Feedback::Pli { sender_ssrc: RX }]
    );
}

#[test]
fn fir_entries_for_our_ssrc() {
    let got = parse(&fir(&[(0x42, 1), (OURS, 9)])).unwrap();
    assert_eq!(
        got,
        [Feedback::Fir {
            sender_ssrc: RX,
            seq: 9
        }]
    );
    // An FCI that is not whole entries.
    let mut bad = fir(&[(OURS, 1)]);
    bad[3] += 1;
    bad.extend([0; 4]);
    assert!(matches!(
        parse(&bad),
        Err(FeedbackError::Truncated {
            packet_type: 206,
            ..
        })
    ));
}

#[test]
fn a_repeated_fir_sequence_number_is_one_request() {
    let mut d = FirDedup::default();
    assert!(d.is_new(RX, 3));
    assert!(!d.is_new(RX, 3), "retransmission");
    assert!(d.is_new(RX, 4));
    assert!(d.is_new(7, 4), "another sender");
    assert!(!d.is_new(RX, 4));
    // More senders than slots: the oldest is forgotten, nothing panics.
    for s in 100..120 {
        assert!(d.is_new(s, 0));
    }
}

#[test]
fn other_packet_types_are_skipped() {
    let mut d = rr(&[]);
    d.extend(sdes());
    header(&mut d, 1, 203, 1); // BYE
    d.extend_from_slice(&RX.to_be_bytes());
    header(&mut d, 0, 204, 2); // APP
    d.extend_from_slice(&RX.to_be_bytes());
    d.extend_from_slice(b"name");
    header(&mut d, 1, 205, 2); // RTPFB NACK without FCI
    d.extend_from_slice(&[0; 8]);
    header(&mut d, 15, 206, 2); // PSFB AFB
    d.extend_from_slice(&[0; 8]);
    header(&mut d, 0, 250, 0); // unknown
    assert_eq!(parse(&d).unwrap(), []);
}

#[test]
fn a_bad_datagram_delivers_nothing() {
    // A good PLI followed by a cut packet: the PLI is not believed.
    let mut d = pli(OURS);
    d.extend([0x80, 201, 0, 5, 0, 0]);
    assert!(matches!(
        parse(&d),
        Err(FeedbackError::LengthOverrun { .. })
    ));
    assert_eq!(parse(&[]), Err(FeedbackError::TooShort(0)));
    assert_eq!(parse(&[0x80, 201]), Err(FeedbackError::TooShort(2)));
    let mut v1 = pli(OURS);
    v1[0] = 0x41;
    assert_eq!(parse(&v1), Err(FeedbackError::BadVersion(1)));
    // RC 2 with one block.
    let mut short = rr(&[(OURS, 0)]);
    short[0] = 0x82;
    assert!(matches!(
        parse(&short),
        Err(FeedbackError::Truncated { .. })
    ));
    // PSFB too short for its SSRCs.
    assert!(matches!(
        parse(&[0x81, 206, 0, 1, 0, 0, 0, 1]),
        Err(FeedbackError::Truncated { .. })
    ));
    // Padding on a packet that is not the last.
    let mut pad = pli(OURS);
    pad[0] |= 0x20;
    pad.extend(pli(OURS));
    assert_eq!(parse(&pad), Err(FeedbackError::PaddingNotLast));
    let mut pad = pli(OURS);
    pad[0] |= 0x20;
    pad[11] = 0;
    assert_eq!(parse(&pad), Err(FeedbackError::BadPadding(0)));
}

#[test]
fn padded_last_packet_is_read_without_its_padding() {
    let mut d = rr(&[(OURS, 1)]);
    d[0] |= 0x20;
    d[3] += 1;
    d.extend([0, 0, 0, 4]);
    assert_eq!(parse(&d).unwrap().len(), 1);
}

#[test]
fn rtt_is_arrival_minus_send_minus_dlsr() {
    let mut s = SentReports::default();
    assert_eq!(s.rtt(0x100, 0, 5), None, "nothing sent");
    s.record(0x100, 1_000_000_000);
    assert_eq!(
        s.rtt(0, 0, 2_000_000_000),
        None,
        "LSR 0: no SR received yet"
    );
    assert_eq!(s.rtt(0x999, 0, 2_000_000_000), None, "not one of ours");
    // Sent at 1 s, back at 1.5 s after a 0.25 s delay: 0.25 s.
    assert_eq!(s.rtt(0x100, 0x4000, 1_500_000_000), Some(0x4000));
    assert_eq!(ntp_short_to_ms(0x4000), 250.0);
    // DLSR rounding a little past the elapsed time: 0.
    assert_eq!(s.rtt(0x100, 0x8000 + 10, 1_500_000_000), Some(0));
    // A DLSR far beyond it: a bogus report.
    assert_eq!(s.rtt(0x100, 0x1_0000, 1_500_000_000), None);
    assert_eq!(s.rtt(0x100, 0, 500), None, "before it was sent");
    // The ring forgets the oldest.
    for k in 0..16 {
        s.record(0x200 + k, 2_000_000_000);
    }
    assert_eq!(s.rtt(0x100, 0, 3_000_000_000), None);
    assert_eq!(s.rtt(0x20F, 0, 3_000_000_000), Some(0x1_0000));
    // The same LSR sent again: the newer send time counts.
    s.record(0x20F, 2_500_000_000);
    assert_eq!(s.rtt(0x20F, 0, 3_000_000_000), Some(0x8000));
}

#[test]
fn ntp_helpers() {
    assert_eq!(ntp_middle32(0x0011_2233_4455_6677), 0x2233_4455);
    assert_eq!(jitter_ms(90, 90_000), 1.0);
    assert_eq!(jitter_ms(0, 0), 0.0);
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = parse_feedback(&bytes, OURS, |_| {});
    }

    #[test]
    fn arbitrary_v2_packets_never_panic(
        headers in proptest::collection::vec((0u8..64, 199u8..=207, 0u16..16), 1..6),
        fill in any::<u8>(),
        ours in any::<bool>(),
    ) {
        let mut p = Vec::new();
        for (b0, pt, words) in headers {
            p.extend_from_slice(&[0x80 | (b0 & 0x3F), pt]);
            p.extend_from_slice(&words.to_be_bytes());
            p.extend(std::iter::repeat_n(fill, 4 * usize::from(words)));
        }
        let ssrc = if ours { u32::from_be_bytes([fill; 4]) } else { OURS };
        let _ = parse_feedback(&p, ssrc, |_| {});
    }

    #[test]
    fn rtt_never_panics(lsr in any::<u32>(), dlsr in any::<u32>(), sent in any::<u64>(), at in any::<u64>()) {
        let mut s = SentReports::default();
        s.record(lsr, sent);
        let _ = s.rtt(lsr, dlsr, at);
    }
}
