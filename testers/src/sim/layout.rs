//! Byte layouts a cv-mmap producer writes, implemented from the contract
//! (`cv-mmap-ipc.md` §2 "Shared-memory segment" and §3 "ZeroMQ sync").
//!
//! Everything is little-endian and packed. This module only *writes*; the
//! streamer's readers are deliberately not reused.

/// Size of the metadata block at the start of the segment (§2: bytes [0,256)).
pub const META_SIZE: usize = 256;
/// Segment magic `CV-MMAP\0` (§2).
pub const SHM_MAGIC: [u8; 8] = *b"CV-MMAP\0";
/// Size of one ZeroMQ sync message (§3).
pub const SYNC_SIZE: usize = 48;
/// Sync message magic byte (§3).
pub const SYNC_MAGIC: u8 = 0x7D;
/// Capacity of the NUL-padded label field of the sync message (§3, offset 0x18).
pub const LABEL_CAPACITY: usize = 24;

/// Depth enum value `U8` (§2 "Enums").
pub const DEPTH_U8: u8 = 0;
/// v2 plane slot 0 type `LEFT` (§2 "v2 header").
pub const PLANE_TYPE_LEFT: u8 = 0;
/// v2 plane descriptors start here (§2: `plane_descriptors_offset = 64`).
pub const V2_DESCRIPTOR_OFFSET: u16 = 64;
/// v2 plane descriptor size (§2: `plane_descriptor_size = 24`).
pub const V2_DESCRIPTOR_SIZE: u16 = 24;
/// v2 plane descriptor capacity (§2: `capacity = 4`).
pub const V2_DESCRIPTOR_CAPACITY: u16 = 4;

/// Metadata ABI: major version 1 or 2 (§2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Abi {
    /// Major 1: flat header with `buffer_size`.
    #[value(name = "v1")]
    V1,
    /// Major 2, minor 0: 64-byte header plus plane descriptors.
    #[value(name = "v2")]
    V2,
}

/// Pixel formats the simulator can produce (§2 "Enums": pixel_format).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum PixelFormat {
    Bgr,
    Rgb,
    Bgra,
    Rgba,
    Gray,
    Yuyv,
}

impl PixelFormat {
    /// The contract's `pixel_format` code: 0 RGB, 1 BGR, 2 RGBA, 3 BGRA, 4 GRAY, 6 YUYV.
    pub fn code(self) -> u8 {
        match self {
            PixelFormat::Rgb => 0,
            PixelFormat::Bgr => 1,
            PixelFormat::Rgba => 2,
            PixelFormat::Bgra => 3,
            PixelFormat::Gray => 4,
            PixelFormat::Yuyv => 6,
        }
    }

    /// Channels per pixel (§2 "Enums": 3,3,4,4,1,-,2); one byte each (depth U8).
    pub fn channels(self) -> u8 {
        match self {
            PixelFormat::Rgb | PixelFormat::Bgr => 3,
            PixelFormat::Rgba | PixelFormat::Bgra => 4,
            PixelFormat::Gray => 1,
            PixelFormat::Yuyv => 2,
        }
    }
}

/// Geometry of the single image plane the simulator publishes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    pub width: u32,
    pub height: u32,
    /// Bytes per row, `width * channels + row_padding`.
    pub stride: u32,
    pub format: PixelFormat,
}

impl Geometry {
    /// Bytes of one image: `stride * height` (v1 `buffer_size`, v2 `payload_size_bytes`).
    pub fn payload_size(&self) -> u32 {
        self.stride * self.height
    }

    /// Bytes of pixel data in one row, without padding.
    pub fn row_bytes(&self) -> u32 {
        self.width * u32::from(self.format.channels())
    }
}

/// Per-frame values written into the metadata (§2: 0x0C and 0x10 in both versions).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp {
    pub frame_count: u32,
    pub timestamp_ns: u64,
    /// v2 only (offset 0x18); ignored for v1.
    pub publish_seq: u64,
}

fn put_u16(buf: &mut [u8], off: usize, v: u16) {
    buf[off..off + 2].copy_from_slice(&v.to_le_bytes());
}

fn put_u32(buf: &mut [u8], off: usize, v: u32) {
    buf[off..off + 4].copy_from_slice(&v.to_le_bytes());
}

fn put_u64(buf: &mut [u8], off: usize, v: u64) {
    buf[off..off + 8].copy_from_slice(&v.to_le_bytes());
}

