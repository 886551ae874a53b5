//! The command line. Flags, defaults and exit codes follow the C++ original's
//! README (the public interface); new flags extend it.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};

use super::{
    Config, ConfigError, RecordCompressionArg, RecordOutput, RtmpMode, RtmpOutput, RtpOutput,
    Source,
};
use crate::contract::{EncodedCodec, Target};
use crate::encode::{Codec, EncoderDevice, EncoderSettings};
use crate::ingest::IngestConfig;
use crate::ingest::dummy::DummyConfig;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RunMode {
    /// Ingest, encode and publish (the only mode).
    Pipeline,
}

/// `--codec`: clap's view of [`Codec`] (domain types know nothing of clap).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CodecArg {
    H264,
    H265,
}

impl From<CodecArg> for Codec {
    fn from(c: CodecArg) -> Self {
        match c {
            CodecArg::H264 => Codec::H264,
            CodecArg::H265 => Codec::H265,
        }
    }
}

/// `--encoder-device`: clap's view of [`EncoderDevice`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DeviceArg {
    /// NVENC when it works, software otherwise (deterministic fallback).
    Auto,
    /// NVENC or nothing (exit 5 where it cannot run).
    Nvenc,
    /// x264/x265 only.
    Software,
}

impl From<DeviceArg> for EncoderDevice {
    fn from(d: DeviceArg) -> Self {
        match d {
            DeviceArg::Auto => EncoderDevice::Auto,
            DeviceArg::Nvenc => EncoderDevice::Nvenc,
            DeviceArg::Software => EncoderDevice::Software,
        }
    }
}

/// Hidden `--test-hw-encoder` (feature `test-hooks` only).
#[cfg(feature = "test-hooks")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StandInArg {
    /// Accepts every frame and never outputs (a wedged NVENC session).
    Stall,
    /// Fails on the first frame (NVENC that cannot start).
    FailStart,
    /// A real encoder whose output never drains: pushes block like a
    /// wedged NVENC session's.
    Wedge,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InputMode {
    /// Read a cv-mmap producer (shared memory + ZeroMQ sync).
    Cvmmap,
    /// Generate the contract's test pattern in-process.
    Dummy,
}

/// x264/x265 speed presets accepted by `--preset`.
pub const PRESETS: [&str; 10] = [
    "ultrafast",
    "superfast",
    "veryfast",
    "faster",
    "fast",
    "medium",
    "slow",
    "slower",
    "veryslow",
    "placebo",
];

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormatArg {
    Text,
    Json,
}

/// The encoder flags: the same names, defaults and checks in every binary
/// that encodes (`cvmmap_streamer`, `cvmmap_record`).
#[derive(Debug, Clone, clap::Args)]
pub struct EncoderArgs {
    /// Video codec.
    #[arg(long, value_enum)]
    pub codec: CodecArg,
    /// Encoder device: NVENC with deterministic software fallback (auto),
    /// NVENC only, or software only.
    #[arg(long, value_enum, default_value = "auto")]
    pub encoder_device: DeviceArg,
    /// Testing aid (feature `test-hooks`): stand in for NVENC with an encoder
    /// that stalls or fails to start, to exercise the fallback without NVENC.
    #[cfg(feature = "test-hooks")]
    #[arg(long, value_enum, hide = true)]
    pub test_hw_encoder: Option<StandInArg>,
    /// GOP size (keyframe interval in frames).
    #[arg(long, value_name = "N", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub gop: u32,
    /// Fewest frames between two forced keyframes, whoever asks (producer
    /// resets, NATS `keyframe`, sinks resuming, RTMP reconnects); requests
    /// inside the window wait and are answered once [default: half the GOP,
    /// at most 30; 0: no limit].
    #[arg(long, value_name = "FRAMES", value_parser = clap::value_parser!(u32).range(0..=1000))]
    pub keyframe_min_spacing: Option<u32>,
    /// B-frames between references (0 = lowest latency).
    #[arg(long, value_name = "N", default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=16))]
    pub b_frames: u32,
    /// Target bitrate in kbit/s.
    #[arg(long, value_name = "KBPS", default_value_t = 2500, value_parser = clap::value_parser!(u32).range(50..=200_000))]
    pub bitrate_kbps: u32,
    /// Encoder speed preset [default: superfast for H.264, ultrafast for
    /// H.265, whose software encoder cannot keep 30 fps otherwise on small hosts].
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(PRESETS))]
    pub preset: Option<String>,

    /// Publish the producer's own encoded access units (cv-mmap v2.1) of
    /// --codec without re-encoding; frames without one are encoded.
    #[arg(long)]
    pub passthrough: bool,
}

