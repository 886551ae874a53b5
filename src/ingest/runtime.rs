//! The ingest loop: waits for a sync (or polls), takes a coherent snapshot,
//! and pushes new frames into the latest-frame queue.
//!
//! An explicit state machine. How a frame is admitted depends on what the
//! syncs say ([`Admission`]): while syncs flow, only the announced frame is
//! copied; without a live sync, a frame is copied once its metadata stayed
//! the same for one poll; syncs that never match the metadata are distrusted.
//! Each snapshot outcome has its own method on [`Ingest`].

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tracing::{debug, info, warn};

use super::bands::Bands;
use super::shm::{Identity, Segment, shm_path};
use super::snapshot::{self, FrameId, SharedRegion, Snapshot};
use super::sync::SyncListener;
use super::{Form, Frame, FramePool, IngestError, LatestQueue, WantI420};
use crate::contract::EncodedCodec;
use crate::telemetry::{Events, IngestCounters, StageLatency, add, incr};

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
    /// Copy the DEPTH and CONFIDENCE planes with each frame (the recorder).
    pub aux_planes: bool,
    /// Threads that convert one large frame out of shared memory
    /// (`--convert-threads`; [`super::bands`]).
    pub convert_threads: usize,
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
/// Distrusted syncs that match the metadata this many times in a row are
/// believed again (a producer that misbehaved while starting, or a label
/// collision that ended, must not cost the process its sync path forever).
const SYNC_REARM_MATCHES: u32 = 10;

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
    fn refresh(&mut self, stats: &IngestCounters, events: &Events, force: bool) {
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
                incr(&stats.segment_maps);
                events.emit("segment_mapped", serde_json::json!({"size": seg.len()}));
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

/// How new frames are admitted (contract §3: the sync is a hint, the
/// metadata the truth).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Admission {
    /// Syncs are believed; the last one seen, if any.
    Trusting { last_sync: Option<(u32, Instant)> },
    /// The syncs never matched the metadata: ignored, frames are polled;
    /// `matches` counts the syncs in a row that agreed with the metadata.
    Distrusted { matches: u32 },
}

impl Admission {
    /// A sync for our source arrived; `meta` is the frame the metadata
    /// shows now. Returns true when this re-arms trust.
    fn on_sync(&mut self, sync: FrameId, meta: Option<FrameId>) -> bool {
        match self {
            Admission::Trusting { last_sync } => {
                *last_sync = Some((sync.0, Instant::now()));
                false
            }
            Admission::Distrusted { matches } => {
                *matches = if meta == Some(sync) { *matches + 1 } else { 0 };
                if *matches < SYNC_REARM_MATCHES {
                    return false;
                }
                *self = Admission::Trusting {
                    last_sync: Some((sync.0, Instant::now())),
                };
                true
            }
        }
    }

    /// The frame a live sync announces; `None` when no sync is live (none
    /// yet: the subscriber joins late; the producer sends none; distrusted).
    fn announced(&self) -> Option<u32> {
        match self {
            Admission::Trusting {
                last_sync: Some((count, at)),
            } if at.elapsed() < SYNC_LIVE => Some(*count),
            _ => None,
        }
    }
}

/// The loop's state between polls.
struct Ingest<'a> {
    cfg: &'a IngestConfig,
    queue: &'a LatestQueue<Frame>,
    stats: &'a IngestCounters,
    /// Capture -> sync received, -> frame queued.
    latency: &'a StageLatency,
    events: &'a Events,
    att: Attachment,
    admission: Admission,
    /// The last frame copied.
    last: Option<FrameId>,
    /// A frame seen once without a live sync; copied if still there next poll.
    settling: Option<FrameId>,
    /// Since when every read found a frame ahead of the latest sync.
    unannounced_since: Option<Instant>,
    /// Re-check the segment's identity at the next poll.
    force_check: bool,
    last_activity: Instant,
    ingested: u64,
    /// The last metadata complaint logged (each is logged once per change).
    last_invalid: Option<String>,
    /// Where frame copies land: buffers come back once encoded or replaced.
    pool: Arc<FramePool>,
    /// Whether to convert to I420 on the way out (the encoder's wish).
    want_i420: &'a WantI420,
    /// The conversion's helper threads.
    bands: Bands,
}

