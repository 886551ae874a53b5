//! Counters, one group per stage. Each stage holds only its own group and
//! increments the events it owns; the pipeline aggregates the groups into
//! the status line, the NATS status and the run summary ([`StatsSnapshot`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::Serialize;

/// `counter += 1` (relaxed: counters order nothing).
pub fn incr(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// `counter += n`.
pub fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

macro_rules! counter_group {
    ($(#[$gdoc:meta])* $group:ident / $snap:ident { $($(#[$doc:meta])* $name:ident),* $(,)? }) => {
        $(#[$gdoc])*
        #[derive(Debug, Default)]
        pub struct $group { $($(#[$doc])* pub $name: AtomicU64,)* }

        /// A point-in-time copy of the group.
        #[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
        pub struct $snap { $(pub $name: u64,)* }

        impl $group {
            pub fn snapshot(&self) -> $snap {
                $snap { $($name: self.$name.load(Ordering::Relaxed),)* }
            }
        }
    };
}

counter_group! {
    /// Ingest: syncs, shared-memory snapshots and the latest-frame queue.
    IngestCounters / IngestSnapshot {
        /// Sync messages received for our source.
        syncs_received,
        /// Sync messages skipped (other magic, other label, malformed).
        syncs_skipped,
        /// Frames copied out of shared memory and queued.
        frames_ingested,
        /// Frames rejected because counter or timestamp changed during the copy.
        frames_torn,
        /// Copies dropped because samples of the payload read again after
        /// the copy differed (an in-place rewrite before the metadata).
        frames_rewritten,
        /// Metadata reads that found a frame no sync announced yet (skipped).
        frames_unannounced,
        /// Raw frames whose stamps were checked (`--verify-stamps`).
        stamps_checked,
        /// Of those, frames whose first/last-row stamps disagree with the counter.
        stamp_mismatches,
        /// Frames dropped by the latest-frame queue because it was full.
        frames_dropped_queue,
        /// Times the metadata failed validation (segment not ready or corrupt).
        metadata_invalid,
        /// Times the segment was (re)opened.
        segment_maps,
        /// Copies refused because they reached past the segment's end (it
        /// grew, or shrank in place during the copy): the segment is re-opened.
        reads_refused,
        /// Producer resets seen (frame counter went backwards).
        producer_resets,
        /// Bands of large frames sent to a conversion helper thread
        /// (`--convert-threads`).
        convert_bands_posted,
        /// Of those, bands the ingest thread converted itself because the
        /// helper had not started by the time its own band was done.
        convert_bands_stolen,
    }
}

counter_group! {
    /// Encode: the encoder (or passthrough) and the keyframe decisions.
    EncodeCounters / EncodeSnapshot {
        /// Frames handed to the encoder.
        frames_encoded,
        /// Producer access units published without re-encoding (`--passthrough`).
        frames_passthrough,
        /// Producer access units skipped while waiting for the first keyframe.
        passthrough_skipped,
        /// Producer units whose DTS had to be moved to keep DTS rising and
        /// not after PTS: the stream reorders deeper than its SPS says.
        passthrough_dts_adjusted,
        /// Access units produced by the encoder.
        access_units,
        /// Keyframe access units produced by the encoder.
        keyframes,
        /// Bytes of access units handed to the outputs.
        access_unit_bytes,
        /// Keyframes forced (resets, clock jumps, requests).
        keyframes_forced,
        /// Frames that brought a keyframe reason (request, reset, clock
        /// jump) inside the limiter's window: it waited, coalesced.
        keyframes_deferred,
        /// Resets that started a new timeline (STREAM_RESET or counter backwards).
        resets_applied,
    }
}

counter_group! {
    /// The RTP output.
    RtpCounters / RtpSnapshot {
        /// RTP packets sent.
        rtp_packets_sent,
        /// RTP payload bytes sent (including RTP headers).
        rtp_bytes_sent,
        /// RTP packets the socket refused (receiver absent, buffer full
        /// even after a short wait).
        rtp_send_errors,
        /// Packets that found the send buffer full and waited for room.
        rtp_send_waits,
        /// Access units not sent because the RTP sink's queue was full.
        rtp_units_dropped,
    }
}

counter_group! {
    /// The RTMP output.
    RtmpCounters / RtmpSnapshot {
        /// Access units sent over RTMP.
        rtmp_units_sent,
        /// Access units not sent over RTMP (peer stalled, reconnecting,
        /// waiting for a keyframe).
        rtmp_units_dropped,
        /// RTMP bytes written (chunk headers included).
        rtmp_bytes_sent,
        /// RTMP sessions re-established after the first.
        rtmp_reconnects,
    }
}

counter_group! {
    /// The recording (`--record`).
    RecordCounters / RecordSnapshot {
        /// Access units written to the recording.
        record_units_written,
        /// Access-unit bytes written (before the container's framing).
        record_bytes_written,
        /// Access units not recorded because the recorder's queue was full
        /// (a slow disk): dropped to the next keyframe.
        record_units_dropped,
    }
}

counter_group! {
    /// NATS: the connection, the producer's status and body tracking.
    NatsCounters / NatsSnapshot {
        /// NATS connections established (the first and every reconnect).
        nats_connects,
        /// NATS connections lost.
        nats_disconnects,
        /// ModuleStatusEvents received from the producer.
        nats_status_events,
        /// ONLINE events from the producer.
        producer_online,
        /// OFFLINE events from the producer.
        producer_offline,
        /// STREAM_RESET events from the producer.
        producer_stream_resets,
        /// Keyframes asked for over NATS (the `keyframe` endpoint).
        keyframe_requests,
        /// Valid body-tracking messages received.
        body_messages,
        /// Body-tracking messages rejected (bad header or sizes).
        body_invalid,
        /// Body-tracking messages inserted into the stream as SEI.
        body_attached,
        /// Of those, attached to a later frame than their own.
        body_late,
        /// Body-tracking messages dropped unsent (bound reached).
        body_dropped,
    }
}

/// Every stage's group; cheap to clone. The pipeline creates it and hands
/// each stage its own group.
#[derive(Debug, Clone, Default)]
pub struct Counters {
    pub ingest: Arc<IngestCounters>,
    pub encode: Arc<EncodeCounters>,
    /// Frame into the encoder -> its access unit out (GStreamer encoders),
    /// and capture -> each stage.
    pub latency: Arc<super::StageLatency>,
    pub rtp: Arc<RtpCounters>,
    /// What RTP receivers report back over RTCP.
    pub rtcp: Arc<super::RtcpCounters>,
    /// Every RTMP destination together (`rtmp_*` in the stats).
    pub rtmp: Arc<RtmpCounters>,
    /// Each RTMP destination's own, in `--rtmp-url` order (registered by
    /// the outputs as they open).
    pub rtmp_destinations: Arc<Mutex<Vec<RtmpDestination>>>,
    pub record: Arc<RecordCounters>,
    pub nats: Arc<NatsCounters>,
}

/// One RTMP destination's counters, under its redacted URL.
#[derive(Debug)]
pub struct RtmpDestination {
    pub url: String,
    pub counters: Arc<RtmpCounters>,
}

/// [`RtmpDestination`] at one moment.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RtmpDestinationSnapshot {
    pub url: String,
    #[serde(flatten)]
    pub stats: RtmpSnapshot,
}

/// All counters at one moment, as one flat JSON object (the summary's and
/// the status's `stats`).
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct StatsSnapshot {
    #[serde(flatten)]
    pub ingest: IngestSnapshot,
    #[serde(flatten)]
    pub encode: EncodeSnapshot,
    #[serde(flatten)]
    pub rtp: RtpSnapshot,
    #[serde(flatten)]
    pub rtcp: super::RtcpSnapshot,
    #[serde(flatten)]
    pub rtmp: RtmpSnapshot,
    /// Each destination's own `rtmp_*` (absent with none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rtmp_destinations: Vec<RtmpDestinationSnapshot>,
    #[serde(flatten)]
    pub record: RecordSnapshot,
    #[serde(flatten)]
    pub nats: NatsSnapshot,
}

impl Counters {
    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            ingest: self.ingest.snapshot(),
            encode: self.encode.snapshot(),
            rtp: self.rtp.snapshot(),
            rtcp: self.rtcp.snapshot(),
            rtmp: self.rtmp.snapshot(),
            rtmp_destinations: self
                .rtmp_destinations
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .iter()
                .map(|d| RtmpDestinationSnapshot {
                    url: d.url.clone(),
                    stats: d.counters.snapshot(),
                })
                .collect(),
            record: self.record.snapshot(),
            nats: self.nats.snapshot(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_is_one_flat_object() {
        let c = Counters::default();
        incr(&c.ingest.frames_ingested);
        add(&c.rtmp.rtmp_bytes_sent, 7);
        let v = serde_json::to_value(c.snapshot()).unwrap();
        assert_eq!(v["frames_ingested"], 1);
        assert_eq!(v["rtmp_bytes_sent"], 7);
        assert_eq!(v["body_dropped"], 0);
        assert!(v.get("ingest").is_none(), "groups are flattened");
    }
}
