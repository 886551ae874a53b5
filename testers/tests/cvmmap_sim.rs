//! Runs the real `cvmmap_sim` binary and checks what it puts on the wire,
//! decoding the bytes here by contract offsets (`cv-mmap-ipc.md` §2, §3, §6).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{unique, wait_for_path, wait_timeout};

const SIM: &str = env!("CARGO_BIN_EXE_cvmmap_sim");

fn u16_at(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes(b[o..o + 2].try_into().unwrap())
}
fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(b[o..o + 4].try_into().unwrap())
}
fn u64_at(b: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(b[o..o + 8].try_into().unwrap())
}

/// Removes leftovers even when an assertion fails.
struct Cleanup(Vec<PathBuf>);
impl Drop for Cleanup {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = std::fs::remove_file(p);
            let _ = std::fs::remove_dir(p);
        }
    }
}

/// A SUB socket connected (and subscribed) before the producer exists.
fn subscriber(endpoint: &str) -> zmq::Socket {
    let sock = zmq::Context::new().socket(zmq::SUB).unwrap();
    sock.set_linger(0).unwrap();
    sock.set_reconnect_ivl(5).unwrap();
    sock.set_rcvtimeo(50).unwrap();
    sock.set_subscribe(b"").unwrap();
    sock.connect(endpoint).unwrap();
    sock
}

fn spawn_sim(args: &[&str]) -> Child {
    Command::new(SIM)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn cvmmap_sim")
}

