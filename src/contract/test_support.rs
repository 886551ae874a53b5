//! Test-only builders for metadata blocks, written from the offsets in contract
//! section 2 (deliberately not sharing code with the parser).

/// A 256-byte metadata block being written by hand.
#[derive(Clone, Debug)]
pub struct Meta(pub [u8; 256]);

impl Meta {
    /// Zeroed block with the magic and version bytes set.
    pub fn new(major: u8, minor: u8) -> Self {
        let mut m = Self([0; 256]);
        m.bytes(0x00, b"CV-MMAP\0").u8(0x08, major).u8(0x09, minor);
        m
    }
    pub fn u8(&mut self, at: usize, v: u8) -> &mut Self {
        self.0[at] = v;
        self
    }
    pub fn u16(&mut self, at: usize, v: u16) -> &mut Self {
        self.bytes(at, &v.to_le_bytes())
    }
    pub fn u32(&mut self, at: usize, v: u32) -> &mut Self {
        self.bytes(at, &v.to_le_bytes())
    }
    pub fn u64(&mut self, at: usize, v: u64) -> &mut Self {
        self.bytes(at, &v.to_le_bytes())
    }
    pub fn bytes(&mut self, at: usize, v: &[u8]) -> &mut Self {
        self.0[at..at + v.len()].copy_from_slice(v);
        self
    }
    /// Writes the v2 descriptor of `slot` (24 bytes at 64 + 24 * slot).
    pub fn desc(&mut self, slot: usize, d: Desc) -> &mut Self {
        let at = 64 + 24 * slot;
        self.u8(at, d.plane_type)
            .u8(at + 1, d.pixel_format)
            .u8(at + 2, d.depth)
            .u8(at + 3, 0)
            .u32(at + 4, d.width)
            .u32(at + 8, d.height)
            .u32(at + 12, d.stride)
            .u32(at + 16, d.offset)
            .u32(at + 20, d.size)
    }
}

/// Fields of one v2 plane descriptor.
#[derive(Clone, Copy, Debug)]
pub struct Desc {
    pub plane_type: u8,
    pub pixel_format: u8,
    pub depth: u8,
    pub width: u32,
    pub height: u32,
    pub stride: u32,
    pub offset: u32,
    pub size: u32,
}

/// Wire values used by the builders.
pub const BGR: u8 = 1;
pub const GRAY: u8 = 4;
pub const U8: u8 = 0;
pub const F32: u8 = 5;

/// A segment big enough for every builder below, plus slack.
pub const SHM_SIZE: usize = 256 + 4096;

/// v1 BGR8 8x4 frame (like the reference dummy producer, section 6), tightly
/// packed: buffer_size 96.
pub fn v1_bgr() -> Meta {
    let mut m = Meta::new(1, 0);
    m.u32(0x0C, 7) // frame_count
        .u64(0x10, 1_000_000_007) // timestamp_ns
        .u16(0x18, 8) // width
        .u16(0x1A, 4) // height
        .u8(0x1C, 3) // channels
        .u8(0x1D, U8) // depth
        .u8(0x1E, BGR) // pixel_format
        .u32(0x20, 96); // buffer_size
    m
}

/// v2 header with the fixed descriptor table fields set.
pub fn v2_header(minor: u8, plane_count: u8, mask: u8, payload_size: u32) -> Meta {
    let mut m = Meta::new(2, minor);
    m.u32(0x0C, 9) // frame_id
        .u64(0x10, 2_000_000_009) // capture_ts_ns
        .u64(0x18, 11) // publish_seq
        .u8(0x20, plane_count)
        .u8(0x21, mask)
        .u16(0x22, 64) // plane_descriptors_offset
        .u16(0x24, 24) // plane_descriptor_size
        .u16(0x26, 4) // plane_descriptor_capacity
        .u32(0x28, payload_size);
    m
}

/// LEFT: BGR8 8x4 with stride 32 (8 bytes of row padding), size 128, offset 0.
pub const LEFT: Desc = Desc {
    plane_type: 0,
    pixel_format: BGR,
    depth: U8,
    width: 8,
    height: 4,
    stride: 32,
    offset: 0,
    size: 128,
};

/// GRAY/F32 8x4 plane (stride 32, size 128) at `offset`, for slot 1 or 2.
pub const fn gray_f32(plane_type: u8, offset: u32) -> Desc {
    Desc {
        plane_type,
        pixel_format: GRAY,
        depth: F32,
        width: 8,
        height: 4,
        stride: 32,
        offset,
        size: 128,
    }
}

/// Encoded access unit of `len` bytes at `offset` (slot 3).
pub const fn encoded_au(offset: u32, len: u32) -> Desc {
    Desc {
        plane_type: 3,
        pixel_format: GRAY,
        depth: U8,
        width: len,
        height: 1,
        stride: len,
        offset,
        size: len,
    }
}

/// v2.0 with the LEFT plane only.
pub fn v2_one_plane() -> Meta {
    let mut m = v2_header(0, 1, 0b0001, 128);
    m.desc(0, LEFT);
    m
}

/// v2.0 with LEFT, DEPTH and CONFIDENCE (payload 384, depth in millimetres).
pub fn v2_three_planes() -> Meta {
    let mut m = v2_header(0, 3, 0b0111, 384);
    m.u8(0x2C, 1)
        .desc(0, LEFT)
        .desc(1, gray_f32(1, 128))
        .desc(2, gray_f32(2, 256));
    m
}

/// v2.1 with LEFT and a 37-byte H.264 keyframe access unit (mask 0b1001).
pub fn v2_1_encoded() -> Meta {
    let mut m = v2_header(1, 2, 0b1001, 165);
    m.u8(0x2D, 1) // codec H.264
        .u8(0x2E, 1) // bitstream_format Annex B
        .u16(0x2F, 0x0001) // flags: keyframe
        .u16(0x31, 30) // frame_rate_num
        .u16(0x33, 1) // frame_rate_den
        .u64(0x35, 33_333_333) // stream_pts_ns
        .desc(0, LEFT)
        .desc(3, encoded_au(128, 37));
    m
}
