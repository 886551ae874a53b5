//! RTP rows: `rtp_receiver_tester --strict` (with `--decode` where the
//! GStreamer decoder is installed) on an even port pair, then its report
//! turned into checks.

use std::time::Duration;

use super::judge::{Checks, at, latency, u};
use super::matrix::Sabotage;
use super::row::RowCtx;
use super::stream::Started;
use crate::bins::RTP_RECEIVER;
use crate::evidence::read_json;
use crate::gst;
use crate::model::{Peer, RowResult};
use crate::ports;
use crate::runner::Ended;
use crate::supervisor::Proc;

pub const RECEIVER_JSON: &str = "receiver.json";
/// What the streamer sends; `--break-row ROW=wrong-pt` makes the receiver
/// expect the next one instead.
const PAYLOAD_TYPE: u8 = 96;

pub fn start(ctx: &RowCtx, procs: &mut Vec<Proc>) -> Result<Started, Ended> {
    let decoder = format!("avdec_{}", ctx.def.codec);
    let no_decode = match gst::element_exists(&decoder) {
        Some(false) => Some(format!("{decoder} is not installed (gst-libav)")),
        // Present, or gst-inspect-1.0 itself missing: try, and let the
        // receiver's exit 5 say so if the decoder is absent after all.
        _ => None,
    };
    let port =
        ports::free_udp_pair().map_err(|e| Ended::fail(format!("no free UDP port pair: {e}")))?;
    let expected_pt = match ctx.sabotage {
        Some(Sabotage::WrongPt) => PAYLOAD_TYPE + 1,
        _ => PAYLOAD_TYPE,
    };
    let mut args: Vec<String> = vec![
        "--listen-host".into(),
        "127.0.0.1".into(),
        "--port".into(),
        port.to_string(),
        "--expect-pt".into(),
        expected_pt.to_string(),
        "--expect-codec".into(),
        ctx.def.codec.into(),
        "--frame-threshold".into(),
        ctx.def.receive_threshold().to_string(),
        "--strict".into(),
        "--timeout-ms".into(),
        ctx.tester_timeout_ms().to_string(),
        "--json".into(),
        ctx.path_arg(RECEIVER_JSON),
    ];
    if no_decode.is_none() {
        args.push("--decode".into());
    }
    procs.push(ctx.spawn("receiver", &ctx.run.bins.rtp_receiver, args)?);
    // Nothing may be sent before the receiver listens: the first packets
    // would be refused, and they carry the parameter sets.
    if !ports::wait_udp_bound(port, Duration::from_secs(15)) {
        if crate::interrupt::requested() {
            return Err(Ended::interrupted("the receiver started"));
        }
        let last = procs[0].last_stderr_line().unwrap_or_default();
        return Err(Ended::fail(format!(
            "receiver did not bind UDP {port} within 15 s: {last}"
        )));
    }
    Ok(Started {
        output: vec![
            "--rtp".into(),
            "--rtp-endpoint".into(),
            format!("127.0.0.1:{port}"),
            "--rtp-payload-type".into(),
            PAYLOAD_TYPE.to_string(),
            "--rtp-sdp".into(),
            ctx.path_arg("stream.sdp"),
        ],
        no_decode,
        expected_pt,
        stub_mode: "",
    })
}

pub fn judge(ctx: &RowCtx, res: &mut RowResult, checks: &mut Checks, rx: &mut Proc, s: &Started) {
    let report = read_json(&ctx.path(RECEIVER_JSON));
    let r = report.as_ref();
    let (units_min, decoded_min) = (ctx.def.receive_threshold(), ctx.def.decode_threshold());
    res.counts.receive_threshold = Some(units_min);
    res.counts.access_units_received = u(r, "access_units_complete");
    (res.latency_ms, res.latency_note) = latency(r);
    let text = |k: &str| at(r, k).and_then(|v| v.as_str()).map(str::to_owned);
    checks.exit("receiver exit", rx.poll(), 0);
    checks.equals("receiver result", text("result"), "pass".into());
    checks.equals(
        "payload type seen",
        u(r, "seen_pt"),
        u64::from(s.expected_pt),
    );
    checks.equals("codec", text("codec"), ctx.def.codec.into());
    checks.at_least(
        "complete access units",
        res.counts.access_units_received,
        units_min,
    );
    checks.empty("strict failures", at(r, "strict_failures"));
    checks.is_true(
        "parameter sets before the first keyframe",
        at(r, "parameter_sets_before_first_keyframe").and_then(|v| v.as_bool()),
    );
    checks.equals("SSRC changes", u(r, "ssrc_changes"), 0);
    checks.at_least("RTCP sender reports", u(r, "rtcp_sender_reports"), 1);
    let decoder = format!("avdec_{}", ctx.def.codec);
    match &s.no_decode {
        None => {
            res.counts.decoded_frames = u(r, "decoded_frames");
            checks.at_least("decoded frames", res.counts.decoded_frames, decoded_min);
            checks.empty("decode error", at(r, "decode_error"));
        }
        Some(why) => checks.skip("decoded frames", &format!(">= {decoded_min}"), why),
    }
    res.peers.push(Peer {
        name: RTP_RECEIVER.into(),
        role: "strict RTP receiver (own RFC 6184/7798 depacketizer, RTCP, latency)".into(),
        ran: true,
        note: None,
    });
    res.peers.push(Peer {
        name: decoder,
        role: "decoder (GStreamer, inside rtp_receiver_tester --decode)".into(),
        ran: s.no_decode.is_none(),
        note: s.no_decode.clone(),
    });
}
