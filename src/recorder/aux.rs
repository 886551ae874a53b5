//! The cameras' DEPTH and CONFIDENCE planes as `foxglove.RawImage` on
//! `/<label>/depth` and `/<label>/confidence` (docs/mcap-layout.md): depth
//! as `16UC1` millimetres by default (`pixels::depth`'s documented
//! rounding) or the producer's floats as `32FC1` (`--depth-format f32`);
//! confidence always as `32FC1`. A channel is added when its camera's
//! first plane comes, with the unit in its metadata. Body-tracking
//! messages from NATS go to `/<label>/body` unchanged (contract §4 layout,
//! no schema), logged at the time of the frame they belong to.

use std::collections::BTreeMap;

use bytes::Bytes;
use tracing::warn;

use crate::ingest::{AuxPlane, AuxPlanes};
use crate::pixels::depth::{DepthUnit, f32_packed, f32_to_mm16};
use crate::record::{ImageChannel, McapRecording, RawChannel, RecordError};

/// `--depth-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DepthFormat {
    /// `16UC1` millimetres (viewers colour-map it well).
    Mm16,
    /// `32FC1`, the producer's floats unchanged.
    F32,
}

/// The rounding rule, as written into the depth channel's metadata.
const MM16_RULE: &str = "round(mm) half away from zero; 0 = no depth (NaN, infinite, below 0.5 mm, at or above 65535.5 mm)";

/// `/<label>/body`'s message encoding: the contract's bytes, unchanged.
pub const BODY_ENCODING: &str = "cvmmap.body.v1";

#[derive(Default)]
struct Camera {
    depth: Option<ImageChannel>,
    confidence: Option<ImageChannel>,
    body: Option<RawChannel>,
    written: u64,
    bodies: u64,
    /// A plane that did not fit its geometry was said once.
    warned: bool,
}

pub(super) struct AuxWriter {
    format: DepthFormat,
    cameras: Vec<Camera>,
}

impl AuxWriter {
    pub fn new(cameras: usize, format: DepthFormat) -> Self {
        Self {
            format,
            cameras: (0..cameras).map(|_| Camera::default()).collect(),
        }
    }

    /// Images written for `camera`.
    pub fn written(&self, camera: usize) -> u64 {
        self.cameras.get(camera).map_or(0, |c| c.written)
    }

    /// Body messages written for `camera`.
    pub fn bodies(&self, camera: usize) -> u64 {
        self.cameras.get(camera).map_or(0, |c| c.bodies)
    }

    /// One validated body-tracking message of the frame captured at `ts_ns`.
    pub fn write_body(
        &mut self,
        file: &mut McapRecording,
        camera: usize,
        label: &str,
        ts_ns: u64,
        message: &[u8],
    ) -> Result<(), RecordError> {
        let Some(cam) = self.cameras.get_mut(camera) else {
            return Ok(());
        };
        let channel = match cam.body {
            Some(c) => c,
            None => {
                let meta = BTreeMap::from([
                    ("source".to_owned(), label.to_owned()),
                    (
                        "layout".to_owned(),
                        "cv-mmap contract §4 body-tracking v1: 64-byte header, body_count x 3248-byte records, little endian".to_owned(),
                    ),
                ]);
                let c = file.add_raw(&format!("/{label}/body"), BODY_ENCODING, meta)?;
                cam.body = Some(c);
                c
            }
        };
        file.write_raw(channel, ts_ns, message)?;
        cam.bodies += 1;
        Ok(())
    }

    pub fn write(
        &mut self,
        file: &mut McapRecording,
        camera: usize,
        label: &str,
        ts_ns: u64,
        planes: &AuxPlanes,
    ) -> Result<(), RecordError> {
        let unit = DepthUnit::from_contract(planes.depth_unit);
        // Millimetres need a known unit; an unknown one keeps the floats.
        let mm16 = self.format == DepthFormat::Mm16 && unit.is_some();
        let format = self.format;
        let Some(cam) = self.cameras.get_mut(camera) else {
            return Ok(());
        };
        if let Some(p) = &planes.depth {
            let channel = match cam.depth {
                Some(c) => c,
                None => {
                    let c = add_depth(file, label, unit, mm16, format)?;
                    cam.depth = Some(c);
                    c
                }
            };
            let mut data = Vec::new();
            let converted = match (mm16, unit) {
                (true, Some(u)) => f32_to_mm16(&p.data, p.width, p.height, p.stride, u, &mut data),
                _ => f32_packed(&p.data, p.width, p.height, p.stride, &mut data),
            };
            let step = p.width * if mm16 { 2 } else { 4 };
            cam.image(
                file,
                channel,
                ts_ns,
                p,
                step,
                converted.map(|()| data),
                label,
            )?;
        }
        if let Some(p) = &planes.confidence {
            let channel = match cam.confidence {
                Some(c) => c,
                None => {
                    let meta = BTreeMap::from([("range".to_owned(), "0..=100".to_owned())]);
                    let c = file.add_image(label, "confidence", "32FC1", meta)?;
                    cam.confidence = Some(c);
                    c
                }
            };
            let mut data = Vec::new();
            let packed = f32_packed(&p.data, p.width, p.height, p.stride, &mut data);
            cam.image(
                file,
                channel,
                ts_ns,
                p,
                p.width * 4,
                packed.map(|()| data),
                label,
            )?;
        }
        Ok(())
    }
}

impl Camera {
    #[allow(clippy::too_many_arguments)]
    fn image(
        &mut self,
        file: &mut McapRecording,
        channel: ImageChannel,
        ts_ns: u64,
        p: &AuxPlane,
        step: u32,
        data: Result<Vec<u8>, crate::pixels::depth::DepthError>,
        label: &str,
    ) -> Result<(), RecordError> {
        match data {
            Ok(data) => {
                file.write_image(
                    channel,
                    ts_ns,
                    (p.width, p.height, step),
                    &Bytes::from(data),
                )?;
                self.written += 1;
            }
            Err(e) => {
                // The ingest copied the plane the metadata described; one
                // that does not fit its own geometry is the producer's
                // error: skipped, said once.
                if !self.warned {
                    self.warned = true;
                    warn!(camera = label, error = %e, "a depth or confidence plane was skipped");
                }
            }
        }
        Ok(())
    }
}

fn add_depth(
    file: &mut McapRecording,
    label: &str,
    unit: Option<DepthUnit>,
    mm16: bool,
    format: DepthFormat,
) -> Result<ImageChannel, RecordError> {
    let producer_unit = unit.map_or("unknown", DepthUnit::name);
    let mut meta = BTreeMap::from([("producer_unit".to_owned(), producer_unit.to_owned())]);
    let encoding = if mm16 {
        meta.insert("unit".into(), "millimetre".into());
        meta.insert("conversion".into(), MM16_RULE.into());
        "16UC1"
    } else {
        meta.insert("unit".into(), producer_unit.into());
        if format == DepthFormat::Mm16 {
            warn!(
                camera = label,
                "the producer's depth unit is unknown: depth kept as 32FC1 floats"
            );
        }
        "32FC1"
    };
    file.add_image(label, "depth", encoding, meta)
}
