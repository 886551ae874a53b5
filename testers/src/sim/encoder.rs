//! A real GStreamer encoder for the v2.1 encoded-access-unit plane (contract
//! `cv-mmap-ipc.md` §2, minor 1, plane slot 3): one raw frame in, the Annex-B
//! access unit (AU) of exactly that frame out.
//!
//! Pipeline for H.264:
//!
//! ```text
//! appsrc (video/x-raw, the frame's own format) ! videoconvert ! video/x-raw,format=I420
//!   ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=30 bframes=0
//!             byte-stream=true aud=false
//!   ! video/x-h264,stream-format=byte-stream,alignment=au ! appsink
//! ```
//!
//! H.265 uses `x265enc tune=zerolatency speed-preset=ultrafast key-int-max=30
//! option-string="bframes=0:repeat-headers=1"` and `video/x-h265` caps instead.
//!
//! With `zerolatency` and no B-frames the encoder outputs one AU per input frame
//! without delay. [`AuEncoder::encode`] pushes one frame (PTS = its stream time
//! plus [`PTS_BASE`]) and then blocks on the appsink, bounded by [`PULL_TIMEOUT`],
//! for the AU whose PTS equals that frame's PTS; this keeps the mapping frame
//! f -> AU of frame f.
//! A keyframe is a buffer without the `DELTA_UNIT` flag. Every keyframe AU must
//! carry the parameter sets (SPS and PPS, plus VPS for H.265): both encoders repeat
//! them in byte-stream mode, and should one not, [`ParamSets`] inserts the last
//! ones seen.
//!
//! `--encoded-bframes N` (H.264) adds `bframes=N b-adapt=false threads=1`:
//! the units then come out in decode order, `N` frames late, and the
//! simulator pushes frames ahead ([`AuEncoder::push`]) and publishes each
//! unit ([`AuEncoder::pull_next`]) with its own PTS as `stream_pts_ns`,
//! the way a real producer with B-frames fills slot 3.
//!
//! The testers write their own NAL scanning ([`nal_units`]); nothing is shared
//! with the streamer.

use std::time::{Duration, Instant};

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use gstreamer_video as gst_video;

use super::layout::{Codec, FrameRate, Geometry, PixelFormat};

/// Longest wait for the AU of a pushed frame (first frames include encoder start-up).
pub const PULL_TIMEOUT: Duration = Duration::from_secs(10);

/// Added to every input PTS. x264enc and x265enc set the base encoder's
/// `min-pts` to 1000 hours (room for negative DTS) and would otherwise shift all
/// output timestamps by that much; starting there keeps output PTS = input PTS.
pub const PTS_BASE: gst::ClockTime = gst::ClockTime::from_seconds(1000 * 3600);

/// An encoder failure (pipeline construction, negotiation, a missing or
/// mismatched AU); the simulator exits 1 with it.
#[derive(Debug, thiserror::Error)]
#[error("encoder {element}: {message}")]
pub struct EncoderError {
    pub element: &'static str,
    pub message: String,
}

/// One access unit as it goes into plane slot 3.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncodedAu {
    /// Annex-B bytes (start code + NAL units).
    pub data: Vec<u8>,
    /// Buffer had no `DELTA_UNIT` flag.
    pub keyframe: bool,
    /// PTS of the AU, equal to the PTS of the frame pushed.
    pub pts_ns: u64,
    /// Parameter sets had to be inserted because the encoder left them out.
    pub inserted_param_sets: bool,
}

