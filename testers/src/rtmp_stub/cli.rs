//! Command line of `rtmp_stub_tester`. Bad values exit 2 (clap's usage code).

use std::path::PathBuf;

use clap::{ArgAction, Parser, ValueEnum};

/// Which codec signalling the publisher must use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// Legacy FLV codec id 7, onMetaData videocodecid 7.
    H264,
    /// Enhanced RTMP ExVideoTagHeader FourCC `hvc1`, videocodecid 1752589105,
    /// connect fourCcList including "hvc1".
    H265Enhanced,
    /// Legacy header with codec id 12, videocodecid 12.
    H265Domestic,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::H264 => "h264",
            Mode::H265Enhanced => "h265-enhanced",
            Mode::H265Domestic => "h265-domestic",
        }
    }

    /// The onMetaData `videocodecid` this mode expects.
    pub fn videocodecid(self) -> f64 {
        match self {
            Mode::H264 => f64::from(super::flv::CODEC_AVC),
            Mode::H265Enhanced => f64::from(super::flv::FOURCC_HVC1),
            Mode::H265Domestic => f64::from(super::flv::CODEC_HEVC_DOMESTIC),
        }
    }

    pub fn hevc(self) -> bool {
        self != Mode::H264
    }
}

/// An RTMP server that accepts one publisher at a time and validates what it
/// sends (handshake, chunking, AMF0 commands, onMetaData, FLV video tags).
///
/// Exit codes: 0 threshold met with all checks good, 4 timeout with fewer
/// video frames than the threshold, 6 RTMP mode mismatch, 7 protocol
/// violation, 124 timeout with no video frame, 2 bad arguments, 1 I/O failure.
#[derive(Debug, Clone, Parser)]
#[command(name = "rtmp_stub_tester", version)]
pub struct StubArgs {
    /// Codec signalling the publisher must use.
    #[arg(long, value_enum, default_value = "h264")]
    pub mode: Mode,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub listen_host: String,
    /// TCP port to listen on; 0 picks a free one. The first stdout line is
    /// always `listening <port>`.
    #[arg(long, default_value_t = 1935)]
    pub listen_port: u16,
    /// Pass once this many coded video frames (not sequence headers) arrived.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub video_threshold: u64,
    /// Give up after this many milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout_ms: u64,
    /// Write a one-line JSON summary here at exit.
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,
    /// Keep accepting new connections (one at a time) until the threshold;
    /// `--accept-reconnects false` ends the run when the first publisher leaves.
    #[arg(long, value_name = "BOOL", default_value_t = true, action = ArgAction::Set,
          num_args = 0..=1, default_missing_value = "true")]
    pub accept_reconnects: bool,
    /// Answer `publish` with onStatus NetStream.Publish.BadName (error path tests).
    #[arg(long)]
    pub reject_publish: bool,
    /// Sink-stall fault: after this many ms of the first connection, stop
    /// reading for `--stall-ms` (the publisher's writes then block).
    #[arg(long, value_name = "MS")]
    pub stall_after_ms: Option<u64>,
    /// How long the stall lasts.
    #[arg(long, value_name = "MS", default_value_t = 5000)]
    pub stall_ms: u64,
    /// With --stall-after-ms: pass only once this many coded video frames
    /// also arrived after the stream resumed from the stall, besides
    /// --video-threshold. The resume point is the first frame after the
    /// stall whose DTS jumps by more than 200 ms (past the units the
    /// publisher dropped); the backlog read before it does not count.
    /// A publisher that dropped nothing never resumes by this rule.
    #[arg(long, value_name = "N", requires = "stall_after_ms")]
    pub after_stall_threshold: Option<u64>,
    /// Pass only once the publisher also ended its publication with
    /// `deleteStream` (RTMP 1.0 §7.2.2.3) after the thresholds were met;
    /// a publisher that just disconnects fails.
    #[arg(long)]
    pub until_unpublish: bool,
    /// Serve RTMP over TLS (RTMPS) with a self-signed certificate made at
    /// start for localhost and 127.0.0.1.
    #[arg(long)]
    pub tls: bool,
    /// With --tls: write the certificate (PEM) here before listening, for
    /// the publisher to trust (the streamer's --rtmp-ca).
    #[arg(long, value_name = "PATH", requires = "tls")]
    pub tls_cert_out: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<StubArgs, clap::Error> {
        StubArgs::try_parse_from(std::iter::once("rtmp_stub_tester").chain(args.iter().copied()))
    }

    #[test]
    fn defaults_and_flags() {
        let a = parse(&[]).unwrap();
        assert_eq!(a.mode, Mode::H264);
        assert_eq!((a.listen_host.as_str(), a.listen_port), ("127.0.0.1", 1935));
        assert_eq!((a.video_threshold, a.timeout_ms), (1, 10_000));
        assert!(a.accept_reconnects && !a.reject_publish && a.json.is_none());
        let a = parse(&[
            "--mode",
            "h265-enhanced",
            "--accept-reconnects",
            "false",
            "--reject-publish",
        ])
        .unwrap();
        assert_eq!(a.mode, Mode::H265Enhanced);
        assert!(!a.accept_reconnects && a.reject_publish);
        assert!(parse(&["--accept-reconnects"]).unwrap().accept_reconnects);
        assert_eq!(
            parse(&["--mode", "h265-domestic"])
                .unwrap()
                .mode
                .videocodecid(),
            12.0
        );
        assert_eq!(Mode::H265Enhanced.videocodecid(), 1_752_589_105.0);
    }

    #[test]
    fn after_stall_threshold_needs_a_stall() {
        let a = parse(&["--stall-after-ms", "100", "--after-stall-threshold", "5"]).unwrap();
        assert_eq!(
            (a.stall_after_ms, a.after_stall_threshold),
            (Some(100), Some(5))
        );
        assert!(parse(&[]).unwrap().after_stall_threshold.is_none());
        assert_eq!(
            parse(&["--after-stall-threshold", "5"])
                .unwrap_err()
                .exit_code(),
            2
        );
    }

    #[test]
    fn tls_flags() {
        let a = parse(&["--tls", "--tls-cert-out", "/tmp/c.pem"]).unwrap();
        assert!(a.tls);
        assert_eq!(a.tls_cert_out, Some(PathBuf::from("/tmp/c.pem")));
        assert!(!parse(&[]).unwrap().tls);
        assert_eq!(
            parse(&["--tls-cert-out", "/tmp/c.pem"])
                .unwrap_err()
                .exit_code(),
            2
        );
    }

    #[test]
    fn bad_values() {
        for bad in [
            &["--mode", "vp9"][..],
            &["--video-threshold", "0"],
            &["--timeout-ms", "0"],
            &["--listen-port", "70000"],
            &["--bogus"],
        ] {
            assert_eq!(parse(bad).unwrap_err().exit_code(), 2, "{bad:?}");
        }
    }
}
