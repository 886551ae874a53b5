//! Runs the real `cvmmap_sim` against a real `nats-server` and checks the
//! NATS side of the contract (`cv-mmap-ipc.md` §4, §5): status events,
//! control requests, body-tracking messages, and life without a server.
//!
//! Protobuf is decoded here with a few lines of our own (field number ->
//! value), not with the simulator's message types, so that a wrong field
//! number cannot hide in both.

mod common;

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_nats::Client;
use futures_util::StreamExt;

use common::nats::{NatsServer, free_tcp_port};
use common::{StderrLines, unique};

const SIM: &str = env!("CARGO_BIN_EXE_cvmmap_sim");
/// Bound on every wait in these tests.
const LIMIT: Duration = Duration::from_secs(15);

// §4 enum values.
const ONLINE: u64 = 1;
const OFFLINE: u64 = 2;
const STREAM_RESET: u64 = 3;
const OK: u64 = 0;
const INVALID_PAYLOAD: u64 = 4;
const HAS_BODY: u64 = 0x8;

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

/// A protobuf field value: varint or length-delimited bytes.
#[derive(Clone, Debug, PartialEq)]
enum Field {
    Varint(u64),
    Bytes(Vec<u8>),
}

fn varint(b: &[u8], i: &mut usize) -> u64 {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = b[*i];
        *i += 1;
        v |= u64::from(byte & 0x7F) << shift;
        if byte & 0x80 == 0 {
            return v;
        }
    }
    panic!("varint too long");
}

/// Decodes a message into field number -> value (proto3; absent = default).
fn decode(b: &[u8]) -> HashMap<u64, Field> {
    let mut out = HashMap::new();
    let mut i = 0;
    while i < b.len() {
        let key = varint(b, &mut i);
        let value = match key & 7 {
            0 => Field::Varint(varint(b, &mut i)),
            2 => {
                let n = varint(b, &mut i) as usize;
                i += n;
                Field::Bytes(b[i - n..i].to_vec())
            }
            w => panic!("unexpected wire type {w} in {b:?}"),
        };
        out.insert(key >> 3, value);
    }
    out
}

fn uint(m: &HashMap<u64, Field>, field: u64) -> u64 {
    match m.get(&field) {
        None => 0,
        Some(Field::Varint(v)) => *v,
        Some(f) => panic!("field {field} is not a varint: {f:?}"),
    }
}

fn string(m: &HashMap<u64, Field>, field: u64) -> String {
    match m.get(&field) {
        None => String::new(),
        Some(Field::Bytes(b)) => String::from_utf8(b.clone()).unwrap(),
        Some(f) => panic!("field {field} is not a string: {f:?}"),
    }
}

/// A running simulator; killed, and its files removed, on drop.
struct Sim {
    child: Child,
    stderr: StderrLines,
    /// The shm name, also the NATS key (it has no '.').
    key: String,
    ipc: PathBuf,
    json: PathBuf,
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.json);
        let _ = std::fs::remove_file(&self.ipc);
        let _ = std::fs::remove_file(format!("/dev/shm/{}", self.key));
    }
}

/// A fresh shm name; the simulator's NATS key is the same string.
fn new_key() -> String {
    unique("cvmt_nats_")
}

/// Starts the simulator on shm `key` with small frames and `--json`.
fn spawn_sim(key: &str, label: &str, extra: &[&str]) -> Sim {
    let ipc = PathBuf::from(format!("/tmp/{key}.ipc"));
    let endpoint = format!("ipc://{}", ipc.display());
    let json = PathBuf::from(format!("/tmp/{key}.json"));
    let mut child = Command::new(SIM)
        .args(["--label", label, "--shm-name", key])
        .args(["--zmq-endpoint", &endpoint])
        .args(["--width", "32", "--height", "16"])
        .args(["--json", json.to_str().unwrap()])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn cvmmap_sim");
    let stderr = StderrLines::capture(child.stderr.take().unwrap());
    Sim {
        child,
        stderr,
        key: key.to_string(),
        ipc,
        json,
    }
}

