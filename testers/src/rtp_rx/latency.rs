//! End-to-end latency from RTCP sender reports.
//!
//! A sender report (RFC 3550 §6.4.1) says that NTP wall-clock time `T_sr`
//! corresponds to RTP timestamp `ts_sr`. The capture time of an access unit
//! with RTP timestamp `ts` is then `T_sr + (ts - ts_sr) / clock_rate`, with the
//! difference taken modulo 2^32 as a signed 32-bit number (the timestamp wraps,
//! §5.1). Its latency is the wall-clock arrival time of its last packet minus
//! that capture time; both clocks are CLOCK_REALTIME, so sender and receiver
//! must share a clock (same host, or NTP-synchronised hosts).
//!
//! NTP time (RFC 5905 §6): seconds since 1900-01-01 in the upper 32 bits and a
//! binary fraction in the lower; Unix time = NTP seconds - 2 208 988 800. As in
//! RFC 4330 §3, an NTP seconds value with its top bit clear is taken to be in
//! era 1 (from 2036-02-07), adding 2^32 s.

use serde::Serialize;

use super::rtcp::SenderReport;

/// Seconds from 1900-01-01 (NTP epoch) to 1970-01-01 (Unix epoch).
pub const NTP_UNIX_OFFSET_S: i64 = 2_208_988_800;
/// RTP clock rate of H.264 / H.265 video (RFC 6184 §8.2.1, RFC 7798 §7.2).
pub const VIDEO_CLOCK_RATE: i64 = 90_000;

/// A 64-bit NTP timestamp as Unix time in nanoseconds.
pub fn ntp_to_unix_ns(msw: u32, lsw: u32) -> i64 {
    let mut secs = i64::from(msw);
    if msw & 0x8000_0000 == 0 {
        secs += 1 << 32; // era 1
    }
    let frac_ns = (u64::from(lsw) * 1_000_000_000) >> 32;
    (secs - NTP_UNIX_OFFSET_S) * 1_000_000_000 + frac_ns as i64
}

/// Capture time (Unix ns) of RTP timestamp `ts` according to `sr`.
pub fn capture_unix_ns(sr: &SenderReport, ts: u32) -> i64 {
    let delta_ticks = i64::from(ts.wrapping_sub(sr.rtp_timestamp) as i32);
    ntp_to_unix_ns(sr.ntp_msw, sr.ntp_lsw) + delta_ticks * 1_000_000_000 / VIDEO_CLOCK_RATE
}

/// Latency in milliseconds of an AU with RTP timestamp `ts` whose last packet
/// arrived at `arrival_unix_ns`.
pub fn latency_ms(sr: &SenderReport, ts: u32, arrival_unix_ns: i64) -> f64 {
    (arrival_unix_ns - capture_unix_ns(sr, ts)) as f64 / 1e6
}

/// Latency samples of one run.
#[derive(Clone, Debug, Default)]
pub struct LatencySamples {
    samples: Vec<f64>,
}

/// The JSON `latency_ms` object.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LatencySummary {
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
    pub min: f64,
    pub mean: f64,
    pub samples: usize,
}

impl LatencySamples {
    pub fn push(&mut self, ms: f64) {
        if ms.is_finite() {
            self.samples.push(ms);
        }
    }

    pub fn len(&self) -> usize {
        self.samples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// Nearest-rank percentiles; `None` without samples.
    pub fn summary(&self) -> Option<LatencySummary> {
        if self.samples.is_empty() {
            return None;
        }
        let mut sorted = self.samples.clone();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let rank = |p: f64| sorted[((p / 100.0 * n as f64).ceil() as usize).clamp(1, n) - 1];
        Some(LatencySummary {
            p50: rank(50.0),
            p99: rank(99.0),
            max: sorted[n - 1],
            min: sorted[0],
            mean: sorted.iter().sum::<f64>() / n as f64,
            samples: n,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sr(ntp_msw: u32, ntp_lsw: u32, rtp_timestamp: u32) -> SenderReport {
        SenderReport {
            ssrc: 1,
            ntp_msw,
            ntp_lsw,
            rtp_timestamp,
            packet_count: 0,
            octet_count: 0,
            report_blocks: 0,
        }
    }

    /// 2024-01-01T00:00:00Z = Unix 1_704_067_200 s.
    const UNIX_2024: i64 = 1_704_067_200;
    const NTP_2024: u32 = (UNIX_2024 + NTP_UNIX_OFFSET_S) as u32;

    #[test]
    fn ntp_conversion() {
        assert_eq!(ntp_to_unix_ns(NTP_2024, 0), UNIX_2024 * 1_000_000_000);
        assert_eq!(
            ntp_to_unix_ns(NTP_2024, 0x8000_0000),
            UNIX_2024 * 1_000_000_000 + 500_000_000
        );
        assert_eq!(ntp_to_unix_ns(0x83AA_7E80, 0), 0); // 1970-01-01
        // Era 1: NTP seconds 0 is 2036-02-07T06:28:16Z = Unix 2_085_978_496.
        assert_eq!(ntp_to_unix_ns(0, 0), 2_085_978_496 * 1_000_000_000);
    }

    #[test]
    fn capture_time_forward_and_backward() {
        let r = sr(NTP_2024, 0, 10_000);
        let base = UNIX_2024 * 1_000_000_000;
        assert_eq!(capture_unix_ns(&r, 10_000 + 90_000), base + 1_000_000_000);
        assert_eq!(capture_unix_ns(&r, 10_000 + 3_000), base + 33_333_333);
        // An AU captured just before the SR.
        assert_eq!(capture_unix_ns(&r, 10_000 - 9_000), base - 100_000_000);
    }

    #[test]
    fn capture_time_across_the_timestamp_wrap() {
        // SR just before the wrap; the AU 2 s later has wrapped around to a small number.
        let r = sr(NTP_2024, 0, u32::MAX - 44_999);
        let au_ts = r.rtp_timestamp.wrapping_add(180_000);
        assert!(au_ts < 200_000);
        let base = UNIX_2024 * 1_000_000_000;
        assert_eq!(capture_unix_ns(&r, au_ts), base + 2_000_000_000);
        // AU before the SR, SR after the wrap.
        let r = sr(NTP_2024, 0, 10);
        assert_eq!(
            capture_unix_ns(&r, 10u32.wrapping_sub(90_000)),
            base - 1_000_000_000
        );
        // Arrival 25 ms after capture.
        let ms = latency_ms(&r, 10 + 900, base + 10_000_000 + 25_000_000);
        assert!((ms - 25.0).abs() < 1e-6, "{ms}");
    }

    #[test]
    fn percentiles() {
        let mut s = LatencySamples::default();
        assert!(s.summary().is_none() && s.is_empty());
        for v in (1..=100).rev() {
            s.push(f64::from(v));
        }
        s.push(f64::NAN);
        let sum = s.summary().unwrap();
        assert_eq!(
            (sum.p50, sum.p99, sum.max, sum.min, sum.samples),
            (50.0, 99.0, 100.0, 1.0, 100)
        );
        assert!((sum.mean - 50.5).abs() < 1e-9);
        let mut one = LatencySamples::default();
        one.push(-3.5);
        let sum = one.summary().unwrap();
        assert_eq!((sum.p50, sum.p99, sum.max), (-3.5, -3.5, -3.5));
    }
}
