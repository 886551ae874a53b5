//! Bundle policies for several cameras (the seed's `nearest` and `strict`),
//! as pure code over (source, capture time, message sequence) streams.
//!
//! - The common start is the latest of the sources' first capture times
//!   (the seed's rule, after the ZED multi-camera playback sample); frames
//!   before it are in no bundle.
//! - The bundle timeline is the slowest camera's: once every source has
//!   given [`RATE_PROBE_FRAMES`] frames, the source with the largest median
//!   step between frames is the reference (ties: the first given).
//! - `nearest`: one bundle per reference frame from the common start; for
//!   each other camera, the frame whose capture time is nearest (ties: the
//!   earlier). It is decided once that camera has a frame at or after the
//!   reference time, or has ended, so no look-ahead beyond one frame.
//! - `strict`: the same, but a bundle with any member further than the
//!   tolerance from the reference time is dropped and counted.
//! - `--start-frame` / `--end-frame`: bundle indices (0-based, inclusive),
//!   counted over the bundles that would be written; past the end the
//!   bundler says so and takes nothing more.
//!
//! Memory is bounded: each source keeps at most one frame before the oldest
//! undecided reference time, and at most [`MAX_PENDING`] reference frames
//! wait; past that the oldest is decided with what is there (a camera that
//! has stalled without ending).

use std::collections::VecDeque;

/// Frames per source before the reference is chosen.
pub const RATE_PROBE_FRAMES: usize = 3;
/// Reference frames that may wait for a slow camera.
pub const MAX_PENDING: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    Nearest,
    Strict { tolerance_ns: u64 },
}

/// One recorded message of one source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame {
    pub ts_ns: u64,
    /// Its message sequence in its channel.
    pub sequence: u32,
}

/// One camera's message in a bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member {
    pub source: usize,
    pub frame: Frame,
    /// Its capture time minus the bundle's.
    pub delta_ns: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    pub index: u64,
    /// The reference frame's capture time.
    pub ts_ns: u64,
    /// One per source, in source order.
    pub members: Vec<Member>,
}

/// What the bundler counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct BundleStats {
    pub bundles: u64,
    /// `strict`: bundles with a member outside the tolerance.
    pub dropped_incomplete: u64,
    /// Bundles before `--start-frame`.
    pub skipped_before_start: u64,
    /// Frames before the common start.
    pub frames_before_start: u64,
}

#[derive(Debug, Default)]
struct SourceState {
    /// Undecided frames, oldest first.
    frames: VecDeque<Frame>,
    first_ts: Option<u64>,
    /// Steps between the first frames, for the rate probe.
    steps: Vec<u64>,
    last_ts: Option<u64>,
    ended: bool,
}

/// See the module doc.
#[derive(Debug)]
pub struct Bundler {
    policy: Policy,
    start_frame: u64,
    end_frame: Option<u64>,
    sources: Vec<SourceState>,
    reference: Option<usize>,
    common_start: Option<u64>,
    /// Would-be bundle index of the next bundle (counts skipped ones too).
    next_index: u64,
    done: bool,
    stats: BundleStats,
}

impl Bundler {
    pub fn new(policy: Policy, sources: usize, start_frame: u64, end_frame: Option<u64>) -> Self {
        Self {
            policy,
            start_frame,
            end_frame,
            sources: (0..sources).map(|_| SourceState::default()).collect(),
            reference: None,
            common_start: None,
            next_index: 0,
            done: false,
            stats: BundleStats::default(),
        }
    }

    pub fn stats(&self) -> BundleStats {
        self.stats
    }

    /// Past `--end-frame`: nothing more will be bundled.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// The common start, once every source has given a frame.
    pub fn common_start(&self) -> Option<u64> {
        self.common_start
    }

    /// A frame of `source`; capture times rise per source (the recorder's
    /// log times). Returns the bundles it completes.
    pub fn push(&mut self, source: usize, frame: Frame) -> Vec<Bundle> {
        let Some(s) = self.sources.get_mut(source) else {
            return Vec::new();
        };
        if self.done || s.ended || s.last_ts.is_some_and(|l| frame.ts_ns <= l) {
            return Vec::new();
        }
        if let Some(l) = s.last_ts
            && s.steps.len() < RATE_PROBE_FRAMES - 1
        {
            s.steps.push(frame.ts_ns - l);
        }
        s.last_ts = Some(frame.ts_ns);
        s.first_ts.get_or_insert(frame.ts_ns);
        if self.common_start.is_some_and(|start| frame.ts_ns < start) {
            self.stats.frames_before_start += 1;
        }
        s.frames.push_back(frame);
        self.settle()
    }

    /// `source` will give no more frames.
    pub fn end(&mut self, source: usize) -> Vec<Bundle> {
        if let Some(s) = self.sources.get_mut(source) {
            s.ended = true;
        }
        self.settle()
    }

    fn settle(&mut self) -> Vec<Bundle> {
        if self.common_start.is_none() {
            let firsts: Option<Vec<u64>> = self.sources.iter().map(|s| s.first_ts).collect();
            let Some(firsts) = firsts else {
                return Vec::new();
            };
            let start = firsts.into_iter().max().unwrap_or(0);
            self.common_start = Some(start);
            for s in &mut self.sources {
                let before = s.frames.iter().take_while(|f| f.ts_ns < start).count();
                self.stats.frames_before_start += before as u64;
                // Keep the last frame before the start: it may be nearest
                // to the first reference frame.
                let drop = before.saturating_sub(1);
                s.frames.drain(..drop);
            }
        }
        if self.reference.is_none() {
            let probed = self
                .sources
                .iter()
                .all(|s| s.steps.len() >= RATE_PROBE_FRAMES - 1 || s.ended);
            if !probed {
                return Vec::new();
            }
            self.reference = Some(slowest(&self.sources));
        }
        let mut out = Vec::new();
        while let Some(b) = self.next_bundle() {
            out.extend(b);
        }
        out
    }

