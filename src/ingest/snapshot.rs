//! The coherent snapshot: one copy of a frame out of shared memory, rejected
//! when the producer changed it meanwhile.
//!
//! Upstream has no seqlock (contract §2, "Producer write order and torn
//! reads"): the consumer reads the frame counter (0x0C) and timestamp (0x10),
//! copies the payload, reads both again, and drops the frame as torn when
//! either changed. The algorithm is generic over [`SharedRegion`] so that it
//! is tested against real shared memory and against a region that injects a
//! write at an exact point.

use std::sync::Arc;

use super::bands::Bands;
use super::frame::{AuxPlane, AuxPlanes, EncodedPayload, Form, Frame, VideoGeometry};
use super::pool::{FrameBuf, FramePool};
use crate::contract::{
    self, Depth, EncodedCodec, FrameLayout, METADATA_SIZE, MetadataError, PAYLOAD_OFFSET,
    PixelFormat, Plane,
};
use crate::pixels::{I420Layout, Matrix};

/// A read outside the region was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("read of {len} bytes at offset {offset} is outside the mapping")]
pub struct OutOfBounds {
    pub offset: usize,
    pub len: usize,
}

/// Memory another process may be writing, bounds-checked.
pub trait SharedRegion {
    fn len(&self) -> usize;
    /// Copies `dst.len()` bytes starting at `offset`, or refuses.
    fn read_at(&self, offset: usize, dst: &mut [u8]) -> Result<(), OutOfBounds>;
    /// Runs `f` over `len` bytes at `offset` in place, where the region can
    /// lend them safely (a mapping under [`super::guard`]); `None` where it
    /// cannot, and the caller copies with [`SharedRegion::read_at`].
    fn in_place(
        &self,
        _offset: usize,
        _len: usize,
        _f: &mut dyn FnMut(&[u8]),
    ) -> Option<Result<(), OutOfBounds>> {
        None
    }
}

/// The frame counter and timestamp that identify one published frame.
pub type FrameId = (u32, u64);

/// What the caller wants of a raw frame.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Want {
    /// Converted to I420 on the way out (the software encoder takes it).
    pub i420: bool,
    /// The simulator's stamps (`--verify-stamps`) read from the source bytes
    /// as the conversion passes them (a converted frame no longer has them).
    pub stamps: bool,
    /// The DEPTH and CONFIDENCE planes too (the recorder).
    pub aux: bool,
}

