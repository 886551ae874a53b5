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

use std::process::ExitCode;

#[path = "../app.rs"]
mod app;

use cvmmap_streamer::config::cli::LogFormatArg;
use cvmmap_streamer::config::record_cli::RecordCli;
use cvmmap_streamer::recorder;

fn main() -> ExitCode {
    let (cli, effective): (RecordCli, _) = match app::parse_layered() {
        Ok(p) => p,
        Err(code) => return code,
    };
    if cli.layers.print_config {
        let check = cli.clone().into_config().map(|_| ());
        return app::print_config("cvmmap_record", &effective, check);
    }
    app::init_logging(cli.log_format == LogFormatArg::Json);
    let config = match cli.into_config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    // A second signal exits at once; the MCAP is then recoverable and the
    // MP4 plays up to its last whole fragment.
    let stop = match app::stop_on_signals() {
        Ok(s) => s,
        Err(code) => return code,
    };
    match recorder::run(&config, stop) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
