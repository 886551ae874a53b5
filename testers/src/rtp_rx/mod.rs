//! `rtp_receiver_tester`: a strict UDP RTP receiver with its own parsers,
//! written from the RFCs and sharing nothing with the streamer:
//!
//! - [`header`]: RTP fixed header (RFC 3550 §5.1);
//! - [`depay`]: H.264 (RFC 6184) and H.265 (RFC 7798) depacketizer and
//!   access-unit assembly;
//! - [`sdp`]: SDP reader (RFC 4566, fmtp of RFC 6184 §8.1 / RFC 7798 §7.1);
//! - [`rtcp`]: RTCP compound packets and sender reports (RFC 3550 §6);
//! - [`latency`]: capture-to-arrival latency from sender reports;
//! - [`checks`]: parameter sets before the first keyframe;
//! - [`sei`], [`body`], [`body_sei`]: body-tracking SEI (docs/body-sei.md)
//!   found, validated and matched to the capture time (`--expect-body`);
//! - [`timing`]: RTP timestamps that go backwards, arrival gaps between
//!   units and keyframe arrival times (the fault suite's measurements);
//! - [`feedback`], [`feedback_plan`]: RTCP sent back to the sender
//!   (receiver reports, PLI, FIR) and the keyframe it brings;
//! - [`decode`]: optional GStreamer decode of the complete access units;
//! - [`dump`]: optional dump of the complete access units.
//!
//! Exit codes follow the seed README "Exit Codes": 0 pass, 3 payload-type
//! mismatch, 4 packet/frame threshold (or `--expect-body` count) not met,
//! 7 strict check failed (with `--strict`) or an invalid / mismatched body
//! message (with `--expect-body`), 124 timeout with nothing received, 2 bad arguments, a bad SDP
//! or an address that cannot be bound, 5 decoder elements missing (with
//! `--decode`), 1 other I/O failure.

pub mod body;
pub mod body_sei;
pub mod checks;
pub mod cli;
pub mod decode;
pub mod depay;
pub mod dump;
pub mod feedback;
pub mod feedback_plan;
pub mod header;
pub mod latency;
pub mod receiver;
pub mod report;
pub mod rtcp;
pub mod sdp;
pub mod sei;
pub mod session;
pub mod settings;
pub mod stats;
pub mod timing;

use std::net::UdpSocket;
use std::time::Instant;

use clap::Parser;

use cli::RxArgs;
use report::Report;
use session::Session;
use settings::RtcpPort;

/// Exit code for bad arguments, a bad SDP or an unusable listen address.
pub const EXIT_BAD_ARGS: i32 = 2;
/// Exit code for unexpected I/O failures while receiving.
pub const EXIT_IO: i32 = 1;
/// Exit code when `--decode` cannot build its pipeline (seed README:
/// pipeline initialisation error).
pub const EXIT_PIPELINE: i32 = 5;

/// Our SSRC in the RTCP we send: any value other senders are unlikely to
/// pick (RFC 3550 §8.1 wants it random; the pid and the clock suffice here).
fn own_ssrc() -> u32 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    (std::process::id().rotate_left(16) ^ nanos) | 1
}

fn bind(host: &str, port: u16) -> std::io::Result<UdpSocket> {
    receiver::resolve(host, port).and_then(UdpSocket::bind)
}

