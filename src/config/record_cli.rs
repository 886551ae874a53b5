//! `cvmmap_record`'s command line. Flags that mean the same as the
//! streamer's have the streamer's names, defaults and checks (codec,
//! encoder, NATS, ingest limits); the rest follow the seed's recording
//! tools (`--bundle-policy`, `--sync-tolerance-ms`, `--copy-range`,
//! `--start-frame`/`--end-frame`, `--duration-seconds`).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};

use super::{Config, ConfigError, RecordCompressionArg, Source};
use crate::contract::{EncodedCodec, Target};
use crate::encode::{Codec, EncoderDevice};
use crate::ingest::IngestConfig;
use crate::record::RecordOptions;
use crate::recorder::{
    BundlePolicy, CameraConfig, CopyRange, DepthFormat, ProgressMode, RecorderConfig,
};

/// `--bundle-policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BundlePolicyArg {
    /// One `/bundle` per frame of the slowest camera, naming each camera's
    /// nearest frame (default with several cameras).
    Nearest,
    /// As nearest, but a bundle with a frame further than
    /// --sync-tolerance-ms is dropped and counted.
    Strict,
    /// Every camera at its own cadence, no `/bundle` (default with one).
    Copy,
}

#[derive(Debug, Clone, Parser)]
#[command(
    name = "cvmmap_record",
    version,
    about = "Record live cv-mmap cameras to MCAP (docs/mcap-layout.md)"
)]
pub struct RecordCli {
    #[command(flatten)]
    pub layers: super::layered::LayerArgs,
    /// Log lines as text, or as one JSON object each (log collectors).
    #[arg(long, value_enum, default_value = "text", env = "CVMMAP_LOG_FORMAT")]
    pub log_format: super::cli::LogFormatArg,
    /// A camera: cvmmap://instance[@prefix][?namespace=ns] or a bare
    /// instance. Repeat for several cameras.
    #[arg(long = "source", value_name = "TARGET")]
    pub sources: Vec<String>,
    /// A camera by its POSIX shared-memory name, paired in order with a
    /// --zmq-endpoint (the streamer's flags); these cameras come after the
    /// --source ones, labelled by the shm name unless --label says.
    #[arg(long = "shm-name", value_name = "NAME")]
    pub shm_names: Vec<String>,
    /// The ZeroMQ sync endpoint of the same-numbered --shm-name.
    #[arg(long = "zmq-endpoint", value_name = "URI")]
    pub zmq_endpoints: Vec<String>,
    /// The label of the camera given by the same-numbered --source (topics
    /// `/<label>/...`); default: the source's instance.
    #[arg(long = "label", value_name = "LABEL")]
    pub labels: Vec<String>,
    /// The MCAP file to write.
    #[arg(long, short = 'o', value_name = "PATH.mcap")]
    pub output: PathBuf,
    /// Also write each camera's video to an MP4 file (`{label}` expands to
    /// the camera's label; needed with several cameras). Fragmented while
    /// recording, an ordinary MP4 after a clean stop; H.265 as hvc1.
    #[arg(long, value_name = "PATH")]
    pub mp4: Option<String>,
    /// Chunk compression.
    #[arg(long, value_enum, default_value = "zstd")]
    pub record_compression: RecordCompressionArg,
    /// How a producer's DEPTH plane is recorded: 16UC1 millimetres, or its
    /// floats unchanged (32FC1).
    #[arg(long, value_enum, default_value = "mm16")]
    pub depth_format: DepthFormat,

    // --- bundling (the seed's recording tools) ------------------------------
    /// How several cameras are grouped [default: copy for one camera,
    /// nearest for several].
    #[arg(long, value_enum)]
    pub bundle_policy: Option<BundlePolicyArg>,
    /// strict: the largest distance of a camera's frame from the bundle time.
    #[arg(long, value_name = "MS")]
    pub sync_tolerance_ms: Option<f64>,
    /// copy: trim to the window every camera covers, or keep each whole.
    #[arg(long, value_enum, default_value = "common")]
    pub copy_range: CopyRange,
    /// First bundle to write (0-based from the common start; nearest/strict).
    #[arg(long, value_name = "N")]
    pub start_frame: Option<u64>,
    /// Last bundle to write, inclusive (nearest/strict).
    #[arg(long, value_name = "N")]
    pub end_frame: Option<u64>,
    /// Stop this long after the common start.
    #[arg(long, value_name = "S")]
    pub duration_seconds: Option<f64>,
    /// Stop after N bundles (nearest/strict) or N frames per camera (copy).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_frames: Option<u64>,

