//! `cvmmap_streamer`: maps errors to the documented exit codes, in one place
//! (`PipelineError::exit_code`, shared with `cvmmap_record`).
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success (source ended, frame limit, idle timeout, or a signal) |
//! | 1 | runtime failure |
//! | 2 | invalid arguments or configuration |
//! | 5 | pipeline initialisation error (missing encoder) |
//! | 7 | protocol error: the RTMP server refused the stream |
//! | 130 | a second SIGINT/SIGTERM during the clean stop: exit at once |

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use clap::Parser;
use clap::error::ErrorKind;
use cvmmap_streamer::config::Cli;
use cvmmap_streamer::pipeline;
use tracing_subscriber::EnvFilter;

/// Exit code when a second SIGINT/SIGTERM arrives during the clean stop.
const SECOND_SIGNAL_EXIT: i32 = 130;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new("info,async_nats=warn")),
        )
        .with_writer(std::io::stderr)
        // Colours only on a terminal: logs also land in files and `docker logs`.
        .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
        .init();

    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            // One line naming the flag, then the documented exit code 2.
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
        // The first signal asks for a clean stop (outputs drain for at most
        // the shutdown deadline); a second one while stopping exits at once
        // with 130. The conditional handler is registered first, so it sees
        // the flag as the first signal left it.
        let installed =
            signal_hook::flag::register_conditional_shutdown(sig, SECOND_SIGNAL_EXIT, stop.clone())
                .and_then(|_| signal_hook::flag::register(sig, stop.clone()));
        if let Err(e) = installed {
            eprintln!("error: cannot install signal handler: {e}");
            return ExitCode::from(1);
        }
    }
    match pipeline::run(&config, stop) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
