//! The conversion out of shared memory, split into horizontal bands that
//! persistent helper threads convert beside the ingest thread.
//!
//! At 1920x1080 the one pass out of the mapping (BGR to I420, 6 MB read)
//! is most of the time between a frame's sync and the encoder; the producer
//! has already spent its own copy of the frame by then, and every
//! millisecond here is latency (issue 14). Rows split at an even row convert
//! independently (I420 chroma averages row pairs), so each band is an
//! ordinary [`pixels::to_i420`] call over its own rows and the output is
//! byte for byte the single pass's.
//!
//! Helpers are spawned once per ingest and wait on a channel: no thread,
//! allocation or lock per frame (std's bounded channel keeps its slots).
//! A helper that the scheduler has not run by the time the calling thread
//! finished its own band loses its band: the caller claims it back (one
//! compare-and-swap decides who converts it) and converts it itself, so a
//! starved helper never makes a frame later than the single pass would.
//! SIGBUS goes to the faulting thread, and [`guard`] keeps its range per
//! thread, so every helper guards its own band; a band that faulted marks
//! the calling thread's guarded read as faulted, so the frame is dropped
//! and the segment re-opened exactly as when the caller's own band faults.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;

use tracing::warn;

use super::frame::VideoGeometry;
use super::guard;
use crate::pixels::{self, ConvertError, I420, Matrix};

/// Frames with fewer pixels than this are converted in one pass: below
/// 1280x720 the pass takes well under a millisecond and waking a helper
/// would cost a visible part of what it saves (benches/convert.rs).
pub const SPLIT_MIN_PIXELS: u64 = 1280 * 720;

/// At most this many threads share one frame.
pub const MAX_THREADS: usize = 4;

/// `--convert-threads`: 0 picks 2 where the host has at least two cores
/// (more bands than that gain little: the pass is bound by memory).
pub fn threads_or_auto(flag: u32) -> usize {
    match flag {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get().min(2)),
        n => (n as usize).min(MAX_THREADS),
    }
}

/// One band handed to a helper: raw parts of borrows that the caller keeps
/// alive until the band is claimed back or the helper has replied (see
/// [`Bands::to_i420`]).
#[derive(Clone, Copy)]
struct Job {
    /// Which frame's band this is (see [`Claim`]).
    seq: u64,
    src: (*const u8, usize),
    y: (*mut u8, usize),
    u: (*mut u8, usize),
    v: (*mut u8, usize),
    y_stride: usize,
    c_stride: usize,
    geometry: VideoGeometry,
    matrix: Matrix,
}

// SAFETY: the pointers are dereferenced by whoever wins the band's claim,
// the helper or the caller, never both; a helper that won it replies, and
// the caller waits for that reply before the borrows end. The bands of one
// frame are disjoint (split_at_mut), so no two threads alias.
unsafe impl Send for Job {}

/// Who converts a posted band: the frame's sequence number times four plus
/// the state, in one atomic so that a job left in the channel from an
/// earlier frame can never claim a later frame's band.
struct Claim(AtomicU64);

const POSTED: u64 = 0;
const TAKEN: u64 = 1;
const STOLEN: u64 = 2;

impl Claim {
    fn word(seq: u64, state: u64) -> u64 {
        seq << 2 | state
    }

    fn post(&self, seq: u64) {
        self.0.store(Self::word(seq, POSTED), Ordering::Release);
    }

    /// Moves the band `seq` from posted to `to`; false when someone else
    /// already did (or the band is another frame's).
    fn claim(&self, seq: u64, to: u64) -> bool {
        self.0
            .compare_exchange(
                Self::word(seq, POSTED),
                Self::word(seq, to),
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_ok()
    }
}

enum Reply {
    Done(Result<(), ConvertError>),
    /// The band's source pages vanished (SIGBUS absorbed on the helper).
    Faulted,
}

struct Helper {
    jobs: SyncSender<Job>,
    replies: Receiver<Reply>,
    claim: Arc<Claim>,
    thread: JoinHandle<()>,
    /// Tests hold it to keep the helper from claiming a band.
    #[cfg(test)]
    gate: Arc<std::sync::Mutex<()>>,
}

/// The ingest's conversion threads: itself plus `threads - 1` helpers.
pub struct Bands {
    helpers: Vec<Helper>,
    /// The last frame's sequence number.
    seq: AtomicU64,
    /// Bands sent to helpers, and of those converted by the caller instead.
    posted: AtomicU64,
    stolen: AtomicU64,
}

impl Bands {
    /// `threads` (clamped to 1..=[`MAX_THREADS`]) share each large frame; a
    /// helper that cannot be spawned is logged and left out.
    pub fn new(threads: usize) -> Self {
        let helpers = (1..threads.clamp(1, MAX_THREADS))
            .filter_map(|i| match spawn(i) {
                Ok(h) => Some(h),
                Err(e) => {
                    warn!(error = %e, "conversion helper thread not started: one pass");
                    None
                }
            })
            .collect();
        Self {
            helpers,
            seq: AtomicU64::new(0),
            posted: AtomicU64::new(0),
            stolen: AtomicU64::new(0),
        }
    }

