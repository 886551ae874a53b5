//! Snapshot tests over real shared memory (`/dev/shm`) with writer threads.

use super::*;
use crate::ingest::shm::Segment;
use std::sync::mpsc;
use std::sync::{Arc, Barrier};

use crate::ingest::test_segment::TestSegment;

const W: u32 = 64;
const H: u32 = 32;
const STRIDE: usize = (W * 3) as usize;
const PAYLOAD: usize = STRIDE * H as usize;

fn segment(tag: &str) -> TestSegment {
    TestSegment::create(
        &format!("cvmmap_snapshot_{}_{tag}", std::process::id()),
        W,
        H,
    )
}

#[test]
fn a_published_frame_is_copied_whole_then_reported_unchanged() {
    let mut seg = segment("whole");
    seg.publish(7, 1_000);
    let region = Segment::open(&seg.path).unwrap();
    let Snapshot::Frame(f) = take(&region, None, None) else {
        panic!("expected a frame")
    };
    assert_eq!((f.frame_count, f.capture_ts_ns), (7, 1_000));
    assert_eq!(f.geometry.stride, STRIDE);
    assert_eq!(f.data.len(), PAYLOAD);
    assert!(f.data.iter().all(|&b| b == 7));
    assert!(matches!(
        take(&region, Some((7, 1_000)), None),
        Snapshot::Unchanged
    ));
}

#[test]
fn only_the_announced_frame_is_copied_while_syncs_flow() {
    let mut seg = segment("announced");
    seg.publish(8, 2_000);
    let region = Segment::open(&seg.path).unwrap();
    // The sync for 8 has not come yet (the producer may still be writing).
    assert!(matches!(
        take_announced(
            &region,
            Some((7, 1_000)),
            None,
            Some(7),
            &FramePool::new(),
            &super::Bands::single(),
            Want::default()
        ),
        Snapshot::Unannounced {
            meta_count: 8,
            sync_count: 7
        }
    ));
    let Snapshot::Frame(f) = take_announced(
        &region,
        Some((7, 1_000)),
        None,
        Some(8),
        &FramePool::new(),
        &super::Bands::single(),
        Want::default(),
    ) else {
        panic!("expected the announced frame")
    };
    assert_eq!(f.frame_count, 8);
    // Without syncs (None) the metadata alone decides.
    assert!(matches!(
        take_announced(
            &region,
            None,
            None,
            None,
            &FramePool::new(),
            &super::Bands::single(),
            Want::default()
        ),
        Snapshot::Frame(_)
    ));
}

#[test]
fn zeroed_metadata_is_invalid_not_a_frame() {
    let seg = segment("zero");
    let region = Segment::open(&seg.path).unwrap();
    assert!(matches!(take(&region, None, None), Snapshot::Invalid(_)));
}

/// Wraps a region and hands control to a writer thread in the middle of the
/// payload copy, so the producer rewrites the frame exactly while it is read.
struct InterruptedRegion<'a> {
    inner: &'a Segment,
    start_writer: mpsc::Sender<()>,
    writer_done: &'a Barrier,
}

impl SharedRegion for InterruptedRegion<'_> {
    fn len(&self) -> usize {
        self.inner.len()
    }
    fn read_at(&self, offset: usize, dst: &mut [u8]) -> Result<(), OutOfBounds> {
        // The copy itself, not the samples read after it.
        if offset >= PAYLOAD_OFFSET && dst.len() > 256 {
            let half = dst.len() / 2;
            self.inner.read_at(offset, &mut dst[..half])?;
            self.start_writer.send(()).unwrap();
            self.writer_done.wait();
            return self.inner.read_at(offset + half, &mut dst[half..]);
        }
        self.inner.read_at(offset, dst)
    }
}

