//! The harness's runner, shared by `harness acceptance`, `faults` and
//! `bench`: it starts the simulator, the streamer and the testers as real
//! processes, supervises them, and writes honest JSON evidence.
//!
//! - [`bins`]: finding the workspace binaries and the flags they accept;
//! - [`runner`]: the run context, setup and finalisation all three share;
//! - [`supervisor`]: child processes with logs, bounded waits, clean stops
//!   and their CPU time and peak memory (wait4);
//! - [`events`]: the streamer's structured events (`--events`), by which
//!   the harness waits for it and times what it did;
//! - [`interrupt`]: SIGINT/SIGTERM as a flag every wait loop checks;
//! - [`ports`], [`names`]: free ports and unique shm/ipc names per run and row;
//! - [`nats`]: a private `nats-server` for the run, when one is installed;
//! - [`host`]: git commit and host description recorded in every JSON;
//! - [`evidence`], [`model`]: the run folder and the result/summary shapes;
//! - [`progress`]: how runners report where they are (the binary renders it);
//! - [`acceptance`]: the seed's compatibility matrix;
//! - [`faults`]: the fault suite;
//! - [`interop`]: the RTMP rows through real servers (nginx-rtmp, SRS,
//!   ZLMediaKit, MediaMTX) with ffmpeg playing them back;
//! - [`bench`]: the streamer against an equivalent gst-launch-1.0 pipeline.

pub mod acceptance;
pub mod bench;
pub mod bins;
pub mod clock;
pub mod container;
pub mod error;
pub mod events;
pub mod evidence;
pub mod faults;
pub mod gst;
pub mod host;
pub mod interop;
pub mod interrupt;
pub mod model;
pub mod names;
pub mod nats;
pub mod nats_flood;
pub mod ports;
pub mod progress;
pub mod runner;
pub mod supervisor;

pub use error::HarnessError;

/// Version of the evidence JSON shapes (`evidence/schema/*.schema.json`).
pub const SCHEMA_VERSION: u32 = 1;
