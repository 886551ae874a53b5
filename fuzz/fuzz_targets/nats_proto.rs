//! NATS protobuf messages (contract section 4), decoded by the streamer
//! (`nats::proto`: producer status events and `source.info` answers) and by
//! the simulator (`sim::nats::proto` and the control handlers of
//! `sim::nats::control`, which decode `source.info` / `source.reset`
//! requests).
//!
//! Invariants: the two crates' hand-written prost messages agree on every
//! input (same accept/reject, same fields); a decoded message re-encodes to
//! bytes that decode to the same message; the control handlers answer
//! `INVALID_PAYLOAD` exactly when the request does not decode.
#![no_main]

use cvmmap_streamer::nats::SourceInfo;
use cvmmap_streamer::nats::proto as ours;
use cvmmap_testers::sim::nats::control::{SourceState, info_response, reset_response};
use cvmmap_testers::sim::nats::proto as sim;
use libfuzzer_sys::fuzz_target;
use prost::Message;

fn round_trip<M: Message + Default + PartialEq + std::fmt::Debug>(m: &M) {
    let bytes = m.encode_to_vec();
    assert_eq!(
        &M::decode(&bytes[..]).expect("re-encoded message decodes"),
        m
    );
}

fuzz_target!(|data: &[u8]| {
    // Status events (cvmmap.<key>.status).
    let a = ours::ModuleStatusEvent::decode(data);
    let b = sim::ModuleStatusEvent::decode(data);
    match (&a, &b) {
        (Ok(a), Ok(b)) => {
            assert_eq!(
                (a.status, &a.instance, a.timestamp_ns),
                (b.status, &b.instance, b.timestamp_ns)
            );
            round_trip(a);
            assert_eq!(a.encode_to_vec(), b.encode_to_vec());
        }
        (Err(_), Err(_)) => {}
        _ => panic!("streamer {a:?} vs simulator {b:?}"),
    }

    // source.info answers.
    let a = ours::GetSourceInfoResponse::decode(data);
    let b = sim::GetSourceInfoResponse::decode(data);
    match (&a, &b) {
        (Ok(a), Ok(b)) => {
            assert_eq!(a.encode_to_vec(), b.encode_to_vec());
            round_trip(a);
            let info = SourceInfo::from_response("producer.source.info", a);
            assert_eq!(info.flags, a.flags);
            assert_eq!(info.current_frame_count, a.current_frame_count);
            assert!(info.flag_names.len() <= 6);
        }
        (Err(_), Err(_)) => {}
        _ => panic!("streamer {a:?} vs simulator {b:?}"),
    }

    // source.info / source.reset requests, answered by the simulator.
    let state = SourceState::default();
    state.frame_written(7, 42);
    let request_ok = sim::GetSourceInfoRequest::decode(data).is_ok();
    assert_eq!(request_ok, ours::GetSourceInfoRequest::decode(data).is_ok());
    let info = info_response(data, true, &state);
    assert_eq!(
        info.error == sim::ErrorCode::InvalidPayload as i32,
        !request_ok,
        "{info:?}"
    );
    let reset = reset_response(data, &state);
    let reset_ok = sim::ResetFrameCountRequest::decode(data).is_ok();
    assert_eq!(reset.error == sim::ErrorCode::Ok as i32, reset_ok);
    assert_eq!(state.take_reset_request(), reset_ok);
});
