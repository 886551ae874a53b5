//! Command line of `rtp_receiver_tester`. Bad values exit 2 (clap's own code).

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use super::depay::Codec;

/// Receives RTP (and RTCP on the next port) over UDP, depacketizes H.264 /
/// H.265 into access units with its own RFC 6184 / RFC 7798 code, checks the
/// stream strictly, and decides pass/fail.
///
/// Exit codes: 0 pass, 3 payload-type mismatch, 4 threshold not met (also
/// too few body messages with --expect-body), 7 strict check failed (with
/// --strict) or an invalid / mismatched body message (with --expect-body),
/// 124 nothing received before the timeout, 2 bad arguments or SDP,
/// 5 decoder missing (with --decode).
#[derive(Debug, Clone, Parser)]
#[command(name = "rtp_receiver_tester", version)]
pub struct RxArgs {
    /// UDP port for RTP [default: the port of the SDP's m=video line].
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..), required_unless_present = "sdp")]
    pub port: Option<u16>,
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    pub listen_host: String,
    /// Expected RTP payload type, 0..=127 [default: the SDP's, else 96].
    #[arg(long, value_name = "PT", value_parser = clap::value_parser!(u8).range(0..=127))]
    pub expect_pt: Option<u8>,
    /// Expected codec [default: the SDP's, else h264].
    #[arg(long, value_enum, value_name = "CODEC")]
    pub expect_codec: Option<Codec>,
    /// SDP file (RFC 4566) to learn port, payload type, codec and parameter
    /// sets from; explicit flags win over it. A malformed SDP exits 2.
    #[arg(long, value_name = "PATH")]
    pub sdp: Option<PathBuf>,
    /// UDP port for RTCP [default: the SDP's a=rtcp, else RTP port + 1; when
    /// that cannot be bound the run goes on without RTCP]. Given explicitly,
    /// failing to bind it exits 2.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    pub rtcp_port: Option<u16>,
    /// Pass once this many valid packets with the expected PT arrived.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub packet_threshold: u64,
    /// Also require this many complete access units to pass.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub frame_threshold: Option<u64>,
    /// Give up after this many milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout_ms: u64,
    /// Write a one-line JSON summary here at exit.
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,
    /// Exit 7 at the first failed strict check: SSRC change, parameter sets
    /// missing before the first keyframe, missing marker, FU error, malformed payload.
    #[arg(long)]
    pub strict: bool,
    /// Decode the complete access units with GStreamer (avdec_h264/avdec_h265).
    #[arg(long)]
    pub decode: bool,
    /// Append every complete access unit here: u32 LE length + Annex-B bytes.
    #[arg(long, value_name = "PATH")]
    pub dump_units: Option<PathBuf>,
    /// Require at least N body-tracking SEI messages (docs/body-sei.md) in
    /// the complete access units, none invalid and none whose timestamp_ns
    /// is more than 1 ms from its access unit's capture time (from the RTCP
    /// sender report; units before any report stay unchecked). Too few at
    /// the timeout exits 4, an invalid or mismatched message exits 7; the
    /// reason goes to the JSON (body_sei.failure) and to stderr.
    #[arg(long, value_name = "N")]
    pub expect_body: Option<u64>,
    /// Once the thresholds are met, keep receiving (and measuring) until no
    /// RTP packet came for MS milliseconds or the timeout, then pass: the
    /// whole stream is measured, not only its first N units.
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..))]
    pub linger_ms: Option<u64>,
    /// Leave the first N complete units out of `latency_ms` (a warm-up:
    /// the sender attaching to its source and starting its encoder); they
    /// are counted in `latency_warmup_units_skipped` [default: 0]
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub latency_warmup_units: u64,
    /// Send an RTCP PLI (RFC 4585 §6.3.1) for the stream MS ms after the
    /// first RTP packet, from the RTCP port to where the sender reports
    /// come from (so not before the first one); the JSON gets
    /// `pli_sent_at_ms` and `keyframe_after_pli_ms` (PLI -> first packet
    /// of the next keyframe unit).
    #[arg(long, value_name = "MS")]
    pub send_pli_after_ms: Option<u64>,
    /// With --send-pli-after-ms: send N PLIs, --pli-interval-ms apart (a
    /// flood, to see the sender's keyframe limiter) [default: 1].
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..), requires = "send_pli_after_ms")]
    pub pli_repeat: u64,
    /// Time between the PLIs of --pli-repeat.
    #[arg(
        long,
        value_name = "MS",
        default_value_t = 100,
        requires = "send_pli_after_ms"
    )]
    pub pli_interval_ms: u64,
    /// Send an RTCP FIR (RFC 5104 §4.3.1) MS ms after the first RTP packet,
    /// like --send-pli-after-ms; the JSON gets `fir_sent_at_ms` and
    /// `keyframe_after_fir_ms`.
    #[arg(long, value_name = "MS")]
    pub send_fir_after_ms: Option<u64>,
    /// Send an RTCP receiver report (RFC 3550 §6.4.2: fraction and
    /// cumulative lost, extended highest sequence number, jitter, LSR and
    /// DLSR of the last sender report) every MS ms, the first once a sender
    /// report has shown where to send it.
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..))]
    pub rr_interval_ms: Option<u64>,
}