    /// A single-threaded converter (tests, small hosts).
    pub fn single() -> Self {
        Self::new(1)
    }

    /// Bands posted to helpers so far, and how many of them the calling
    /// thread converted itself because their helper had not started.
    pub fn stolen(&self) -> (u64, u64) {
        (
            self.posted.load(Ordering::Relaxed),
            self.stolen.load(Ordering::Relaxed),
        )
    }

    /// How many threads convert a large frame.
    pub fn threads(&self) -> usize {
        self.helpers.len() + 1
    }

    /// [`pixels::to_i420`] of `src`, a mapping this thread reads under
    /// [`guard::read`]: the first band here, the others on the helpers.
    pub fn to_i420(
        &self,
        src: &[u8],
        g: &VideoGeometry,
        dst: I420,
        matrix: Matrix,
    ) -> Result<(), ConvertError> {
        let rows = g.height as usize;
        let band_rows = (rows / self.threads()) & !1;
        let pixels = u64::from(g.width) * u64::from(g.height);
        if self.helpers.is_empty()
            || band_rows == 0
            || pixels < SPLIT_MIN_PIXELS
            || dst.u_stride != dst.v_stride
        {
            return pixels::to_i420(src, g, dst, matrix);
        }
        // The size checks the single pass makes, once for the whole frame:
        // after them every band's slices below are in range.
        pixels::check(src, g, &dst)?;
        let I420 {
            y,
            y_stride,
            u,
            u_stride,
            v,
            ..
        } = dst;
        let (c_stride, chroma_rows) = (u_stride, band_rows / 2);
        let (mut y, mut u, mut v) = (y, u, v);
        let (first_y, first_u, first_v);
        (first_y, y) = y.split_at_mut(band_rows * y_stride);
        (first_u, u) = u.split_at_mut(chroma_rows * c_stride);
        (first_v, v) = v.split_at_mut(chroma_rows * c_stride);
        let seq = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        let mut pending = Pending {
            helpers: &self.helpers,
            posted: [None; MAX_THREADS],
        };
        let mut result = Ok(());
        let mut row = band_rows;
        for (i, helper) in self.helpers.iter().enumerate() {
            let n = if i + 1 == self.helpers.len() {
                rows - row
            } else {
                band_rows
            };
            let (band_y, band_u, band_v);
            (band_y, y) = y.split_at_mut((n * y_stride).min(y.len()));
            // Bands before the last have an even row count; the last takes
            // what is left, an odd last row's chroma included.
            (band_u, u) = u.split_at_mut((n.div_ceil(2) * c_stride).min(u.len()));
            (band_v, v) = v.split_at_mut((n.div_ceil(2) * c_stride).min(v.len()));
            let band_src = &src[row * g.stride..(row + n) * g.stride];
            let job = Job {
                seq,
                src: (band_src.as_ptr(), band_src.len()),
                y: (band_y.as_mut_ptr(), band_y.len()),
                u: (band_u.as_mut_ptr(), band_u.len()),
                v: (band_v.as_mut_ptr(), band_v.len()),
                y_stride,
                c_stride,
                geometry: VideoGeometry {
                    height: n as u32,
                    ..*g
                },
                matrix,
            };
            helper.claim.post(seq);
            match helper.jobs.try_send(job) {
                Ok(()) => pending.posted[i] = Some(job),
                // The helper has not even taken an earlier frame's job (or
                // it ended): its band here, at once, under our own guard.
                // SAFETY: the band's borrows are live for this call, and no
                // helper was sent this frame's job.
                Err(TrySendError::Full(job) | TrySendError::Disconnected(job)) => {
                    result = result.and(unsafe { convert(&job) });
                }
            }
            row += n;
        }
        let first = VideoGeometry {
            height: band_rows as u32,
            ..*g
        };
        let planes = I420 {
            y: first_y,
            y_stride,
            u: first_u,
            u_stride: c_stride,
            v: first_v,
            v_stride: c_stride,
        };
        result = result.and(pixels::to_i420(
            &src[..band_rows * g.stride],
            &first,
            planes,
            matrix,
        ));
        for (i, job) in pending.posted.iter_mut().enumerate() {
            let Some(job) = job.take() else { continue };
            let helper = &self.helpers[i];
            self.posted.fetch_add(1, Ordering::Relaxed);
            if helper.claim.claim(seq, STOLEN) {
                // The helper had not started: ours now; it will skip it.
                self.stolen.fetch_add(1, Ordering::Relaxed);
                // SAFETY: the claim is ours, so no other thread touches the
                // band; its borrows are live.
                result = result.and(unsafe { convert(&job) });
                continue;
            }
            match helper.replies.recv() {
                Ok(Reply::Done(r)) => result = result.and(r),
                Ok(Reply::Faulted) => guard::mark_faulted(),
                Err(_) => {
                    result = result.and(Err(ConvertError::Refused(
                        "a conversion helper thread ended".into(),
                    )))
                }
            }
        }
        result
    }
}

/// The bands of one frame posted to helpers and not yet settled. Dropping
/// it (on an unwind only: `to_i420` settles every band) claims each back or
/// waits for its helper's reply, so no helper can be touching the frame's
/// memory once `to_i420` has unwound.
struct Pending<'h> {
    helpers: &'h [Helper],
    posted: [Option<Job>; MAX_THREADS],
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        for (job, h) in self.posted.iter_mut().zip(self.helpers) {
            if let Some(job) = job.take()
                && !h.claim.claim(job.seq, STOLEN)
            {
                let _ = h.replies.recv();
            }
        }
    }
}

