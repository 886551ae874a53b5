//! The producer loop: per frame write the payload, then the metadata, then
//! send the sync (contract `cv-mmap-ipc.md` §2 "Producer write order").
//!
//! Frames are paced on absolute deadlines `start + f/fps` (no drift); waiting
//! happens in slices of at most 20 ms so a stop request is seen promptly.
//!
//! With `--abi v2.1` each frame is rendered into a scratch buffer and encoded
//! first; then the raw plane and the access unit are copied into the segment
//! back to back (growing it when the AU does not fit), then the metadata is
//! written, then the sync is sent.
//!
//! With `--depth-unit` / `--confidence` every frame also carries its F32
//! DEPTH and CONFIDENCE planes ([`super::depth_pattern`]), right after the
//! video plane and before a v2.1 access unit; they are rendered with the
//! video plane (into the same reused buffer where it is rendered ahead) and
//! the segment is sized for all of them.
//!
//! With `--nats-url` (contract §4, §5) ONLINE is published once the segment
//! and the socket exist; a reset (`--reset-every`, or a `source.reset`
//! request) sends the counter back to 0 and publishes STREAM_RESET before the
//! first frame of the new timeline; a due body message is handed to NATS
//! right after the frame is stamped, before its payload, metadata and sync
//! are written; OFFLINE goes out at exit. None of it ever waits for NATS.
//!
//! Fault modes ([`super::faults`]): `--stamp` writes the counter into the
//! first and last rows; `--torn-writes` renders frame n+1 right after
//! sync(n), waits a random 0..=D µs, then rewrites it in place (counter and
//! timestamp first, then the payload in slow chunks) and announces it at its
//! own deadline; at a reset `--reset-sizes` switches the resolution and
//! `--reset-recreate` re-creates the segment (metadata zeroed first), while
//! `--reset-shrink` truncates the same segment to the new size at once after
//! the last sync of the old size (while readers may still be copying it).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::body::{self, BodyStamp};
use super::cli::{EncodedConfig, SimConfig};
use super::depth_pattern::FloatRenderer;
use super::encoder::{AuEncoder, EncodedAu, EncoderError};
use super::faults::{self, ResetEvent, TornWriter};
use super::layout::{self, Abi, AuMeta, FloatPlanes, Geometry, Header, Stamp};
use super::nats::proto::ModuleStatusCode;
use super::nats::{NatsLink, NatsReport, SourceState};
use super::pattern::{self, PatternTables};
use super::publisher::{PublishError, SyncPublisher};
use super::shm::ShmSegment;
use super::timeline::Timeline;

/// Longest single sleep between stop-flag checks.
const SLEEP_SLICE: Duration = Duration::from_millis(20);

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("shared memory /dev/shm/{name}: {source}")]
    Shm {
        name: String,
        source: std::io::Error,
    },
    #[error("sync endpoint {endpoint}: {source}")]
    Publish {
        endpoint: String,
        source: PublishError,
    },
    #[error(transparent)]
    Encoder(#[from] EncoderError),
    #[error(
        "frame {frame}: raw plane plus a {au_len}-byte access unit exceed the u32 payload size"
    )]
    PayloadTooLarge { frame: u64, au_len: usize },
    #[error("access-unit log {path}: {source}")]
    AuLog {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("cannot start the NATS thread: {0}")]
    NatsThread(std::io::Error),
}

/// What a run did.
#[derive(Clone, Debug, PartialEq)]
pub struct RunSummary {
    pub frames_published: u64,
    pub elapsed_ms: u64,
    /// Frames generated more than one period after their deadline.
    pub late_frames: u64,
    /// Stopped by SIGINT/SIGTERM rather than by `--frames`.
    pub interrupted: bool,
    /// Size of the segment at the end (256 + payload capacity).
    pub segment_bytes: u64,
    /// How often the segment had to grow for a large access unit.
    pub segment_grew: u64,
    /// Producer resets (§5): `--reset-every` and `source.reset` requests.
    pub resets: u64,
    /// Each reset: when (Unix ns), before which frame, the size after it,
    /// and whether the segment was re-created.
    pub reset_events: Vec<ResetEvent>,
    /// Frames whose payload was written into the segment (published ones,
    /// plus one written but not announced when a stop came in between).
    pub frames_written: u64,
    /// Of those, rewritten in place by `--torn-writes`.
    pub frames_written_in_place: u64,
    /// Wall clock (Unix ns) of the first and last published frame.
    pub first_frame_unix_ns: Option<u64>,
    pub last_frame_unix_ns: Option<u64>,
    /// Present exactly with `--nats-url`.
    pub nats: Option<NatsReport>,
}