impl Codec {
    /// GStreamer element that encodes this codec.
    pub fn element(self) -> &'static str {
        match self {
            Codec::H264 => "x264enc",
            Codec::H265 => "x265enc",
        }
    }

    /// NAL unit type from the first byte of the NAL header.
    pub fn nal_type(self, header: u8) -> u8 {
        match self {
            Codec::H264 => header & 0x1F,
            Codec::H265 => (header >> 1) & 0x3F,
        }
    }

    /// Parameter-set NAL types a keyframe AU must carry, in stream order:
    /// H.264 SPS 7, PPS 8; H.265 VPS 32, SPS 33, PPS 34.
    pub fn param_set_types(self) -> &'static [u8] {
        match self {
            Codec::H264 => &[7, 8],
            Codec::H265 => &[32, 33, 34],
        }
    }

    /// Access unit delimiter NAL type (H.264 9, H.265 35).
    fn aud_type(self) -> u8 {
        match self {
            Codec::H264 => 9,
            Codec::H265 => 35,
        }
    }

    fn pipeline_description(self, bframes: u8) -> String {
        let x264 = if bframes == 0 {
            "x264enc tune=zerolatency speed-preset=ultrafast key-int-max=30 bframes=0 \
             byte-stream=true aud=false"
                .to_string()
        } else {
            // Fixed B-frame runs and one thread: x264's output delay is then
            // exactly `bframes` frames (no lookahead under zerolatency).
            format!(
                "x264enc tune=zerolatency speed-preset=ultrafast key-int-max=30 \
                 bframes={bframes} b-adapt=false threads=1 byte-stream=true aud=false"
            )
        };
        let (encoder, caps) = match self {
            Codec::H264 => (
                x264.as_str(),
                "video/x-h264,stream-format=byte-stream,alignment=au",
            ),
            Codec::H265 => (
                "x265enc tune=zerolatency speed-preset=ultrafast key-int-max=30 \
                 option-string=\"bframes=0:repeat-headers=1\"",
                "video/x-h265,stream-format=byte-stream,alignment=au",
            ),
        };
        format!(
            "appsrc name=src ! videoconvert ! video/x-raw,format=I420 ! {encoder} ! {caps} \
             ! appsink name=sink"
        )
    }
}

/// GStreamer raw format carrying the same bytes as the simulator's format.
pub fn gst_format(format: PixelFormat) -> gst_video::VideoFormat {
    use gst_video::VideoFormat as V;
    match format {
        PixelFormat::Bgr => V::Bgr,
        PixelFormat::Rgb => V::Rgb,
        PixelFormat::Bgra => V::Bgra,
        PixelFormat::Rgba => V::Rgba,
        PixelFormat::Gray => V::Gray8,
        PixelFormat::Yuv => V::V308, // packed 4:4:4 Y, U, V
        PixelFormat::Yuyv => V::Yuy2,
    }
}

/// Splits Annex-B bytes into NAL units (without start codes and without the
/// zero bytes that precede the next start code).
pub fn nal_units(data: &[u8]) -> Vec<&[u8]> {
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 3 <= data.len() {
        if data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1 {
            starts.push(i + 3);
            i += 3;
        } else {
            i += 1;
        }
    }
    starts
        .iter()
        .enumerate()
        .map(|(k, &s)| {
            let mut end = starts.get(k + 1).map_or(data.len(), |&next| next - 3);
            while end > s && data[end - 1] == 0 {
                end -= 1;
            }
            &data[s..end]
        })
        .filter(|nal| !nal.is_empty())
        .collect()
}

/// The last parameter sets seen in the stream, by NAL type, used to complete
/// keyframe AUs that lack them.
#[derive(Clone, Debug)]
pub struct ParamSets {
    codec: Codec,
    /// (NAL type, NAL bytes without start code), in [`Codec::param_set_types`] order.
    last: Vec<(u8, Vec<u8>)>,
}

impl ParamSets {
    pub fn new(codec: Codec) -> Self {
        Self {
            codec,
            last: Vec::new(),
        }
    }

