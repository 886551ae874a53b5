//! The RTP receiver's H264 depacketizer (RFC 6184: single NAL unit packets, STAP-A, FU-A):
//! `rtp_rx::depay::h264::parse_payload` (through `Codec::parse_payload`), then a packet sequence through
//! `rtp_rx::depay::Assembler` (fragment reassembly, access units by
//! timestamp and marker, loss and duplicate handling).
//!
//! Input: records, one per packet: `u8` flags (bit 0: marker, bit 1: next
//! timestamp), `u8` sequence step, then the RTP payload.
//!
//! Invariants: every piece lies inside its payload; the assembler's
//! counters add up; complete access units only hold NAL units the payloads
//! carried (whole, or rebuilt from fragments with a valid header).
#![no_main]

use cvmmap_testers::rtp_rx::depay::Codec;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| cvmmap_fuzz::depay::run(data, Codec::H264));
