//! One interop row: `cvmmap_sim` -> `cvmmap_streamer` publishing to a real
//! RTMP server, and ffmpeg playing the same stream back on the far side.
//!
//! Order, so that the count is honest: the streamer starts and publishes
//! (its `rtmp_connected` event; it connects before the first frame), the
//! player attaches, the harness waits (bounded) until the server lists the
//! player, and only then does the simulator publish its fixed number of
//! frames. A player attached before the first frame must decode 95% of
//! them. A server that lists players only once the stream has media
//! (ZLMediaKit, MediaMTX) is still polled while streaming; when the player
//! shows up late, the frames published before that moment and one GOP (the
//! wait for a keyframe) are taken off what it is held to, and the evidence
//! says so.

use std::time::{Duration, Instant};

use super::model::{InteropResult, PlayerReport, ServerView, Verdict};
use super::player::{self, Ffmpeg};
use super::server::{Kind, Server};
use crate::acceptance::judge::Checks;
use crate::acceptance::matrix::{FPS, HEIGHT, RowDef, WIDTH};
use crate::acceptance::row::{RowCtx, base_result, producer_side};
use crate::events;
use crate::model::{Counts, Outcome};
use crate::runner::Ended;
use crate::supervisor::Proc;

/// The streamer's GOP in these rows (its default, passed explicitly because
/// the late-join allowance depends on it).
pub const GOP: u64 = 30;
/// How long the streamer gets to publish once its ingest listens.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(15);
/// How long the harness waits for the server to list the player before
/// the simulator starts anyway.
const READER_TIMEOUT: Duration = Duration::from_secs(8);
/// How long the player gets to finish after the streamer ended (it ends by
/// itself when the server relays the unpublish).
const PLAYER_DRAIN: Duration = Duration::from_secs(10);
/// How long the player's frame count must stand still after the stream
/// ended before it is stopped.
const PLAYER_STILL: Duration = Duration::from_secs(2);
/// How often the server's API is read while streaming.
const API_POLL: Duration = Duration::from_millis(250);

/// What the server's API said over the row.
struct Watch {
    view: ServerView,
    reader_seen: Option<Instant>,
    /// The raw answer that last listed the stream (kept as evidence).
    last_body: Option<String>,
}

impl Watch {
    fn new(server: &Server) -> Self {
        Self {
            view: ServerView {
                source: server.api.source(),
                ..ServerView::default()
            },
            reader_seen: None,
            last_body: None,
        }
    }

    fn poll(&mut self, server: &Server, stream: &str) {
        let v = &mut self.view;
        v.polls += 1;
        let (snap, body) = match server.api.query(&server.app, stream) {
            Ok((Some(s), body)) => (s, body),
            Ok((None, _)) => return,
            Err(e) => {
                v.error = Some(e.to_string());
                return;
            }
        };
        v.polls_listing_stream += 1;
        v.stream = Some(format!("{}/{stream}", server.app));
        // Keep what any answer said (the stream leaves the list when the
        // publisher goes); byte and frame counters only grow.
        v.video_codec = snap
            .video_codec
            .filter(|c| !c.is_empty())
            .or(v.video_codec.take());
        v.width = snap.width.filter(|w| *w > 0).or(v.width);
        v.height = snap.height.filter(|h| *h > 0).or(v.height);
        v.bytes_in = snap.bytes_in.max(v.bytes_in);
        v.bytes_out = snap.bytes_out.max(v.bytes_out);
        v.frames = snap.frames.max(v.frames);
        v.readers = snap.readers.max(v.readers);
        v.publishing = snap.publishing.or(v.publishing);
        if snap.readers.unwrap_or(0) > 0 && self.reader_seen.is_none() {
            self.reader_seen = Some(Instant::now());
        }
        self.last_body = Some(body);
    }
}

/// What the row leaves for judging besides its processes.
struct Ran {
    publish: Result<u64, String>,
    sim_started: Option<Instant>,
    /// How the harness ended the player, if it did.
    player_stopped: Option<String>,
}