/// Builds the full 256-byte metadata block for one frame (§2 v1 / v2 tables).
///
/// v1 needs width and height to fit `u16`; the CLI validates that beforehand.
pub fn metadata(abi: Abi, geom: &Geometry, stamp: &Stamp) -> [u8; META_SIZE] {
    let mut m = [0u8; META_SIZE];
    m[0..8].copy_from_slice(&SHM_MAGIC);
    put_u32(&mut m, 0x0C, stamp.frame_count);
    put_u64(&mut m, 0x10, stamp.timestamp_ns);
    match abi {
        Abi::V1 => write_v1(&mut m, geom),
        Abi::V2 => write_v2(&mut m, geom, stamp.publish_seq),
    }
    m
}

/// §2 "v1 (major 1)": width/height u16 at 0x18/0x1A, channels 0x1C, depth 0x1D,
/// pixel_format 0x1E, buffer_size u32 at 0x20.
fn write_v1(m: &mut [u8; META_SIZE], geom: &Geometry) {
    m[0x08] = 1; // versions_major
    m[0x09] = 0; // versions_minor
    put_u16(m, 0x18, geom.width as u16);
    put_u16(m, 0x1A, geom.height as u16);
    m[0x1C] = geom.format.channels();
    m[0x1D] = DEPTH_U8;
    m[0x1E] = geom.format.code();
    put_u32(m, 0x20, geom.payload_size());
}

/// §2 "v2 header (major 2)", minor 0, one active plane in slot 0 (LEFT).
fn write_v2(m: &mut [u8; META_SIZE], geom: &Geometry, publish_seq: u64) {
    m[0x08] = 2; // versions_major
    m[0x09] = 0; // versions_minor: base layout, no encoded-AU plane
    put_u16(m, 0x0A, 0); // flags (reserved)
    put_u64(m, 0x18, publish_seq);
    m[0x20] = 1; // plane_count
    m[0x21] = 0b0001; // plane_presence_mask: contiguous (1<<1)-1
    put_u16(m, 0x22, V2_DESCRIPTOR_OFFSET);
    put_u16(m, 0x24, V2_DESCRIPTOR_SIZE);
    put_u16(m, 0x26, V2_DESCRIPTOR_CAPACITY);
    put_u32(m, 0x28, geom.payload_size());
    m[0x2C] = 0; // depth_unit unknown (no depth plane)
    // Slot 0 descriptor at 64; slots 1..3 (88, 112, 136) stay all zero.
    let d = usize::from(V2_DESCRIPTOR_OFFSET);
    m[d] = PLANE_TYPE_LEFT;
    m[d + 1] = geom.format.code();
    m[d + 2] = DEPTH_U8;
    m[d + 3] = 0;
    put_u32(m, d + 4, geom.width);
    put_u32(m, d + 8, geom.height);
    put_u32(m, d + 12, geom.stride);
    put_u32(m, d + 16, 0); // offset_bytes, relative to the payload start
    put_u32(m, d + 20, geom.payload_size());
}

