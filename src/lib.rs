//! cvmmap-streamer: reads frames from a cv-mmap producer (POSIX shared memory +
//! ZeroMQ sync), encodes them, and publishes them over RTP (and later RTMP).
//!
//! Layout, from the wire inwards:
//! - [`contract`]: the cv-mmap wire contract, pure parsing (no I/O).
//! - [`ingest`]: maps the segment, takes coherent snapshots, listens for syncs,
//!   and feeds the latest-frame [`ingest::queue`].
//! - [`encode`]: the only GStreamer part: raw frames in, Annex-B access units out.
//! - [`codec`]: pure bitstream helpers (Annex-B splitting, parameter sets).
//! - [`rtp`]: pure RTP packetizer, payloaders and SDP.
//! - [`output`]: small drivers that own sockets (UDP for RTP).
//! - [`nats`]: producer status/body/control over NATS, our status and service.
//! - [`pipeline`]: wires ingest -> queue -> encoder -> outputs.
//! - [`config`]: command line and validated configuration.

pub mod codec;
pub mod config;
pub mod contract;
pub mod encode;
pub mod flv;
pub mod ingest;
pub mod nats;
pub mod output;
pub mod pipeline;
pub mod rtmp;
pub mod rtp;
