//! Body-tracking messages waiting for their frame's access unit, and their
//! insertion as SEI (docs/body-sei.md). Bounded: a producer that publishes
//! bodies for frames we never see cannot make this grow.

use std::collections::VecDeque;
use std::sync::Mutex;

use crate::codec::sei;
use crate::contract::body::BodyHeader;
use crate::encode::{AccessUnit, Codec};

use crate::telemetry::{NatsCounters, incr};

/// At most this many messages wait.
pub const MAX_PENDING: usize = 256;
/// At most this many bytes wait.
pub const MAX_PENDING_BYTES: usize = 16 << 20;

struct Pending {
    timestamp_ns: u64,
    message: Vec<u8>,
}

/// Valid body messages by frame timestamp, oldest first.
#[derive(Default)]
pub struct BodyStore {
    pending: Mutex<(VecDeque<Pending>, usize)>,
}

impl BodyStore {
    /// Keeps a validated message until its frame's access unit goes out.
    pub fn push(&self, header: &BodyHeader, message: Vec<u8>, stats: &NatsCounters) {
        let mut guard = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let (queue, bytes) = &mut *guard;
        *bytes += message.len();
        queue.push_back(Pending {
            timestamp_ns: header.timestamp_ns,
            message,
        });
        while queue.len() > MAX_PENDING || *bytes > MAX_PENDING_BYTES {
            let Some(old) = queue.pop_front() else { break };
            *bytes -= old.message.len();
            incr(&stats.body_dropped);
        }
    }

    /// `au` with an SEI unit for every pending message of its frame (same
    /// timestamp) or of an earlier one (late); `au` itself when none waits.
    pub fn attach(&self, au: AccessUnit, stats: &NatsCounters) -> AccessUnit {
        let mut sei_units = Vec::new();
        {
            let mut guard = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            let (queue, bytes) = &mut *guard;
            let hevc = au.codec == Codec::H265;
            while queue
                .front()
                .is_some_and(|p| p.timestamp_ns <= au.capture_ts_ns)
            {
                let p = queue.pop_front().expect("front exists");
                *bytes -= p.message.len();
                if p.timestamp_ns < au.capture_ts_ns {
                    incr(&stats.body_late);
                }
                incr(&stats.body_attached);
                sei::append_user_data_nal(
                    hevc,
                    &sei::BODY_TRACKING_UUID,
                    &p.message,
                    &mut sei_units,
                );
            }
        }
        if sei_units.is_empty() {
            return au;
        }
        let data = sei::insert_before_first_vcl(au.codec == Codec::H265, &au.data, &sei_units);
        AccessUnit {
            data: data.into(),
            ..au
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::nal_units;

    fn header(ts: u64) -> BodyHeader {
        BodyHeader {
            frame_count: 0,
            timestamp_ns: ts,
            sdk_timestamp_ns: 0,
            body_count: 0,
            label: String::new(),
        }
    }

    fn au(ts: u64) -> AccessUnit {
        AccessUnit {
            codec: Codec::H264,
            data: vec![0, 0, 0, 1, 0x65, 1].into(),
            pts_ns: 0,
            dts_ns: 0,
            keyframe: true,
            capture_ts_ns: ts,
            width: 16,
            height: 16,
            frame_rate: None,
        }
    }

    #[test]
    fn on_time_late_and_future_messages() {
        let stats = NatsCounters::default();
        let store = BodyStore::default();
        store.push(&header(10), vec![1; 64], &stats);
        store.push(&header(20), vec![2; 64], &stats);
        store.push(&header(30), vec![3; 64], &stats);
        let out = store.attach(au(20), &stats);
        // Two SEI units (ts 10 late, ts 20 on time), then the slice.
        let types: Vec<u8> = nal_units(&out.data).map(|n| n[0] & 0x1f).collect();
        assert_eq!(types, [6, 6, 5]);
        let s = stats.snapshot();
        assert_eq!((s.body_attached, s.body_late), (2, 1));
        // The ts-30 message waits for its frame.
        assert_eq!(store.attach(au(25), &stats).data, au(25).data);
        assert_eq!(nal_units(&store.attach(au(30), &stats).data).count(), 2);
    }

    #[test]
    fn bounded_when_frames_never_come() {
        let stats = NatsCounters::default();
        let store = BodyStore::default();
        for i in 0..(MAX_PENDING as u64 + 10) {
            store.push(&header(1000 + i), vec![0; 64], &stats);
        }
        assert_eq!(stats.snapshot().body_dropped, 10);
        let big = vec![0; 4 << 20];
        for i in 0..5 {
            store.push(&header(5000 + i), big.clone(), &stats);
        }
        let pending = store.pending.lock().unwrap();
        assert!(pending.1 <= MAX_PENDING_BYTES);
    }
}
