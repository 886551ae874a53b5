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
/// Depth enum value `F32` (§2 "Enums"), 4 bytes per sample.
pub const DEPTH_F32: u8 = 5;
/// v2 plane slot 0 type `LEFT` (§2 "v2 header").
pub const PLANE_TYPE_LEFT: u8 = 0;
/// v2 plane slot 1 type `DEPTH` (§2 "v2 header": GRAY/F32).
pub const PLANE_TYPE_DEPTH: u8 = 1;
/// v2 plane slot 2 type `CONFIDENCE` (§2 "v2 header": GRAY/F32).
pub const PLANE_TYPE_CONFIDENCE: u8 = 2;
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

/// Unit of the DEPTH plane's F32 samples (§2, `depth_unit` at 0x2C).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum DepthUnit {
    /// Millimetres, `depth_unit` 1.
    #[value(name = "mm")]
    Millimetre,
    /// Metres, `depth_unit` 2.
    #[value(name = "m")]
    Metre,
}

impl DepthUnit {
    /// The contract's `depth_unit` code: 1 millimetre, 2 metre (0 = unknown
    /// is written when there is no DEPTH plane).
    pub fn code(self) -> u8 {
        match self {
            DepthUnit::Millimetre => 1,
            DepthUnit::Metre => 2,
        }
    }

    /// The CLI spelling, `mm` or `m`.
    pub fn name(self) -> &'static str {
        match self {
            DepthUnit::Millimetre => "mm",
            DepthUnit::Metre => "m",
        }
    }
}

/// The optional F32 planes of the v2 layout (§2): DEPTH in slot 1 and
/// CONFIDENCE in slot 2, each GRAY/F32 with the LEFT plane's width and
/// height and stride `width * 4`, packed back to back right after the LEFT
/// plane in slot order (and before a v2.1 access unit).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FloatPlanes {
    /// `--depth-unit`: a DEPTH plane in this unit.
    pub depth: Option<DepthUnit>,
    /// `--confidence`: a CONFIDENCE plane (values 0..=100).
    pub confidence: bool,
}

impl FloatPlanes {
    /// Neither plane: the LEFT-only layout.
    pub const NONE: Self = Self {
        depth: None,
        confidence: false,
    };

    /// Number of float planes (0..=2).
    pub fn count(self) -> u32 {
        u32::from(self.depth.is_some()) + u32::from(self.confidence)
    }

    /// Bytes of one F32 plane of `width x height`: `width * 4 * height`.
    pub fn plane_bytes(width: u32, height: u32) -> u64 {
        u64::from(width) * 4 * u64::from(height)
    }

    /// Bytes of all float planes of `width x height`.
    pub fn bytes(self, width: u32, height: u32) -> u64 {
        u64::from(self.count()) * Self::plane_bytes(width, height)
    }