    /// Remembers the parameter sets in `au`; for a keyframe that misses any
    /// required type, inserts the remembered ones (after a leading AUD, else at
    /// the front, each with a 4-byte start code). Returns whether it inserted.
    pub fn complete(&mut self, au: &mut Vec<u8>, keyframe: bool) -> bool {
        let codec = self.codec;
        let required = codec.param_set_types();
        let nals = nal_units(au);
        let types: Vec<u8> = nals.iter().map(|n| codec.nal_type(n[0])).collect();
        for (nal, &t) in nals.iter().zip(&types) {
            if required.contains(&t) {
                match self.last.iter_mut().find(|(lt, _)| *lt == t) {
                    Some(slot) => slot.1 = nal.to_vec(),
                    None => self.last.push((t, nal.to_vec())),
                }
            }
        }
        self.last
            .sort_by_key(|(t, _)| required.iter().position(|r| r == t));
        if !keyframe || required.iter().all(|r| types.contains(r)) {
            return false;
        }
        let mut insert = Vec::new();
        for (t, nal) in &self.last {
            if !types.contains(t) {
                insert.extend_from_slice(&[0, 0, 0, 1]);
                insert.extend_from_slice(nal);
            }
        }
        if insert.is_empty() {
            return false;
        }
        // Position: after a leading access unit delimiter, else at byte 0.
        let at = match (nals.first(), nals.get(1)) {
            (Some(first), second) if codec.nal_type(first[0]) == codec.aud_type() => {
                second.map_or(au.len(), |s| start_code_offset(au, s))
            }
            _ => 0,
        };
        au.splice(at..at, insert);
        true
    }
}

/// Offset of the start code in front of `nal`, a sub-slice of `data`.
fn start_code_offset(data: &[u8], nal: &[u8]) -> usize {
    let mut off = nal.as_ptr() as usize - data.as_ptr() as usize - 3;
    if off > 0 && data[off - 1] == 0 {
        off -= 1;
    }
    off
}

/// A running `appsrc ! videoconvert ! encoder ! appsink` pipeline for one geometry.
pub struct AuEncoder {
    codec: Codec,
    pipeline: gst::Pipeline,
    appsrc: gst_app::AppSrc,
    appsink: gst_app::AppSink,
    /// Layout GStreamer expects for the raw frame (its default strides).
    info: gst_video::VideoInfo,
    geom: Geometry,
    frame_duration: gst::ClockTime,
    param_sets: ParamSets,
}

impl AuEncoder {
    /// Builds and starts the pipeline for frames of `geom` at `rate`, with
    /// `bframes` B-frames (H.264; 0: one AU per frame, without delay).
    pub fn new(
        codec: Codec,
        geom: &Geometry,
        rate: FrameRate,
        bframes: u8,
    ) -> Result<Self, EncoderError> {
        let err = |message: String| EncoderError {
            element: codec.element(),
            message,
        };
        gst::init().map_err(|e| err(format!("gst init: {e}")))?;
        let fps = gst::Fraction::new(i32::from(rate.num), i32::from(rate.den));
        let mut builder =
            gst_video::VideoInfo::builder(gst_format(geom.format), geom.width, geom.height)
                .fps(fps);
        let bt601 = gst_video::VideoColorimetry::new(
            gst_video::VideoColorRange::Range16_235,
            gst_video::VideoColorMatrix::Bt601,
            gst_video::VideoTransferFunction::Bt709,
            gst_video::VideoColorPrimaries::Smpte170m,
        );
        if matches!(geom.format, PixelFormat::Yuv | PixelFormat::Yuyv) {
            // The simulator's YUV bytes are BT.601 limited range (pattern.rs).
            builder = builder.colorimetry(&bt601);
        }
        let info = builder
            .build()
            .map_err(|e| err(format!("video info: {e}")))?;
        let caps = info.to_caps().map_err(|e| err(format!("caps: {e}")))?;

        let pipeline = gst::parse::launch(&codec.pipeline_description(bframes))
            .map_err(|e| err(format!("cannot build pipeline: {e}")))?
            .downcast::<gst::Pipeline>()
            .map_err(|_| err("not a pipeline".to_string()))?;
        let appsrc = pipeline
            .by_name("src")
            .and_then(|e| e.downcast::<gst_app::AppSrc>().ok())
            .ok_or_else(|| err("no appsrc".to_string()))?;
        let appsink = pipeline
            .by_name("sink")
            .and_then(|e| e.downcast::<gst_app::AppSink>().ok())
            .ok_or_else(|| err("no appsink".to_string()))?;
        appsrc.set_caps(Some(&caps));
        appsrc.set_format(gst::Format::Time);
        appsrc.set_is_live(false);
        appsrc.set_max_bytes(0); // one frame at a time; never drop or block
        appsink.set_sync(false);
        appsink.set_async(false);
        appsink.set_max_buffers(0);
        pipeline
            .set_state(gst::State::Playing)
            .map_err(|e| err(format!("cannot start: {e}")))?;
        let frame_duration = gst::ClockTime::from_nseconds(rate.pts_ns(1));
        Ok(Self {
            codec,
            pipeline,
            appsrc,
            appsink,
            info,
            geom: *geom,
            frame_duration,
            param_sets: ParamSets::new(codec),
        })
    }

