//! Command line ([`cli`]) and the validated configuration the pipeline runs.
//! clap lives here only: flags parse into `*Arg` enums that convert into the
//! domain types of the stages.

pub mod cli;
pub mod layered;
pub mod nats_args;
pub mod record_cli;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::encode::{EncoderDevice, EncoderSettings, TestHooks};
use crate::ingest::IngestConfig;
use crate::ingest::dummy::DummyConfig;

pub use cli::Cli;

/// Where frames come from.
#[derive(Debug, Clone)]
pub enum Source {
    Cvmmap(IngestConfig),
    Dummy(DummyConfig),
}

/// RTP output settings (`--rtp*`).
#[derive(Debug, Clone)]
pub struct RtpOutput {
    pub endpoint: SocketAddr,
    pub payload_type: u8,
    pub sdp_path: Option<PathBuf>,
    pub mtu: usize,
    /// Requested SO_SNDBUF (`--rtp-send-buffer`).
    pub send_buffer: usize,
}

/// How H.265 travels over RTMP (`--rtmp-mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RtmpMode {
    /// Enhanced RTMP (FourCC `hvc1`); H.264 stays legacy codec id 7.
    Enhanced,
    /// FLV codec id 12, the domestic CDN extension (H.265 only).
    Domestic,
}

/// RTMP output settings (`--rtmp*`): one or more destinations, all in the
/// same form.
#[derive(Debug, Clone)]
pub struct RtmpOutput {
    pub urls: Vec<crate::rtmp::RtmpUrl>,
    pub form: crate::flv::VideoTagForm,
    /// Trust for `rtmps://` destinations (`--rtmp-ca` or the system roots);
    /// `None` when every destination is `rtmp://`.
    pub tls: Option<crate::output::rtmp::tls::TlsClient>,
}

/// `--record`: the MCAP or MP4 file, the source's label in its topics, and
/// how MCAP chunks are compressed.
#[derive(Debug, Clone)]
pub struct RecordOutput {
    pub path: PathBuf,
    pub label: String,
    pub options: crate::record::RecordOptions,
}

impl RecordOutput {
    /// An MP4 file (by its extension), else MCAP.
    pub fn is_mp4(&self) -> bool {
        self.path.extension().and_then(|e| e.to_str()) == Some("mp4")
    }
}

/// `--record-compression`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RecordCompressionArg {
    Zstd,
    None,
}

/// Everything the pipeline needs, validated.
#[derive(Debug, Clone)]
pub struct Config {
    pub source: Source,
    pub queue_size: usize,
    pub encoder: EncoderSettings,
    pub encoder_device: EncoderDevice,
    /// Test-only hooks (feature `test-hooks`; empty otherwise).
    pub test_hooks: TestHooks,
    pub rtp: Option<RtpOutput>,
    pub rtmp: Option<RtmpOutput>,
    /// `--record`.
    pub record: Option<RecordOutput>,
    /// Counters and outcome as one JSON object, written at exit.
    pub summary_json: Option<PathBuf>,
    /// Named events as JSON Lines (`--events`).
    pub events: Option<PathBuf>,
    /// Fewest frames between two forced keyframes (`--keyframe-min-spacing`).
    pub keyframe_min_spacing: u64,
    /// Interval of the periodic status log line.
    pub status_interval: Duration,
    /// `--metrics-addr`: `/metrics`, `/healthz`, `/readyz` served here.
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// NATS settings; `None` with `--no-nats`.
    pub nats: Option<crate::nats::NatsConfig>,
}

/// clap's message as one line: its first paragraph (the error and, for a
/// missing argument, the flags it names), without usage or tips.
pub fn one_line(e: &clap::Error) -> String {
    let text = e.to_string();
    let first: Vec<&str> = text
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .map(str::trim)
        .collect();
    if first.is_empty() {
        "error: invalid arguments".to_owned()
    } else {
        first.join(" ")
    }
}

/// A flag combination the streamer refuses (exit code 2). The message names
/// the flag.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{flag}: {reason}")]
pub struct ConfigError {
    pub flag: &'static str,
    pub reason: String,
}

impl ConfigError {
    pub fn new(flag: &'static str, reason: impl Into<String>) -> Self {
        Self {
            flag,
            reason: reason.into(),
        }
    }
}