    // --- encoding (the streamer's flags; --b-frames must be 0 here) ---------
    #[command(flatten)]
    pub encoder: super::cli::EncoderArgs,
    /// Cameras that may use NVENC (consumer cards allow a few sessions):
    /// cameras beyond the first N encode in software, deterministically.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub max_nvenc_sessions: u32,

    // --- ingest (the streamer's flags) --------------------------------------
    #[command(flatten)]
    pub nats: super::nats_args::NatsArgs,
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub queue_size: u32,
    /// Frames per camera, then that camera ends (0 = unlimited).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub ingest_max_frames: u64,
    /// A camera ends when no frame came for MS; the recording ends when
    /// every camera has (0 = never: stop with SIGINT/SIGTERM).
    #[arg(long, value_name = "MS", default_value_t = 3000)]
    pub ingest_idle_timeout_ms: u64,

    // --- reporting -----------------------------------------------------------
    #[arg(long, value_name = "PATH")]
    pub summary_json: Option<PathBuf>,
    /// Seconds between progress log lines when not on a terminal (0 = none).
    #[arg(long, value_name = "S", default_value_t = 5)]
    pub status_interval_s: u64,
    #[arg(long, value_enum, default_value = "auto")]
    pub progress: ProgressMode,
}

impl RecordCli {
    pub fn into_config(self) -> Result<RecorderConfig, ConfigError> {
        if self.labels.len() > self.camera_count() {
            return Err(ConfigError::new(
                "--label",
                format!(
                    "{} labels for {} sources",
                    self.labels.len(),
                    self.camera_count()
                ),
            ));
        }
        if self.encoder.b_frames > 0 {
            return Err(ConfigError::new(
                "--b-frames",
                "recorded video has no B-frames (Foxglove's CompressedVideo cannot show them): use 0",
            ));
        }
        if self.output.extension().and_then(|e| e.to_str()) != Some("mcap") {
            return Err(ConfigError::new(
                "--output",
                format!("{}: an MCAP file (.mcap)", self.output.display()),
            ));
        }
        if self.camera_count() > 1 && self.nats.nats_key.is_some() {
            return Err(ConfigError::new(
                "--nats-key",
                "names one camera's subjects: not with several --source",
            ));
        }
        if let Some(p) = &self.mp4 {
            if self.camera_count() > 1 && !p.contains("{label}") {
                return Err(ConfigError::new(
                    "--mp4",
                    format!("{p}: one file per camera: put {{label}} in the path"),
                ));
            }
            if !p.ends_with(".mp4") {
                return Err(ConfigError::new("--mp4", format!("{p}: an .mp4 file")));
            }
        }
        let policy = self.policy()?;
        let codec = self.encoder.codec();
        let mut cameras: Vec<CameraConfig> = Vec::with_capacity(self.camera_count());
        for (i, named) in self.named_sources()?.into_iter().enumerate() {
            let label = self
                .labels
                .get(i)
                .cloned()
                .unwrap_or_else(|| named.default_label.clone());
            check_label(&label)?;
            if cameras.iter().any(|c| c.label == label) {
                return Err(ConfigError::new(
                    "--label",
                    format!("{label:?} names two cameras: labels must differ"),
                ));
            }
            let (device, device_reason) = self.device_for(i)?;
            let nats = self
                .nats
                .into_config(named.shm_name.clone(), named.instance.clone())?;
            let pipeline = Config {
                source: Source::Cvmmap(IngestConfig {
                    shm_name: named.shm_name,
                    zmq_endpoint: named.zmq_endpoint,
                    label: named.instance,
                    max_frames: self.ingest_max_frames,
                    idle_timeout: (self.ingest_idle_timeout_ms > 0)
                        .then(|| Duration::from_millis(self.ingest_idle_timeout_ms)),
                    poll_interval: Duration::from_millis(10),
                    verify_stamps: false,
                    aux_planes: true,
                    convert_threads: crate::ingest::bands::threads_or_auto(0),
                    passthrough: self.encoder.passthrough.then_some(match codec {
                        Codec::H264 => EncodedCodec::H264,
                        Codec::H265 => EncodedCodec::H265,
                    }),
                }),
                queue_size: self.queue_size as usize,
                encoder: self.encoder.settings(),
                encoder_device: device,
                test_hooks: self.encoder.test_hooks(),
                rtp: None,
                rtmp: None,
                record: None,
                summary_json: None,
                events: None,
                keyframe_min_spacing: self.encoder.keyframe_min_spacing(),
                // The recorder's progress reports; each pipeline's own
                // status line would repeat it per camera.
                status_interval: Duration::ZERO,
                metrics_addr: None,
                nats,
            };
            let mp4 = self
                .mp4
                .as_ref()
                .map(|p| PathBuf::from(p.replace("{label}", &label)));
            cameras.push(CameraConfig {
                label,
                pipeline,
                device_reason,
                mp4,
            });
        }
        let duration = match self.duration_seconds {
            None => None,
            Some(s) if s.is_finite() && s > 0.0 && s <= 1e7 => Some(Duration::from_secs_f64(s)),
            Some(s) => {
                return Err(ConfigError::new(
                    "--duration-seconds",
                    format!("{s} is not in (0, 1e7]"),
                ));
            }
        };
        Ok(RecorderConfig {
            cameras,
            output: self.output,
            options: RecordOptions {
                zstd: self.record_compression == RecordCompressionArg::Zstd,
                compression_threads: 0,
            },
            policy,
            start_frame: self.start_frame.unwrap_or(0),
            end_frame: self.end_frame,
            duration,
            max_frames: self.max_frames,
            summary_json: self.summary_json,
            status_interval: Duration::from_secs(self.status_interval_s),
            progress: self.progress,
            depth_format: self.depth_format,
        })
    }

