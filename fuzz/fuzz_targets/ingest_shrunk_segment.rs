//! A producer that shrinks its segment in place between the metadata read
//! and the copy (contract §2 allows re-initialising with another size):
//! `snapshot::take_announced` over a real /dev/shm mapping, converting to
//! I420 in bands on two threads (`ingest::bands`) under the SIGBUS guard.
//!
//! Input: byte 0 the pixel format (mod 7), bytes 1..3 and 3..5 the width
//! and height (u16 LE, bounded to 1920x1088 so an iteration stays short),
//! bytes 5..9 where the file is cut (u32 LE, modulo its size), the rest the
//! frame's first bytes.
//!
//! Not a check of the guard's compiled form: a build of the guard with
//! plain thread-local cells died of SIGBUS in release (the optimiser dropped
//! the range store as dead; see `ingest::guard`), but ran 19 k inputs here
//! without a crash, since libFuzzer's coverage callbacks between statements
//! keep the stores. The guard's own unit tests catch that, in a release
//! build (`cargo test --release --lib ingest::`).
//!
//! Invariants: no signal, no panic; a cut inside the video plane never
//! yields a frame (the read faulted: `OutOfBounds`); a cut past it yields
//! the frame.
#![no_main]

use std::cell::RefCell;
use std::os::unix::fs::FileExt;

use cvmmap_streamer::ingest::FramePool;
use cvmmap_streamer::ingest::bench_hooks::{Bands, Segment, Snapshot, Want, take_announced};
use libfuzzer_sys::fuzz_target;

const METADATA: usize = 256;
/// The contract's channel count per v1 pixel format code (0..=6).
const CHANNELS: [u8; 7] = [3, 3, 4, 4, 1, 3, 2];

thread_local! {
    static BANDS: Bands = Bands::new(2);
    static POOL: RefCell<Option<std::sync::Arc<FramePool>>> = const { RefCell::new(None) };
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 9 {
        return;
    }
    let format = data[0] % 7;
    let width = u16::from_le_bytes([data[1], data[2]]) % 1921;
    let height = u16::from_le_bytes([data[3], data[4]]) % 1089;
    if width == 0 || height == 0 {
        return;
    }
    let plane = usize::from(width) * usize::from(height) * usize::from(CHANNELS[usize::from(format)]);
    let size = METADATA + plane;
    let cut = u32::from_le_bytes([data[5], data[6], data[7], data[8]]) as usize % (size + 1);

    let mut meta = [0u8; METADATA];
    meta[..8].copy_from_slice(b"CV-MMAP\0");
    meta[0x08] = 1; // v1
    meta[0x0C..0x10].copy_from_slice(&1u32.to_le_bytes()); // frame_count
    meta[0x10..0x18].copy_from_slice(&5u64.to_le_bytes()); // timestamp_ns
    meta[0x18..0x1A].copy_from_slice(&width.to_le_bytes());
    meta[0x1A..0x1C].copy_from_slice(&height.to_le_bytes());
    meta[0x1C] = CHANNELS[usize::from(format)];
    meta[0x1E] = format;
    meta[0x20..0x24].copy_from_slice(&(plane as u32).to_le_bytes());

    let path = format!("/dev/shm/cvmst_fuzz_shrink_{}", std::process::id());
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .expect("create the segment");
    file.set_len(size as u64).expect("size the segment");
    file.write_at(&meta, 0).expect("write the metadata");
    file.write_at(&data[9..data.len().min(9 + plane)], METADATA as u64)
        .expect("write the frame");
    let seg = Segment::open(std::path::Path::new(&path)).expect("map the segment");
    // The producer re-initialises smaller while we are about to read.
    file.set_len(cut as u64).expect("cut the segment");
    let pool = POOL.with(|p| p.borrow_mut().get_or_insert_with(FramePool::new).clone());
    let want = Want {
        i420: true,
        stamps: false,
        aux: false,
    };
    let got = BANDS.with(|bands| take_announced(&seg, None, None, None, &pool, bands, want));
    // Pages are whole: a cut inside the page holding the plane's last byte
    // still leaves that page readable (zeros past the cut), so only a cut
    // before the page of the plane's end is sure to fault.
    let page = 4096;
    let last_page = (size - 1) / page * page;
    if cut < last_page.max(METADATA) && cut >= METADATA {
        assert!(
            !matches!(got, Snapshot::Frame(_)),
            "cut at {cut} of {size}: a frame came out of a faulted read"
        );
    }
    if cut == size {
        assert!(matches!(got, Snapshot::Frame(_)), "uncut segment: {got:?}");
    }
    drop(seg);
    std::fs::remove_file(&path).ok();
});
