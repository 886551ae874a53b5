//! `cvmmap_tools`' command line: the verbs' flags, each a group a batch of
//! that verb takes too (and hands to every job).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use cvmmap_streamer::batch::progress::Ui;
use cvmmap_streamer::config::cli::{CodecArg, DeviceArg};
use cvmmap_streamer::offline::reencode::{EncodeOptions, Quality};

#[derive(Debug, Parser)]
#[command(
    name = "cvmmap_tools",
    version,
    about = "Offline tools for cvmmap recordings (MCAP, MP4)",
    // A batch's pool appends --encoder-device to a job's own flags: the
    // last one given wins.
    args_override_self = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

// Parsed once per run: the batch variant's size does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check recordings: MCAP (magic, footer, summary; --deep: every chunk's
    /// CRC and message) and MP4 (top-level boxes: finalised, fragmented and
    /// unfinished, or broken). One line per file.
    Probe {
        /// Read every record of an MCAP file, not only its summary.
        #[arg(long)]
        deep: bool,
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Rebuild an MCAP file a killed writer left (its complete chunks and
    /// records) as a new, indexed file.
    Recover {
        #[arg(value_name = "IN.mcap")]
        input: PathBuf,
        /// Default: IN_recovered.mcap beside the input.
        #[arg(value_name = "OUT.mcap")]
        output: Option<PathBuf>,
        #[command(flatten)]
        flags: RecoverFlags,
    },
    /// One camera's video to MP4: remuxed (the recorded access units
    /// unchanged), or re-encoded with --codec.
    #[command(name = "export-mp4")]
    ExportMp4 {
        #[arg(value_name = "IN.mcap")]
        input: PathBuf,
        #[command(flatten)]
        flags: ExportFlags,
    },
    /// Cameras side by side in a grid (2x2 by default), synced on their
    /// common start, the Unix capture time drawn top-left.
    Grid {
        /// A bundled recording (its cameras, ordered zed1 zed2 / zed3 zed4
        /// when their labels say so).
        #[arg(value_name = "IN.mcap")]
        input: Option<PathBuf>,
        #[command(flatten)]
        flags: GridFlags,
    },
    /// What a recording holds (--summary-only), or a picture of one frame
    /// (--export-preview).
    Inspect {
        #[arg(value_name = "FILE.mcap")]
        input: PathBuf,
        /// Channels, schemas, counts, duration, cameras; no picture.
        #[arg(long)]
        summary_only: bool,
        #[arg(long, value_name = "L")]
        camera_label: Option<String>,
        #[arg(long, value_name = "N", default_value_t = 0)]
        frame_index: u64,
        /// Write the frame beside its colour-mapped depth as a PNG.
        #[arg(long, value_name = "OUT.png")]
        export_preview: Option<PathBuf>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Run a verb over many recordings (locally, or on a JetStream queue).
    Batch {
        #[command(subcommand)]
        job: BatchJob,
    },
    /// Pull batch jobs from a JetStream queue and run them.
    Worker {
        #[command(flatten)]
        queue: QueueFlags,
        /// Stop after this many jobs.
        #[arg(long, value_name = "N")]
        max_jobs: Option<u64>,
        /// Stop when no job came for this long.
        #[arg(long, value_name = "S")]
        idle_exit_seconds: Option<f64>,
    },
}

/// The encoder flags of the verbs that encode.
#[derive(Debug, Clone, Args)]
pub struct EncodeFlags {
    /// Encoder device: NVENC with deterministic software fallback (auto),
    /// NVENC only, or software only.
    #[arg(long, value_enum, default_value = "auto")]
    pub encoder_device: DeviceArg,
    /// Encoder preset [default: superfast for H.264, ultrafast for H.265].
    #[arg(long)]
    pub preset: Option<String>,
    /// Target quality: bits per pixel 0.05, 0.1, 0.2 (H.265 half).
    #[arg(long, value_enum, default_value = "medium")]
    pub quality: Quality,
    /// A bitrate instead of --quality.
    #[arg(long, value_name = "KBPS", value_parser = clap::value_parser!(u32).range(50..=200_000))]
    pub bitrate_kbps: Option<u32>,
    /// Keyframe interval in frames.
    #[arg(long, value_name = "N", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub gop: u32,
}

impl EncodeFlags {
    pub fn options(&self, codec: CodecArg) -> EncodeOptions {
        EncodeOptions {
            codec: codec.into(),
            device: self.encoder_device.into(),
            preset: self.preset.clone(),
            quality: self.quality,
            bitrate_kbps: self.bitrate_kbps,
            gop: self.gop,
        }
    }

    fn args(&self, out: &mut Vec<String>) {
        let dev = match self.encoder_device {
            DeviceArg::Auto => "auto",
            DeviceArg::Nvenc => "nvenc",
            DeviceArg::Software => "software",
        };
        out.extend(["--encoder-device".into(), dev.into()]);
        if let Some(p) = &self.preset {
            out.extend(["--preset".into(), p.clone()]);
        }
        let q = match self.quality {
            Quality::Low => "low",
            Quality::Medium => "medium",
            Quality::High => "high",
        };
        out.extend(["--quality".into(), q.into()]);
        if let Some(b) = self.bitrate_kbps {
            out.extend(["--bitrate-kbps".into(), b.to_string()]);
        }
        out.extend(["--gop".into(), self.gop.to_string()]);
    }
}

fn codec_name(c: CodecArg) -> &'static str {
    match c {
        CodecArg::H264 => "h264",
        CodecArg::H265 => "h265",
    }
}

#[derive(Debug, Clone, Args)]
pub struct ExportFlags {
    /// The camera; default: every camera, each to its default name.
    #[arg(long, value_name = "L")]
    pub camera_label: Option<String>,
    /// Default: IN_<label>.mp4 beside the input.
    #[arg(short, long, value_name = "OUT.mp4")]
    pub output: Option<PathBuf>,
    /// Re-encode to this codec (default: remux, no re-encoding).
    #[arg(long, value_enum)]
    pub codec: Option<CodecArg>,
    #[command(flatten)]
    pub encode: EncodeFlags,
    /// First frame kept (the camera's frames count from 0).
    #[arg(long, value_name = "N")]
    pub start_frame: Option<u64>,
    /// Last frame kept.
    #[arg(long, value_name = "N")]
    pub end_frame: Option<u64>,
    /// Print the result as one JSON line.
    #[arg(long)]
    pub json: bool,
}

impl ExportFlags {
    /// The flags a batch hands each job (no output: jobs use default names).
    pub fn job_args(&self) -> Vec<String> {
        let mut a = Vec::new();
        if let Some(l) = &self.camera_label {
            a.extend(["--camera-label".into(), l.clone()]);
        }
        if let Some(c) = self.codec {
            a.extend(["--codec".into(), codec_name(c).into()]);
            self.encode.args(&mut a);
        }
        if let Some(n) = self.start_frame {
            a.extend(["--start-frame".into(), n.to_string()]);
        }
        if let Some(n) = self.end_frame {
            a.extend(["--end-frame".into(), n.to_string()]);
        }
        a
    }
}

#[derive(Debug, Clone, Args)]
pub struct GridFlags {
    /// Recordings (MCAP, one camera each or the first camera used) in
    /// row-major order, instead of one bundled recording.
    #[arg(long = "input", id = "grid_input", value_name = "FILE")]
    pub inputs: Vec<PathBuf>,
    /// COLUMNSxROWS.
    #[arg(long, default_value = "2x2")]
    pub layout: String,
    /// Each tile's size as a share of its camera's picture.
    #[arg(long, default_value_t = 0.5)]
    pub scale: f64,
    /// Only this long from the common start.
    #[arg(long, value_name = "S")]
    pub duration_seconds: Option<f64>,
    #[arg(long, value_enum, default_value = "h265")]
    pub codec: CodecArg,
    #[command(flatten)]
    pub encode: EncodeFlags,
    /// Default: <segment>/<segment>_grid.mp4, the segment being the
    /// input's folder.
    #[arg(short, long, value_name = "OUT.mp4")]
    pub output: Option<PathBuf>,
    /// Draw no capture time.
    #[arg(long)]
    pub no_timestamp: bool,
    /// Print the result as one JSON line.
    #[arg(long)]
    pub json: bool,
}

impl GridFlags {
    pub fn job_args(&self) -> Vec<String> {
        let mut a = vec![
            "--layout".into(),
            self.layout.clone(),
            "--scale".into(),
            self.scale.to_string(),
            "--codec".into(),
            codec_name(self.codec).into(),
        ];
        if let Some(d) = self.duration_seconds {
            a.extend(["--duration-seconds".into(), d.to_string()]);
        }
        self.encode.args(&mut a);
        if self.no_timestamp {
            a.push("--no-timestamp".into());
        }
        a
    }
}

#[derive(Debug, Clone, Args)]
pub struct RecoverFlags {
    /// Print the result as one JSON line.
    #[arg(long)]
    pub json: bool,
}

/// A JetStream queue.
#[derive(Debug, Clone, Args)]
pub struct QueueFlags {
    /// nats://HOST:PORT of a server with JetStream (-js).
    #[arg(long, value_name = "URL")]
    pub queue: Option<String>,
    /// How long a job may go without a sign of life before it is
    /// redelivered (a running worker keeps it alive).
    #[arg(long, value_name = "S", default_value_t = 30.0)]
    pub ack_wait_seconds: f64,
    /// Deliveries of a job before it is reported failed.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub max_deliver: i64,
}

/// The batch flags every verb takes.
#[derive(Debug, Clone, Args)]
pub struct BatchFlags {
    /// Input files, or folders scanned for --pattern.
    #[arg(value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,
    /// Scan folders' subfolders too.
    #[arg(long)]
    pub recursive: bool,
    /// File names to take from folders.
    #[arg(long, default_value = "*.mcap")]
    pub pattern: String,
    /// A segment folder (repeatable): its recordings are inputs.
    #[arg(long = "segment", value_name = "DIR")]
    pub segments: Vec<PathBuf>,
    /// A CSV with a segment_dir column (other columns ignored).
    #[arg(long, value_name = "FILE")]
    pub segments_csv: Option<PathBuf>,
    /// Relative segment_dir paths are against this (default: the CSV's folder).
    #[arg(long, value_name = "DIR")]
    pub csv_root: Option<PathBuf>,
    /// Run jobs whose outputs exist.
    #[arg(long)]
    pub overwrite: bool,
    /// Probe existing outputs; broken ones count as missing.
    #[arg(long)]
    pub probe_existing: bool,
    /// List the invalid existing outputs and count valid/invalid/missing;
    /// convert nothing.
    #[arg(long)]
    pub report_existing: bool,
    /// List the jobs that would run; run nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Jobs at once (one pool).
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Jobs at once with the hardware encoder (mixed pools).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub hardware_jobs: usize,
    /// GPUs the hardware jobs use, in turn.
    #[arg(long, value_name = "0,1", value_delimiter = ',')]
    pub hardware_devices: Vec<u32>,
    /// Jobs at once with the software encoder (mixed pools).
    #[arg(long, value_name = "M", default_value_t = 0)]
    pub software_jobs: usize,
    /// Write a JSON report here.
    #[arg(long, value_name = "FILE.json")]
    pub report: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "auto")]
    pub progress_ui: Ui,
    /// Seconds between heartbeat lines (text progress).
    #[arg(long, value_name = "S", default_value_t = 10.0)]
    pub heartbeat_seconds: f64,
    #[command(flatten)]
    pub queue: QueueFlags,
    /// With --queue: follow the jobs until all are done.
    #[arg(long)]
    pub wait: bool,
}

#[derive(Debug, Subcommand)]
pub enum BatchJob {
    /// export-mp4 over every recording (one MP4 per camera, default names).
    #[command(name = "export-mp4")]
    ExportMp4 {
        #[command(flatten)]
        batch: BatchFlags,
        #[command(flatten)]
        flags: ExportFlags,
    },
    /// grid over every recording (<segment>/<segment>_grid.mp4).
    Grid {
        #[command(flatten)]
        batch: BatchFlags,
        #[command(flatten)]
        flags: GridFlags,
    },
    /// recover every recording (IN_recovered.mcap).
    Recover {
        #[command(flatten)]
        batch: BatchFlags,
    },
}
