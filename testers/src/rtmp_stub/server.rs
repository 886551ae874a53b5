//! The publisher-facing state machine: answers the NetConnection /
//! NetStream commands (RTMP 1.0 §7.2) and runs the checks on every message.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::amf0::{self, Value};
use super::chunk::{Conn, ConnError, Message};
use super::cli::{Mode, StubArgs};
use super::flv::{self, ConfigSummary, Kind, Signalling};
use super::stall::AfterStall;
use super::tls::{self, Socket};
use super::{EXIT_MISMATCH, EXIT_NOTHING, EXIT_PASS, EXIT_PROTOCOL, EXIT_THRESHOLD};

/// Window acknowledgement size and peer bandwidth we announce.
pub const WINDOW: u32 = 2_500_000;
/// Chunk size we switch to after `connect`.
pub const OUT_CHUNK_SIZE: u32 = 4096;

// Message type ids (RTMP 1.0 §5.4, §7.1).
const SET_CHUNK_SIZE: u8 = 1;
const ACK: u8 = 3;
const WINDOW_ACK_SIZE: u8 = 5;
const SET_PEER_BANDWIDTH: u8 = 6;
const AUDIO: u8 = 8;
const VIDEO: u8 = 9;
const DATA_AMF3: u8 = 15;
const COMMAND_AMF3: u8 = 17;
const DATA_AMF0: u8 = 18;
const COMMAND_AMF0: u8 = 20;

const CSID_CONTROL: u8 = 2;
const CSID_COMMAND: u8 = 3;
const CSID_STREAM: u8 = 5;
/// The message stream id `createStream` hands out.
const STREAM_ID: u32 = 1;

/// The one-line JSON summary.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub result: &'static str,
    pub exit_code: i32,
    pub error: Option<String>,
    pub mode: &'static str,
    pub listen_port: u16,
    pub threshold: u64,
    pub timeout_ms: u64,
    pub elapsed_ms: f64,
    pub accept_reconnects: bool,
    pub reject_publish: bool,
    pub connections: u64,
    pub handshake_c2_echo: Option<bool>,
    pub peer_chunk_size: Option<u64>,
    pub commands: Vec<String>,
    pub app: Option<String>,
    pub tc_url: Option<String>,
    pub stream_name: Option<String>,
    pub fourcc_list: Option<Vec<String>>,
    pub publishes: u64,
    pub metadata_received: bool,
    pub metadata_ok: bool,
    pub videocodecid: Option<serde_json::Value>,
    pub width: Option<f64>,
    pub height: Option<f64>,
    pub framerate: Option<f64>,
    pub sequence_headers: u64,
    pub sequence_header: Option<ConfigSummary>,
    pub video_frames: u64,
    pub keyframes: u64,
    pub first_frame_keyframe: Option<bool>,
    pub nal_units: u64,
    pub other_video_messages: u64,
    pub audio_messages: u64,
    pub timestamp_regressions: u64,
    /// Stalls performed (`--stall-after-ms`).
    pub stalls: u64,
    /// Jumps of more than 200 ms between consecutive frames' DTS (units the
    /// publisher dropped), and how many of those did not resume on a keyframe.
    pub dts_gaps: u64,
    pub dts_gaps_not_on_keyframe: u64,
    pub max_dts_gap_ms: u32,
    /// When the stall began and ended, in ms since the stub started, and
    /// its end as Unix ns.
    pub stall_started_ms: Option<f64>,
    pub stall_ended_ms: Option<f64>,
    pub stall_started_unix_ns: Option<u64>,
    pub stall_ended_unix_ns: Option<u64>,
    /// `--after-stall-threshold`.
    pub after_stall_threshold: Option<u64>,
    /// What arrived after the stall (null without one).
    pub after_stall: Option<AfterStall>,
    /// Arrival of the first coded video frame: ms since the stub started,
    /// and Unix ns.
    pub first_video_ms: Option<f64>,
    pub first_video_unix_ns: Option<u64>,
    pub first_dts: Option<u32>,
    pub last_dts: Option<u32>,
    pub cts_min: Option<i32>,
    pub cts_max: Option<i32>,
    pub bytes: u64,
    /// `--tls`: RTMP over TLS.
    pub tls: bool,
    /// Connections whose TLS handshake failed (e.g. the publisher did not
    /// trust our certificate), and the last failure.
    pub tls_handshake_failures: u64,
    pub tls_error: Option<String>,
}

