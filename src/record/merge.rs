//! Several live sources into one recording, in capture-time order, trimmed
//! to the window the user asked for (pure code: no clocks, files or
//! threads; `crate::recorder` feeds it and writes what it releases).
//!
//! - [`Range::Full`]: every unit is released as it comes (each camera keeps
//!   its whole range; `--bundle-policy copy --copy-range full`).
//! - [`Range::Common`]: the overlap of the sources. The common start is the
//!   latest of the sources' first capture times (the seed's rule); a unit
//!   is released only once every other live source has shown a unit at or
//!   after its time (a k-way merge, so a source that ends is known to have
//!   ended before the others' later units are written), and:
//!   - units before the common start are trimmed, and so is each source's
//!     video up to its first keyframe at or after it (a decoder starts
//!     there): [`Out::NeedKeyframe`] asks the encoder for one at the first frame from the start;
//!   - the overlap ends with the first source to end: the others' units
//!     after its last one are trimmed.
//! - `duration_ns` (`--duration-seconds`) ends the window that long after
//!   the common start (`Full`: after each source's first unit);
//!   `max_units` (`--max-frames` with `copy`) caps each source's units.
//!
//! Memory is bounded: a source holds at most `max_hold` units waiting for
//! the others; past that its oldest is decided with what is known (a
//! camera that stalls without ending must not grow the others' queues).

use std::collections::VecDeque;

/// Which part of each source's timeline is recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Range {
    Full,
    Common,
}

/// One unit of one source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item<T> {
    pub ts_ns: u64,
    pub keyframe: bool,
    /// A side message of the source (a depth image): written whenever it is
    /// inside the window, whether or not the video has started; it never
    /// starts the video nor counts towards `max_units`.
    pub side: bool,
    pub payload: T,
}

/// What the caller does next, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Out<T> {
    /// Write this unit.
    Write { source: usize, item: Item<T> },
    /// The common start is known.
    CommonStart(u64),
    /// Ask this source's encoder for a keyframe at its first frame captured
    /// at or after this time (the common start): its recording starts
    /// there.
    NeedKeyframe(usize, u64),
    /// This source has ended and everything of it was released.
    Ended(usize),
}

/// What was trimmed, per source.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Trimmed {
    /// Before the common start.
    pub before_start: u64,
    /// After the common start, waiting for the first keyframe.
    pub waiting_keyframe: u64,
    /// After the end of the window (overlap end, duration, max units).
    pub after_end: u64,
}

#[derive(Debug)]
struct Lane<T> {
    held: VecDeque<Item<T>>,
    first_ts: Option<u64>,
    /// The latest capture time seen (the merge's watermark).
    seen_ts: Option<u64>,
    /// The last unit released for writing.
    last_written_ts: Option<u64>,
    ended: bool,
    ended_said: bool,
    /// A keyframe was written: later units decode.
    started: bool,
    written: u64,
    side_written: u64,
    trimmed: Trimmed,
}

impl<T> Default for Lane<T> {
    fn default() -> Self {
        Self {
            held: VecDeque::new(),
            first_ts: None,
            seen_ts: None,
            last_written_ts: None,
            ended: false,
            ended_said: false,
            started: false,
            written: 0,
            side_written: 0,
            trimmed: Trimmed::default(),
        }
    }
}

/// See the module doc.
#[derive(Debug)]
pub struct Merger<T> {
    range: Range,
    lanes: Vec<Lane<T>>,
    common_start: Option<u64>,
    /// The overlap's end: the last unit of the first source to end.
    overlap_end: Option<u64>,
    duration_ns: Option<u64>,
    max_units: Option<u64>,
    max_hold: usize,
}

impl<T> Merger<T> {
    pub fn new(
        range: Range,
        sources: usize,
        duration_ns: Option<u64>,
        max_units: Option<u64>,
        max_hold: usize,
    ) -> Self {
        Self {
            range,
            lanes: (0..sources).map(|_| Lane::default()).collect(),
            common_start: None,
            overlap_end: None,
            duration_ns,
            max_units,
            max_hold: max_hold.max(1),
        }
    }

    pub fn common_start(&self) -> Option<u64> {
        self.common_start
    }

    /// The first capture time `source` gave.
    pub fn first_ts(&self, source: usize) -> Option<u64> {
        self.lanes.get(source).and_then(|l| l.first_ts)
    }

    pub fn trimmed(&self, source: usize) -> Trimmed {
        self.lanes
            .get(source)
            .map(|l| l.trimmed)
            .unwrap_or_default()
    }

    /// Video units of `source` released for writing.
    pub fn written(&self, source: usize) -> u64 {
        self.lanes.get(source).map_or(0, |l| l.written)
    }

    /// Side items of `source` released for writing.
    pub fn side_written(&self, source: usize) -> u64 {
        self.lanes.get(source).map_or(0, |l| l.side_written)
    }

    /// Every source has ended or is past the window: the recording is
    /// complete and the sources can be stopped.
    pub fn is_done(&self) -> bool {
        (0..self.lanes.len()).all(|i| {
            let l = &self.lanes[i];
            (l.ended && l.held.is_empty()) || self.past_window(i, l.seen_ts)
        })
    }

