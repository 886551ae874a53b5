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
/// v2 plane slot 3 type `ENCODED_ACCESS_UNIT` (§2, minor >= 1).
pub const PLANE_TYPE_ENCODED_AU: u8 = 3;
/// Slot 3 `pixel_format`: the AU plane is described as GRAY/U8 bytes (§2).
pub const PIXEL_FORMAT_GRAY: u8 = 4;
/// Extension `bitstream_format` 1 = Annex B (§2, 0x2D extension).
pub const BITSTREAM_ANNEX_B: u8 = 1;
/// Extension `flags` bit 0: the access unit is a keyframe (§2, 0x2D extension).
pub const AU_FLAG_KEYFRAME: u16 = 0x0001;

/// Metadata ABI: major version 1 or 2 (§2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Abi {
    /// Major 1: flat header with `buffer_size`.
    #[value(name = "v1")]
    V1,
    /// Major 2, minor 0: 64-byte header plus plane descriptors.
    #[value(name = "v2")]
    V2,
    /// Major 2, minor 1: v2 plus an encoded access unit in plane slot 3 and the
    /// encoded-AU extension fields at 0x2D.
    #[value(name = "v2.1")]
    V2_1,
}

/// Codec of the encoded-AU plane (§2, extension `codec` at 0x2D).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Codec {
    H264,
    H265,
}

impl Codec {
    /// The contract's `codec` code: 1 H.264, 2 H.265.
    pub fn code(self) -> u8 {
        match self {
            Codec::H264 => 1,
            Codec::H265 => 2,
        }
    }
}

/// Frame rate as the u16/u16 fraction of the v2.1 extension (0x31, 0x33).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameRate {
    pub num: u16,
    pub den: u16,
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

impl FrameRate {
    /// Whole rates become `fps/1`; fractional ones `round(fps*1000)/1000`
    /// (29.97 gives 29970/1000), reduced only when that does not fit u16.
    /// `None` when the rate cannot be expressed in two u16.
    pub fn from_fps(fps: f64) -> Option<Self> {
        if !(fps.is_finite() && fps > 0.0) {
            return None;
        }
        let (mut num, mut den) = if fps.fract() == 0.0 {
            (fps as u64, 1)
        } else {
            ((fps * 1000.0).round() as u64, 1000)
        };
        if num > u64::from(u16::MAX) {
            let g = gcd(num, den);
            (num, den) = (num / g, den / g);
        }
        Some(Self {
            num: u16::try_from(num).ok().filter(|&n| n > 0)?,
            den: u16::try_from(den).ok()?,
        })
    }

    /// Presentation time of frame `f` since the first frame, `f * 1e9 * den / num`
    /// nanoseconds, rounded down (GStreamer's `uint64_scale` convention).
    pub fn pts_ns(self, f: u64) -> u64 {
        let ns = u128::from(f) * 1_000_000_000 * u128::from(self.den) / u128::from(self.num);
        ns.min(u128::from(u64::MAX)) as u64
    }
}

/// What the v2.1 header says about the access unit of one frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuMeta {
    pub codec: Codec,
    /// Bytes of the Annex-B access unit (slot 3 width = stride = size).
    pub len: u32,
    pub keyframe: bool,
    pub frame_rate: FrameRate,
    /// Presentation time since the first frame (extension 0x35).
    pub stream_pts_ns: u64,
}

/// Which metadata layout to write; v2.1 carries its access unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Header<'a> {
    V1,
    V2,
    V2_1(&'a AuMeta),
}

/// Pixel formats the simulator can produce (§2 "Enums": pixel_format).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum PixelFormat {
    Bgr,
    Rgb,
    Bgra,
    Rgba,
    Gray,
    /// Packed 4:4:4 `Y U V` per pixel, BT.601 limited range.
    Yuv,
    Yuyv,
}

impl PixelFormat {
    /// The contract's `pixel_format` code: 0 RGB, 1 BGR, 2 RGBA, 3 BGRA, 4 GRAY, 5 YUV, 6 YUYV.
    pub fn code(self) -> u8 {
        match self {
            PixelFormat::Rgb => 0,
            PixelFormat::Bgr => 1,
            PixelFormat::Rgba => 2,
            PixelFormat::Bgra => 3,
            PixelFormat::Gray => 4,
            PixelFormat::Yuv => 5,
            PixelFormat::Yuyv => 6,
        }
    }

