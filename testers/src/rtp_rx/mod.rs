//! `rtp_receiver_tester`: a strict UDP RTP receiver with its own RFC 3550
//! header parser. Exit codes follow the seed README "Exit Codes": 0 pass,
//! 3 payload-type mismatch, 4 packet threshold not met, 124 timeout,
//! 2 bad arguments (or an address that cannot be bound), 1 other I/O failure.

pub mod cli;
pub mod header;
pub mod receiver;
pub mod stats;

use std::net::UdpSocket;
use std::time::Instant;

use clap::Parser;

use cli::RxArgs;
use stats::{RxStats, Summary};

/// Exit code for bad arguments or an unusable listen address.
pub const EXIT_BAD_ARGS: i32 = 2;
/// Exit code for unexpected I/O failures while receiving.
pub const EXIT_IO: i32 = 1;

/// Parses the process arguments, receives, reports, and returns the exit code.
pub fn main_entry() -> i32 {
    let args = RxArgs::parse();
    crate::logging::init();
    let sock = match receiver::resolve(&args.listen_host, args.port).and_then(UdpSocket::bind) {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "rtp_receiver_tester: error: cannot listen on --listen-host {} --port {}: {e}",
                args.listen_host, args.port
            );
            return EXIT_BAD_ARGS;
        }
    };
    let rcvbuf = receiver::enlarge_rcvbuf(&sock, receiver::RCVBUF_BYTES);
    let local = sock.local_addr().map(|a| a.to_string()).unwrap_or_default();
    tracing::info!(
        "listening on {local} (expect pt={} threshold={} timeout={}ms rcvbuf={rcvbuf:?})",
        args.expect_pt,
        args.packet_threshold,
        args.timeout_ms
    );

    let start = Instant::now();
    let mut stats = RxStats::default();
    let outcome = match receiver::receive(&sock, &args, start, &mut stats) {
        Ok(o) => o,
        Err(e) => {
            tracing::error!("receive failed: {e}");
            return EXIT_IO;
        }
    };
    let elapsed_ms = start.elapsed().as_secs_f64() * 1000.0;
    let summary = Summary::new(
        outcome,
        &stats,
        args.expect_pt,
        args.packet_threshold,
        elapsed_ms,
    );
    tracing::info!(
        "result={} exit={} packets={} invalid={} bytes={} seen_pt={:?} ssrc={:?} seq_gaps={} markers={} elapsed_ms={:.1}",
        summary.result,
        summary.exit_code,
        summary.packets,
        summary.invalid_packets,
        summary.bytes,
        summary.seen_pt,
        summary.ssrc,
        summary.seq_gaps,
        summary.markers,
        elapsed_ms
    );
    if let Some(path) = &args.json {
        let line = serde_json::to_string(&summary).unwrap_or_default() + "\n";
        if let Err(e) = std::fs::write(path, line) {
            tracing::error!("cannot write --json {}: {e}", path.display());
        }
    }
    outcome.exit_code()
}