pub fn run(
    ctx: &RowCtx,
    server: &Server,
    ff: Result<&Ffmpeg, &str>,
    judged: bool,
    res: &mut InteropResult,
) -> Vec<Proc> {
    let mut procs = Vec::new();
    let mut watch = Watch::new(server);
    match steps(ctx, server, ff.ok(), &mut procs, &mut watch) {
        Ok(ran) => judge(ctx, server, ff, judged, res, &mut procs, (ran, watch)),
        Err(Ended(outcome, reason)) => {
            res.outcome = match outcome {
                Outcome::Pass => Verdict::Pass,
                Outcome::Skip => Verdict::Skip,
                Outcome::Fail if judged => Verdict::Fail,
                Outcome::Fail => Verdict::Recorded,
            };
            res.observations.push(reason.clone());
            res.reason = reason;
            res.server_view = Some(watch.view);
        }
    }
    procs
}

/// Streamer, player, simulator, then wait for all three (see the module
/// comment). Errors end the row before anything could be judged.
fn steps(
    ctx: &RowCtx,
    server: &Server,
    ff: Option<&Ffmpeg>,
    procs: &mut Vec<Proc>,
    watch: &mut Watch,
) -> Result<Ran, Ended> {
    let stream = ctx.def.label;
    let url = server.url(stream);
    ctx.phase("starting streamer");
    let mut output = vec![
        "--rtmp".into(),
        "--rtmp-url".into(),
        url.clone(),
        "--gop".into(),
        GOP.to_string(),
    ];
    if let Some(m) = ctx.def.rtmp_mode {
        output.extend(["--rtmp-mode".into(), m.into()]);
    }
    procs.push(ctx.streamer(output)?);
    if ctx.ingest_started(&mut procs[0]).is_err() {
        let last = telling_line(&procs[0]);
        return Err(Ended::fail(format!(
            "streamer not ready (no ingest_started event): {last}"
        )));
    }
    let events_file = ctx.events_file(&procs[0].name);
    let publish = events::wait_for_event(
        &mut procs[0],
        &events_file,
        "rtmp_connected",
        PUBLISH_TIMEOUT,
    )
    .map(|e| e.u64("session").unwrap_or(1))
    .map_err(|_| {
        let last = telling_line(&procs[0]);
        format!(
            "the streamer did not publish within {} s ({}); its last warning: {last}",
            PUBLISH_TIMEOUT.as_secs(),
            player::exit_text(procs[0].poll())
        )
    });
    if let Err(why) = &publish {
        if crate::interrupt::requested() {
            return Err(Ended::interrupted("the streamer connected"));
        }
        return Err(Ended::fail(why.clone()));
    }
    if let Some(ff) = ff {
        ctx.phase("starting player");
        procs.push(player::spawn(ff, &ctx.dir, &url)?);
        let until = Instant::now() + READER_TIMEOUT;
        while watch.reader_seen.is_none() && Instant::now() < until {
            watch.poll(server, stream);
            if !crate::interrupt::sleep(Duration::from_millis(100)) {
                return Err(Ended::interrupted("the player attached"));
            }
        }
    }
    ctx.phase("streaming");
    procs.push(ctx.sim()?);
    let sim_started = Instant::now();
    let deadline = ctx.deadline();
    // The simulator ends after its frames, the streamer after its idle
    // timeout (it unpublishes), the player when the server relays that.
    let (sim, rest) = procs.split_last_mut().expect("sim was pushed");
    let streamer_ended = |rest: &mut [Proc]| rest[0].poll().is_some();
    while (sim.poll().is_none() || !streamer_ended(rest)) && Instant::now() < deadline {
        watch.poll(server, stream);
        if !crate::interrupt::sleep(API_POLL) {
            return Err(Ended::interrupted("streaming"));
        }
    }
    let mut stopped = None;
    if ff.is_some() {
        // nginx-rtmp relays the unpublish, but ffmpeg keeps waiting for
        // more: once its frame count has stood still for a moment after
        // the streamer ended, it has everything it will get.
        ctx.phase("player finishing");
        let until = Instant::now() + PLAYER_DRAIN;
        let player = &mut rest[1];
        let mut last = (None, Instant::now());
        while player.poll().is_none() && Instant::now() < until {
            let frames = player::frames_in_log(&player.stderr_text());
            if frames != last.0 {
                last = (frames, Instant::now());
            } else if last.1.elapsed() >= PLAYER_STILL {
                break;
            }
            if !crate::interrupt::sleep(Duration::from_millis(100)) {
                return Err(Ended::interrupted("the player finished"));
            }
        }
        stopped = player::finish(player);
    }
    for p in procs.iter_mut() {
        p.stop("row deadline passed");
    }
    Ok(Ran {
        publish,
        sim_started: Some(sim_started),
        player_stopped: stopped,
    })
}