impl EncoderArgs {
    pub fn codec(&self) -> Codec {
        Codec::from(self.codec)
    }

    /// The encoder knobs; the preset defaults per codec.
    pub fn settings(&self) -> EncoderSettings {
        let codec = self.codec();
        EncoderSettings {
            codec,
            gop: self.gop,
            b_frames: self.b_frames,
            bitrate_kbps: self.bitrate_kbps,
            preset: self.preset.clone().unwrap_or_else(|| {
                match codec {
                    Codec::H264 => "superfast",
                    Codec::H265 => "ultrafast",
                }
                .to_owned()
            }),
        }
    }

    /// `--keyframe-min-spacing`, or its default (half the GOP, at most 30).
    pub fn keyframe_min_spacing(&self) -> u64 {
        self.keyframe_min_spacing.map_or_else(
            || crate::signals::KeyframePolicy::half_gop(self.gop),
            u64::from,
        )
    }

    /// The hidden test stand-in for NVENC (feature `test-hooks`).
    pub fn test_hooks(&self) -> crate::encode::TestHooks {
        #[cfg(feature = "test-hooks")]
        return crate::encode::TestHooks {
            hardware: self.test_hw_encoder.map(|s| match s {
                StandInArg::Stall => crate::encode::HardwareStandIn::Stall,
                StandInArg::FailStart => crate::encode::HardwareStandIn::FailStart,
                StandInArg::Wedge => crate::encode::HardwareStandIn::Wedge,
            }),
        };
        #[cfg(not(feature = "test-hooks"))]
        crate::encode::TestHooks
    }
}

#[derive(Debug, Clone, Parser)]
#[command(
    name = "cvmmap_streamer",
    version,
    about = "Stream a cv-mmap producer over RTP with low latency"
)]
pub struct Cli {
    /// Run mode (kept for compatibility with the C++ original).
    #[arg(long, value_enum, default_value = "pipeline")]
    pub run_mode: RunMode,
    /// Where frames come from.
    #[arg(long, value_enum, default_value = "cvmmap")]
    pub input_mode: InputMode,

    // --- input -------------------------------------------------------------
    /// Source as cvmmap://instance[@prefix][?namespace=ns] (or a bare instance);
    /// an alternative to --shm-name + --zmq-endpoint.
    #[arg(long, value_name = "TARGET", conflicts_with_all = ["shm_name", "zmq_endpoint"])]
    pub source: Option<String>,
    /// POSIX shared-memory segment name.
    #[arg(long, value_name = "NAME")]
    pub shm_name: Option<String>,
    /// ZeroMQ PUB endpoint of the producer's frame sync.
    #[arg(long, value_name = "URI")]
    pub zmq_endpoint: Option<String>,
    /// Only accept syncs carrying this label (default: the --source instance, or any).
    #[arg(long, value_name = "LABEL")]
    pub source_label: Option<String>,
    #[command(flatten)]
    pub nats: super::nats_args::NatsArgs,
    /// Ingest queue capacity (1 = latest frame only).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub queue_size: u32,
    /// Threads that convert one frame of 1280x720 or more out of shared
    /// memory to I420, in bands of rows (0 = auto: 2 where the host has two
    /// cores or more; 1 = the ingest thread alone). Cuts capture-to-encoder
    /// latency at 1080p; the CPU spent stays the same.
    #[arg(long, value_name = "N", default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=4))]
    pub convert_threads: u32,

    // --- codec -------------------------------------------------------------
    #[command(flatten)]
    pub encoder: EncoderArgs,

