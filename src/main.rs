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
//!
//! `cvmmap_streamer healthcheck [HOST:PORT]` asks a running streamer's
//! `/healthz` (exit 0 healthy, 1 not), for container HEALTHCHECKs.
//!
//! `cvmmap_streamer --version` adds the git commit, the GStreamer runtime
//! and the encoders found; `cvmmap_streamer probe [--json]` says which
//! encoders exist and why NVENC is or is not usable (exit 0; 5 when
//! GStreamer itself cannot start).

use std::process::ExitCode;

#[path = "app.rs"]
mod app;

use cvmmap_streamer::config::Cli;
use cvmmap_streamer::config::cli::LogFormatArg;
use cvmmap_streamer::encode::inventory;
use cvmmap_streamer::pipeline;

/// The commit this binary was built from (build.rs).
const COMMIT: &str = env!("CVMMAP_GIT_COMMIT");

/// `--version` / `-V` alone, and `probe [--json]`: answered before the
/// pipeline's own command line (which needs a codec and a source).
fn info_command(args: &[String]) -> Option<ExitCode> {
    let words: Vec<&str> = args.iter().skip(1).map(String::as_str).collect();
    let (version, json) = match words.as_slice() {
        ["--version"] | ["-V"] => (true, false),
        ["probe"] => (false, false),
        ["probe", "--json"] => (false, true),
        _ => return None,
    };
    let inventory = match inventory::inventory() {
        Ok(i) => i,
        Err(e) => {
            eprintln!("error: {e}");
            return Some(ExitCode::from(5));
        }
    };
    if version {
        println!(
            "cvmmap_streamer {} (commit {COMMIT})",
            env!("CARGO_PKG_VERSION")
        );
    }
    if json {
        println!(
            "{}",
            serde_json::json!({"version": env!("CARGO_PKG_VERSION"), "commit": COMMIT, "encoders": inventory})
        );
    } else {
        print!("{}", inventory::render(&inventory));
    }
    Some(ExitCode::SUCCESS)
}

/// `healthcheck [HOST:PORT]` (default `$CVMMAP_METRICS_ADDR`): the running
/// streamer's `/healthz`, exit 0 healthy, 1 not (a container HEALTHCHECK).
fn healthcheck(args: &[String]) -> Option<ExitCode> {
    use cvmmap_streamer::ops::health::{self, HealthError};
    let addr = match args.get(1..)? {
        [cmd] if cmd == "healthcheck" => std::env::var("CVMMAP_METRICS_ADDR").ok(),
        [cmd, addr] if cmd == "healthcheck" => Some(addr.clone()),
        _ => return None,
    };
    let result = addr
        .ok_or(HealthError::NoAddress)
        .and_then(|a| health::target(&a))
        .and_then(health::check);
    Some(match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("unhealthy: {e}");
            ExitCode::from(1)
        }
    })
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if let Some(code) = info_command(&args).or_else(|| healthcheck(&args)) {
        return code;
    }
    let (cli, effective): (Cli, _) = match app::parse_layered() {
        Ok(p) => p,
        Err(code) => return code,
    };
    if cli.layers.print_config {
        let check = cli.clone().into_config().map(|_| ());
        return app::print_config("cvmmap_streamer", &effective, check);
    }
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