    /// The oldest reference frame's bundle if it can be decided: `None`
    /// when it must wait, `Some(None)` when it was decided and not written.
    fn next_bundle(&mut self) -> Option<Option<Bundle>> {
        let (reference, start) = (self.reference?, self.common_start?);
        if self.done {
            return None;
        }
        let r = &mut self.sources[reference];
        while r.frames.front().is_some_and(|f| f.ts_ns < start) {
            r.frames.pop_front();
        }
        let t = r.frames.front()?.ts_ns;
        let pending = r.frames.len();
        let decidable = self.sources.iter().enumerate().all(|(i, s)| {
            i == reference || s.ended || s.frames.back().is_some_and(|f| f.ts_ns >= t)
        });
        if !decidable && pending <= MAX_PENDING {
            return None;
        }
        let reference_frame = self.sources[reference].frames.pop_front()?;
        let mut members = Vec::with_capacity(self.sources.len());
        let mut complete = true;
        for (i, s) in self.sources.iter_mut().enumerate() {
            let frame = if i == reference {
                Some(reference_frame)
            } else {
                nearest(&mut s.frames, t)
            };
            match frame {
                Some(f) => members.push(Member {
                    source: i,
                    frame: f,
                    delta_ns: f.ts_ns as i64 - t as i64,
                }),
                None => complete = false,
            }
        }
        if let Policy::Strict { tolerance_ns } = self.policy {
            complete &= members
                .iter()
                .all(|m| m.delta_ns.unsigned_abs() <= tolerance_ns);
        }
        if !complete {
            self.stats.dropped_incomplete += 1;
            return Some(None);
        }
        let index = self.next_index;
        self.next_index += 1;
        if self.end_frame.is_some_and(|e| index > e) {
            self.done = true;
            return None;
        }
        if index < self.start_frame {
            self.stats.skipped_before_start += 1;
            return Some(None);
        }
        self.stats.bundles += 1;
        Some(Some(Bundle {
            index,
            ts_ns: t,
            members,
        }))
    }
}

/// The source with the largest median step (ties: the first).
fn slowest(sources: &[SourceState]) -> usize {
    let median = |s: &SourceState| {
        let mut v = s.steps.clone();
        v.sort_unstable();
        v.get(v.len() / 2).copied().unwrap_or(0)
    };
    let mut best = (0, 0);
    for (i, s) in sources.iter().enumerate() {
        let m = median(s);
        if m > best.1 {
            best = (i, m);
        }
    }
    best.0
}

/// The frame of `frames` nearest to `t` (ties: the earlier); frames before
/// it are dropped, it and later ones stay (a later bundle may take them).
fn nearest(frames: &mut VecDeque<Frame>, t: u64) -> Option<Frame> {
    let dist = |f: &Frame| f.ts_ns.abs_diff(t);
    let mut best = 0;
    for (i, f) in frames.iter().enumerate() {
        if dist(f) < dist(&frames[best]) {
            best = i;
        }
        if f.ts_ns >= t {
            break;
        }
    }
    frames.drain(..best);
    frames.front().copied()
}

/// `/bundle`'s JSON Schema (docs/mcap-layout.md).
pub const BUNDLE_SCHEMA_NAME: &str = "cvmmap.Bundle";
pub const BUNDLE_JSON_SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "cvmmap.Bundle",
  "description": "One synchronised set of camera messages: for each camera, the message of its video channel this bundle takes (bundle policies nearest and strict).",
  "type": "object",
  "required": ["bundle_index", "timestamp_ns", "members"],
  "properties": {
    "bundle_index": {"type": "integer", "minimum": 0, "description": "0, 1, 2, ... from the common start (what --start-frame/--end-frame count)"},
    "timestamp_ns": {"type": "integer", "minimum": 0, "description": "the reference (slowest) camera's capture time, Unix epoch ns"},
    "members": {
      "type": "array",
      "items": {
        "type": "object",
        "required": ["label", "topic", "sequence", "log_time_ns", "delta_ns"],
        "properties": {
          "label": {"type": "string"},
          "topic": {"type": "string", "description": "the video channel, /<label>/video"},
          "sequence": {"type": "integer", "minimum": 0, "description": "the message's sequence in that channel"},
          "log_time_ns": {"type": "integer", "minimum": 0, "description": "the message's log_time"},
          "delta_ns": {"type": "integer", "description": "log_time_ns - timestamp_ns"}
        }
      }
    }
  }
}"#;

impl Bundle {
    /// The `/bundle` message; `labels[source]` names each camera.
    pub fn to_json(&self, labels: &[String]) -> Vec<u8> {
        let members: Vec<serde_json::Value> = self
            .members
            .iter()
            .map(|m| {
                let label = labels.get(m.source).map_or("", String::as_str);
                serde_json::json!({
                    "label": label,
                    "topic": format!("/{label}/video"),
                    "sequence": m.frame.sequence,
                    "log_time_ns": m.frame.ts_ns,
                    "delta_ns": m.delta_ns,
                })
            })
            .collect();
        serde_json::to_vec(&serde_json::json!({
            "bundle_index": self.index,
            "timestamp_ns": self.ts_ns,
            "members": members,
        }))
        .unwrap_or_default()
    }
}

#[cfg(test)]
#[path = "bundle_tests.rs"]
mod tests;