/// Decodes one sync message (§3) and returns (frame_count, timestamp_ns).
fn check_sync(msg: &[u8], label: &str) -> (u32, u64) {
    assert_eq!(msg.len(), 48, "sync size");
    assert_eq!(
        &msg[0..4],
        &[0x7D, 0, 1, 0],
        "magic, reserved, major 1, minor 0"
    );
    assert_eq!(&msg[8..16], &[0; 8], "reserved");
    let mut expected_label = [0u8; 24];
    expected_label[..label.len()].copy_from_slice(label.as_bytes());
    assert_eq!(&msg[24..48], &expected_label, "label");
    (u32_at(msg, 4), u64_at(msg, 16))
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

/// Receives syncs until `want` arrived or `limit` passed.
fn collect_syncs(sub: &zmq::Socket, label: &str, want: usize, limit: Duration) -> Vec<(u32, u64)> {
    let deadline = Instant::now() + limit;
    let mut got = Vec::new();
    while got.len() < want && Instant::now() < deadline {
        if let Ok(msg) = sub.recv_bytes(0) {
            got.push(check_sync(&msg, label));
        }
    }
    got
}

fn assert_increasing(syncs: &[(u32, u64)]) {
    for w in syncs.windows(2) {
        assert!(w[1].0 > w[0].0, "frame counts not increasing: {syncs:?}");
        assert!(w[1].1 >= w[0].1, "timestamps going back: {syncs:?}");
    }
    for &(_, ts) in syncs {
        assert!(
            now_ns().abs_diff(ts) < 60_000_000_000,
            "timestamp {ts} is not wall clock"
        );
    }
}

/// §6 pattern, BGR order.
fn bgr(x: u64, y: u64, f: u64) -> [u8; 3] {
    [
        ((x + 3 * f) % 256) as u8,
        ((2 * y + 5 * f) % 256) as u8,
        ((x / 2 + y / 3 + 7 * f) % 256) as u8,
    ]
}

/// Reads the segment until a coherent published frame shows the §6 pattern at
/// a few pixels; returns the metadata block. `px` maps BGR to the stored bytes.
fn check_segment(
    path: &Path,
    size: usize,
    stride: usize,
    channels: usize,
    px: impl Fn([u8; 3]) -> Vec<u8>,
) -> Vec<u8> {
    check_segment_with(path, size, stride, channels, |stored, c| {
        stored == &px(c)[..]
    })
}

/// Like [`check_segment`], with a predicate `matches(stored_pixel, bgr)`.
fn check_segment_with(
    path: &Path,
    size: usize,
    stride: usize,
    channels: usize,
    matches: impl Fn(&[u8], [u8; 3]) -> bool,
) -> Vec<u8> {
    for _ in 0..200 {
        let data = std::fs::read(path).expect("read segment");
        assert_eq!(data.len(), size, "segment size");
        if &data[0..8] != b"CV-MMAP\0" {
            std::thread::sleep(Duration::from_millis(5)); // not written yet
            continue;
        }
        let f = u64::from(u32_at(&data, 0x0C));
        let ok = [(0u64, 0u64), (5, 7), (31, 20)].iter().all(|&(x, y)| {
            let o = 256 + y as usize * stride + x as usize * channels;
            matches(&data[o..o + channels], bgr(x, y, f))
        });
        if ok {
            return data[..256].to_vec();
        }
        // Torn read (frame replaced while copying): try again.
    }
    panic!("segment never showed a coherent test pattern");
}

fn terminate(child: &mut Child, signal: i32) {
    // SAFETY: plain kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, signal) }, 0);
    let t = Instant::now();
    let status =
        wait_timeout(child, Duration::from_secs(2)).expect("exit within 2 s of the signal");
    assert!(
        status.success(),
        "exit status {status:?} after signal {signal}"
    );
    assert!(t.elapsed() < Duration::from_secs(2));
}

#[test]
fn v2_explicit_names_publishes_and_cleans_up_on_sigterm() {
    let name = unique("cvmt_sim_");
    let dir = PathBuf::from(format!("/tmp/{}", unique("cvmt_dir_")));
    let ipc = dir.join("sync.ipc");
    let shm = PathBuf::from(format!("/dev/shm/{name}"));
    let _cleanup = Cleanup(vec![shm.clone(), ipc.clone(), dir.clone()]);
    let endpoint = format!("ipc://{}", ipc.display());
    let sub = subscriber(&endpoint);
    let mut child = spawn_sim(&[
        "--label",
        "simlbl",
        "--shm-name",
        &name,
        "--zmq-endpoint",
        &endpoint,
        "--abi",
        "v2",
        "--format",
        "bgr",
        "--width",
        "64",
        "--height",
        "48",
        "--row-padding",
        "3",
        "--fps",
        "50",
        "--frames",
        "0",
    ]);

    let stride = 64 * 3 + 3;
    assert!(
        wait_for_path(&shm, Duration::from_secs(5)),
        "segment not created"
    );
    let meta = check_segment(&shm, 256 + stride * 48, stride, 3, |c| c.to_vec());
    assert_eq!((meta[8], meta[9]), (2, 0), "v2.0");
    assert_eq!((meta[0x20], meta[0x21]), (1, 1), "plane count and mask");
    assert_eq!(
        (
            u16_at(&meta, 0x22),
            u16_at(&meta, 0x24),
            u16_at(&meta, 0x26)
        ),
        (64, 24, 4)
    );
    assert_eq!(
        u32_at(&meta, 0x28) as usize,
        stride * 48,
        "payload_size_bytes"
    );
    assert_eq!(&meta[64..68], &[0, 1, 0, 0], "LEFT, BGR, U8");
    let desc: Vec<u32> = (0..5).map(|i| u32_at(&meta, 68 + 4 * i)).collect();
    assert_eq!(desc, vec![64, 48, stride as u32, 0, (stride * 48) as u32]);
    assert!(
        meta[88..].iter().all(|&b| b == 0),
        "inactive descriptors and padding zero"
    );
    assert_eq!(
        u64_at(&meta, 0x18),
        u64::from(u32_at(&meta, 0x0C)) + 1,
        "publish_seq"
    );

    let syncs = collect_syncs(&sub, "simlbl", 5, Duration::from_secs(5));
    assert_eq!(syncs.len(), 5, "syncs received: {syncs:?}");
    assert_increasing(&syncs);

    assert!(ipc.exists(), "ipc socket file exists while running");
    terminate(&mut child, libc::SIGTERM);
    assert!(!shm.exists(), "segment removed");
    assert!(!ipc.exists(), "ipc file removed");
}

#[test]
fn v1_target_names_and_sigint_cleanup() {
    let instance = unique("c");
    let ns = "cvmt";
    let dir = PathBuf::from(format!("/tmp/{}", unique("cvmt_pfx_")));
    let base = format!("{ns}_{instance}");
    let ipc = dir.join(&base);
    let shm = PathBuf::from(format!("/dev/shm/{base}"));
    let _cleanup = Cleanup(vec![shm.clone(), ipc.clone(), dir.clone()]);
    // A stale socket file must not make bind fail.
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(&ipc, b"stale").unwrap();
    let target = format!("cvmmap://{instance}@{}?namespace={ns}", dir.display());
    let sub = subscriber(&format!("ipc://{}", ipc.display()));
    let mut child = spawn_sim(&[
        "--target",
        &target,
        "--abi",
        "v1",
        "--format",
        "rgba",
        "--width",
        "40",
        "--height",
        "30",
        "--row-padding",
        "8",
        "--fps",
        "50",
    ]);

    let stride = 40 * 4 + 8;
    assert!(
        wait_for_path(&shm, Duration::from_secs(5)),
        "segment not created"
    );
    let meta = check_segment(&shm, 256 + stride * 30, stride, 4, |[b, g, r]| {
        vec![r, g, b, 255]
    });
    assert_eq!((meta[8], meta[9]), (1, 0), "v1");
    assert_eq!((u16_at(&meta, 0x18), u16_at(&meta, 0x1A)), (40, 30));
    assert_eq!(&meta[0x1C..0x1F], &[4, 0, 2], "channels 4, U8, RGBA");
    assert_eq!(u32_at(&meta, 0x20) as usize, stride * 30, "buffer_size");
    assert!(meta[0x24..].iter().all(|&b| b == 0));

    let syncs = collect_syncs(&sub, &instance, 3, Duration::from_secs(5));
    assert_eq!(syncs.len(), 3, "syncs received: {syncs:?}");
    assert_increasing(&syncs);

    terminate(&mut child, libc::SIGINT);
    assert!(!shm.exists(), "segment removed");
    assert!(!ipc.exists(), "ipc file removed");
}

#[test]
fn finite_run_exits_zero_with_json_and_last_syncs() {
    let name = unique("cvmt_fin_");
    let ipc = PathBuf::from(format!("/tmp/{name}.ipc"));
    let json = PathBuf::from(format!("/tmp/{name}.json"));
    let shm = PathBuf::from(format!("/dev/shm/{name}"));
    let _cleanup = Cleanup(vec![shm.clone(), ipc.clone(), json.clone()]);
    let endpoint = format!("ipc://{}", ipc.display());
    let sub = subscriber(&endpoint);
    let mut child = spawn_sim(&[
        "--label",
        "fin",
        "--shm-name",
        &name,
        "--zmq-endpoint",
        &endpoint,
        "--frames",
        "5",
        "--fps",
        "50",
        "--width",
        "32",
        "--height",
        "16",
        "--json",
        json.to_str().unwrap(),
    ]);

    // Collect while it runs; the slow joiner may miss the first ones, not the last.
    let mut syncs = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline && syncs.last().is_none_or(|&(fc, _)| fc < 4) {
        if let Ok(msg) = sub.recv_bytes(0) {
            syncs.push(check_sync(&msg, "fin"));
        }
    }
    let status = wait_timeout(&mut child, Duration::from_secs(5)).expect("finite run must end");
    assert_eq!(status.code(), Some(0));
    assert_eq!(
        syncs.last().map(|s| s.0),
        Some(4),
        "last sync missing: {syncs:?}"
    );
    assert_increasing(&syncs);

    let summary: serde_json::Value =
        serde_json::from_str(std::fs::read_to_string(&json).unwrap().trim()).unwrap();
    assert_eq!(summary["frames_published"], 5);
    assert_eq!(summary["label"], "fin");
    assert_eq!(summary["shm_name"], name.as_str());
    assert_eq!(summary["endpoint"], endpoint.as_str());
    // 5 frames at 50 fps: the last is due at 80 ms.
    assert!(summary["elapsed_ms"].as_u64().unwrap() >= 80, "{summary}");
    assert!(!shm.exists() && !ipc.exists(), "cleanup after a finite run");
}

fn run_to_end(args: &[&str]) -> (Option<i32>, String) {
    let mut child = Command::new(SIM)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = common::StderrLines::capture(child.stderr.take().unwrap());
    let status = wait_timeout(&mut child, Duration::from_secs(5)).expect("bad args must exit");
    (status.code(), stderr.until_eof(Duration::from_secs(2)))
}

#[test]
fn label_over_24_bytes_exits_2() {
    let label = "a".repeat(25);
    let name = unique("cvmt_lbl_");
    let (code, stderr) = run_to_end(&[
        "--label",
        &label,
        "--shm-name",
        &name,
        "--zmq-endpoint",
        "ipc:///tmp/cvmt_unused",
        "--frames",
        "1",
    ]);
    assert_eq!(code, Some(2), "stderr: {stderr}");
    assert!(
        stderr.contains("--label") && stderr.contains("25"),
        "stderr: {stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    assert!(!Path::new(&format!("/dev/shm/{name}")).exists());
}

#[test]
fn bad_values_exit_2_naming_the_flag() {
    for (extra, flag) in [
        (&["--fps", "0"][..], "--fps"),
        (&["--format", "yuyv", "--width", "33"], "--width"),
        (&["--abi", "v3"], "--abi"),
        (&["--width", "abc"], "--width"),
        (&["--encoded-codec", "h264"], "--encoded-codec"),
        (
            &["--abi", "v1", "--encoded-codec", "h265"],
            "--encoded-codec",
        ),
        (
            &["--abi", "v2", "--encoded-codec", "h264"],
            "--encoded-codec",
        ),
        (
            &["--abi", "v2.1", "--encoded-codec", "vp9"],
            "--encoded-codec",
        ),
        (&["--abi", "v2.1", "--width", "33"], "--width"),
    ] {
        let mut args = vec!["--label", "badv", "--frames", "1"];
        args.extend_from_slice(extra);
        let (code, stderr) = run_to_end(&args);
        assert_eq!(code, Some(2), "{extra:?}: {stderr}");
        assert!(stderr.contains(flag), "{extra:?}: {stderr}");
    }
}

/// BT.601 limited range from 8-bit RGB, in floating point (the producer may
/// round differently by one step).
fn yuv601(r: u8, g: u8, b: u8) -> [f64; 3] {
    let (r, g, b) = (f64::from(r), f64::from(g), f64::from(b));
    [
        16.0 + (65.481 * r + 128.553 * g + 24.966 * b) / 255.0,
        128.0 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255.0,
        128.0 + (112.0 * r - 93.786 * g - 18.214 * b) / 255.0,
    ]
}

fn yuv_matches(stored: &[u8], [b, g, r]: [u8; 3]) -> bool {
    let want = yuv601(r, g, b);
    stored.len() == 3
        && stored
            .iter()
            .zip(want)
            .all(|(&s, w)| (f64::from(s) - w).abs() <= 1.0)
}

#[test]
fn yuv_format_streams_packed_444() {
    let name = unique("cvmt_yuv_");
    let ipc = PathBuf::from(format!("/tmp/{name}.ipc"));
    let shm = PathBuf::from(format!("/dev/shm/{name}"));
    let _cleanup = Cleanup(vec![shm.clone(), ipc.clone()]);
    let endpoint = format!("ipc://{}", ipc.display());
    let sub = subscriber(&endpoint);
    let mut child = spawn_sim(&[
        "--label",
        "yuvlbl",
        "--shm-name",
        &name,
        "--zmq-endpoint",
        &endpoint,
        "--format",
        "yuv",
        "--width",
        "40",
        "--height",
        "30",
        "--row-padding",
        "2",
        "--fps",
        "50",
    ]);
    let stride = 40 * 3 + 2;
    assert!(
        wait_for_path(&shm, Duration::from_secs(5)),
        "segment not created"
    );
    let meta = check_segment_with(&shm, 256 + stride * 30, stride, 3, yuv_matches);
    assert_eq!((meta[8], meta[9]), (2, 0));
    assert_eq!(&meta[64..68], &[0, 5, 0, 0], "LEFT, YUV (5), U8");
    let desc: Vec<u32> = (0..5).map(|i| u32_at(&meta, 68 + 4 * i)).collect();
    assert_eq!(desc, vec![40, 30, stride as u32, 0, (stride * 30) as u32]);
    let syncs = collect_syncs(&sub, "yuvlbl", 3, Duration::from_secs(5));
    assert_eq!(syncs.len(), 3, "syncs received: {syncs:?}");
    assert_increasing(&syncs);
    terminate(&mut child, libc::SIGTERM);
    assert!(!shm.exists());
}

/// Annex-B NAL unit types of an access unit (own scan, independent of the simulator).
fn nal_types(au: &[u8], h265: bool) -> Vec<u8> {
    let mut types = Vec::new();
    let mut i = 0;
    while i + 3 < au.len() {
        if au[i..i + 3] == [0, 0, 1] {
            let h = au[i + 3];
            types.push(if h265 { (h >> 1) & 0x3F } else { h & 0x1F });
            i += 3;
        } else {
            i += 1;
        }
    }
    types
}

/// One coherent v2.1 frame read from the segment: metadata and payload.
struct Frame {
    meta: Vec<u8>,
    payload: Vec<u8>,
}

/// Reads metadata, payload, metadata again through an open descriptor (which
/// stays valid after the producer unlinks the name and follows its growth);
/// `None` while unwritten or when the frame changed during the copy.
fn read_frame(file: &std::fs::File) -> Option<Frame> {
    use std::os::unix::fs::FileExt;
    let mut meta = vec![0u8; 256];
    file.read_exact_at(&mut meta, 0).ok()?;
    if &meta[0..8] != b"CV-MMAP\0" {
        return None;
    }
    let payload_size = u32_at(&meta, 0x28) as usize;
    let size = file.metadata().ok()?.len() as usize;
    assert!(
        payload_size <= size - 256,
        "payload_size_bytes {payload_size} beyond the segment ({size} bytes)"
    );
    let mut payload = vec![0u8; payload_size];
    file.read_exact_at(&mut payload, 256).ok()?;
    let mut again = vec![0u8; 256];
    file.read_exact_at(&mut again, 0).ok()?;
    (again == meta).then_some(Frame { meta, payload })
}

struct V21Case<'a> {
    codec: &'a str,
    format: &'a str,
    fps: &'a str,
    extra: &'a [&'a str],
    /// Expected (frame_rate_num, frame_rate_den).
    rate: (u16, u16),
    /// Stored bytes of a pixel vs its BGR colour.
    pixel: fn(&[u8], [u8; 3]) -> bool,
}

