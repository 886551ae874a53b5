//! `--passthrough`: publishes the producer's own access units, starting at
//! a keyframe, since a decoder cannot start mid-GOP.

use tracing::{info, warn};

use crate::encode::{AccessUnit, AccessUnitSink, Codec};
use crate::ingest::Frame;
use crate::telemetry::{EncodeCounters, incr};

pub(crate) struct Passthrough {
    pub(crate) sink: AccessUnitSink,
    pub(crate) codec: Codec,
    /// A keyframe went out and the chain since is unbroken.
    pub(crate) started: bool,
    /// "a frame came without a unit" was logged.
    pub(crate) logged_raw: bool,
    last_frame: Option<u32>,
}

impl Passthrough {
    pub(crate) fn new(sink: AccessUnitSink, codec: Codec) -> Self {
        Self {
            sink,
            codec,
            started: false,
            logged_raw: false,
            last_frame: None,
        }
    }

    pub(crate) fn publish(&mut self, frame: Frame, pts_ns: u64, stats: &EncodeCounters) {
        let Some(unit) = frame.encoded else { return };
        // A unit lost before this one (queue drop, torn read) breaks the
        // reference chain: wait for the next keyframe again.
        let contiguous = self
            .last_frame
            .is_some_and(|l| frame.frame_count == l.wrapping_add(1));
        self.last_frame = Some(frame.frame_count);
        if self.started && !contiguous && !unit.keyframe {
            warn!(
                frame = frame.frame_count,
                "passthrough: a unit was lost; waiting for the next keyframe"
            );
            self.started = false;
        }
        if !self.started && !unit.keyframe {
            incr(&stats.passthrough_skipped);
            return;
        }
        if !self.started {
            info!("passthrough: publishing the producer's access units without re-encoding");
        }
        self.started = true;
        incr(&stats.frames_passthrough);
        (self.sink)(AccessUnit {
            codec: self.codec,
            data: unit.data,
            pts_ns,
            dts_ns: pts_ns as i64,
            keyframe: unit.keyframe,
            capture_ts_ns: frame.capture_ts_ns,
            width: frame.geometry.width,
            height: frame.geometry.height,
            frame_rate: frame.frame_rate,
        });
    }
}