/// Parses the process arguments, receives, reports, and returns the exit code.
pub fn main_entry() -> i32 {
    let args = RxArgs::parse();
    crate::logging::init();
    let settings = match settings::resolve(&args) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("rtp_receiver_tester: error: {e}");
            return EXIT_BAD_ARGS;
        }
    };
    let dump = match args.dump_units.as_deref().map(dump::UnitDump::open) {
        None => None,
        Some(Ok(d)) => Some(d),
        Some(Err(e)) => {
            eprintln!(
                "rtp_receiver_tester: error: --dump-units {}: {e}",
                args.dump_units
                    .as_deref()
                    .unwrap_or(std::path::Path::new(""))
                    .display()
            );
            return EXIT_BAD_ARGS;
        }
    };
    let decoder = if settings.decode {
        match decode::Decoder::new(settings.codec, settings.sdp_parameter_sets().to_vec()) {
            Ok(d) => Some(d),
            Err(e) => {
                eprintln!("rtp_receiver_tester: error: --decode: {e}");
                return EXIT_PIPELINE;
            }
        }
    } else {
        None
    };

    let sock = match bind(&args.listen_host, settings.port) {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "rtp_receiver_tester: error: cannot listen on --listen-host {} --port {}: {e}",
                args.listen_host, settings.port
            );
            return EXIT_BAD_ARGS;
        }
    };
    let rtcp_sock = match settings.rtcp_port {
        RtcpPort::None => None,
        RtcpPort::Explicit(p) => match bind(&args.listen_host, p) {
            Ok(s) => Some(s),
            Err(e) => {
                eprintln!(
                    "rtp_receiver_tester: error: cannot listen on --listen-host {} --rtcp-port {p}: {e}",
                    args.listen_host
                );
                return EXIT_BAD_ARGS;
            }
        },
        RtcpPort::Default(p) => match bind(&args.listen_host, p) {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!("RTCP port {p} not bound ({e}): no sender reports, no latency");
                None
            }
        },
    };
    let rtcp_bound = rtcp_sock
        .as_ref()
        .and_then(|s| s.local_addr().ok())
        .map(|a| a.port());
    let rcvbuf = receiver::enlarge_rcvbuf(&sock, receiver::RCVBUF_BYTES);
    let local = sock.local_addr().map(|a| a.to_string()).unwrap_or_default();
    tracing::info!(
        "listening on {local} (rtcp port {rtcp_bound:?}, codec {} expect pt={} threshold={} frames={:?} strict={} decode={} timeout={}ms rcvbuf={rcvbuf:?})",
        settings.codec.name(),
        settings.expect_pt,
        settings.packet_threshold,
        settings.frame_threshold,
        settings.strict,
        settings.decode,
        args.timeout_ms
    );

    let start = Instant::now();
    let mut session = Session::new(settings, decoder, dump);
    session.feedback = feedback_plan::FeedbackPlan::new(args.feedback(), own_ssrc());
    let outcome = match receiver::receive(
        &sock,
        rtcp_sock.as_ref(),
        args.timeout(),
        start,
        args.linger_ms.map(std::time::Duration::from_millis),
        &mut session,
    ) {
        Ok(o) => o,
        Err(e) => {
            tracing::error!("receive failed: {e}");
            return EXIT_IO;
        }
    };
    let elapsed_ms = start.elapsed().as_secs_f64() * 1000.0;
    let decoded = session
        .decoder
        .take()
        .map(|d| d.finish(decode::DRAIN_TIMEOUT));
    let report = Report::new(outcome, &session, elapsed_ms, rtcp_bound, decoded);
    let s = &report.summary;
    tracing::info!(
        "result={} exit={} packets={} invalid={} bytes={} seen_pt={:?} ssrc={:?} seq_gaps={} markers={} elapsed_ms={:.1}",
        s.result,
        s.exit_code,
        s.packets,
        s.invalid_packets,
        s.bytes,
        s.seen_pt,
        s.ssrc,
        s.seq_gaps,
        s.markers,
        elapsed_ms
    );
    tracing::info!(
        "access_units complete={} incomplete={} missing_marker={} fu_errors={} malformed={} keyframes={} param_sets_before_keyframe={:?} strict_failures={:?} rtcp_sr={} latency_ms={:?} decoded_frames={:?}",
        report.access_units_complete,
        report.access_units_incomplete,
        report.missing_marker,
        report.fu_errors,
        report.malformed_packets,
        report.keyframes,
        report.parameter_sets_before_first_keyframe,
        report.strict_failures,
        report.rtcp_sender_reports,
        report.latency_ms,
        report.decoded_frames
    );
    let b = &report.body_sei.stats;
    if b.messages > 0 || report.body_sei.expect.is_some() {
        tracing::info!(
            "body_sei units={} messages={} invalid={} ts_matched={} ts_late={} ts_mismatched={} ts_unchecked={} expect={:?}",
            b.units_with_body,
            b.messages,
            b.invalid,
            b.ts_matched,
            b.ts_late,
            b.ts_mismatched,
            b.ts_unchecked,
            report.body_sei.expect
        );
    }
    if let Some(reason) = &report.body_sei.failure {
        eprintln!("rtp_receiver_tester: --expect-body failed: {reason}");
    }
    if let Some(path) = &args.json {
        let line = serde_json::to_string(&report).unwrap_or_default() + "\n";
        if let Err(e) = std::fs::write(path, line) {
            tracing::error!("cannot write --json {}: {e}", path.display());
        }
    }
    outcome.exit_code()
}
