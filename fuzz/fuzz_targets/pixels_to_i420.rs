//! Raw frames to I420 (`pixels::to_i420`): the geometry comes from a
//! producer's metadata and the bytes from its segment, so any of them may be
//! wrong. First bytes: format, width, height, row padding; the rest is the
//! frame.
//!
//! Invariants: no panic; a frame whose bytes cover its plane (stride x
//! height) converts into a destination in `I420Layout`; a short one is
//! refused. (The first run found a panic inside yuvutils-rs on a frame
//! longer than its plane with an odd height; `to_i420` now passes exactly
//! the plane.)
#![no_main]

use cvmmap_streamer::contract::PixelFormat;
use cvmmap_streamer::ingest::VideoGeometry;
use cvmmap_streamer::pixels::{I420Layout, Matrix, to_i420};
use libfuzzer_sys::fuzz_target;

const FORMATS: [PixelFormat; 7] = [
    PixelFormat::Rgb,
    PixelFormat::Bgr,
    PixelFormat::Rgba,
    PixelFormat::Bgra,
    PixelFormat::Gray,
    PixelFormat::Yuv,
    PixelFormat::Yuyv,
];

fuzz_target!(|data: &[u8]| {
    let [f, w, h, pad, rest @ ..] = data else {
        return;
    };
    let pixel_format = FORMATS[usize::from(*f) % FORMATS.len()];
    let (width, height) = (u32::from(*w % 64), u32::from(*h % 64));
    let row = width as usize * pixel_format.channels() as usize;
    let g = VideoGeometry {
        pixel_format,
        width,
        height,
        stride: row + usize::from(*pad % 8),
    };
    let layout = I420Layout::new(width.max(1), height.max(1));
    let mut dst = vec![0u8; layout.size];
    let planes = layout.planes(&mut dst).expect("a buffer of the layout's size");
    let matrix = if height > 32 { Matrix::Bt709 } else { Matrix::Bt601 };
    let result = to_i420(rest, &g, planes, matrix);
    let covered = width > 0
        && height > 0
        && rest.len() >= g.stride * height as usize
        && !(pixel_format == PixelFormat::Yuyv && width < 2);
    if !covered {
        assert!(result.is_err(), "{g:?} {} bytes accepted", rest.len());
    } else {
        assert!(result.is_ok(), "{g:?} {} bytes: {result:?}", rest.len());
    }
});