/// How a run or connection stopped early.
#[derive(Debug)]
pub enum Stop {
    /// Checks failed: exit code and reason.
    Fail(i32, String),
    /// The threshold was met.
    Threshold,
    /// The connection ended (peer closed, socket error, deadline).
    Ended(String),
}

fn mismatch<T>(m: impl Into<String>) -> Result<T, Stop> {
    Err(Stop::Fail(EXIT_MISMATCH, m.into()))
}

fn violation<T>(m: impl Into<String>) -> Result<T, Stop> {
    Err(Stop::Fail(EXIT_PROTOCOL, m.into()))
}

/// Per-connection state: a reconnecting publisher starts over.
#[derive(Debug, Default)]
struct ConnState {
    sequence_header: bool,
    first_frame_seen: bool,
    last_dts: Option<u32>,
}

/// The run: settings plus the accumulating report.
pub struct Server {
    pub mode: Mode,
    pub threshold: u64,
    pub reject_publish: bool,
    /// When to stall (from the start of the first connection) and for how long.
    pub stall: Option<(Duration, Duration)>,
    /// `--after-stall-threshold`.
    pub after_stall_threshold: Option<u64>,
    /// `--until-unpublish`.
    pub until_unpublish: bool,
    /// When the stall ended.
    stall_end: Option<Instant>,
    /// When the stub started serving (time origin of the report's `_ms`).
    started: Instant,
    /// `--tls`: the TLS server settings (set with [`Server::with_tls`]).
    tls: Option<Arc<rustls::ServerConfig>>,
    pub report: Report,
}

fn unix_ns_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

impl Server {
    pub fn new(args: &StubArgs, port: u16) -> Self {
        Self {
            mode: args.mode,
            threshold: args.video_threshold,
            reject_publish: args.reject_publish,
            stall: args.stall_after_ms.map(|a| {
                (
                    Duration::from_millis(a),
                    Duration::from_millis(args.stall_ms),
                )
            }),
            after_stall_threshold: args.after_stall_threshold,
            until_unpublish: args.until_unpublish,
            stall_end: None,
            started: Instant::now(),
            tls: None,
            report: Report {
                after_stall_threshold: args.after_stall_threshold,
                result: "running",
                mode: args.mode.name(),
                listen_port: port,
                threshold: args.video_threshold,
                timeout_ms: args.timeout_ms,
                accept_reconnects: args.accept_reconnects,
                reject_publish: args.reject_publish,
                ..Report::default()
            },
        }
    }

    /// Serves RTMP over TLS with `config` (`--tls`).
    pub fn with_tls(mut self, config: Arc<rustls::ServerConfig>) -> Self {
        self.tls = Some(config);
        self.report.tls = true;
        self
    }

    /// Accepts publishers one at a time until the threshold, a failed check,
    /// the deadline, or (without reconnects) the first publisher leaving.
    /// Returns the exit code and reason; the report is filled in.
    pub fn run(
        &mut self,
        listener: &TcpListener,
        deadline: Instant,
        accept_reconnects: bool,
    ) -> (i32, String) {
        self.started = Instant::now();
        let (code, why) = self.accept_loop(listener, deadline, accept_reconnects);
        let r = &mut self.report;
        r.elapsed_ms = self.started.elapsed().as_secs_f64() * 1000.0;
        r.exit_code = code;
        r.result = match code {
            EXIT_PASS => "pass",
            EXIT_THRESHOLD => "threshold_not_met",
            EXIT_NOTHING => "timeout",
            EXIT_MISMATCH => "mode_mismatch",
            EXIT_PROTOCOL => "protocol_violation",
            _ => "error",
        };
        if code != EXIT_PASS {
            r.error = Some(why.clone());
        }
        (code, why)
    }

    /// Whether the thresholds are met: `--video-threshold` frames, with
    /// `--after-stall-threshold` that many after the stream resumed from
    /// the stall, and with `--until-unpublish` a `deleteStream` seen.
    fn threshold_met(&self) -> bool {
        let after = self
            .report
            .after_stall
            .as_ref()
            .map_or(0, |a| a.frames_after_resume);
        self.report.video_frames >= self.threshold
            && self.after_stall_threshold.is_none_or(|n| after >= n)
            && (!self.until_unpublish || self.report.commands.iter().any(|c| c == "deleteStream"))
    }

