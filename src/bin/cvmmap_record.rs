//! `cvmmap_record`: live cv-mmap cameras into one MCAP file. Errors map to
//! the streamer's exit codes, in one place (`RecorderError::exit_code`):
//!
//! | code | meaning |
//! |---|---|
//! | 0 | every camera ended (idle, frame limit, window complete, a signal) and the file is finished |
//! | 1 | runtime failure (a write failed, cameras on different clocks) |
//! | 2 | invalid arguments, or the output cannot be created |
//! | 5 | an encoder is missing |
//! | 130 | a second SIGINT/SIGTERM during the clean stop: exit at once |

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use clap::Parser;
use clap::error::ErrorKind;
use cvmmap_streamer::config::record_cli::RecordCli;
use cvmmap_streamer::recorder;
use tracing_subscriber::EnvFilter;

const SECOND_SIGNAL_EXIT: i32 = 130;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new("info,async_nats=warn")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
        .init();
    let cli = match RecordCli::try_parse() {
        Ok(cli) => cli,
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("{}", cvmmap_streamer::config::one_line(&e));
            return ExitCode::from(2);
        }
    };
    let config = match cli.into_config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // First signal: a clean stop (every file finished); a second one
        // while stopping exits at once (the MCAP is then recoverable).
        let installed =
            signal_hook::flag::register_conditional_shutdown(sig, SECOND_SIGNAL_EXIT, stop.clone())
                .and_then(|_| signal_hook::flag::register(sig, stop.clone()));
        if let Err(e) = installed {
            eprintln!("error: cannot install signal handler: {e}");
            return ExitCode::from(1);
        }
    }
    match recorder::run(&config, stop) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