    // --- RTP ---------------------------------------------------------------
    /// Enable RTP output.
    #[arg(long)]
    pub rtp: bool,
    /// RTP destination HOST:PORT (required with --rtp).
    #[arg(long, value_name = "HOST:PORT")]
    pub rtp_endpoint: Option<String>,
    /// RTP dynamic payload type.
    #[arg(long, value_name = "PT", default_value_t = 96, value_parser = clap::value_parser!(u8).range(96..=127))]
    pub rtp_payload_type: u8,
    /// Write the session description (SDP) here.
    #[arg(long, value_name = "PATH")]
    pub rtp_sdp: Option<PathBuf>,
    /// Largest UDP payload (RTP header included), in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 1400, value_parser = clap::value_parser!(u16).range(200..=65000))]
    pub rtp_mtu: u16,
    /// UDP send buffer in bytes: a keyframe at a high bitrate is hundreds of
    /// packets sent at once, and the kernel default (~208 KiB) drops the
    /// tail on a real NIC. Forced past net.core.wmem_max where permitted.
    #[arg(long, value_name = "BYTES", default_value_t = 4 << 20, value_parser = clap::value_parser!(u32).range(64 * 1024..=(256 << 20)))]
    pub rtp_send_buffer: u32,

    // --- RTMP --------------------------------------------------------------
    /// Enable RTMP output.
    #[arg(long)]
    pub rtmp: bool,
    /// RTMP publish URL rtmp://host[:port]/app/stream, or rtmps:// for RTMP
    /// over TLS (port 443 by default) (required with --rtmp,
    /// unless the environment variable CVMMAP_RTMP_URL holds it, which keeps
    /// the stream key out of `ps`). Logs show the stream name as `***`.
    /// Repeat for several destinations: each has its own queue, connection
    /// and reconnects, so a slow or dead one never holds up the others.
    #[arg(long, value_name = "URL", env = RTMP_URL_ENV, hide_env_values = true)]
    pub rtmp_url: Vec<String>,
    /// H.265 packaging: Enhanced RTMP (hvc1) or domestic (FLV codec id 12);
    /// required for H.265, domestic is rejected for H.264.
    #[arg(long, value_enum)]
    pub rtmp_mode: Option<RtmpMode>,
    /// PEM file of the certificate authorities trusted for rtmps:// (one or
    /// more certificates; then the only roots). Default: the system's roots.
    #[arg(long, value_name = "FILE")]
    pub rtmp_ca: Option<PathBuf>,

    // --- recording ---------------------------------------------------------
    /// Also record the published access units to this MCAP file
    /// (`/<label>/video`, foxglove.CompressedVideo; docs/mcap-layout.md) or
    /// MP4 file (fragmented while recording, finalised at a clean stop).
    #[arg(long, value_name = "PATH.mcap|PATH.mp4")]
    pub record: Option<PathBuf>,
    /// The recording's source label (topic `/<label>/video`); default: the
    /// --source-label, the --source instance, the shm name, or --dummy-label.
    #[arg(long, value_name = "LABEL", requires = "record")]
    pub record_label: Option<String>,
    /// Chunk compression of the recording.
    #[arg(long, value_enum, default_value = "zstd", requires = "record")]
    pub record_compression: RecordCompressionArg,

    // --- limits ------------------------------------------------------------
    /// Process at most N frames, then exit (0 = unlimited).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub ingest_max_frames: u64,
    /// Check every accepted frame's row stamps (the simulator's --stamp:
    /// frame counter as u32 LE at the start of the first and last rows) and
    /// count mismatches: proves no torn frame gets through (fault suite).
    #[arg(long)]
    pub verify_stamps: bool,
    /// Exit when no frame arrived for MS milliseconds (0 = never).
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub ingest_idle_timeout_ms: u64,

    // --- dummy source ------------------------------------------------------
    #[arg(long, value_name = "LABEL", default_value = "dummy")]
    pub dummy_label: String,
    /// Frames to generate (0 = until stopped).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub dummy_frames: u64,
    #[arg(long, value_name = "FPS", default_value_t = 30.0)]
    pub dummy_fps: f64,
    #[arg(long, value_name = "PX", default_value_t = 640, value_parser = clap::value_parser!(u32).range(16..=8192))]
    pub dummy_width: u32,
    #[arg(long, value_name = "PX", default_value_t = 360, value_parser = clap::value_parser!(u32).range(16..=8192))]
    pub dummy_height: u32,
    /// Frames come from this file of packed BGR frames (--dummy-width x
    /// --dummy-height, 3 bytes a pixel, back to back; looped), instead of the
    /// generated pattern: the same bytes a file-fed GStreamer pipeline reads.
    #[arg(long, value_name = "PATH")]
    pub dummy_raw_file: Option<PathBuf>,