/// The v2.1 per-frame work: encoder, scratch frame, and growth bookkeeping.
struct AuStage {
    cfg: EncodedConfig,
    encoder: AuEncoder,
    scratch: Vec<u8>,
    /// The float planes of the frame being published (`--depth-unit`,
    /// `--confidence`), reused from frame to frame.
    floats: Vec<u8>,
    grew: u64,
    /// `--au-log`: every access unit, length-prefixed.
    log: Option<std::io::BufWriter<std::fs::File>>,
    /// `--stamp`: the counter goes into the rendered frame before encoding.
    stamp: bool,
    /// With B-frames: frames pushed into the encoder so far, and the frame
    /// rendered ahead of the one being published.
    pushed: u64,
    ahead: Vec<u8>,
}

impl AuStage {
    fn new(
        cfg: EncodedConfig,
        geom: &Geometry,
        log: Option<&std::path::Path>,
        stamp: bool,
    ) -> Result<Self, SimError> {
        let log = log
            .map(|p| {
                std::fs::File::create(p)
                    .map(std::io::BufWriter::new)
                    .map_err(|source| SimError::AuLog {
                        path: p.to_owned(),
                        source,
                    })
            })
            .transpose()?;
        Ok(Self {
            log,
            stamp,
            cfg,
            encoder: AuEncoder::new(cfg.codec, geom, cfg.frame_rate, cfg.bframes)?,
            scratch: vec![0; geom.payload_size() as usize],
            floats: Vec::new(),
            pushed: 0,
            ahead: Vec::new(),
            grew: 0,
        })
    }

    /// With B-frames the unit published with frame `index` is the
    /// `index`-th in decode order; x264 hands it out once `bframes` later
    /// frames are in, so those are rendered (frame `f + k` for the k-th
    /// ahead) and pushed first.
    fn encode_ahead(
        &mut self,
        tables: &PatternTables,
        geom: &Geometry,
        f: u64,
        index: u64,
    ) -> Result<EncodedAu, SimError> {
        let need = index + 1 + u64::from(self.cfg.bframes);
        self.ahead.resize(self.scratch.len(), 0);
        while self.pushed < need {
            let k = self.pushed;
            let frame = f + (k - index);
            pattern::fill_frame(tables, geom, frame, &mut self.ahead);
            if self.stamp {
                faults::stamp_frame(geom, frame as u32, &mut self.ahead);
            }
            self.encoder
                .push(&self.ahead, self.cfg.frame_rate.pts_ns(k))?;
            self.pushed += 1;
        }
        Ok(self.encoder.pull_next()?)
    }

