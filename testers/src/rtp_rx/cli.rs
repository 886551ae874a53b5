//! Command line of `rtp_receiver_tester`. Bad values exit 2 (clap's own code).

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

/// Receives RTP over UDP and decides pass/fail by packet count and payload type.
///
/// Exit codes: 0 pass, 3 payload-type mismatch, 4 threshold not met,
/// 124 nothing received before the timeout, 2 bad arguments.
#[derive(Debug, Clone, Parser)]
#[command(name = "rtp_receiver_tester", version)]
pub struct RxArgs {
    /// UDP port to listen on.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    pub port: u16,
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    pub listen_host: String,
    /// Expected RTP payload type (0..=127).
    #[arg(long, value_name = "PT", default_value_t = 96, value_parser = clap::value_parser!(u8).range(0..=127))]
    pub expect_pt: u8,
    /// Pass once this many valid packets with the expected PT arrived.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub packet_threshold: u64,
    /// Give up after this many milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout_ms: u64,
    /// Write a one-line JSON summary here at exit.
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,
}

impl RxArgs {
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
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
            (5004, 96, 1, 10_000)
        );
        assert!(a.json.is_none());
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
        ] {
            let e = parse(args).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{args:?}");
        }
    }
}