impl Sim {
    /// Waits (bounded, without blocking the runtime) for the exit; returns
    /// the status and the JSON summary.
    async fn finish(&mut self) -> (ExitStatus, serde_json::Value) {
        let deadline = Instant::now() + LIMIT;
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            assert!(
                Instant::now() < deadline,
                "cvmmap_sim did not exit: {}",
                self.stderr.text()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        let text = std::fs::read_to_string(&self.json)
            .unwrap_or_else(|e| panic!("--json: {e}; stderr: {}", self.stderr.text()));
        (status, serde_json::from_str(text.trim()).unwrap())
    }

    fn signal(&self, sig: i32) {
        // SAFETY: plain kill(2) on our own child's pid.
        assert_eq!(
            unsafe { libc::kill(self.child.id() as libc::pid_t, sig) },
            0
        );
    }
}

/// A current-thread runtime for one test.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

async fn connect(url: &str) -> Client {
    async_nats::ConnectOptions::new()
        .request_timeout(Some(Duration::from_secs(3)))
        .connect(url)
        .await
        .expect("test client connects")
}

/// `cvmmap.<key>.*`: status and body in one subscription, so their relative
/// order is the order the server got them in.
async fn subscribe_source(client: &Client, key: &str) -> async_nats::Subscriber {
    let sub = client.subscribe(format!("cvmmap.{key}.*")).await.unwrap();
    client.flush().await.unwrap();
    sub
}

async fn next_msg(sub: &mut async_nats::Subscriber) -> async_nats::Message {
    tokio::time::timeout(LIMIT, sub.next())
        .await
        .expect("message within the limit")
        .expect("subscription open")
}

/// The next status event (skipping body messages): (code, instance, timestamp_ns).
async fn next_status(sub: &mut async_nats::Subscriber) -> (u64, String, u64) {
    loop {
        let m = next_msg(sub).await;
        if m.subject.ends_with(".status") {
            let ev = decode(&m.payload);
            return (uint(&ev, 1), string(&ev, 2), uint(&ev, 3));
        }
    }
}

/// A ZeroMQ SUB on the simulator's sync endpoint (connected before the sim
/// binds), collecting (frame_count, timestamp_ns) on a thread.
struct Syncs {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Vec<(u32, u64)>>,
}

impl Syncs {
    fn collect(endpoint: &str) -> Self {
        let sock = zmq::Context::new().socket(zmq::SUB).unwrap();
        sock.set_linger(0).unwrap();
        sock.set_reconnect_ivl(5).unwrap();
        sock.set_rcvtimeo(50).unwrap();
        sock.set_subscribe(b"").unwrap();
        sock.connect(endpoint).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let thread = std::thread::spawn({
            let stop = Arc::clone(&stop);
            move || {
                let deadline = Instant::now() + LIMIT;
                let mut got = Vec::new();
                while Instant::now() < deadline {
                    match sock.recv_bytes(0) {
                        Ok(m) => {
                            assert_eq!(m.len(), 48);
                            let fc = u32::from_le_bytes(m[4..8].try_into().unwrap());
                            let ts = u64::from_le_bytes(m[16..24].try_into().unwrap());
                            got.push((fc, ts));
                        }
                        // Nothing pending and the producer is gone: done.
                        Err(_) if stop.load(Ordering::Relaxed) => break,
                        Err(_) => {}
                    }
                }
                got
            }
        });
        Self { stop, thread }
    }

    /// Call after the simulator exited: drains what is in flight, then stops.
    fn finish(self) -> Vec<(u32, u64)> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap()
    }
}

