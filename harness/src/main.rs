//! `harness`: acceptance matrix, fault suite and benchmarks with JSON
//! evidence. Filled in by the harness issue; until then it says so.

use std::process::ExitCode;

use clap::Parser;

#[derive(Parser)]
#[command(
    name = "harness",
    version,
    about = "Acceptance matrix, fault suite and benchmarks (not yet implemented)"
)]
struct Cli {
    /// acceptance | faults | bench
    command: String,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    eprintln!(
        "error: harness {}: not implemented yet (see the harness issue)",
        cli.command
    );
    ExitCode::from(2)
}