#[test]
fn a_frame_rewritten_by_a_writer_thread_during_the_copy_is_torn() {
    let mut seg = segment("torn");
    seg.publish(1, 100);
    let region = Segment::open(&seg.path).unwrap();
    let (tx, rx) = mpsc::channel();
    let done = Barrier::new(2);
    std::thread::scope(|s| {
        let seg = &mut seg;
        let done_w = &done;
        s.spawn(move || {
            rx.recv().unwrap();
            seg.publish(2, 200);
            done_w.wait();
        });
        let interrupted = InterruptedRegion {
            inner: &region,
            start_writer: tx,
            writer_done: &done,
        };
        match take(&interrupted, None, None) {
            Snapshot::Torn { before, after } => {
                assert_eq!(before, (1, 100));
                assert_eq!(after, (2, 200));
            }
            other => panic!("expected torn, got {other:?}"),
        }
    });
    // The next attempt, undisturbed, gets frame 2 whole.
    let Snapshot::Frame(f) = take(&region, None, None) else {
        panic!("expected a frame")
    };
    assert_eq!(f.frame_count, 2);
    assert!(f.data.iter().all(|&b| b == 2));
}

/// Issue 13, defect 3: the contract's producer writes the payload, then
/// the metadata. A rewrite of frame 2 in place while the metadata still
/// says 1 left the counter alone and the torn copy was accepted. The
/// samples read again after the copy now show the rewrite.
#[test]
fn a_payload_rewritten_in_place_before_its_metadata_is_not_accepted() {
    let mut seg = segment("payload_first");
    seg.publish(1, 100);
    let region = Segment::open(&seg.path).unwrap();
    let (tx, rx) = mpsc::channel();
    let done = Barrier::new(2);
    std::thread::scope(|s| {
        let seg = &mut seg;
        let done_w = &done;
        s.spawn(move || {
            rx.recv().unwrap();
            // Frame 2's payload, the metadata untouched (contract order).
            seg.map[PAYLOAD_OFFSET..PAYLOAD_OFFSET + PAYLOAD].fill(2);
            done_w.wait();
        });
        let interrupted = InterruptedRegion {
            inner: &region,
            start_writer: tx,
            writer_done: &done,
        };
        match take(&interrupted, None, None) {
            Snapshot::Rewritten { frame } => assert_eq!(frame, (1, 100)),
            other => panic!("expected a rewrite to be seen, got {other:?}"),
        }
    });
}

