//! What recording costs beside streaming: the whole streamer pipeline in
//! this process (the dummy source's contract pattern, the same bytes every
//! run, paced at 30 fps; x264 superfast; RTP to a loopback port), with no
//! recording, with `--record x.mcap` (zstd and none) and with
//! `--record x.mp4`. CPU per encoded frame is the process's user + system
//! time (every thread, GStreamer's included) over the run, divided by the
//! frames encoded. The configurations are interleaved over rounds and the
//! medians reported, each beside the streaming-only baseline of the same
//! run.
//!
//! `cargo bench --bench record_cost` (ROUNDS, FRAMES, SIZE=WxH to change).

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use clap::Parser;
use cvmmap_streamer::config::Cli;
use cvmmap_streamer::pipeline;

fn cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes the struct it is given.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    t(ru.ru_utime) + t(ru.ru_stime)
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

/// One run: (CPU ms per encoded frame, frames encoded, bytes recorded).
fn run(
    size: (&str, &str),
    frames: &str,
    record: Option<&str>,
    dir: &std::path::Path,
) -> (f64, u64, u64) {
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let endpoint = format!("127.0.0.1:{port}");
    let mut args = vec![
        "cvmmap_streamer",
        "--codec",
        "h264",
        "--input-mode",
        "dummy",
        "--dummy-width",
        size.0,
        "--dummy-height",
        size.1,
        "--dummy-frames",
        frames,
        "--no-nats",
        "--status-interval-s",
        "0",
        "--rtp",
        "--rtp-endpoint",
        &endpoint,
    ];
    let path;
    let mut compression = None;
    if let Some(kind) = record {
        let (ext, comp) = match kind {
            "mcap-zstd" => ("mcap", Some("zstd")),
            "mcap-none" => ("mcap", Some("none")),
            _ => ("mp4", None),
        };
        path = dir.join(format!("bench.{ext}")).display().to_string();
        args.extend(["--record", path.as_str()]);
        compression = comp;
    }
    if let Some(c) = compression {
        args.extend(["--record-compression", c]);
    }
    let config = Cli::try_parse_from(&args)
        .expect("flags")
        .into_config()
        .expect("config");
    let before = cpu_seconds();
    let summary = pipeline::run(&config, Arc::new(AtomicBool::new(false))).expect("run");
    let cpu = cpu_seconds() - before;
    let encoded = summary.stats.encode.frames_encoded.max(1);
    let recorded = record
        .map(|_| {
            std::fs::read_dir(dir)
                .unwrap()
                .filter_map(|e| e.ok()?.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0);
    (cpu * 1e3 / encoded as f64, encoded, recorded)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    // `cargo bench` passes --bench; nothing else is taken.
    let rounds: usize = env_or("ROUNDS", "3").parse().unwrap();
    let frames = env_or("FRAMES", "150");
    let size = env_or("SIZE", "1280x720");
    let (w, h) = size.split_once('x').expect("SIZE=WxH");
    let configs = [None, Some("mcap-zstd"), Some("mcap-none"), Some("mp4")];
    let mut cpu: Vec<Vec<f64>> = vec![Vec::new(); configs.len()];
    let mut bytes = vec![0u64; configs.len()];
    let mut encoded = vec![0u64; configs.len()];
    for round in 0..rounds {
        for (i, c) in configs.iter().enumerate() {
            let dir = std::env::temp_dir()
                .join(format!("record_cost_{}_{round}_{i}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let (ms, n, b) = run((w, h), &frames, *c, &dir);
            let _ = std::fs::remove_dir_all(&dir);
            cpu[i].push(ms);
            (bytes[i], encoded[i]) = (b, n);
        }
    }
    println!(
        "record_cost: {size} h264 superfast, {frames} frames at 30 fps, {rounds} rounds (medians)"
    );
    println!(
        "{:<22} {:>12} {:>14} {:>10} {:>12}",
        "configuration", "CPU ms/frame", "vs streaming", "frames", "file MB"
    );
    let base = median(&mut cpu[0].clone());
    for (i, c) in configs.iter().enumerate() {
        let m = median(&mut cpu[i]);
        println!(
            "{:<22} {:>12.2} {:>+13.2}  {:>10} {:>12.2}",
            c.map_or("streaming only (RTP)".to_owned(), |c| format!(
                "+ record {c}"
            )),
            m,
            m - base,
            encoded[i],
            bytes[i] as f64 / 1e6
        );
    }
}
