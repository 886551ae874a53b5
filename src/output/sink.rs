//! Outputs as sinks. Each sink runs on its own thread behind its own bounded
//! queue ([`Fanout`]), so a slow or dead sink can never stall the encoder or
//! starve another sink: when its queue is full it alone drops whole units
//! until the next keyframe.
//!
//! A new output (a file recorder, another protocol) is one type that
//! implements [`Sink`] and one line in [`super::open_sinks`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tracing::{info, warn};

use super::OutputError;
use crate::encode::AccessUnit;
use crate::queue::{LatestQueue, Pop};
use crate::signals::KeyframeRequests;
use crate::telemetry::{Events, StageLatency};

/// Units queued in front of each sink: about one second at 30 fps.
pub const QUEUE_UNITS: usize = 32;
/// How long a sink's thread waits for a unit before calling [`Sink::idle`].
pub const IDLE_TICK: Duration = Duration::from_millis(100);
/// How long [`Fanout::finish`] lets the sinks send what is queued before it
/// aborts the ones still busy (a stalled peer must not hold the exit).
pub const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(3);

/// What a sink wants after a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    /// What is queued now is stale (e.g. a new RTMP session starts at a
    /// fresh keyframe): discard it, counted as dropped.
    SkipBacklog,
}

/// One output. Called on the sink's own thread; it may block (on its
/// socket or file) without holding up anyone else.
pub trait Sink: Send {
    /// Short name for logs, events and counters ("rtp", "rtmp").
    fn name(&self) -> &'static str;
    /// One access unit, in decode order, with its timing and (on keyframes)
    /// its parameter sets in band. An `Err` is fatal: the sink stops and
    /// the pipeline ends with that error.
    fn write(&mut self, unit: &AccessUnit) -> Result<Flow, OutputError>;
    /// No unit came for [`IDLE_TICK`]: keep-alives, control, reconnects.
    fn idle(&mut self) -> Result<Flow, OutputError> {
        Ok(Flow::Continue)
    }
    /// The stream ended: flush and close (bounded; never waits forever).
    fn finish(&mut self);
    /// A handle, taken before the sink moves to its thread, that unblocks
    /// it from outside (closes its socket) and stops it reconnecting; used
    /// when the shutdown deadline passes. `None`: it never blocks for long.
    fn abort_handle(&self) -> Option<Abort> {
        None
    }
}

/// See [`Sink::abort_handle`].
pub type Abort = Arc<dyn Fn() + Send + Sync>;

/// Counts units dropped in front of a sink (in its own counter group).
pub type DropCounter = Arc<dyn Fn(u64) + Send + Sync>;

/// The encoder's side of one sink: its queue and drop-episode state.
struct Lane {
    name: &'static str,
    queue: Arc<LatestQueue<Arc<AccessUnit>>>,
    count_dropped: DropCounter,
    /// Dropping until a keyframe fits.
    dropping: bool,
    /// A keyframe was asked for in this drop episode.
    asked: bool,
    /// Units dropped in this episode.
    episode_drops: u64,
    thread: Option<JoinHandle<()>>,
    /// Disconnects when the sink's thread has ended.
    done: Receiver<()>,
    abort: Option<Abort>,
}

impl Lane {
    /// Queues `unit` without blocking. A full queue starts a drop episode:
    /// whole units are dropped until a keyframe fits. A keyframe is asked
    /// for once per episode, when the queue has room again: asking while it
    /// is still full would only produce a keyframe that is dropped too.
    fn offer(&mut self, unit: &Arc<AccessUnit>, keyframes: &KeyframeRequests, events: &Events) {
        if self.dropping && !unit.keyframe {
            self.drop_unit();
            if !self.asked && self.queue.has_room() {
                self.asked = true;
                keyframes.request();
            }
            return;
        }
        match self.queue.try_push(unit.clone()) {
            Ok(()) if self.dropping => {
                self.dropping = false;
                info!(
                    sink = self.name,
                    dropped = self.episode_drops,
                    "sink caught up: resumed at a keyframe"
                );
                events.emit(
                    "sink_stall_ended",
                    serde_json::json!({"sink": self.name, "dropped": self.episode_drops}),
                );
            }
            Ok(()) => {}
            Err(_) => {
                if !self.dropping {
                    self.dropping = true;
                    self.episode_drops = 0;
                    warn!(
                        sink = self.name,
                        "sink is not keeping up: dropping units until the next keyframe"
                    );
                    events.emit("sink_stall_began", serde_json::json!({"sink": self.name}));
                }
                // A keyframe that did not fit: ask again once there is room.
                self.asked = false;
                self.drop_unit();
            }
        }
    }

    fn drop_unit(&mut self) {
        self.episode_drops += 1;
        (self.count_dropped)(1);
    }
}

/// Every sink, each on its own thread. The encoder thread calls
/// [`publish`](Self::publish), which never blocks.
pub struct Fanout {
    lanes: Vec<Lane>,
    keyframes: KeyframeRequests,
    events: Events,
    /// The first fatal sink error; it also sets `stop`.
    fatal: Arc<Mutex<Option<OutputError>>>,
    stop: Arc<AtomicBool>,
}