    // --- reporting ---------------------------------------------------------
    /// Write counters and outcome as one JSON object at exit.
    #[arg(long, value_name = "PATH")]
    pub summary_json: Option<PathBuf>,
    /// Seconds between status log lines (0 = none).
    #[arg(long, value_name = "S", default_value_t = 5)]
    pub status_interval_s: u64,
    /// Append named events (ingest started, resets, keyframes forced, sink
    /// stalls, reconnects, fallback) as JSON Lines here (docs/events.md).
    #[arg(long, value_name = "PATH")]
    pub events: Option<PathBuf>,
    /// Log lines as text, or as one JSON object each (log collectors).
    #[arg(long, value_enum, default_value = "text", env = "CVMMAP_LOG_FORMAT")]
    pub log_format: LogFormatArg,
    /// Serve Prometheus metrics at http://HOST:PORT/metrics, with /healthz
    /// (200 while running) and /readyz (200 once a frame is encoded).
    #[arg(long, value_name = "HOST:PORT")]
    pub metrics_addr: Option<String>,
    #[command(flatten)]
    pub layers: super::layered::LayerArgs,
}

fn metrics_addr(text: &str) -> Result<SocketAddr, ConfigError> {
    text.to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| ConfigError::new("--metrics-addr", format!("{text:?} is not HOST:PORT")))
}

fn resolve_endpoint(text: &str) -> Result<SocketAddr, ConfigError> {
    let bad = |why: String| ConfigError::new("--rtp-endpoint", format!("{text:?} {why}"));
    let mut addrs = text
        .to_socket_addrs()
        .map_err(|e| bad(format!("is not HOST:PORT ({e})")))?;
    let addr = addrs
        .next()
        .ok_or_else(|| bad("resolves to no address".into()))?;
    if addr.port() == 0 {
        return Err(bad("has port 0".into()));
    }
    Ok(addr)
}

/// Each RTMP destination is a thread, a queue and a connection.
const MAX_RTMP_DESTINATIONS: usize = 16;

/// The environment variable that may hold the RTMP URL instead of
/// `--rtmp-url` (a stream key on the command line is visible in `ps`).
pub const RTMP_URL_ENV: &str = "CVMMAP_RTMP_URL";

impl Cli {
    /// The seed's rules: H.265 needs `--rtmp-mode`; domestic (codec id 12) is
    /// H.265 only; H.264 with `enhanced` (or no mode) is legacy codec id 7.
    fn rtmp_config(&self) -> Result<Option<RtmpOutput>, ConfigError> {
        use crate::flv::VideoTagForm;
        if !self.rtmp {
            // CVMMAP_RTMP_URL alone does not enable RTMP: the variable keeps
            // a stream key out of `ps`, enabling is the flag's (or file's) job.
            let url_from_env = matches!(self.rtmp_url.as_slice(),
                [u] if std::env::var(RTMP_URL_ENV).ok().as_deref() == Some(u.as_str()));
            if (!self.rtmp_url.is_empty() && !url_from_env)
                || self.rtmp_mode.is_some()
                || self.rtmp_ca.is_some()
            {
                return Err(ConfigError::new(
                    "--rtmp",
                    "required when --rtmp-url, --rtmp-mode or --rtmp-ca is given",
                ));
            }
            return Ok(None);
        }
        let urls: Vec<&String> = self.rtmp_url.iter().filter(|u| !u.is_empty()).collect();
        if urls.is_empty() {
            return Err(ConfigError::new(
                "--rtmp-url",
                format!("required with --rtmp (or set {RTMP_URL_ENV})"),
            ));
        }
        let urls = urls
            .into_iter()
            .map(|u| u.parse())
            .collect::<Result<Vec<crate::rtmp::RtmpUrl>, _>>()
            .map_err(|e| ConfigError::new("--rtmp-url", format!("{e}")))?;
        if urls.len() > MAX_RTMP_DESTINATIONS {
            return Err(ConfigError::new(
                "--rtmp-url",
                format!("at most {MAX_RTMP_DESTINATIONS} destinations"),
            ));
        }
        let form = match (self.encoder.codec(), self.rtmp_mode) {
            (Codec::H264, Some(RtmpMode::Domestic)) => {
                return Err(ConfigError::new(
                    "--rtmp-mode",
                    "domestic (FLV codec id 12) carries H.265 only; H.264 is sent as codec id 7 (use enhanced or no mode)",
                ));
            }
            (Codec::H264, _) => VideoTagForm::Avc,
            (Codec::H265, Some(RtmpMode::Enhanced)) => VideoTagForm::EnhancedHvc1,
            (Codec::H265, Some(RtmpMode::Domestic)) => VideoTagForm::DomesticHevc12,
            (Codec::H265, None) => {
                return Err(ConfigError::new(
                    "--rtmp-mode",
                    "required for H.265 over RTMP: enhanced or domestic",
                ));
            }
        };
        let tls = self.rtmp_tls(&urls)?;
        Ok(Some(RtmpOutput { urls, form, tls }))
    }

