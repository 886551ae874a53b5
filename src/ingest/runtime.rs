//! The ingest loop: waits for a sync (or polls), takes a coherent snapshot,
//! and pushes new frames into the latest-frame queue.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tracing::{debug, info, warn};

use super::shm::{Identity, Segment, shm_path};
use super::snapshot::{self, FrameId, SharedRegion, Snapshot};
use super::sync::SyncListener;
use super::{Frame, IngestError, LatestQueue};
use crate::contract::EncodedCodec;
use crate::pipeline::Stats;

/// Ingest settings, from the command line.
#[derive(Debug, Clone)]
pub struct IngestConfig {
    pub shm_name: String,
    pub zmq_endpoint: String,
    /// Only syncs with this label count; `None` accepts any label.
    pub label: Option<String>,
    /// Stop after this many frames (0: unlimited).
    pub max_frames: u64,
    /// Stop when no frame arrived for this long (from start or the last frame).
    pub idle_timeout: Option<Duration>,
    /// How long to wait for a sync before polling the metadata anyway.
    pub poll_interval: Duration,
    /// Take the producer's own access units of this codec (v2.1) instead of
    /// raw frames (`--passthrough`).
    pub passthrough: Option<EncodedCodec>,
    /// Check every accepted raw frame's stamps (`--verify-stamps`): the
    /// simulator writes the frame counter (u32 LE) at the start of the first
    /// and the last row, so a torn frame that slipped through shows.
    pub verify_stamps: bool,
}

/// Why ingest ended normally.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IngestEnd {
    MaxFrames,
    IdleTimeout,
    Stopped,
}

/// Syncs this recent mean the producer announces frames: copy only those.
const SYNC_LIVE: Duration = Duration::from_millis(500);
/// Metadata that never matches the syncs for this long: stop trusting them.
const SYNC_MISMATCH_GIVE_UP: Duration = Duration::from_secs(1);

/// How often the segment's name is re-checked while frames flow.
const IDENTITY_CHECK_EVERY: Duration = Duration::from_millis(250);

struct Attachment {
    path: PathBuf,
    segment: Option<Segment>,
    last_check: Instant,
    logged_missing: bool,
}

impl Attachment {
    /// Maps the segment when none is mapped or the name points elsewhere.
    fn refresh(&mut self, stats: &Stats, force: bool) {
        if !force && self.segment.is_some() && self.last_check.elapsed() < IDENTITY_CHECK_EVERY {
            return;
        }
        self.last_check = Instant::now();
        let reopen = match &self.segment {
            None => true,
            // Gone: the producer exited; keep the old mapping until a new one appears.
            Some(seg) => seg.identity() == Identity::Replaced || seg.size_changed(),
        };
        if !reopen {
            return;
        }
        match Segment::open(&self.path) {
            Ok(seg) => {
                info!(path = %self.path.display(), size = seg.len(), "mapped shared-memory segment");
                Stats::incr(&stats.segment_maps);
                self.segment = Some(seg);
                self.logged_missing = false;
            }
            Err(e) => {
                if !self.logged_missing {
                    info!(error = %e, "waiting for the producer's segment");
                    self.logged_missing = true;
                }
            }
        }
    }
}