/// Builds one 48-byte sync message (§3). `label` must be at most 24 bytes
/// (checked by the CLI); it is NUL-padded to the field size.
pub fn sync_message(frame_count: u32, timestamp_ns: u64, label: &[u8]) -> [u8; SYNC_SIZE] {
    debug_assert!(label.len() <= LABEL_CAPACITY);
    let mut s = [0u8; SYNC_SIZE];
    s[0] = SYNC_MAGIC;
    s[1] = 0; // reserved
    s[2] = 1; // major
    s[3] = 0; // minor
    put_u32(&mut s, 0x04, frame_count);
    // 0x08..0x10 reserved, zero
    put_u64(&mut s, 0x10, timestamp_ns);
    let n = label.len().min(LABEL_CAPACITY);
    s[0x18..0x18 + n].copy_from_slice(&label[..n]);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn geom(format: PixelFormat, padding: u32) -> Geometry {
        let width = 640;
        Geometry {
            width,
            height: 360,
            stride: width * u32::from(format.channels()) + padding,
            format,
        }
    }

    const STAMP: Stamp = Stamp {
        frame_count: 0x0102_0304,
        timestamp_ns: 0x1122_3344_5566_7788,
        publish_seq: 0x0A0B,
    };

    #[test]
    fn v1_header_bytes() {
        let m = metadata(Abi::V1, &geom(PixelFormat::Bgr, 4), &STAMP);
        assert_eq!(&m[0..8], &[0x43, 0x56, 0x2D, 0x4D, 0x4D, 0x41, 0x50, 0x00]);
        assert_eq!(m[0x08], 1);
        assert_eq!(m[0x09], 0);
        assert_eq!(&m[0x0A..0x0C], &[0, 0]);
        assert_eq!(&m[0x0C..0x10], &[0x04, 0x03, 0x02, 0x01]);
        assert_eq!(
            &m[0x10..0x18],
            &[0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11]
        );
        // width 640 = 0x0280, height 360 = 0x0168
        assert_eq!(&m[0x18..0x1C], &[0x80, 0x02, 0x68, 0x01]);
        assert_eq!(m[0x1C], 3); // channels
        assert_eq!(m[0x1D], 0); // depth U8
        assert_eq!(m[0x1E], 1); // BGR
        assert_eq!(m[0x1F], 0);
        // buffer_size = (640*3+4)*360 = 692640 = 0x000A_91A0
        assert_eq!(&m[0x20..0x24], &[0xA0, 0x91, 0x0A, 0x00]);
        assert!(m[0x24..].iter().all(|&b| b == 0));
    }

    #[test]
    fn v2_header_bytes() {
        let m = metadata(Abi::V2, &geom(PixelFormat::Rgba, 0), &STAMP);
        assert_eq!(&m[0..8], b"CV-MMAP\0");
        assert_eq!((m[0x08], m[0x09]), (2, 0));
        assert_eq!(&m[0x0A..0x0C], &[0, 0]);
        assert_eq!(&m[0x0C..0x10], &[0x04, 0x03, 0x02, 0x01]);
        assert_eq!(
            &m[0x10..0x18],
            &[0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11]
        );
        assert_eq!(&m[0x18..0x20], &[0x0B, 0x0A, 0, 0, 0, 0, 0, 0]);
        assert_eq!((m[0x20], m[0x21]), (1, 1));
        assert_eq!(&m[0x22..0x28], &[64, 0, 24, 0, 4, 0]);
        // payload = 640*4*360 = 921600 = 0x000E_1000
        assert_eq!(&m[0x28..0x2C], &[0x00, 0x10, 0x0E, 0x00]);
        assert!(m[0x2C..64].iter().all(|&b| b == 0));
        // descriptor slot 0
        assert_eq!(&m[64..68], &[0, 2, 0, 0]); // LEFT, RGBA, U8
        assert_eq!(&m[68..72], &[0x80, 0x02, 0, 0]); // width 640
        assert_eq!(&m[72..76], &[0x68, 0x01, 0, 0]); // height 360
        assert_eq!(&m[76..80], &[0x00, 0x0A, 0, 0]); // stride 2560
        assert_eq!(&m[80..84], &[0, 0, 0, 0]); // offset 0
        assert_eq!(&m[84..88], &[0x00, 0x10, 0x0E, 0x00]); // size
        assert!(m[88..].iter().all(|&b| b == 0));
    }

    #[test]
    fn v2_padding_changes_stride_and_sizes() {
        let m = metadata(Abi::V2, &geom(PixelFormat::Gray, 64), &STAMP);
        // stride 704 = 0x02C0, size 704*360 = 253440 = 0x0003_DE00
        assert_eq!(&m[76..80], &[0xC0, 0x02, 0, 0]);
        assert_eq!(&m[84..88], &[0x00, 0xDE, 0x03, 0x00]);
        assert_eq!(&m[0x28..0x2C], &[0x00, 0xDE, 0x03, 0x00]);
        assert_eq!(m[65], 4); // GRAY
    }

    #[test]
    fn sync_matches_upstream_test_vector() {
        let s = sync_message(42, 123_456_789, b"camera_0");
        let mut expected = [0u8; 48];
        expected[..8].copy_from_slice(&[0x7D, 0x00, 0x01, 0x00, 42, 0, 0, 0]);
        // 123456789 = 0x075BCD15
        expected[16..24].copy_from_slice(&[0x15, 0xCD, 0x5B, 0x07, 0, 0, 0, 0]);
        expected[24..32].copy_from_slice(b"camera_0");
        assert_eq!(s, expected);
    }

    #[test]
    fn sync_full_length_label_has_no_terminator() {
        let label = [b'x'; 24];
        let s = sync_message(1, 2, &label);
        assert_eq!(&s[24..48], &label);
    }

    #[test]
    fn format_codes_and_channels() {
        use PixelFormat::*;
        let got: Vec<(u8, u8)> = [Rgb, Bgr, Rgba, Bgra, Gray, Yuyv]
            .iter()
            .map(|f| (f.code(), f.channels()))
            .collect();
        assert_eq!(got, [(0, 3), (1, 3), (2, 4), (3, 4), (4, 1), (6, 2)]);
    }
}
