use super::*;

struct Out {
    y: Vec<u8>,
    u: Vec<u8>,
    v: Vec<u8>,
    w: usize,
    cw: usize,
}

impl Out {
    fn new(w: u32, h: u32) -> Self {
        let (cw, ch) = (chroma(w), chroma(h));
        Self {
            y: vec![0; w as usize * h as usize],
            u: vec![0; cw * ch],
            v: vec![0; cw * ch],
            w: w as usize,
            cw,
        }
    }

    fn planes(&mut self) -> I420<'_> {
        I420 {
            y: &mut self.y,
            y_stride: self.w,
            u: &mut self.u,
            u_stride: self.cw,
            v: &mut self.v,
            v_stride: self.cw,
        }
    }
}

fn geometry(pixel_format: PixelFormat, width: u32, height: u32, stride: usize) -> VideoGeometry {
    VideoGeometry {
        pixel_format,
        width,
        height,
        stride,
    }
}

fn solid(pf: PixelFormat, px: &[u8], w: u32, h: u32, pad: usize) -> (Vec<u8>, VideoGeometry) {
    let stride = w as usize * px.len() + pad;
    let mut data = vec![0xEE; stride * h as usize];
    for row in data.chunks_mut(stride) {
        for p in row[..w as usize * px.len()].chunks_mut(px.len()) {
            p.copy_from_slice(px);
        }
    }
    (data, geometry(pf, w, h, stride))
}

fn convert(pf: PixelFormat, px: &[u8], matrix: Matrix) -> (u8, u8, u8) {
    let (w, h) = (8, 4);
    let (src, g) = solid(pf, px, w, h, 0);
    let mut out = Out::new(w, h);
    to_i420(&src, &g, out.planes(), matrix).unwrap();
    assert!(out.y.iter().all(|&y| y == out.y[0]), "{pf:?}: luma is flat");
    (out.y[0], out.u[0], out.v[0])
}

fn near(got: (u8, u8, u8), want: (u8, u8, u8)) -> bool {
    let d = |a: u8, b: u8| (i16::from(a) - i16::from(b)).abs() <= 2;
    d(got.0, want.0) && d(got.1, want.1) && d(got.2, want.2)
}

#[test]
fn primaries_land_on_the_standard_values() {
    // BT.601 and BT.709 limited range (ITU-R BT.601-7 §2.5.3, BT.709-6 §3.5).
    let cases = [
        (Matrix::Bt601, [255, 255, 255], (235, 128, 128)),
        (Matrix::Bt601, [0, 0, 0], (16, 128, 128)),
        (Matrix::Bt601, [255, 0, 0], (81, 90, 240)),
        (Matrix::Bt601, [0, 255, 0], (145, 54, 34)),
        (Matrix::Bt709, [255, 0, 0], (63, 102, 240)),
        (Matrix::Bt709, [0, 0, 255], (32, 240, 118)),
    ];
    for (m, rgb, want) in cases {
        let [r, g, b] = rgb;
        for (pf, px) in [
            (PixelFormat::Rgb, vec![r, g, b]),
            (PixelFormat::Bgr, vec![b, g, r]),
            (PixelFormat::Rgba, vec![r, g, b, 255]),
            (PixelFormat::Bgra, vec![b, g, r, 255]),
        ] {
            let got = convert(pf, &px, m);
            assert!(
                near(got, want),
                "{m:?} {pf:?} {rgb:?}: {got:?}, want {want:?}"
            );
        }
    }
}

#[test]
fn row_padding_is_skipped() {
    let (w, h) = (6, 4);
    let (tight, gt) = solid(PixelFormat::Bgr, &[10, 200, 90], w, h, 0);
    let (padded, gp) = solid(PixelFormat::Bgr, &[10, 200, 90], w, h, 14);
    let (mut a, mut b) = (Out::new(w, h), Out::new(w, h));
    to_i420(&tight, &gt, a.planes(), Matrix::Bt601).unwrap();
    to_i420(&padded, &gp, b.planes(), Matrix::Bt601).unwrap();
    assert_eq!((a.y, a.u, a.v), (b.y, b.u, b.v));
}

#[test]
fn odd_sizes_round_chroma_up() {
    let (src, g) = solid(PixelFormat::Rgb, &[255, 255, 255], 7, 5, 0);
    let mut out = Out::new(7, 5);
    assert_eq!(out.u.len(), 4 * 3);
    to_i420(&src, &g, out.planes(), Matrix::Bt601).unwrap();
    assert!(out.u.iter().all(|&u| (126..=130).contains(&u)));
}