    /// The codec this encoder produces.
    pub fn codec(&self) -> Codec {
        self.codec
    }

    fn fail(&self, what: String) -> EncoderError {
        // Prefer the pipeline's own error message when there is one.
        let detail = self
            .pipeline
            .bus()
            .and_then(|bus| bus.pop_filtered(&[gst::MessageType::Error]))
            .and_then(|msg| match msg.view() {
                gst::MessageView::Error(e) => Some(format!(
                    ": {} ({})",
                    e.error(),
                    e.debug().map(|d| d.to_string()).unwrap_or_default()
                )),
                _ => None,
            })
            .unwrap_or_default();
        EncoderError {
            element: self.codec.element(),
            message: format!("{what}{detail}"),
        }
    }

    /// With B-frames: pushes one raw frame stamped `pts_ns` without waiting
    /// for its access unit (it comes out later, in decode order).
    pub fn push(&mut self, raw: &[u8], pts_ns: u64) -> Result<(), EncoderError> {
        let buffer = self.raw_buffer(raw, pts_ns)?;
        self.appsrc
            .push_buffer(buffer)
            .map_err(|e| self.fail(format!("push of frame pts {pts_ns} failed: {e:?}")))?;
        Ok(())
    }

    /// With B-frames: the next access unit in decode order, whatever frame
    /// it belongs to (`pts_ns` is its own presentation time).
    pub fn pull_next(&mut self) -> Result<EncodedAu, EncoderError> {
        let sample = self
            .appsink
            .try_pull_sample(gst::ClockTime::from_nseconds(PULL_TIMEOUT.as_nanos() as u64))
            .ok_or_else(|| self.fail(format!("no access unit within {PULL_TIMEOUT:?}")))?;
        let buf = sample
            .buffer()
            .ok_or_else(|| self.fail("sample without buffer".to_string()))?;
        let pts_ns = buf
            .pts()
            .and_then(|p| p.checked_sub(PTS_BASE))
            .map(gst::ClockTime::nseconds)
            .ok_or_else(|| self.fail(format!("access unit pts {:?} before the base", buf.pts())))?;
        self.finish_au(buf, pts_ns)
    }

    fn finish_au(&mut self, buf: &gst::BufferRef, pts_ns: u64) -> Result<EncodedAu, EncoderError> {
        let keyframe = !buf.flags().contains(gst::BufferFlags::DELTA_UNIT);
        let map = buf
            .map_readable()
            .map_err(|e| self.fail(format!("map: {e}")))?;
        let mut data = map.as_slice().to_vec();
        drop(map);
        let inserted = self.param_sets.complete(&mut data, keyframe);
        if inserted {
            tracing::debug!("inserted parameter sets into keyframe pts {pts_ns}");
        }
        Ok(EncodedAu {
            data,
            keyframe,
            pts_ns,
            inserted_param_sets: inserted,
        })
    }