    /// Raw payload bytes of a frame: the LEFT plane plus the float planes
    /// (v2 `payload_size_bytes`; v2.1 adds the access unit behind them).
    pub fn raw_size(self, geom: &Geometry) -> u64 {
        u64::from(geom.payload_size()) + self.bytes(geom.width, geom.height)
    }
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

/// Builds the full 256-byte metadata block for one frame (§2 v1 / v2 tables)
/// with the LEFT plane only; see [`metadata_with_planes`].
pub fn metadata(header: Header<'_>, geom: &Geometry, stamp: &Stamp) -> [u8; META_SIZE] {
    metadata_with_planes(header, geom, FloatPlanes::NONE, stamp)
}

/// Builds the full 256-byte metadata block for one frame (§2 v1 / v2 tables),
/// with the float planes `planes` in slots 1 and 2 (v2 and v2.1 only).
///
/// v1 needs width and height to fit `u16` and no float planes, v2 minor 0 a
/// contiguous mask (CONFIDENCE only with DEPTH), v2.1 all planes plus the
/// access unit to fit the u32 `payload_size_bytes`; the caller checks all
/// of it beforehand (the CLI does).
pub fn metadata_with_planes(
    header: Header<'_>,
    geom: &Geometry,
    planes: FloatPlanes,
    stamp: &Stamp,
) -> [u8; META_SIZE] {
    let mut m = [0u8; META_SIZE];
    m[0..8].copy_from_slice(&SHM_MAGIC);
    put_u32(&mut m, 0x0C, stamp.frame_count);
    put_u64(&mut m, 0x10, stamp.timestamp_ns);
    match header {
        Header::V1 => {
            debug_assert_eq!(planes, FloatPlanes::NONE, "v1 has no float planes");
            write_v1(&mut m, geom);
        }
        Header::V2 => {
            debug_assert!(planes.depth.is_some() || !planes.confidence, "minor 0 mask");
            write_v2(&mut m, geom, planes, stamp.publish_seq, None);
        }
        Header::V2_1(au) => write_v2(&mut m, geom, planes, stamp.publish_seq, Some(au)),
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

/// One 24-byte v2 plane descriptor (§2): plane_type, pixel_format, depth,
/// reserved, then u32 width, height, stride_bytes, offset_bytes, size_bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlaneDescriptor {
    pub plane_type: u8,
    pub pixel_format: u8,
    pub depth: u8,
    pub width: u32,
    pub height: u32,
    pub stride: u32,
    /// Relative to the payload start (256).
    pub offset: u32,
    pub size: u32,
}

impl PlaneDescriptor {
    fn write(&self, m: &mut [u8; META_SIZE], slot: usize) {
        let d = usize::from(V2_DESCRIPTOR_OFFSET) + slot * usize::from(V2_DESCRIPTOR_SIZE);
        m[d] = self.plane_type;
        m[d + 1] = self.pixel_format;
        m[d + 2] = self.depth;
        m[d + 3] = 0;
        put_u32(m, d + 4, self.width);
        put_u32(m, d + 8, self.height);
        put_u32(m, d + 12, self.stride);
        put_u32(m, d + 16, self.offset);
        put_u32(m, d + 20, self.size);
    }
}

/// The active v2 descriptors by slot (§2: 0 LEFT, 1 DEPTH, 2 CONFIDENCE,
/// 3 ENCODED_ACCESS_UNIT), packed back to back from offset 0 in slot order;
/// inactive slots are `None` (written as all zero).
pub fn v2_planes(
    geom: &Geometry,
    planes: FloatPlanes,
    au_len: Option<u32>,
) -> [Option<PlaneDescriptor>; 4] {
    let mut slots = [None; 4];
    let mut offset = 0u32;
    let mut push = |slot: usize, d: PlaneDescriptor| {
        slots[slot] = Some(PlaneDescriptor { offset, ..d });
        offset += d.size;
    };
    push(
        0,
        PlaneDescriptor {
            plane_type: PLANE_TYPE_LEFT,
            pixel_format: geom.format.code(),
            depth: DEPTH_U8,
            width: geom.width,
            height: geom.height,
            stride: geom.stride,
            offset: 0,
            size: geom.payload_size(),
        },
    );
    let float = |plane_type| PlaneDescriptor {
        plane_type,
        pixel_format: PIXEL_FORMAT_GRAY,
        depth: DEPTH_F32,
        width: geom.width,
        height: geom.height,
        stride: geom.width * 4,
        offset: 0,
        size: FloatPlanes::plane_bytes(geom.width, geom.height) as u32,
    };
    if planes.depth.is_some() {
        push(1, float(PLANE_TYPE_DEPTH));
    }
    if planes.confidence {
        push(2, float(PLANE_TYPE_CONFIDENCE));
    }
    if let Some(len) = au_len {
        push(
            3,
            PlaneDescriptor {
                plane_type: PLANE_TYPE_ENCODED_AU,
                pixel_format: PIXEL_FORMAT_GRAY,
                depth: DEPTH_U8,
                width: len,
                height: 1,
                stride: len,
                offset: 0,
                size: len,
            },
        );
    }
    slots
}

/// §2 "v2 header (major 2)": minor 0 (`au` is `None`) with the LEFT plane
/// and the float planes (contiguous mask), or minor 1 with the Annex-B access
/// unit in slot 3 behind them (sparse mask allowed) and the encoded-AU
/// extension in the 19 bytes at 0x2D.
fn write_v2(
    m: &mut [u8; META_SIZE],
    geom: &Geometry,
    planes: FloatPlanes,
    publish_seq: u64,
    au: Option<&AuMeta>,
) {
    let slots = v2_planes(geom, planes, au.map(|a| a.len));
    let mask = slots
        .iter()
        .enumerate()
        .filter(|(_, d)| d.is_some())
        .fold(0u8, |mask, (slot, _)| mask | 1 << slot);
    let payload = slots.iter().flatten().map(|d| d.offset + d.size).max();
    m[0x08] = 2; // versions_major
    m[0x09] = u8::from(au.is_some()); // versions_minor: 1 = encoded-AU plane present
    put_u16(m, 0x0A, 0); // flags (reserved)
    put_u64(m, 0x18, publish_seq);
    m[0x20] = mask.count_ones() as u8; // plane_count = popcount(mask)
    m[0x21] = mask; // plane_presence_mask
    put_u16(m, 0x22, V2_DESCRIPTOR_OFFSET);
    put_u16(m, 0x24, V2_DESCRIPTOR_SIZE);
    put_u16(m, 0x26, V2_DESCRIPTOR_CAPACITY);
    put_u32(m, 0x28, payload.unwrap_or(0)); // payload_size_bytes: all planes
    m[0x2C] = planes.depth.map_or(0, DepthUnit::code); // 0 unknown without depth
    if let Some(au) = au {
        // Extension (19 bytes, 0x2D..0x40).
        m[0x2D] = au.codec.code();
        m[0x2E] = BITSTREAM_ANNEX_B;
        put_u16(m, 0x2F, if au.keyframe { AU_FLAG_KEYFRAME } else { 0 });
        put_u16(m, 0x31, au.frame_rate.num);
        put_u16(m, 0x33, au.frame_rate.den);
        put_u64(m, 0x35, au.stream_pts_ns);
        // 0x3D..0x40 reserved, zero.
    }
    // Descriptors at 64, 88, 112, 136; inactive ones stay all zero.
    for (slot, d) in slots.iter().enumerate() {
        if let Some(d) = d {
            d.write(m, slot);
        }
    }
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

    fn u32_at(m: &[u8], at: usize) -> u32 {
        u32::from_le_bytes(m[at..at + 4].try_into().unwrap())
    }

    /// Slot `slot`'s descriptor as (type, format, depth, reserved, w, h, stride, offset, size).
    fn desc(m: &[u8], slot: usize) -> ([u8; 4], [u32; 5]) {
        let d = 64 + 24 * slot;
        let f = |i: usize| u32_at(m, d + 4 + 4 * i);
        (
            m[d..d + 4].try_into().unwrap(),
            [f(0), f(1), f(2), f(3), f(4)],
        )
    }

    const DEPTH_MM_CONF: FloatPlanes = FloatPlanes {
        depth: Some(DepthUnit::Millimetre),
        confidence: true,
    };

    #[test]
    fn no_float_planes_is_todays_layout() {
        for (header, format) in [
            (Header::V1, PixelFormat::Bgr),
            (Header::V2, PixelFormat::Rgba),
            (Header::V2, PixelFormat::Gray),
        ] {
            let g = geom(format, 4);
            assert_eq!(
                metadata_with_planes(header, &g, FloatPlanes::NONE, &STAMP),
                metadata(header, &g, &STAMP)
            );
        }
        assert_eq!(FloatPlanes::default(), FloatPlanes::NONE);
        assert_eq!(
            (DepthUnit::Millimetre.code(), DepthUnit::Metre.code()),
            (1, 2)
        );
    }

    #[test]
    fn v2_depth_and_confidence_bytes() {
        // BGR 640x360: LEFT 691200 bytes; each F32 plane 640*4*360 = 921600.
        let g = geom(PixelFormat::Bgr, 0);
        let m = metadata_with_planes(Header::V2, &g, DEPTH_MM_CONF, &STAMP);
        assert_eq!((m[0x08], m[0x09]), (2, 0), "major 2, minor 0");
        assert_eq!(m[0x20], 3, "plane_count");
        assert_eq!(m[0x21], 0b0111, "contiguous mask (1<<3)-1");
        assert_eq!(&m[0x22..0x28], &[64, 0, 24, 0, 4, 0]);
        // payload = 691200 + 2*921600 = 2534400 = 0x0026_AC00
        assert_eq!(&m[0x28..0x2C], &[0x00, 0xAC, 0x26, 0x00]);
        assert_eq!(m[0x2C], 1, "depth_unit millimetre");
        assert!(m[0x2D..64].iter().all(|&b| b == 0), "reserved (minor 0)");
        assert_eq!(desc(&m, 0), ([0, 1, 0, 0], [640, 360, 1920, 0, 691200]));
        // Slot 1 DEPTH, GRAY, F32: width 640, height 360, stride 2560,
        // offset 691200 (0x000A_8C00), size 921600 (0x000E_1000).
        assert_eq!(
            &m[88..112],
            &[
                1, 4, 5, 0, 0x80, 0x02, 0, 0, 0x68, 0x01, 0, 0, 0x00, 0x0A, 0, 0, 0x00, 0x8C, 0x0A,
                0x00, 0x00, 0x10, 0x0E, 0x00
            ]
        );
        assert_eq!(
            desc(&m, 2),
            ([2, 4, 5, 0], [640, 360, 2560, 1_612_800, 921_600])
        );
        assert!(m[136..].iter().all(|&b| b == 0), "slot 3 and padding");
        assert_eq!(u64::from(u32_at(&m, 0x28)), DEPTH_MM_CONF.raw_size(&g));
    }

    #[test]
    fn v2_depth_only_in_metres_with_padded_rows() {
        // GRAY 640x360 with 64 bytes of row padding: LEFT stride 704, 253440
        // bytes; the depth plane's stride is width*4, padding does not apply.
        let g = geom(PixelFormat::Gray, 64);
        let planes = FloatPlanes {
            depth: Some(DepthUnit::Metre),
            confidence: false,
        };
        let m = metadata_with_planes(Header::V2, &g, planes, &STAMP);
        assert_eq!((m[0x09], m[0x20], m[0x21], m[0x2C]), (0, 2, 0b0011, 2));
        assert_eq!(u32_at(&m, 0x28), 253_440 + 921_600);
        assert_eq!(desc(&m, 0), ([0, 4, 0, 0], [640, 360, 704, 0, 253_440]));
        assert_eq!(
            desc(&m, 1),
            ([1, 4, 5, 0], [640, 360, 2560, 253_440, 921_600])
        );
        assert!(m[112..].iter().all(|&b| b == 0), "slots 2, 3 and padding");
        assert_eq!(planes.raw_size(&g), 253_440 + 921_600);
    }

    fn au(len: u32) -> AuMeta {
        AuMeta {
            codec: Codec::H264,
            len,
            keyframe: true,
            frame_rate: FrameRate { num: 30, den: 1 },
            stream_pts_ns: 0,
        }
    }

    #[test]
    fn v2_1_depth_confidence_and_access_unit() {
        let g = geom(PixelFormat::Bgr, 0);
        let a = au(0x1234);
        let m = metadata_with_planes(Header::V2_1(&a), &g, DEPTH_MM_CONF, &STAMP);
        assert_eq!((m[0x08], m[0x09]), (2, 1));
        assert_eq!((m[0x20], m[0x21]), (4, 0b1111));
        assert_eq!(u32_at(&m, 0x28), 2_534_400 + 0x1234);
        assert_eq!(m[0x2C], 1);
        assert_eq!((m[0x2D], m[0x2E], &m[0x2F..0x31]), (1, 1, &[1u8, 0][..]));
        assert_eq!(desc(&m, 0), ([0, 1, 0, 0], [640, 360, 1920, 0, 691_200]));
        assert_eq!(
            desc(&m, 1),
            ([1, 4, 5, 0], [640, 360, 2560, 691_200, 921_600])
        );
        assert_eq!(
            desc(&m, 2),
            ([2, 4, 5, 0], [640, 360, 2560, 1_612_800, 921_600])
        );
        // The access unit behind both float planes.
        assert_eq!(
            desc(&m, 3),
            ([3, 4, 0, 0], [0x1234, 1, 0x1234, 2_534_400, 0x1234])
        );
        assert!(m[160..].iter().all(|&b| b == 0), "padding");
    }

    #[test]
    fn v2_1_sparse_masks() {
        let g = geom(PixelFormat::Bgr, 0);
        let a = au(100);
        // CONFIDENCE without DEPTH: slots 0, 2, 3; depth_unit unknown.
        let conf_only = FloatPlanes {
            depth: None,
            confidence: true,
        };
        let m = metadata_with_planes(Header::V2_1(&a), &g, conf_only, &STAMP);
        assert_eq!((m[0x20], m[0x21], m[0x2C]), (3, 0b1101, 0));
        assert_eq!(u32_at(&m, 0x28), 691_200 + 921_600 + 100);
        assert!(m[88..112].iter().all(|&b| b == 0), "slot 1 inactive");
        assert_eq!(
            desc(&m, 2),
            ([2, 4, 5, 0], [640, 360, 2560, 691_200, 921_600])
        );
        assert_eq!(desc(&m, 3).1, [100, 1, 100, 1_612_800, 100]);
        // DEPTH in metres without CONFIDENCE: slots 0, 1, 3.
        let depth_m = FloatPlanes {
            depth: Some(DepthUnit::Metre),
            confidence: false,
        };
        let m = metadata_with_planes(Header::V2_1(&a), &g, depth_m, &STAMP);
        assert_eq!((m[0x20], m[0x21], m[0x2C]), (3, 0b1011, 2));
        assert!(m[112..136].iter().all(|&b| b == 0), "slot 2 inactive");
        assert_eq!(desc(&m, 3).1, [100, 1, 100, 1_612_800, 100]);
        // No float planes: exactly the v2.1 layout of before.
        let plain = metadata_with_planes(Header::V2_1(&a), &g, FloatPlanes::NONE, &STAMP);
        assert_eq!(plain, metadata(Header::V2_1(&a), &g, &STAMP));
        assert_eq!((plain[0x20], plain[0x21]), (2, 0b1001));
    }

    #[test]
    fn descriptors_are_packed_and_inside_the_payload() {
        // The contract's bounds rules for every combination (§2): packed back
        // to back from 0 in slot order, stride >= width*channels*bytes(depth),
        // size >= stride*height, the last end == payload_size_bytes.
        for padding in [0, 3] {
            let g = geom(PixelFormat::Yuyv, padding);
            for depth in [None, Some(DepthUnit::Millimetre), Some(DepthUnit::Metre)] {
                for confidence in [false, true] {
                    let planes = FloatPlanes { depth, confidence };
                    for au_len in [None, Some(77)] {
                        let a = au(au_len.unwrap_or(0));
                        let header = match au_len {
                            Some(_) => Header::V2_1(&a),
                            None if depth.is_none() && confidence => continue,
                            None => Header::V2,
                        };
                        let m = metadata_with_planes(header, &g, planes, &STAMP);
                        let mut end = 0;
                        for slot in 0..4 {
                            let (head, [w, h, stride, offset, size]) = desc(&m, slot);
                            if m[0x21] & (1 << slot) == 0 {
                                assert_eq!((head, [w, h, stride, offset, size]), ([0; 4], [0; 5]));
                                continue;
                            }
                            let bytes: u32 = [1, 1, 2, 2, 4, 4, 8, 2][usize::from(head[2])];
                            let channels: u32 = [3, 3, 4, 4, 1, 3, 2][usize::from(head[1])];
                            assert_eq!(usize::from(head[0]), slot);
                            assert!(stride >= w * channels * bytes && size >= stride * h);
                            assert_eq!(offset, end, "packed");
                            end = offset + size;
                        }
                        assert_eq!(u32_at(&m, 0x28), end, "{planes:?} {au_len:?}");
                        assert_eq!(u32::from(m[0x20]), m[0x21].count_ones());
                        let expect = planes.raw_size(&g) + u64::from(au_len.unwrap_or(0));
                        assert_eq!(u64::from(end), expect);
                    }
                }
            }
        }
    }
}