    /// TLS trust when some destination is `rtmps://`: `--rtmp-ca` read now
    /// (a bad file is a config error, not a failure at every connect), or
    /// the system roots.
    fn rtmp_tls(
        &self,
        urls: &[crate::rtmp::RtmpUrl],
    ) -> Result<Option<crate::output::rtmp::tls::TlsClient>, ConfigError> {
        if !urls.iter().any(|u| u.tls) {
            return match self.rtmp_ca {
                Some(_) => Err(ConfigError::new(
                    "--rtmp-ca",
                    "only used with an rtmps:// URL; no --rtmp-url is rtmps://",
                )),
                None => Ok(None),
            };
        }
        crate::output::rtmp::tls::TlsClient::new(self.rtmp_ca.as_deref())
            .map(Some)
            .map_err(|e| ConfigError::new("--rtmp-ca", e.to_string()))
    }

    /// The source (`--input-mode`, `--source` or `--shm-name`/`--zmq-endpoint`),
    /// with the NATS key and instance it implies (contract §1).
    fn source_config(&self, codec: Codec) -> Result<(Source, String, Option<String>), ConfigError> {
        let mut nats_key = self.dummy_label.clone();
        let mut nats_instance = None;
        let source = match self.input_mode {
            InputMode::Dummy => {
                if self.encoder.passthrough {
                    return Err(ConfigError::new(
                        "--passthrough",
                        "needs a cv-mmap v2.1 source, not --input-mode dummy",
                    ));
                }
                if !(self.dummy_fps.is_finite() && self.dummy_fps > 0.0 && self.dummy_fps <= 1000.0)
                {
                    return Err(ConfigError::new(
                        "--dummy-fps",
                        format!("{} is not in (0, 1000]", self.dummy_fps),
                    ));
                }
                if let Some(path) = &self.dummy_raw_file {
                    let frame = u64::from(self.dummy_width) * u64::from(self.dummy_height) * 3;
                    let len = std::fs::metadata(path).map(|m| m.len()).map_err(|e| {
                        ConfigError::new("--dummy-raw-file", format!("{}: {e}", path.display()))
                    })?;
                    if len < frame || len % frame != 0 {
                        return Err(ConfigError::new(
                            "--dummy-raw-file",
                            format!(
                                "{} is {len} bytes, not a whole number of {}x{} BGR frames ({frame} bytes each)",
                                path.display(),
                                self.dummy_width,
                                self.dummy_height
                            ),
                        ));
                    }
                }
                Source::Dummy(DummyConfig {
                    raw_file: self.dummy_raw_file.clone(),
                    label: self.dummy_label.clone(),
                    width: self.dummy_width,
                    height: self.dummy_height,
                    fps: self.dummy_fps,
                    frames: if self.ingest_max_frames > 0
                        && (self.dummy_frames == 0 || self.ingest_max_frames < self.dummy_frames)
                    {
                        self.ingest_max_frames
                    } else {
                        self.dummy_frames
                    },
                })
            }
            InputMode::Cvmmap => {
                let (shm_name, zmq_endpoint, label) =
                    match (&self.source, &self.shm_name, &self.zmq_endpoint) {
                        (Some(t), _, _) => {
                            let target: Target = t
                                .parse()
                                .map_err(|e| ConfigError::new("--source", format!("{e}")))?;
                            (
                                target.shm_name(),
                                target.zmq_endpoint(),
                                Some(target.instance().to_owned()),
                            )
                        }
                        (None, Some(shm), Some(ep)) => (shm.clone(), ep.clone(), None),
                        (None, None, _) => {
                            return Err(ConfigError::new(
                                "--shm-name",
                                "required (or --source cvmmap://...)",
                            ));
                        }
                        (None, Some(_), None) => {
                            return Err(ConfigError::new(
                                "--zmq-endpoint",
                                "required with --shm-name",
                            ));
                        }
                    };
                // Contract §1: the NATS key is base_name (= the shm name)
                // with '.' replaced by '_'.
                nats_key = shm_name.clone();
                nats_instance = self.source_label.clone().or(label.clone());
                Source::Cvmmap(IngestConfig {
                    shm_name,
                    zmq_endpoint,
                    label: self.source_label.clone().or(label),
                    max_frames: self.ingest_max_frames,
                    idle_timeout: (self.ingest_idle_timeout_ms > 0)
                        .then(|| Duration::from_millis(self.ingest_idle_timeout_ms)),
                    poll_interval: Duration::from_millis(10),
                    verify_stamps: self.verify_stamps,
                    // The streamer publishes video only.
                    aux_planes: false,
                    convert_threads: crate::ingest::bands::threads_or_auto(self.convert_threads),
                    passthrough: self.encoder.passthrough.then_some(match codec {
                        Codec::H264 => EncodedCodec::H264,
                        Codec::H265 => EncodedCodec::H265,
                    }),
                })
            }
        };
        if self.input_mode == InputMode::Dummy {
            nats_instance = Some(self.dummy_label.clone());
        }
        Ok((source, nats_key, nats_instance))
    }

