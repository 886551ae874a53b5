//! The invalid row: RTMP with H.264 in domestic mode. The streamer must
//! refuse it at start-up (exit 2, one line naming --rtmp-mode) and never
//! connect; a listener on the URL's port proves the latter.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use super::judge::Checks;
use super::row::RowCtx;
use crate::bins::STREAMER;
use crate::model::{Outcome, Peer, RowResult};
use crate::runner::INTERRUPTED;
use crate::supervisor::{Proc, wait_all};

pub fn run(ctx: &RowCtx, res: &mut RowResult) -> Vec<Proc> {
    let listener = match TcpListener::bind("127.0.0.1:0").and_then(|l| {
        l.set_nonblocking(true)?;
        Ok(l)
    }) {
        Ok(l) => l,
        Err(e) => {
            res.outcome = Outcome::Fail;
            res.reason = format!("cannot bind a listener on 127.0.0.1: {e}");
            return Vec::new();
        }
    };
    let addr = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let args: Vec<String> = [
        "--codec",
        "h264",
        "--input-mode",
        "dummy",
        "--dummy-frames",
        "30",
        "--rtmp",
        "--rtmp-url",
        &format!("rtmp://{addr}/live/invalid"),
        "--rtmp-mode",
        "domestic",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    ctx.phase("expecting exit 2");
    let mut st = match ctx.spawn_streamer("streamer", args) {
        Ok(p) => p,
        Err(e) => {
            res.outcome = Outcome::Fail;
            res.reason = e.to_string();
            return Vec::new();
        }
    };
    let waited = wait_all(
        std::iter::once(&mut st),
        Instant::now() + Duration::from_secs(20),
        "row deadline passed",
    );
    if waited.is_err() {
        res.outcome = Outcome::Skip;
        res.reason = INTERRUPTED.into();
        return vec![st];
    }
    let connected = listener.accept().is_ok();
    // The CLI's documented one-line error for a refused configuration (the
    // behaviour under test), not a log line: it must name the flag.
    let log = st.stderr_text();
    let mut checks = Checks::default();
    checks.exit("streamer exit", st.poll(), 2);
    checks.is_true("error names --rtmp-mode", Some(log.contains("--rtmp-mode")));
    checks.equals("connected to the RTMP URL", Some(connected), false);
    let (outcome, reason) = checks.verdict();
    res.reason = match outcome {
        Outcome::Pass => format!(
            "refused as required: {}",
            st.last_stderr_line().unwrap_or_default()
        ),
        _ => reason,
    };
    res.outcome = outcome;
    res.checks = checks.0;
    res.encoder_note =
        Some("not applicable: the configuration must be refused before encoding".into());
    res.latency_note = Some("not applicable".into());
    res.peers.push(Peer {
        name: STREAMER.into(),
        role: "the process under test".into(),
        ran: true,
        note: Some(format!(
            "a listener on {addr} checks that it never connects"
        )),
    });
    vec![st]
}