/// Runs until `stop`, `max_frames`, or the idle timeout. Pushes every coherent
/// new frame into `queue`; the queue itself drops the oldest when full.
pub fn run_ingest(
    cfg: &IngestConfig,
    queue: &LatestQueue<Frame>,
    stats: &IngestCounters,
    latency: &StageLatency,
    events: &Events,
    stop: &AtomicBool,
    want_i420: &WantI420,
) -> Result<IngestEnd, IngestError> {
    let path = shm_path(&cfg.shm_name)?;
    let ctx = zmq::Context::new();
    let mut listener = SyncListener::connect(&ctx, &cfg.zmq_endpoint, cfg.label.clone())?;
    info!(shm = %path.display(), endpoint = %cfg.zmq_endpoint, label = ?cfg.label, "ingest started");
    events.emit(
        "ingest_started",
        serde_json::json!({"shm": path.display().to_string(), "endpoint": cfg.zmq_endpoint}),
    );
    let mut ingest = Ingest {
        cfg,
        queue,
        stats,
        latency,
        events,
        att: Attachment {
            path,
            segment: None,
            last_check: Instant::now(),
            logged_missing: false,
        },
        admission: Admission::Trusting { last_sync: None },
        last: None,
        settling: None,
        unannounced_since: None,
        force_check: true,
        last_activity: Instant::now(),
        ingested: 0,
        last_invalid: None,
        pool: FramePool::new(),
        want_i420,
        bands: Bands::new(cfg.convert_threads),
    };
    loop {
        if stop.load(Ordering::Relaxed) {
            return Ok(IngestEnd::Stopped);
        }
        if let Some(end) = ingest.poll(&mut listener)? {
            return Ok(end);
        }
    }
}

