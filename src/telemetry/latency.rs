//! A fixed-size latency histogram: recorded from a streaming thread without
//! locks or allocation, summarised (p50, p99, ...) in the run summary.
//! 0.1 ms buckets up to 500 ms, then one overflow bucket: the percentiles
//! are exact to 0.1 ms, and memory stays 40 KB whatever the run's length.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

const BUCKET_NS: u64 = 100_000;
const BUCKETS: usize = 5000;

#[derive(Debug)]
pub struct LatencyHistogram {
    buckets: Box<[AtomicU64]>,
    sum_ns: AtomicU64,
    min_ns: AtomicU64,
    max_ns: AtomicU64,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self {
            buckets: (0..=BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            sum_ns: AtomicU64::new(0),
            min_ns: AtomicU64::new(u64::MAX),
            max_ns: AtomicU64::new(0),
        }
    }
}

/// Percentiles in milliseconds (upper edge of the bucket: never flattering).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LatencySummary {
    pub p50: f64,
    pub p99: f64,
    pub min: f64,
    pub max: f64,
    pub mean: f64,
    pub samples: u64,
}

impl LatencyHistogram {
    pub fn record(&self, ns: u64) {
        let i = usize::try_from(ns / BUCKET_NS)
            .unwrap_or(BUCKETS)
            .min(BUCKETS);
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.sum_ns.fetch_add(ns, Ordering::Relaxed);
        self.min_ns.fetch_min(ns, Ordering::Relaxed);
        self.max_ns.fetch_max(ns, Ordering::Relaxed);
    }

    /// None before the first sample.
    pub fn summary(&self) -> Option<LatencySummary> {
        let counts: Vec<u64> = self
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        let samples: u64 = counts.iter().sum();
        if samples == 0 {
            return None;
        }
        let max_ns = self.max_ns.load(Ordering::Relaxed);
        let ms = |ns: u64| (ns as f64 / 1e6 * 1000.0).round() / 1000.0;
        let rank = |p: f64| {
            let want = ((p * samples as f64).ceil() as u64).max(1);
            let mut seen = 0;
            for (i, &c) in counts.iter().enumerate() {
                seen += c;
                if seen >= want {
                    // The bucket's upper edge, but never above the largest sample.
                    return ms(((i as u64 + 1) * BUCKET_NS).min(max_ns));
                }
            }
            ms(max_ns)
        };
        Some(LatencySummary {
            p50: rank(0.50),
            p99: rank(0.99),
            min: ms(self.min_ns.load(Ordering::Relaxed)),
            max: ms(max_ns),
            mean: ms(self.sum_ns.load(Ordering::Relaxed) / samples),
            samples,
        })
    }
}

/// Capture stamps at or after 2001-01-01 are Unix-epoch wall time (what
/// cv-mmap producers stamp with); earlier ones are media time, which says
/// nothing about when a frame was captured.
const EPOCH_DOMAIN_FROM_NS: u64 = 978_307_200 * 1_000_000_000;

/// Where a frame's time goes on its way through the streamer: the encoder's
/// own time (frame pushed -> unit out, on a monotonic clock), and capture
/// stamp -> leaving each stage (sync received, frame taken, into the
/// encoder, out of it, sent by each output) on the wall clock the producer stamps with. The differences
/// between consecutive stages are the hand-offs: what the streamer adds
/// around the encoder.
#[derive(Debug, Default)]
pub struct StageLatency {
    pub encode: LatencyHistogram,
    /// Capture -> the producer's sync received by the ingest (the
    /// producer's own copy and ZeroMQ).
    pub synced: LatencyHistogram,
    /// Capture -> the coherent frame queued for the encoder (adds the
    /// ingest's copy or conversion out of shared memory).
    pub ingested: LatencyHistogram,
    pub to_encoder: LatencyHistogram,
    pub encoded: LatencyHistogram,
    pub rtp_sent: LatencyHistogram,
    pub rtmp_sent: LatencyHistogram,
}

/// The capture-to-stage percentiles of [`StageLatency`], in ms (absent for
/// a stage nothing passed, or when the stamps are not wall-clock time).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StageSummary {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub synced: Option<LatencySummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ingested: Option<LatencySummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_encoder: Option<LatencySummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encoded: Option<LatencySummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rtp_sent: Option<LatencySummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rtmp_sent: Option<LatencySummary>,
}

impl StageLatency {
    /// Records now - `capture_ns` in `stage` when the stamp is wall-clock
    /// time and not in the future (a producer's clock may be ahead).
    pub fn since_capture(stage: &LatencyHistogram, capture_ns: u64) {
        if capture_ns < EPOCH_DOMAIN_FROM_NS {
            return;
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        if let Some(ns) = now.checked_sub(capture_ns) {
            stage.record(ns);
        }
    }

    pub fn stages(&self) -> StageSummary {
        StageSummary {
            synced: self.synced.summary(),
            ingested: self.ingested.summary(),
            to_encoder: self.to_encoder.summary(),
            encoded: self.encoded.summary(),
            rtp_sent: self.rtp_sent.summary(),
            rtmp_sent: self.rtmp_sent.summary(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_to_the_bucket() {
        let h = LatencyHistogram::default();
        assert!(h.summary().is_none());
        for i in 1..=100u64 {
            h.record(i * 1_000_000); // 1..=100 ms
        }
        let s = h.summary().unwrap();
        // Upper bucket edges: 50 ms lies in [50.0, 50.1).
        assert_eq!(
            (s.p50, s.p99, s.min, s.max, s.samples),
            (50.1, 99.1, 1.0, 100.0, 100)
        );
        assert_eq!(s.mean, 50.5);
        // Beyond the last bucket: counted, and the max is exact.
        h.record(2_000_000_000);
        let s = h.summary().unwrap();
        assert_eq!((s.max, s.samples), (2000.0, 101));
    }

    #[test]
    fn stages_count_wall_clock_stamps_only() {
        let s = StageLatency::default();
        StageLatency::since_capture(&s.to_encoder, 42); // media time
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64;
        StageLatency::since_capture(&s.encoded, now - 5_000_000);
        StageLatency::since_capture(&s.encoded, now + 60_000_000_000); // ahead
        let st = s.stages();
        assert!(st.to_encoder.is_none());
        let e = st.encoded.unwrap();
        assert_eq!(e.samples, 1);
        assert!(e.p50 >= 5.0 && e.p50 < 1000.0, "{e:?}");
    }
}
