//! RTMP rows: `rtmp_stub_tester` on a port it picks itself (`--listen-port
//! 0`, read back from its first stdout line, so no port race), then its
//! report turned into checks.

use std::time::Duration;

use super::judge::{Checks, at, u};
use super::matrix::Sabotage;
use super::row::RowCtx;
use super::stream::Started;
use crate::bins::RTMP_STUB;
use crate::evidence::read_json;
use crate::model::{Peer, RowResult};
use crate::runner::Ended;
use crate::supervisor::Proc;

pub const STUB_JSON: &str = "stub.json";

/// Another signalling than `mode`, for `--break-row ROW=wrong-mode`.
fn other_mode(mode: &str) -> &'static str {
    match mode {
        "h265-enhanced" => "h265-domestic",
        "h265-domestic" => "h265-enhanced",
        _ => "h265-enhanced",
    }
}

pub fn start(ctx: &RowCtx, procs: &mut Vec<Proc>) -> Result<Started, Ended> {
    let row_mode = ctx.def.stub_mode.unwrap_or("h264");
    let stub_mode = match ctx.sabotage {
        Some(Sabotage::WrongMode) => other_mode(row_mode),
        _ => row_mode,
    };
    let args: Vec<String> = vec![
        "--mode".into(),
        stub_mode.into(),
        "--listen-host".into(),
        "127.0.0.1".into(),
        "--listen-port".into(),
        "0".into(),
        "--video-threshold".into(),
        ctx.def.receive_threshold().to_string(),
        "--timeout-ms".into(),
        ctx.tester_timeout_ms().to_string(),
        "--json".into(),
        ctx.path_arg(STUB_JSON),
    ];
    procs.push(ctx.spawn("stub", &ctx.run.bins.rtmp_stub, args)?);
    // `listening PORT` is the stub's documented machine-readable line.
    let port = procs[0]
        .wait_stdout_line("listening ", Duration::from_secs(15))
        .and_then(|p| p.trim().parse::<u16>().ok());
    let Some(port) = port else {
        if crate::interrupt::requested() {
            return Err(Ended::interrupted("the stub started"));
        }
        let last = procs[0].last_stderr_line().unwrap_or_default();
        return Err(Ended::fail(format!("stub did not report its port: {last}")));
    };
    let mut output = vec![
        "--rtmp".into(),
        "--rtmp-url".into(),
        format!("rtmp://127.0.0.1:{port}/live/{}", ctx.def.label),
    ];
    if let Some(m) = ctx.def.rtmp_mode {
        output.extend(["--rtmp-mode".into(), m.into()]);
    }
    Ok(Started {
        output,
        no_decode: None,
        expected_pt: 0,
        stub_mode,
    })
}

pub fn judge(ctx: &RowCtx, res: &mut RowResult, checks: &mut Checks, stub: &mut Proc, s: &Started) {
    let report = read_json(&ctx.path(STUB_JSON));
    let r = report.as_ref();
    let min = ctx.def.receive_threshold();
    res.counts.receive_threshold = Some(min);
    res.counts.video_frames_received = u(r, "video_frames");
    res.latency_note =
        Some("not measured on RTMP rows: the stub gets no RTCP sender reports".into());
    let text = |k: &str| at(r, k).and_then(|v| v.as_str()).map(str::to_owned);
    let flag = |k: &str| at(r, k).and_then(|v| v.as_bool());
    // videocodecid is an AMF0 number (a double) on the wire.
    let codec_id = at(r, "videocodecid")
        .and_then(|v| v.as_f64())
        .map(|f| f as u64);
    checks.exit("stub exit", stub.poll(), 0);
    checks.equals("stub result", text("result"), "pass".into());
    checks.at_least("video frames", res.counts.video_frames_received, min);
    checks.is_true("onMetaData valid", flag("metadata_ok"));
    checks.equals(
        "onMetaData videocodecid",
        codec_id,
        ctx.def.videocodecid.unwrap_or(0),
    );
    checks.at_least("sequence headers", u(r, "sequence_headers"), 1);
    checks.is_true("first frame is a keyframe", flag("first_frame_keyframe"));
    checks.equals("DTS regressions", u(r, "timestamp_regressions"), 0);
    res.peers.push(Peer {
        name: RTMP_STUB.into(),
        role: "RTMP server (own handshake, chunk, AMF0 and FLV parsing)".into(),
        ran: true,
        note: Some(format!("--mode {}", s.stub_mode)),
    });
    res.peers.push(Peer {
        name: "decoder".into(),
        role: "decoder".into(),
        ran: false,
        note: Some("none on RTMP rows: the stub checks FLV tags and sequence headers".into()),
    });
}