/// The codec name the servers' APIs use (nginx-rtmp, SRS, ZLMediaKit and
/// MediaMTX all say "H264"; the three that know H.265 say "H265").
fn api_codec(codec: &str) -> &'static str {
    if codec == "h264" { "H264" } else { "H265" }
}

/// The threshold the player is held to, and how it was derived.
fn threshold(published: u64, watch: &Watch, sim_started: Option<Instant>) -> (u64, String) {
    let pct = |n: u64| (n * 95).div_ceil(100);
    match (watch.reader_seen, sim_started) {
        (Some(r), Some(s)) if r <= s => (
            pct(published),
            format!(
                "the server listed the player before the first frame was published: \
                 95% of all {published} frames published"
            ),
        ),
        (Some(r), Some(s)) => {
            let late_ms = (r - s).as_millis() as u64;
            let missed = (late_ms * FPS).div_ceil(1000) + (GOP - 1);
            let expected = published.saturating_sub(missed);
            (
                pct(expected),
                format!(
                    "the server listed the player only {late_ms} ms after the simulator started: \
                     95% of the {expected} frames published after that, less one GOP ({GOP}) \
                     for the first keyframe"
                ),
            )
        }
        _ => (
            pct(published),
            format!(
                "the server never listed the player: 95% of all {published} frames published \
                 (the player was started before the first frame)"
            ),
        ),
    }
}

fn judge(
    ctx: &RowCtx,
    server: &Server,
    ff: Result<&Ffmpeg, &str>,
    judged: bool,
    res: &mut InteropResult,
    procs: &mut [Proc],
    (ran, watch): (Ran, Watch),
) {
    ctx.phase("judging");
    let mut checks = Checks::default();
    let (st, rest) = procs.split_first_mut().expect("streamer started");
    let (sim, rest) = rest.split_last_mut().expect("sim started");
    // The acceptance rows' producer-side checks, on a throwaway result.
    let mut acc = base_result(ctx);
    producer_side(ctx, &mut acc, &mut checks, sim, st);
    res.counts = acc.counts;
    (res.encoder, res.encoder_note) = (acc.encoder, acc.encoder_note);
    let c: &Counts = &res.counts;
    let published = c.frames_published.unwrap_or(0);
    let obs = &mut res.observations;
    match &ran.publish {
        Ok(session) => obs.push(format!(
            "publish accepted: the streamer's rtmp_connected (session {session}); \
             {} FLV video units sent, {} dropped",
            opt(c.rtmp_units_sent),
            opt(c.rtmp_units_dropped)
        )),
        Err(why) => obs.push(format!("publish failed: {why}")),
    }
    checks.at_least("RTMP units sent", c.rtmp_units_sent, 1);
    let w = &watch;
    let v = &w.view;
    obs.push(describe_view(v));
    checks.at_least("server lists the stream", Some(v.polls_listing_stream), 1);
    let kind = server.api.kind;
    checks.equals(
        "server video codec",
        v.video_codec.as_ref().map(|s| s.to_ascii_uppercase()),
        api_codec(ctx.def.codec).to_owned(),
    );
    if kind != Kind::Mediamtx {
        // MediaMTX's paths API reports no picture size.
        checks.equals("server width", v.width, u64::from(WIDTH));
        checks.equals("server height", v.height, u64::from(HEIGHT));
    }
    match kind {
        Kind::Zlm => checks.at_least("server frames", v.frames, 1),
        _ => checks.at_least("server bytes in", v.bytes_in, 1),
    }
    let url = server.url(ctx.def.label);
    match ff {
        Ok(ff) if rest.len() == 1 => {
            let (min, counting) = threshold(published, w, ran.sim_started);
            let p = player::report(ff, &url, &mut rest[0], ran.player_stopped.clone(), counting);
            obs.push(describe_player(&p));
            res.decode_threshold = Some(min);
            res.counts.decoded_frames = p.frames_decoded;
            checks.at_least("player decoded frames", p.frames_decoded, min);
            let want = if ctx.def.codec == "h264" {
                "h264"
            } else {
                "hevc"
            };
            let line = p.stream_line.clone().unwrap_or_default();
            checks.is_true(
                &format!("player sees a {want} stream"),
                Some(line.contains(&format!("Video: {want}"))),
            );
            res.player = Some(p);
        }
        Ok(_) => checks.skip(
            "player decoded frames",
            ">= 95%",
            "the player did not start",
        ),
        Err(why) => checks.skip("player decoded frames", ">= 95%", why),
    }
    if let (Some(r), Some(s)) = (w.reader_seen, ran.sim_started) {
        let ms = if r <= s {
            -((s - r).as_millis() as i64)
        } else {
            (r - s).as_millis() as i64
        };
        res.server_view = Some(ServerView {
            reader_seen_at_ms: Some(ms),
            ..watch.view.clone()
        });
    } else {
        res.server_view = Some(watch.view.clone());
    }
    if let Some(body) = &watch.last_body {
        let name = if kind == Kind::Nginx {
            "stat.xml"
        } else {
            "server_api.json"
        };
        let _ = std::fs::write(ctx.path(name), body);
    }
    let (outcome, reason) = checks.verdict();
    res.checks = checks.0;
    (res.outcome, res.reason) = match (judged, outcome) {
        (true, Outcome::Pass) => (Verdict::Pass, reason),
        (true, Outcome::Fail) => (Verdict::Fail, reason),
        (true, Outcome::Skip) => (Verdict::Skip, reason),
        (false, _) => (
            Verdict::Recorded,
            format!("recorded, not judged: {}", res.observations.join("; ")),
        ),
    };
}

