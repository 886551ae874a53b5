//! The effective settings of a run: command line first, then the SDP file,
//! then the defaults (port from the SDP, payload type 96, codec H.264,
//! RTCP on the RTP port + 1).

use std::path::PathBuf;

use super::cli::RxArgs;
use super::depay::Codec;
use super::sdp::{self, SdpInfo};

/// Payload type expected when neither `--expect-pt` nor an SDP gives one.
pub const DEFAULT_PT: u8 = 96;

/// Where the RTCP port came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RtcpPort {
    /// `--rtcp-port`: failing to bind it is an error.
    Explicit(u16),
    /// SDP `a=rtcp` or RTP port + 1: best effort.
    Default(u16),
    /// RTP port 65535 has no next port and nothing else was given.
    None,
}

#[derive(Clone, Debug)]
pub struct Settings {
    pub port: u16,
    pub rtcp_port: RtcpPort,
    pub expect_pt: u8,
    pub codec: Codec,
    pub sdp_path: Option<PathBuf>,
    pub sdp: Option<SdpInfo>,
    pub packet_threshold: u64,
    pub frame_threshold: Option<u64>,
    pub strict: bool,
    pub decode: bool,
    /// `--expect-body N`.
    pub expect_body: Option<u64>,
    /// `--linger-ms`.
    pub linger_ms: Option<u64>,
    /// `--latency-warmup-units`.
    pub latency_warmup_units: u64,
}

impl Settings {
    /// Parameter sets given by the SDP (empty without one).
    pub fn sdp_parameter_sets(&self) -> &[Vec<u8>] {
        self.sdp.as_ref().map_or(&[], |s| &s.parameter_sets)
    }
}

/// Resolves the settings; the error is one line for stderr (exit 2).
pub fn resolve(args: &RxArgs) -> Result<Settings, String> {
    let sdp = match &args.sdp {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("--sdp {}: cannot read: {e}", path.display()))?;
            Some(sdp::parse(&text).map_err(|e| format!("--sdp {}: {e}", path.display()))?)
        }
        None => None,
    };
    let port = args
        .port
        .or(sdp.as_ref().map(|s| s.port))
        .ok_or("--port is required without --sdp")?;
    let rtcp_port = match (args.rtcp_port, sdp.as_ref().and_then(|s| s.rtcp_port)) {
        (Some(p), _) => RtcpPort::Explicit(p),
        (None, Some(p)) => RtcpPort::Default(p),
        (None, None) => port
            .checked_add(1)
            .map_or(RtcpPort::None, RtcpPort::Default),
    };
    if matches!(rtcp_port, RtcpPort::Explicit(p) | RtcpPort::Default(p) if p == port) {
        return Err(format!(
            "RTCP port {port} equals the RTP port: RTP/RTCP multiplexing is not supported"
        ));
    }
    Ok(Settings {
        port,
        rtcp_port,
        expect_pt: args
            .expect_pt
            .or(sdp.as_ref().map(|s| s.payload_type))
            .unwrap_or(DEFAULT_PT),
        codec: args
            .expect_codec
            .or(sdp.as_ref().map(|s| s.codec))
            .unwrap_or(Codec::H264),
        sdp_path: args.sdp.clone(),
        sdp,
        packet_threshold: args.packet_threshold,
        frame_threshold: args.frame_threshold,
        strict: args.strict,
        decode: args.decode,
        expect_body: args.expect_body,
        linger_ms: args.linger_ms,
        latency_warmup_units: args.latency_warmup_units,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn args(a: &[&str]) -> RxArgs {
        RxArgs::try_parse_from(std::iter::once("rtp_receiver_tester").chain(a.iter().copied()))
            .unwrap()
    }

    fn sdp_file(text: &str) -> PathBuf {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("cvmt_settings_{}_{n}.sdp", std::process::id()));
        std::fs::write(&path, text).unwrap();
        path
    }

    const SDP: &str = "v=0\r\nm=video 6000 RTP/AVP 98\r\na=rtpmap:98 H265/90000\r\n";

    #[test]
    fn defaults_without_sdp() {
        let s = resolve(&args(&["--port", "5004"])).unwrap();
        assert_eq!((s.port, s.expect_pt, s.codec), (5004, 96, Codec::H264));
        assert_eq!(s.rtcp_port, RtcpPort::Default(5005));
        assert!(s.sdp_parameter_sets().is_empty());
        let s = resolve(&args(&["--port", "65535"])).unwrap();
        assert_eq!(s.rtcp_port, RtcpPort::None);
    }

    #[test]
    fn sdp_gives_defaults_and_flags_win() {
        let path = sdp_file(SDP);
        let p = path.to_str().unwrap();
        let s = resolve(&args(&["--sdp", p])).unwrap();
        assert_eq!((s.port, s.expect_pt, s.codec), (6000, 98, Codec::H265));
        assert_eq!(s.rtcp_port, RtcpPort::Default(6001));
        let s = resolve(&args(&[
            "--sdp",
            p,
            "--port",
            "7000",
            "--expect-pt",
            "96",
            "--expect-codec",
            "h264",
            "--rtcp-port",
            "7100",
        ]))
        .unwrap();
        assert_eq!((s.port, s.expect_pt, s.codec), (7000, 96, Codec::H264));
        assert_eq!(s.rtcp_port, RtcpPort::Explicit(7100));
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn bad_sdp_and_rtcp_mux_are_errors() {
        let path = sdp_file("v=0\r\nm=video 6000 RTP/AVP 98\r\n");
        let e = resolve(&args(&["--sdp", path.to_str().unwrap()])).unwrap_err();
        assert!(e.starts_with("--sdp ") && !e.contains('\n'), "{e}");
        let _ = std::fs::remove_file(path);
        let e = resolve(&args(&["--sdp", "/nonexistent/x.sdp"])).unwrap_err();
        assert!(e.contains("cannot read"), "{e}");
        let e = resolve(&args(&["--port", "5004", "--rtcp-port", "5004"])).unwrap_err();
        assert!(e.contains("multiplexing"), "{e}");
    }
}