    /// Renders and encodes frame `f` (the `index`-th published), writes the
    /// raw plane, frame `f`'s float planes and the AU back to back into the
    /// payload, then returns the AU's metadata fields.
    fn write_frame(
        &mut self,
        shm: &mut ShmSegment,
        shm_name: &str,
        render: &Renderer,
        geom: &Geometry,
        f: u64,
        index: u64,
    ) -> Result<AuMeta, SimError> {
        let tables = &render.tables;
        pattern::fill_frame(tables, geom, f, &mut self.scratch);
        if self.stamp {
            faults::stamp_frame(geom, f as u32, &mut self.scratch);
        }
        let au = if self.cfg.bframes == 0 {
            self.encoder
                .encode(&self.scratch, self.cfg.frame_rate.pts_ns(index))?
        } else {
            self.encode_ahead(tables, geom, f, index)?
        };
        // The unit's own presentation time: with B-frames not this frame's.
        let stream_pts_ns = au.pts_ns;
        if let Some(log) = &mut self.log {
            use std::io::Write;
            let write = log
                .write_all(&(au.data.len() as u32).to_le_bytes())
                .and_then(|_| log.write_all(&au.data))
                .and_then(|_| log.flush());
            write.map_err(|source| SimError::AuLog {
                path: "--au-log".into(),
                source,
            })?;
        }
        self.floats.resize(render.floats.len(), 0);
        render.floats.fill(f, &mut self.floats);
        let left = self.scratch.len();
        let raw = left + self.floats.len();
        let needed = raw + au.data.len();
        let len = u32::try_from(au.data.len())
            .ok()
            .filter(|_| u32::try_from(needed).is_ok())
            .ok_or(SimError::PayloadTooLarge {
                frame: index,
                au_len: au.data.len(),
            })?;
        // Grow with headroom (twice the AU) so a slowly rising AU size does not
        // remap every frame; like real producers: ftruncate bigger, then remap.
        let headroom = raw + 2 * au.data.len();
        if shm
            .grow_payload(needed, headroom)
            .map_err(|source| SimError::Shm {
                name: shm_name.to_string(),
                source,
            })?
        {
            self.grew += 1;
            tracing::info!(
                "segment grew to {} bytes for a {}-byte access unit (frame {index})",
                shm.len(),
                au.data.len()
            );
        }
        let (_, payload) = shm.parts_mut();
        payload[..left].copy_from_slice(&self.scratch);
        payload[left..raw].copy_from_slice(&self.floats);
        payload[raw..needed].copy_from_slice(&au.data);
        Ok(AuMeta {
            codec: self.encoder.codec(),
            len,
            keyframe: au.keyframe,
            frame_rate: self.cfg.frame_rate,
            stream_pts_ns,
        })
    }
}

/// Bytes of a frame's raw planes: the LEFT plane plus the float planes.
fn raw_size(planes: FloatPlanes, geom: &Geometry) -> usize {
    planes.raw_size(geom) as usize
}

/// The frame-independent tables of one geometry: the video pattern's and
/// the float planes'.
struct Renderer {
    tables: PatternTables,
    floats: FloatRenderer,
}

impl Renderer {
    fn new(planes: FloatPlanes, geom: &Geometry) -> Self {
        Self {
            tables: PatternTables::new(geom.width, geom.height),
            floats: FloatRenderer::new(planes, geom.width, geom.height),
        }
    }

    /// Renders frame `f` into `buf` (at least the raw size): the LEFT plane
    /// (stamped with `stamp`), then the float planes right behind it.
    fn render_raw(&self, geom: &Geometry, f: u64, stamp: bool, buf: &mut [u8]) {
        pattern::fill_frame(&self.tables, geom, f, buf);
        if stamp {
            faults::stamp_frame(geom, f as u32, buf);
        }
        let left = geom.payload_size() as usize;
        self.floats.fill(f, &mut buf[left..]);
    }
}

/// Live wall clock (CLOCK_REALTIME) in Unix nanoseconds (§6: live sources).
pub fn wall_clock_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// Sleeps until `deadline`; returns false as soon as `stop` is set.
fn sleep_until(deadline: Instant, stop: &AtomicBool) -> bool {
    loop {
        if stop.load(Ordering::Relaxed) {
            return false;
        }
        let now = Instant::now();
        if now >= deadline {
            return true;
        }
        thread::sleep((deadline - now).min(SLEEP_SLICE));
    }
}

