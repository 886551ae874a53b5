//! The whole RTMP stub server on one publisher connection
//! (`rtmp_stub::server::Server::run` over loopback TCP): server handshake,
//! chunk reader, AMF0 commands and replies (`connect`, `createStream`,
//! `publish`, ...), `onMetaData` checks, FLV video tag checks per mode,
//! acknowledgements.
//!
//! Input: `u8` flags (mode = value % 3: h264, h265-enhanced,
//! h265-domestic; bit 2: --reject-publish), `u8` video threshold, then the
//! publisher's bytes after the handshake (the target sends C0, C1 and C2).
//!
//! Invariants: the run ends with one of the documented exit codes, counts
//! one connection, and never reaches the deadline (every input ends with
//! the publisher closing).
#![no_main]

use std::time::{Duration, Instant};

use clap::Parser;
use cvmmap_fuzz::{Input, loopback};
use cvmmap_testers::rtmp_stub::chunk::HANDSHAKE_SIZE;
use cvmmap_testers::rtmp_stub::cli::StubArgs;
use cvmmap_testers::rtmp_stub::server::Server;
use cvmmap_testers::rtmp_stub::{
    EXIT_MISMATCH, EXIT_NOTHING, EXIT_PASS, EXIT_PROTOCOL, EXIT_THRESHOLD,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let flags = input.u8();
    let threshold = input.u8().max(1).to_string();
    let mode = ["h264", "h265-enhanced", "h265-domestic"][usize::from(flags % 3)];
    let mut argv = vec![
        "rtmp_stub_tester",
        "--mode",
        mode,
        "--accept-reconnects",
        "false",
        "--video-threshold",
        &threshold,
    ];
    if flags & 4 == 4 {
        argv.push("--reject-publish");
    }
    let args = StubArgs::try_parse_from(argv).expect("valid stub arguments");

    // C0 + C1 + C2 (C2 does not echo S1: recorded, not enforced), then the
    // chunk stream.
    let mut wire = vec![3u8];
    wire.extend(std::iter::repeat_n(0x5a, 2 * HANDSHAKE_SIZE));
    wire.extend_from_slice(input.rest());
    let listener = loopback::listener();
    let port = listener.local_addr().expect("listener address").port();
    let client = loopback::connect();
    let feeder = loopback::feed(client, wire);
    let mut server = Server::new(&args, port);
    let started = Instant::now();
    let (code, why) = server.run(listener, started + Duration::from_secs(10), false);
    feeder.join().expect("feeder thread");
    assert!(
        [
            EXIT_PASS,
            EXIT_THRESHOLD,
            EXIT_MISMATCH,
            EXIT_PROTOCOL,
            EXIT_NOTHING
        ]
        .contains(&code),
        "exit {code}: {why}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(9),
        "ran into the deadline: {why}"
    );
    let r = &server.report;
    assert_eq!(r.connections, 1);
    assert_eq!(r.exit_code, code);
    assert_eq!(r.handshake_c2_echo, Some(false));
    assert!(r.keyframes <= r.video_frames);
});
