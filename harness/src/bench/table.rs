//! The readable table (stdout and `table.txt`): one row per configuration
//! and side. CPU per frame and peak memory come from the 30 fps runs, where
//! both sides encode every frame (the streamer's unpaced run may drop
//! frames when its encoder is overloaded, which would charge it for frames
//! it made but never encoded, and holds a deep queue); then the unpaced
//! throughput and that run's CPU; then latency. A side without figures shows `-` and its reason
//! below the table.

use super::model::{BenchResult, Run, Status};

const HEADER: [&str; 9] = [
    "size",
    "codec",
    "side",
    "encoder",
    "cpu ms/frame",
    "peak MiB",
    "unpaced fps",
    "unpaced cpu ms/frame",
    "latency p50/p99 ms",
];

fn num(v: Option<f64>, decimals: usize) -> String {
    v.map_or("-".into(), |x| format!("{x:.decimals$}"))
}

/// Unpaced fps, marked `>=` when nothing was dropped (a lower bound)
/// and `*` when frames were dropped.
fn fps(run: Option<&Run>) -> String {
    let Some((r, f)) = run.and_then(|r| Some((r, r.fps?))) else {
        return "-".into();
    };
    match (r.fps_limited_by, r.frames_dropped.unwrap_or(0)) {
        ("lower_bound", _) => format!(">={f:.1}"),
        (_, 0) => format!("{f:.1}"),
        (_, _) => format!("{f:.1}*"),
    }
}

fn cells(run: Option<&Run>) -> [String; 2] {
    [
        num(run.and_then(|r| r.cpu_ms_per_frame), 2),
        num(run.map(|r| r.peak_rss_mib), 1),
    ]
}

pub fn render(r: &BenchResult) -> String {
    let mut rows: Vec<[String; 9]> = vec![HEADER.map(str::to_owned)];
    let mut notes = Vec::new();
    for c in &r.configs {
        let size = format!("{}x{}", c.width, c.height);
        let s = &c.streamer;
        let latency = s
            .latency_ms
            .as_ref()
            .map_or("-".into(), |l| format!("{:.1} / {:.1}", l.p50, l.p99));
        let encoder = s.encoder.as_ref().map_or("-".into(), |e| e.element.clone());
        let [cpu, mem] = cells(s.paced.as_ref());
        let [ucpu, _] = cells(s.unpaced.as_ref());
        rows.push([
            size.clone(),
            c.codec.into(),
            "streamer".into(),
            encoder,
            cpu,
            mem,
            fps(s.unpaced.as_ref()),
            ucpu,
            latency,
        ]);
        let g = &c.gst;
        let [cpu, mem] = cells(g.paced.as_ref());
        let [ucpu, _] = cells(g.unpaced.as_ref());
        rows.push([
            size,
            c.codec.into(),
            "gst-launch".into(),
            g.element.clone().unwrap_or_else(|| "-".into()),
            cpu,
            mem,
            fps(g.unpaced.as_ref()),
            ucpu,
            "n/a".into(),
        ]);
        for (side, status, reason) in [
            ("streamer", s.status, &s.reason),
            ("gst-launch", g.status, &g.reason),
        ] {
            let word = match status {
                Status::Ok => continue,
                Status::Failed => "FAILED",
                Status::Skipped => "skipped",
            };
            notes.push(format!("{} {side}: {word}: {reason}", c.id));
        }
    }
    let widths: Vec<usize> = (0..HEADER.len())
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for (n, row) in rows.iter().enumerate() {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .enumerate()
            // Text columns to the left, figures to the right.
            .map(|(i, (cell, w))| {
                if i < 4 {
                    format!("{cell:<w$}")
                } else {
                    format!("{cell:>w$}")
                }
            })
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
        if n == 0 {
            let rule: usize = widths.iter().sum::<usize>() + 2 * (widths.len() - 1);
            out.push_str(&"-".repeat(rule));
            out.push('\n');
        }
    }
    out.push_str(&footer(r, &notes));
    out
}

fn footer(r: &BenchResult, notes: &[String]) -> String {
    let st = &r.settings;
    let mut lines = vec![
        String::new(),
        format!(
            "{} frames per run. cpu ms/frame, peak MiB: at 30 fps (streamer: cvmmap_sim -> shm/ZeroMQ -> \
             streamer -> rtp_receiver_tester, which gives the latency; gst-launch: videotestsrc is-live=true)",
            st.frames
        ),
        format!(
            "unpaced: streamer --input-mode dummy --dummy-fps {} (its maximum) --queue-size {}; \
             gst-launch videotestsrc non-live, udpsink sync=false; their peak memory is in result.json",
            st.dummy_fps, st.unpaced_queue_size
        ),
        "cpu = (user + sys) from wait4(2) / frames encoded; peak = ru_maxrss; fps = frames encoded / \
         process wall time (start-up included); \">=\": no frame dropped, so the streamer can do at \
         least this (a lower bound); \"*\": frames dropped while the encoder was busy (counted in result.json), \
         so that run's cpu ms/frame also pays for frames never encoded"
            .into(),
        format!(
            "binaries: {} build ({}); host: {} ({} cores); commit {}",
            r.build_profile, r.head.harness.bin_dir, r.head.host.cpu_model, r.head.host.cpu_cores, r.head.git.commit
        ),
    ];
    if r.build_profile != "release" {
        lines.push(
            "WARNING: not a release build: the streamer's own code runs unoptimised; \
             measure with `cargo build --release` binaries"
                .into(),
        );
    }
    lines.extend(notes.iter().cloned());
    let mut s = lines.join("\n");
    s.push('\n');
    s
}
