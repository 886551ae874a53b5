//! Answers to the control requests (contract `cv-mmap-ipc.md` §4) and the
//! source state they read, shared between the frame loop and the NATS thread.
//!
//! Honesty of `source.info`: the simulator stamps every frame with the wall
//! clock (§6: "live ones wall-clock Unix ns"), also when `--frames` bounds the
//! run, so it reports `SourceKind::LIVE` and `TimestampDomain::UNIX_EPOCH_NS`
//! with no timeline (start, end and duration 0) and no seeking or looping.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use prost::Message;

use super::proto::{
    ErrorCode, GetSourceInfoRequest, GetSourceInfoResponse, ResetFrameCountRequest,
    ResetFrameCountResponse, SourceKind, TimestampDomain, flags,
};

/// The latest published frame and pending reset requests. The frame loop
/// only ever holds the lock for a copy of two integers.
#[derive(Debug, Default)]
pub struct SourceState {
    /// (frame_count, timestamp_ns) of the latest frame written.
    latest: Mutex<(u32, u64)>,
    reset_requested: AtomicBool,
}

impl SourceState {
    /// Records the frame just written (metadata 0x0C and 0x10).
    pub fn frame_written(&self, frame_count: u32, timestamp_ns: u64) {
        if let Ok(mut l) = self.latest.lock() {
            *l = (frame_count, timestamp_ns);
        }
    }

    /// (frame_count, timestamp_ns) of the latest frame; (0, 0) before the first.
    pub fn latest(&self) -> (u32, u64) {
        self.latest.lock().map_or((0, 0), |l| *l)
    }

    /// A `source.reset` request: the counter goes back at the next frame (§5).
    pub fn request_reset(&self) {
        self.reset_requested.store(true, Ordering::Release);
    }

    /// Takes a pending reset request (the frame loop, once per frame).
    pub fn take_reset_request(&self) -> bool {
        self.reset_requested.swap(false, Ordering::AcqRel)
    }
}

/// `GetSourceInfoResponse` for a request payload; an undecodable payload
/// gets `INVALID_PAYLOAD` and nothing else.
pub fn info_response(request: &[u8], has_body: bool, state: &SourceState) -> GetSourceInfoResponse {
    if GetSourceInfoRequest::decode(request).is_err() {
        return GetSourceInfoResponse {
            error: ErrorCode::InvalidPayload as i32,
            ..Default::default()
        };
    }
    let (frame_count, timestamp_ns) = state.latest();
    GetSourceInfoResponse {
        error: ErrorCode::Ok as i32,
        source_kind: SourceKind::Live as i32,
        timestamp_domain: TimestampDomain::UnixEpochNs as i32,
        flags: if has_body { flags::HAS_BODY } else { 0 },
        timeline_start_ns: 0,
        timeline_end_ns: 0,
        duration_ns: 0,
        current_timestamp_ns: timestamp_ns,
        current_frame_count: frame_count,
    }
}

/// `ResetFrameCountResponse` for a request payload; a valid request marks
/// a reset for the next frame.
pub fn reset_response(request: &[u8], state: &SourceState) -> ResetFrameCountResponse {
    let error = if ResetFrameCountRequest::decode(request).is_ok() {
        state.request_reset();
        ErrorCode::Ok
    } else {
        ErrorCode::InvalidPayload
    };
    ResetFrameCountResponse {
        error: error as i32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_reports_the_latest_frame() {
        let s = SourceState::default();
        let r = info_response(&[], true, &s);
        assert_eq!((r.current_frame_count, r.current_timestamp_ns), (0, 0));
        s.frame_written(42, 123_456_789);
        let r = info_response(&[], false, &s);
        assert_eq!(r.error(), ErrorCode::Ok);
        assert_eq!(r.source_kind(), SourceKind::Live);
        assert_eq!(r.timestamp_domain(), TimestampDomain::UnixEpochNs);
        assert_eq!(r.flags, 0);
        assert_eq!(
            (r.current_frame_count, r.current_timestamp_ns),
            (42, 123_456_789)
        );
        assert_eq!(info_response(&[], true, &s).flags, flags::HAS_BODY);
    }

    #[test]
    fn bad_payloads_are_invalid() {
        let s = SourceState::default();
        s.frame_written(1, 2);
        let r = info_response(&[0xFF], true, &s);
        assert_eq!(r.error(), ErrorCode::InvalidPayload);
        assert_eq!((r.flags, r.current_frame_count, r.source_kind), (0, 0, 0));
        assert_eq!(
            reset_response(&[0xFF], &s).error(),
            ErrorCode::InvalidPayload
        );
        assert!(!s.take_reset_request(), "an invalid request resets nothing");
    }

    #[test]
    fn reset_request_is_taken_once() {
        let s = SourceState::default();
        assert_eq!(reset_response(&[], &s).error(), ErrorCode::Ok);
        assert!(s.take_reset_request());
        assert!(!s.take_reset_request());
    }
}
