//! The readable table (stdout and `table.txt`): one row per configuration
//! and side (streamer, gst-launch, encoder-only floor), then per
//! configuration the overheads, their ratio and the goals. CPU per frame,
//! overhead (CPU per frame minus the floor's) and peak memory come from the
//! 30 fps runs, where
//! both sides encode every frame (the streamer's unpaced run may drop
//! frames when its encoder is overloaded, which would charge it for frames
//! it made but never encoded, and holds a deep queue); then the unpaced
//! throughput and that run's CPU; then latency. A side without figures shows `-` and its reason
//! below the table.

use super::model::{BenchResult, Run, Status};

use super::model::{Comparison, GoalOutcome};

const HEADER: [&str; 10] = [
    "size",
    "codec",
    "side",
    "encoder",
    "cpu ms/frame",
    "overhead ms total / outside enc",
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

fn ms(v: Option<f64>) -> String {
    num(v, 2)
}

/// The overhead cell: over the floor in total CPU, and outside the
/// encoder's worker threads (what the goal judges where it is known).
fn overhead(total: Option<f64>, outside: Option<f64>) -> String {
    match outside {
        Some(_) => format!("{} / {}", ms(total), ms(outside)),
        None => ms(total),
    }
}

/// One line per configuration: the ratios and the goals.
fn verdict(id: &str, c: &Comparison, rounds: &[Comparison]) -> String {
    let x = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.2}x"));
    let goals: Vec<String> = c
        .goals
        .iter()
        .map(|g| {
            let word = match g.outcome {
                GoalOutcome::Met => "met",
                GoalOutcome::Missed => "MISSED",
                GoalOutcome::NotJudged => "not judged",
            };
            format!("{} {word}", g.name)
        })
        .collect();
    let why = c
        .goals
        .iter()
        .find_map(|g| g.why_not_judged.as_deref())
        .map(|w| format!(" ({w})"))
        .unwrap_or_default();
    // Several rounds: the figures are medians; each round's own overhead
    // ratio and p99 excess are listed so the spread is visible.
    let per_round = if rounds.len() > 1 {
        let list = |get: &dyn Fn(&Comparison) -> Option<f64>| {
            let v: Vec<String> = rounds.iter().map(|r| num(get(r), 2)).collect();
            v.join("/")
        };
        format!(
            " [median of {} rounds; per round: overhead ratio {} (outside the encoder {}), \
             p99 - encoder p99 {} ms]",
            rounds.len(),
            list(&|r| r.overhead_ratio),
            list(&|r| r.overhead_ratio_outside_encoder),
            list(&|r| r.latency_p99_excess_ms)
        )
    } else {
        String::new()
    };
    format!(
        "{id}{per_round}: overhead ratio {} (streamer {} ms, gst {} ms over the floor's {} ms); \
         outside the encoder's workers {} (streamer {} ms, gst {} ms; workers streamer - floor {} ms); cpu {}, \
         unpaced fps {}, p99 - encoder p99 {} ms (- floor's {} ms), peak RSS - gst {} MiB; {}{why}",
        num(c.overhead_ratio, 2),
        ms(c.streamer_overhead_ms),
        ms(c.gst_overhead_ms),
        ms(c.floor_cpu_ms_per_frame),
        num(c.overhead_ratio_outside_encoder, 2),
        ms(c.streamer_overhead_outside_encoder_ms),
        ms(c.gst_overhead_outside_encoder_ms),
        ms(c.encoder_workers_delta_ms),
        x(c.cpu_ratio),
        x(c.unpaced_fps_ratio),
        num(c.latency_p99_excess_ms, 1),
        num(c.latency_p99_excess_vs_floor_ms, 1),
        num(c.peak_rss_excess_mib, 1),
        goals.join(", ")
    )
}

pub fn render(r: &BenchResult) -> String {
    let mut rows: Vec<[String; 10]> = vec![HEADER.map(str::to_owned)];
    let mut notes = Vec::new();
    let mut verdicts = Vec::new();
    for c in &r.configs {
        let size = format!("{}x{}", c.width, c.height);
        let s = &c.streamer;
        let latency = s.latency_ms.as_ref().map_or("-".into(), |l| {
            let enc = s.encode_latency_ms.as_ref().map_or(String::new(), |e| {
                format!(" (enc {:.1} / {:.1})", e.p50, e.p99)
            });
            format!("{:.1} / {:.1}{enc}", l.p50, l.p99)
        });
        let encoder = s.encoder.as_ref().map_or("-".into(), |e| e.element.clone());
        let [cpu, mem] = cells(s.paced.as_ref());
        let [ucpu, _] = cells(s.unpaced.as_ref());
        let cmp = &c.comparison;
        rows.push([
            size.clone(),
            c.codec.into(),
            "streamer".into(),
            encoder,
            cpu,
            overhead(
                cmp.streamer_overhead_ms,
                cmp.streamer_overhead_outside_encoder_ms,
            ),
            mem,
            fps(s.unpaced.as_ref()),
            ucpu,
            latency,
        ]);
        let g = &c.gst;
        let [cpu, mem] = cells(g.paced.as_ref());
        let [ucpu, _] = cells(g.unpaced.as_ref());
        rows.push([
            size.clone(),
            c.codec.into(),
            "gst-launch".into(),
            g.element.clone().unwrap_or_else(|| "-".into()),
            cpu,
            overhead(cmp.gst_overhead_ms, cmp.gst_overhead_outside_encoder_ms),
            mem,
            fps(g.unpaced.as_ref()),
            ucpu,
            "n/a".into(),
        ]);
        let f = &c.floor;
        let [cpu, mem] = cells(f.paced.as_ref());
        let [ucpu, _] = cells(f.unpaced.as_ref());
        let enc_latency = f
            .latency_ms
            .as_ref()
            .map_or("-".into(), |l| format!("enc {:.1} / {:.1}", l.p50, l.p99));
        rows.push([
            size,
            c.codec.into(),
            "floor".into(),
            f.element.clone().unwrap_or_else(|| "-".into()),
            cpu,
            "0".into(),
            mem,
            fps(f.unpaced.as_ref()),
            ucpu,
            enc_latency,
        ]);
        verdicts.push(verdict(&c.id, cmp, &c.round_comparisons));
        for (side, status, reason) in [
            ("streamer", s.status, &s.reason),
            ("gst-launch", g.status, &g.reason),
            ("floor", f.status, &f.reason),
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
    out.push('\n');
    for v in verdicts {
        out.push_str(&v);
        out.push('\n');
    }
    out.push_str(&footer(r, &notes));
    out
}

fn footer(r: &BenchResult, notes: &[String]) -> String {
    let st = &r.settings;
    let mut lines = vec![
        String::new(),
        format!(
            "{} frames per run, the same bytes on every side: {}",
            st.frames, st.source
        ),
        "cpu ms/frame, peak MiB: at 30 fps (streamer: cvmmap_sim -> shm/ZeroMQ -> streamer -> \
         rtp_receiver_tester, which gives the latency; gst-launch and floor: filesrc ! rawvideoparse ! \
         clocksync); overhead = cpu ms/frame - the floor's; floor latency: time inside the encoder \
         element (GStreamer latency tracer, a separate paced run)"
            .into(),
        format!(
            "unpaced: streamer --input-mode dummy --dummy-fps {} (its maximum) --queue-size {}; \
             gst-launch and floor: filesrc non-live, sinks sync=false; their peak memory is in result.json; \
             gst-launch fed {} (the labelled extra) is in result.json only",
            st.dummy_fps, st.unpaced_queue_size, st.gst_pattern
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