#[test]
fn free_running_writer_thread_causes_detected_torn_reads_and_never_a_crash() {
    let seg = segment("race");
    let path = seg.path.clone();
    let seg = Arc::new(std::sync::Mutex::new(seg));
    let region = Segment::open(&path).unwrap();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (seg, stop) = (seg.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut n = 1u32; // runs until the reader has seen both outcomes
            let mut burst = std::time::Instant::now();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                // A payload write as long as a copy, so that copies overlap
                // it under an unchanged counter (a fast fill is over before
                // the copy's first sample: 1 rewrite seen in 500 000 tears).
                let spin = || (0..50).for_each(|_| std::hint::spin_loop());
                seg.lock()
                    .unwrap()
                    .publish_by_rows(n, u64::from(n) * 10, spin);
                n = n.wrapping_add(1);
                // 1 ms of back-to-back writes, then 2 ms of quiet: without
                // the quiet, nearly every copy overlaps a write and a
                // loaded host (CI) saw fewer than 200 coherent frames in
                // 20 s; with 5 ms bursts and 1 ms quiet (83% writing) a CI
                // run saw 84% of accepted frames mixed, over the bound
                // below. A third of the time writing keeps every outcome
                // frequent and the mixed share well under it.
                if burst.elapsed() >= std::time::Duration::from_millis(1) {
                    std::thread::sleep(std::time::Duration::from_millis(2));
                    burst = std::time::Instant::now();
                }
            }
        })
    };
    let whole = |data: &[u8]| data.iter().all(|&b| b == data[0]);
    let (mut torn, mut rewritten, mut frames, mut mixed, mut last) = (0u32, 0u32, 0u32, 0u32, None);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while (torn == 0 || rewritten == 0 || frames < 200) && std::time::Instant::now() < deadline {
        match take(&region, last, None) {
            Snapshot::Torn { before, after } => {
                assert_ne!(before, after);
                torn += 1;
            }
            Snapshot::Rewritten { frame } => {
                rewritten += 1;
                last = Some(frame);
            }
            Snapshot::Frame(f) => {
                frames += 1;
                // Whole: one write's bytes only. (A payload rewritten
                // whole before its metadata is a whole frame under the
                // previous label: no consumer can tell, contract §2.)
                mixed += u32::from(!whole(&f.data));
                last = Some((f.frame_count, f.capture_ts_ns));
            }
            _ => {}
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    writer.join().unwrap();
    // Both checks work: the counter check (a lost one never reports Torn)
    // and the payload samples (lost ones never report Rewritten).
    assert!(torn > 0, "the writer never tore a read");
    assert!(rewritten > 0, "the payload samples never caught a rewrite");
    assert!(frames >= 200, "only {frames} coherent frames taken");
    // The writer rewrites the payload in place right after each metadata
    // update, as the contract's producer may, a row at a time; a copy of a
    // frame just announced overlaps the next frame's write, and what the 16
    // samples miss is invisible to any consumer (no seqlock upstream,
    // contract §2). The share follows the host's scheduling: 18-32% alone,
    // 34-52% beside two busy loops on this 2-core host (the writer of issue
    // 13, without quiet gaps: 6.5-63%). Bound: above all of those, below
    // "every copy".
    assert!(
        mixed * 4 <= frames * 3,
        "{mixed} of {frames} accepted frames mix two writes (bound 75%)"
    );
}

#[test]
fn metadata_pointing_past_the_mapping_is_refused() {
    let mut seg = segment("oob");
    seg.publish(1, 1);
    // Claim a payload bigger than the segment.
    seg.map[0x28..0x2C].copy_from_slice(&(PAYLOAD as u32 * 4).to_le_bytes());
    let region = Segment::open(&seg.path).unwrap();
    assert!(matches!(take(&region, None, None), Snapshot::Invalid(_)));
}

/// Issue 14: a software encoder's frame is converted to I420 on its way out
/// of the mapping (the conversion is the one copy).
#[test]
fn a_frame_wanted_in_i420_is_converted_in_place() {
    let mut seg = segment("i420");
    seg.publish(7, 1_000);
    let region = Segment::open(&seg.path).unwrap();
    let pool = FramePool::new();
    let Snapshot::Frame(f) = take_announced(
        &region,
        None,
        None,
        None,
        &pool,
        &super::Bands::single(),
        Want {
            i420: true,
            stamps: false,
            aux: false,
        },
    ) else {
        panic!("expected a frame")
    };
    let layout = I420Layout::new(W, H);
    assert_eq!(f.form, Form::I420(Matrix::Bt601));
    assert_eq!(
        f.geometry.pixel_format,
        crate::contract::PixelFormat::Bgr,
        "what the producer sent"
    );
    assert_eq!(f.data.len(), layout.size);
    // BGR (7, 7, 7) is grey: Y = 16 + 7 * 219 / 255 = 22, chroma neutral.
    let (y, u) = (
        &f.data[..layout.u_offset],
        &f.data[layout.u_offset..layout.v_offset],
    );
    assert!(y.iter().all(|&v| (21..=23).contains(&v)), "{:?}", &y[..8]);
    assert!(u.iter().all(|&v| (127..=129).contains(&v)), "{:?}", &u[..8]);
}

/// Issue 14: the in-place conversion reads a mapping; a producer that
/// shrinks the file under it gets a refused read (re-open), not SIGBUS.
#[test]
fn a_shrunk_segment_refuses_the_in_place_conversion() {
    let mut seg = segment("i420_shrink");
    seg.publish(7, 1_000);
    let region = Segment::open(&seg.path).unwrap();
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&seg.path)
        .unwrap();
    file.set_len(256).unwrap();
    let got = take_announced(
        &region,
        None,
        None,
        None,
        &FramePool::new(),
        &super::Bands::single(),
        Want {
            i420: true,
            stamps: false,
            aux: false,
        },
    );
    assert!(matches!(got, Snapshot::OutOfBounds(_)), "{got:?}");
}
