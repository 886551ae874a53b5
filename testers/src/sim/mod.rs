//! `cvmmap_sim`: a faithful cv-mmap producer (contract `cv-mmap-ipc.md` §1–§3, §6).
//!
//! `--abi v1|v2|v2.1`: v2.1 (major 2, minor 1) also publishes each frame as one
//! Annex-B access unit (H.264 or H.265, `--encoded-codec`) in plane slot 3,
//! produced by a real GStreamer encoder ([`encoder`]).
//!
//! `--nats-url` adds the NATS side of the contract (§4, §5) on a thread of
//! its own ([`nats`]): status events, body-tracking messages ([`body`]),
//! `source.info` / `source.reset`; `--reset-every` resets the frame counter
//! ([`timeline`]).
//!
//! `--depth-unit mm|m` and `--confidence` (v2 and v2.1) add the GRAY/F32
//! DEPTH and CONFIDENCE planes (slots 1 and 2) after the video plane, with
//! the documented patterns of [`depth_pattern`].
//!
//! `--stamp`, `--torn-writes`, `--reset-recreate` and `--reset-sizes` are
//! the fault modes of `harness faults` ([`faults`]).
//!
//! Exit codes: 0 after `--frames` frames or a clean stop on SIGINT/SIGTERM,
//! 2 for bad arguments (seed README "Exit Codes"), 1 for runtime failures
//! (shared memory or ZeroMQ setup).

pub mod body;
pub mod cli;
pub mod depth_pattern;
pub mod encoder;
pub mod faults;
pub mod layout;
pub mod naming;
pub mod nats;
pub mod pattern;
pub mod publisher;
pub mod runner;
pub mod shm;
pub mod timeline;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use clap::Parser;

use cli::{SimArgs, SimConfig};
use runner::RunSummary;

/// Exit code for bad arguments.
pub const EXIT_BAD_ARGS: i32 = 2;
/// Exit code for runtime failures.
pub const EXIT_RUNTIME: i32 = 1;

fn install_signal_flag() -> std::io::Result<Arc<AtomicBool>> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [SIGINT, SIGTERM] {
        // A second signal while stopping terminates at once.
        signal_hook::flag::register_conditional_shutdown(sig, 130, Arc::clone(&stop))?;
        signal_hook::flag::register(sig, Arc::clone(&stop))?;
    }
    Ok(stop)
}

/// Logging, then the stop flag; the exit code when signals cannot be had.
fn start_logging_and_signals() -> Result<Arc<AtomicBool>, i32> {
    crate::logging::init();
    install_signal_flag().map_err(|e| {
        tracing::error!("cannot install signal handlers: {e}");
        EXIT_RUNTIME
    })
}

fn summary_json(cfg: &SimConfig, s: &RunSummary) -> String {
    let n = s.nats.clone().unwrap_or_default();
    serde_json::json!({
        "frames_published": s.frames_published,
        "elapsed_ms": s.elapsed_ms,
        "label": cfg.label,
        "shm_name": cfg.shm_name,
        "endpoint": cfg.endpoint,
        "late_frames": s.late_frames,
        "segment_bytes": s.segment_bytes,
        "segment_grew": s.segment_grew,
        "interrupted": s.interrupted,
        "resets": s.resets,
        "reset_times_ns": s.reset_events.iter().map(|e| e.at_unix_ns).collect::<Vec<_>>(),
        "reset_events": s.reset_events,
        "reset_recreate": cfg.reset_recreate,
        "reset_shrink": cfg.reset_shrink,
        "reset_sizes": cfg.reset_sizes.iter().map(|g| format!("{}x{}", g.width, g.height)).collect::<Vec<_>>(),
        "stamp": cfg.stamp,
        "torn_mode": cfg.torn_max_delay_us.is_some(),
        "torn_max_delay_us": cfg.torn_max_delay_us,
        "torn_after": cfg.torn_max_delay_us.map(|_| cfg.torn_after),
        "torn_order": cfg.torn_max_delay_us.map(|_| cfg.torn_order),
        "frames_written": s.frames_written,
        "frames_written_in_place": s.frames_written_in_place,
        "first_frame_unix_ns": s.first_frame_unix_ns,
        "last_frame_unix_ns": s.last_frame_unix_ns,
        "depth_unit": cfg.planes.depth.map(|u| u.name()),
        "confidence": cfg.planes.confidence,
        "width": cfg.geometry.width,
        "height": cfg.geometry.height,
        "nats_url": cfg.nats.as_ref().map(|c| c.url.as_str()),
        "nats_key": cfg.nats.as_ref().map(|c| c.key.as_str()),
        "nats_connected": n.connected,
        "nats_flushed": n.flushed,
        "nats_dropped": n.dropped,
        "status_published": n.status_published,
        "body_published": n.body_published,
        "requests_answered": n.requests_answered,
    })
    .to_string()
}