impl Ingest<'_> {
    /// One poll: wait for a sync (or the poll interval), then look at the
    /// segment once.
    fn poll(&mut self, listener: &mut SyncListener) -> Result<Option<IngestEnd>, IngestError> {
        if let Some(idle) = self.cfg.idle_timeout
            && self.last_activity.elapsed() >= idle
        {
            info!(
                idle_ms = idle.as_millis() as u64,
                "no frame within the idle timeout"
            );
            return Ok(Some(IngestEnd::IdleTimeout));
        }
        let received = listener.wait(self.cfg.poll_interval)?;
        add(&self.stats.syncs_received, received.accepted);
        add(&self.stats.syncs_skipped, received.skipped);
        self.att.refresh(self.stats, self.events, self.force_check);
        if let Some(sync) = &received.latest {
            StageLatency::since_capture(&self.latency.synced, sync.timestamp_ns);
            // The metadata is read only to judge distrusted syncs.
            let meta = match self.admission {
                Admission::Distrusted { .. } => {
                    self.att.segment.as_ref().and_then(snapshot::peek_id)
                }
                Admission::Trusting { .. } => None,
            };
            if self
                .admission
                .on_sync((sync.frame_count, sync.timestamp_ns), meta)
            {
                info!(
                    matches = SYNC_REARM_MATCHES,
                    "syncs match the metadata again: trusting them"
                );
                self.events.emit("sync_trusted", serde_json::json!({}));
            }
        }
        let announced = self.admission.announced();
        self.force_check = false;
        let Some(segment) = &self.att.segment else {
            return Ok(None);
        };
        // Without a live sync, copy a frame only once its metadata has stayed
        // the same for one poll interval: a producer that rewrites in place
        // (counter first) has finished by then, so every tear that can still
        // happen changes the counter during the copy and is caught.
        if announced.is_none() {
            let now = snapshot::peek_id(segment);
            if now != self.last && now != self.settling {
                self.settling = now;
                return Ok(None);
            }
        }
        let taken = snapshot::take_announced(
            segment,
            self.last,
            self.cfg.passthrough,
            announced,
            &self.pool,
            &self.bands,
            snapshot::Want {
                i420: self.want_i420.get(),
                stamps: self.cfg.verify_stamps,
                aux: self.cfg.aux_planes,
            },
        );
        if !matches!(taken, Snapshot::Unannounced { .. }) {
            self.unannounced_since = None;
        }
        let (posted, stolen) = self.bands.stolen();
        self.stats
            .convert_bands_posted
            .store(posted, Ordering::Relaxed);
        self.stats
            .convert_bands_stolen
            .store(stolen, Ordering::Relaxed);
        Ok(match taken {
            Snapshot::Unannounced {
                meta_count,
                sync_count,
            } => {
                self.on_unannounced(meta_count, sync_count);
                None
            }
            Snapshot::Unchanged => {
                self.on_unchanged(received.latest.map(|s| (s.frame_count, s.timestamp_ns)));
                None
            }
            Snapshot::Frame(frame) => self.on_frame(frame),
            Snapshot::Torn { before, after } => {
                incr(&self.stats.frames_torn);
                debug!(?before, ?after, "torn read dropped");
                None
            }
            Snapshot::Rewritten { frame } => {
                incr(&self.stats.frames_rewritten);
                debug!(
                    ?frame,
                    "payload rewritten in place during the copy: dropped"
                );
                // Not again: the payload under this label is the next frame's.
                self.last = Some(frame);
                None
            }
            Snapshot::Invalid(e) => {
                incr(&self.stats.metadata_invalid);
                let msg = e.to_string();
                if self.last_invalid.as_deref() != Some(msg.as_str()) {
                    warn!(error = %msg, "segment metadata not usable yet");
                    self.last_invalid = Some(msg);
                }
                self.force_check = true;
                None
            }
            Snapshot::Unsupported { reason, depth } => {
                incr(&self.stats.metadata_invalid);
                if self.last_invalid.as_deref() != Some(reason) {
                    warn!(reason, ?depth, "video plane cannot be encoded");
                    self.last_invalid = Some(reason.to_owned());
                }
                None
            }
            Snapshot::OutOfBounds(e) => {
                incr(&self.stats.reads_refused);
                debug!(error = %e, "read past the segment's end: re-opening");
                self.force_check = true;
                None
            }
        })
    }

    /// The metadata is ahead of the latest sync: a write in progress. Syncs
    /// that never catch up for [`SYNC_MISMATCH_GIVE_UP`] are distrusted.
    fn on_unannounced(&mut self, meta_count: u32, sync_count: u32) {
        incr(&self.stats.frames_unannounced);
        self.force_check = true;
        let since = *self.unannounced_since.get_or_insert_with(Instant::now);
        if since.elapsed() >= SYNC_MISMATCH_GIVE_UP {
            warn!(
                meta_count,
                sync_count,
                "syncs never match the metadata counter: ignoring them, polling instead"
            );
            self.events.emit(
                "sync_distrusted",
                serde_json::json!({"meta_count": meta_count, "sync_count": sync_count}),
            );
            self.admission = Admission::Distrusted { matches: 0 };
            self.unannounced_since = None;
        }
    }

    /// Nothing new. A sync for a frame the mapping does not show means the
    /// producer probably re-created the segment under the same name.
    fn on_unchanged(&mut self, latest_sync: Option<FrameId>) {
        if latest_sync.is_some_and(|id| Some(id) != self.last) {
            self.force_check = true;
        }
    }

    /// A coherent new frame: queue it; ends ingest at `--ingest-max-frames`.
    fn on_frame(&mut self, frame: Frame) -> Option<IngestEnd> {
        self.last_invalid = None;
        if let Some((prev, _)) = self.last
            && frame.frame_count < prev
        {
            incr(&self.stats.producer_resets);
            info!(
                from = prev,
                to = frame.frame_count,
                "producer frame counter went backwards: reset"
            );
            self.events.emit(
                "producer_reset",
                serde_json::json!({"from": prev, "to": frame.frame_count}),
            );
        }
        if self.last.is_none() {
            self.events.emit(
                "first_frame",
                serde_json::json!({"frame": frame.frame_count}),
            );
        }
        self.last = Some((frame.frame_count, frame.capture_ts_ns));
        self.last_activity = Instant::now();
        if self.cfg.verify_stamps && frame.encoded.is_none() {
            verify_stamps(&frame, self.stats, self.events);
        }
        StageLatency::since_capture(&self.latency.ingested, frame.capture_ts_ns);
        if self.queue.push(frame).is_some() {
            incr(&self.stats.frames_dropped_queue);
        }
        incr(&self.stats.frames_ingested);
        self.ingested += 1;
        (self.cfg.max_frames > 0 && self.ingested >= self.cfg.max_frames)
            .then_some(IngestEnd::MaxFrames)
    }
}

/// Compares the counter stamped at the start of the first and last rows
/// with the metadata's frame_count; a mismatch is a torn frame accepted.
fn verify_stamps(frame: &Frame, stats: &IngestCounters, events: &Events) {
    let g = &frame.geometry;
    let last_row = g.stride * (g.height as usize).saturating_sub(1);
    let stamp = |at: usize| {
        frame
            .data
            .get(at..at + 4)
            .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
    };
    incr(&stats.stamps_checked);
    let (first, last) = match (frame.form, frame.stamps) {
        (Form::Raw, _) => (stamp(0), stamp(last_row)),
        (_, Some((first, last))) => (Some(first), Some(last)),
        (_, None) => (None, None),
    };
    if first != Some(frame.frame_count) || last != Some(frame.frame_count) {
        incr(&stats.stamp_mismatches);
        warn!(
            frame = frame.frame_count,
            ?first,
            ?last,
            "stamp mismatch: this frame mixes two writes"
        );
        events.emit(
            "stamp_mismatch",
            serde_json::json!({"frame": frame.frame_count, "first": first, "last": last}),
        );
    }
}

#[cfg(test)]
#[path = "runtime_tests.rs"]
mod tests;