    fn not_met(&self, why: &str) -> (i32, String) {
        let n = self.report.video_frames;
        if n == 0 {
            (EXIT_NOTHING, format!("{why}: no video frame arrived"))
        } else if let Some(want) = self.after_stall_threshold
            && n >= self.threshold
        {
            let after = self
                .report
                .after_stall
                .as_ref()
                .map_or(0, |a| a.frames_after_resume);
            (
                EXIT_THRESHOLD,
                format!(
                    "{why}: {after} of {want} video frames arrived after the stream resumed from the stall"
                ),
            )
        } else {
            (
                EXIT_THRESHOLD,
                format!("{why}: {n} of {} video frames arrived", self.threshold),
            )
        }
    }

    fn accept_loop(
        &mut self,
        listener: &TcpListener,
        deadline: Instant,
        accept_reconnects: bool,
    ) -> (i32, String) {
        if let Err(e) = listener.set_nonblocking(true) {
            return (super::EXIT_IO, format!("listener: {e}"));
        }
        loop {
            let stream = loop {
                match listener.accept() {
                    Ok((s, peer)) => {
                        tracing::debug!("publisher connected from {peer}");
                        break s;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        if Instant::now() >= deadline {
                            return self.not_met("timeout");
                        }
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Err(e) => return (super::EXIT_IO, format!("accept: {e}")),
                }
            };
            if let Err(e) = stream.set_nonblocking(false) {
                return (super::EXIT_IO, format!("socket: {e}"));
            }
            self.report.connections += 1;
            let _ = stream.set_nodelay(true);
            let socket: Box<dyn Socket> = match &self.tls {
                None => Box::new(stream),
                Some(config) => match tls::accept(config, stream, deadline) {
                    Ok(s) => Box::new(s),
                    Err(why) => {
                        tracing::info!("{why}");
                        self.report.tls_handshake_failures += 1;
                        self.report.tls_error = Some(why);
                        if Instant::now() >= deadline {
                            return self.not_met("timeout");
                        }
                        if !accept_reconnects {
                            return self.not_met("publisher disconnected");
                        }
                        continue;
                    }
                },
            };
            let mut conn = Conn::new(socket, deadline);
            let res = self.serve(&mut conn);
            self.report.bytes += conn.bytes_in;
            match res {
                Stop::Ended(why) => tracing::debug!("connection ended: {why}"),
                Stop::Threshold => {
                    if !self.report.metadata_ok {
                        return (
                            EXIT_PROTOCOL,
                            "threshold met but no complete onMetaData (width, height, framerate, videocodecid)".into(),
                        );
                    }
                    let n = self.report.video_frames;
                    return (EXIT_PASS, format!("{n} video frames, all checks passed"));
                }
                Stop::Fail(code, why) => return (code, why),
            }
            if Instant::now() >= deadline {
                return self.not_met("timeout");
            }
            if !accept_reconnects {
                return self.not_met("publisher disconnected");
            }
        }
    }

    /// Runs one connection until it ends or the run stops.
    fn serve(&mut self, conn: &mut Conn) -> Stop {
        match self.serve_inner(conn) {
            Ok(never) => match never {},
            Err(stop) => stop,
        }
    }

    fn serve_inner(&mut self, conn: &mut Conn) -> Result<std::convert::Infallible, Stop> {
        let io = |e: ConnError| match e {
            ConnError::Protocol(m) => Stop::Fail(EXIT_PROTOCOL, m),
            other => Stop::Ended(other.to_string()),
        };
        let echo = conn.handshake().map_err(io)?;
        self.report.handshake_c2_echo = Some(echo);
        let mut st = ConnState::default();
        let mut peer_window: u32 = 0;
        let mut acked: u64 = 0;
        let connected = Instant::now();
        loop {
            if let Some((after, length)) = self.stall
                && connected.elapsed() >= after
            {
                // Stop reading: the publisher's socket buffers fill up.
                self.stall = None;
                self.report.stalls += 1;
                self.report.stall_started_ms = Some(self.ms_since_start());
                self.report.stall_started_unix_ns = Some(unix_ns_now());
                // A stdout line tests can wait for (like `listening <port>`).
                {
                    use std::io::Write;
                    let mut out = std::io::stdout().lock();
                    let _ = writeln!(out, "stalling {}", length.as_millis());
                    let _ = out.flush();
                }
                std::thread::sleep(length);
                self.stall_end = Some(Instant::now());
                self.report.stall_ended_ms = Some(self.ms_since_start());
                self.report.stall_ended_unix_ns = Some(unix_ns_now());
                self.report.after_stall = Some(AfterStall::default());
                {
                    use std::io::Write;
                    let mut out = std::io::stdout().lock();
                    let _ = writeln!(out, "stall ended");
                    let _ = out.flush();
                }
            }
            let m = conn.read_message().map_err(io)?;
            self.handle(conn, &mut st, &m).map_err(|e| match e {
                HandleErr::Stop(s) => s,
                HandleErr::Conn(c) => io(c),
            })?;
            match m.type_id {
                SET_CHUNK_SIZE => {
                    let n = be32(&m.payload)
                        .ok_or_else(|| Stop::Fail(EXIT_PROTOCOL, "short SetChunkSize".into()))?;
                    if n == 0 || n & 0x8000_0000 != 0 {
                        return violation(format!("SetChunkSize {n} out of range"));
                    }
                    conn.in_chunk_size = n as usize;
                    self.report.peer_chunk_size = Some(u64::from(n));
                }
                WINDOW_ACK_SIZE => {
                    peer_window = be32(&m.payload).unwrap_or(0);
                }
                _ => {}
            }
            // Acknowledge per the peer's window (§5.4.3).
            if peer_window > 0 && conn.bytes_in - acked >= u64::from(peer_window) {
                acked = conn.bytes_in;
                conn.write_message(CSID_CONTROL, ACK, 0, 0, &(acked as u32).to_be_bytes())
                    .map_err(io)?;
            }
            if self.threshold_met() {
                return Err(Stop::Threshold);
            }
        }
    }

    fn ms_since_start(&self) -> f64 {
        self.started.elapsed().as_secs_f64() * 1000.0
    }

    fn handle(
        &mut self,
        conn: &mut Conn,
        st: &mut ConnState,
        m: &Message,
    ) -> Result<(), HandleErr> {
        match m.type_id {
            COMMAND_AMF0 | COMMAND_AMF3 => {
                let body = if m.type_id == COMMAND_AMF3 {
                    m.payload.get(1..).unwrap_or_default()
                } else {
                    &m.payload[..]
                };
                let vals = amf0::decode_all(body)
                    .map_err(|e| Stop::Fail(EXIT_PROTOCOL, format!("command: {e}")))?;
                self.command(conn, &vals)
            }
            DATA_AMF0 | DATA_AMF3 => {
                let body = if m.type_id == DATA_AMF3 {
                    m.payload.get(1..).unwrap_or_default()
                } else {
                    &m.payload[..]
                };
                let vals = amf0::decode_all(body)
                    .map_err(|e| Stop::Fail(EXIT_PROTOCOL, format!("data message: {e}")))?;
                Ok(self.data(&vals)?)
            }
            AUDIO => {
                self.report.audio_messages += 1;
                Ok(())
            }
            VIDEO => Ok(self.video(st, m)?),
            _ => Ok(()),
        }
    }

    fn command(&mut self, conn: &mut Conn, vals: &[Value]) -> Result<(), HandleErr> {
        let Some(name) = vals.first().and_then(Value::as_str) else {
            return Err(Stop::Fail(
                EXIT_PROTOCOL,
                "command message does not start with a string name".into(),
            )
            .into());
        };
        let name = name.to_string();
        let txn = vals.get(1).and_then(Value::as_number).unwrap_or(0.0);
        self.report.commands.push(name.clone());
        let reply = |conn: &mut Conn, sid: u32, vals: &[Value]| {
            let csid = if sid == 0 { CSID_COMMAND } else { CSID_STREAM };
            conn.write_message(csid, COMMAND_AMF0, sid, 0, &amf0::encode_all(vals))
        };
        match name.as_str() {
            "connect" => {
                let obj = vals.get(2).cloned().unwrap_or(Value::Null);
                self.report.app = obj.get("app").and_then(Value::as_str).map(str::to_string);
                self.report.tc_url = obj.get("tcUrl").and_then(Value::as_str).map(str::to_string);
                if let Some(list) = obj.get("fourCcList") {
                    let Value::StrictArray(items) = list else {
                        return Err(Stop::Fail(
                            EXIT_PROTOCOL,
                            "connect fourCcList is not a strict array".into(),
                        )
                        .into());
                    };
                    self.report.fourcc_list = Some(
                        items
                            .iter()
                            .map(|v| v.as_str().map_or_else(|| format!("{v:?}"), str::to_string))
                            .collect(),
                    );
                }
                if self.mode == Mode::H265Enhanced
                    && !self
                        .report
                        .fourcc_list
                        .as_ref()
                        .is_some_and(|l| l.iter().any(|f| f == "hvc1"))
                {
                    return Err(Stop::Fail(
                        EXIT_MISMATCH,
                        format!(
                            "h265-enhanced: connect fourCcList {:?} does not include \"hvc1\"",
                            self.report.fourcc_list
                        ),
                    )
                    .into());
                }
                conn.write_message(CSID_CONTROL, WINDOW_ACK_SIZE, 0, 0, &WINDOW.to_be_bytes())?;
                let mut bw = WINDOW.to_be_bytes().to_vec();
                bw.push(2); // dynamic
                conn.write_message(CSID_CONTROL, SET_PEER_BANDWIDTH, 0, 0, &bw)?;
                conn.write_message(
                    CSID_CONTROL,
                    SET_CHUNK_SIZE,
                    0,
                    0,
                    &OUT_CHUNK_SIZE.to_be_bytes(),
                )?;
                conn.out_chunk_size = OUT_CHUNK_SIZE as usize;
                let mut props = vec![
                    ("fmsVer", amf0::string("FMS/3,0,1,123")),
                    ("capabilities", Value::Number(31.0)),
                ];
                if self.mode == Mode::H265Enhanced {
                    props.push(("fourCcList", Value::StrictArray(vec![amf0::string("hvc1")])));
                }
                reply(
                    conn,
                    0,
                    &[
                        amf0::string("_result"),
                        Value::Number(txn),
                        amf0::object(&props),
                        amf0::object(&[
                            ("level", amf0::string("status")),
                            ("code", amf0::string("NetConnection.Connect.Success")),
                            ("description", amf0::string("Connection succeeded.")),
                            ("objectEncoding", Value::Number(0.0)),
                        ]),
                    ],
                )?;
            }
            "releaseStream" | "FCPublish" => {
                reply(
                    conn,
                    0,
                    &[
                        amf0::string("_result"),
                        Value::Number(txn),
                        Value::Null,
                        Value::Undefined,
                    ],
                )?;
            }
            "createStream" => {
                reply(
                    conn,
                    0,
                    &[
                        amf0::string("_result"),
                        Value::Number(txn),
                        Value::Null,
                        Value::Number(f64::from(STREAM_ID)),
                    ],
                )?;
            }
            "publish" => {
                self.report.publishes += 1;
                let stream = vals
                    .get(3)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                self.report.stream_name = Some(stream.clone());
                let (level, code, desc) = if self.reject_publish {
                    (
                        "error",
                        "NetStream.Publish.BadName",
                        format!("{stream} rejected (--reject-publish)"),
                    )
                } else {
                    (
                        "status",
                        "NetStream.Publish.Start",
                        format!("{stream} is now published."),
                    )
                };
                reply(
                    conn,
                    STREAM_ID,
                    &[
                        amf0::string("onStatus"),
                        Value::Number(0.0),
                        Value::Null,
                        amf0::object(&[
                            ("level", amf0::string(level)),
                            ("code", amf0::string(code)),
                            ("description", amf0::string(&desc)),
                            ("details", amf0::string(&stream)),
                        ]),
                    ],
                )?;
            }
            _ => {} // FCUnpublish, deleteStream, closeStream, ...: recorded only
        }
        Ok(())
    }

    fn data(&mut self, vals: &[Value]) -> Result<(), Stop> {
        let mut it = vals.iter();
        let mut first = it.next().and_then(Value::as_str);
        if first == Some("@setDataFrame") {
            first = it.next().and_then(Value::as_str);
        }
        if first != Some("onMetaData") {
            return Ok(());
        }
        let Some(meta) = it.next() else {
            return violation("onMetaData without a value");
        };
        if !matches!(meta, Value::Object(_) | Value::EcmaArray(_)) {
            return violation(format!(
                "onMetaData value is not an object/ECMA array: {meta:?}"
            ));
        }
        let r = &mut self.report;
        r.metadata_received = true;
        r.width = meta.get("width").and_then(Value::as_number);
        r.height = meta.get("height").and_then(Value::as_number);
        r.framerate = meta.get("framerate").and_then(Value::as_number);
        let id = meta.get("videocodecid");
        r.videocodecid = id.map(Value::to_json);
        let Some(id) = id else {
            r.metadata_ok = false;
            return Ok(());
        };
        let Some(n) = id.as_number() else {
            return violation(format!("onMetaData videocodecid is not a number: {id:?}"));
        };
        let want = self.mode.videocodecid();
        if n != want {
            return mismatch(format!(
                "{}: onMetaData videocodecid {n} (expected {want})",
                self.mode.name()
            ));
        }
        r.metadata_ok = r.width.is_some_and(|w| w > 0.0)
            && r.height.is_some_and(|h| h > 0.0)
            && r.framerate.is_some_and(|f| f > 0.0);
        Ok(())
    }

    fn video(&mut self, st: &mut ConnState, m: &Message) -> Result<(), Stop> {
        let tag = flv::parse_video(&m.payload)
            .map_err(|e| Stop::Fail(EXIT_PROTOCOL, format!("video tag: {e}")))?;
        let ok = match (self.mode, tag.signalling) {
            (Mode::H264, Signalling::Legacy(id)) => id == flv::CODEC_AVC,
            (Mode::H265Domestic, Signalling::Legacy(id)) => id == flv::CODEC_HEVC_DOMESTIC,
            (Mode::H265Enhanced, Signalling::Ex(f)) => &f == b"hvc1",
            _ => false,
        };
        if !ok {
            return mismatch(format!(
                "{} mode received a video tag with {}",
                self.mode.name(),
                tag.signalling.describe()
            ));
        }
        let hevc = self.mode.hevc();
        let r = &mut self.report;
        match tag.kind {
            Kind::Other => r.other_video_messages += 1,
            Kind::SequenceHeader(rec) => {
                let summary = if hevc {
                    flv::parse_hevc_config(rec)
                } else {
                    flv::parse_avc_config(rec)
                }
                .map_err(|e| Stop::Fail(EXIT_PROTOCOL, format!("sequence header: {e}")))?;
                r.sequence_headers += 1;
                r.sequence_header = Some(summary);
                st.sequence_header = true;
            }
            Kind::Coded {
                keyframe,
                cts,
                data,
            } => {
                if !st.sequence_header {
                    return violation("coded video frame before the sequence header");
                }
                if !st.first_frame_seen {
                    st.first_frame_seen = true;
                    r.first_frame_keyframe.get_or_insert(keyframe);
                    if !keyframe {
                        return violation("first coded video frame is not a keyframe");
                    }
                }
                let nals = flv::nal_types(data, hevc).map_err(|e| {
                    Stop::Fail(
                        EXIT_PROTOCOL,
                        format!("video frame {}: {e}", r.video_frames),
                    )
                })?;
                r.nal_units += nals.len() as u64;
                if r.first_video_ms.is_none() {
                    r.first_video_ms = Some(self.started.elapsed().as_secs_f64() * 1000.0);
                    r.first_video_unix_ns = Some(unix_ns_now());
                }
                if let (Some(end), Some(after)) = (self.stall_end, r.after_stall.as_mut()) {
                    let step = st.last_dts.map(|d| m.timestamp.saturating_sub(d));
                    after.observe(end.elapsed().as_secs_f64() * 1000.0, keyframe, step);
                }
                if st.last_dts.is_some_and(|d| m.timestamp < d) {
                    r.timestamp_regressions += 1;
                }
                if let Some(gap) = st
                    .last_dts
                    .map(|d| m.timestamp.saturating_sub(d))
                    .filter(|&g| g > 200)
                {
                    r.dts_gaps += 1;
                    r.dts_gaps_not_on_keyframe += u64::from(!keyframe);
                    r.max_dts_gap_ms = r.max_dts_gap_ms.max(gap);
                }
                st.last_dts = Some(m.timestamp);
                r.first_dts.get_or_insert(m.timestamp);
                r.last_dts = Some(m.timestamp);
                r.cts_min = Some(r.cts_min.map_or(cts, |c| c.min(cts)));
                r.cts_max = Some(r.cts_max.map_or(cts, |c| c.max(cts)));
                r.video_frames += 1;
                r.keyframes += u64::from(keyframe);
            }
        }
        Ok(())
    }
}

enum HandleErr {
    Stop(Stop),
    Conn(ConnError),
}

impl From<Stop> for HandleErr {
    fn from(s: Stop) -> Self {
        HandleErr::Stop(s)
    }
}

impl From<ConnError> for HandleErr {
    fn from(c: ConnError) -> Self {
        HandleErr::Conn(c)
    }
}

fn be32(b: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(..4)?.try_into().ok()?))
}
