//! `harness`: the acceptance matrix, the fault suite and the benchmarks
//! over real processes, writing JSON evidence.
//!
//! Exit codes: 0 every selected row passed (`interop`: no judged row
//! failed and at least one passed; recorded and skipped rows do not count);
//! 1 a row failed or was skipped;
//! 2 usage error or the harness cannot run (e.g. a missing binary); 130
//! interrupted (SIGINT/SIGTERM), after writing what was measured.

mod terminal;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgAction, Args, Parser, Subcommand};
use cvmmap_harness::acceptance::{self, Options};
use cvmmap_harness::bench;
use cvmmap_harness::error::EXIT_USAGE;
use cvmmap_harness::interrupt;
use cvmmap_harness::model::{Outcome, Tally};
use cvmmap_harness::runner::RunOptions;

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
    /// Run the fault suite: torn reads, sink stall, reset storm, restarts, NATS loss, latency guard
    Faults(FaultsArgs),
    /// Benchmark the streamer against an equivalent gst-launch-1.0 pipeline
    Bench(BenchArgs),
    /// RTMP rows through real servers (nginx-rtmp, SRS, ZLMediaKit, MediaMTX), played back by ffmpeg
    Interop(InteropArgs),
}

#[derive(Args)]
struct InteropArgs {
    /// Evidence folder: the run goes to DIR/<run-id>/, DIR/latest points at it
    #[arg(long, value_name = "DIR")]
    evidence: PathBuf,
    /// Where cvmmap_sim and cvmmap_streamer are [default: next to harness]
    #[arg(long, value_name = "DIR")]
    bin_dir: Option<PathBuf>,
    /// Start SRS from this binary (`srs`) with a generated config
    #[arg(long, value_name = "PATH")]
    srs_bin: Option<PathBuf>,
    /// Start ZLMediaKit from this binary (`MediaServer`) with a generated config
    #[arg(long, value_name = "PATH")]
    zlm_bin: Option<PathBuf>,
    /// Start MediaMTX from this binary (`mediamtx`) with a generated config
    #[arg(long, value_name = "PATH")]
    mediamtx_bin: Option<PathBuf>,
    /// A running server's RTMP application URL, e.g. rtmp://127.0.0.1:1935/live (stream names are appended)
    #[arg(long, value_name = "URL", requires_all = ["server_api_url", "server_kind"])]
    server_url: Option<String>,
    /// That server's HTTP API base, e.g. http://127.0.0.1:1985
    #[arg(long, value_name = "URL", requires = "server_url")]
    server_api_url: Option<String>,
    /// What that server is
    #[arg(long, value_name = "KIND", value_parser = ["srs", "zlm", "mediamtx"], requires = "server_url")]
    server_kind: Option<String>,
    /// ZLMediaKit's api.secret for a running server
    #[arg(long, value_name = "SECRET", requires = "server_url")]
    server_api_secret: Option<String>,
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
    #[command(flatten)]
    runtime: RuntimeArgs,
}

/// Where the row processes run.
#[derive(Args)]
struct RuntimeArgs {
    /// local: child processes; container: one container per process (needs --image)
    #[arg(long, value_enum, default_value = "local")]
    runtime: RuntimeKind,
    /// The image for --runtime container (built by scripts/docker-build.sh)
    #[arg(long, value_name = "IMAGE", required_if_eq("runtime", "container"))]
    image: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum RuntimeKind {
    Local,
    Container,
}

impl RuntimeArgs {
    fn image(&self) -> Option<String> {
        (self.runtime == RuntimeKind::Container)
            .then(|| self.image.clone())
            .flatten()
    }
}

#[derive(Args)]
struct BenchArgs {
    /// Evidence folder: the run goes to DIR/<run-id>/bench/, DIR/latest points at it
    #[arg(long, value_name = "DIR")]
    evidence: PathBuf,
    /// Where cvmmap_sim, cvmmap_streamer and the testers are [default: next to harness]
    #[arg(long, value_name = "DIR")]
    bin_dir: Option<PathBuf>,
    /// Frame sizes, WIDTHxHEIGHT [default: 640x360,1280x720,1920x1080; --quick: 320x180]
    #[arg(long, value_name = "SIZES", value_delimiter = ',')]
    sizes: Option<Vec<String>>,
    /// Codecs [default: h264,h265; --quick: h264]
    #[arg(long, value_name = "CODECS", value_delimiter = ',')]
    codecs: Option<Vec<String>>,
    /// Frames per run [default: 300; --quick: 60]
    #[arg(long, value_name = "N")]
    frames: Option<u64>,
    /// Every side of each configuration measured N times; goals judged on each figure's median [default: 3; --quick: 1]
    #[arg(long, value_name = "N")]
    rounds: Option<u32>,
    /// A small configuration for the test suite (explicit flags still win)
    #[arg(long)]
    quick: bool,
    /// The streamer's --encoder-device; the gst side uses whatever element it reports
    #[arg(long, value_name = "DEVICE", default_value = "auto",
          value_parser = ["auto", "nvenc", "software"])]
    encoder_device: String,
}

