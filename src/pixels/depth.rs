//! Depth planes for recordings (the contract's DEPTH slot: GRAY/F32, with
//! `depth_unit` millimetre or metre, contract §2 at 0x2C) as Foxglove
//! `RawImage` data:
//!
//! - `16UC1` (the default): unsigned 16-bit millimetres, little endian,
//!   which viewers colour-map well. Each sample is taken to millimetres in
//!   f64 (a metre value times 1000; the f32 widens exactly), rounded to the
//!   nearest integer with halves away from zero (`f64::round`); NaN,
//!   infinities and values that round outside 1..=65535 (negative, below
//!   0.5 mm, at or above 65535.5 mm) become 0, which means "no depth".
//! - `32FC1` (`--depth-format f32`): the producer's floats, unchanged, rows
//!   packed (stride dropped), little endian.
//!
//! Pure code: slices in, bytes out; a plane that does not fit its
//! geometry is an error, never a panic.

/// The DEPTH plane's unit (contract §2, 0x2C: 1 millimetre, 2 metre).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DepthUnit {
    Millimetre,
    Metre,
}

impl DepthUnit {
    /// From the contract's `depth_unit`; 0 (unknown) has no conversion.
    pub fn from_contract(v: u8) -> Option<Self> {
        match v {
            1 => Some(Self::Millimetre),
            2 => Some(Self::Metre),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Millimetre => "millimetre",
            Self::Metre => "metre",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a {width}x{height} F32 depth plane with stride {stride} needs {need} bytes, got {got}")]
pub struct DepthError {
    pub width: u32,
    pub height: u32,
    pub stride: usize,
    pub need: usize,
    pub got: usize,
}

/// One sample in millimetres as `16UC1` (module doc: the rounding).
pub fn to_mm16(v: f32, unit: DepthUnit) -> u16 {
    let mm = match unit {
        DepthUnit::Millimetre => f64::from(v),
        DepthUnit::Metre => f64::from(v) * 1000.0,
    };
    let r = mm.round();
    if r.is_finite() && (1.0..=65535.0).contains(&r) {
        r as u16
    } else {
        0
    }
}

fn check(src: &[u8], width: u32, height: u32, stride: usize) -> Result<usize, DepthError> {
    let row = width as usize * 4;
    let need = match height {
        0 => Some(0),
        h => stride
            .checked_mul(h as usize - 1)
            .and_then(|n| n.checked_add(row)),
    }
    .filter(|_| stride >= row)
    .unwrap_or(usize::MAX);
    if src.len() < need {
        return Err(DepthError {
            width,
            height,
            stride,
            need,
            got: src.len(),
        });
    }
    Ok(row)
}

/// `16UC1` data (width x 2 bytes a row) of an F32 plane into `out`.
pub fn f32_to_mm16(
    src: &[u8],
    width: u32,
    height: u32,
    stride: usize,
    unit: DepthUnit,
    out: &mut Vec<u8>,
) -> Result<(), DepthError> {
    let row = check(src, width, height, stride)?;
    out.clear();
    out.reserve(width as usize * height as usize * 2);
    for y in 0..height as usize {
        let line = &src[y * stride..y * stride + row];
        for px in line.chunks_exact(4) {
            let v = f32::from_ne_bytes([px[0], px[1], px[2], px[3]]);
            out.extend_from_slice(&to_mm16(v, unit).to_le_bytes());
        }
    }
    Ok(())
}

/// `32FC1` data (width x 4 bytes a row, little endian) of an F32 plane.
pub fn f32_packed(
    src: &[u8],
    width: u32,
    height: u32,
    stride: usize,
    out: &mut Vec<u8>,
) -> Result<(), DepthError> {
    let row = check(src, width, height, stride)?;
    out.clear();
    out.reserve(row * height as usize);
    for y in 0..height as usize {
        let line = &src[y * stride..y * stride + row];
        if cfg!(target_endian = "little") {
            out.extend_from_slice(line);
        } else {
            for px in line.chunks_exact(4) {
                let v = f32::from_ne_bytes([px[0], px[1], px[2], px[3]]);
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn millimetres_round_half_away_from_zero_and_invalid_is_zero() {
        use DepthUnit::*;
        for (v, unit, want) in [
            (1234.4, Millimetre, 1234),
            (1234.5, Millimetre, 1235),
            (0.5, Millimetre, 1),
            (0.49, Millimetre, 0),
            (0.0, Millimetre, 0),
            (-3.0, Millimetre, 0),
            (65535.4, Millimetre, 65535),
            (65535.5, Millimetre, 0),
            (1.2345, Metre, 1235),
            (0.0005, Metre, 1),
            (65.5354, Metre, 65535),
            (70.0, Metre, 0),
            (f32::NAN, Metre, 0),
            (f32::INFINITY, Millimetre, 0),
            (f32::NEG_INFINITY, Millimetre, 0),
        ] {
            assert_eq!(to_mm16(v, unit), want, "{v} {unit:?}");
        }
    }

    fn plane(values: &[f32], width: usize, pad: usize) -> (Vec<u8>, usize) {
        let stride = width * 4 + pad;
        let mut buf = Vec::new();
        for row in values.chunks(width) {
            for v in row {
                buf.extend_from_slice(&v.to_ne_bytes());
            }
            buf.extend(std::iter::repeat_n(0xEE, pad));
        }
        (buf, stride)
    }

    #[test]
    fn converts_and_packs_rows_with_padding() {
        let values = [1.0f32, 2.5, f32::NAN, 0.25, 3.0, 4.0];
        let (src, stride) = plane(&values, 3, 8);
        let mut out = Vec::new();
        f32_to_mm16(&src, 3, 2, stride, DepthUnit::Metre, &mut out).unwrap();
        let mm: Vec<u16> = out
            .chunks_exact(2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
            .collect();
        assert_eq!(mm, [1000, 2500, 0, 250, 3000, 4000]);
        f32_packed(&src, 3, 2, stride, &mut out).unwrap();
        let back: Vec<u32> = out
            .chunks_exact(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        let bits: Vec<u32> = values.iter().map(|v| v.to_bits()).collect();
        assert_eq!(back, bits, "f32 round-trips bit for bit, NaN included");
    }

    #[test]
    fn a_short_or_narrow_plane_is_an_error() {
        let (src, stride) = plane(&[1.0; 6], 3, 0);
        let mut out = Vec::new();
        assert!(f32_to_mm16(&src[..20], 3, 2, stride, DepthUnit::Millimetre, &mut out).is_err());
        assert!(f32_packed(&src, 3, 2, 8, &mut out).is_err(), "stride < row");
        assert!(f32_packed(&src, u32::MAX, 2, usize::MAX, &mut out).is_err());
        assert!(f32_packed(&[], 3, 0, stride, &mut out).is_ok());
    }
}
