//! Unix nanoseconds as text for overlays: `1765000000.123` and the UTC
//! civil time (Howard Hinnant's `civil_from_days`, proleptic Gregorian).

/// `SECONDS.MILLIS  YYYY-MM-DD HH:MM:SS.mmm UTC`.
pub fn overlay(unix_ns: u64) -> String {
    let secs = unix_ns / 1_000_000_000;
    let ms = (unix_ns / 1_000_000) % 1000;
    let (y, mo, d) = civil_from_days((secs / 86_400) as i64);
    let s = secs % 86_400;
    format!(
        "{secs}.{ms:03}  {y:04}-{mo:02}-{d:02} {:02}:{:02}:{:02}.{ms:03} UTC",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// `+H:MM:SS.mmm` since the start (pictures without a capture time).
pub fn elapsed(ns: u64) -> String {
    let s = ns / 1_000_000_000;
    format!(
        "+{}:{:02}:{:02}.{:03}",
        s / 3600,
        s / 60 % 60,
        s % 60,
        ns / 1_000_000 % 1000
    )
}

/// (year, month, day) of days since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants_format_as_utc() {
        assert_eq!(overlay(0), "0.000  1970-01-01 00:00:00.000 UTC");
        // date -u -d @1765000000.123
        assert_eq!(
            overlay(1_765_000_000_123_456_789),
            "1765000000.123  2025-12-06 05:46:40.123 UTC"
        );
        // A leap day.
        assert_eq!(
            overlay(951_782_400_000_000_000),
            "951782400.000  2000-02-29 00:00:00.000 UTC"
        );
        assert_eq!(elapsed(3_723_004_000_000), "+1:02:03.004");
    }
}
