//! Command line of `cvmmap_sim` and its validation into a [`SimConfig`].
//!
//! Every rejected value becomes one line naming the flag; the caller exits 2
//! (seed README "Exit Codes" and "Simulator Label Length").

use std::fmt;
use std::path::PathBuf;

use clap::Parser;

use super::body::MAX_BODY_COUNT;
use super::layout::{
    Abi, Codec, DepthUnit, FloatPlanes, FrameRate, Geometry, LABEL_CAPACITY, PixelFormat,
};
use super::naming::{self, MAX_IPC_PATH};
use super::nats::NatsConfig;
use super::nats::subjects::{self, ControlPrefix};

/// cv-mmap producer simulator: writes the §6 test pattern into POSIX shared
/// memory and publishes a ZeroMQ sync message per frame.
#[derive(Debug, Clone, Parser)]
#[command(name = "cvmmap_sim", version)]
pub struct SimArgs {
    /// Instance name written into each sync message (at most 24 bytes).
    #[arg(long)]
    pub label: Option<String>,
    /// POSIX shared-memory name (the segment is /dev/shm/NAME).
    #[arg(long, value_name = "NAME")]
    pub shm_name: Option<String>,
    /// ZeroMQ endpoint to bind the PUB socket on, e.g. ipc:///tmp/cvmmap_cam.
    #[arg(long, value_name = "ENDPOINT")]
    pub zmq_endpoint: Option<String>,
    /// cvmmap://instance[@prefix][?namespace=ns]; gives shm name, endpoint and label.
    #[arg(long)]
    pub target: Option<String>,
    /// Metadata ABI; v2.1 adds an encoded access unit of each frame (plane slot 3).
    #[arg(long, value_enum, default_value_t = Abi::V2)]
    pub abi: Abi,
    /// Codec of the v2.1 access-unit plane [default: h264]; only with --abi v2.1.
    #[arg(long, value_enum, value_name = "CODEC")]
    pub encoded_codec: Option<Codec>,
    /// B-frames in the v2.1 access units (H.264 only): units then come in
    /// decode order, each with its own `stream_pts_ns`, as a real encoder
    /// with B-frames writes them. Only with --abi v2.1.
    #[arg(long, value_name = "N", default_value_t = 0,
          value_parser = clap::value_parser!(u8).range(0..=4))]
    pub encoded_bframes: u8,
    /// Initial room for the access unit in the segment, in bytes
    /// [default: max(raw frame bytes, 1 MiB)]; the segment grows when an AU
    /// does not fit. Only with --abi v2.1.
    #[arg(long, value_name = "BYTES")]
    pub au_capacity: Option<u32>,
    /// Also publish a DEPTH plane (v2 plane slot 1, GRAY/F32, the video
    /// plane's width and height, stride width*4, right after the video
    /// plane) in this unit: `mm` (depth_unit 1) or `m` (depth_unit 2). The
    /// samples are `sim::depth_pattern::depth_value` (a ramp, special values
    /// such as NaN, ±inf and ties in row 0). Not with --abi v1.
    #[arg(long, value_enum, value_name = "UNIT")]
    pub depth_unit: Option<DepthUnit>,
    /// Also publish a CONFIDENCE plane (v2 plane slot 2, GRAY/F32, values
    /// 0..=100, `sim::depth_pattern::confidence_value`) after the DEPTH
    /// plane. With --abi v2 it needs --depth-unit (a minor 0 mask is
    /// contiguous); with --abi v2.1 it may come alone (sparse mask). Not
    /// with --abi v1.
    #[arg(long)]
    pub confidence: bool,
    /// Pixel format of the payload.
    #[arg(long, value_enum, default_value_t = PixelFormat::Bgr)]
    pub format: PixelFormat,
    #[arg(long, default_value_t = 640)]
    pub width: u32,
    #[arg(long, default_value_t = 360)]
    pub height: u32,
    /// Frames per second (> 0).
    #[arg(long, default_value_t = 30.0, allow_negative_numbers = true)]
    pub fps: f64,
    /// Number of frames to publish; 0 = until SIGINT/SIGTERM.
    #[arg(long, default_value_t = 0)]
    pub frames: u64,
    /// Extra bytes at the end of each row (stride = width*channels + BYTES).
    #[arg(long, value_name = "BYTES", default_value_t = 0)]
    pub row_padding: u32,
    /// Write a one-line JSON summary here at exit (frames, resets, and with
    /// --nats-url: nats_connected, status_published / body_published = taken
    /// by the client, nats_flushed = the server confirmed all up to OFFLINE,
    /// nats_dropped, requests_answered).
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,
    /// Append every access unit (--abi v2.1) to this file as a 4-byte
    /// little-endian length and the Annex-B bytes, for byte-exact checks.
    #[arg(long, value_name = "PATH")]
    pub au_log: Option<PathBuf>,
    /// Every N frames the frame counter goes back to 0 (a producer reset,
    /// contract §5; STREAM_RESET is published with --nats-url). Timestamps
    /// stay wall clock and keep going forward. 0 = never.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub reset_every: u64,
    /// Speak the NATS side of the contract (§4) on this server: ONLINE at
    /// start, STREAM_RESET on each reset, OFFLINE at exit on
    /// cvmmap.KEY.status; answers cvmmap.KEY.producer.source.info|reset.
    /// Without it there is no NATS at all. An unreachable server is logged
    /// once; frames go on and the sim connects when the server appears.
    /// source.info says LIVE / UNIX_EPOCH_NS: every frame is stamped with
    /// the wall clock, also with --frames.
    #[arg(long, value_name = "URL")]
    pub nats_url: Option<String>,
    /// NATS subject key [default: the shm base name with '.' replaced by '_'
    /// (contract §1)]. Only with --nats-url.
    #[arg(long, value_name = "KEY")]
    pub nats_key: Option<String>,
    /// Answer the requests on cvmmap.KEY.control.source.info|reset (older
    /// producers) instead of cvmmap.KEY.producer.source.*. Only with --nats-url.
    #[arg(long)]
    pub legacy_control: bool,
    /// Publish a body-tracking v1 message (§4) on cvmmap.KEY.body for every
    /// N-th frame, before that frame's metadata and sync, with the frame's
    /// frame_count and timestamp; source.info then has HAS_BODY. 0 = off.
    /// Only with --nats-url.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub body_every: u64,
    /// Records (3248 bytes each, a deterministic pattern) per body message,
    /// 0..=322 [default: 1]. Only with --body-every.
    #[arg(long, value_name = "K")]
    pub body_count: Option<u16>,
    /// Stamp every frame: its frame_count as u32 little-endian at the start
    /// of row 0 and of the last row of the video plane (checked by
    /// `cvmmap_streamer --verify-stamps`).
    #[arg(long)]
    pub stamp: bool,
    /// Torn-write fault (implies --stamp): a random moment (up to
    /// --torn-max-delay-us) after frame g's sync, frame g+1 is written in
    /// place: first the metadata counter and timestamp, then the payload in
    /// slow chunks; its sync follows at its scheduled time. Any copy of g
    /// that overlaps the rewrite sees the counter change. Not with v2.1.
    #[arg(long)]
    pub torn_writes: bool,
    /// Order of an in-place rewrite (with --torn-writes): `counter-first`
    /// changes the metadata counter before the payload (a consumer's
    /// before/after check catches every overlap); `payload-first` rewrites
    /// the payload while the metadata still names the previous frame, then
    /// the metadata, then the sync: the contract's own write order, which no
    /// consumer can detect without a seqlock upstream [default: counter-first].
    #[arg(long, value_enum, value_name = "ORDER")]
    pub torn_order: Option<TornOrder>,
    /// Largest delay between a sync and the next in-place rewrite, in µs
    /// [default: 1000]. Only with --torn-writes.
    #[arg(long, value_name = "US")]
    pub torn_max_delay_us: Option<u64>,
    /// Write the first N frames normally before the in-place rewrites begin
    /// (a fault injected mid-stream, once consumers receive syncs)
    /// [default: 0]. Only with --torn-writes.
    #[arg(long, value_name = "N")]
    pub torn_after: Option<u64>,
    /// At each reset, zero the metadata, unlink the segment and create it
    /// again under the same name (a new inode), as a re-initialising
    /// producer does.
    #[arg(long)]
    pub reset_recreate: bool,
    /// At each reset, `ftruncate` the same segment (same inode, metadata
    /// kept) to exactly the new frame's size, smaller or larger, right
    /// after the last sync of the old size: a producer re-initialising in
    /// place. Readers still copying the old frame find the file shorter.
    /// Not with --reset-recreate.
    #[arg(long)]
    pub reset_shrink: bool,
    /// At each reset switch to the next of these resolutions (cycling), a
    /// resolution change mid-stream. Not with --abi v2.1.
    #[arg(long, value_name = "WxH[,WxH...]")]
    pub reset_sizes: Option<String>,
    /// A camera rig in one process: one camera per --camera
    /// INSTANCE:FPS[:DELAY_MS[:FRAMES]], each its own producer (segment,
    /// sync socket, NATS key) named as `--target
    /// cvmmap://INSTANCE@<--rig-prefix>?namespace=<--rig-namespace>`,
    /// publishing at FPS, starting DELAY_MS after the process, FRAMES
    /// frames [default: --frames]; every other flag applies to each. With
    /// --json, one object with `cameras`.
    #[arg(long = "camera", value_name = "INSTANCE:FPS[:DELAY_MS[:FRAMES]]",
          conflicts_with_all = ["label", "shm_name", "zmq_endpoint", "target", "nats_key"])]
    pub cameras: Vec<String>,
    /// The rig's ipc directory (contract §1 prefix).
    #[arg(long, value_name = "DIR", default_value = naming::DEFAULT_PREFIX)]
    pub rig_prefix: String,
    /// The rig's namespace (contract §1).
    #[arg(long, value_name = "NS", default_value = naming::DEFAULT_NAMESPACE)]
    pub rig_namespace: String,
}

