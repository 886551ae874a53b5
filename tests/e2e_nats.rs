//! NATS with a real `nats-server`: the streamer's own status and micro
//! service, an unreachable or restarted server, auth, and the producer's
//! source info (issue 6). The simulator's producer side is in e2e_nats_sim.rs.

mod common;

use std::time::Duration;

use common::nats::{Client, NatsServer};
use common::stack::{T, h264_receiver, rx_report};
use common::{Proc, Scratch, assert_exit, bin, free_tcp_port, free_udp_port, wait_for_log};

const W: Duration = Duration::from_secs(15);

/// A streamer on the in-process test pattern (label = NATS key).
fn dummy_streamer(s: &Scratch, label: &str, port: u16, frames: u64, extra: &[&str]) -> Proc {
    let (endpoint, frames) = (format!("127.0.0.1:{port}"), frames.to_string());
    let summary = s.path("summary.json");
    let mut args = vec![
        "--input-mode",
        "dummy",
        "--dummy-label",
        label,
        "--dummy-frames",
        &frames,
        "--codec",
        "h264",
        "--rtp",
        "--rtp-endpoint",
        &endpoint,
        "--rtp-payload-type",
        "96",
        "--summary-json",
        summary.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    Proc::spawn(&bin("cvmmap_streamer"), &args, s.path("streamer.log"))
}

fn summary(s: &Scratch) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(s.path("summary.json")).unwrap()).unwrap()
}

fn label(tag: &str) -> String {
    let id = common::unique(tag);
    id[id.len().saturating_sub(20)..].replace(['-', '.'], "_")
}