/// `--camera ...`: every camera's producer on its own thread, each
/// starting after its delay; exit 0 when all ended well.
fn rig_entry(args: &SimArgs) -> i32 {
    let cameras = match args.rig() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("cvmmap_sim: error: {e}");
            return EXIT_BAD_ARGS;
        }
    };
    let stop = match start_logging_and_signals() {
        Ok(s) => s,
        Err(code) => return code,
    };
    let results: Vec<Option<Result<RunSummary, String>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = cameras
            .iter()
            .map(|cam| {
                let stop = &stop;
                scope.spawn(move || {
                    // The rig's offset start (the scenario itself).
                    let start = std::time::Instant::now();
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        let Some(left) = cam.delay.checked_sub(start.elapsed()) else {
                            break;
                        };
                        std::thread::sleep(left.min(std::time::Duration::from_millis(10)));
                    }
                    if stop.load(std::sync::atomic::Ordering::Relaxed) {
                        return None;
                    }
                    Some(runner::run(&cam.config, stop).map_err(|e| e.to_string()))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("camera thread panicked"))
            .collect()
    });
    let mut code = 0;
    let mut json = Vec::new();
    for (cam, r) in cameras.iter().zip(&results) {
        match r {
            Some(Ok(s)) => {
                tracing::info!(
                    "camera {} exiting: frames_published={} elapsed_ms={} late_frames={}",
                    cam.config.label,
                    s.frames_published,
                    s.elapsed_ms,
                    s.late_frames
                );
                json.push(
                    serde_json::from_str::<serde_json::Value>(&summary_json(&cam.config, s))
                        .expect("summary is JSON"),
                );
            }
            Some(Err(e)) => {
                tracing::error!("camera {}: {e}", cam.config.label);
                code = EXIT_RUNTIME;
            }
            None => tracing::info!("camera {} stopped before it started", cam.config.label),
        }
    }
    if let Some(path) = &args.json {
        let text = serde_json::json!({ "cameras": json }).to_string();
        if let Err(e) = std::fs::write(path, text + "\n") {
            tracing::error!("cannot write --json {}: {e}", path.display());
            return EXIT_RUNTIME;
        }
    }
    code
}

/// Parses the process arguments, runs the simulator and returns the exit code.
pub fn main_entry() -> i32 {
    let args = SimArgs::parse();
    if !args.cameras.is_empty() {
        return rig_entry(&args);
    }
    let cfg = match args.into_config() {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("cvmmap_sim: error: {e}");
            return EXIT_BAD_ARGS;
        }
    };
    let stop = match start_logging_and_signals() {
        Ok(s) => s,
        Err(code) => return code,
    };
    let summary = match runner::run(&cfg, &stop) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("{e}");
            return EXIT_RUNTIME;
        }
    };
    tracing::info!(
        "cvmmap_sim exiting: frames_published={} elapsed_ms={} late_frames={} interrupted={} resets={}",
        summary.frames_published,
        summary.elapsed_ms,
        summary.late_frames,
        summary.interrupted,
        summary.resets
    );
    if let Some(n) = &summary.nats {
        tracing::info!(
            "NATS: connected={} status_published={} body_published={} requests_answered={} dropped={} flushed={}",
            n.connected,
            n.status_published,
            n.body_published,
            n.requests_answered,
            n.dropped,
            n.flushed
        );
    }
    if let Some(path) = &cfg.json
        && let Err(e) = std::fs::write(path, summary_json(&cfg, &summary) + "\n")
    {
        tracing::error!("cannot write --json {}: {e}", path.display());
        return EXIT_RUNTIME;
    }
    0
}