    /// Every camera's names: the --source targets, then the --shm-name /
    /// --zmq-endpoint pairs.
    fn named_sources(&self) -> Result<Vec<NamedSource>, ConfigError> {
        let mut out = Vec::with_capacity(self.camera_count());
        for text in &self.sources {
            let target: Target = text
                .parse()
                .map_err(|e| ConfigError::new("--source", format!("{text}: {e}")))?;
            out.push(NamedSource {
                default_label: target.instance().to_owned(),
                shm_name: target.shm_name(),
                zmq_endpoint: target.zmq_endpoint(),
                instance: Some(target.instance().to_owned()),
            });
        }
        if self.shm_names.len() != self.zmq_endpoints.len() {
            return Err(ConfigError::new(
                "--zmq-endpoint",
                format!(
                    "{} --shm-name for {} --zmq-endpoint: give them in pairs",
                    self.shm_names.len(),
                    self.zmq_endpoints.len()
                ),
            ));
        }
        for (shm, ep) in self.shm_names.iter().zip(&self.zmq_endpoints) {
            out.push(NamedSource {
                default_label: shm.clone(),
                shm_name: shm.clone(),
                zmq_endpoint: ep.clone(),
                // No instance: syncs of any label count, as in the streamer.
                instance: None,
            });
        }
        if out.is_empty() {
            return Err(ConfigError::new(
                "--source",
                "no camera: give --source TARGET or --shm-name NAME --zmq-endpoint URI",
            ));
        }
        Ok(out)
    }

    fn camera_count(&self) -> usize {
        self.sources.len() + self.shm_names.len()
    }

