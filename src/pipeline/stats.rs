//! Counters shared by every stage; read by the status line and the summary.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

macro_rules! counters {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {
        /// Lock-free counters, incremented by the stage that owns the event.
        #[derive(Debug, Default)]
        pub struct Stats { $($(#[$doc])* pub $name: AtomicU64,)* }

        /// A point-in-time copy of [`Stats`].
        #[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
        pub struct StatsSnapshot { $(pub $name: u64,)* }

        impl Stats {
            pub fn snapshot(&self) -> StatsSnapshot {
                StatsSnapshot { $($name: self.$name.load(Ordering::Relaxed),)* }
            }
        }
    };
}

counters! {
    /// Sync messages received for our source.
    syncs_received,
    /// Sync messages skipped (other magic, other label, malformed).
    syncs_skipped,
    /// Frames copied out of shared memory and queued.
    frames_ingested,
    /// Frames rejected because counter or timestamp changed during the copy.
    frames_torn,
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
    /// Times the segment was (re)mapped.
    segment_maps,
    /// Producer resets seen (frame counter went backwards).
    producer_resets,
    /// Frames handed to the encoder.
    frames_encoded,
    /// Producer access units published without re-encoding (`--passthrough`).
    frames_passthrough,
    /// Producer access units skipped while waiting for the first keyframe.
    passthrough_skipped,
    /// Access units produced by the encoder.
    access_units,
    /// Keyframe access units produced by the encoder.
    keyframes,
    /// RTP packets sent.
    rtp_packets_sent,
    /// RTP payload bytes sent (including RTP headers).
    rtp_bytes_sent,
    /// RTP packets the socket refused (receiver absent, buffer full).
    rtp_send_errors,
    /// Access units sent over RTMP.
    rtmp_units_sent,
    /// Access units not sent over RTMP (peer stalled, reconnecting, waiting
    /// for a keyframe).
    rtmp_units_dropped,
    /// RTMP bytes written (chunk headers included).
    rtmp_bytes_sent,
    /// RTMP sessions re-established after the first.
    rtmp_reconnects,
    /// Bytes of access units handed to the outputs.
    access_unit_bytes,
    /// Keyframes forced (resets, clock jumps, requests).
    keyframes_forced,
    /// Keyframes asked for through [`KeyframeRequests`](super::KeyframeRequests).
    keyframe_requests,
    /// Resets that started a new timeline (STREAM_RESET or counter backwards).
    resets_applied,
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

impl Stats {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn incr(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}