    /// Encodes one raw frame (`geom.payload_size()` bytes, rows `geom.stride`
    /// apart) stamped `pts_ns`, and returns its access unit.
    pub fn encode(&mut self, raw: &[u8], pts_ns: u64) -> Result<EncodedAu, EncoderError> {
        let buffer = self.raw_buffer(raw, pts_ns)?;
        let want = PTS_BASE.nseconds() + pts_ns;
        self.appsrc
            .push_buffer(buffer)
            .map_err(|e| self.fail(format!("push of frame pts {pts_ns} failed: {e:?}")))?;
        let deadline = Instant::now() + PULL_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let Some(sample) = self
                .appsink
                .try_pull_sample(gst::ClockTime::from_nseconds(left.as_nanos() as u64))
            else {
                return Err(self.fail(format!(
                    "no access unit for frame pts {pts_ns} within {PULL_TIMEOUT:?}"
                )));
            };
            let Some(buf) = sample.buffer() else {
                return Err(self.fail("sample without buffer".to_string()));
            };
            match buf.pts().map(gst::ClockTime::nseconds) {
                Some(p) if p == want => return self.finish_au(buf, pts_ns),
                // An AU of an earlier frame (not expected with zerolatency): skip.
                Some(p) if p < want => {
                    tracing::warn!("skipping stale access unit pts {p} (want {want})");
                }
                other => {
                    return Err(self.fail(format!(
                        "access unit pts {other:?} does not belong to frame pts {want}"
                    )));
                }
            }
        }
    }

    /// Copies the frame into a buffer with GStreamer's default strides.
    fn raw_buffer(&self, raw: &[u8], pts_ns: u64) -> Result<gst::Buffer, EncoderError> {
        let mut buffer = gst::Buffer::with_size(self.info.size())
            .map_err(|e| self.fail(format!("buffer: {e}")))?;
        {
            let b = buffer.get_mut().expect("fresh buffer is writable");
            b.set_pts(PTS_BASE + gst::ClockTime::from_nseconds(pts_ns));
            b.set_duration(self.frame_duration);
            let mut map = b
                .map_writable()
                .map_err(|e| self.fail(format!("map: {e}")))?;
            let dst_stride = self.info.stride()[0] as usize;
            let src_stride = self.geom.stride as usize;
            let row = self.geom.row_bytes() as usize;
            let rows = self.geom.height as usize;
            for (dst, src) in map
                .as_mut_slice()
                .chunks_mut(dst_stride)
                .zip(raw.chunks(src_stride))
                .take(rows)
            {
                dst[..row].copy_from_slice(&src[..row]);
            }
        }
        Ok(buffer)
    }
}

impl Drop for AuEncoder {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::pattern::{PatternTables, fill_frame, reference_colour, y_limited};

    fn geom(format: PixelFormat, width: u32, height: u32, padding: u32) -> Geometry {
        Geometry {
            width,
            height,
            stride: width * u32::from(format.channels()) + padding,
            format,
        }
    }

    const FR30: FrameRate = FrameRate { num: 30, den: 1 };

    /// Encodes frames 0..n of the §6 pattern.
    fn encode_frames(codec: Codec, g: &Geometry, n: u64) -> Vec<EncodedAu> {
        let mut enc = AuEncoder::new(codec, g, FR30, 0).unwrap();
        let tables = PatternTables::new(g.width, g.height);
        let mut raw = vec![0u8; g.payload_size() as usize];
        (0..n)
            .map(|f| {
                fill_frame(&tables, g, f, &mut raw);
                enc.encode(&raw, FR30.pts_ns(f)).unwrap()
            })
            .collect()
    }

    /// `--encoded-bframes 2`: after `2 + k + 1` frames are in, the k-th unit
    /// in decode order comes out, with its own PTS: I0 P3 B1 B2 P6 B4 B5.
    #[test]
    fn b_frames_come_out_in_decode_order_two_frames_late() {
        let g = geom(PixelFormat::Bgr, 64, 48, 0);
        let mut enc = AuEncoder::new(Codec::H264, &g, FR30, 2).unwrap();
        let tables = PatternTables::new(g.width, g.height);
        let mut raw = vec![0u8; g.payload_size() as usize];
        let mut order = Vec::new();
        for f in 0..9u64 {
            fill_frame(&tables, &g, f, &mut raw);
            enc.push(&raw, FR30.pts_ns(f)).unwrap();
            if f >= 2 {
                let au = enc.pull_next().unwrap();
                order.push((au.pts_ns / FR30.pts_ns(1), au.keyframe));
            }
        }
        assert_eq!(
            order,
            [
                (0, true),
                (3, false),
                (1, false),
                (2, false),
                (6, false),
                (4, false),
                (5, false)
            ]
        );
    }

    fn types(codec: Codec, au: &[u8]) -> Vec<u8> {
        nal_units(au).iter().map(|n| codec.nal_type(n[0])).collect()
    }

