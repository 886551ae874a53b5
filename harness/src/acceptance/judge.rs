//! Turning what the processes reported into checks, and checks into a
//! verdict. A check whose input is missing fails (the tester should have
//! written it) unless it is explicitly skipped with a reason.

use std::fmt::Display;

use serde_json::Value;

use crate::model::{Check, Counts, EncoderUsed, Latency, Outcome};
use crate::supervisor::Exit;

/// What a documented exit code means, per tool (seed README "Exit Codes").
pub fn exit_meaning(code: i32) -> &'static str {
    match code {
        0 => "success",
        1 => "runtime failure",
        2 => "invalid arguments or configuration",
        3 => "payload type mismatch",
        4 => "threshold not met",
        5 => "pipeline initialisation error (missing element)",
        6 => "RTMP mode mismatch",
        7 => "protocol/strict validation error",
        124 => "timeout: nothing arrived",
        _ => "undocumented exit code",
    }
}

pub fn describe_exit(exit: Option<Exit>) -> String {
    match exit {
        Some(Exit::Code(c)) => format!("exit {c} ({})", exit_meaning(c)),
        Some(Exit::Signal(s)) => format!("killed by signal {s}"),
        None => "still running".into(),
    }
}

/// `v.a.b` as u64.
pub fn u(v: Option<&Value>, path: &str) -> Option<u64> {
    at(v, path)?.as_u64()
}

pub fn at<'a>(v: Option<&'a Value>, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(v?, |v, k| v.get(k))
}

/// The streamer's `--summary-json` counts into `c` (its RTP or RTMP sink).
pub fn streamer_counts(s: Option<&Value>, rtp: bool, c: &mut Counts) {
    c.frames_ingested = u(s, "stats.frames_ingested");
    c.frames_encoded = u(s, "stats.frames_encoded");
    c.access_units_sent = u(s, "stats.access_units");
    if rtp {
        c.rtp_packets_sent = u(s, "stats.rtp_packets_sent");
    } else {
        c.rtmp_units_sent = u(s, "stats.rtmp_units_sent");
        c.rtmp_units_dropped = u(s, "stats.rtmp_units_dropped");
    }
}

/// The streamer's `--summary-json` `encoder` object, or why there is none.
pub fn encoder(s: Option<&Value>) -> (Option<EncoderUsed>, Option<String>) {
    match at(s, "encoder").cloned().map(serde_json::from_value) {
        Some(Ok(e)) => (Some(e), None),
        Some(Err(e)) => (None, Some(format!("unreadable encoder object: {e}"))),
        None => (
            None,
            Some("the streamer wrote no --summary-json encoder object".into()),
        ),
    }
}

/// The RTP receiver's `latency_ms`, or its note why there is none.
pub fn latency(r: Option<&Value>) -> (Option<Latency>, Option<String>) {
    match at(r, "latency_ms").cloned().map(serde_json::from_value) {
        Some(Ok(l)) => (Some(l), None),
        _ => {
            let note = at(r, "latency_note").and_then(Value::as_str);
            (
                None,
                Some(note.unwrap_or("the receiver reported no latency").into()),
            )
        }
    }
}

#[derive(Debug, Default)]
pub struct Checks(pub Vec<Check>);

impl Checks {
    fn push(&mut self, name: &str, ok: bool, expected: String, actual: Option<String>) {
        let outcome = if ok { Outcome::Pass } else { Outcome::Fail };
        self.0.push(Check {
            name: name.to_owned(),
            outcome,
            expected,
            actual,
        });
    }

    pub fn exit(&mut self, name: &str, exit: Option<Exit>, expected: i32) {
        let ok = exit == Some(Exit::Code(expected));
        let want = format!("exit {expected} ({})", exit_meaning(expected));
        self.push(name, ok, want, Some(describe_exit(exit)));
    }

