//! Independent testers for cvmmap-streamer.
//!
//! These tools implement the cv-mmap IPC contract (`shared/contract/cv-mmap-ipc.md`)
//! and RTP (RFC 3550) on their own, without depending on the streamer crate, so
//! that a misreading of a wire format cannot hide in both the streamer and its tests.
//!
//! - [`sim`]: `cvmmap_sim`, a faithful cv-mmap producer (shared memory + ZeroMQ sync).
//! - [`rtp_rx`]: `rtp_receiver_tester`, a strict UDP RTP receiver with pass/fail exit codes.

pub mod logging;
pub mod rtmp_stub;
pub mod rtp_rx;
pub mod sim;