/// Creates the segment and the PUB socket, publishes until `--frames` or `stop`,
/// and removes both again (their `Drop`) before returning.
pub fn run(cfg: &SimConfig, stop: &AtomicBool) -> Result<RunSummary, SimError> {
    let geom = cfg.geometry;
    let planes = cfg.planes;
    let payload_size = raw_size(planes, &geom);
    // The encoder first: it is the slowest and most likely part to fail.
    let mut stage = cfg
        .encoded
        .map(|e| AuStage::new(e, &geom, cfg.au_log.as_deref(), cfg.stamp))
        .transpose()?;
    let capacity = payload_size + cfg.encoded.map_or(0, |e| e.au_capacity);
    let mut shm = ShmSegment::create(&cfg.shm_name, capacity).map_err(|source| SimError::Shm {
        name: cfg.shm_name.clone(),
        source,
    })?;
    let publisher = SyncPublisher::bind(&cfg.endpoint).map_err(|source| SimError::Publish {
        endpoint: cfg.endpoint.clone(),
        source,
    })?;
    tracing::info!(
        "cvmmap_sim started: label={} shm=/dev/shm/{} ({} bytes) endpoint={} abi={:?}{} format={:?} {}x{} stride={}{} fps={} frames={}",
        cfg.label,
        cfg.shm_name,
        shm.len(),
        cfg.endpoint,
        cfg.abi,
        cfg.encoded
            .map(|e| format!(
                " codec={:?} frame_rate={}/{}",
                e.codec, e.frame_rate.num, e.frame_rate.den
            ))
            .unwrap_or_default(),
        geom.format,
        geom.width,
        geom.height,
        geom.stride,
        match (planes.depth, planes.confidence) {
            (None, false) => String::new(),
            (depth, confidence) => format!(
                " depth={} confidence={confidence}",
                depth.map_or("none", |u| u.name())
            ),
        },
        cfg.fps,
        if cfg.frames == 0 {
            "endless".to_string()
        } else {
            cfg.frames.to_string()
        },
    );

    let state = Arc::new(SourceState::default());
    let nats = cfg
        .nats
        .as_ref()
        .map(|n| NatsLink::start(n.clone(), cfg.label.clone(), Arc::clone(&state)))
        .transpose()
        .map_err(SimError::NatsThread)?;
    if let Some(link) = &nats {
        link.status(ModuleStatusCode::Online);
    }

    let mut geom = geom;
    let mut render = Renderer::new(planes, &geom);
    let period = Duration::from_secs_f64(1.0 / cfg.fps);
    let mut start = Instant::now();
    let mut timeline = Timeline::new(cfg.reset_every);
    let mut torn = cfg.torn_max_delay_us.map(|d| {
        let mut t = TornWriter::new(d, wall_clock_ns() ^ u64::from(std::process::id()));
        t.order = cfg.torn_order;
        t
    });
    // --torn-writes renders here first, then copies into the segment slowly.
    let mut frame_buf = vec![0u8; if torn.is_some() { payload_size } else { 0 }];
    // The frame counter already rendered into frame_buf, if any.
    let mut prerendered: Option<u32> = None;
    // Plain raw frames are rendered ahead, just before their deadline, and
    // copied into the segment at it: as a camera's frame is whole when its
    // SDK hands it over, the capture stamp is followed by a copy and the
    // publication only, not by computing the pattern (which at 1080p takes
    // longer than the copy and was charged to the consumer's
    // capture-to-receiver latency). Rendering right before the deadline,
    // rather than right after the previous sync, keeps it out of the time a
    // consumer spends on the previous frame (on a 2-core host the two
    // compete for the CPU).
    let mut ahead: Option<(u32, Vec<u8>)> = None;
    let mut render_time = Duration::ZERO;
    let mut reset_events = Vec::new();
    let mut published = 0u64;
    let mut written = 0u64;
    let mut late = 0u64;
    let (mut first_ns, mut last_ns) = (None, None);
    while cfg.frames == 0 || published < cfg.frames {
        let deadline = start + Duration::from_secs_f64(published as f64 / cfg.fps);
        // --torn-writes: frame n > 0 is rendered at once, written in place
        // a random moment after sync(n-1), and announced at its deadline.
        let early = published > 0 && published >= cfg.torn_after && torn.is_some();
        if torn.is_none()
            && stage.is_none()
            && published > 0
            && let (next, false) = timeline.peek()
        {
            let lead = render_time + Duration::from_millis(2);
            if !sleep_until(deadline.checked_sub(lead).unwrap_or(deadline), stop) {
                break;
            }
            let t = Instant::now();
            let size = raw_size(planes, &geom);
            let mut buf = ahead.take().map(|(_, b)| b).unwrap_or_default();
            buf.resize(size, 0);
            render.render_raw(&geom, u64::from(next), cfg.stamp, &mut buf);
            ahead = Some((next, buf));
            render_time = t.elapsed();
        }
        if !early && !sleep_until(deadline, stop) {
            break;
        }
        if Instant::now() > deadline + period {
            late += 1;
        }
        let (frame_count, reset) = timeline.next_frame(state.take_reset_request());
        if reset {
            tracing::info!(
                "producer reset #{} before frame {published}: frame counter back to 0",
                timeline.resets
            );
            if let Some(link) = &nats {
                link.status(ModuleStatusCode::StreamReset);
            }
            let event = apply_reset(cfg, &mut shm, &mut geom, timeline.resets, published)?;
            if (geom.width, geom.height) != render.tables.size() {
                render = Renderer::new(planes, &geom);
            }
            if torn.is_some() {
                frame_buf.resize(raw_size(planes, &geom), 0);
            }
            reset_events.push(event);
        }
        if let (true, Some(t)) = (early, &mut torn) {
            // Usually rendered before the previous sync (below), so that the
            // delay alone decides when the rewrite starts.
            if reset || prerendered != Some(frame_count) {
                render.render_raw(&geom, u64::from(frame_count), true, &mut frame_buf);
            }
            prerendered = None;
            thread::sleep(t.next_delay());
            if stop.load(Ordering::Relaxed) {
                break;
            }
        }
        let stamp = Stamp {
            frame_count,
            timestamp_ns: wall_clock_ns(),
            publish_seq: published + 1,
        };
        if let (Some(link), Some(n)) = (&nats, &cfg.nats)
            && n.body_due(published)
        {
            link.body(body::message(&BodyStamp {
                frame_count,
                timestamp_ns: stamp.timestamp_ns,
                sdk_timestamp_ns: stamp.timestamp_ns,
                body_count: n.body_count,
                label: cfg.label.as_bytes(),
            }));
        }
        let f = u64::from(frame_count);
        let meta = match (&mut stage, cfg.abi) {
            (Some(stage), _) => {
                let au =
                    stage.write_frame(&mut shm, &cfg.shm_name, &render, &geom, f, published)?;
                layout::metadata_with_planes(Header::V2_1(&au), &geom, planes, &stamp)
            }
            (None, abi) => {
                let size = raw_size(planes, &geom);
                match (&mut torn, early) {
                    (Some(t), true) => {
                        let (m, p) = shm.parts_mut();
                        let id = (frame_count, stamp.timestamp_ns);
                        let pause = faults::TORN_CHUNK_PAUSE;
                        t.write_in_place(m, &mut p[..size], &frame_buf, &geom, id, pause);
                        // The float planes follow the video plane's chunks.
                        let left = geom.payload_size() as usize;
                        p[left..size].copy_from_slice(&frame_buf[left..size]);
                    }
                    _ => {
                        let payload = &mut shm.parts_mut().1[..size];
                        match ahead.take() {
                            Some((n, buf)) if n == frame_count && buf.len() == size && !reset => {
                                payload.copy_from_slice(&buf);
                                ahead = Some((n, buf));
                            }
                            _ => render.render_raw(&geom, f, cfg.stamp, payload),
                        }
                    }
                }
                let header = if abi == Abi::V1 {
                    Header::V1
                } else {
                    Header::V2
                };
                layout::metadata_with_planes(header, &geom, planes, &stamp)
            }
        };
        written += 1;
        // --torn-writes: render the next frame now, before this sync.
        if torn.is_some()
            && published + 1 >= cfg.torn_after
            && let (next, false) = timeline.peek()
        {
            render.render_raw(&geom, u64::from(next), true, &mut frame_buf);
            prerendered = Some(next);
        }
        if early && !sleep_until(deadline, stop) {
            break;
        }
        shm.parts_mut().0.copy_from_slice(&meta);
        let sync = layout::sync_message(frame_count, stamp.timestamp_ns, cfg.label.as_bytes());
        publisher.send(&sync).map_err(|source| SimError::Publish {
            endpoint: cfg.endpoint.clone(),
            source,
        })?;
        state.frame_written(frame_count, stamp.timestamp_ns);
        // --reset-shrink: re-size in place right after this sync when the
        // next frame starts a new timeline, so a reader copying this frame
        // finds the file shorter under it.
        if cfg.reset_shrink && timeline.peek().1 {
            let next = reset_geometry(cfg, timeline.resets + 1, geom);
            shm.resize_in_place(raw_size(planes, &next))
                .map_err(|source| SimError::Shm {
                    name: cfg.shm_name.clone(),
                    source,
                })?;
        }
        first_ns.get_or_insert(stamp.timestamp_ns);
        last_ns = Some(stamp.timestamp_ns);
        published += 1;
        if published == 1 {
            // The pace counts from the first frame out: a slow first encode
            // (x265 opens on its first frame) must not make frames 1, 2, ...
            // burst out back to back, which no camera does and which a
            // consumer attaching at that moment cannot follow.
            start = Instant::now();
        }
    }
    let interrupted = stop.load(Ordering::Relaxed);
    // OFFLINE (§4) after the last frame, confirmed by the server (bounded).
    let nats = nats.map(NatsLink::finish);
    let segment_bytes = shm.len() as u64;
    let segment_grew = stage.as_ref().map_or(0, |s| s.grew);
    drop(publisher);
    drop(shm);
    drop(stage);
    Ok(RunSummary {
        frames_published: published,
        elapsed_ms: start.elapsed().as_millis() as u64,
        late_frames: late,
        interrupted,
        segment_bytes,
        segment_grew,
        resets: timeline.resets,
        reset_events,
        frames_written: written,
        frames_written_in_place: torn.as_ref().map_or(0, |t| t.frames_in_place),
        first_frame_unix_ns: first_ns,
        last_frame_unix_ns: last_ns,
        nats,
    })
}