/// One camera of a `--camera` rig: its configuration and start delay.
#[derive(Debug)]
pub struct RigCamera {
    pub config: SimConfig,
    pub delay: std::time::Duration,
}

impl SimArgs {
    /// The rig's cameras (`--camera`), each validated like a single
    /// producer's flags; empty without `--camera`.
    pub fn rig(&self) -> Result<Vec<RigCamera>, ArgError> {
        let mut out = Vec::with_capacity(self.cameras.len());
        for spec in &self.cameras {
            let mut parts = spec.split(':');
            let (Some(instance), Some(fps)) = (parts.next(), parts.next()) else {
                return fail(format!(
                    "--camera {spec:?}: expected INSTANCE:FPS[:DELAY_MS[:FRAMES]]"
                ));
            };
            let fps: f64 = fps
                .parse()
                .map_err(|_| ArgError(format!("--camera {spec:?}: FPS {fps:?} is not a number")))?;
            let delay_ms: u64 = match parts.next() {
                None => 0,
                Some(d) => d.parse().map_err(|_| {
                    ArgError(format!(
                        "--camera {spec:?}: DELAY_MS {d:?} is not a whole number"
                    ))
                })?,
            };
            let frames: Option<u64> = match parts.next() {
                None => None,
                Some(f) => Some(f.parse().map_err(|_| {
                    ArgError(format!(
                        "--camera {spec:?}: FRAMES {f:?} is not a whole number"
                    ))
                })?),
            };
            if parts.next().is_some() {
                return fail(format!(
                    "--camera {spec:?}: expected INSTANCE:FPS[:DELAY_MS[:FRAMES]]"
                ));
            }
            if out.iter().any(|c: &RigCamera| c.config.label == instance) {
                return fail(format!("--camera {instance:?} is given twice"));
            }
            let mut one = self.clone();
            one.cameras.clear();
            one.fps = fps;
            if let Some(f) = frames {
                one.frames = f;
            }
            one.target = Some(format!(
                "cvmmap://{instance}@{}?namespace={}",
                self.rig_prefix, self.rig_namespace
            ));
            let config = one
                .into_config()
                .map_err(|e| ArgError(format!("--camera {spec:?}: {e}")))?;
            out.push(RigCamera {
                config,
                delay: std::time::Duration::from_millis(delay_ms),
            });
        }
        Ok(out)
    }
}

