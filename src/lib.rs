//! cvmmap-streamer: reads frames from a cv-mmap producer (POSIX shared memory +
//! ZeroMQ sync), encodes them, and publishes them over RTP and RTMP.
//!
//! Layers, bottom up (docs/architecture.md has the data flow):
//! - Pure protocol cores, no I/O, clocks or GStreamer: [`contract`] (the
//!   cv-mmap wire contract), [`codec`] (Annex-B, parameter sets, SEI),
//!   [`rtp`] (payloaders, packetizer, RTCP, SDP), [`flv`] (FLV video tags),
//!   [`rtmp`] (AMF0, handshake, chunking, commands), [`pixels`] (raw frames
//!   to I420, SIMD), [`record`] (the MCAP recording layout).
//! - Leaves every stage may use: [`telemetry`] (per-stage counters, the
//!   `--events` file), `signals` (keyframe requests, producer state), `queue`
//!   (the bounded queue between stages).
//! - Stages: [`ingest`] (shared memory + sync -> frames), [`encode`] (the
//!   only GStreamer part: frames -> access units), [`output`] (sinks, each on
//!   its own thread: RTP over UDP, RTMP, the `--record` file), `nats` (producer status, body
//!   tracking, our status and service).
//! - [`pipeline`] wires the stages; [`config`] turns the command line into
//!   the validated [`config::Config`]; [`recorder`] runs one pipeline per
//!   camera into one recording. Only the binaries use these.

pub mod batch;
pub mod codec;
pub mod config;
pub mod contract;
pub mod encode;
pub mod flv;
pub mod ingest;
pub mod nats;
pub mod offline;
pub mod ops;
pub mod output;
pub mod pipeline;
pub mod pixels;
pub(crate) mod queue;
pub mod record;
pub mod recorder;
pub mod rtmp;
pub mod rtp;
pub(crate) mod signals;
pub mod telemetry;