    /// A unit of `source`, in capture order.
    pub fn push(&mut self, source: usize, item: Item<T>) -> Vec<Out<T>> {
        let mut out = Vec::new();
        let Some(lane) = self.lanes.get_mut(source) else {
            return out;
        };
        if lane.ended {
            return out;
        }
        lane.first_ts.get_or_insert(item.ts_ns);
        lane.seen_ts = Some(lane.seen_ts.map_or(item.ts_ns, |s| s.max(item.ts_ns)));
        lane.held.push_back(item);
        self.settle(&mut out);
        out
    }

    /// `source` gives no more units.
    pub fn end(&mut self, source: usize) -> Vec<Out<T>> {
        let mut out = Vec::new();
        let Some(lane) = self.lanes.get_mut(source) else {
            return out;
        };
        if !lane.ended {
            lane.ended = true;
            // The overlap ends with the first source to end (one that never
            // gave a unit takes no part in the overlap).
            if self.range == Range::Common
                && let Some(last) = lane.seen_ts
            {
                self.overlap_end = Some(self.overlap_end.map_or(last, |e| e.min(last)));
            }
        }
        self.settle(&mut out);
        out
    }

    fn settle(&mut self, out: &mut Vec<Out<T>>) {
        if self.range == Range::Common && self.common_start.is_none() {
            self.find_common_start(out);
        }
        while let Some(source) = self.next_release() {
            let item = self.lanes[source]
                .held
                .pop_front()
                .expect("next_release names a lane with a held unit");
            self.release(source, item, out);
        }
        for (i, l) in self.lanes.iter_mut().enumerate() {
            if l.ended && l.held.is_empty() && !l.ended_said {
                l.ended_said = true;
                out.push(Out::Ended(i));
            }
        }
    }

    /// Once every source that gave units has one (ended empty sources take
    /// no part), the latest first capture time.
    fn find_common_start(&mut self, out: &mut Vec<Out<T>>) {
        let mut start = None;
        for l in &self.lanes {
            match (l.first_ts, l.ended) {
                (Some(t), _) => start = Some(start.map_or(t, |s: u64| s.max(t))),
                (None, true) => {}
                (None, false) => return,
            }
        }
        let Some(start) = start else {
            return;
        };
        self.common_start = Some(start);
        out.push(Out::CommonStart(start));
        for (i, l) in self.lanes.iter().enumerate() {
            let first_in = l.held.iter().find(|u| u.ts_ns >= start);
            if !l.ended && !first_in.is_some_and(|u| u.keyframe) {
                out.push(Out::NeedKeyframe(i, start));
            }
        }
    }

    /// The source whose oldest held unit can be decided now, oldest first.
    fn next_release(&self) -> Option<usize> {
        // A lane over its hold bound goes first, whatever the others say.
        if let Some(i) = self.lanes.iter().position(|l| l.held.len() > self.max_hold) {
            return Some(i);
        }
        if self.range == Range::Full {
            return self.lanes.iter().position(|l| !l.held.is_empty());
        }
        self.common_start?;
        let (source, ts) = self
            .lanes
            .iter()
            .enumerate()
            .filter_map(|(i, l)| l.held.front().map(|u| (i, u.ts_ns)))
            .min_by_key(|&(i, ts)| (ts, i))?;
        let decidable = self
            .lanes
            .iter()
            .enumerate()
            .all(|(i, l)| i == source || l.ended || l.seen_ts.is_some_and(|s| s >= ts));
        decidable.then_some(source)
    }

    fn release(&mut self, source: usize, item: Item<T>, out: &mut Vec<Out<T>>) {
        let past = self.past_window(source, Some(item.ts_ns));
        let lane = &mut self.lanes[source];
        if past {
            lane.trimmed.after_end += 1;
            return;
        }
        if self.range == Range::Common {
            let Some(start) = self.common_start else {
                // Over the hold bound before every source has begun: these
                // units cannot be in the overlap's first keyframe's GOP.
                lane.trimmed.before_start += 1;
                return;
            };
            if item.ts_ns < start {
                lane.trimmed.before_start += 1;
                return;
            }
        }
        if item.side {
            lane.side_written += 1;
            out.push(Out::Write { source, item });
            return;
        }
        if !lane.started {
            if !item.keyframe {
                lane.trimmed.waiting_keyframe += 1;
                return;
            }
            lane.started = true;
        }
        lane.written += 1;
        lane.last_written_ts = Some(item.ts_ns);
        out.push(Out::Write { source, item });
    }

    /// Whether a unit of `source` at `ts` (or the source's latest) is past
    /// the window: the overlap's end, the duration, or the unit cap.
    fn past_window(&self, source: usize, ts: Option<u64>) -> bool {
        let l = &self.lanes[source];
        if self.max_units.is_some_and(|m| l.written >= m) {
            return true;
        }
        let Some(ts) = ts else {
            return false;
        };
        if self.overlap_end.is_some_and(|e| ts > e) {
            return true;
        }
        let origin = match self.range {
            Range::Common => self.common_start,
            Range::Full => l.first_ts,
        };
        match (self.duration_ns, origin) {
            (Some(d), Some(o)) => ts >= o.saturating_add(d),
            _ => false,
        }
    }
}

#[cfg(test)]
#[path = "merge_tests.rs"]
mod tests;
