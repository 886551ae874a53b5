//! What a batch would do: one job per input, its outputs named as the verb
//! names them by default, and whether they exist already (skipped unless
//! `--overwrite`); with `--probe-existing` an output that does not probe
//! whole (an MP4 without `moov`, a cut MCAP) counts as missing.

use std::path::{Path, PathBuf};

use super::job::{Job, Verb};
use crate::offline::{export, grid, read};
use crate::record::probe::{Verdict, probe};

/// An output's state.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "state", content = "reason")]
pub enum OutputState {
    Missing,
    Valid,
    Invalid(String),
}

/// `path`'s state; without `probe` an existing file is valid.
pub fn output_state(path: &Path, probe_it: bool) -> OutputState {
    if !path.exists() {
        return OutputState::Missing;
    }
    if !probe_it {
        return OutputState::Valid;
    }
    match probe(path, false) {
        Verdict::Ok { .. } => OutputState::Valid,
        Verdict::Unfinished { detail } => OutputState::Invalid(format!("unfinished: {detail}")),
        Verdict::Broken { reason } => OutputState::Invalid(reason),
    }
}

/// `rec.mcap` -> `rec_recovered.mcap`.
pub fn recovered_name(input: &Path) -> PathBuf {
    let stem = input.file_stem().unwrap_or_default().to_string_lossy();
    input.with_file_name(format!("{stem}_recovered.mcap"))
}

/// The value of `--flag V` in `args`, the last one given.
fn flag<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter()
        .rposition(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
}

/// The job of `verb` on `input` with the verb's `args`.
pub fn job_for(verb: Verb, input: &Path, args: &[String]) -> Job {
    let (outputs, encodes) = match verb {
        Verb::ExportMp4 => {
            let labels: Vec<String> = match flag(args, "--camera-label") {
                Some(l) => vec![l.to_owned()],
                None => read::video_channels(input)
                    .map(|c| c.into_iter().map(|(l, _)| l).collect())
                    .unwrap_or_default(),
            };
            (
                labels
                    .iter()
                    .map(|l| export::default_output(input, l))
                    .collect(),
                flag(args, "--codec").is_some(),
            )
        }
        Verb::Grid => (vec![grid::default_output(input)], true),
        Verb::Recover => (vec![recovered_name(input)], false),
    };
    Job::new(verb, input.to_owned(), args.to_vec(), outputs, encodes)
}

/// A job left out, and why.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Skipped {
    pub input: PathBuf,
    pub outputs: Vec<PathBuf>,
    pub reason: String,
}

/// The jobs to run and the ones left out.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub run: Vec<Job>,
    pub skipped: Vec<Skipped>,
}

/// Splits `jobs`: those whose outputs all exist (and, probed, are valid)
/// are skipped unless `overwrite`. A second job writing the same output as
/// an earlier one (two recordings in one segment making one grid) is
/// skipped too.
pub fn plan(jobs: Vec<Job>, overwrite: bool, probe_existing: bool) -> Plan {
    let mut p = Plan::default();
    let mut claimed = std::collections::HashSet::new();
    for job in jobs {
        if let Some(o) = job.outputs.iter().find(|o| claimed.contains(*o)) {
            p.skipped.push(Skipped {
                input: job.input.clone(),
                outputs: job.outputs.clone(),
                reason: format!("{} is written by an earlier job", o.display()),
            });
            continue;
        }
        claimed.extend(job.outputs.iter().cloned());
        let done = !job.outputs.is_empty()
            && job
                .outputs
                .iter()
                .all(|o| output_state(o, probe_existing) == OutputState::Valid);
        if done && !overwrite {
            p.skipped.push(Skipped {
                input: job.input.clone(),
                outputs: job.outputs.clone(),
                reason: "outputs exist".into(),
            });
        } else {
            p.run.push(job);
        }
    }
    p
}

/// `--report-existing`: every output's state, probed.
pub fn existing(jobs: &[Job]) -> Vec<(PathBuf, OutputState)> {
    jobs.iter()
        .flat_map(|j| j.outputs.iter())
        .map(|o| (o.clone(), output_state(o, true)))
        .collect()
}
