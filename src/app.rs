//! What every binary that runs pipelines does first (`cvmmap_streamer`,
//! `cvmmap_record`): logs to stderr, the command line parsed into one-line
//! errors with exit code 2, and the stop flag SIGINT/SIGTERM set. Each
//! binary then maps its own errors to exit codes in one place. Binary
//! code, not the library's (it prints): each binary includes this file.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use clap::Parser;
use clap::error::ErrorKind;
use tracing_subscriber::EnvFilter;

/// Exit code when a second SIGINT/SIGTERM arrives during the clean stop.
pub const SECOND_SIGNAL_EXIT: i32 = 130;

/// `RUST_LOG` (default info, async_nats at warn) to stderr, as text
/// (colours only on a terminal: logs also land in files and `docker logs`)
/// or, with `json` (`--log-format json`, `CVMMAP_LOG_FORMAT=json`), one JSON
/// object a line with the event's fields at the top level, for log
/// collectors.
pub fn init_logging(json: bool) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,async_nats=warn"));
    let fmt = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        fmt.json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .init();
    } else {
        fmt.with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
            .init();
    }
}

/// `CVMMAP_LOG_FORMAT=json` (binaries without a `--log-format` flag).
#[allow(dead_code)] // each binary includes this file; not all call it
pub fn json_logs_from_env() -> bool {
    std::env::var("CVMMAP_LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json"))
}

/// The command line, or the exit code to leave with: 0 after `--help` or
/// `--version`, 2 after one line naming the bad flag.
#[allow(dead_code)]
pub fn parse_args<P: Parser>() -> Result<P, ExitCode> {
    match P::try_parse() {
        Ok(p) => Ok(p),
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            let _ = e.print();
            Err(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("{}", cvmmap_streamer::config::one_line(&e));
            Err(ExitCode::from(2))
        }
    }
}

/// The command line over the environment (`CVMMAP_*`) and `--config`
/// (`config::layered`), with where each value came from; or the exit code
/// to leave with, as [`parse_args`].
#[allow(dead_code)] // each binary includes this file; not all call it
pub fn parse_layered<P: Parser>()
-> Result<(P, cvmmap_streamer::config::layered::Effective), ExitCode> {
    use cvmmap_streamer::config::layered::{self, LayerError};
    match layered::parse::<P>(std::env::args_os().collect()) {
        Ok(p) => Ok(p),
        Err(LayerError::Args(e))
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) =>
        {
            let _ = e.print();
            Err(ExitCode::SUCCESS)
        }
        Err(LayerError::Args(e)) => {
            eprintln!("{}", cvmmap_streamer::config::one_line(&e));
            Err(ExitCode::from(2))
        }
        Err(e) => {
            eprintln!("error: {e}");
            Err(ExitCode::from(2))
        }
    }
}

/// `--print-config`: the effective configuration on stdout, then whether
/// it is valid (the binary's own check): exit 0, or 2 with its error.
#[allow(dead_code)]
pub fn print_config<E: std::fmt::Display>(
    program: &str,
    effective: &cvmmap_streamer::config::layered::Effective,
    check: Result<(), E>,
) -> ExitCode {
    print!("{}", effective.render(program));
    match check {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

/// The flag SIGINT and SIGTERM set: the first signal asks for a clean stop
/// (every output drains, every file is finished); a second one while
/// stopping exits at once with [`SECOND_SIGNAL_EXIT`]. The conditional
/// handler is registered first, so it sees the flag as the first signal
/// left it.
pub fn stop_on_signals() -> Result<Arc<AtomicBool>, ExitCode> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        let installed =
            signal_hook::flag::register_conditional_shutdown(sig, SECOND_SIGNAL_EXIT, stop.clone())
                .and_then(|_| signal_hook::flag::register(sig, stop.clone()));
        if let Err(e) = installed {
            eprintln!("error: cannot install signal handler: {e}");
            return Err(ExitCode::from(1));
        }
    }
    Ok(stop)
}
