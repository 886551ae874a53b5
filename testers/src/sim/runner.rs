//! The producer loop: per frame write the payload, then the metadata, then
//! send the sync (contract `cv-mmap-ipc.md` §2 "Producer write order").
//!
//! Frames are paced on absolute deadlines `start + f/fps` (no drift); waiting
//! happens in slices of at most 20 ms so a stop request is seen promptly.

use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::cli::SimConfig;
use super::layout::{self, Stamp};
use super::pattern::{self, PatternTables};
use super::publisher::{PublishError, SyncPublisher};
use super::shm::ShmSegment;

/// Longest single sleep between stop-flag checks.
const SLEEP_SLICE: Duration = Duration::from_millis(20);

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("shared memory /dev/shm/{name}: {source}")]
    Shm {
        name: String,
        source: std::io::Error,
    },
    #[error("sync endpoint {endpoint}: {source}")]
    Publish {
        endpoint: String,
        source: PublishError,
    },
}

/// What a run did.
#[derive(Clone, Debug, PartialEq)]
pub struct RunSummary {
    pub frames_published: u64,
    pub elapsed_ms: u64,
    /// Frames generated more than one period after their deadline.
    pub late_frames: u64,
    /// Stopped by SIGINT/SIGTERM rather than by `--frames`.
    pub interrupted: bool,
}

/// Live wall clock (CLOCK_REALTIME) in Unix nanoseconds (§6: live sources).
pub fn wall_clock_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// Sleeps until `deadline`; returns false as soon as `stop` is set.
fn sleep_until(deadline: Instant, stop: &AtomicBool) -> bool {
    loop {
        if stop.load(Ordering::Relaxed) {
            return false;
        }
        let now = Instant::now();
        if now >= deadline {
            return true;
        }
        thread::sleep((deadline - now).min(SLEEP_SLICE));
    }
}

/// Creates the segment and the PUB socket, publishes until `--frames` or `stop`,
/// and removes both again (their `Drop`) before returning.
pub fn run(cfg: &SimConfig, stop: &AtomicBool) -> Result<RunSummary, SimError> {
    let geom = cfg.geometry;
    let payload_size = geom.payload_size() as usize;
    let mut shm =
        ShmSegment::create(&cfg.shm_name, payload_size).map_err(|source| SimError::Shm {
            name: cfg.shm_name.clone(),
            source,
        })?;
    let publisher = SyncPublisher::bind(&cfg.endpoint).map_err(|source| SimError::Publish {
        endpoint: cfg.endpoint.clone(),
        source,
    })?;
    tracing::info!(
        "cvmmap_sim started: label={} shm=/dev/shm/{} ({} bytes) endpoint={} abi={:?} format={:?} {}x{} stride={} fps={} frames={}",
        cfg.label,
        cfg.shm_name,
        shm.len(),
        cfg.endpoint,
        cfg.abi,
        geom.format,
        geom.width,
        geom.height,
        geom.stride,
        cfg.fps,
        if cfg.frames == 0 {
            "endless".to_string()
        } else {
            cfg.frames.to_string()
        },
    );

    let tables = PatternTables::new(geom.width, geom.height);
    let period = Duration::from_secs_f64(1.0 / cfg.fps);
    let start = Instant::now();
    let mut published = 0u64;
    let mut late = 0u64;
    while cfg.frames == 0 || published < cfg.frames {
        let deadline = start + Duration::from_secs_f64(published as f64 / cfg.fps);
        if !sleep_until(deadline, stop) {
            break;
        }
        if Instant::now() > deadline + period {
            late += 1;
        }
        let frame_count = published as u32; // u32 on the wire; wraps like upstream
        let stamp = Stamp {
            frame_count,
            timestamp_ns: wall_clock_ns(),
            publish_seq: published + 1,
        };
        let (meta, payload) = shm.parts_mut();
        pattern::fill_frame(
            &tables,
            &geom,
            u64::from(frame_count),
            &mut payload[..payload_size],
        );
        meta.copy_from_slice(&layout::metadata(cfg.abi, &geom, &stamp));
        let sync = layout::sync_message(frame_count, stamp.timestamp_ns, cfg.label.as_bytes());
        publisher.send(&sync).map_err(|source| SimError::Publish {
            endpoint: cfg.endpoint.clone(),
            source,
        })?;
        published += 1;
    }
    let interrupted = stop.load(Ordering::Relaxed);
    drop(publisher);
    drop(shm);
    Ok(RunSummary {
        frames_published: published,
        elapsed_ms: start.elapsed().as_millis() as u64,
        late_frames: late,
        interrupted,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sleep_until_returns_early_on_stop() {
        let stop = AtomicBool::new(true);
        let t = Instant::now();
        assert!(!sleep_until(t + Duration::from_secs(10), &stop));
        assert!(t.elapsed() < Duration::from_millis(100));
    }

    #[test]
    fn sleep_until_past_deadline_is_immediate() {
        let stop = AtomicBool::new(false);
        assert!(sleep_until(Instant::now(), &stop));
    }

    #[test]
    fn wall_clock_is_unix_ns() {
        // After 2020-01-01 and before 2100-01-01.
        let ns = wall_clock_ns();
        assert!(ns > 1_577_836_800_000_000_000 && ns < 4_102_444_800_000_000_000);
    }
}