/// Runs until `stop`, `max_frames`, or the idle timeout. Pushes every coherent
/// new frame into `queue`; the queue itself drops the oldest when full.
pub fn run_ingest(
    cfg: &IngestConfig,
    queue: &LatestQueue<Frame>,
    stats: &Stats,
    stop: &AtomicBool,
) -> Result<IngestEnd, IngestError> {
    let path = shm_path(&cfg.shm_name)?;
    let ctx = zmq::Context::new();
    let mut listener = SyncListener::connect(&ctx, &cfg.zmq_endpoint, cfg.label.clone())?;
    info!(shm = %path.display(), endpoint = %cfg.zmq_endpoint, label = ?cfg.label, "ingest started");

    let mut att = Attachment {
        path,
        segment: None,
        last_check: Instant::now(),
        logged_missing: false,
    };
    let mut last: Option<FrameId> = None;
    let mut last_activity = Instant::now();
    let mut ingested = 0u64;
    let mut last_invalid: Option<String> = None;
    let mut force_check = true;
    let mut last_sync: Option<(u32, Instant)> = None;
    let mut settled_candidate: Option<FrameId> = None;
    let mut sync_trusted = true;
    let mut unannounced_since: Option<Instant> = None;

    loop {
        if stop.load(Ordering::Relaxed) {
            return Ok(IngestEnd::Stopped);
        }
        if let Some(idle) = cfg.idle_timeout
            && last_activity.elapsed() >= idle
        {
            info!(
                idle_ms = idle.as_millis() as u64,
                "no frame within the idle timeout"
            );
            return Ok(IngestEnd::IdleTimeout);
        }
        let received = listener.wait(cfg.poll_interval)?;
        Stats::add(&stats.syncs_received, received.accepted);
        Stats::add(&stats.syncs_skipped, received.skipped);
        if let Some(sync) = &received.latest {
            last_sync = Some((sync.frame_count, Instant::now()));
        }
        let announced = last_sync
            .filter(|(_, at)| sync_trusted && at.elapsed() < SYNC_LIVE)
            .map(|(count, _)| count);
        att.refresh(stats, force_check);
        force_check = false;
        let Some(segment) = &att.segment else {
            continue;
        };

        // Without a live sync (none yet: the subscriber joins late; or the
        // producer sends none), copy a frame only once its metadata has stayed
        // the same for one poll interval: a producer that rewrites in place
        // (counter first) has finished by then, so every tear that can still
        // happen changes the counter during the copy and is caught.
        if announced.is_none() {
            let now = snapshot::peek_id(segment);
            if now != last && now != settled_candidate {
                settled_candidate = now;
                continue;
            }
        }
        let taken = snapshot::take_announced(segment, last, cfg.passthrough, announced);
        if !matches!(taken, Snapshot::Unannounced { .. }) {
            unannounced_since = None;
        }
        match taken {
            Snapshot::Unannounced {
                meta_count,
                sync_count,
            } => {
                Stats::incr(&stats.frames_unannounced);
                force_check = true;
                let since = *unannounced_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= SYNC_MISMATCH_GIVE_UP {
                    warn!(
                        meta_count,
                        sync_count,
                        "syncs never match the metadata counter: ignoring them, polling instead"
                    );
                    sync_trusted = false;
                }
            }
            Snapshot::Unchanged => {
                // A sync for a frame the mapping does not show: the producer
                // probably re-created the segment under the same name.
                if let Some(sync) = received.latest
                    && Some((sync.frame_count, sync.timestamp_ns)) != last
                {
                    force_check = true;
                }
            }
            Snapshot::Frame(frame) => {
                last_invalid = None;
                if let Some((prev, _)) = last
                    && frame.frame_count < prev
                {
                    Stats::incr(&stats.producer_resets);
                    info!(
                        from = prev,
                        to = frame.frame_count,
                        "producer frame counter went backwards: reset"
                    );
                }
                last = Some((frame.frame_count, frame.capture_ts_ns));
                last_activity = Instant::now();
                if cfg.verify_stamps && frame.encoded.is_none() {
                    verify_stamps(&frame, stats);
                }
                if queue.push(frame).is_some() {
                    Stats::incr(&stats.frames_dropped_queue);
                }
                Stats::incr(&stats.frames_ingested);
                ingested += 1;
                if cfg.max_frames > 0 && ingested >= cfg.max_frames {
                    return Ok(IngestEnd::MaxFrames);
                }
            }
            Snapshot::Torn { before, after } => {
                Stats::incr(&stats.frames_torn);
                debug!(?before, ?after, "torn read dropped");
            }
            Snapshot::Invalid(e) => {
                Stats::incr(&stats.metadata_invalid);
                let msg = e.to_string();
                if last_invalid.as_deref() != Some(msg.as_str()) {
                    warn!(error = %msg, "segment metadata not usable yet");
                    last_invalid = Some(msg);
                }
                force_check = true;
            }
            Snapshot::Unsupported { reason, depth } => {
                Stats::incr(&stats.metadata_invalid);
                if last_invalid.as_deref() != Some(reason) {
                    warn!(reason, ?depth, "video plane cannot be encoded");
                    last_invalid = Some(reason.to_owned());
                }
            }
            Snapshot::OutOfBounds(e) => {
                debug!(error = %e, "metadata points outside the mapping: remapping");
                force_check = true;
            }
        }
    }
}

/// Compares the counter stamped at the start of the first and last rows
/// with the metadata's frame_count; a mismatch is a torn frame accepted.
fn verify_stamps(frame: &Frame, stats: &Stats) {
    let g = &frame.geometry;
    let last_row = g.stride * (g.height as usize).saturating_sub(1);
    let stamp = |at: usize| {
        frame
            .data
            .get(at..at + 4)
            .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
    };
    Stats::incr(&stats.stamps_checked);
    let (first, last) = (stamp(0), stamp(last_row));
    if first != Some(frame.frame_count) || last != Some(frame.frame_count) {
        Stats::incr(&stats.stamp_mismatches);
        warn!(
            frame = frame.frame_count,
            ?first,
            ?last,
            "stamp mismatch: this frame mixes two writes"
        );
    }
}

#[cfg(test)]
#[path = "runtime_tests.rs"]
mod tests;
