//! `rtmp_stub_tester`: an RTMP server that accepts one publisher at a time
//! and validates what it sends, with its own code written from the specs and
//! sharing nothing with the streamer:
//!
//! - [`chunk`]: handshake and chunk stream (Adobe RTMP 1.0 §5.2, §5.3);
//! - [`amf0`]: AMF0 values (Adobe AMF 0 specification);
//! - [`flv`]: FLV VIDEODATA (FLV 10.1 §E.4.3.1), Enhanced RTMP
//!   `ExVideoTagHeader` (`hvc1`), AVC/HEVC decoder configuration records and
//!   4-byte length-prefixed NAL units;
//! - [`server`]: command replies (connect, releaseStream, FCPublish,
//!   createStream, publish) and the checks, accumulating the JSON report;
//! - [`stall`]: what arrives after a sink stall (backlog, resume point);
//! - [`tls`]: `--tls`, RTMP over TLS with a self-signed certificate;
//! - the flags, in [`cli`].
//!
//! Exit codes follow the seed README "Exit codes": 0 threshold met with all
//! checks good, 4 timeout with some but too few video frames, 6 RTMP mode
//! mismatch, 7 protocol violation, 124 timeout with no video frame, 2 bad
//! arguments or an address that cannot be bound, 1 other I/O failure.

pub mod amf0;
pub mod chunk;
pub mod cli;
pub mod flv;
pub mod server;
pub mod stall;
pub mod tls;

use std::io::Write;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use clap::Parser;

use cli::StubArgs;
use server::Server;

pub const EXIT_PASS: i32 = 0;
pub const EXIT_IO: i32 = 1;
pub const EXIT_BAD_ARGS: i32 = 2;
pub const EXIT_THRESHOLD: i32 = 4;
pub const EXIT_MISMATCH: i32 = 6;
pub const EXIT_PROTOCOL: i32 = 7;
pub const EXIT_NOTHING: i32 = 124;

/// Parses the process arguments, serves, reports, and returns the exit code.
pub fn main_entry() -> i32 {
    let args = StubArgs::parse();
    crate::logging::init();
    // The certificate exists (and is written) before we listen: a test
    // that saw `listening` can trust it at once.
    let tls_config = if args.tls {
        let (config, pem) = match tls::self_signed() {
            Ok(c) => c,
            Err(e) => {
                eprintln!("rtmp_stub_tester: error: --tls: cannot make a certificate: {e}");
                return EXIT_IO;
            }
        };
        if let Some(path) = &args.tls_cert_out
            && let Err(e) = tls::write_cert(path, &pem)
        {
            eprintln!(
                "rtmp_stub_tester: error: cannot write --tls-cert-out {}: {e}",
                path.display()
            );
            return EXIT_BAD_ARGS;
        }
        Some(config)
    } else {
        None
    };
    let listener = match TcpListener::bind((args.listen_host.as_str(), args.listen_port)) {
        Ok(l) => l,
        Err(e) => {
            eprintln!(
                "rtmp_stub_tester: error: cannot listen on --listen-host {} --listen-port {}: {e}",
                args.listen_host, args.listen_port
            );
            return EXIT_BAD_ARGS;
        }
    };
    let port = listener
        .local_addr()
        .map(|a| a.port())
        .unwrap_or(args.listen_port);
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "listening {port}");
        let _ = out.flush();
    }
    let deadline = Instant::now() + Duration::from_millis(args.timeout_ms);
    let mut server = Server::new(&args, port);
    if let Some(config) = tls_config {
        server = server.with_tls(config);
    }
    let (code, why) = server.run(&listener, deadline, args.accept_reconnects);
    let r = &server.report;
    eprintln!(
        "rtmp_stub_tester: {} (exit {code}): {why}; mode={} tls={} connections={} tls_handshake_failures={} video_frames={} keyframes={} sequence_headers={} audio={} metadata_ok={} ts_regressions={} bytes={}",
        r.result,
        r.mode,
        r.tls,
        r.connections,
        r.tls_handshake_failures,
        r.video_frames,
        r.keyframes,
        r.sequence_headers,
        r.audio_messages,
        r.metadata_ok,
        r.timestamp_regressions,
        r.bytes
    );
    if let Some(path) = &args.json {
        let line = serde_json::to_string(r).unwrap_or_default() + "\n";
        if let Err(e) = std::fs::write(path, line) {
            eprintln!(
                "rtmp_stub_tester: cannot write --json {}: {e}",
                path.display()
            );
        }
    }
    code
}
