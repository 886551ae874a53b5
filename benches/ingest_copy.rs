//! The copy out of shared memory, side by side on the same segment bytes.
//! Run it with `cargo bench --bench ingest_copy`.
//!
//! Issue 13 replaced the mapped copy (a memcpy out of an `mmap` of the
//! segment, which a producer shrinking its segment in place turned into
//! SIGBUS) with `pread` on the held descriptor, and added 16 x 64 B re-reads
//! of the payload after each copy (a rewrite in progress under an unchanged
//! counter). The three functions per size:
//!
//! - `mapped_copy` (the old copy, baseline): the plane copied out of the
//!   mapping into a new `Vec`, as the old snapshot did;
//! - `pread_copy`: the plane read into a new `Vec` with `pread`;
//! - `pread_reused`: the plane read with `pread` into one buffer kept across
//!   iterations (what the frame pool of issue 14 gives);
//! - `snapshot_take`: the whole path for a raw frame
//!   (`snapshot::take_announced` over the `Segment`): metadata, the plane
//!   into a pooled buffer, the sample re-reads, metadata again;
//! - `snapshot_take_i420`: the same, converting to I420 in place from the
//!   guarded mapping (issue 14: what a software encoder gets), to compare
//!   with `snapshot_take` plus the conversion (`benches/convert.rs`);
//! - `snapshot_take_i420_2threads`: the same with the conversion split in
//!   two bands of rows, the second on a helper thread (`ingest::bands`,
//!   the default on two cores): wall time per frame is the latency the
//!   frame spends here;
//! - `..._after_write`: both, each take right after the frame was written
//!   anew through a writable mapping (untimed), as a producer does: the
//!   bytes are not all in the reading core's caches, as in a live run.
//!
//! Throughput counts plane bytes. The segment is a v1 BGR frame in
//! /dev/shm written once at start-up (contract §2 offsets, by hand).

use std::fs::File;
use std::hint::black_box;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use cvmmap_streamer::ingest::FramePool;
use cvmmap_streamer::ingest::bench_hooks::{Bands, Segment, Snapshot, Want, take_announced};

const METADATA: usize = 256;

/// Writes a v1 BGR frame of `width` x `height` and returns its path.
fn segment(width: u16, height: u16) -> PathBuf {
    let plane = usize::from(width) * usize::from(height) * 3;
    let path = PathBuf::from(format!(
        "/dev/shm/cvmst_bench_{}_{width}x{height}",
        std::process::id()
    ));
    let mut bytes = vec![0u8; METADATA + plane];
    bytes[..8].copy_from_slice(b"CV-MMAP\0");
    bytes[0x08] = 1; // major
    bytes[0x0C..0x10].copy_from_slice(&7u32.to_le_bytes()); // frame_count
    bytes[0x10..0x18].copy_from_slice(&1_000_000_007u64.to_le_bytes()); // timestamp_ns
    bytes[0x18..0x1A].copy_from_slice(&width.to_le_bytes());
    bytes[0x1A..0x1C].copy_from_slice(&height.to_le_bytes());
    bytes[0x1C] = 3; // channels
    bytes[0x1E] = 1; // pixel_format BGR
    bytes[0x20..0x24].copy_from_slice(&(plane as u32).to_le_bytes()); // buffer_size
    for (i, b) in bytes[METADATA..].iter_mut().enumerate() {
        *b = (i * 7 % 251) as u8;
    }
    std::fs::write(&path, &bytes).expect("write the segment");
    path
}

fn benches(c: &mut Criterion) {
    let single = Bands::single();
    let two = Bands::new(2);
    for (width, height) in [(640u16, 360u16), (1280, 720), (1920, 1080)] {
        let path = segment(width, height);
        let plane = usize::from(width) * usize::from(height) * 3;
        let file = File::open(&path).unwrap();
        // SAFETY: the file is ours and nothing truncates it during the run.
        let map = unsafe { memmap2::Mmap::map(&file) }.unwrap();
        let seg = Segment::open(&path).unwrap();
        let pool = FramePool::new();
        match take_announced(&seg, None, None, None, &pool, &single, Want::default()) {
            Snapshot::Frame(f) => assert_eq!(&f.data[..], &map[METADATA..METADATA + plane]),
            other => panic!("the segment does not give a frame: {other:?}"),
        }

        let mut group = c.benchmark_group(format!("ingest_copy_{width}x{height}"));
        group.throughput(Throughput::Bytes(plane as u64));
        group.bench_function("mapped_copy", |b| {
            b.iter(|| black_box(map[METADATA..METADATA + plane].to_vec()))
        });
        group.bench_function("pread_copy", |b| {
            b.iter(|| {
                let mut dst = vec![0u8; plane];
                file.read_exact_at(&mut dst, METADATA as u64).unwrap();
                black_box(dst)
            })
        });
        group.bench_function("pread_reused", |b| {
            let mut dst = vec![0u8; plane];
            b.iter(|| {
                file.read_exact_at(&mut dst, METADATA as u64).unwrap();
                black_box(&dst);
            })
        });
        group.bench_function("snapshot_take", |b| {
            b.iter(|| {
                black_box(take_announced(
                    &seg,
                    None,
                    None,
                    None,
                    &pool,
                    &single,
                    Want::default(),
                ))
            })
        });
        let i420 = Want {
            i420: true,
            stamps: false,
            aux: false,
        };
        for (name, bands) in [
            ("snapshot_take_i420", &single),
            ("snapshot_take_i420_2threads", &two),
        ] {
            group.bench_function(name, |b| {
                b.iter(|| black_box(take_announced(&seg, None, None, None, &pool, bands, i420)))
            });
        }
        // As in a live run: the producer has just written the frame (here
        // from this thread, untimed), so the take reads bytes that are
        // not all in this core's caches.
        let writable = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        // SAFETY: our own file, written only here.
        let mut producer = unsafe { memmap2::MmapMut::map_mut(&writable) }.unwrap();
        let frames: Vec<Vec<u8>> = (0..2u8)
            .map(|k| (0..plane).map(|i| (i * 7 % 251) as u8 ^ k).collect())
            .collect();
        let mut n = 0usize;
        for (name, bands) in [
            ("snapshot_take_i420_after_write", &single),
            ("snapshot_take_i420_2threads_after_write", &two),
        ] {
            group.bench_function(name, |b| {
                b.iter_batched(
                    || {
                        n += 1;
                        producer[METADATA..METADATA + plane].copy_from_slice(&frames[n % 2]);
                    },
                    |()| black_box(take_announced(&seg, None, None, None, &pool, bands, i420)),
                    criterion::BatchSize::PerIteration,
                )
            });
        }
        group.finish();
        std::fs::remove_file(&path).ok();
    }
}

criterion_group!(ingest_copy, benches);
criterion_main!(ingest_copy);
