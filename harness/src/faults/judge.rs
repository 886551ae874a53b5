//! Checks the fault scenarios need beyond the acceptance ones (limits on
//! measured figures), and reading the wall-clock time of a log line.

use std::fmt::Display;

use crate::acceptance::judge::Checks;
use crate::model::{Check, Outcome};

/// Adds a check with an explicit verdict.
pub fn check(c: &mut Checks, name: &str, ok: bool, expected: String, actual: Option<String>) {
    c.0.push(Check {
        name: name.to_owned(),
        outcome: if ok { Outcome::Pass } else { Outcome::Fail },
        expected,
        actual,
    });
}

/// `actual <= max`; fails when not measured.
pub fn at_most<T: PartialOrd + Display>(c: &mut Checks, name: &str, actual: Option<T>, max: T) {
    let ok = actual.as_ref().is_some_and(|a| *a <= max);
    check(
        c,
        name,
        ok,
        format!("<= {max}"),
        actual.map(|a| a.to_string()),
    );
}

/// `actual >= min`; fails when not measured.
pub fn at_least<T: PartialOrd + Display>(c: &mut Checks, name: &str, actual: Option<T>, min: T) {
    let ok = actual.as_ref().is_some_and(|a| *a >= min);
    check(
        c,
        name,
        ok,
        format!(">= {min}"),
        actual.map(|a| a.to_string()),
    );
}

/// `actual < max`; fails when not measured.
pub fn below<T: PartialOrd + Display>(c: &mut Checks, name: &str, actual: Option<T>, max: T) {
    let ok = actual.as_ref().is_some_and(|a| *a < max);
    check(
        c,
        name,
        ok,
        format!("< {max}"),
        actual.map(|a| a.to_string()),
    );
}

/// `actual > min`; fails when not measured.
pub fn above<T: PartialOrd + Display>(c: &mut Checks, name: &str, actual: Option<T>, min: T) {
    let ok = actual.as_ref().is_some_and(|a| *a > min);
    check(
        c,
        name,
        ok,
        format!("> {min}"),
        actual.map(|a| a.to_string()),
    );
}

/// Milliseconds between two Unix-ns instants (negative when `to` is first).
pub fn ms_between(from_ns: u64, to_ns: u64) -> f64 {
    (to_ns as i128 - from_ns as i128) as f64 / 1e6
}

/// Rounds to 0.1 ms for the evidence (figures are measurements, not noise).
pub fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
/// `days_from_civil`).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Removes ANSI escape sequences (`ESC [ ... letter`).
fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        if c == '\u{1b}' && it.peek() == Some(&'[') {
            for n in it.by_ref() {
                if n.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The Unix-ns time of a tracing log line starting with an RFC 3339 UTC
/// timestamp (`2026-11-26T07:22:28.088244Z ...`).
pub fn log_line_unix_ns(line: &str) -> Option<u64> {
    let line = strip_ansi(line);
    let ts = line.split_whitespace().next()?.strip_suffix('Z')?;
    let (date, time) = ts.split_once('T')?;
    let mut d = date.split('-');
    let (y, mo, da): (i64, u32, u32) = (
        d.next()?.parse().ok()?,
        d.next()?.parse().ok()?,
        d.next()?.parse().ok()?,
    );
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let mut t = hms.split(':');
    let (h, mi, s): (i64, i64, i64) = (
        t.next()?.parse().ok()?,
        t.next()?.parse().ok()?,
        t.next()?.parse().ok()?,
    );
    if !(1..=12).contains(&mo)
        || !(1..=31).contains(&da)
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let frac_ns: i64 = format!("{:0<9}", &frac[..frac.len().min(9)]).parse().ok()?;
    let secs = days_from_civil(y, mo, da) * 86_400 + h * 3600 + mi * 60 + s;
    u64::try_from(secs * 1_000_000_000 + frac_ns).ok()
}

/// Times of the log lines containing `needle`, in order.
pub fn log_times(text: &str, needle: &str) -> Vec<u64> {
    text.lines()
        .filter(|l| l.contains(needle))
        .filter_map(log_line_unix_ns)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tracing_timestamps() {
        let l = "2026-11-26T07:22:28.088244Z  WARN cvmmap_streamer::output::rtmp: x";
        assert_eq!(log_line_unix_ns(l), Some(1_795_677_748_088_244_000));
        let ansi = "\u{1b}[2m2026-11-26T07:22:28.088244Z\u{1b}[0m \u{1b}[33m WARN\u{1b}[0m x";
        assert_eq!(log_line_unix_ns(ansi), log_line_unix_ns(l));
        assert_eq!(
            log_line_unix_ns("1970-01-01T00:00:01Z x"),
            Some(1_000_000_000)
        );
        assert_eq!(
            log_line_unix_ns("2000-02-29T00:00:00.5Z"),
            Some(951_782_400_500_000_000)
        );
        assert_eq!(log_line_unix_ns("not a time"), None);
        assert_eq!(log_line_unix_ns("2026-13-01T00:00:00Z"), None);
        let text = format!("{l}\nother\n2026-11-26T07:22:29Z INFO RTMP x\n");
        assert_eq!(log_times(&text, "RTMP").len(), 1);
    }

    #[test]
    fn limits() {
        let mut c = Checks::default();
        at_most(&mut c, "a", Some(3.0), 3.0);
        below(&mut c, "b", Some(3), 3);
        above(&mut c, "c", None::<u64>, 0);
        above(&mut c, "d", Some(1u64), 0);
        let o: Vec<Outcome> = c.0.iter().map(|c| c.outcome).collect();
        assert_eq!(
            o,
            [Outcome::Pass, Outcome::Fail, Outcome::Fail, Outcome::Pass]
        );
        assert_eq!(ms_between(1_000_000, 3_500_000), 2.5);
        assert_eq!(ms_between(3_000_000, 1_000_000), -2.0);
        assert_eq!(round1(1.26), 1.3);
    }
}
