//! Pixel format and channel depth enums of the cv-mmap segment
//! (contract section 2, "Enums").
//!
//! Both are closed enums on the wire: an unknown value makes the metadata invalid,
//! so [`TryFrom<u8>`] reports it with the raw byte instead of guessing.

use thiserror::Error;

/// Layout of one pixel (contract section 2, `pixel_format`).
///
/// The discriminants are the wire values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum PixelFormat {
    /// 3 channels, R G B.
    Rgb = 0,
    /// 3 channels, B G R (what the reference dummy producer writes, section 6).
    Bgr = 1,
    /// 4 channels, R G B A.
    Rgba = 2,
    /// 4 channels, B G R A.
    Bgra = 3,
    /// 1 channel (also used for depth, confidence and encoded access units).
    Gray = 4,
    /// 3 channels, packed Y U V.
    Yuv = 5,
    /// 2 channels per pixel, packed Y U Y V (4:2:2).
    Yuyv = 6,
}

impl PixelFormat {
    /// Every format, in wire order.
    pub const ALL: [PixelFormat; 7] = [
        Self::Rgb,
        Self::Bgr,
        Self::Rgba,
        Self::Bgra,
        Self::Gray,
        Self::Yuv,
        Self::Yuyv,
    ];

    /// Number of channels per pixel: 3, 3, 4, 4, 1, 3, 2 (contract section 2).
    pub const fn channels(self) -> u8 {
        match self {
            Self::Rgb | Self::Bgr | Self::Yuv => 3,
            Self::Rgba | Self::Bgra => 4,
            Self::Gray => 1,
            Self::Yuyv => 2,
        }
    }

    /// The wire value.
    pub const fn raw(self) -> u8 {
        self as u8
    }
}

/// A `pixel_format` byte that names no known format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("unknown pixel_format value {raw} (known: 0..=6)")]
pub struct UnknownPixelFormat {
    /// The byte found on the wire.
    pub raw: u8,
}

impl TryFrom<u8> for PixelFormat {
    type Error = UnknownPixelFormat;

    fn try_from(raw: u8) -> Result<Self, Self::Error> {
        Self::ALL
            .get(usize::from(raw))
            .copied()
            .ok_or(UnknownPixelFormat { raw })
    }
}

/// Storage type of one channel (contract section 2, `depth`; OpenCV order).
///
/// The discriminants are the wire values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Depth {
    /// Unsigned 8-bit.
    U8 = 0,
    /// Signed 8-bit.
    S8 = 1,
    /// Unsigned 16-bit.
    U16 = 2,
    /// Signed 16-bit.
    S16 = 3,
    /// Signed 32-bit.
    S32 = 4,
    /// 32-bit float (depth and confidence planes).
    F32 = 5,
    /// 64-bit float.
    F64 = 6,
    /// 16-bit float.
    F16 = 7,
}

impl Depth {
    /// Every depth, in wire order.
    pub const ALL: [Depth; 8] = [
        Self::U8,
        Self::S8,
        Self::U16,
        Self::S16,
        Self::S32,
        Self::F32,
        Self::F64,
        Self::F16,
    ];

    /// Bytes per channel: 1, 1, 2, 2, 4, 4, 8, 2 (contract section 2).
    pub const fn bytes(self) -> u8 {
        match self {
            Self::U8 | Self::S8 => 1,
            Self::U16 | Self::S16 | Self::F16 => 2,
            Self::S32 | Self::F32 => 4,
            Self::F64 => 8,
        }
    }

    /// The wire value.
    pub const fn raw(self) -> u8 {
        self as u8
    }
}

/// A `depth` byte that names no known channel type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("unknown depth value {raw} (known: 0..=7)")]
pub struct UnknownDepth {
    /// The byte found on the wire.
    pub raw: u8,
}

impl TryFrom<u8> for Depth {
    type Error = UnknownDepth;

    fn try_from(raw: u8) -> Result<Self, Self::Error> {
        Self::ALL
            .get(usize::from(raw))
            .copied()
            .ok_or(UnknownDepth { raw })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pixel_format_round_trips_and_channels_match_contract() {
        let channels = [3, 3, 4, 4, 1, 3, 2];
        for (raw, want) in (0u8..).zip(channels) {
            let pf = PixelFormat::try_from(raw).unwrap();
            assert_eq!(pf.raw(), raw);
            assert_eq!(pf.channels(), want, "{pf:?}");
        }
        assert_eq!(PixelFormat::try_from(1), Ok(PixelFormat::Bgr));
    }

    #[test]
    fn depth_round_trips_and_bytes_match_contract() {
        let bytes = [1, 1, 2, 2, 4, 4, 8, 2];
        for (raw, want) in (0u8..).zip(bytes) {
            let d = Depth::try_from(raw).unwrap();
            assert_eq!(d.raw(), raw);
            assert_eq!(d.bytes(), want, "{d:?}");
        }
        assert_eq!(Depth::try_from(5), Ok(Depth::F32));
    }

    #[test]
    fn unknown_values_carry_the_raw_byte() {
        for raw in 7..=u8::MAX {
            let err = PixelFormat::try_from(raw).unwrap_err();
            assert_eq!(err.raw, raw);
            assert!(err.to_string().contains(&raw.to_string()));
        }
        for raw in 8..=u8::MAX {
            assert_eq!(Depth::try_from(raw).unwrap_err().raw, raw);
        }
        assert_eq!(
            Depth::try_from(8).unwrap_err().to_string(),
            "unknown depth value 8 (known: 0..=7)"
        );
    }
}
