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

use std::process::ExitCode;

#[path = "app.rs"]
mod app;

use cvmmap_streamer::config::Cli;
use cvmmap_streamer::config::cli::LogFormatArg;
use cvmmap_streamer::pipeline;

fn main() -> ExitCode {
    let cli: Cli = match app::parse_args() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    app::init_logging(cli.log_format == LogFormatArg::Json);
    let config = match cli.into_config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let stop = match app::stop_on_signals() {
        Ok(s) => s,
        Err(code) => return code,
    };
    match pipeline::run(&config, stop) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
