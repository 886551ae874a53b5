//! Checks the fault scenarios need beyond the acceptance ones (limits on
//! measured figures), and time arithmetic on Unix-ns instants.

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

#[cfg(test)]
mod tests {
    use super::*;

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