impl Fanout {
    pub fn new(keyframes: KeyframeRequests, events: Events, stop: Arc<AtomicBool>) -> Self {
        Self {
            lanes: Vec::new(),
            keyframes,
            events,
            fatal: Arc::default(),
            stop,
        }
    }

    /// Starts `sink` on its own thread behind a queue of [`QUEUE_UNITS`].
    pub fn add(&mut self, sink: Box<dyn Sink>, count_dropped: DropCounter) {
        self.add_timed(sink, count_dropped, None);
    }

    /// [`Fanout::add`], recording capture -> written for each unit in `sent`.
    pub fn add_timed(
        &mut self,
        sink: Box<dyn Sink>,
        count_dropped: DropCounter,
        sent: Option<Arc<StageLatency>>,
    ) {
        let name = sink.name();
        let abort = sink.abort_handle();
        let queue = Arc::new(LatestQueue::new(QUEUE_UNITS));
        let (done_tx, done) = sync_channel(0);
        let runner = Runner {
            sink,
            queue: queue.clone(),
            count_dropped: count_dropped.clone(),
            fatal: self.fatal.clone(),
            stop: self.stop.clone(),
            sent,
            _done: done_tx,
        };
        let thread = std::thread::Builder::new()
            .name(format!("sink-{name}"))
            .spawn(move || runner.run())
            .expect("spawn sink thread");
        self.lanes.push(Lane {
            name,
            queue,
            count_dropped,
            dropping: false,
            asked: false,
            episode_drops: 0,
            thread: Some(thread),
            done,
            abort,
        });
    }

    pub fn is_empty(&self) -> bool {
        self.lanes.is_empty()
    }

    /// Hands `unit` to every sink's queue; never blocks.
    pub fn publish(&mut self, unit: AccessUnit) {
        if self.lanes.is_empty() {
            return;
        }
        let unit = Arc::new(unit);
        for lane in &mut self.lanes {
            lane.offer(&unit, &self.keyframes, &self.events);
        }
    }

    /// Closes every queue and lets the sinks send what is queued and finish,
    /// for at most [`SHUTDOWN_DEADLINE`] in all; a sink still busy then is
    /// aborted (its socket closed, the rest of its queue dropped). Returns
    /// the first fatal error, if a sink had one.
    pub fn finish(&mut self) -> Option<OutputError> {
        self.finish_within(SHUTDOWN_DEADLINE)
    }

    pub(crate) fn finish_within(&mut self, limit: Duration) -> Option<OutputError> {
        for lane in &self.lanes {
            lane.queue.close();
        }
        let deadline = Instant::now() + limit;
        for lane in &mut self.lanes {
            let Some(thread) = lane.thread.take() else {
                continue;
            };
            let left = deadline.saturating_duration_since(Instant::now());
            if let Err(RecvTimeoutError::Timeout) = lane.done.recv_timeout(left) {
                warn!(
                    sink = lane.name,
                    deadline_ms = limit.as_millis() as u64,
                    "sink still busy at the shutdown deadline: aborting it"
                );
                let dropped = lane.queue.clear() as u64;
                (lane.count_dropped)(dropped);
                if let Some(abort) = &lane.abort {
                    abort();
                }
            }
            let _ = thread.join();
        }
        self.take_fatal()
    }

    /// The error that stopped a sink, if one did.
    pub fn take_fatal(&self) -> Option<OutputError> {
        self.fatal.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

impl Drop for Fanout {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

/// A sink's thread: pops units, calls the sink, stops on a fatal error.
struct Runner {
    sink: Box<dyn Sink>,
    queue: Arc<LatestQueue<Arc<AccessUnit>>>,
    count_dropped: DropCounter,
    fatal: Arc<Mutex<Option<OutputError>>>,
    stop: Arc<AtomicBool>,
    /// Where capture -> written goes (the sink's stage in [`StageLatency`]).
    sent: Option<Arc<StageLatency>>,
    /// Dropped when the thread ends: [`Lane::done`] sees it.
    _done: SyncSender<()>,
}

impl Runner {
    fn run(mut self) {
        loop {
            let flow = match self.queue.pop_timeout(IDLE_TICK) {
                Pop::Item(unit) => {
                    let flow = self.sink.write(&unit);
                    if let Some(h) = &self.sent {
                        let stage = match self.sink.name() {
                            "rtmp" => &h.rtmp_sent,
                            _ => &h.rtp_sent,
                        };
                        StageLatency::since_capture(stage, unit.capture_ts_ns);
                    }
                    flow
                }
                Pop::TimedOut => self.sink.idle(),
                Pop::Closed => break,
            };
            match flow {
                Ok(Flow::Continue) => {}
                Ok(Flow::SkipBacklog) => {
                    (self.count_dropped)(self.queue.clear() as u64);
                }
                Err(e) => {
                    warn!(sink = self.sink.name(), error = %e, "sink stopped");
                    let mut fatal = self.fatal.lock().unwrap_or_else(|p| p.into_inner());
                    fatal.get_or_insert(e);
                    self.stop.store(true, Ordering::Relaxed);
                    // Refuse further units; the lane drops them.
                    self.queue.close();
                    (self.count_dropped)(self.queue.clear() as u64);
                    return;
                }
            }
        }
        self.sink.finish();
    }
}

#[cfg(test)]
#[path = "sink_tests.rs"]
mod tests;