    #[test]
    fn nal_split_handles_3_and_4_byte_start_codes() {
        let data = [
            0, 0, 0, 1, 0x67, 1, 2, 0, 0, 1, 0x68, 3, 0, 0, 0, 1, 0x65, 4, 0,
        ];
        let nals = nal_units(&data);
        assert_eq!(
            nals,
            vec![&[0x67, 1, 2][..], &[0x68, 3][..], &[0x65, 4][..]]
        );
        assert_eq!(types(Codec::H264, &data), vec![7, 8, 5]);
        assert!(nal_units(&[1, 2, 3]).is_empty());
        // H.265 header 0x40 0x01 = VPS (32), 0x42 = SPS (33), 0x44 = PPS (34), 0x26 = IDR_W_RADL (19).
        assert_eq!(Codec::H265.nal_type(0x40), 32);
        assert_eq!(Codec::H265.nal_type(0x26), 19);
    }

    #[test]
    fn param_sets_are_inserted_into_bare_keyframes() {
        let mut ps = ParamSets::new(Codec::H264);
        let mut first = vec![
            0, 0, 0, 1, 0x67, 0xAA, 0, 0, 0, 1, 0x68, 0xBB, 0, 0, 1, 0x65, 1,
        ];
        assert!(!ps.complete(&mut first, true), "complete already");
        let mut delta = vec![0, 0, 0, 1, 0x41, 2];
        assert!(!ps.complete(&mut delta, false));
        assert_eq!(delta, [0, 0, 0, 1, 0x41, 2]);
        let mut bare = vec![0, 0, 0, 1, 0x65, 3];
        assert!(ps.complete(&mut bare, true));
        assert_eq!(
            bare,
            [
                0, 0, 0, 1, 0x67, 0xAA, 0, 0, 0, 1, 0x68, 0xBB, 0, 0, 0, 1, 0x65, 3
            ]
        );
        // After an access unit delimiter, and only the missing PPS.
        let mut aud = vec![
            0, 0, 0, 1, 0x09, 0xF0, 0, 0, 0, 1, 0x67, 0xCC, 0, 0, 1, 0x65, 5,
        ];
        assert!(ps.complete(&mut aud, true));
        assert_eq!(
            aud,
            [
                0, 0, 0, 1, 0x09, 0xF0, 0, 0, 0, 1, 0x68, 0xBB, 0, 0, 0, 1, 0x67, 0xCC, 0, 0, 1,
                0x65, 5
            ]
        );
        // With nothing remembered there is nothing to insert.
        let mut fresh = ParamSets::new(Codec::H265);
        let mut idr = vec![0, 0, 0, 1, 0x26, 0x01, 7];
        assert!(!fresh.complete(&mut idr, true));
    }

    fn check_stream(codec: Codec, aus: &[EncodedAu]) {
        for (f, au) in aus.iter().enumerate() {
            assert_eq!(au.pts_ns, FR30.pts_ns(f as u64));
            assert!(
                au.data.starts_with(&[0, 0, 0, 1]) || au.data.starts_with(&[0, 0, 1]),
                "frame {f}: no Annex-B start code"
            );
            let t = types(codec, &au.data);
            let has_all = codec.param_set_types().iter().all(|p| t.contains(p));
            assert_eq!(
                au.keyframe,
                f % 30 == 0,
                "frame {f}: keyframe flag, NAL types {t:?}"
            );
            if au.keyframe {
                assert!(has_all, "frame {f}: keyframe without parameter sets: {t:?}");
                assert!(!au.inserted_param_sets, "the encoder repeats them itself");
            }
        }
    }