/// What one snapshot attempt found.
#[derive(Debug)]
pub enum Snapshot {
    /// The metadata still describes the frame identified by `last`.
    Unchanged,
    /// A coherent copy of a new frame.
    Frame(Frame),
    /// Counter or timestamp changed during the copy; nothing was kept.
    Torn { before: FrameId, after: FrameId },
    /// The counter held, but samples of the payload read again right after
    /// the copy differ from it: the producer is rewriting the payload in
    /// place before its metadata (the contract's order); nothing was kept.
    Rewritten { frame: FrameId },
    /// The metadata failed validation (not ready, re-initialising, corrupt).
    Invalid(MetadataError),
    /// Valid metadata, but the video plane is not something we can encode.
    Unsupported { reason: &'static str, depth: Depth },
    /// The metadata points outside the mapping (it grew: remap and retry).
    OutOfBounds(OutOfBounds),
    /// The metadata describes a frame no sync has announced yet: the producer
    /// may still be writing it (contract §2 write order), so it is not copied.
    Unannounced { meta_count: u32, sync_count: u32 },
}

fn frame_id(meta: &[u8]) -> Option<FrameId> {
    contract::read_counter_and_timestamp(meta)
}

/// The (frame_count, timestamp) the metadata shows now, without copying.
pub fn peek_id(region: &impl SharedRegion) -> Option<FrameId> {
    let mut ids = [0u8; 0x18];
    region.read_at(0, &mut ids).ok()?;
    frame_id(&ids)
}

/// Takes one snapshot. `last` is the id of the frame delivered before, so an
/// unchanged segment costs one 256-byte read. With `passthrough`, a frame
/// whose producer supplied an Annex-B access unit of that codec is taken as
/// that unit alone (the raw plane is not copied). Tests use it; the loop
/// always knows whether a sync announced the frame.
#[cfg(test)]
pub fn take(
    region: &impl SharedRegion,
    last: Option<FrameId>,
    passthrough: Option<EncodedCodec>,
) -> Snapshot {
    take_announced(
        region,
        last,
        passthrough,
        None,
        &FramePool::new(),
        &Bands::single(),
        Want::default(),
    )
}

/// [`take`], copying only the frame the latest sync announced (`announced`:
/// its frame_count) when syncs flow. A producer announces a frame after
/// writing it; metadata ahead of the sync means a write in progress.
pub fn take_announced(
    region: &impl SharedRegion,
    last: Option<FrameId>,
    passthrough: Option<EncodedCodec>,
    announced: Option<u32>,
    pool: &Arc<FramePool>,
    bands: &Bands,
    want: Want,
) -> Snapshot {
    let mut meta = [0u8; METADATA_SIZE];
    if let Err(e) = region.read_at(0, &mut meta) {
        return Snapshot::OutOfBounds(e);
    }
    let Some(before) = frame_id(&meta) else {
        return Snapshot::Invalid(MetadataError::TooShort { len: meta.len() });
    };
    if Some(before) == last {
        return Snapshot::Unchanged;
    }
    // Only metadata AHEAD of the latest sync is a write in progress; metadata
    // behind it (a reset, or a sync that overtook a re-created segment) is
    // safe to copy: the before/after check still guards the copy.
    if let Some(sync_count) = announced
        && before.0 > sync_count
    {
        return Snapshot::Unannounced {
            meta_count: before.0,
            sync_count,
        };
    }
    let layout: FrameLayout = match contract::parse_metadata(&meta, region.len()) {
        Ok(l) => l,
        Err(e) => return Snapshot::Invalid(e),
    };
    let plane = &layout.video;
    if plane.depth != Depth::U8 {
        return Snapshot::Unsupported {
            reason: "video plane depth must be U8",
            depth: plane.depth,
        };
    }
    let geometry = VideoGeometry {
        pixel_format: plane.pixel_format,
        width: plane.width,
        height: plane.height,
        stride: plane.stride,
    };
    let encoded = layout
        .encoded
        .as_ref()
        .filter(|e| passthrough == Some(e.codec) && e.is_annex_b());
    let (data, encoded) = match encoded {
        Some(e) => match copy_plane(region, &e.plane, vec![0u8; e.plane.size]) {
            Ok(au) => (
                Taken::raw(FrameBuf::default()),
                Some(EncodedPayload {
                    codec: e.codec,
                    keyframe: e.keyframe,
                    stream_pts_ns: e.stream_pts_ns,
                    data: au.into_vec(),
                }),
            ),
            Err(e) => return Snapshot::OutOfBounds(e),
        },
        None => match take_plane(region, plane, &geometry, pool, bands, want) {
            Ok(taken) => (taken, None),
            Err(e) => return Snapshot::OutOfBounds(e),
        },
    };
    let Taken {
        data,
        form,
        reference,
        stamps,
    } = data;
    // Before the second read of the counter: a torn aux plane is caught
    // with the frame.
    let aux = match want.aux.then(|| take_aux(region, &layout)).transpose() {
        Ok(aux) => aux.flatten(),
        Err(e) => return Snapshot::OutOfBounds(e),
    };
    let mut ids = [0u8; 0x18];
    if let Err(e) = region.read_at(0, &mut ids) {
        return Snapshot::OutOfBounds(e);
    }
    let after = frame_id(&ids).unwrap_or((0, 0));
    if after != before {
        return Snapshot::Torn { before, after };
    }
    // Samples that changed while the counter still holds (read again after
    // them): the payload is being rewritten before its metadata. Changed
    // samples under a new counter are the next frame's ordinary write,
    // begun after the copy and the check above.
    let unchanged = match &reference {
        Reference::Copy => unchanged_since(region, plane, &data),
        Reference::Samples(then) => {
            let mut now = [[0u8; SAMPLE_LEN]; SAMPLES];
            sample(region, plane, geometry.plane_bytes(), &mut now) && now == *then
        }
    };
    if encoded.is_none() && !unchanged && peek_id(region) == Some(before) {
        return Snapshot::Rewritten { frame: before };
    }
    Snapshot::Frame(Frame {
        frame_count: before.0,
        capture_ts_ns: before.1,
        geometry,
        data,
        form,
        stamps,
        encoded,
        frame_rate: layout
            .encoded
            .as_ref()
            .filter(|e| e.frame_rate_num > 0 && e.frame_rate_den > 0)
            .map(|e| (u32::from(e.frame_rate_num), u32::from(e.frame_rate_den))),
        aux,
    })
}

/// The DEPTH and CONFIDENCE planes when present as GRAY/F32 (the only form
/// the contract gives them); `None` when the frame has neither.
fn take_aux(
    region: &impl SharedRegion,
    layout: &FrameLayout,
) -> Result<Option<Box<AuxPlanes>>, OutOfBounds> {
    let copy = |p: &Option<Plane>| -> Result<Option<AuxPlane>, OutOfBounds> {
        let Some(p) = p
            .as_ref()
            .filter(|p| p.depth == Depth::F32 && p.pixel_format == PixelFormat::Gray)
        else {
            return Ok(None);
        };
        let data = copy_plane(region, p, vec![0u8; p.size])?;
        Ok(Some(AuxPlane {
            width: p.width,
            height: p.height,
            stride: p.stride,
            data: data.into_vec(),
        }))
    };
    let (depth, confidence) = (copy(&layout.depth)?, copy(&layout.confidence)?);
    Ok((depth.is_some() || confidence.is_some()).then(|| {
        Box::new(AuxPlanes {
            depth,
            confidence,
            depth_unit: layout.depth_unit,
        })
    }))
}

/// Samples compared after a copy, spread over the plane.
const SAMPLES: usize = 16;
/// Bytes per sample.
const SAMPLE_LEN: usize = 64;

/// What the payload re-read after the copy is compared with. A stack
/// value for one snapshot: boxing the samples would allocate per frame.
#[allow(clippy::large_enum_variant)]
enum Reference {
    /// The copy itself (a raw frame).
    Copy,
    /// The samples as they were just before an in-place conversion.
    Samples([[u8; SAMPLE_LEN]; SAMPLES]),
}

fn sample_at(k: usize, len: usize) -> usize {
    (len - SAMPLE_LEN) * k / (SAMPLES - 1)
}

/// Reads the [`SAMPLES`] slices of a `len`-byte plane into `out`.
fn sample(
    region: &impl SharedRegion,
    plane: &Plane,
    len: usize,
    out: &mut [[u8; SAMPLE_LEN]; SAMPLES],
) -> bool {
    if len < SAMPLE_LEN {
        return true;
    }
    let mut take = |bytes: &[u8]| {
        for (k, o) in out.iter_mut().enumerate() {
            let at = sample_at(k, len);
            o.copy_from_slice(&bytes[at..at + SAMPLE_LEN]);
        }
    };
    match region.in_place(PAYLOAD_OFFSET + plane.offset, len, &mut take) {
        Some(r) => r.is_ok(),
        None => (0..SAMPLES).all(|k| {
            region
                .read_at(
                    PAYLOAD_OFFSET + plane.offset + sample_at(k, len),
                    &mut out[k],
                )
                .is_ok()
        }),
    }
}

/// A plane taken out of the segment.
struct Taken {
    data: FrameBuf,
    form: Form,
    /// What the rewrite check compares with afterwards.
    reference: Reference,
    /// The simulator's first- and last-row stamps (`--verify-stamps`), when
    /// read during a conversion (a raw copy keeps them in its bytes).
    stamps: Option<(u32, u32)>,
}

impl Taken {
    fn raw(data: FrameBuf) -> Self {
        Self {
            data,
            form: Form::Raw,
            reference: Reference::Copy,
            stamps: None,
        }
    }
}

/// The u32 (LE) at `at`, if the bytes reach.
fn stamp_at(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        bytes.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

/// The raw plane: converted to I420 in place from the mapping when the
/// encoder wants I420 and the region lends its bytes (the conversion is the
/// one copy), else copied as it is.
fn take_plane(
    region: &impl SharedRegion,
    plane: &Plane,
    geometry: &VideoGeometry,
    pool: &Arc<FramePool>,
    bands: &Bands,
    want: Want,
) -> Result<Taken, OutOfBounds> {
    let len = geometry.plane_bytes();
    if want.i420 {
        let matrix = Matrix::for_height(geometry.height);
        let layout = I420Layout::new(geometry.width, geometry.height);
        let mut out = pool.take(layout.size);
        let mut before = [[0u8; SAMPLE_LEN]; SAMPLES];
        let mut converted = Ok(());
        let mut stamps = None;
        let last_row = geometry.stride * (geometry.height as usize).saturating_sub(1);
        let mut convert = |bytes: &[u8]| {
            // The first row's stamp as the pass starts, the last row's as it
            // ends: when a raw copy would have read them.
            let first = want.stamps.then(|| stamp_at(bytes, 0)).flatten();
            converted = match layout.planes(&mut out) {
                Some(planes) => bands.to_i420(bytes, geometry, planes, matrix),
                None => Ok(()),
            };
            if want.stamps {
                stamps = first.zip(stamp_at(bytes, last_row));
            }
        };
        if sample(region, plane, len, &mut before)
            && let Some(done) = region.in_place(PAYLOAD_OFFSET + plane.offset, len, &mut convert)
        {
            done?;
            // The parser checked the plane's size against its geometry, so
            // the conversion cannot refuse it; if it did, copy it raw.
            if converted.is_ok() {
                return Ok(Taken {
                    data: out,
                    form: Form::I420(matrix),
                    reference: Reference::Samples(before),
                    stamps,
                });
            }
        }
    }
    Ok(Taken::raw(copy_plane(region, plane, pool.take(len))?))
}

/// Whether [`SAMPLES`] slices of the plane, read again now, still equal the
/// copy. Upstream has no seqlock (contract §2): a producer that rewrites the
/// payload in place before updating the metadata leaves the counter alone,
/// but a live picture changes nearly everywhere from one frame to the next,
/// so a rewrite that overlapped the copy shows in the samples. A rewrite
/// with identical bytes is invisible and also harmless.
fn unchanged_since(region: &impl SharedRegion, plane: &Plane, copy: &[u8]) -> bool {
    if copy.len() < SAMPLE_LEN {
        return true;
    }
    let mut now = [0u8; SAMPLE_LEN];
    (0..SAMPLES).all(|k| {
        let at = sample_at(k, copy.len());
        region
            .read_at(PAYLOAD_OFFSET + plane.offset + at, &mut now)
            .is_ok_and(|()| now[..] == copy[at..at + SAMPLE_LEN])
    })
}

/// Fills `data` from the start of `plane` (the parser guarantees that
/// offset + size lies inside the payload, and the payload inside the mapping).
fn copy_plane<B: std::ops::DerefMut<Target = [u8]>>(
    region: &impl SharedRegion,
    plane: &Plane,
    mut data: B,
) -> Result<FrameBuf, OutOfBounds>
where
    FrameBuf: From<B>,
{
    region.read_at(PAYLOAD_OFFSET + plane.offset, &mut data)?;
    Ok(data.into())
}

#[cfg(test)]
#[path = "snapshot_tests.rs"]
mod tests;