#[test]
fn service_is_discoverable_reports_stats_and_forces_keyframes() {
    let s = Scratch::new("nats_service");
    let nats = NatsServer::start(&s, &[]);
    let key = label("svc");
    let port = free_udp_port();
    let mut rx = h264_receiver(&s, port, 280, &[]);
    let client = Client::connect(&nats.url());
    let mut status = client.subscribe(&format!("cvmmap_streamer.{key}.status"));
    let mut st = dummy_streamer(
        &s,
        &key,
        port,
        300,
        &[
            "--nats-url",
            &nats.url(),
            "--gop",
            "1000",
            "--nats-status-interval-ms",
            "200",
        ],
    );
    let first = status
        .wait_json(W, |v| v["state"] == "streaming")
        .unwrap_or_else(|| panic!("no streaming status:\n{}", st.output()));
    assert_eq!(first["schema"], 1);
    assert_eq!(first["key"], key.as_str());
    assert_eq!(first["encoder"]["element"], "x264enc", "{first}");

    // Discovery ($SRV.PING / $SRV.INFO, NATS micro protocol).
    let ping = client
        .request_json("$SRV.PING.cvmmap_streamer", W)
        .expect("PING answered");
    assert_eq!(ping["name"], "cvmmap_streamer");
    let info = client
        .request_json("$SRV.INFO.cvmmap_streamer", W)
        .expect("INFO answered");
    let subjects: Vec<&str> = info["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["subject"].as_str().unwrap())
        .collect();
    assert!(
        subjects.contains(&format!("cvmmap_streamer.{key}.stats").as_str()),
        "{info}"
    );
    assert!(
        subjects.contains(&format!("cvmmap_streamer.{key}.keyframe").as_str()),
        "{info}"
    );

    let stats = |c: &Client| {
        c.request_json(&format!("cvmmap_streamer.{key}.stats"), W)
            .expect("stats answered")
    };
    let s0 = stats(&client);
    assert!(s0["frames_encoded"].as_u64().unwrap() > 0, "{s0}");
    assert_eq!(s0["producer"], "unknown");
    // Three keyframe requests, each after frames have moved on.
    for _ in 0..3 {
        let before = stats(&client)["stats"]["keyframes_forced"]
            .as_u64()
            .unwrap();
        let reply = client
            .request_json(&format!("cvmmap_streamer.{key}.keyframe"), W)
            .expect("keyframe answered");
        assert_eq!(reply["ok"], true);
        let deadline = std::time::Instant::now() + W;
        while stats(&client)["stats"]["keyframes_forced"]
            .as_u64()
            .unwrap()
            <= before
        {
            assert!(std::time::Instant::now() < deadline, "keyframe not forced");
        }
    }
    assert_exit(&mut st, T, 0);
    assert_exit(&mut rx, T, 0);
    // GOP 1000 > 300 frames: every keyframe but the first was requested.
    let r = rx_report(&s);
    assert_eq!(r["keyframes"], 4, "{r}");
    let sum = summary(&s);
    assert_eq!(sum["stats"]["keyframe_requests"], 3);
    assert_eq!(sum["nats"]["connected"], true, "{sum}");
    // The goodbye status.
    assert!(status.wait_json(W, |v| v["state"] == "stopped").is_some());
}

#[test]
fn unreachable_server_is_reported_once_and_joined_when_it_appears() {
    let s = Scratch::new("nats_unreachable");
    let nats_port = free_tcp_port();
    let url = format!("nats://127.0.0.1:{nats_port}");
    let key = label("unr");
    let port = free_udp_port();
    let mut rx = h264_receiver(&s, port, 280, &[]);
    let mut st = dummy_streamer(&s, &key, port, 300, &["--nats-url", &url]);
    assert!(wait_for_log(&st, "NATS unreachable", W), "{}", st.output());
    // The stream does not wait for NATS; the server appears late.
    let nats = NatsServer::start_on(&s, nats_port);
    assert!(wait_for_log(&st, "NATS connected", W), "{}", st.output());
    let client = Client::connect(&nats.url());
    let mut status = client.subscribe(&format!("cvmmap_streamer.{key}.status"));
    assert!(status.wait_json(W, |v| v["state"] == "streaming").is_some());
    assert_exit(&mut st, T, 0);
    assert_exit(&mut rx, T, 0);
    assert_eq!(
        st.output().matches("NATS unreachable").count(),
        1,
        "{}",
        st.output()
    );
    assert_eq!(rx_report(&s)["result"], "pass");
}

#[test]
fn server_killed_mid_stream_leaves_the_stream_alone_and_status_resumes() {
    let s = Scratch::new("nats_killed");
    let mut nats = NatsServer::start(&s, &[]);
    let key = label("kill");
    let port = free_udp_port();
    let mut rx = h264_receiver(&s, port, 340, &[]);
    let mut st = dummy_streamer(
        &s,
        &key,
        port,
        360,
        &[
            "--nats-url",
            &nats.url(),
            "--nats-status-interval-ms",
            "200",
        ],
    );
    let encoded_at_kill = {
        let client = Client::connect(&nats.url());
        let mut status = client.subscribe(&format!("cvmmap_streamer.{key}.status"));
        let v = status
            .wait_json(W, |v| v["state"] == "streaming")
            .expect("status");
        v["frames_encoded"].as_u64().unwrap()
    };
    nats.kill();
    assert!(
        wait_for_log(&st, "NATS connection lost", W),
        "{}",
        st.output()
    );
    nats.restart();
    assert!(wait_for_log(&st, "NATS reconnected", W), "{}", st.output());
    let client = Client::connect(&nats.url());
    let mut status = client.subscribe(&format!("cvmmap_streamer.{key}.status"));
    let after = status
        .wait_json(W, |v| {
            v["state"] == "streaming" && v["reconnects_nats"] == 1
        })
        .expect("status after the restart");
    // Frames went on while the server was away.
    assert!(
        after["frames_encoded"].as_u64().unwrap() > encoded_at_kill + 10,
        "{after}"
    );
    // The producer-status subscription resumed too.
    let reset = prost::Message::encode_to_vec(&cvmmap_streamer::nats::proto::ModuleStatusEvent {
        status: 3,
        instance: key.clone(),
        timestamp_ns: 1,
    });
    client.publish(&format!("cvmmap.{key}.status"), reset);
    assert!(
        status
            .wait_json(W, |v| v["stats"]["producer_stream_resets"] == 1)
            .is_some(),
        "STREAM_RESET after the restart not seen"
    );
    assert_exit(&mut st, T, 0);
    assert_exit(&mut rx, T, 0);
    let r = rx_report(&s);
    assert_eq!(r["result"], "pass", "frames kept arriving: {r}");
}

#[test]
fn token_auth_and_legacy_source_info() {
    let s = Scratch::new("nats_auth");
    let nats = NatsServer::start(&s, &["--auth", "s3cret"]);
    let key = label("auth");
    let port = free_udp_port();
    let client = Client::connect_token(&nats.url(), "s3cret");
    // An older producer: answers on control.source.info only.
    client.serve(&format!("cvmmap.{key}.control.source.info"), |_| {
        prost::Message::encode_to_vec(&cvmmap_streamer::nats::proto::GetSourceInfoResponse {
            source_kind: 2,
            timestamp_domain: 2,
            flags: 0x8,
            current_frame_count: 77,
            ..Default::default()
        })
    });
    let mut rx = h264_receiver(&s, port, 85, &[]);
    let mut st = dummy_streamer(
        &s,
        &key,
        port,
        90,
        &["--nats-url", &nats.url(), "--nats-token", "s3cret"],
    );
    assert_exit(&mut st, T, 0);
    assert_exit(&mut rx, T, 0);
    let sum = summary(&s);
    assert_eq!(sum["nats"]["connected"], true, "{sum}");
    let info = &sum["nats"]["source_info"];
    assert_eq!(
        info["subject"],
        format!("cvmmap.{key}.control.source.info"),
        "{sum}"
    );
    assert_eq!(info["source_kind"], "finite");
    assert_eq!(info["timestamp_domain"], "media_time_ns");
    assert_eq!(info["flag_names"][0], "has_body");
    assert_eq!(info["current_frame_count"], 77);
    assert!(
        !st.output().contains("s3cret"),
        "the token leaked into the log"
    );
}

#[test]
fn wrong_token_streams_anyway_and_says_why() {
    let s = Scratch::new("nats_badauth");
    let nats = NatsServer::start(&s, &["--auth", "s3cret"]);
    let port = free_udp_port();
    let mut rx = h264_receiver(&s, port, 55, &[]);
    let mut st = dummy_streamer(
        &s,
        &label("bad"),
        port,
        60,
        &["--nats-url", &nats.url(), "--nats-token", "wrong"],
    );
    assert_exit(&mut st, T, 0);
    assert_exit(&mut rx, T, 0);
    let out = st.output();
    assert_eq!(out.matches("NATS unreachable").count(), 1, "{out}");
    assert!(out.to_lowercase().contains("authorization"), "{out}");
    assert_eq!(summary(&s)["nats"]["connected"], false);
}

#[test]
fn no_nats_and_bad_flags() {
    let s = Scratch::new("nats_flags");
    let port = free_udp_port();
    let mut rx = h264_receiver(&s, port, 25, &[]);
    let mut st = dummy_streamer(&s, "nonats", port, 30, &["--no-nats"]);
    assert_exit(&mut st, T, 0);
    assert_exit(&mut rx, T, 0);
    assert!(st.output().contains("NATS disabled"));
    assert_eq!(summary(&s)["nats"]["enabled"], false);
    for (flags, named) in [
        (&["--nats-user", "u"][..], "--nats-password"),
        (&["--no-nats", "--body-sei"][..], "--body-sei"),
        (&["--nats-url", "http://x:1"][..], "--nats-url"),
    ] {
        let mut p = dummy_streamer(&s, "x", port, 1, flags);
        assert_exit(&mut p, T, 2);
        let out = p.output();
        assert_eq!(out.trim().lines().count(), 1, "{out}");
        assert!(out.contains(named), "{out}");
    }
}