#[test]
fn status_online_stream_reset_offline_with_reset_every() {
    let server = NatsServer::start();
    let url = server.url();
    runtime().block_on(async {
        let client = connect(&url).await;
        let key = new_key();
        let mut sub = subscribe_source(&client, &key).await;
        let syncs = Syncs::collect(&format!("ipc:///tmp/{key}.ipc"));
        let mut sim = spawn_sim(
            &key,
            "natscam",
            &[
                "--frames",
                "30",
                "--fps",
                "100",
                "--reset-every",
                "10",
                "--nats-url",
                &url,
            ],
        );
        let mut codes = Vec::new();
        let mut last_ts = 0;
        while codes.last() != Some(&OFFLINE) {
            let (code, instance, ts) = next_status(&mut sub).await;
            assert_eq!(instance, "natscam", "instance = label");
            assert!(ts >= last_ts, "status timestamps go forward");
            assert!(now_ns().abs_diff(ts) < 60_000_000_000, "wall clock: {ts}");
            last_ts = ts;
            codes.push(code);
        }
        assert_eq!(codes, [ONLINE, STREAM_RESET, STREAM_RESET, OFFLINE]);
        let (status, json) = sim.finish().await;
        assert!(status.success(), "{status:?}: {}", sim.stderr.text());
        assert_eq!(json["frames_published"], 30);
        assert_eq!(json["resets"], 2);
        assert_eq!(json["nats_connected"], true);
        assert_eq!(json["nats_flushed"], true);
        assert_eq!(json["status_published"], 4);
        assert_eq!(json["body_published"], 0);
        assert_eq!(json["nats_dropped"], 0);
        assert_eq!(json["nats_key"], key.as_str());
        // The frame counter went back to 0 twice (§5); timestamps never did.
        let syncs = syncs.finish();
        assert!(syncs.len() >= 15, "syncs: {syncs:?}");
        assert!(syncs.iter().all(|&(fc, _)| fc < 10), "{syncs:?}");
        let backwards: Vec<_> = syncs.windows(2).filter(|w| w[1].0 < w[0].0).collect();
        assert_eq!(backwards.len(), 2, "{syncs:?}");
        assert!(backwards.iter().all(|w| w[1].0 == 0), "{syncs:?}");
        assert!(syncs.windows(2).all(|w| w[1].1 >= w[0].1), "{syncs:?}");
    });
}

/// One request; the reply's fields.
async fn request(client: &Client, subject: &str, payload: &[u8]) -> HashMap<u64, Field> {
    let reply = client
        .request(subject.to_string(), payload.to_vec().into())
        .await
        .unwrap_or_else(|e| panic!("request on {subject}: {e}"));
    decode(&reply.payload)
}