pub use super::faults::TornOrder;

/// Settings of the v2.1 encoded-AU plane.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EncodedConfig {
    pub codec: Codec,
    /// `--encoded-bframes` (H.264 only).
    pub bframes: u8,
    /// `--fps` as the extension's u16/u16 fraction.
    pub frame_rate: FrameRate,
    /// Initial AU room in the segment (bytes after the raw plane).
    pub au_capacity: usize,
}

/// Default AU room: max(raw frame bytes, 1 MiB).
pub fn default_au_capacity(raw_bytes: u32) -> usize {
    (raw_bytes as usize).max(1 << 20)
}

/// Validated simulator settings.
#[derive(Clone, Debug, PartialEq)]
pub struct SimConfig {
    pub label: String,
    pub shm_name: String,
    pub endpoint: String,
    pub abi: Abi,
    /// Present exactly for `--abi v2.1`.
    pub encoded: Option<EncodedConfig>,
    pub geometry: Geometry,
    /// `--depth-unit` / `--confidence`: the F32 planes after the video plane.
    pub planes: FloatPlanes,
    pub fps: f64,
    /// 0 = endless.
    pub frames: u64,
    pub json: Option<PathBuf>,
    /// Where to log access units (v2.1), see `--au-log`.
    pub au_log: Option<PathBuf>,
    /// `--reset-every`; 0 = never.
    pub reset_every: u64,
    /// Present exactly with `--nats-url`.
    pub nats: Option<NatsConfig>,
    /// `--stamp` (also set by `--torn-writes`).
    pub stamp: bool,
    /// `--torn-writes`: the largest delay in µs before an in-place rewrite.
    pub torn_max_delay_us: Option<u64>,
    /// `--torn-after`: frames written normally first.
    pub torn_after: u64,
    /// `--torn-order`.
    pub torn_order: TornOrder,
    /// `--reset-recreate`.
    pub reset_recreate: bool,
    /// `--reset-shrink`.
    pub reset_shrink: bool,
    /// `--reset-sizes`, each a valid geometry with the run's format/padding.
    pub reset_sizes: Vec<Geometry>,
}

/// A one-line argument error; the binary prints it and exits 2.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArgError(pub String);

impl fmt::Display for ArgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn fail<T>(msg: String) -> Result<T, ArgError> {
    Err(ArgError(msg))
}

/// Seed README "Simulator Label Length": more than 24 bytes is rejected.
pub fn check_label(label: &str) -> Result<(), ArgError> {
    if label.len() > LABEL_CAPACITY {
        return fail(format!(
            "--label is {} bytes long, at most {LABEL_CAPACITY} bytes are allowed",
            label.len()
        ));
    }
    if label.is_empty() || !label.bytes().all(|b| b.is_ascii_graphic()) {
        return fail("--label must be non-empty printable ASCII".to_string());
    }
    Ok(())
}

fn check_shm_name(name: &str) -> Result<String, ArgError> {
    let name = name.strip_prefix('/').unwrap_or(name);
    if name.is_empty() || name.len() > 255 || name.contains('/') || name.contains('\0') {
        return fail(format!(
            "--shm-name `{name}` must be 1..255 bytes without '/'"
        ));
    }
    Ok(name.to_string())
}

fn check_endpoint(endpoint: &str) -> Result<(), ArgError> {
    let Some((scheme, addr)) = endpoint.split_once("://") else {
        return fail(format!(
            "--zmq-endpoint `{endpoint}` needs a transport, e.g. ipc://PATH"
        ));
    };
    if addr.is_empty() || addr.contains('\0') {
        return fail(format!("--zmq-endpoint `{endpoint}` has an empty address"));
    }
    if scheme == "ipc" && addr.len() > MAX_IPC_PATH {
        return fail(format!(
            "--zmq-endpoint ipc path is {} bytes, at most {MAX_IPC_PATH}",
            addr.len()
        ));
    }
    Ok(())
}

fn check_geometry(a: &SimArgs) -> Result<Geometry, ArgError> {
    if a.width == 0 {
        return fail("--width must be > 0".to_string());
    }
    if a.height == 0 {
        return fail("--height must be > 0".to_string());
    }
    if a.format == PixelFormat::Yuyv && !a.width.is_multiple_of(2) {
        return fail(format!(
            "--width {} must be even for --format yuyv",
            a.width
        ));
    }
    if a.abi == Abi::V1 {
        if a.width > u32::from(u16::MAX) {
            return fail(format!("--width {} does not fit the v1 u16 field", a.width));
        }
        if a.height > u32::from(u16::MAX) {
            return fail(format!(
                "--height {} does not fit the v1 u16 field",
                a.height
            ));
        }
    }
    if a.abi == Abi::V2_1 {
        // The encoder converts to I420 (4:2:0), which needs even sizes.
        for (flag, v) in [("--width", a.width), ("--height", a.height)] {
            if !v.is_multiple_of(2) {
                return fail(format!(
                    "{flag} {v} must be even for --abi v2.1 (I420 encoding)"
                ));
            }
            if a.encoded_codec == Some(Codec::H265) && v < 16 {
                return fail(format!(
                    "{flag} {v} must be at least 16 for --encoded-codec h265"
                ));
            }
        }
    }
    let stride = u64::from(a.width) * u64::from(a.format.channels()) + u64::from(a.row_padding);
    let size = stride * u64::from(a.height);
    if size > u64::from(u32::MAX) {
        return fail(format!(
            "--width/--height/--row-padding give {size} payload bytes, more than the u32 size field"
        ));
    }
    let floats = float_planes(a).bytes(a.width, a.height);
    if size + floats > u64::from(u32::MAX) {
        return fail(format!(
            "--width/--height with --depth-unit/--confidence give {} payload bytes, more than the u32 size field",
            size + floats
        ));
    }
    Ok(Geometry {
        width: a.width,
        height: a.height,
        stride: stride as u32,
        format: a.format,
    })
}