    pub fn at_least(&mut self, name: &str, actual: Option<u64>, min: u64) {
        let ok = actual.is_some_and(|a| a >= min);
        self.push(name, ok, format!(">= {min}"), actual.map(|a| a.to_string()));
    }

    pub fn equals<T: Display + PartialEq>(&mut self, name: &str, actual: Option<T>, want: T) {
        let ok = actual.as_ref() == Some(&want);
        self.push(name, ok, want.to_string(), actual.map(|a| a.to_string()));
    }

    pub fn is_true(&mut self, name: &str, actual: Option<bool>) {
        self.equals(name, actual, true);
    }

    /// A JSON value that must be empty (an array) or null.
    pub fn empty(&mut self, name: &str, actual: Option<&Value>) {
        let ok = match actual {
            Some(Value::Array(a)) => a.is_empty(),
            Some(Value::Null) => true,
            _ => false,
        };
        self.push(name, ok, "none".into(), actual.map(Value::to_string));
    }

    /// A check that could not run, and why.
    pub fn skip(&mut self, name: &str, expected: &str, why: &str) {
        self.0.push(Check {
            name: name.to_owned(),
            outcome: Outcome::Skip,
            expected: expected.to_owned(),
            actual: Some(format!("not run: {why}")),
        });
    }

    /// Fail when any check failed (the reason names them), else pass.
    pub fn verdict(&self) -> (Outcome, String) {
        let failed: Vec<String> = self
            .0
            .iter()
            .filter(|c| c.outcome == Outcome::Fail)
            .map(|c| {
                let got = c.actual.as_deref().unwrap_or("nothing reported");
                format!("{}: expected {}, got {got}", c.name, c.expected)
            })
            .collect();
        let skipped: Vec<&str> = self
            .0
            .iter()
            .filter(|c| c.outcome == Outcome::Skip)
            .map(|c| c.name.as_str())
            .collect();
        if !failed.is_empty() {
            let n = failed.len();
            return (
                Outcome::Fail,
                format!("{n} check(s) failed: {}", failed.join("; ")),
            );
        }
        let passed = self.0.len() - skipped.len();
        if !skipped.is_empty() {
            // A required check that did not run proves nothing: the row is
            // a skip, counted as one in the tally, never a pass.
            return (
                Outcome::Skip,
                format!(
                    "{passed} checks passed, {} required check(s) skipped: {}",
                    skipped.len(),
                    skipped.join(", ")
                ),
            );
        }
        (Outcome::Pass, format!("all {passed} checks passed"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn verdict_names_failed_checks() {
        let mut c = Checks::default();
        c.exit("receiver exit", Some(Exit::Code(3)), 0);
        c.at_least("units", Some(300), 285);
        c.skip("decode", ">= 280", "avdec_h264 not installed");
        let (o, reason) = c.verdict();
        assert_eq!(o, Outcome::Fail);
        assert!(reason.contains(
            "receiver exit: expected exit 0 (success), got exit 3 (payload type mismatch)"
        ));
        let mut ok = Checks::default();
        ok.at_least("units", Some(300), 285);
        ok.skip("decode", ">= 280", "absent");
        assert_eq!(
            ok.verdict(),
            (
                Outcome::Skip,
                "1 checks passed, 1 required check(s) skipped: decode".into()
            )
        );
        let mut all = Checks::default();
        all.at_least("units", Some(300), 285);
        assert_eq!(all.verdict(), (Outcome::Pass, "all 1 checks passed".into()));
    }

    #[test]
    fn reads_paths() {
        let v = json!({"stats": {"frames": 3}, "e": []});
        assert_eq!(u(Some(&v), "stats.frames"), Some(3));
        assert_eq!(u(Some(&v), "stats.nope"), None);
        let mut c = Checks::default();
        c.empty("e", at(Some(&v), "e"));
        c.empty("missing", at(Some(&v), "x"));
        assert_eq!(c.0[0].outcome, Outcome::Pass);
        assert_eq!(c.0[1].outcome, Outcome::Fail);
    }
}