#[test]
fn grey_yuyv_and_packed_yuv() {
    assert_eq!(
        convert(PixelFormat::Gray, &[255], Matrix::Bt601),
        (235, 128, 128)
    );
    assert_eq!(
        convert(PixelFormat::Gray, &[0], Matrix::Bt601),
        (16, 128, 128)
    );
    assert_eq!(
        convert(PixelFormat::Yuv, &[100, 60, 200], Matrix::Bt709),
        (100, 60, 200)
    );
    // YUYV: Y0 U Y1 V per two pixels; `solid` repeats the 2-pixel group.
    let (src, g) = solid(PixelFormat::Yuyv, &[90, 70, 90, 180], 4, 4, 0);
    let g = VideoGeometry { width: 8, ..g };
    let mut out = Out::new(8, 4);
    to_i420(&src, &g, out.planes(), Matrix::Bt601).unwrap();
    assert_eq!((out.y[0], out.u[0], out.v[0]), (90, 70, 180));
}

#[test]
fn short_buffers_are_errors_not_panics() {
    let (src, g) = solid(PixelFormat::Bgr, &[1, 2, 3], 8, 4, 0);
    let mut out = Out::new(8, 4);
    let err = to_i420(&src[..src.len() - 1], &g, out.planes(), Matrix::Bt601).unwrap_err();
    assert!(matches!(err, ConvertError::ShortSource { .. }), "{err}");
    let narrow = VideoGeometry { stride: 10, ..g };
    assert!(to_i420(&src, &narrow, out.planes(), Matrix::Bt601).is_err());
    let mut small = Out::new(8, 2);
    let err = to_i420(&src, &g, small.planes(), Matrix::Bt601).unwrap_err();
    assert_eq!(
        err,
        ConvertError::ShortDestination {
            width: 8,
            height: 4
        }
    );
    for pf in [
        PixelFormat::Gray,
        PixelFormat::Yuv,
        PixelFormat::Yuyv,
        PixelFormat::Rgba,
    ] {
        let g = geometry(pf, 8, 4, 8 * pf.channels() as usize);
        assert!(
            to_i420(&[0; 3], &g, out.planes(), Matrix::Bt601).is_err(),
            "{pf:?}"
        );
    }
}

#[test]
fn padded_and_odd_yuyv() {
    // 5 pixels: pairs (0,1) (2,3) and a half pair (4) sharing the last U/V.
    let g = geometry(PixelFormat::Yuyv, 5, 2, 16);
    let mut src = vec![0xEE; 32];
    for row in src.chunks_mut(16) {
        row[..10].copy_from_slice(&[10, 100, 11, 200, 12, 101, 13, 201, 14, 102]);
    }
    let mut out = Out::new(5, 2);
    to_i420(&src, &g, out.planes(), Matrix::Bt601).unwrap();
    assert_eq!(&out.y[..5], &[10, 11, 12, 13, 14]);
    assert_eq!(out.u, [100, 101, 101]);
    assert_eq!(out.v, [200, 201, 201]);
    let one = geometry(PixelFormat::Yuyv, 1, 2, 2);
    assert!(to_i420(&[0; 4], &one, Out::new(1, 2).planes(), Matrix::Bt601).is_err());
}

#[test]
fn the_layout_is_gstreamers_default() {
    // gst_video_info_set_format(I420, 320, 180): strides 320/160, offsets
    // 0/57600/72000, size 86400; 7x5: strides 8/4, offsets 0/40/52, size 64.
    let l = I420Layout::new(320, 180);
    assert_eq!(
        (l.y_stride, l.c_stride, l.u_offset, l.v_offset, l.size),
        (320, 160, 57600, 72000, 86400)
    );
    let l = I420Layout::new(7, 5);
    assert_eq!(
        (l.y_stride, l.c_stride, l.u_offset, l.v_offset, l.size),
        (8, 4, 40, 52, 64)
    );
    assert!(l.planes(&mut [0u8; 63]).is_none());
    let mut buf = vec![0u8; 64];
    let p = l.planes(&mut buf).unwrap();
    assert_eq!((p.y.len(), p.u.len(), p.v.len()), (40, 12, 12));
}