fn control_requests_are_answered(legacy: bool) {
    let server = NatsServer::start();
    let url = server.url();
    runtime().block_on(async {
        let client = connect(&url).await;
        let key = new_key();
        let mut sub = subscribe_source(&client, &key).await;
        let mut args = vec![
            "--frames",
            "0",
            "--fps",
            "50",
            "--body-every",
            "1",
            "--nats-url",
            &url,
        ];
        if legacy {
            args.push("--legacy-control");
        }
        let mut sim = spawn_sim(&key, "ctlcam", &args);
        // ONLINE comes after the sim's subscriptions on its connection.
        assert_eq!(next_status(&mut sub).await.0, ONLINE);
        let (ours, other) = if legacy {
            ("control", "producer")
        } else {
            ("producer", "control")
        };
        let info = format!("cvmmap.{key}.{ours}.source.info");
        let reset = format!("cvmmap.{key}.{ours}.source.reset");
        let mut answered = 0;

        // source.info: LIVE, wall-clock domain, HAS_BODY, the latest frame.
        let r = loop {
            let r = request(&client, &info, &[]).await;
            answered += 1;
            if uint(&r, 9) >= 5 {
                break r;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert_eq!(uint(&r, 1), OK);
        assert_eq!(uint(&r, 2), 1, "SourceKind LIVE");
        assert_eq!(uint(&r, 3), 1, "TimestampDomain UNIX_EPOCH_NS");
        assert_eq!(uint(&r, 4), HAS_BODY);
        assert_eq!(
            (uint(&r, 5), uint(&r, 6), uint(&r, 7)),
            (0, 0, 0),
            "no timeline"
        );
        assert!(now_ns().abs_diff(uint(&r, 8)) < 10_000_000_000);

        // Nothing answers on the other prefix.
        let none = client
            .request(
                format!("cvmmap.{key}.{other}.source.info"),
                Vec::new().into(),
            )
            .await;
        assert!(none.is_err(), "{other}.source.info answered");

        // A payload that is no protobuf.
        assert_eq!(
            uint(&request(&client, &info, &[0xFF]).await, 1),
            INVALID_PAYLOAD
        );
        assert_eq!(
            uint(&request(&client, &reset, &[0xFF]).await, 1),
            INVALID_PAYLOAD
        );
        answered += 2;

        // source.reset: OK, then STREAM_RESET before the first frame of the
        // new timeline, whose body message has frame_count 0.
        let mut before = None;
        while let Ok(Some(m)) = tokio::time::timeout(Duration::ZERO, sub.next()).await {
            if m.subject.ends_with(".body") {
                before = Some(u32::from_le_bytes(m.payload[4..8].try_into().unwrap()));
            }
        }
        assert_eq!(uint(&request(&client, &reset, &[]).await, 1), OK);
        answered += 1;
        loop {
            let m = next_msg(&mut sub).await;
            if m.subject.ends_with(".status") {
                assert_eq!(uint(&decode(&m.payload), 1), STREAM_RESET);
                break;
            }
            before = Some(u32::from_le_bytes(m.payload[4..8].try_into().unwrap()));
        }
        assert!(
            before.unwrap_or(0) > 0,
            "frames before the reset: {before:?}"
        );
        let m = next_msg(&mut sub).await;
        assert!(m.subject.ends_with(".body"), "{}", m.subject);
        assert_eq!(
            &m.payload[4..8],
            &[0, 0, 0, 0],
            "first frame after the reset"
        );

        sim.signal(libc::SIGTERM);
        let (code, _, _) = next_status(&mut sub).await;
        assert_eq!(code, OFFLINE);
        let (status, json) = sim.finish().await;
        assert!(status.success(), "{status:?}: {}", sim.stderr.text());
        assert_eq!(json["interrupted"], true);
        assert_eq!(json["requests_answered"], answered);
        assert_eq!(json["resets"], 1);
        assert_eq!(json["nats_flushed"], true);
    });
}

#[test]
fn source_info_and_reset_are_answered() {
    control_requests_are_answered(false);
}

#[test]
fn legacy_control_answers_on_control_subjects() {
    control_requests_are_answered(true);
}

#[test]
fn body_messages_have_the_contract_layout_and_the_frame_timestamp() {
    let server = NatsServer::start();
    let url = server.url();
    runtime().block_on(async {
        let client = connect(&url).await;
        let key = new_key();
        let mut sub = subscribe_source(&client, &key).await;
        let syncs = Syncs::collect(&format!("ipc:///tmp/{key}.ipc"));
        let mut sim = spawn_sim(
            &key,
            "bodycam",
            &[
                "--frames",
                "20",
                "--fps",
                "50",
                "--body-every",
                "2",
                "--body-count",
                "2",
                "--nats-url",
                &url,
            ],
        );
        let mut bodies = Vec::new();
        loop {
            let m = next_msg(&mut sub).await;
            if m.subject.ends_with(".body") {
                bodies.push(m.payload.to_vec());
            } else if uint(&decode(&m.payload), 1) == OFFLINE {
                break;
            }
        }
        let mut label = [0u8; 24];
        label[..7].copy_from_slice(b"bodycam");
        let u64_at = |b: &[u8], o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap());
        let mut stamps = HashMap::new();
        for (n, b) in bodies.iter().enumerate() {
            let fc = 2 * n as u32;
            // §4: 64-byte header, then body_count records of 3248 bytes.
            assert_eq!(b.len(), 64 + 2 * 3248);
            assert_eq!(&b[0..4], &[0x62, 0, 1, 0], "magic, -, major 1, minor 0");
            assert_eq!(u32::from_le_bytes(b[4..8].try_into().unwrap()), fc);
            let ts = u64_at(b, 8);
            assert_eq!(u64_at(b, 16), ts, "sdk_timestamp_ns");
            assert_eq!(
                &b[24..28],
                &[2, 0, 0xB0, 0x0C],
                "body_count 2, record size 3248"
            );
            assert_eq!(&b[28..36], &[0; 8]);
            assert_eq!(u32::from_le_bytes(b[36..40].try_into().unwrap()), 2 * 3248);
            assert_eq!(&b[40..64], &label);
            for r in 0..2 {
                let rec = &b[64 + r * 3248..64 + (r + 1) * 3248];
                for (i, &v) in rec.iter().enumerate() {
                    let want = (u64::from(fc) + 31 * r as u64 + 7 * i as u64) % 251;
                    assert_eq!(u64::from(v), want, "frame {fc} record {r} byte {i}");
                }
            }
            stamps.insert(fc, ts);
        }
        assert_eq!(bodies.len(), 10);
        let (status, json) = sim.finish().await;
        assert!(status.success(), "{status:?}: {}", sim.stderr.text());
        assert_eq!(json["body_published"], 10);
        // Each body message carries its frame's metadata timestamp.
        let syncs = syncs.finish();
        let matched = syncs
            .iter()
            .filter(|(fc, _)| fc % 2 == 0)
            .map(|(fc, ts)| assert_eq!(stamps.get(fc), Some(ts), "frame {fc}"))
            .count();
        assert!(matched >= 5, "syncs: {syncs:?}");
    });
}

#[test]
fn unreachable_nats_still_produces_every_frame() {
    let port = free_tcp_port(); // nothing listens there
    let url = format!("nats://127.0.0.1:{port}");
    let key = new_key();
    let syncs = Syncs::collect(&format!("ipc:///tmp/{key}.ipc"));
    let mut sim = spawn_sim(
        &key,
        "lonecam",
        &[
            "--frames",
            "20",
            "--fps",
            "100",
            "--body-every",
            "1",
            "--reset-every",
            "5",
            "--nats-url",
            &url,
        ],
    );
    let (status, json) = runtime().block_on(sim.finish());
    assert!(status.success(), "{status:?}: {}", sim.stderr.text());
    assert_eq!(json["frames_published"], 20);
    assert_eq!(json["resets"], 3);
    assert_eq!(json["nats_connected"], false);
    assert_eq!(json["nats_flushed"], false);
    assert!(json["elapsed_ms"].as_u64().unwrap() < 2_000, "{json}");
    let log = sim.stderr.until_eof(LIMIT);
    let unreachable = log.lines().filter(|l| l.contains("unreachable")).count();
    assert_eq!(unreachable, 1, "one line about the server: {log}");
    assert!(syncs.finish().len() >= 10);
}

#[test]
fn connects_when_the_server_appears() {
    let port = free_tcp_port();
    let url = format!("nats://127.0.0.1:{port}");
    let key = new_key();
    let mut sim = spawn_sim(
        &key,
        "latecam",
        &["--frames", "0", "--fps", "50", "--nats-url", &url],
    );
    assert!(
        sim.stderr.wait_for("unreachable", LIMIT),
        "{}",
        sim.stderr.text()
    );
    let server = NatsServer::start_on(port);
    runtime().block_on(async {
        let client = connect(&server.url()).await;
        let info = format!("cvmmap.{key}.producer.source.info");
        // The client retries with a backoff of at most 4 s.
        let deadline = Instant::now() + LIMIT;
        let r = loop {
            if let Ok(reply) = client.request(info.clone(), Vec::new().into()).await {
                break decode(&reply.payload);
            }
            assert!(
                Instant::now() < deadline,
                "never answered: {}",
                sim.stderr.text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert_eq!(uint(&r, 1), OK);
        assert_eq!(uint(&r, 2), 1, "LIVE: {r:?}");
        // Frames went on while there was no server (the counter may still be
        // at frame 0 when the server comes up quickly; the time is set).
        assert!(uint(&r, 8) > 0, "{r:?}");
        sim.signal(libc::SIGINT);
        let (status, json) = sim.finish().await;
        assert!(status.success(), "{status:?}");
        assert_eq!(json["nats_connected"], true);
        assert_eq!(json["nats_flushed"], true);
    });
}
