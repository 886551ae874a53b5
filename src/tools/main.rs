//! `cvmmap_tools`: offline tools for recordings. Errors map to exit codes
//! here, in one place:
//!
//! | command | 0 | 1 | 2 | 5 |
//! |---|---|---|---|---|
//! | `probe FILE...` | every file ok or unfinished-but-playable | a file is broken | usage | |
//! | `recover IN [OUT]` | the input was whole | nothing recovered (not MCAP, unreadable) | recovered with losses, or usage | |
//! | `export-mp4`, `grid`, `inspect` | written | unreadable or damaged input, decode or write failure | usage, or a camera the file lacks | NVENC asked for and unavailable |
//! | `batch` | every job ok (or nothing to do) | a job failed | usage | |
//! | `worker` | stopped (signal, --max-jobs, idle) | queue unreachable | usage | |

mod batch_cmd;
mod cli;

#[path = "../app.rs"]
#[allow(dead_code)]
mod app;

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use cli::{Cli, Command, ExportFlags, GridFlags};
use cvmmap_streamer::batch::plan::recovered_name;
use cvmmap_streamer::offline::export::{ExportOptions, export_mp4};
use cvmmap_streamer::offline::grid::{self, GridOptions};
use cvmmap_streamer::offline::{OfflineError, inspect, preview, read};
use cvmmap_streamer::record::probe::probe;
use cvmmap_streamer::record::recover::recover;

fn main() -> ExitCode {
    let cli = match app::parse_args::<Cli>() {
        Ok(c) => c,
        Err(code) => return code,
    };
    app::init_logging(app::json_logs_from_env());
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
        Command::Recover {
            input,
            output,
            flags,
        } => run_recover(&input, output.as_deref(), flags.json),
        Command::ExportMp4 { input, flags } => report(run_export(&input, &flags), "export-mp4"),
        Command::Grid { input, flags } => report(run_grid(input.as_deref(), &flags), "grid"),
        Command::Inspect {
            input,
            summary_only,
            camera_label,
            frame_index,
            export_preview,
            json,
        } => report(
            run_inspect(
                &input,
                summary_only,
                camera_label,
                frame_index,
                export_preview,
                json,
            ),
            "inspect",
        ),
        Command::Batch { job } => batch_cmd::run(job),
        Command::Worker {
            queue,
            max_jobs,
            idle_exit_seconds,
        } => batch_cmd::worker(
            &queue,
            max_jobs,
            idle_exit_seconds.map(Duration::from_secs_f64),
        ),
    }
}

