//! `--passthrough`: publishes the producer's own access units, starting at
//! a keyframe, since a decoder cannot start mid-GOP.
//!
//! Two streams can feed the outputs: the producer's units (published from
//! the encode loop) and our encoder's (from GStreamer's thread) for frames
//! that came without a unit. They have different parameter sets and
//! reference chains, so the [`Gate`] lets exactly one through and switches
//! only at a keyframe of the stream it switches to: a frame without a unit
//! switches to the encoder with a forced keyframe (its output is held back
//! until that keyframe), and the producer's stream comes back at its next
//! keyframe. Neither thread's timing can interleave the two.
//!
//! The producer's units come in decode order with their stream times;
//! [`StreamClock`] turns those into PTS and DTS (B-frames: DTS before PTS,
//! with the reorder depth the keyframe's SPS states).
//!
//! A producer may send its parameter sets once: they are cached and put in
//! front of every later keyframe that lacks them, so that RTMP's sequence
//! header, the SDP's sprop and late joiners always find them.

use std::sync::{Arc, Mutex};

use tracing::{info, warn};

use super::stream_clock::StreamClock;
use crate::codec::{h264, h265, parameter_sets_annexb};
use crate::encode::{AccessUnit, AccessUnitSink, Codec};
use crate::flv;
use crate::ingest::Frame;
use crate::telemetry::{EncodeCounters, incr};

/// Which stream feeds the outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Active {
    /// The producer's units; `started` once a keyframe went out and the
    /// chain since is unbroken.
    Producer { started: bool },
    /// Our encoder's units; `keyframe_seen` once its keyframe went out.
    Encoder { keyframe_seen: bool },
}

/// Lets one stream through at a time (see the module doc).
pub(crate) struct Gate {
    active: Mutex<Active>,
    sink: AccessUnitSink,
    stats: Arc<EncodeCounters>,
}

impl Gate {
    fn lock(&self) -> std::sync::MutexGuard<'_, Active> {
        self.active.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The sink our encoder writes to.
    pub(crate) fn encoder_sink(self: &Arc<Self>) -> AccessUnitSink {
        let gate = self.clone();
        Arc::new(move |au: AccessUnit| {
            let mut active = gate.lock();
            match &mut *active {
                Active::Encoder { keyframe_seen } if *keyframe_seen || au.keyframe => {
                    *keyframe_seen = true;
                    (gate.sink)(au);
                }
                _ => incr(&gate.stats.passthrough_skipped),
            }
        })
    }
}

pub(crate) struct Passthrough {
    gate: Arc<Gate>,
    codec: Codec,
    /// "a frame came without a unit" was logged.
    logged_raw: bool,
    last_frame: Option<u32>,
    /// The producer's latest parameter sets, Annex-B framed.
    parameter_sets: Vec<u8>,
    /// The reorder depth the producer's latest SPS states.
    reorder_depth: Option<u32>,
    clock: StreamClock,
}

impl Passthrough {
    pub(crate) fn new(sink: AccessUnitSink, codec: Codec, stats: Arc<EncodeCounters>) -> Self {
        Self {
            gate: Arc::new(Gate {
                // Until the producer's first keyframe, whatever we encode
                // (frames without units) goes out.
                active: Mutex::new(Active::Encoder {
                    keyframe_seen: true,
                }),
                sink,
                stats,
            }),
            codec,
            logged_raw: false,
            last_frame: None,
            parameter_sets: Vec::new(),
            reorder_depth: None,
            clock: StreamClock::default(),
        }
    }

    /// The sink to give the encoder.
    pub(crate) fn encoder_sink(&self) -> AccessUnitSink {
        self.gate.encoder_sink()
    }

    /// A frame without a producer unit is about to be encoded. Returns
    /// whether it must be a keyframe: true when it switches the outputs
    /// from the producer's stream to ours.
    pub(crate) fn on_raw_frame(&mut self) -> bool {
        let mut active = self.gate.lock();
        if let Active::Producer { .. } = *active {
            if !self.logged_raw {
                self.logged_raw = true;
                warn!("a frame came without a matching encoded access unit: encoding it");
            }
            *active = Active::Encoder {
                keyframe_seen: false,
            };
            return true;
        }
        false
    }

    pub(crate) fn publish(&mut self, frame: Frame, pts_ns: u64, stats: &EncodeCounters) {
        let Some(unit) = frame.encoded else { return };
        // A unit lost before this one (queue drop, torn read) breaks the
        // reference chain: wait for the next keyframe again.
        let contiguous = self
            .last_frame
            .is_some_and(|l| frame.frame_count == l.wrapping_add(1));
        self.last_frame = Some(frame.frame_count);
        let gate = self.gate.clone();
        let mut active = gate.lock();
        let started = match *active {
            Active::Producer { started } => started,
            Active::Encoder { .. } => false,
        };
        if started && !contiguous && !unit.keyframe {
            warn!(
                frame = frame.frame_count,
                "passthrough: a unit was lost; waiting for the next keyframe"
            );
        }
        if !(unit.keyframe || started && contiguous) {
            if started {
                *active = Active::Producer { started: false };
            }
            incr(&stats.passthrough_skipped);
            return;
        }
        if !started {
            info!("passthrough: publishing the producer's access units without re-encoding");
            // A new chain: its keyframe anchors the stream times.
            self.clock.reset();
        }
        *active = Active::Producer { started: true };
        let mut data = unit.data;
        if unit.keyframe {
            self.with_parameter_sets(&mut data);
            if let Some(depth) = reorder_depth(self.codec, &data) {
                self.reorder_depth = Some(depth);
            }
        }
        let frame_ns = frame
            .frame_rate
            .filter(|&(num, _)| num > 0)
            .map(|(num, den)| u64::from(den) * 1_000_000_000 / u64::from(num));
        let times = self.clock.place(
            unit.stream_pts_ns,
            pts_ns,
            unit.keyframe,
            self.reorder_depth,
            frame_ns,
        );
        if times.adjusted {
            incr(&stats.passthrough_dts_adjusted);
        }
        incr(&stats.frames_passthrough);
        (gate.sink)(AccessUnit {
            codec: self.codec,
            data: data.into(),
            pts_ns: times.pts_ns,
            dts_ns: times.dts_ns,
            keyframe: unit.keyframe,
            capture_ts_ns: frame.capture_ts_ns,
            width: frame.geometry.width,
            height: frame.geometry.height,
            frame_rate: frame.frame_rate,
        });
    }

    /// Caches the keyframe's parameter sets, or puts the cached ones in
    /// front when it has none.
    fn with_parameter_sets(&mut self, data: &mut Vec<u8>) {
        let sets = parameter_sets_annexb(data, self.codec == Codec::H265);
        if !sets.is_empty() {
            self.parameter_sets = sets;
        } else if !self.parameter_sets.is_empty() {
            data.splice(0..0, self.parameter_sets.iter().copied());
        }
    }
}

/// The reorder depth the access unit's SPS states, if it has one that
/// parses that far.
fn reorder_depth(codec: Codec, access_unit: &[u8]) -> Option<u32> {
    let depth = match codec {
        Codec::H264 => h264::find_parameter_sets(access_unit)
            .sps
            .and_then(|sps| flv::avc::parse_sps(sps).ok())
            .and_then(|info| info.max_num_reorder_frames),
        Codec::H265 => h265::find_parameter_sets(access_unit)
            .sps
            .and_then(|sps| flv::hevc_record::parse_sps(sps).ok())
            .and_then(|info| info.max_num_reorder_pics),
    };
    depth.map(u32::from)
}

#[cfg(test)]
#[path = "passthrough_tests.rs"]
mod tests;