fn spawn(index: usize) -> std::io::Result<Helper> {
    let (jobs, inbox) = sync_channel::<Job>(1);
    let (outbox, replies) = sync_channel::<Reply>(1);
    let claim = Arc::new(Claim(AtomicU64::new(Claim::word(0, STOLEN))));
    let ours = claim.clone();
    #[cfg(test)]
    let gate = Arc::new(std::sync::Mutex::new(()));
    #[cfg(test)]
    let held = gate.clone();
    let thread = std::thread::Builder::new()
        .name(format!("convert-{index}"))
        .spawn(move || {
            for job in inbox {
                #[cfg(test)]
                drop(held.lock());
                // Claimed back by the caller, or a job of an earlier frame:
                // its pointers must not be touched.
                if !ours.claim(job.seq, TAKEN) {
                    continue;
                }
                // SAFETY: see `Job`: the claim is ours, and the caller keeps
                // the borrows alive until it has our reply.
                let (src, planes) = unsafe { parts(&job) };
                // SIGBUS is delivered to this thread: the band is read
                // under its own guard.
                let reply = match guard::read(src, |b| {
                    pixels::to_i420(b, &job.geometry, planes, job.matrix)
                }) {
                    Ok(r) => Reply::Done(r),
                    Err(guard::Faulted) => Reply::Faulted,
                };
                if outbox.send(reply).is_err() {
                    break;
                }
            }
        })?;
    Ok(Helper {
        jobs,
        replies,
        claim,
        thread,
        #[cfg(test)]
        gate,
    })
}

/// The band's slices, rebuilt from the job.
///
/// # Safety
/// The job's pointers must be live, disjoint borrows, claimed by the
/// calling thread, for as long as the returned slices are used.
unsafe fn parts(job: &Job) -> (&[u8], I420<'_>) {
    // SAFETY: the caller's contract.
    let (src, y, u, v) = unsafe {
        (
            std::slice::from_raw_parts(job.src.0, job.src.1),
            std::slice::from_raw_parts_mut(job.y.0, job.y.1),
            std::slice::from_raw_parts_mut(job.u.0, job.u.1),
            std::slice::from_raw_parts_mut(job.v.0, job.v.1),
        )
    };
    let planes = I420 {
        y,
        y_stride: job.y_stride,
        u,
        u_stride: job.c_stride,
        v,
        v_stride: job.c_stride,
    };
    (src, planes)
}

/// Converts a band on the thread that holds the frame's guard.
///
/// # Safety
/// As [`parts`].
unsafe fn convert(job: &Job) -> Result<(), ConvertError> {
    // SAFETY: the caller's contract.
    let (src, planes) = unsafe { parts(job) };
    pixels::to_i420(src, &job.geometry, planes, job.matrix)
}

impl Drop for Bands {
    fn drop(&mut self) {
        let (posted, stolen) = self.stolen();
        if posted > 0 {
            tracing::debug!(
                posted,
                stolen,
                "conversion helpers: bands converted by the caller"
            );
        }
        for Helper { jobs, thread, .. } in self.helpers.drain(..) {
            // Closing the channel ends the helper's loop.
            drop(jobs);
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
#[path = "bands_tests.rs"]
mod tests;
