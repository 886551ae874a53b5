//! Snapshot tests over real shared memory (`/dev/shm`) with writer threads.

use super::*;
use crate::ingest::shm::Segment;
use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::{Arc, Barrier};

const W: u32 = 64;
const H: u32 = 32;
const STRIDE: usize = (W * 3) as usize;
const PAYLOAD: usize = STRIDE * H as usize;

/// A v2 header (contract §2) for one BGR U8 plane, built from the offsets.
fn v2_header(frame_count: u32, ts: u64) -> [u8; 256] {
    let mut m = [0u8; 256];
    m[0..8].copy_from_slice(b"CV-MMAP\0");
    m[8] = 2;
    m[0x0C..0x10].copy_from_slice(&frame_count.to_le_bytes());
    m[0x10..0x18].copy_from_slice(&ts.to_le_bytes());
    m[0x18..0x20].copy_from_slice(&u64::from(frame_count).to_le_bytes());
    m[0x20] = 1; // plane_count
    m[0x21] = 1; // mask
    m[0x22..0x24].copy_from_slice(&64u16.to_le_bytes());
    m[0x24..0x26].copy_from_slice(&24u16.to_le_bytes());
    m[0x26..0x28].copy_from_slice(&4u16.to_le_bytes());
    m[0x28..0x2C].copy_from_slice(&(PAYLOAD as u32).to_le_bytes());
    let d = &mut m[64..88];
    d[0] = 0; // LEFT
    d[1] = 1; // BGR
    d[2] = 0; // U8
    for (i, v) in [W, H, STRIDE as u32, 0, PAYLOAD as u32].iter().enumerate() {
        d[4 + 4 * i..8 + 4 * i].copy_from_slice(&v.to_le_bytes());
    }
    m
}

/// A real segment under /dev/shm, removed on drop, with a writable mapping.
struct TestSegment {
    path: PathBuf,
    map: memmap2::MmapMut,
}

impl TestSegment {
    fn create(tag: &str) -> Self {
        let path = PathBuf::from(format!("/dev/shm/cvmmap_snapshot_{}_{tag}", std::process::id()));
        let f = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(true).open(&path).unwrap();
        f.set_len((PAYLOAD_OFFSET + PAYLOAD) as u64).unwrap();
        let map = unsafe { memmap2::MmapMut::map_mut(&f) }.unwrap();
        Self { path, map }
    }

    /// Producer order (contract §2): payload, then metadata.
    fn publish(&mut self, frame_count: u32, ts: u64) {
        self.map[PAYLOAD_OFFSET..].fill(frame_count as u8);
        self.map[..256].copy_from_slice(&v2_header(frame_count, ts));
    }
}

impl Drop for TestSegment {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[test]
fn a_published_frame_is_copied_whole_then_reported_unchanged() {
    let mut seg = TestSegment::create("whole");
    seg.publish(7, 1_000);
    let region = Segment::open(&seg.path).unwrap();
    let Snapshot::Frame(f) = take(&region, None) else { panic!("expected a frame") };
    assert_eq!((f.frame_count, f.capture_ts_ns), (7, 1_000));
    assert_eq!(f.geometry.stride, STRIDE);
    assert_eq!(f.data.len(), PAYLOAD);
    assert!(f.data.iter().all(|&b| b == 7));
    assert!(matches!(take(&region, Some((7, 1_000))), Snapshot::Unchanged));
}

#[test]
fn zeroed_metadata_is_invalid_not_a_frame() {
    let seg = TestSegment::create("zero");
    let region = Segment::open(&seg.path).unwrap();
    assert!(matches!(take(&region, None), Snapshot::Invalid(_)));
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
        if offset >= PAYLOAD_OFFSET && dst.len() > 1 {
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
    let mut seg = TestSegment::create("torn");
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
        let interrupted = InterruptedRegion { inner: &region, start_writer: tx, writer_done: &done };
        match take(&interrupted, None) {
            Snapshot::Torn { before, after } => {
                assert_eq!(before, (1, 100));
                assert_eq!(after, (2, 200));
            }
            other => panic!("expected torn, got {other:?}"),
        }
    });
    // The next attempt, undisturbed, gets frame 2 whole.
    let Snapshot::Frame(f) = take(&region, None) else { panic!("expected a frame") };
    assert_eq!(f.frame_count, 2);
    assert!(f.data.iter().all(|&b| b == 2));
}

#[test]
fn free_running_writer_thread_causes_detected_torn_reads_and_never_a_crash() {
    let seg = TestSegment::create("race");
    let path = seg.path.clone();
    let seg = Arc::new(std::sync::Mutex::new(seg));
    let region = Segment::open(&path).unwrap();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (seg, stop) = (seg.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut n = 1u32; // runs until the reader has seen both outcomes
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                seg.lock().unwrap().publish(n, u64::from(n) * 10);
                n = n.wrapping_add(1);
            }
        })
    };
    let (mut torn, mut frames, mut last) = (0u32, 0u32, None);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while (torn == 0 || frames == 0) && std::time::Instant::now() < deadline {
        match take(&region, last) {
            Snapshot::Torn { before, after } => {
                assert_ne!(before, after);
                torn += 1;
            }
            Snapshot::Frame(f) => {
                frames += 1;
                last = Some((f.frame_count, f.capture_ts_ns));
            }
            _ => {}
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    writer.join().unwrap();
    assert!(torn > 0, "the writer never tore a read");
    assert!(frames > 0, "no coherent frame was ever taken");
}

#[test]
fn metadata_pointing_past_the_mapping_is_refused() {
    let mut seg = TestSegment::create("oob");
    seg.publish(1, 1);
    // Claim a payload bigger than the segment.
    seg.map[0x28..0x2C].copy_from_slice(&(PAYLOAD as u32 * 4).to_le_bytes());
    let region = Segment::open(&seg.path).unwrap();
    assert!(matches!(take(&region, None), Snapshot::Invalid(_)));
}
