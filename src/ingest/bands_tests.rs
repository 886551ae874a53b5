use std::os::unix::fs::FileExt;

use super::*;
use crate::contract::PixelFormat;
use crate::pixels::I420Layout;

/// Bytes that differ from pixel to pixel and row to row (a flat picture
/// would hide a band converted from the wrong rows).
fn noise(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

fn geometry(pixel_format: PixelFormat, width: u32, height: u32, pad: usize) -> VideoGeometry {
    VideoGeometry {
        pixel_format,
        width,
        height,
        stride: width as usize * pixel_format.channels() as usize + pad,
    }
}

fn convert(bands: &Bands, src: &[u8], g: &VideoGeometry) -> Result<Vec<u8>, ConvertError> {
    let layout = I420Layout::new(g.width, g.height);
    // Filled, so that a byte no band wrote shows.
    let mut out = vec![0xA5; layout.size];
    let matrix = Matrix::for_height(g.height);
    bands.to_i420(src, g, layout.planes(&mut out).unwrap(), matrix)?;
    Ok(out)
}

/// Every format, even and odd sizes, padded rows: each thread count writes
/// exactly the single pass's bytes.
#[test]
fn banded_output_equals_the_single_pass_byte_for_byte() {
    let single = Bands::single();
    let banded: Vec<Bands> = (2..=MAX_THREADS).map(Bands::new).collect();
    let formats = [
        PixelFormat::Bgr,
        PixelFormat::Rgb,
        PixelFormat::Bgra,
        PixelFormat::Rgba,
        PixelFormat::Yuyv,
        PixelFormat::Gray,
        PixelFormat::Yuv,
    ];
    let sizes = [
        (1280, 720, 0),
        (1281, 723, 0),
        (1920, 1080, 64),
        (1284, 1025, 3),
    ];
    for (k, pf) in formats.into_iter().enumerate() {
        for &(w, h, pad) in &sizes {
            let g = geometry(pf, w, h, pad);
            let src = noise(g.plane_bytes(), (k * 31 + w as usize) as u32);
            let want = convert(&single, &src, &g).unwrap();
            for b in &banded {
                assert_eq!(b.threads(), b.helpers.len() + 1);
                let got = convert(b, &src, &g).unwrap();
                assert!(
                    got == want,
                    "{pf:?} {w}x{h} pad {pad}, {} threads: bands differ from one pass",
                    b.threads()
                );
            }
        }
    }
}

#[test]
fn small_frames_stay_on_the_calling_thread_and_bad_sizes_are_errors() {
    let b = Bands::new(2);
    assert_eq!(b.threads(), 2);
    // Below the split: still right.
    let g = geometry(PixelFormat::Bgr, 640, 360, 0);
    let src = noise(g.plane_bytes(), 7);
    assert_eq!(
        convert(&b, &src, &g).unwrap(),
        convert(&Bands::single(), &src, &g).unwrap()
    );
    // A source shorter than its geometry: the one-pass error, no panic.
    let g = geometry(PixelFormat::Bgr, 1920, 1080, 0);
    let short = noise(g.plane_bytes() - 1, 9);
    assert!(matches!(
        convert(&b, &short, &g),
        Err(ConvertError::ShortSource { .. })
    ));
    // A destination too small for the frame.
    let src = noise(g.plane_bytes(), 9);
    let mut out = [0u8; 16];
    let planes = I420 {
        y: &mut out[..],
        y_stride: 1920,
        u: &mut [],
        u_stride: 960,
        v: &mut [],
        v_stride: 960,
    };
    assert!(matches!(
        b.to_i420(&src, &g, planes, Matrix::Bt709),
        Err(ConvertError::ShortDestination { .. })
    ));
}

#[test]
fn auto_takes_two_threads_where_there_are_two_cores() {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    assert_eq!(threads_or_auto(0), cores.min(2));
    assert_eq!(threads_or_auto(1), 1);
    assert_eq!(threads_or_auto(3), 3);
    assert_eq!(threads_or_auto(99), MAX_THREADS);
    assert_eq!(Bands::new(0).threads(), 1);
    assert_eq!(Bands::new(99).threads(), MAX_THREADS);
}

/// A producer that shrinks its segment during the pass: a band on a helper
/// thread meets pages past the file's end (SIGBUS on that thread). The
/// frame must come back as faulted to the caller's guarded read, and the
/// process must live; the same when the caller's own band faults.
#[test]
fn a_band_past_a_shrunk_file_reports_the_frame_faulted_not_sigbus() {
    let g = geometry(PixelFormat::Bgr, 1920, 1080, 0);
    let len = g.plane_bytes();
    for (case, keep) in [
        ("the helper's band only", len / 4 * 3),
        ("every band", 4096),
    ] {
        let path = format!("/dev/shm/cvmst_bands_{}_{}", std::process::id(), keep);
        let f = guard::scratch_file(&path);
        f.set_len(len as u64).unwrap();
        f.write_at(&noise(len, 3), 0).unwrap();
        // SAFETY: our own file; the test shrinks it on purpose.
        let map = unsafe { memmap2::Mmap::map(&f) }.unwrap();
        let bands = Bands::new(2);
        let whole = guard::read(&map[..], |b| convert(&bands, b, &g));
        assert!(matches!(whole, Ok(Ok(_))), "{case}: intact file converts");
        f.set_len(keep as u64).unwrap();
        let shrunk = guard::read(&map[..], |b| convert(&bands, b, &g).map(|_| ()));
        assert_eq!(shrunk, Err(guard::Faulted), "{case}");
        drop(map);
        std::fs::remove_file(&path).ok();
    }
}

/// A helper the scheduler does not run: the caller claims its band back
/// after its own and converts it, so the frame is complete and correct
/// without waiting; the helper, once it runs, skips the band it lost.
#[test]
fn a_helper_that_has_not_started_loses_its_band_to_the_caller() {
    let b = Bands::new(2);
    let g = geometry(PixelFormat::Bgr, 1920, 1080, 0);
    let src = noise(g.plane_bytes(), 5);
    let want = convert(&Bands::single(), &src, &g).unwrap();
    {
        let _held = b.helpers[0].gate.lock().unwrap();
        assert!(
            convert(&b, &src, &g).unwrap() == want,
            "stolen band converted"
        );
        assert_eq!(b.stolen(), (1, 1));
        // The helper holds the first job (taken out of the channel, not
        // claimed): the second waits in the channel and is claimed back.
        assert!(convert(&b, &src, &g).unwrap() == want);
        assert_eq!(b.stolen(), (2, 2));
        // The channel is full: the third cannot even be posted, and is
        // converted here at once.
        assert!(convert(&b, &src, &g).unwrap() == want);
        assert_eq!(b.stolen(), (2, 2));
    }
    // Released: the helper skips the stale job, then takes bands again.
    let mut taken = false;
    for _ in 0..200 {
        assert!(convert(&b, &src, &g).unwrap() == want);
        let (posted, stolen) = b.stolen();
        if posted > stolen + 1 {
            taken = true;
            break;
        }
    }
    assert!(
        taken,
        "the helper never converted a band again: {:?}",
        b.stolen()
    );
}

#[test]
fn a_claim_is_won_once_and_never_by_another_frames_job() {
    let c = Claim(AtomicU64::new(Claim::word(0, STOLEN)));
    c.post(7);
    assert!(!c.claim(6, TAKEN), "an earlier frame's job");
    assert!(c.claim(7, STOLEN));
    assert!(!c.claim(7, TAKEN), "already claimed back");
    c.post(8);
    assert!(c.claim(8, TAKEN));
    assert!(!c.claim(8, STOLEN), "the helper has it: wait for its reply");
}
