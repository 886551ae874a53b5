//! The whole RTP receiver tester on a datagram sequence, without sockets:
//! `rtp_rx::session::Session::on_rtp` / `on_rtcp` (header checks, RTP
//! statistics, depacketizer, keyframe / parameter-set checks, body SEI,
//! RTCP sender reports, latency and timing) and the final
//! `rtp_rx::report::Report` with its JSON line.
//!
//! Input: `u8` flags (bit 0: H.265, bit 1: --strict, bit 2: --expect-body,
//! bit 3: --linger-ms, bit 4: --frame-threshold), `u8` payload type, `u8`
//! packet threshold, then records, one per datagram: `u8` kind (bit 0:
//! RTCP port), `u32` arrival time in ms since the Unix epoch, the datagram.
//!
//! Invariants: the session stops where the receiver would (an outcome, or
//! a pass without linger); counters add up; the report serializes.
#![no_main]

use std::time::{Duration, SystemTime};

use cvmmap_fuzz::Input;
use cvmmap_testers::rtp_rx::depay::Codec;
use cvmmap_testers::rtp_rx::report::Report;
use cvmmap_testers::rtp_rx::session::Session;
use cvmmap_testers::rtp_rx::settings::{RtcpPort, Settings};
use cvmmap_testers::rtp_rx::stats::Outcome;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let flags = input.u8();
    let expect_pt = input.u8() & 0x7F;
    let threshold = u64::from(input.u8().max(1));
    let settings = Settings {
        port: 5004,
        rtcp_port: RtcpPort::Default(5005),
        expect_pt,
        codec: if flags & 1 == 1 {
            Codec::H265
        } else {
            Codec::H264
        },
        sdp_path: None,
        sdp: None,
        packet_threshold: threshold,
        frame_threshold: (flags & 16 == 16).then_some(threshold / 4),
        strict: flags & 2 == 2,
        decode: false,
        expect_body: (flags & 4 == 4).then_some(1),
        linger_ms: (flags & 8 == 8).then_some(500),
        latency_warmup_units: u64::from(flags >> 5),
    };
    let linger = settings.linger_ms.is_some();
    let mut session = Session::new(settings, None, None);
    let mut outcome = None;
    let mut rtp_datagrams = 0u64;
    let mut at_ms = 0.0;
    while let Some(rec) = input.record() {
        let mut r = Input::new(rec);
        let kind = r.u8();
        let arrival = SystemTime::UNIX_EPOCH + Duration::from_millis(u64::from(r.u32()) * 1000);
        let datagram = r.rest();
        at_ms += 33.0;
        if kind & 1 == 1 {
            session.on_rtcp(datagram);
            continue;
        }
        rtp_datagrams += 1;
        match session.on_rtp(datagram, at_ms, arrival) {
            Some(Outcome::Pass) if linger => {
                outcome.get_or_insert(Outcome::Pass);
            }
            Some(o) => {
                outcome = Some(o);
                break;
            }
            None => {}
        }
    }
    let s = &session.stats;
    assert_eq!(s.packets + s.invalid_packets, rtp_datagrams);
    assert!(s.matching_packets <= s.packets);
    let c = &session.assembler.counters;
    assert!(c.access_units_complete <= s.packets);
    assert_eq!(session.complete_units, c.access_units_complete);
    assert!(session.keyframe_indices.len() as u64 <= session.complete_units);
    let _ = session.strict_failures();
    let outcome = outcome.unwrap_or(Outcome::ThresholdNotMet);
    let report = Report::new(outcome, &session, at_ms, Some(5005), None);
    let json = serde_json::to_string(&report).expect("the report serializes");
    assert!(json.starts_with('{'));
});