/// Runs `cvmmap_sim --abi v2.1 --frames 3` and checks every published frame
/// (contract §2, minor 1) while it runs; returns the final segment size, the
/// parsed JSON summary and the simulator's log.
fn run_v2_1(case: &V21Case) -> (u64, serde_json::Value, String) {
    let name = unique("cvmt_v21_");
    let ipc = PathBuf::from(format!("/tmp/{name}.ipc"));
    let json = PathBuf::from(format!("/tmp/{name}.json"));
    let shm = PathBuf::from(format!("/dev/shm/{name}"));
    let _cleanup = Cleanup(vec![shm.clone(), ipc.clone(), json.clone()]);
    let endpoint = format!("ipc://{}", ipc.display());
    let (width, height) = (64usize, 48usize);
    let mut args = vec![
        "--label",
        "v21",
        "--shm-name",
        &name,
        "--zmq-endpoint",
        &endpoint,
        "--abi",
        "v2.1",
        "--encoded-codec",
        case.codec,
        "--format",
        case.format,
        "--width",
        "64",
        "--height",
        "48",
        "--fps",
        case.fps,
        "--frames",
        "3",
        "--json",
        json.to_str().unwrap(),
    ];
    args.extend_from_slice(case.extra);
    let mut child = Command::new(SIM)
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = common::StderrLines::capture(child.stderr.take().unwrap());
    let h265 = case.codec == "h265";

    assert!(
        wait_for_path(&shm, Duration::from_secs(10)),
        "segment not created: {}",
        stderr.text()
    );
    let file = std::fs::File::open(&shm).expect("open segment");
    let mut frames = std::collections::BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while frames.len() < 3 && Instant::now() < deadline {
        if let Some(fr) = read_frame(&file) {
            frames.entry(u32_at(&fr.meta, 0x0C)).or_insert(fr);
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let status = wait_timeout(&mut child, Duration::from_secs(10)).expect("finite run must end");
    assert_eq!(status.code(), Some(0), "stderr: {}", stderr.text());
    let ids: Vec<u32> = frames.keys().copied().collect();
    assert_eq!(ids, vec![0, 1, 2], "frames seen; stderr: {}", stderr.text());
    let final_size = file.metadata().unwrap().len();

    let channels = 3;
    let raw = width * height * channels;
    let mut pts = Vec::new();
    for (&f, fr) in &frames {
        let m = &fr.meta;
        assert_eq!((m[0x08], m[0x09]), (2, 1), "frame {f}: major 2, minor 1");
        assert_eq!(u16_at(m, 0x0A), 0, "flags");
        assert_eq!(u64_at(m, 0x18), u64::from(f) + 1, "publish_seq");
        assert_eq!(m[0x20], 2, "plane_count");
        assert_eq!(m[0x21], 0b1001, "plane_presence_mask");
        assert_eq!(
            (u16_at(m, 0x22), u16_at(m, 0x24), u16_at(m, 0x26)),
            (64, 24, 4)
        );
        assert_eq!(m[0x2C], 0, "depth_unit");
        // Slot 0: LEFT, raw frame at offset 0.
        let fmt_code = if case.format == "yuv" { 5 } else { 1 };
        assert_eq!(&m[64..68], &[0, fmt_code, 0, 0], "slot 0 LEFT");
        let slot0: Vec<u32> = (0..5).map(|i| u32_at(m, 68 + 4 * i)).collect();
        assert_eq!(slot0, vec![64, 48, 192, 0, raw as u32], "slot 0 geometry");
        assert!(m[88..136].iter().all(|&b| b == 0), "slots 1 and 2 empty");
        // Slot 3: the access unit right after slot 0.
        assert_eq!(&m[136..140], &[3, 4, 0, 0], "slot 3 ENCODED_AU, GRAY, U8");
        let au_len = u32_at(m, 140);
        assert!(au_len > 0);
        let slot3: Vec<u32> = (0..5).map(|i| u32_at(m, 140 + 4 * i)).collect();
        assert_eq!(
            slot3,
            vec![au_len, 1, au_len, raw as u32, au_len],
            "slot 3 geometry: width = stride = size = AU length, height 1"
        );
        assert_eq!(
            u32_at(m, 0x28) as usize,
            raw + au_len as usize,
            "payload_size_bytes"
        );
        assert!(m[160..].iter().all(|&b| b == 0), "padding");
        // Extension at 0x2D.
        assert_eq!(m[0x2D], if h265 { 2 } else { 1 }, "codec");
        assert_eq!(m[0x2E], 1, "Annex B");
        let flags = u16_at(m, 0x2F);
        assert_eq!(flags & !1, 0, "only the keyframe bit");
        assert_eq!((u16_at(m, 0x31), u16_at(m, 0x33)), case.rate, "frame rate");
        pts.push(u64_at(m, 0x35));
        assert_eq!(&m[0x3D..0x40], &[0, 0, 0], "reserved");

        // The raw plane is frame f's pattern.
        for (x, y) in [(0usize, 0usize), (5, 7), (63, 47)] {
            let o = y * 192 + x * 3;
            assert!(
                (case.pixel)(&fr.payload[o..o + 3], bgr(x as u64, y as u64, u64::from(f))),
                "frame {f} pixel ({x},{y})"
            );
        }
        // The access unit.
        let au = &fr.payload[raw..raw + au_len as usize];
        assert!(
            au.starts_with(&[0, 0, 0, 1]) || au.starts_with(&[0, 0, 1]),
            "frame {f}: AU starts with an Annex-B start code: {:02x?}",
            &au[..au.len().min(8)]
        );
        let types = nal_types(au, h265);
        let keyframe = flags & 1 == 1;
        let irap = if h265 {
            types.iter().any(|t| (16..=23).contains(t))
        } else {
            types.contains(&5)
        };
        assert_eq!(
            keyframe, irap,
            "frame {f}: keyframe flag vs NAL types {types:?}"
        );
        if f == 0 {
            assert!(keyframe, "first AU is a keyframe");
            let sets: &[u8] = if h265 { &[32, 33, 34] } else { &[7, 8] };
            for t in sets {
                assert!(types.contains(t), "first AU lacks NAL type {t}: {types:?}");
            }
        }
    }
    let period = 1e9 * f64::from(case.rate.1) / f64::from(case.rate.0);
    assert_eq!(pts[0], 0, "stream_pts_ns starts at 0");
    for w in pts.windows(2) {
        let step = (w[1] - w[0]) as f64;
        assert!(
            (step - period).abs() <= 1.0,
            "pts step {step} vs {period}: {pts:?}"
        );
    }
    let summary: serde_json::Value =
        serde_json::from_str(std::fs::read_to_string(&json).unwrap().trim()).unwrap();
    assert_eq!(summary["frames_published"], 3);
    assert!(!shm.exists() && !ipc.exists(), "cleanup after a finite run");
    (
        final_size,
        summary,
        stderr.until_eof(Duration::from_secs(2)),
    )
}

fn bgr_matches(stored: &[u8], c: [u8; 3]) -> bool {
    stored == c
}

#[test]
fn v2_1_h264_access_units() {
    let (last, summary, _) = run_v2_1(&V21Case {
        codec: "h264",
        format: "bgr",
        fps: "5",
        extra: &[],
        rate: (5, 1),
        pixel: bgr_matches,
    });
    // 256 + raw frame + max(raw frame, 1 MiB) of AU room; no growth needed.
    let expected = 256 + 64 * 48 * 3 + (1 << 20);
    assert_eq!(last, expected);
    assert_eq!(summary["segment_grew"], 0);
}

#[test]
fn v2_1_h265_yuv_grows_the_segment_for_large_access_units() {
    let (last, summary, log) = run_v2_1(&V21Case {
        codec: "h265",
        format: "yuv",
        fps: "2.5",
        extra: &["--au-capacity", "16"],
        rate: (2500, 1000),
        pixel: yuv_matches,
    });
    let initial = 256 + 64 * 48 * 3 + 16;
    assert!(
        log.contains(&format!("({initial} bytes)")),
        "initial size: {log}"
    );
    assert!(log.contains("segment grew to"), "{log}");
    assert!(last > initial, "segment grew: {initial} -> {last}");
    assert!(summary["segment_grew"].as_u64().unwrap() >= 1, "{summary}");
    assert_eq!(summary["segment_bytes"].as_u64(), Some(last));
}