impl RxArgs {
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }

    /// The RTCP feedback asked for.
    pub fn feedback(&self) -> super::feedback_plan::PlanArgs {
        super::feedback_plan::PlanArgs {
            pli_after_ms: self.send_pli_after_ms,
            pli_repeat: self.pli_repeat,
            pli_interval_ms: self.pli_interval_ms,
            fir_after_ms: self.send_fir_after_ms,
            rr_interval_ms: self.rr_interval_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<RxArgs, clap::Error> {
        RxArgs::try_parse_from(std::iter::once("rtp_receiver_tester").chain(args.iter().copied()))
    }

    #[test]
    fn defaults() {
        let a = parse(&["--port", "5004"]).unwrap();
        assert_eq!(a.listen_host, "127.0.0.1");
        assert_eq!(
            (a.port, a.expect_pt, a.packet_threshold, a.timeout_ms),
            (Some(5004), None, 1, 10_000)
        );
        assert!(a.json.is_none() && a.sdp.is_none() && a.dump_units.is_none());
        assert!(a.expect_codec.is_none() && a.frame_threshold.is_none());
        assert!(a.expect_body.is_none() && a.linger_ms.is_none());
        assert!(!a.strict && !a.decode);
        assert_eq!(
            parse(&["--port", "1", "--linger-ms", "800"])
                .unwrap()
                .linger_ms,
            Some(800)
        );
    }

    #[test]
    fn new_flags() {
        let a = parse(&[
            "--sdp",
            "/tmp/x.sdp",
            "--expect-codec",
            "h265",
            "--frame-threshold",
            "3",
            "--strict",
            "--decode",
            "--rtcp-port",
            "7001",
            "--dump-units",
            "/tmp/u.bin",
            "--expect-body",
            "12",
        ])
        .unwrap();
        assert_eq!(a.expect_body, Some(12));
        assert_eq!(
            a.feedback(),
            super::super::feedback_plan::PlanArgs {
                pli_repeat: 1,
                pli_interval_ms: 100,
                ..Default::default()
            }
        );
        assert_eq!(a.port, None);
        assert_eq!(a.expect_codec, Some(Codec::H265));
        assert_eq!((a.frame_threshold, a.rtcp_port), (Some(3), Some(7001)));
        assert!(a.strict && a.decode);
    }

    #[test]
    fn bad_values_are_rejected_with_exit_2() {
        for args in [
            &[][..],
            &["--port", "0"],
            &["--port", "70000"],
            &["--port", "5004", "--expect-pt", "128"],
            &["--port", "5004", "--packet-threshold", "0"],
            &["--port", "5004", "--timeout-ms", "0"],
            &["--port", "5004", "--frame-threshold", "0"],
            &["--port", "5004", "--expect-codec", "vp8"],
            &["--port", "5004", "--rtcp-port", "0"],
            &["--port", "5004", "--expect-body", "-1"],
            &["--port", "5004", "--linger-ms", "0"],
            &["--port", "5004", "--rr-interval-ms", "0"],
            &["--port", "5004", "--pli-repeat", "3"],
            &[
                "--port",
                "5004",
                "--send-pli-after-ms",
                "1",
                "--pli-repeat",
                "0",
            ],
        ] {
            let e = parse(args).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{args:?}");
        }
    }

    #[test]
    fn feedback_flags() {
        let a = parse(&[
            "--port",
            "5004",
            "--send-pli-after-ms",
            "1500",
            "--pli-repeat",
            "20",
            "--pli-interval-ms",
            "10",
            "--send-fir-after-ms",
            "3000",
            "--rr-interval-ms",
            "500",
        ])
        .unwrap();
        let f = a.feedback();
        assert_eq!(
            (f.pli_after_ms, f.pli_repeat, f.pli_interval_ms),
            (Some(1500), 20, 10)
        );
        assert_eq!((f.fir_after_ms, f.rr_interval_ms), (Some(3000), Some(500)));
    }
}
