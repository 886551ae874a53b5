//! The DEPTH plane to `16UC1` / `32FC1` (`pixels::depth`): geometry from a
//! producer's metadata, bytes from its segment. First bytes: width, height,
//! row padding, unit; the rest is the plane.
//!
//! Invariants: no panic; a plane that covers its geometry converts to
//! exactly width x height samples (2 and 4 bytes), every 16-bit sample is
//! the documented rounding of its float, and `32FC1` keeps every float's
//! bits; a short plane is refused.
#![no_main]

use cvmmap_streamer::pixels::depth::{DepthUnit, f32_packed, f32_to_mm16, to_mm16};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [w, h, pad, u, rest @ ..] = data else {
        return;
    };
    let (width, height) = (u32::from(*w % 32), u32::from(*h % 32));
    let stride = width as usize * 4 + usize::from(*pad % 8);
    let unit = if u & 1 == 0 { DepthUnit::Millimetre } else { DepthUnit::Metre };
    let covered = height == 0 || rest.len() >= stride * (height as usize - 1) + width as usize * 4;
    let (mut mm, mut f) = (Vec::new(), Vec::new());
    let a = f32_to_mm16(rest, width, height, stride, unit, &mut mm);
    let b = f32_packed(rest, width, height, stride, &mut f);
    assert_eq!(a.is_ok(), covered);
    assert_eq!(b.is_ok(), covered);
    if !covered {
        return;
    }
    let n = width as usize * height as usize;
    assert_eq!((mm.len(), f.len()), (n * 2, n * 4));
    for y in 0..height as usize {
        for x in 0..width as usize {
            let at = y * stride + x * 4;
            let v = f32::from_ne_bytes(rest[at..at + 4].try_into().unwrap());
            let i = y * width as usize + x;
            assert_eq!(u16::from_le_bytes([mm[2 * i], mm[2 * i + 1]]), to_mm16(v, unit));
            assert_eq!(
                u32::from_le_bytes(f[4 * i..4 * i + 4].try_into().unwrap()),
                v.to_bits()
            );
        }
    }
});