    /// The policy, and the flags only some policies take (the seed: `copy`
    /// disables --start-frame, --end-frame and --sync-tolerance-ms).
    fn policy(&self) -> Result<BundlePolicy, ConfigError> {
        let arg = self.bundle_policy.unwrap_or(if self.camera_count() > 1 {
            BundlePolicyArg::Nearest
        } else {
            BundlePolicyArg::Copy
        });
        if arg != BundlePolicyArg::Strict && self.sync_tolerance_ms.is_some() {
            return Err(ConfigError::new(
                "--sync-tolerance-ms",
                "applies to --bundle-policy strict only",
            ));
        }
        if arg == BundlePolicyArg::Copy {
            for (flag, given) in [
                ("--start-frame", self.start_frame.is_some()),
                ("--end-frame", self.end_frame.is_some()),
            ] {
                if given {
                    return Err(ConfigError::new(
                        flag,
                        "counts bundles: not with --bundle-policy copy",
                    ));
                }
            }
        }
        if let (Some(s), Some(e)) = (self.start_frame, self.end_frame)
            && e < s
        {
            return Err(ConfigError::new(
                "--end-frame",
                format!("{e} is before --start-frame {s}"),
            ));
        }
        Ok(match arg {
            BundlePolicyArg::Nearest => BundlePolicy::Nearest,
            BundlePolicyArg::Copy => BundlePolicy::Copy {
                range: self.copy_range,
            },
            BundlePolicyArg::Strict => {
                let ms = self.sync_tolerance_ms.unwrap_or(DEFAULT_TOLERANCE_MS);
                if !(ms.is_finite() && (0.0..=10_000.0).contains(&ms)) {
                    return Err(ConfigError::new(
                        "--sync-tolerance-ms",
                        format!("{ms} is not in [0, 10000]"),
                    ));
                }
                BundlePolicy::Strict {
                    tolerance_ns: (ms * 1e6) as u64,
                }
            }
        })
    }

    /// `--max-nvenc-sessions`: the first N cameras (command-line order)
    /// get the requested device; later ones software, said in the summary.
    fn device_for(&self, index: usize) -> Result<(EncoderDevice, String), ConfigError> {
        let requested = EncoderDevice::from(self.encoder.encoder_device);
        let within = index < self.max_nvenc_sessions as usize;
        Ok(match requested {
            EncoderDevice::Software => (requested, "--encoder-device software".into()),
            _ if within => (
                requested,
                format!(
                    "camera {} of at most {} NVENC sessions",
                    index + 1,
                    self.max_nvenc_sessions
                ),
            ),
            EncoderDevice::Nvenc => {
                return Err(ConfigError::new(
                    "--max-nvenc-sessions",
                    format!(
                        "{} cameras with --encoder-device nvenc need {} sessions; allow more or use auto",
                        self.camera_count(),
                        self.camera_count()
                    ),
                ));
            }
            EncoderDevice::Auto => (
                EncoderDevice::Software,
                format!(
                    "camera {} is beyond --max-nvenc-sessions {}: software",
                    index + 1,
                    self.max_nvenc_sessions
                ),
            ),
        })
    }
}

/// One camera's names, from a target or a shm/ZeroMQ pair.
struct NamedSource {
    default_label: String,
    shm_name: String,
    zmq_endpoint: String,
    /// The sync label to accept (a target's instance); `None`: any.
    instance: Option<String>,
}

/// strict's default tolerance: a third of a 30 fps frame interval.
const DEFAULT_TOLERANCE_MS: f64 = 10.0;

