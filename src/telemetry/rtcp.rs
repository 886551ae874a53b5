//! What receivers tell the RTP output over RTCP: counts of reports and
//! keyframe requests (PLI, FIR), and the figures of the latest reception
//! report about our stream (RFC 3550 §6.4.1). Set by the RTP output's RTCP
//! thread, read by the status, the run summary and `/metrics`.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Serialize, Serializer};

/// The latest reception report, in wire units (integers, so snapshots
/// compare exactly); rendered in ms and ratios.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LatestReport {
    /// Fraction lost since the receiver's previous report, in 1/256.
    pub fraction_lost: u8,
    /// Packets lost since the start (signed, §6.4.1).
    pub cumulative_lost: i32,
    /// Extended highest sequence number received.
    pub highest_seq: u32,
    /// Interarrival jitter, RTP timestamp units.
    pub jitter: u32,
    /// The RTP clock rate `jitter` is counted in.
    pub clock_rate: u32,
    /// The last round-trip time measured, in 1/65536 s (NTP short), from
    /// this or an earlier report that echoed an SR we remember.
    pub rtt: Option<u32>,
}

/// RTCP feedback counters and the latest report.
#[derive(Debug, Default)]
pub struct RtcpCounters {
    /// Datagrams read on the RTCP socket that were valid RTCP.
    pub rtcp_packets_received: AtomicU64,
    /// Datagrams on the RTCP socket that failed validation (ignored).
    pub rtcp_invalid: AtomicU64,
    /// Reception report blocks about our stream (in RRs or SRs).
    pub rtcp_rr_received: AtomicU64,
    /// Picture Loss Indications for our stream (RFC 4585 §6.3.1).
    pub rtcp_pli_received: AtomicU64,
    /// Full Intra Requests for our stream, retransmissions not counted
    /// (RFC 5104 §4.3.1). Each PLI and new FIR asks the encoder for a
    /// keyframe through the keyframe limiter, which may coalesce them.
    pub rtcp_fir_received: AtomicU64,
    latest: Mutex<Option<LatestReport>>,
}

impl RtcpCounters {
    pub fn set_latest(&self, r: LatestReport) {
        *self.latest.lock().unwrap_or_else(|p| p.into_inner()) = Some(r);
    }

    pub fn latest(&self) -> Option<LatestReport> {
        *self.latest.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn snapshot(&self) -> RtcpSnapshot {
        let n = |c: &AtomicU64| c.load(Ordering::Relaxed);
        RtcpSnapshot {
            rtcp_packets_received: n(&self.rtcp_packets_received),
            rtcp_invalid: n(&self.rtcp_invalid),
            rtcp_rr_received: n(&self.rtcp_rr_received),
            rtcp_pli_received: n(&self.rtcp_pli_received),
            rtcp_fir_received: n(&self.rtcp_fir_received),
            latest: self.latest(),
        }
    }
}

/// A point-in-time copy: the counters, then the latest report's figures
/// (`null` until a report about our stream came).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RtcpSnapshot {
    pub rtcp_packets_received: u64,
    pub rtcp_invalid: u64,
    pub rtcp_rr_received: u64,
    pub rtcp_pli_received: u64,
    pub rtcp_fir_received: u64,
    pub latest: Option<LatestReport>,
}

/// The gauges of [`RtcpSnapshot`] as JSON names them (not counters:
/// `/metrics` renders them as gauges, not `_total`).
pub const GAUGES: [&str; 5] = [
    "rtcp_fraction_lost",
    "rtcp_cumulative_lost",
    "rtcp_highest_seq",
    "rtcp_jitter_ms",
    "rtcp_rtt_ms",
];

impl RtcpSnapshot {
    /// Fraction lost, 0..1.
    pub fn fraction_lost(&self) -> Option<f64> {
        self.latest.map(|r| f64::from(r.fraction_lost) / 256.0)
    }

    pub fn jitter_ms(&self) -> Option<f64> {
        self.latest
            .map(|r| f64::from(r.jitter) * 1000.0 / f64::from(r.clock_rate.max(1)))
    }

    pub fn rtt_ms(&self) -> Option<f64> {
        self.latest
            .and_then(|r| r.rtt)
            .map(|u| f64::from(u) * 1000.0 / 65536.0)
    }

    /// The gauges of [`GAUGES`], in that order, as numbers when known.
    pub fn gauges(&self) -> [(&'static str, Option<f64>); 5] {
        let l = self.latest;
        [
            (GAUGES[0], self.fraction_lost()),
            (GAUGES[1], l.map(|r| f64::from(r.cumulative_lost))),
            (GAUGES[2], l.map(|r| f64::from(r.highest_seq))),
            (GAUGES[3], self.jitter_ms()),
            (GAUGES[4], self.rtt_ms()),
        ]
    }
}

impl Serialize for RtcpSnapshot {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("RtcpSnapshot", 10)?;
        st.serialize_field("rtcp_packets_received", &self.rtcp_packets_received)?;
        st.serialize_field("rtcp_invalid", &self.rtcp_invalid)?;
        st.serialize_field("rtcp_rr_received", &self.rtcp_rr_received)?;
        st.serialize_field("rtcp_pli_received", &self.rtcp_pli_received)?;
        st.serialize_field("rtcp_fir_received", &self.rtcp_fir_received)?;
        let l = self.latest;
        st.serialize_field(GAUGES[0], &self.fraction_lost())?;
        st.serialize_field(GAUGES[1], &l.map(|r| r.cumulative_lost))?;
        st.serialize_field(GAUGES[2], &l.map(|r| r.highest_seq))?;
        st.serialize_field(GAUGES[3], &self.jitter_ms())?;
        st.serialize_field(GAUGES[4], &self.rtt_ms())?;
        st.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_render_in_ms_and_null_before_a_report() {
        let c = RtcpCounters::default();
        let v = serde_json::to_value(c.snapshot()).unwrap();
        assert_eq!(v["rtcp_rr_received"], 0);
        assert!(v["rtcp_jitter_ms"].is_null() && v["rtcp_rtt_ms"].is_null());
        c.set_latest(LatestReport {
            fraction_lost: 64,
            cumulative_lost: -2,
            highest_seq: 70_000,
            jitter: 180,
            clock_rate: 90_000,
            rtt: Some(0x4000),
        });
        let v = serde_json::to_value(c.snapshot()).unwrap();
        assert_eq!(v["rtcp_fraction_lost"], 0.25);
        assert_eq!(v["rtcp_cumulative_lost"], -2);
        assert_eq!(v["rtcp_highest_seq"], 70_000);
        assert_eq!(v["rtcp_jitter_ms"], 2.0);
        assert_eq!(v["rtcp_rtt_ms"], 250.0);
        for g in GAUGES {
            assert!(v.get(g).is_some(), "{g}");
        }
    }
}
