//! `--record PATH.mcap`: the access units the other outputs publish, into
//! an MCAP file (`crate::record`), on the sink's own thread. The units are
//! the encoder's buffers, shared with RTP and RTMP (no copy on the way; the
//! one copy is into the chunk being compressed).
//!
//! A write error (disk full, file gone) is fatal, like every sink error:
//! the pipeline stops with it, so a recording that asked for cannot fail
//! silently. A slow disk only fills this sink's queue: its units are
//! dropped to the next keyframe (`record_units_dropped`), never anyone
//! else's.

use std::sync::Arc;

use tracing::{info, warn};

use super::OutputError;
use super::sink::{Flow, Sink};
use crate::config::RecordOutput;
use crate::encode::{AccessUnit, Codec};
use crate::record::{McapRecording, VideoChannel};
use crate::telemetry::{RecordCounters, add, incr};

pub(crate) struct McapSink {
    file: Option<McapRecording>,
    video: VideoChannel,
    stats: Arc<RecordCounters>,
    /// A reordered unit was seen (and said once).
    warned_reorder: bool,
}

impl McapSink {
    /// Creates the file now, so a path that cannot be written is refused
    /// before anything streams.
    pub fn open(
        cfg: &RecordOutput,
        codec: Codec,
        stats: Arc<RecordCounters>,
    ) -> Result<Self, OutputError> {
        let mut file = McapRecording::create(&cfg.path, cfg.options)?;
        let video = file.add_video(&cfg.label, codec)?;
        info!(path = %cfg.path.display(), topic = %format!("/{}/video", cfg.label), "recording");
        Ok(Self {
            file: Some(file),
            video,
            stats,
            warned_reorder: false,
        })
    }
}

impl Sink for McapSink {
    fn name(&self) -> &'static str {
        "record"
    }

    fn write(&mut self, unit: &AccessUnit) -> Result<Flow, OutputError> {
        let Some(file) = self.file.as_mut() else {
            return Ok(Flow::Continue);
        };
        // Our encoders make no B-frames with --record (refused in config);
        // a producer's stream in --passthrough may have them.
        if !self.warned_reorder && unit.dts_ns != unit.pts_ns as i64 {
            self.warned_reorder = true;
            warn!(
                "the recorded stream has B-frames (the producer's, --passthrough): \
                 Foxglove's CompressedVideo cannot show them in order"
            );
        }
        file.write_video(self.video, unit.capture_ts_ns, &unit.data)?;
        incr(&self.stats.record_units_written);
        add(&self.stats.record_bytes_written, unit.data.len() as u64);
        Ok(Flow::Continue)
    }

    fn finish(&mut self) {
        let Some(file) = self.file.take() else {
            return;
        };
        let path = file.path().to_owned();
        match file.finish() {
            Ok(channels) => {
                for c in channels {
                    info!(path = %path.display(), topic = %c.topic, messages = c.messages,
                        bytes = c.payload_bytes, log_time_adjusted = c.log_time_adjusted,
                        "recording finished");
                }
            }
            Err(e) => {
                warn!(error = %e, "recording not finished: recover it with cvmmap_tools recover")
            }
        }
    }
}