fn check_label(label: &str) -> Result<(), ConfigError> {
    if label.is_empty() || label.contains('/') || label.chars().any(char::is_control) {
        return Err(ConfigError::new(
            "--label",
            format!("{label:?}: a topic part needs a non-empty label without '/'"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<RecorderConfig, String> {
        let cli = RecordCli::try_parse_from(
            ["cvmmap_record", "--codec", "h264", "-o", "out.mcap"]
                .iter()
                .chain(args),
        )
        .map_err(|e| e.to_string())?;
        cli.into_config().map_err(|e| e.to_string())
    }

    #[test]
    fn one_camera_copies_and_several_are_bundled_nearest() {
        let one = parse(&["--source", "zed1"]).unwrap();
        assert_eq!(
            one.policy,
            BundlePolicy::Copy {
                range: CopyRange::Common
            }
        );
        assert_eq!(one.cameras[0].label, "zed1");
        let three = parse(&[
            "--source",
            "a",
            "--source",
            "b",
            "--source",
            "cvmmap://c@/tmp/rig",
        ])
        .unwrap();
        assert_eq!(three.policy, BundlePolicy::Nearest);
        let labels: Vec<_> = three.cameras.iter().map(|c| c.label.as_str()).collect();
        assert_eq!(labels, ["a", "b", "c"]);
    }

    #[test]
    fn shm_and_zeromq_pairs_are_cameras_after_the_targets() {
        let cfg = parse(&[
            "--source",
            "zed1",
            "--shm-name",
            "cam_b",
            "--zmq-endpoint",
            "ipc:///tmp/cam_b",
            "--label",
            "a",
        ])
        .unwrap();
        let labels: Vec<_> = cfg.cameras.iter().map(|c| c.label.as_str()).collect();
        assert_eq!(labels, ["a", "cam_b"]);
        let Source::Cvmmap(ingest) = &cfg.cameras[1].pipeline.source else {
            panic!("a cv-mmap source");
        };
        assert_eq!(
            (ingest.shm_name.as_str(), ingest.zmq_endpoint.as_str()),
            ("cam_b", "ipc:///tmp/cam_b")
        );
        assert_eq!(ingest.label, None);
        assert_eq!(cfg.policy, BundlePolicy::Nearest, "two cameras");
        let e = parse(&["--shm-name", "x"]).unwrap_err();
        assert!(e.starts_with("--zmq-endpoint"), "{e}");
        let e = parse(&[]).unwrap_err();
        assert!(e.starts_with("--source"), "{e}");
    }

    #[test]
    fn cameras_beyond_the_nvenc_sessions_use_software() {
        let cfg = parse(&[
            "--source",
            "a",
            "--source",
            "b",
            "--source",
            "c",
            "--max-nvenc-sessions",
            "2",
        ])
        .unwrap();
        let devices: Vec<_> = cfg
            .cameras
            .iter()
            .map(|c| c.pipeline.encoder_device)
            .collect();
        assert_eq!(
            devices,
            [
                EncoderDevice::Auto,
                EncoderDevice::Auto,
                EncoderDevice::Software
            ]
        );
        assert!(cfg.cameras[2].device_reason.contains("beyond"));
        let e = parse(&[
            "--source",
            "a",
            "--source",
            "b",
            "--encoder-device",
            "nvenc",
            "--max-nvenc-sessions",
            "1",
        ])
        .unwrap_err();
        assert!(e.starts_with("--max-nvenc-sessions"), "{e}");
    }

    #[test]
    fn flags_a_policy_does_not_take_are_refused_by_name() {
        for (args, flag) in [
            (
                &["--source", "a", "--start-frame", "3"][..],
                "--start-frame",
            ),
            (
                &["--source", "a", "--source", "b", "--sync-tolerance-ms", "5"][..],
                "--sync-tolerance-ms",
            ),
            (&["--source", "a", "--b-frames", "2"][..], "--b-frames"),
            (&["--source", "a", "--source", "a"][..], "--label"),
            (&["--source", "a", "--label", "x/y"][..], "--label"),
            (
                &[
                    "--source",
                    "a",
                    "--source",
                    "b",
                    "--start-frame",
                    "5",
                    "--end-frame",
                    "4",
                ][..],
                "--end-frame",
            ),
            (
                &["--source", "a", "--duration-seconds=-1"][..],
                "--duration-seconds",
            ),
        ] {
            let e = parse(args).unwrap_err();
            assert!(e.starts_with(flag), "{args:?}: {e}");
        }
        let strict = parse(&[
            "--source",
            "a",
            "--source",
            "b",
            "--bundle-policy",
            "strict",
            "--sync-tolerance-ms",
            "4",
        ])
        .unwrap();
        assert_eq!(
            strict.policy,
            BundlePolicy::Strict {
                tolerance_ns: 4_000_000
            }
        );
    }
}