    /// Channels per pixel (§2 "Enums": 3,3,4,4,1,3,2); one byte each (depth U8).
    pub fn channels(self) -> u8 {
        match self {
            PixelFormat::Rgb | PixelFormat::Bgr | PixelFormat::Yuv => 3,
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
/// v1 needs width and height to fit `u16`, v2.1 the raw plane plus the access
/// unit to fit the u32 `payload_size_bytes`; the caller checks both beforehand.
pub fn metadata(header: Header<'_>, geom: &Geometry, stamp: &Stamp) -> [u8; META_SIZE] {
    let mut m = [0u8; META_SIZE];
    m[0..8].copy_from_slice(&SHM_MAGIC);
    put_u32(&mut m, 0x0C, stamp.frame_count);
    put_u64(&mut m, 0x10, stamp.timestamp_ns);
    match header {
        Header::V1 => write_v1(&mut m, geom),
        Header::V2 => write_v2(&mut m, geom, stamp.publish_seq),
        Header::V2_1(au) => write_v2_1(&mut m, geom, stamp.publish_seq, au),
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

/// §2 "v2 header", minor 1: the v2 LEFT plane in slot 0, the Annex-B access
/// unit right behind it in slot 3 (sparse mask 0b1001), and the encoded-AU
/// extension in the 19 bytes at 0x2D.
fn write_v2_1(m: &mut [u8; META_SIZE], geom: &Geometry, publish_seq: u64, au: &AuMeta) {
    write_v2(m, geom, publish_seq);
    let raw = geom.payload_size();
    m[0x09] = 1; // versions_minor: encoded-AU plane present
    m[0x20] = 2; // plane_count = popcount(mask)
    m[0x21] = 0b1001; // slot 0 LEFT + slot 3 ENCODED_ACCESS_UNIT
    put_u32(m, 0x28, raw + au.len); // payload_size_bytes: both planes
    // Extension (19 bytes, 0x2D..0x40).
    m[0x2D] = au.codec.code();
    m[0x2E] = BITSTREAM_ANNEX_B;
    put_u16(m, 0x2F, if au.keyframe { AU_FLAG_KEYFRAME } else { 0 });
    put_u16(m, 0x31, au.frame_rate.num);
    put_u16(m, 0x33, au.frame_rate.den);
    put_u64(m, 0x35, au.stream_pts_ns);
    // 0x3D..0x40 reserved, zero.
    // Slot 3 descriptor at 64 + 3*24 = 136; slots 1 and 2 stay all zero.
    let d = usize::from(V2_DESCRIPTOR_OFFSET) + 3 * usize::from(V2_DESCRIPTOR_SIZE);
    m[d] = PLANE_TYPE_ENCODED_AU;
    m[d + 1] = PIXEL_FORMAT_GRAY;
    m[d + 2] = DEPTH_U8;
    m[d + 3] = 0;
    put_u32(m, d + 4, au.len); // width
    put_u32(m, d + 8, 1); // height
    put_u32(m, d + 12, au.len); // stride_bytes
    put_u32(m, d + 16, raw); // offset_bytes: packed right after slot 0
    put_u32(m, d + 20, au.len); // size_bytes
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
        let m = metadata(Header::V1, &geom(PixelFormat::Bgr, 4), &STAMP);
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
        let m = metadata(Header::V2, &geom(PixelFormat::Rgba, 0), &STAMP);
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
        let m = metadata(Header::V2, &geom(PixelFormat::Gray, 64), &STAMP);
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
        let got: Vec<(u8, u8)> = [Rgb, Bgr, Rgba, Bgra, Gray, Yuv, Yuyv]
            .iter()
            .map(|f| (f.code(), f.channels()))
            .collect();
        assert_eq!(
            got,
            [(0, 3), (1, 3), (2, 4), (3, 4), (4, 1), (5, 3), (6, 2)]
        );
        assert_eq!((Codec::H264.code(), Codec::H265.code()), (1, 2));
    }

    #[test]
    fn v2_1_header_bytes() {
        // BGR 640x360, stride 1920: slot 0 = 691200 bytes = 0x000A_8C00.
        let au = AuMeta {
            codec: Codec::H265,
            len: 0x1234,
            keyframe: true,
            frame_rate: FrameRate {
                num: 30000,
                den: 1001,
            },
            stream_pts_ns: 0x0102_0304_0506_0708,
        };
        let m = metadata(Header::V2_1(&au), &geom(PixelFormat::Bgr, 0), &STAMP);
        assert_eq!(&m[0..8], b"CV-MMAP\0");
        assert_eq!((m[0x08], m[0x09]), (2, 1), "major 2, minor 1");
        assert_eq!(&m[0x0A..0x0C], &[0, 0], "flags");
        assert_eq!(&m[0x0C..0x10], &[0x04, 0x03, 0x02, 0x01], "frame_id");
        assert_eq!(
            &m[0x10..0x18],
            &[0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11]
        );
        assert_eq!(
            &m[0x18..0x20],
            &[0x0B, 0x0A, 0, 0, 0, 0, 0, 0],
            "publish_seq"
        );
        assert_eq!(m[0x20], 2, "plane_count");
        assert_eq!(m[0x21], 0b1001, "plane_presence_mask");
        assert_eq!(&m[0x22..0x28], &[64, 0, 24, 0, 4, 0]);
        // payload = 691200 + 4660 = 695860 = 0x000A_9E34
        assert_eq!(&m[0x28..0x2C], &[0x34, 0x9E, 0x0A, 0x00]);
        assert_eq!(m[0x2C], 0, "depth_unit");
        // Extension: codec, bitstream_format, flags, num, den, pts, 3 reserved.
        assert_eq!(m[0x2D], 2, "codec H.265");
        assert_eq!(m[0x2E], 1, "Annex B");
        assert_eq!(&m[0x2F..0x31], &[0x01, 0x00], "flags: keyframe");
        assert_eq!(&m[0x31..0x33], &[0x30, 0x75], "frame_rate_num 30000");
        assert_eq!(&m[0x33..0x35], &[0xE9, 0x03], "frame_rate_den 1001");
        assert_eq!(
            &m[0x35..0x3D],
            &[0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01],
            "stream_pts_ns"
        );
        assert_eq!(&m[0x3D..0x40], &[0, 0, 0], "reserved");
        // Slot 0: LEFT, BGR, U8, 640, 360, 1920, offset 0, size 691200.
        assert_eq!(&m[64..68], &[0, 1, 0, 0]);
        assert_eq!(&m[68..72], &[0x80, 0x02, 0, 0]);
        assert_eq!(&m[72..76], &[0x68, 0x01, 0, 0]);
        assert_eq!(&m[76..80], &[0x80, 0x07, 0, 0]);
        assert_eq!(&m[80..84], &[0, 0, 0, 0]);
        assert_eq!(&m[84..88], &[0x00, 0x8C, 0x0A, 0x00]);
        // Slots 1 and 2 all zero.
        assert!(m[88..136].iter().all(|&b| b == 0));
        // Slot 3: ENCODED_AU, GRAY, U8, width 0x1234, height 1, stride 0x1234,
        // offset 691200, size 0x1234.
        assert_eq!(&m[136..140], &[3, 4, 0, 0]);
        assert_eq!(&m[140..144], &[0x34, 0x12, 0, 0]);
        assert_eq!(&m[144..148], &[1, 0, 0, 0]);
        assert_eq!(&m[148..152], &[0x34, 0x12, 0, 0]);
        assert_eq!(&m[152..156], &[0x00, 0x8C, 0x0A, 0x00]);
        assert_eq!(&m[156..160], &[0x34, 0x12, 0, 0]);
        assert!(m[160..].iter().all(|&b| b == 0), "padding");
    }

    #[test]
    fn v2_1_delta_frame_clears_keyframe_flag() {
        let au = AuMeta {
            codec: Codec::H264,
            len: 7,
            keyframe: false,
            frame_rate: FrameRate { num: 30, den: 1 },
            stream_pts_ns: 33_333_333,
        };
        let m = metadata(Header::V2_1(&au), &geom(PixelFormat::Gray, 0), &STAMP);
        assert_eq!(m[0x2D], 1, "codec H.264");
        assert_eq!(&m[0x2F..0x31], &[0, 0]);
        assert_eq!(&m[0x31..0x35], &[30, 0, 1, 0]);
        // 33333333 = 0x01FC_A055
        assert_eq!(&m[0x35..0x3D], &[0x55, 0xA0, 0xFC, 0x01, 0, 0, 0, 0]);
        // Slot 3 offset = 640*360 = 230400 = 0x0003_8400
        assert_eq!(&m[152..156], &[0x00, 0x84, 0x03, 0x00]);
    }

    #[test]
    fn frame_rate_fractions() {
        let fr = |fps| FrameRate::from_fps(fps).map(|f| (f.num, f.den));
        assert_eq!(fr(30.0), Some((30, 1)));
        assert_eq!(fr(29.97), Some((29970, 1000)));
        assert_eq!(fr(7.5), Some((7500, 1000)));
        // 120.5 -> 120500/1000 does not fit u16; reduced to 241/2.
        assert_eq!(fr(120.5), Some((241, 2)));
        assert_eq!(fr(65535.0), Some((65535, 1)));
        assert_eq!(fr(70000.0), None);
        assert_eq!(fr(0.0001), None, "rounds to 0/1000");
        let f30 = FrameRate { num: 30, den: 1 };
        assert_eq!(f30.pts_ns(0), 0);
        assert_eq!(f30.pts_ns(1), 33_333_333);
        assert_eq!(f30.pts_ns(3), 100_000_000);
        let ntsc = FrameRate {
            num: 29970,
            den: 1000,
        };
        assert_eq!(ntsc.pts_ns(1), 33_366_700);
    }
}