/// The verb's error as one line and its exit code.
fn report(r: Result<(), OfflineError>, verb: &str) -> ExitCode {
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cvmmap_tools {verb}: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

fn print_json(v: &impl serde::Serialize) {
    println!("{}", serde_json::to_string(v).unwrap_or_default());
}

fn run_recover(input: &Path, output: Option<&Path>, json: bool) -> ExitCode {
    let output = output.map_or_else(|| recovered_name(input), Path::to_owned);
    match recover(input, &output) {
        Ok(got) => {
            let counts = format!(
                "{} messages, {} channels, {} schemas, {} attachments, {} metadata",
                got.messages, got.channels, got.schemas, got.attachments, got.metadata
            );
            if json {
                print_json(&got);
            }
            match &got.lost {
                None => {
                    if !json {
                        println!(
                            "{}: whole; {counts} copied to {}",
                            input.display(),
                            output.display()
                        );
                    }
                    ExitCode::SUCCESS
                }
                Some(why) => {
                    if !json {
                        println!(
                            "{}: recovered with losses ({why}); {counts} written to {}",
                            input.display(),
                            output.display()
                        );
                    }
                    ExitCode::from(2)
                }
            }
        }
        Err(e) => {
            eprintln!("cvmmap_tools recover: {e}");
            ExitCode::from(1)
        }
    }
}

fn run_export(input: &Path, f: &ExportFlags) -> Result<(), OfflineError> {
    let labels = match &f.camera_label {
        Some(l) => vec![l.clone()],
        None => read::video_channels(input)?
            .into_iter()
            .map(|(l, _)| l)
            .collect(),
    };
    if labels.is_empty() {
        return Err(OfflineError::Nothing {
            path: input.to_owned(),
            reason: "no video channel".into(),
        });
    }
    if labels.len() > 1 && f.output.is_some() {
        return Err(OfflineError::Usage(format!(
            "--output names one file but {} has {} cameras: add --camera-label",
            input.display(),
            labels.len()
        )));
    }
    for label in labels {
        let opts = ExportOptions {
            label,
            output: f.output.clone(),
            encode: f.codec.map(|c| f.encode.options(c)),
            start_frame: f.start_frame,
            end_frame: f.end_frame,
        };
        let got = export_mp4(input, &opts)?;
        if f.json {
            print_json(&got);
        } else {
            println!(
                "{}: camera {} {} to {} ({} frames{})",
                input.display(),
                got.label,
                got.mode,
                got.output.display(),
                got.frames,
                got.encoder
                    .as_ref()
                    .map(|e| format!(", {}", e.element))
                    .unwrap_or_default()
            );
        }
    }
    Ok(())
}

fn run_grid(input: Option<&Path>, f: &GridFlags) -> Result<(), OfflineError> {
    let (columns, rows) = grid::parse_layout(&f.layout).map_err(OfflineError::Usage)?;
    let tiles =
        match (input, f.inputs.as_slice()) {
            (Some(i), []) => grid::tiles_of(i)?,
            (None, many) if !many.is_empty() => {
                let mut tiles = Vec::new();
                for p in many {
                    if p.extension().is_some_and(|e| e.eq_ignore_ascii_case("mp4")) {
                        tiles.push(grid::mp4_tile(p));
                        continue;
                    }
                    let first = grid::tiles_of(p)?.into_iter().next().ok_or_else(|| {
                        OfflineError::Nothing {
                            path: p.clone(),
                            reason: "no video channel".into(),
                        }
                    })?;
                    tiles.push(first);
                }
                tiles
            }
            _ => {
                return Err(OfflineError::Usage(
                    "give one bundled recording, or --input for each camera (not both)".into(),
                ));
            }
        };
    let first = input.map_or_else(|| f.inputs[0].clone(), Path::to_owned);
    let opts = GridOptions {
        columns,
        rows,
        scale: f.scale,
        duration_seconds: f.duration_seconds,
        encode: f.encode.options(f.codec),
        output: f
            .output
            .clone()
            .unwrap_or_else(|| grid::default_output(&first)),
        timestamp: !f.no_timestamp,
    };
    let got = grid::grid(&tiles, &opts)?;
    if f.json {
        print_json(&got);
    } else {
        println!(
            "{}: {} cameras in {}x{} ({} frames at {} fps, {}) to {}",
            first.display(),
            got.tiles.len(),
            got.width,
            got.height,
            got.frames,
            got.fps,
            got.encoder.element,
            got.output.display()
        );
    }
    Ok(())
}

fn run_inspect(
    input: &Path,
    summary_only: bool,
    label: Option<String>,
    frame: u64,
    preview_to: Option<std::path::PathBuf>,
    json: bool,
) -> Result<(), OfflineError> {
    if summary_only || preview_to.is_none() {
        if summary_only && preview_to.is_some() {
            return Err(OfflineError::Usage(
                "--summary-only writes no preview".into(),
            ));
        }
        let s = inspect::summarise(input)?;
        if json {
            print_json(&s);
        } else {
            print!("{}", inspect::render(input, &s));
        }
        return Ok(());
    }
    let out = preview_to.expect("checked");
    let label = match label {
        Some(l) => l,
        None => read::video_channels(input)?
            .into_iter()
            .next()
            .map(|(l, _)| l)
            .ok_or_else(|| OfflineError::Nothing {
                path: input.to_owned(),
                reason: "no video channel".into(),
            })?,
    };
    let got = preview::export_preview(input, &label, frame, &out)?;
    if json {
        print_json(&got);
    } else {
        println!(
            "{}: camera {label} frame {frame} ({}x{}) to {}",
            input.display(),
            got.width,
            got.height,
            got.output.display()
        );
    }
    Ok(())
}