/// The streamer's last warning or error line (e.g. "RTMP connect
/// failed"), else its last line, at most 300 characters: its final stats
/// line is long and says nothing about why.
fn telling_line(p: &Proc) -> String {
    let text = p.stderr_text();
    let line = text
        .lines()
        .rev()
        .find(|l| l.contains("WARN") || l.contains("ERROR"))
        .or_else(|| text.lines().rev().find(|l| !l.trim().is_empty()))
        .unwrap_or_default()
        .trim();
    line.chars().take(300).collect()
}

fn opt(v: Option<u64>) -> String {
    v.map_or("unknown".into(), |n| n.to_string())
}

fn describe_view(v: &ServerView) -> String {
    if v.polls_listing_stream == 0 {
        let err = v
            .error
            .as_deref()
            .map(|e| format!(" (last error: {e})"))
            .unwrap_or_default();
        return format!(
            "{}: the stream was never listed in {} answers{err}",
            v.source, v.polls
        );
    }
    format!(
        "{}: listed in {} of {} answers; video codec {}, {}x{}, bytes in {}, bytes out to players {}, frames {}, players {}",
        v.source,
        v.polls_listing_stream,
        v.polls,
        v.video_codec.as_deref().unwrap_or("(none)"),
        opt(v.width),
        opt(v.height),
        opt(v.bytes_in),
        opt(v.bytes_out),
        opt(v.frames),
        opt(v.readers),
    )
}

fn describe_player(p: &PlayerReport) -> String {
    let decoded = match p.frames_decoded {
        Some(n) => format!("{n} frames decoded"),
        None => "no frame= stats line (nothing reached its output)".into(),
    };
    let mut s = format!(
        "player (ffmpeg): {decoded}, {}{}",
        p.exit.as_deref().unwrap_or("unknown exit"),
        p.stopped
            .as_deref()
            .map(|s| format!(" after {s}"))
            .unwrap_or_default()
    );
    match &p.stream_line {
        Some(l) => s.push_str(&format!("; it probed \"{l}\"")),
        None => s.push_str("; it never identified a video stream (still opening the input)"),
    }
    if !p.errors.is_empty() {
        s.push_str(&format!("; its errors: {}", p.errors.join(" | ")));
    }
    s
}

/// The rows' definitions: per server, H.264, H.265 enhanced (`hvc1`) and
/// H.265 codec id 12 (`--rtmp-mode domestic`), with the acceptance rows'
/// frame counts.
pub const fn def(id: &'static str, codec: &'static str, mode: Option<&'static str>) -> RowDef {
    let h264 = matches!(codec.as_bytes(), b"h264");
    RowDef {
        id,
        title: id,
        label: id,
        protocol: crate::acceptance::matrix::Protocol::Rtmp,
        codec,
        rtmp_mode: mode,
        stub_mode: None,
        videocodecid: None,
        frames: if h264 { 300 } else { 150 },
        negative: false,
    }
}