/// The float planes the flags ask for, unchecked.
fn float_planes(a: &SimArgs) -> FloatPlanes {
    FloatPlanes {
        depth: a.depth_unit,
        confidence: a.confidence,
    }
}

/// `--depth-unit` / `--confidence` against the ABI (§2: only v2 has plane
/// slots 1 and 2; minor 0 needs a contiguous mask, minor 1 may be sparse).
fn check_planes(a: &SimArgs) -> Result<FloatPlanes, ArgError> {
    let planes = float_planes(a);
    if a.abi == Abi::V1 {
        if a.depth_unit.is_some() {
            return fail(
                "--depth-unit needs --abi v2 or v2.1 (the v1 header has no depth plane)"
                    .to_string(),
            );
        }
        if a.confidence {
            return fail(
                "--confidence needs --abi v2 or v2.1 (the v1 header has no confidence plane)"
                    .to_string(),
            );
        }
    }
    if a.abi == Abi::V2 && a.confidence && a.depth_unit.is_none() {
        return fail(
            "--confidence needs --depth-unit with --abi v2 (a minor 0 plane mask is contiguous)"
                .to_string(),
        );
    }
    Ok(planes)
}

/// The NATS flags (contract §1 key, §4); `shm_name` is the base name.
fn check_nats(a: &SimArgs, shm_name: &str) -> Result<Option<NatsConfig>, ArgError> {
    let Some(url) = &a.nats_url else {
        for (given, flag) in [
            (a.nats_key.is_some(), "--nats-key"),
            (a.legacy_control, "--legacy-control"),
            (a.body_every > 0, "--body-every"),
            (a.body_count.is_some(), "--body-count"),
        ] {
            if given {
                return fail(format!("{flag} is only meaningful with --nats-url"));
            }
        }
        return Ok(None);
    };
    if let Err(e) = url.parse::<async_nats::ServerAddr>() {
        return fail(format!("--nats-url `{url}`: {e}"));
    }
    let key = match &a.nats_key {
        Some(k) if !subjects::is_valid_key(k) => {
            return fail(format!(
                "--nats-key `{k}` must be one subject token (no '.', '*', '>', spaces)"
            ));
        }
        Some(k) => k.clone(),
        None => {
            let k = subjects::key_from_base_name(shm_name);
            if !subjects::is_valid_key(&k) {
                return fail(format!(
                    "--shm-name `{shm_name}` gives the NATS key `{k}`, which is not a subject token; pass --nats-key"
                ));
            }
            k
        }
    };
    if a.body_count.is_some() && a.body_every == 0 {
        return fail("--body-count is only meaningful with --body-every".to_string());
    }
    let body_count = a.body_count.unwrap_or(1);
    if body_count > MAX_BODY_COUNT {
        return fail(format!(
            "--body-count {body_count} exceeds {MAX_BODY_COUNT} (one message must fit NATS's 1 MiB payload)"
        ));
    }
    Ok(Some(NatsConfig {
        url: url.clone(),
        key,
        control: if a.legacy_control {
            ControlPrefix::Legacy
        } else {
            ControlPrefix::Producer
        },
        body_every: a.body_every,
        body_count,
    }))
}

/// Largest `--torn-max-delay-us`: one second.
pub const MAX_TORN_DELAY_US: u64 = 1_000_000;

/// `--reset-sizes`: each size must make a valid plane with the run's
/// format, padding and ABI (the rules of --width/--height).
fn check_reset_sizes(a: &SimArgs) -> Result<Vec<Geometry>, ArgError> {
    let Some(list) = &a.reset_sizes else {
        return Ok(Vec::new());
    };
    if a.abi == Abi::V2_1 {
        return fail("--reset-sizes is not supported with --abi v2.1".to_string());
    }
    let sizes = super::faults::parse_sizes(list)
        .map_err(|e| ArgError(format!("--reset-sizes {list}: {e}")))?;
    sizes
        .into_iter()
        .map(|(width, height)| {
            let bad = |why: &str| ArgError(format!("--reset-sizes {width}x{height}: {why}"));
            if a.format == PixelFormat::Yuyv && !width.is_multiple_of(2) {
                return Err(bad("width must be even for --format yuyv"));
            }
            if a.abi == Abi::V1 && (width > u32::from(u16::MAX) || height > u32::from(u16::MAX)) {
                return Err(bad("does not fit the v1 u16 fields"));
            }
            let stride =
                u64::from(width) * u64::from(a.format.channels()) + u64::from(a.row_padding);
            let floats = float_planes(a).bytes(width, height);
            if stride * u64::from(height) + floats > u64::from(u32::MAX) {
                return Err(bad("more payload bytes than the u32 size field"));
            }
            let g = Geometry {
                width,
                height,
                stride: stride as u32,
                format: a.format,
            };
            if (a.stamp || a.torn_writes) && g.row_bytes() < 4 {
                return Err(bad("--stamp needs rows of at least 4 bytes"));
            }
            Ok(g)
        })
        .collect()
}