/// What a reset does to the segment: with `--reset-sizes` the next size
/// (cycling), with `--reset-recreate` a new segment under the same name
/// (metadata zeroed first), else the segment grows when the new size needs
/// it. Returns the event for the `--json` summary.
fn apply_reset(
    cfg: &SimConfig,
    shm: &mut ShmSegment,
    geom: &mut Geometry,
    reset_no: u64,
    published: u64,
) -> Result<ResetEvent, SimError> {
    *geom = reset_geometry(cfg, reset_no, *geom);
    let shm_err = |source| SimError::Shm {
        name: cfg.shm_name.clone(),
        source,
    };
    let payload = raw_size(cfg.planes, geom);
    if cfg.reset_recreate {
        let capacity = payload + cfg.encoded.map_or(0, |e| e.au_capacity);
        shm.recreate(capacity).map_err(shm_err)?;
    } else if cfg.reset_shrink {
        shm.resize_in_place(payload).map_err(shm_err)?;
    } else {
        shm.grow_payload(payload, payload).map_err(shm_err)?;
    }
    if cfg.reset_recreate || !cfg.reset_sizes.is_empty() {
        tracing::info!(
            "reset #{reset_no}: {}x{}{}",
            geom.width,
            geom.height,
            if cfg.reset_recreate {
                ", segment re-created"
            } else if cfg.reset_shrink {
                ", segment re-sized in place"
            } else {
                ""
            }
        );
    }
    Ok(ResetEvent {
        at_unix_ns: wall_clock_ns(),
        before_frame: published,
        width: geom.width,
        height: geom.height,
        recreated: cfg.reset_recreate,
    })
}

/// The geometry reset number `reset_no` (1-based) switches to: the next of
/// `--reset-sizes`, cycling, or `current` without them.
fn reset_geometry(cfg: &SimConfig, reset_no: u64, current: Geometry) -> Geometry {
    if cfg.reset_sizes.is_empty() {
        return current;
    }
    let i = (reset_no.saturating_sub(1) % cfg.reset_sizes.len() as u64) as usize;
    cfg.reset_sizes[i]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sleep_until_returns_early_on_stop() {
        let stop = AtomicBool::new(true);
        let t = Instant::now();
        assert!(!sleep_until(t + Duration::from_secs(10), &stop));
        assert!(t.elapsed() < Duration::from_millis(100));
    }

    #[test]
    fn sleep_until_past_deadline_is_immediate() {
        let stop = AtomicBool::new(false);
        assert!(sleep_until(Instant::now(), &stop));
    }

    #[test]
    fn wall_clock_is_unix_ns() {
        // After 2020-01-01 and before 2100-01-01.
        let ns = wall_clock_ns();
        assert!(ns > 1_577_836_800_000_000_000 && ns < 4_102_444_800_000_000_000);
    }
}