    /// Decodes the AUs with libav and returns the luma (Y) plane of each picture
    /// (width must be a multiple of 4 so the I420 Y stride equals the width).
    fn decode_luma(codec: Codec, aus: &[EncodedAu], width: u32, height: u32) -> Vec<Vec<u8>> {
        let (caps, parse, dec) = match codec {
            Codec::H264 => ("video/x-h264", "h264parse", "avdec_h264"),
            Codec::H265 => ("video/x-h265", "h265parse", "avdec_h265"),
        };
        let desc = format!(
            "appsrc name=src format=time caps=\"{caps},stream-format=byte-stream,alignment=au\" \
             ! {parse} ! {dec} ! videoconvert ! video/x-raw,format=I420 \
             ! appsink name=sink sync=false"
        );
        let pipeline = gst::parse::launch(&desc)
            .unwrap()
            .downcast::<gst::Pipeline>()
            .unwrap();
        let src = pipeline
            .by_name("src")
            .unwrap()
            .downcast::<gst_app::AppSrc>()
            .unwrap();
        let sink = pipeline
            .by_name("sink")
            .unwrap()
            .downcast::<gst_app::AppSink>()
            .unwrap();
        pipeline.set_state(gst::State::Playing).unwrap();
        for au in aus {
            let mut b = gst::Buffer::from_slice(au.data.clone());
            b.get_mut()
                .unwrap()
                .set_pts(gst::ClockTime::from_nseconds(au.pts_ns));
            src.push_buffer(b).unwrap();
        }
        src.end_of_stream().unwrap();
        let mut frames = Vec::new();
        while let Some(sample) = sink.try_pull_sample(gst::ClockTime::from_seconds(10)) {
            let map = sample.buffer().unwrap().map_readable().unwrap();
            frames.push(map.as_slice()[..(width * height) as usize].to_vec());
        }
        pipeline.set_state(gst::State::Null).unwrap();
        frames
    }

    /// Mean absolute difference between decoded luma and the BT.601
    /// limited-range luma of §6 frame `f`.
    fn luma_mad(decoded: &[u8], width: u32, f: u64) -> f64 {
        let sum: u64 = decoded
            .iter()
            .enumerate()
            .map(|(i, &y)| {
                let (x, row) = (i as u64 % u64::from(width), i as u64 / u64::from(width));
                let want = y_limited(reference_colour(x, row, f));
                u64::from(y.abs_diff(want))
            })
            .sum();
        sum as f64 / decoded.len() as f64
    }

    /// Each AU decodes to the pattern of its own frame, not a neighbour's
    /// (consecutive frames differ by about 4.6 in luma).
    fn check_content(
        codec: Codec,
        format: PixelFormat,
        aus: &[EncodedAu],
        width: u32,
        height: u32,
    ) {
        let decoded = decode_luma(codec, aus, width, height);
        assert_eq!(decoded.len(), aus.len(), "one picture per AU");
        for (f, pic) in decoded.iter().enumerate() {
            let f = f as u64;
            let own = luma_mad(pic, width, f);
            let next = luma_mad(pic, width, f + 1);
            let prev = luma_mad(pic, width, (f + 255) % 256);
            assert!(
                own < 2.0 && own * 2.0 < next && own * 2.0 < prev,
                "{codec:?} {format:?} frame {f}: luma mad own {own:.2}, next {next:.2}, previous {prev:.2}"
            );
        }
    }

    #[test]
    fn x264_one_au_per_frame_with_parameter_sets_on_keyframes() {
        let g = geom(PixelFormat::Bgr, 64, 48, 3);
        let aus = encode_frames(Codec::H264, &g, 32);
        check_stream(Codec::H264, &aus);
        check_content(Codec::H264, PixelFormat::Bgr, &aus, 64, 48);
    }

    #[test]
    fn x265_one_au_per_frame_with_parameter_sets_on_keyframes() {
        let g = geom(PixelFormat::Yuv, 64, 48, 0);
        let aus = encode_frames(Codec::H265, &g, 32);
        check_stream(Codec::H265, &aus);
        check_content(Codec::H265, PixelFormat::Yuv, &aus, 64, 48);
    }

    #[test]
    fn other_formats_encode_their_own_pattern() {
        for format in [
            PixelFormat::Rgb,
            PixelFormat::Rgba,
            PixelFormat::Bgra,
            PixelFormat::Yuyv,
        ] {
            let g = geom(format, 64, 48, 5);
            let aus = encode_frames(Codec::H264, &g, 3);
            check_content(Codec::H264, format, &aus, 64, 48);
        }
        // GRAY is full-range luma, not limited: just check one AU per frame.
        let g = geom(PixelFormat::Gray, 64, 48, 1);
        assert_eq!(encode_frames(Codec::H264, &g, 3).len(), 3);
    }
}
