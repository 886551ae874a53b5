//! Test-only producer: a real `/dev/shm` segment written in the contract's
//! order (payload, then metadata), with headers from the contract's own
//! test builders.

use std::path::PathBuf;

use crate::contract::PAYLOAD_OFFSET;
use crate::contract::test_support::{BGR, Desc, Meta, U8, v2_header};

/// A v2 header for one BGR U8 plane of `w`x`h`, tightly packed.
pub fn bgr_header(w: u32, h: u32, frame_count: u32, ts: u64) -> [u8; 256] {
    let size = w * h * 3;
    let mut m: Meta = v2_header(0, 1, 1, size);
    m.u32(0x0C, frame_count)
        .u64(0x10, ts)
        .u64(0x18, u64::from(frame_count));
    m.desc(
        0,
        Desc {
            plane_type: 0,
            pixel_format: BGR,
            depth: U8,
            width: w,
            height: h,
            stride: w * 3,
            offset: 0,
            size,
        },
    );
    m.0
}

/// A real segment under /dev/shm, removed on drop, with a writable mapping.
pub struct TestSegment {
    pub path: PathBuf,
    pub map: memmap2::MmapMut,
    pub width: u32,
    pub height: u32,
}

impl TestSegment {
    /// Creates (or re-creates: unlink + create, a new inode) the segment.
    pub fn create(name: &str, width: u32, height: u32) -> Self {
        let path = PathBuf::from(format!("/dev/shm/{name}"));
        let _ = std::fs::remove_file(&path);
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .unwrap();
        f.set_len((PAYLOAD_OFFSET + (width * height * 3) as usize) as u64)
            .unwrap();
        let map = unsafe { memmap2::MmapMut::map_mut(&f) }.unwrap();
        Self {
            path,
            map,
            width,
            height,
        }
    }

    /// Resizes in place (same inode, `ftruncate`) and remaps, as a producer
    /// does for bigger frames.
    pub fn resize_in_place(&mut self, width: u32, height: u32) {
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&self.path)
            .unwrap();
        f.set_len((PAYLOAD_OFFSET + (width * height * 3) as usize) as u64)
            .unwrap();
        self.map = unsafe { memmap2::MmapMut::map_mut(&f) }.unwrap();
        (self.width, self.height) = (width, height);
    }

    /// Producer order (contract §2): payload, then metadata. Every payload
    /// byte is the low byte of the frame counter.
    pub fn publish(&mut self, frame_count: u32, ts: u64) {
        let len = (self.width * self.height * 3) as usize;
        self.map[PAYLOAD_OFFSET..PAYLOAD_OFFSET + len].fill(frame_count as u8);
        let header = bgr_header(self.width, self.height, frame_count, ts);
        self.map[..256].copy_from_slice(&header);
    }

    /// [`TestSegment::publish`], writing the payload a row at a time with
    /// `pause` between rows: a producer whose payload write takes as long
    /// as a consumer's copy, so that copies overlap it under an unchanged
    /// counter (what the payload samples must catch).
    pub fn publish_by_rows(&mut self, frame_count: u32, ts: u64, pause: impl Fn()) {
        let row = (self.width * 3) as usize;
        for r in 0..self.height as usize {
            let at = PAYLOAD_OFFSET + r * row;
            self.map[at..at + row].fill(frame_count as u8);
            pause();
        }
        let header = bgr_header(self.width, self.height, frame_count, ts);
        self.map[..256].copy_from_slice(&header);
    }
}

impl Drop for TestSegment {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