#[derive(Args)]
struct FaultsArgs {
    /// Evidence folder: the run goes to DIR/<run-id>/, DIR/latest points at it
    #[arg(long, value_name = "DIR")]
    evidence: PathBuf,
    /// Where cvmmap_sim, cvmmap_streamer and the testers are [default: next to harness]
    #[arg(long, value_name = "DIR")]
    bin_dir: Option<PathBuf>,
    /// Only these scenarios (comma-separated, e.g. torn_read,sink_stall)
    #[arg(long, value_name = "SCENARIOS", value_delimiter = ',')]
    scenarios: Option<Vec<String>>,
    #[command(flatten)]
    runtime: RuntimeArgs,
}

fn fail(e: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("harness: error: {e}");
    ExitCode::from(EXIT_USAGE)
}

fn tally_line(label: &str, t: &Tally) -> String {
    format!(
        "{label}={} pass={} fail={} skip={}",
        t.total, t.pass, t.fail, t.skip
    )
}

/// Installs the SIGINT/SIGTERM handling and gathers what every run takes.
fn run_options(evidence: PathBuf, bin_dir: Option<PathBuf>, image: Option<String>) -> RunOptions {
    if let Err(e) = interrupt::install() {
        tracing::warn!(error = %e, "no SIGINT/SIGTERM handling");
    }
    RunOptions {
        evidence,
        bin_dir,
        image,
        argv: std::env::args().collect(),
    }
}

fn acceptance(a: AcceptanceArgs) -> ExitCode {
    let opts = Options {
        run: run_options(a.evidence, a.bin_dir, a.runtime.image()),
        rows: a.rows,
        keep_going: a.keep_going,
        breaks: a.break_row,
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

fn bench(a: BenchArgs) -> ExitCode {
    let opts = bench::Options {
        // Bench has no --runtime: wait4(2) is what measures it.
        run: run_options(a.evidence, a.bin_dir, None),
        sizes: a.sizes,
        codecs: a.codecs,
        frames: a.frames,
        rounds: a.rounds,
        quick: a.quick,
        encoder_device: a.encoder_device,
    };
    let progress = terminal::Terminal::new();
    let done = match bench::run(&opts, &progress) {
        Ok(d) => d,
        Err(e) => return fail(&e),
    };
    drop(progress);
    print!("{}", done.table);
    println!("evidence {}", done.run_dir.display());
    let mut t = Tally::default();
    let (mut met, mut missed, mut unjudged) = (0, 0, 0);
    for c in &done.result.configs {
        for g in &c.comparison.goals {
            match g.outcome {
                bench::GoalOutcome::Met => met += 1,
                bench::GoalOutcome::Missed => missed += 1,
                bench::GoalOutcome::NotJudged => unjudged += 1,
            }
        }
        for s in [c.streamer.status, c.gst.status, c.floor.status] {
            t.add(match s {
                bench::Status::Ok => Outcome::Pass,
                bench::Status::Failed => Outcome::Fail,
                bench::Status::Skipped => Outcome::Skip,
            });
        }
    }
    println!(
        "bench configs={} sides={} measured={} failed={} skipped={} goals_met={met} goals_missed={missed} goals_not_judged={unjudged}",
        done.result.configs.len(),
        t.total,
        t.pass,
        t.fail,
        t.skip
    );
    ExitCode::from(done.exit_code)
}

fn faults(a: FaultsArgs) -> ExitCode {
    let opts = cvmmap_harness::faults::Options {
        run: run_options(a.evidence, a.bin_dir, a.runtime.image()),
        scenarios: a.scenarios,
    };
    let progress = terminal::Terminal::new();
    let done = match cvmmap_harness::faults::run(&opts, &progress) {
        Ok(d) => d,
        Err(e) => return fail(&e),
    };
    drop(progress);
    println!("evidence {}", done.run_dir.display());
    println!("{}", tally_line("total", &done.summary.totals));
    ExitCode::from(done.exit_code)
}

fn interop(a: InteropArgs) -> ExitCode {
    use cvmmap_harness::interop::{self, External, Kind};
    let external = match (a.server_url, a.server_api_url, a.server_kind) {
        (Some(rtmp_url), Some(api_url), Some(kind)) => Some(External {
            // clap's value_parser admits only the three kinds.
            kind: Kind::parse(&kind).unwrap_or(Kind::Srs),
            rtmp_url,
            api_url,
            api_secret: a.server_api_secret,
        }),
        _ => None,
    };
    let opts = interop::Options {
        // Local processes only: the servers and ffmpeg run on this host.
        run: run_options(a.evidence, a.bin_dir, None),
        srs_bin: a.srs_bin,
        zlm_bin: a.zlm_bin,
        mediamtx_bin: a.mediamtx_bin,
        external,
    };
    let progress = terminal::Terminal::new();
    let done = match interop::run(&opts, &progress) {
        Ok(d) => d,
        Err(e) => return fail(&e),
    };
    drop(progress);
    let t = &done.summary.totals;
    for r in &done.summary.rows {
        println!(
            "row {}: {} ({})",
            r.row,
            r.outcome.as_str(),
            if r.detail.is_empty() {
                &r.reason
            } else {
                &r.detail
            }
        );
    }
    println!("evidence {}", done.run_dir.display());
    println!(
        "total={} pass={} fail={} recorded={} skip={}",
        t.total, t.pass, t.fail, t.recorded, t.skip
    );
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
        Command::Faults(a) => faults(a),
        Command::Bench(a) => bench(a),
        Command::Interop(a) => interop(a),
    }
}
