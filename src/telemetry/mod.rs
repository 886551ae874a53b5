//! Telemetry: what every stage reports, below every stage. Nothing here
//! imports a stage; every stage may import this.
//!
//! - [`counters`]: lock-free counters, one group per stage, aggregated into
//!   one [`StatsSnapshot`] for the status line, NATS status and summary.
//! - [`events`]: named events as JSON Lines (`--events PATH`) for the
//!   harness and other tools (docs/events.md).
//! - [`latency`]: a fixed-size histogram (the encoder's latency in the run
//!   summary).
//! - [`rtcp`]: what RTP receivers report back (PLI, FIR, loss, jitter,
//!   round-trip time).
//! - [`prometheus`]: the counters in Prometheus' text format (`/metrics`).

pub mod counters;
pub mod events;
pub mod latency;
pub mod prometheus;
pub mod rtcp;

pub use counters::{
    Counters, EncodeCounters, IngestCounters, NatsCounters, RecordCounters, RtmpCounters,
    RtmpDestination, RtmpDestinationSnapshot, RtpCounters, StatsSnapshot, add, incr,
};
pub use events::Events;
pub use latency::{LatencyHistogram, LatencySummary, StageLatency, StageSummary};
pub use rtcp::{LatestReport, RtcpCounters, RtcpSnapshot};