    /// RTP output (`--rtp*`).
    fn rtp_config(&self) -> Result<Option<RtpOutput>, ConfigError> {
        Ok(if self.rtp {
            let Some(ep) = &self.rtp_endpoint else {
                return Err(ConfigError::new("--rtp-endpoint", "required with --rtp"));
            };
            Some(RtpOutput {
                endpoint: resolve_endpoint(ep)?,
                payload_type: self.rtp_payload_type,
                sdp_path: self.rtp_sdp.clone(),
                mtu: usize::from(self.rtp_mtu),
                send_buffer: self.rtp_send_buffer as usize,
            })
        } else {
            if self.rtp_endpoint.is_some() || self.rtp_sdp.is_some() {
                return Err(ConfigError::new(
                    "--rtp",
                    "required when --rtp-endpoint or --rtp-sdp is given",
                ));
            }
            None
        })
    }

    /// The recording (`--record*`).
    fn record_config(&self, source: &Source) -> Result<Option<RecordOutput>, ConfigError> {
        let Some(path) = &self.record else {
            return Ok(None);
        };
        if !matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("mcap" | "mp4")
        ) {
            return Err(ConfigError::new(
                "--record",
                format!("{}: an MCAP (.mcap) or MP4 (.mp4) file", path.display()),
            ));
        }
        if self.encoder.b_frames > 0 {
            return Err(ConfigError::new(
                "--record",
                "recorded video has no B-frames (Foxglove's CompressedVideo cannot show them): use --b-frames 0",
            ));
        }
        let label = match (&self.record_label, source) {
            (Some(l), _) => l.clone(),
            (None, Source::Cvmmap(i)) => i.label.clone().unwrap_or_else(|| i.shm_name.clone()),
            (None, Source::Dummy(d)) => d.label.clone(),
        };
        if label.is_empty() || label.contains('/') || label.chars().any(char::is_control) {
            return Err(ConfigError::new(
                "--record-label",
                format!("{label:?}: a topic part needs a non-empty label without '/'"),
            ));
        }
        Ok(Some(RecordOutput {
            path: path.clone(),
            label,
            options: crate::record::RecordOptions {
                zstd: self.record_compression == RecordCompressionArg::Zstd,
                compression_threads: 0,
            },
        }))
    }

    /// Validates flag combinations and builds the pipeline configuration.
    pub fn into_config(self) -> Result<Config, ConfigError> {
        let codec = self.encoder.codec();
        let (source, nats_key, nats_instance) = self.source_config(codec)?;
        let rtp = self.rtp_config()?;
        let rtmp = self.rtmp_config()?;
        let record = self.record_config(&source)?;
        let nats = self.nats.into_config(nats_key, nats_instance)?;

        Ok(Config {
            source,
            queue_size: self.queue_size as usize,
            encoder: self.encoder.settings(),
            encoder_device: self.encoder.encoder_device.into(),
            test_hooks: self.encoder.test_hooks(),
            rtp,
            rtmp,
            record,
            summary_json: self.summary_json.clone(),
            events: self.events.clone(),
            keyframe_min_spacing: self.encoder.keyframe_min_spacing(),
            status_interval: Duration::from_secs(self.status_interval_s),
            metrics_addr: self.metrics_addr.as_deref().map(metrics_addr).transpose()?,
            nats,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Config, String> {
        let cli =
            Cli::try_parse_from(std::iter::once("cvmmap_streamer").chain(args.iter().copied()))
                .map_err(|e| e.to_string())?;
        cli.into_config().map_err(|e| e.to_string())
    }

    const BASE: [&str; 6] = [
        "--codec",
        "h264",
        "--shm-name",
        "s1",
        "--zmq-endpoint",
        "ipc:///tmp/s1.ipc",
    ];

    #[test]
    fn seed_example_parses_with_defaults() {
        let mut a = BASE.to_vec();
        a.extend([
            "--rtp",
            "--rtp-endpoint",
            "127.0.0.1:5004",
            "--rtp-sdp",
            "/tmp/s1.sdp",
        ]);
        let c = parse(&a).unwrap();
        let rtp = c.rtp.unwrap();
        assert_eq!(rtp.payload_type, 96);
        assert_eq!(rtp.endpoint.port(), 5004);
        assert_eq!(c.queue_size, 1);
        assert_eq!((c.encoder.gop, c.encoder.b_frames), (30, 0));
    }

    #[test]
    fn rtp_without_endpoint_names_the_flag() {
        let mut a = BASE.to_vec();
        a.push("--rtp");
        assert!(parse(&a).unwrap_err().contains("--rtp-endpoint"));
    }

    #[test]
    fn payload_type_95_names_the_flag() {
        let mut a = BASE.to_vec();
        a.extend([
            "--rtp",
            "--rtp-endpoint",
            "127.0.0.1:5004",
            "--rtp-payload-type",
            "95",
        ]);
        assert!(parse(&a).unwrap_err().contains("--rtp-payload-type"));
    }

    #[test]
    fn source_target_derives_names_and_label() {
        let c = parse(&[
            "--codec",
            "h264",
            "--source",
            "cvmmap://cam0@/run/x?namespace=zed",
        ])
        .unwrap();
        let Source::Cvmmap(i) = c.source else {
            panic!()
        };
        assert_eq!(i.shm_name, "zed_cam0");
        assert_eq!(i.zmq_endpoint, "ipc:///run/x/zed_cam0");
        assert_eq!(i.label.as_deref(), Some("cam0"));
    }

    #[test]
    fn missing_source_and_bad_endpoint_are_rejected() {
        assert!(
            parse(&["--codec", "h264"])
                .unwrap_err()
                .contains("--shm-name")
        );
        let mut a = BASE.to_vec();
        a.extend(["--rtp", "--rtp-endpoint", "nonsense"]);
        assert!(parse(&a).unwrap_err().contains("--rtp-endpoint"));
        assert!(
            parse(&["--codec", "h264", "--source", "cvmmap://"])
                .unwrap_err()
                .contains("--source")
        );
    }

    #[test]
    fn rtmp_mode_rules_follow_the_seed() {
        let with = |extra: &[&str]| {
            let mut a = vec![
                "--input-mode",
                "dummy",
                "--rtmp",
                "--rtmp-url",
                "rtmp://127.0.0.1/live/s",
            ];
            a.extend_from_slice(extra);
            parse(&a)
        };
        let err = with(&["--codec", "h264", "--rtmp-mode", "domestic"]).unwrap_err();
        assert!(err.starts_with("--rtmp-mode:"), "{err}");
        assert!(
            with(&["--codec", "h265"])
                .unwrap_err()
                .starts_with("--rtmp-mode:")
        );
        let form = |extra: &[&str]| with(extra).unwrap().rtmp.unwrap().form;
        use crate::flv::VideoTagForm::*;
        assert_eq!(form(&["--codec", "h264"]), Avc);
        assert_eq!(form(&["--codec", "h264", "--rtmp-mode", "enhanced"]), Avc);
        assert_eq!(
            form(&["--codec", "h265", "--rtmp-mode", "enhanced"]),
            EnhancedHvc1
        );
        assert_eq!(
            form(&["--codec", "h265", "--rtmp-mode", "domestic"]),
            DomesticHevc12
        );
        let bad = parse(&["--codec", "h264", "--input-mode", "dummy", "--rtmp"]).unwrap_err();
        assert!(bad.starts_with("--rtmp-url:"), "{bad}");
        let two = with(&["--codec", "h264", "--rtmp-url", "rtmp://127.0.0.2:1936/b/t"]).unwrap();
        let urls = two.rtmp.unwrap().urls;
        assert_eq!(urls.len(), 2);
        assert_eq!((urls[1].host.as_str(), urls[1].port), ("127.0.0.2", 1936));
        let bad = with(&["--codec", "h264", "--rtmp-url", "http://x/a/b"]).unwrap_err();
        assert!(bad.starts_with("--rtmp-url:"), "{bad}");
    }

    #[test]
    fn rtmp_ca_needs_an_rtmps_url_and_a_readable_pem() {
        let with = |url: &str, extra: &[&str]| {
            let mut a = vec![
                "--codec",
                "h264",
                "--input-mode",
                "dummy",
                "--rtmp",
                "--rtmp-url",
                url,
            ];
            a.extend_from_slice(extra);
            parse(&a)
        };
        let dir = std::env::temp_dir().join(format!("cvmmap-rtmp-ca-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let not_pem = dir.join("not.pem");
        std::fs::write(&not_pem, "hello\n").unwrap();
        let missing = dir.join("missing.pem");
        let (not_pem, missing) = (not_pem.to_str().unwrap(), missing.to_str().unwrap());

        let err = with("rtmp://h/live/s", &["--rtmp-ca", not_pem]).unwrap_err();
        assert!(
            err.starts_with("--rtmp-ca:") && err.contains("rtmps://"),
            "{err}"
        );
        let err = with("rtmps://h/live/s", &["--rtmp-ca", missing]).unwrap_err();
        assert!(
            err.starts_with("--rtmp-ca:") && err.contains("missing.pem"),
            "{err}"
        );
        let err = with("rtmps://h/live/s", &["--rtmp-ca", not_pem]).unwrap_err();
        assert!(
            err.starts_with("--rtmp-ca:") && err.contains("no certificate"),
            "{err}"
        );
        assert!(!err.contains('\n'), "one line: {err}");
        let err = parse(&[
            "--codec",
            "h264",
            "--input-mode",
            "dummy",
            "--rtmp-ca",
            not_pem,
        ])
        .unwrap_err();
        assert!(err.starts_with("--rtmp:"), "{err}");
        // Plain destinations carry no TLS settings.
        assert!(
            with("rtmp://h/live/s", &[])
                .unwrap()
                .rtmp
                .unwrap()
                .tls
                .is_none()
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn dummy_mode_needs_no_shm() {
        let c = parse(&[
            "--codec",
            "h264",
            "--input-mode",
            "dummy",
            "--dummy-frames",
            "10",
        ])
        .unwrap();
        assert!(matches!(
            c.source,
            Source::Dummy(DummyConfig { frames: 10, .. })
        ));
    }

    #[test]
    fn a_dummy_raw_file_must_hold_whole_frames() {
        let path = std::env::temp_dir().join(format!("cvmmap-cli-raw-{}.bgr", std::process::id()));
        let args = |p: &str| {
            parse(&[
                "--codec",
                "h264",
                "--input-mode",
                "dummy",
                "--dummy-width",
                "16",
                "--dummy-height",
                "16",
                "--dummy-raw-file",
                p,
            ])
        };
        std::fs::write(&path, vec![0u8; 16 * 16 * 3 * 2]).unwrap();
        let c = args(path.to_str().unwrap()).unwrap();
        assert!(
            matches!(&c.source, Source::Dummy(d) if d.raw_file.as_deref() == Some(path.as_path()))
        );
        std::fs::write(&path, vec![0u8; 16 * 16 * 3 + 1]).unwrap();
        let e = args(path.to_str().unwrap()).unwrap_err().to_string();
        assert!(
            e.contains("--dummy-raw-file") && e.contains("not a whole number"),
            "{e}"
        );
        std::fs::remove_file(&path).unwrap();
        let e = args(path.to_str().unwrap()).unwrap_err().to_string();
        assert!(e.contains("--dummy-raw-file"), "{e}");
    }
}
