//! The simulator's producer side of NATS against the streamer, with a real
//! `nats-server`: STREAM_RESET, OFFLINE/ONLINE re-attach, body tracking
//! in-band, and source info (issue 6).

mod common;

use std::time::Duration;

use common::decoder::{GstRtpAccessUnits, nal_units};
use common::nats::{Client, NatsServer};
use common::stack::*;
use common::{Proc, Scratch, assert_exit, free_udp_port, wait_for_log};

/// The streamer's NATS subscriptions are up before the producer speaks.
fn nats_ready(st: &Proc) {
    assert!(wait_for_log(st, "NATS connected", W), "{}", st.output());
}

const W: Duration = Duration::from_secs(15);

fn is_h264_idr(au: &[u8]) -> bool {
    nal_units(au).iter().any(|n| n[0] & 0x1f == 5)
}

fn has_sps_pps_before_idr(au: &[u8]) -> bool {
    let types: Vec<u8> = nal_units(au).iter().map(|n| n[0] & 0x1f).collect();
    let idr = types.iter().position(|&t| t == 5).unwrap();
    types[..idr].contains(&7) && types[..idr].contains(&8)
}

#[test]
fn stream_reset_gives_a_keyframe_with_parameter_sets_and_forward_timestamps() {
    reset_case(true);
}

/// Contract §5: a reset seen only as the frame counter going backwards (no
/// NATS) is handled the same way.
#[test]
fn counter_going_backwards_alone_is_a_reset_too() {
    reset_case(false);
}

fn reset_case(with_nats: bool) {
    let s = Scratch::new("nats_reset");
    let nats = NatsServer::start(&s, &[]);
    let n = names("rst");
    let port = free_udp_port();
    let units = GstRtpAccessUnits::start(port, "H264", 96);
    let url = nats.url();
    let nats_flag: [&str; 2] = if with_nats {
        ["--nats-url", &url]
    } else {
        ["--no-nats", ""]
    };
    // GOP 1000 > 240 frames: every keyframe after the first comes from a reset.
    let mut args = vec![
        "--gop",
        "1000",
        "--queue-size",
        "8",
        "--ingest-idle-timeout-ms",
        "3000",
    ];
    args.extend(nats_flag.iter().filter(|a| !a.is_empty()));
    let mut st = ready_streamer(&s, &n, port, "h264", &args);
    let mut sim_args = vec!["--frames", "240", "--fps", "30", "--reset-every", "60"];
    if with_nats {
        nats_ready(&st);
        sim_args.extend(["--nats-url", url.as_str()]);
    }
    let mut sm = sim(&s, &n, &sim_args);
    assert_exit(&mut sm, T, 0);
    assert_exit(&mut st, T, 0);
    let got = units.wait_units(240, Duration::from_secs(2), Duration::from_secs(10));
    assert!(
        got.len() >= 228,
        "only {} units: {}",
        got.len(),
        summary(&s)
    );
    let keyframes: Vec<usize> = (0..got.len()).filter(|&i| is_h264_idr(&got[i])).collect();
    // The first unit, then one right after each of the 3 resets (frames 60,
    // 120, 180; a unit or two of slack for frames lost to the latest-frame queue).
    assert_eq!(keyframes.len(), 4, "keyframes at {keyframes:?}");
    for (k, want) in keyframes.iter().zip([0usize, 60, 120, 180]) {
        assert!(k.abs_diff(want) <= 3, "keyframes at {keyframes:?}");
    }
    for &k in &keyframes {
        assert!(has_sps_pps_before_idr(&got[k]), "unit {k} lacks SPS/PPS");
    }
    let ts = units.marker_timestamps();
    for w in ts.windows(2) {
        assert!(
            (w[1].wrapping_sub(w[0]) as i32) > 0,
            "RTP time went back: {w:?}"
        );
    }
    let sum = summary(&s);
    let events = if with_nats { 3 } else { 0 };
    assert_eq!(sum["stats"]["producer_stream_resets"], events, "{sum}");
    assert_eq!(sum["stats"]["producer_resets"], 3, "{sum}");
    assert_eq!(sum["stats"]["resets_applied"], 3, "{sum}");
}

