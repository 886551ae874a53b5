//! `cvmmap_tools`: offline tools for recordings. Errors map to exit codes
//! here, in one place:
//!
//! | command | 0 | 1 | 2 |
//! |---|---|---|---|
//! | `probe FILE...` | every file ok or unfinished-but-playable | a file is broken | usage |
//! | `recover IN OUT` | the input was whole | nothing recovered (not MCAP, unreadable) | recovered with losses, or usage |

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use cvmmap_streamer::record::probe::probe;
use cvmmap_streamer::record::recover::recover;

#[derive(Debug, Parser)]
#[command(
    name = "cvmmap_tools",
    version,
    about = "Offline tools for cvmmap recordings (MCAP, MP4)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check recordings: MCAP (magic, footer, summary; --deep: every chunk's
    /// CRC and message) and MP4 (top-level boxes: finalised, fragmented and
    /// unfinished, or broken). One line per file.
    Probe {
        /// Read every record of an MCAP file, not only its summary.
        #[arg(long)]
        deep: bool,
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Rebuild an MCAP file a killed writer left (its complete chunks and
    /// records) as a new, indexed file.
    Recover {
        #[arg(value_name = "IN.mcap")]
        input: PathBuf,
        #[arg(value_name = "OUT.mcap")]
        output: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Probe { deep, files } => {
            let mut any_broken = false;
            for f in &files {
                let v = probe(f, deep);
                any_broken |= v.is_broken();
                println!("{}: {v}", f.display());
            }
            ExitCode::from(u8::from(any_broken))
        }
        Command::Recover { input, output } => match recover(&input, &output) {
            Ok(got) => {
                let counts = format!(
                    "{} messages, {} channels, {} schemas, {} attachments, {} metadata",
                    got.messages, got.channels, got.schemas, got.attachments, got.metadata
                );
                match &got.lost {
                    None => {
                        println!(
                            "{}: whole; {counts} copied to {}",
                            input.display(),
                            output.display()
                        );
                        ExitCode::SUCCESS
                    }
                    Some(why) => {
                        println!(
                            "{}: recovered with losses ({why}); {counts} written to {}",
                            input.display(),
                            output.display()
                        );
                        ExitCode::from(2)
                    }
                }
            }
            Err(e) => {
                eprintln!("cvmmap_tools recover: {e}");
                ExitCode::from(1)
            }
        },
    }
}
