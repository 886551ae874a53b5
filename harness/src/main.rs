//! `harness`: the acceptance matrix (and, with their issue, the fault suite
//! and benchmarks) over real processes, writing JSON evidence.
//!
//! Exit codes: 0 every selected row passed; 1 a row failed or was skipped;
//! 2 usage error or the harness cannot run (e.g. a missing binary); 130
//! interrupted (SIGINT/SIGTERM), after writing what was measured.

mod terminal;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgAction, Args, Parser, Subcommand};
use cvmmap_harness::acceptance::{self, Options};
use cvmmap_harness::error::EXIT_USAGE;
use cvmmap_harness::model::Tally;
use cvmmap_harness::{HarnessError, interrupt};

#[derive(Parser)]
#[command(
    name = "harness",
    version,
    about = "Acceptance matrix, fault suite and benchmarks over real processes, with JSON evidence"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the compatibility matrix: the 5 mandatory rows and the invalid one
    Acceptance(AcceptanceArgs),
    /// Fault suite (not implemented yet)
    Faults(Later),
    /// Benchmarks against gst-launch-1.0 (not implemented yet)
    Bench(Later),
}

#[derive(Args)]
struct AcceptanceArgs {
    /// Evidence folder: the run goes to DIR/<run-id>/, DIR/latest points at it
    #[arg(long, value_name = "DIR")]
    evidence: PathBuf,
    /// Where cvmmap_sim, cvmmap_streamer and the testers are [default: next to harness]
    #[arg(long, value_name = "DIR")]
    bin_dir: Option<PathBuf>,
    /// Only these rows (comma-separated ids, e.g. rtp_h264,rtmp_h264)
    #[arg(long, value_name = "ROWS", value_delimiter = ',')]
    rows: Option<Vec<String>>,
    /// Run the remaining rows after a failure
    #[arg(long, value_name = "BOOL", action = ArgAction::Set, num_args = 0..=1,
          default_value_t = true, default_missing_value = "true")]
    keep_going: bool,
    /// Testing: break a row on purpose, ROW=wrong-pt (RTP) or ROW=wrong-mode (RTMP)
    #[arg(long = "break-row", value_name = "ROW=KIND", hide = true)]
    break_row: Vec<String>,
}

/// Accepts anything, so that the future flags of `faults` and `bench` get
/// the "not implemented" answer rather than a usage error.
#[derive(Args)]
struct Later {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    rest: Vec<String>,
}

fn fail(e: &HarnessError) -> ExitCode {
    eprintln!("harness: error: {e}");
    ExitCode::from(EXIT_USAGE)
}

fn tally_line(label: &str, t: &Tally) -> String {
    format!(
        "{label}={} pass={} fail={} skip={}",
        t.total, t.pass, t.fail, t.skip
    )
}

fn acceptance(a: AcceptanceArgs) -> ExitCode {
    if let Err(e) = interrupt::install() {
        tracing::warn!(error = %e, "no SIGINT/SIGTERM handling");
    }
    let opts = Options {
        evidence: a.evidence,
        bin_dir: a.bin_dir,
        rows: a.rows,
        keep_going: a.keep_going,
        breaks: a.break_row,
        argv: std::env::args().collect(),
    };
    let progress = terminal::Terminal::new();
    let done = match acceptance::run(&opts, &progress) {
        Ok(d) => d,
        Err(e) => return fail(&e),
    };
    drop(progress);
    let s = &done.summary;
    println!("evidence {}", done.run_dir.display());
    if s.negative.total > 0 {
        println!("{}", tally_line("negative", &s.negative));
    }
    println!("{}", tally_line("total", &s.totals));
    ExitCode::from(done.exit_code)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Warnings only by default: progress lines are the harness's output;
    // the children's own logs go to the evidence folder.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    match cli.command {
        Command::Acceptance(a) => acceptance(a),
        Command::Faults(_) => fail(&HarnessError::NotImplemented { command: "faults" }),
        Command::Bench(_) => fail(&HarnessError::NotImplemented { command: "bench" }),
    }
}