/// The fault flags (`--stamp`, `--torn-writes`, `--reset-recreate`,
/// `--reset-sizes`) against each other and the rest.
fn check_faults(a: &SimArgs, geometry: &Geometry) -> Result<Option<u64>, ArgError> {
    if (a.stamp || a.torn_writes) && geometry.row_bytes() < 4 {
        return fail(format!(
            "--stamp needs rows of at least 4 bytes (--width {} gives {})",
            a.width,
            geometry.row_bytes()
        ));
    }
    if a.torn_writes && a.abi == Abi::V2_1 {
        return fail("--torn-writes is not supported with --abi v2.1".to_string());
    }
    if a.torn_order.is_some() && !a.torn_writes {
        return fail("--torn-order is only meaningful with --torn-writes".to_string());
    }
    if a.torn_after.is_some() && !a.torn_writes {
        return fail("--torn-after is only meaningful with --torn-writes".to_string());
    }
    let delay = match (a.torn_writes, a.torn_max_delay_us) {
        (false, Some(_)) => {
            return fail("--torn-max-delay-us is only meaningful with --torn-writes".to_string());
        }
        (false, None) => None,
        (true, Some(d)) if d > MAX_TORN_DELAY_US => {
            return fail(format!(
                "--torn-max-delay-us {d} exceeds {MAX_TORN_DELAY_US}"
            ));
        }
        (true, d) => Some(d.unwrap_or(1000)),
    };
    let resets_possible = a.reset_every > 0 || a.nats_url.is_some();
    for (given, flag) in [
        (a.reset_recreate, "--reset-recreate"),
        (a.reset_shrink, "--reset-shrink"),
        (a.reset_sizes.is_some(), "--reset-sizes"),
    ] {
        if given && !resets_possible {
            return fail(format!(
                "{flag} is only meaningful with --reset-every (or --nats-url source.reset)"
            ));
        }
    }
    if a.reset_shrink && a.reset_recreate {
        return fail("--reset-shrink and --reset-recreate exclude each other".to_string());
    }
    if a.reset_shrink && a.abi == Abi::V2_1 {
        return fail("--reset-shrink is not supported with --abi v2.1".to_string());
    }
    Ok(delay)
}