#[test]
fn offline_then_online_reattaches_without_a_restart() {
    let s = Scratch::new("nats_offline");
    let nats = NatsServer::start(&s, &[]);
    let n = names("off");
    let port = free_udp_port();
    let units = GstRtpAccessUnits::start(port, "H264", 96);
    let client = Client::connect(&nats.url());
    let key = n.shm.replace('.', "_");
    let mut status = client.subscribe(&format!("cvmmap_streamer.{key}.status"));
    let mut st = ready_streamer(
        &s,
        &n,
        port,
        "h264",
        &[
            "--nats-url",
            &nats.url(),
            "--nats-status-interval-ms",
            "100",
            "--ingest-idle-timeout-ms",
            "6000",
        ],
    );
    nats_ready(&st);
    let run = |s: &Scratch| -> Proc {
        sim(
            s,
            &n,
            &["--frames", "60", "--fps", "30", "--nats-url", &nats.url()],
        )
    };
    let mut first = run(&s);
    assert!(
        status
            .wait_json(W, |v| v["state"] == "streaming"
                && v["producer"] == "online")
            .is_some()
    );
    assert_exit(&mut first, T, 0);
    assert!(
        status
            .wait_json(W, |v| v["state"] == "producer_offline")
            .is_some(),
        "no producer_offline state:\n{}",
        st.output()
    );
    let mut second = run(&s);
    let back = status
        .wait_json(W, |v| {
            v["state"] == "streaming" && v["stats"]["producer_online"] == 2
        })
        .expect("streaming again after ONLINE");
    assert_eq!(back["stats"]["producer_offline"], 1, "{back}");
    assert_exit(&mut second, T, 0);
    assert_exit(&mut st, T, 0);
    let got = units.wait_units(120, Duration::from_secs(2), Duration::from_secs(10));
    assert!(
        got.len() >= 114,
        "only {} units across both runs: {}",
        got.len(),
        summary(&s)
    );
    let sum = summary(&s);
    assert_eq!(sum["stats"]["producer_offline"], 2, "{sum}");
    assert!(sum["stats"]["segment_maps"].as_u64().unwrap() >= 2, "{sum}");
}

#[test]
fn body_tracking_arrives_in_band_with_its_frame() {
    let s = Scratch::new("nats_body");
    let nats = NatsServer::start(&s, &[]);
    let n = names("body");
    let port = free_udp_port();
    let mut rx = h264_receiver(&s, port, 85, &["--expect-body", "85"]);
    let mut st = ready_streamer(
        &s,
        &n,
        port,
        "h264",
        &[
            "--nats-url",
            &nats.url(),
            "--body-sei",
            "--ingest-idle-timeout-ms",
            "3000",
        ],
    );
    nats_ready(&st);
    let mut sm = sim(
        &s,
        &n,
        &[
            "--frames",
            "90",
            "--fps",
            "30",
            "--body-every",
            "1",
            "--body-count",
            "2",
            "--nats-url",
            &nats.url(),
        ],
    );
    assert_exit(&mut sm, T, 0);
    assert_exit(&mut st, T, 0);
    assert_exit(&mut rx, T, 0);
    let r = rx_report(&s);
    let b = &r["body_sei"];
    assert!(b["messages"].as_u64().unwrap() >= 85, "{r}");
    // A message that reached the streamer after its frame's unit went out
    // rides on the next unit (docs/body-sei.md): late, never early.
    let (matched, late) = (
        b["ts_matched"].as_u64().unwrap(),
        b["ts_late"].as_u64().unwrap(),
    );
    assert!(matched + late >= 85, "{r}");
    // Late ones come from load (NATS takes two hops through another
    // process, the frame one over ZeroMQ): 0 on a quiet 2-core host, 4-12
    // of 85 beside three busy loops, each at most 37.5 ms (one frame)
    // behind. Bounds above both, far below "all late" or "lost".
    assert!(late * 4 <= matched + late, "{r}");
    assert!(b["max_ts_delta_ns"].as_u64().unwrap() < 100_000_000, "{r}");
    assert_eq!(b["ts_mismatched"], 0, "{r}");
    assert_eq!(b["invalid"], 0, "{r}");
    let sum = summary(&s);
    // Both sides count the late ones, independently.
    assert!(
        late <= sum["stats"]["body_late"].as_u64().unwrap(),
        "{r} {sum}"
    );
    assert!(
        sum["stats"]["body_messages"].as_u64().unwrap() >= 85,
        "{sum}"
    );
    assert_eq!(sum["stats"]["body_invalid"], 0, "{sum}");
    // The producer answered source.info on the new subject.
    let info = &sum["nats"]["source_info"];
    assert_eq!(
        info["subject"],
        format!("cvmmap.{}.producer.source.info", n.shm.replace('.', "_")),
        "{sum}"
    );
    assert!(
        info["flag_names"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f == "has_body"),
        "{sum}"
    );
}
