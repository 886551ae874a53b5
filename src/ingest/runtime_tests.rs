//! The ingest loop against real shared memory and real ZeroMQ.

use super::*;
use crate::contract::SyncMessage;
use crate::ingest::test_segment::TestSegment;
use crate::ingest::{Form, Frame, LatestQueue, Pop, WantI420};
use crate::telemetry::IngestCounters;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::thread::JoinHandle;

fn unique(tag: &str) -> String {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    format!(
        "cvmmap_rt_{}_{}_{tag}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

struct Running {
    stats: Arc<IngestCounters>,
    queue: Arc<LatestQueue<Frame>>,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<Result<IngestEnd, IngestError>>>,
}

impl Running {
    fn start(cfg: IngestConfig) -> Self {
        let (stats, queue, stop) = (
            Arc::new(IngestCounters::default()),
            Arc::new(LatestQueue::new(16)),
            Arc::new(AtomicBool::new(false)),
        );
        let handle = {
            let (stats, queue, stop) = (stats.clone(), queue.clone(), stop.clone());
            std::thread::spawn(move || {
                run_ingest(
                    &cfg,
                    &queue,
                    &stats,
                    &StageLatency::default(),
                    &Events::none(),
                    &stop,
                    &WantI420::default(),
                )
            })
        };
        Self {
            stats,
            queue,
            stop,
            handle: Some(handle),
        }
    }

    /// Waits (bounded) until `n` frames were ingested.
    fn wait_ingested(&self, n: u64) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.stats.snapshot().frames_ingested < n {
            assert!(
                Instant::now() < deadline,
                "only {:?} after 10 s",
                self.stats.snapshot()
            );
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    fn next_frame(&self) -> Frame {
        match self.queue.pop_timeout(Duration::from_secs(10)) {
            Pop::Item(f) => f,
            other => panic!("no frame: {other:?}"),
        }
    }

    fn join(mut self) -> IngestEnd {
        self.handle.take().unwrap().join().unwrap().unwrap()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn config(shm: &str, endpoint: &str) -> IngestConfig {
    IngestConfig {
        shm_name: shm.to_owned(),
        zmq_endpoint: endpoint.to_owned(),
        label: None,
        max_frames: 0,
        idle_timeout: None,
        poll_interval: Duration::from_millis(5),
        passthrough: None,
        verify_stamps: false,
        aux_planes: false,
        convert_threads: 1,
    }
}

/// No producer ever binds the endpoint: frames still arrive, because the
/// metadata is the truth and a sync only a hint (slow joiner, contract §3).
#[test]
fn frames_arrive_by_polling_without_any_sync() {
    let name = unique("poll");
    let mut seg = TestSegment::create(&name, 32, 16);
    let mut cfg = config(&name, &format!("ipc:///tmp/{name}.ipc"));
    cfg.max_frames = 3;
    let run = Running::start(cfg);
    for k in 1..=3u32 {
        seg.publish(k, u64::from(k) * 1000);
        run.wait_ingested(u64::from(k));
    }
    for k in 1..=3u32 {
        let f = run.next_frame();
        assert_eq!((f.frame_count, f.capture_ts_ns), (k, u64::from(k) * 1000));
        assert!(f.data.iter().all(|&b| b == k as u8));
    }
    assert_eq!(run.join(), IngestEnd::MaxFrames);
}

#[test]
fn a_recreated_segment_of_another_size_is_remapped() {
    let name = unique("recreate");
    let mut seg = TestSegment::create(&name, 32, 16);
    let run = Running::start(config(&name, &format!("ipc:///tmp/{name}.ipc")));
    seg.publish(5, 5_000);
    run.wait_ingested(1);
    drop(seg);
    let mut seg = TestSegment::create(&name, 64, 48);
    seg.publish(0, 9_000); // counter restarted: a producer reset
    run.wait_ingested(2);
    assert_eq!(run.next_frame().geometry.width, 32);
    let f = run.next_frame();
    assert_eq!(
        (f.geometry.width, f.geometry.height, f.frame_count),
        (64, 48, 0)
    );
    let s = run.stats.snapshot();
    assert_eq!(s.segment_maps, 2, "{s:?}");
    assert_eq!(s.producer_resets, 1, "{s:?}");
}

#[test]
fn a_segment_grown_in_place_is_remapped() {
    let name = unique("grow");
    let mut seg = TestSegment::create(&name, 32, 16);
    let run = Running::start(config(&name, &format!("ipc:///tmp/{name}.ipc")));
    seg.publish(1, 1_000);
    run.wait_ingested(1);
    seg.resize_in_place(128, 96);
    seg.publish(2, 2_000);
    run.wait_ingested(2);
    run.next_frame();
    let f = run.next_frame();
    assert_eq!((f.geometry.width, f.geometry.height), (128, 96));
    assert_eq!(f.data.len(), 128 * 96 * 3);
    assert_eq!(run.stats.snapshot().segment_maps, 2);
}

#[test]
fn idle_timeout_ends_ingest_when_no_producer_appears() {
    let name = unique("idle");
    let mut cfg = config(&name, &format!("ipc:///tmp/{name}.ipc"));
    cfg.idle_timeout = Some(Duration::from_millis(100));
    let started = Instant::now();
    assert_eq!(Running::start(cfg).join(), IngestEnd::IdleTimeout);
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn syncs_with_other_magics_and_labels_are_skipped() {
    let name = unique("label");
    let endpoint = format!("ipc:///tmp/{name}.ipc");
    let mut seg = TestSegment::create(&name, 32, 16);
    seg.publish(1, 1);
    let ctx = zmq::Context::new();
    let publisher = ctx.socket(zmq::PUB).unwrap();
    publisher.bind(&endpoint).unwrap();
    let mut cfg = config(&name, &endpoint);
    cfg.label = Some("cam_a".into());
    let run = Running::start(cfg);
    let good = SyncMessage::new(1, 1, "cam_a").unwrap().to_bytes();
    let other_label = SyncMessage::new(1, 1, "cam_b").unwrap().to_bytes();
    let mut status = [0u8; 48];
    status[0] = 0x5A; // legacy status magic
    // The SUB joins late (slow joiner): publish rounds until syncs get through.
    let deadline = Instant::now() + Duration::from_secs(10);
    while run.stats.snapshot().syncs_received < 5 {
        assert!(Instant::now() < deadline, "no sync got through");
        for msg in [&good[..], &other_label[..], &status[..]] {
            publisher.send(msg, 0).unwrap();
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    // Two skipped per accepted, give or take the round in flight and a round
    // cut by the subscription attaching.
    let s = run.stats.snapshot();
    assert!(
        s.syncs_skipped + 2 >= 2 * s.syncs_received && s.syncs_skipped <= 2 * s.syncs_received + 2,
        "{s:?}"
    );
    let _ = std::fs::remove_file(format!("/tmp/{name}.ipc"));
}

#[test]
fn stamps_are_checked_on_the_first_and_last_rows() {
    use crate::contract::PixelFormat;
    use crate::ingest::frame::VideoGeometry;
    let geometry = VideoGeometry {
        pixel_format: PixelFormat::Gray,
        width: 8,
        height: 3,
        stride: 10,
    };
    let stamped = |first: u32, last: u32| {
        let mut data = vec![0u8; 30];
        data[0..4].copy_from_slice(&first.to_le_bytes());
        data[20..24].copy_from_slice(&last.to_le_bytes());
        Frame {
            frame_count: 9,
            capture_ts_ns: 0,
            geometry,
            data: data.into(),
            form: Form::Raw,
            stamps: None,
            encoded: None,
            frame_rate: None,
            aux: None,
        }
    };
    let stats = IngestCounters::default();
    verify_stamps(&stamped(9, 9), &stats, &Events::none());
    assert_eq!(stats.snapshot().stamp_mismatches, 0);
    verify_stamps(&stamped(9, 8), &stats, &Events::none());
    verify_stamps(&stamped(10, 9), &stats, &Events::none());
    let s = stats.snapshot();
    assert_eq!((s.stamps_checked, s.stamp_mismatches), (3, 2));
}

/// Issue 13, defect 10: once distrusted, syncs stayed distrusted for the
/// life of the process. Ten matching syncs in a row now re-arm trust; a
/// mismatch starts the count again.
#[test]
fn distrusted_syncs_are_trusted_again_after_ten_matches() {
    let mut a = Admission::Distrusted { matches: 0 };
    for i in 0..9u32 {
        assert!(!a.on_sync((i, 100 + u64::from(i)), Some((i, 100 + u64::from(i)))));
    }
    assert!(!a.on_sync((9, 5), Some((8, 4))), "a mismatch");
    assert_eq!(a, Admission::Distrusted { matches: 0 });
    for i in 10..19u32 {
        assert!(!a.on_sync((i, u64::from(i)), Some((i, u64::from(i)))));
    }
    assert!(
        a.on_sync((19, 19), Some((19, 19))),
        "the tenth match re-arms"
    );
    assert_eq!(a.announced(), Some(19));
    // Trusting: a sync just refreshes the last one seen.
    assert!(!a.on_sync((20, 20), None));
    assert_eq!(a.announced(), Some(20));
}