impl SimArgs {
    /// Checks every flag and derives the names (§1) where they are not explicit.
    pub fn into_config(self) -> Result<SimConfig, ArgError> {
        if let Some(label) = &self.label {
            check_label(label)?;
        }
        if !(self.fps.is_finite() && self.fps > 0.0) {
            return fail(format!("--fps {} must be a finite number > 0", self.fps));
        }
        if self.abi != Abi::V2_1 {
            if self.encoded_codec.is_some() {
                return fail("--encoded-codec is only meaningful with --abi v2.1".to_string());
            }
            if self.au_capacity.is_some() {
                return fail("--au-capacity is only meaningful with --abi v2.1".to_string());
            }
            if self.au_log.is_some() {
                return fail("--au-log is only meaningful with --abi v2.1".to_string());
            }
            if self.encoded_bframes > 0 {
                return fail("--encoded-bframes is only meaningful with --abi v2.1".to_string());
            }
        }
        let planes = check_planes(&self)?;
        let geometry = check_geometry(&self)?;
        let encoded = if self.abi == Abi::V2_1 {
            let frame_rate = FrameRate::from_fps(self.fps).ok_or_else(|| {
                ArgError(format!(
                    "--fps {} cannot be written as the u16/u16 frame rate of --abi v2.1",
                    self.fps
                ))
            })?;
            let codec = self.encoded_codec.unwrap_or(Codec::H264);
            if self.encoded_bframes > 0 && codec != Codec::H264 {
                return fail("--encoded-bframes needs --encoded-codec h264".to_string());
            }
            Some(EncodedConfig {
                codec,
                bframes: self.encoded_bframes,
                frame_rate,
                au_capacity: self.au_capacity.map_or_else(
                    || default_au_capacity(geometry.payload_size()),
                    |c| c as usize,
                ),
            })
        } else {
            None
        };

        // Names: target first, else the bare target `<label>`; explicit flags override.
        let derived = match (&self.target, &self.label) {
            (Some(t), _) => {
                Some(naming::parse_target(t).map_err(|e| ArgError(format!("--target: {e}")))?)
            }
            (None, Some(l)) if self.shm_name.is_none() || self.zmq_endpoint.is_none() => {
                Some(naming::parse_target(l).map_err(|e| {
                    ArgError(format!(
                        "--label cannot name the source: {e}; pass --shm-name and --zmq-endpoint"
                    ))
                })?)
            }
            _ => None,
        };
        let label = match (self.label.clone(), &derived) {
            (Some(l), _) => l,
            (None, Some(d)) => d.instance.clone(),
            (None, None) => return fail("--label (or --target) is required".to_string()),
        };
        let shm_name = match (&self.shm_name, &derived) {
            (Some(n), _) => check_shm_name(n)?,
            (None, Some(d)) => d.shm_name.clone(),
            (None, None) => return fail("--shm-name (or --target) is required".to_string()),
        };
        let endpoint = match (self.zmq_endpoint.clone(), &derived) {
            (Some(e), _) => e,
            (None, Some(d)) => d.endpoint.clone(),
            (None, None) => return fail("--zmq-endpoint (or --target) is required".to_string()),
        };
        check_endpoint(&endpoint)?;
        let nats = check_nats(&self, &shm_name)?;
        let torn_max_delay_us = check_faults(&self, &geometry)?;
        let reset_sizes = check_reset_sizes(&self)?;
        Ok(SimConfig {
            label,
            shm_name,
            endpoint,
            abi: self.abi,
            encoded,
            geometry,
            planes,
            fps: self.fps,
            frames: self.frames,
            json: self.json,
            au_log: self.au_log,
            reset_every: self.reset_every,
            nats,
            stamp: self.stamp || self.torn_writes,
            torn_max_delay_us,
            torn_after: self.torn_after.unwrap_or(0),
            torn_order: self.torn_order.unwrap_or(TornOrder::CounterFirst),
            reset_recreate: self.reset_recreate,
            reset_shrink: self.reset_shrink,
            reset_sizes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(args: &[&str]) -> Result<SimConfig, ArgError> {
        let mut argv = vec!["cvmmap_sim"];
        argv.extend_from_slice(args);
        SimArgs::try_parse_from(argv).unwrap().into_config()
    }

    #[test]
    fn a_rig_names_each_camera_from_its_instance_and_takes_its_rate() {
        let args = SimArgs::try_parse_from([
            "cvmmap_sim",
            "--camera",
            "zed1:30",
            "--camera",
            "zed2:15:500:45",
            "--rig-prefix",
            "/tmp/rig",
            "--rig-namespace",
            "lab",
            "--frames",
            "90",
        ])
        .unwrap();
        let rig = args.rig().unwrap();
        assert_eq!(rig.len(), 2);
        let (a, b) = (&rig[0], &rig[1]);
        assert_eq!(a.config.label, "zed1");
        assert_eq!(a.config.shm_name, "lab_zed1");
        assert_eq!(a.config.endpoint, "ipc:///tmp/rig/lab_zed1");
        assert_eq!((a.config.fps, a.config.frames), (30.0, 90));
        assert_eq!(a.delay, std::time::Duration::ZERO);
        assert_eq!((b.config.fps, b.config.frames), (15.0, 45));
        assert_eq!(b.delay, std::time::Duration::from_millis(500));
        for bad in [
            "zed1",
            "zed1:x",
            "zed1:30:-5",
            "zed1:30:0:1:2",
            "bad name:30",
        ] {
            let args = SimArgs::try_parse_from(["cvmmap_sim", "--camera", bad]).unwrap();
            let e = args.rig().unwrap_err();
            assert!(e.0.starts_with("--camera"), "{bad}: {e}");
        }
        let twice = SimArgs::try_parse_from(["cvmmap_sim", "--camera", "a:30", "--camera", "a:15"])
            .unwrap();
        assert!(twice.rig().unwrap_err().0.contains("twice"));
        // A rig's names come from --camera: naming flags are refused.
        assert!(
            SimArgs::try_parse_from(["cvmmap_sim", "--camera", "a:30", "--target", "b"]).is_err()
        );
    }

    #[test]
    fn label_length_rule() {
        let l24 = "a".repeat(24);
        let l25 = "a".repeat(25);
        assert!(check_label(&l24).is_ok());
        let e = check_label(&l25).unwrap_err();
        assert!(e.0.contains("--label") && e.0.contains("25"), "{e}");
        assert!(!e.0.contains('\n'));
        // 24 bytes is fine with explicit names, but cannot be a §1 instance (max 23).
        assert!(
            config(&[
                "--label",
                &l24,
                "--shm-name",
                "s",
                "--zmq-endpoint",
                "ipc:///tmp/s"
            ])
            .is_ok()
        );
        assert!(
            config(&["--label", &l24])
                .unwrap_err()
                .0
                .contains("--label")
        );
        assert!(
            config(&[
                "--label",
                &l25,
                "--shm-name",
                "s",
                "--zmq-endpoint",
                "ipc:///tmp/s"
            ])
            .unwrap_err()
            .0
            .contains("--label")
        );
    }

    #[test]
    fn label_alone_derives_bare_target() {
        let c = config(&["--label", "cam0"]).unwrap();
        assert_eq!(
            (c.label.as_str(), c.shm_name.as_str(), c.endpoint.as_str()),
            ("cam0", "cvmmap_cam0", "ipc:///tmp/cvmmap_cam0")
        );
        assert_eq!(c.abi, Abi::V2);
        assert_eq!(c.encoded, None);
        assert_eq!(
            c.geometry,
            Geometry {
                width: 640,
                height: 360,
                stride: 1920,
                format: PixelFormat::Bgr
            }
        );
        assert_eq!((c.fps, c.frames), (30.0, 0));
    }

    #[test]
    fn target_gives_all_names_and_flags_override() {
        let c = config(&["--target", "cvmmap://cam@/run/x?namespace=zed"]).unwrap();
        assert_eq!(
            (c.label.as_str(), c.shm_name.as_str(), c.endpoint.as_str()),
            ("cam", "zed_cam", "ipc:///run/x/zed_cam")
        );
        let c = config(&["--target", "cam", "--shm-name", "/other", "--label", "lbl"]).unwrap();
        assert_eq!(
            (c.label.as_str(), c.shm_name.as_str(), c.endpoint.as_str()),
            ("lbl", "other", "ipc:///tmp/cvmmap_cam")
        );
        assert!(
            config(&["--target", "cvmmap://bad name"])
                .unwrap_err()
                .0
                .contains("--target")
        );
    }

    #[test]
    fn bad_values_name_their_flag() {
        let base = ["--label", "c"];
        let cases: &[(&[&str], &str)] = &[
            (&["--fps", "0"], "--fps"),
            (&["--fps", "-3"], "--fps"),
            (&["--fps", "NaN"], "--fps"),
            (&["--width", "0"], "--width"),
            (&["--height", "0"], "--height"),
            (&["--format", "yuyv", "--width", "641"], "--width"),
            (&["--abi", "v1", "--width", "70000"], "--width"),
            (&["--shm-name", "a/b"], "--shm-name"),
            (&["--zmq-endpoint", "nothing"], "--zmq-endpoint"),
            (
                &["--width", "65535", "--height", "65535", "--format", "rgba"],
                "--width",
            ),
            (&["--encoded-codec", "h264"], "--encoded-codec"),
            (
                &["--abi", "v1", "--encoded-codec", "h265"],
                "--encoded-codec",
            ),
            (&["--au-capacity", "10"], "--au-capacity"),
            (&["--abi", "v2.1", "--width", "63"], "--width"),
            (&["--abi", "v2.1", "--height", "47"], "--height"),
            (
                &["--abi", "v2.1", "--encoded-codec", "h265", "--height", "8"],
                "--height",
            ),
            (&["--abi", "v2.1", "--fps", "70000"], "--fps"),
        ];
        for (extra, flag) in cases {
            let mut args = base.to_vec();
            args.extend_from_slice(extra);
            let e = config(&args).unwrap_err();
            assert!(e.0.contains(flag), "{extra:?}: {e}");
        }
        assert!(config(&[]).unwrap_err().0.contains("--label"));
    }

    #[test]
    fn v2_1_defaults_and_codec() {
        let c = config(&["--label", "c", "--abi", "v2.1"]).unwrap();
        assert_eq!(c.abi, Abi::V2_1);
        assert_eq!(
            c.encoded,
            Some(EncodedConfig {
                codec: Codec::H264,
                bframes: 0,
                frame_rate: FrameRate { num: 30, den: 1 },
                au_capacity: 1 << 20,
            })
        );
        let b = config(&["--label", "c", "--abi", "v2.1", "--encoded-bframes", "2"]).unwrap();
        assert_eq!(b.encoded.unwrap().bframes, 2);
        for (extra, needle) in [
            (&["--encoded-bframes", "2"][..], "--abi v2.1"),
            (
                &[
                    "--abi",
                    "v2.1",
                    "--encoded-codec",
                    "h265",
                    "--encoded-bframes",
                    "2",
                ],
                "h264",
            ),
        ] {
            let mut args = vec!["--label", "c"];
            args.extend_from_slice(extra);
            let e = config(&args).unwrap_err();
            assert!(e.0.contains(needle), "{extra:?}: {e}");
        }
        let over = [
            "cvmmap_sim",
            "--label",
            "c",
            "--abi",
            "v2.1",
            "--encoded-bframes",
            "5",
        ];
        assert!(SimArgs::try_parse_from(over).is_err());
        let c = config(&[
            "--label",
            "c",
            "--abi",
            "v2.1",
            "--encoded-codec",
            "h265",
            "--fps",
            "29.97",
            "--width",
            "1920",
            "--height",
            "1080",
            "--format",
            "yuv",
        ])
        .unwrap();
        let e = c.encoded.unwrap();
        assert_eq!(e.codec, Codec::H265);
        assert_eq!(
            e.frame_rate,
            FrameRate {
                num: 29970,
                den: 1000
            }
        );
        assert_eq!(
            e.au_capacity,
            1920 * 1080 * 3,
            "raw frame bigger than 1 MiB"
        );
        assert_eq!(c.geometry.format.code(), 5);
        let c = config(&["--label", "c", "--abi", "v2.1", "--au-capacity", "64"]).unwrap();
        assert_eq!(c.encoded.unwrap().au_capacity, 64);
    }

    #[test]
    fn padding_and_formats_shape_geometry() {
        let c = config(&[
            "--label",
            "c",
            "--format",
            "yuyv",
            "--width",
            "8",
            "--height",
            "2",
            "--row-padding",
            "3",
        ])
        .unwrap();
        assert_eq!(c.geometry.stride, 19);
        assert_eq!(c.geometry.payload_size(), 38);
    }

    #[test]
    fn nats_defaults_and_key() {
        let c = config(&["--label", "c"]).unwrap();
        assert_eq!((c.nats.as_ref(), c.reset_every), (None, 0));
        let c = config(&[
            "--target",
            "cvmmap://cam.1@/tmp?namespace=zed",
            "--nats-url",
            "nats://127.0.0.1:4222",
            "--reset-every",
            "10",
        ])
        .unwrap();
        assert_eq!(c.reset_every, 10);
        let n = c.nats.unwrap();
        assert_eq!(
            (
                n.url.as_str(),
                n.key.as_str(),
                n.control,
                n.body_every,
                n.body_count
            ),
            (
                "nats://127.0.0.1:4222",
                "zed_cam_1",
                ControlPrefix::Producer,
                0,
                1
            )
        );
        let c = config(&[
            "--label",
            "c",
            "--shm-name",
            "my.shm",
            "--zmq-endpoint",
            "ipc:///tmp/x",
            "--nats-url",
            "localhost:4222",
            "--legacy-control",
            "--body-every",
            "3",
            "--body-count",
            "2",
        ])
        .unwrap();
        let n = c.nats.unwrap();
        assert_eq!(
            (n.key.as_str(), n.control, n.body_every, n.body_count),
            ("my_shm", ControlPrefix::Legacy, 3, 2)
        );
        let n = config(&[
            "--label",
            "c",
            "--nats-url",
            "nats://h:1",
            "--nats-key",
            "other",
        ])
        .unwrap()
        .nats
        .unwrap();
        assert_eq!(n.key, "other");
    }

    #[test]
    fn nats_flags_need_nats_and_valid_values() {
        let cases: &[(&[&str], &str)] = &[
            (&["--nats-key", "k"], "--nats-key"),
            (&["--legacy-control"], "--legacy-control"),
            (&["--body-every", "1"], "--body-every"),
            (&["--body-count", "2"], "--body-count"),
            (
                &["--nats-url", "nats://h:1", "--body-count", "2"],
                "--body-count",
            ),
            (
                &[
                    "--nats-url",
                    "nats://h:1",
                    "--body-every",
                    "1",
                    "--body-count",
                    "323",
                ],
                "--body-count",
            ),
            (
                &["--nats-url", "nats://h:1", "--nats-key", "a.b"],
                "--nats-key",
            ),
            (
                &["--nats-url", "nats://h:1", "--nats-key", ""],
                "--nats-key",
            ),
            (
                &["--nats-url", "nats://h:1", "--shm-name", "a*b"],
                "--nats-key",
            ),
            (&["--nats-url", "nats://h:port"], "--nats-url"),
        ];
        for (extra, flag) in cases {
            let mut args = vec!["--label", "c"];
            args.extend_from_slice(extra);
            let e = config(&args).unwrap_err();
            assert!(e.0.contains(flag), "{extra:?}: {e}");
        }
    }

    #[test]
    fn fault_flags() {
        let c = config(&["--label", "c"]).unwrap();
        assert!(!c.stamp && c.torn_max_delay_us.is_none() && !c.reset_recreate);
        assert!(c.reset_sizes.is_empty());
        let c = config(&["--label", "c", "--torn-writes"]).unwrap();
        assert!(c.stamp, "--torn-writes implies --stamp");
        assert_eq!(c.torn_max_delay_us, Some(1000));
        assert_eq!(c.torn_after, 0);
        let c = config(&[
            "--label",
            "c",
            "--torn-writes",
            "--torn-max-delay-us",
            "5",
            "--torn-after",
            "30",
        ])
        .unwrap();
        assert_eq!((c.torn_max_delay_us, c.torn_after), (Some(5), 30));
        let c = config(&[
            "--label",
            "c",
            "--stamp",
            "--reset-every",
            "6",
            "--reset-recreate",
            "--reset-sizes",
            "320x180,640x360",
            "--row-padding",
            "8",
        ])
        .unwrap();
        assert!(c.stamp && c.reset_recreate);
        assert_eq!(
            c.reset_sizes,
            [
                Geometry {
                    width: 320,
                    height: 180,
                    stride: 968,
                    format: PixelFormat::Bgr
                },
                Geometry {
                    width: 640,
                    height: 360,
                    stride: 1928,
                    format: PixelFormat::Bgr
                }
            ]
        );
    }

    #[test]
    fn bad_fault_flags_name_their_flag() {
        let cases: &[(&[&str], &str)] = &[
            (&["--torn-max-delay-us", "5"], "--torn-max-delay-us"),
            (&["--torn-after", "5"], "--torn-after"),
            (
                &["--torn-writes", "--torn-max-delay-us", "2000000"],
                "--torn-max-delay-us",
            ),
            (&["--torn-writes", "--abi", "v2.1"], "--torn-writes"),
            (&["--stamp", "--format", "gray", "--width", "3"], "--stamp"),
            (&["--reset-recreate"], "--reset-recreate"),
            (&["--reset-sizes", "320x180"], "--reset-sizes"),
            (
                &["--reset-every", "5", "--reset-sizes", "320"],
                "--reset-sizes",
            ),
            (
                &[
                    "--reset-every",
                    "5",
                    "--abi",
                    "v2.1",
                    "--reset-sizes",
                    "320x180",
                ],
                "--reset-sizes",
            ),
            (
                &[
                    "--reset-every",
                    "5",
                    "--format",
                    "yuyv",
                    "--reset-sizes",
                    "321x180",
                ],
                "--reset-sizes",
            ),
            (
                &[
                    "--reset-every",
                    "5",
                    "--stamp",
                    "--format",
                    "gray",
                    "--reset-sizes",
                    "2x2",
                ],
                "--reset-sizes",
            ),
        ];
        for (extra, flag) in cases {
            let mut args = vec!["--label", "c"];
            args.extend_from_slice(extra);
            let e = config(&args).unwrap_err();
            assert!(e.0.contains(flag), "{extra:?}: {e}");
        }
    }

    #[test]
    fn depth_and_confidence_flags() {
        let planes = |extra: &[&str]| {
            let mut args = vec!["--label", "c"];
            args.extend_from_slice(extra);
            config(&args).unwrap().planes
        };
        assert_eq!(planes(&[]), FloatPlanes::NONE);
        assert_eq!(
            planes(&["--depth-unit", "mm"]),
            FloatPlanes {
                depth: Some(DepthUnit::Millimetre),
                confidence: false
            }
        );
        assert_eq!(
            planes(&["--depth-unit", "m", "--confidence"]),
            FloatPlanes {
                depth: Some(DepthUnit::Metre),
                confidence: true
            }
        );
        // Minor 1 masks may be sparse: CONFIDENCE alone is fine with v2.1.
        assert_eq!(
            planes(&["--abi", "v2.1", "--confidence"]),
            FloatPlanes {
                depth: None,
                confidence: true
            }
        );
        assert!(
            SimArgs::try_parse_from(["cvmmap_sim", "--label", "c", "--depth-unit", "cm"]).is_err()
        );
    }

    #[test]
    fn bad_depth_flags_name_their_flag() {
        let cases: &[(&[&str], &str)] = &[
            (&["--abi", "v1", "--depth-unit", "mm"], "--depth-unit"),
            (
                &["--abi", "v1", "--depth-unit", "m", "--confidence"],
                "--depth-unit",
            ),
            (&["--abi", "v1", "--confidence"], "--confidence"),
            (&["--confidence"], "--depth-unit"),
            (
                &[
                    "--format",
                    "gray",
                    "--width",
                    "30000",
                    "--height",
                    "30000",
                    "--depth-unit",
                    "mm",
                ],
                "--width",
            ),
            (
                &[
                    "--reset-every",
                    "5",
                    "--depth-unit",
                    "mm",
                    "--confidence",
                    "--reset-sizes",
                    "320x180,20000x20000",
                ],
                "--reset-sizes",
            ),
        ];
        for (extra, flag) in cases {
            let mut args = vec!["--label", "c"];
            args.extend_from_slice(extra);
            let e = config(&args).unwrap_err();
            assert!(e.0.contains(flag) && !e.0.contains('\n'), "{extra:?}: {e}");
        }
        // The v1 message says why.
        let e = config(&["--label", "c", "--abi", "v1", "--depth-unit", "mm"]).unwrap_err();
        assert!(e.0.contains("v1"), "{e}");
    }
}
