//! Pure RTP packetization (RFC 3550) of Annex-B access units, and the SDP
//! that describes the stream. No sockets, clocks or GStreamer here: the
//! output driver owns the socket and feeds access units and timestamps.
//!
//! Structure, after gst-plugins-rs `net/rtp` and webrtc-rs:
//! - [`RtpPacketizer`] owns the RTP header state (version, payload type,
//!   SSRC, sequence numbers, marker bit) and a preallocated packet buffer.
//! - A [`Payloader`] decides how each NAL unit becomes payloads:
//!   [`H264Payloader`] (RFC 6184) and [`H265Payloader`] (RFC 7798).
//! - [`sdp`] renders the session description for receivers.
//! - [`rtcp`] writes sender reports; [`rtcp_feedback`] reads what
//!   receivers send back (reports, PLI, FIR).
//!
//! ```
//! use cvmmap_streamer::rtp::{H264Payloader, PacketizerConfig, RtpPacketizer};
//! let mut packetizer = RtpPacketizer::new(PacketizerConfig {
//!     payload_type: 96,
//!     ssrc: 0x1234_5678,
//!     initial_seq: 1,
//!     mtu: 1400,
//! })?;
//! let mut payloader = H264Payloader::default();
//! let access_unit = [0, 0, 0, 1, 0x65, 0x88, 0x84, 0x21];
//! let mut sizes = Vec::new();
//! let n = packetizer.packetize(&mut payloader, &access_unit, 3000, |packet| {
//!     sizes.push(packet.len());
//!     Ok::<_, std::convert::Infallible>(())
//! });
//! assert_eq!(n, Ok(1));
//! assert_eq!(sizes, [12 + 4]);
//! # Ok::<(), cvmmap_streamer::rtp::RtpError>(())
//! ```

pub mod h264;
pub mod h265;
mod nal;
pub mod packetizer;
pub mod rtcp;
pub mod rtcp_feedback;
pub mod sdp;

#[cfg(test)]
mod tests;

pub use h264::H264Payloader;
pub use h265::H265Payloader;
pub use packetizer::{
    DEFAULT_MTU, MAX_MTU, MIN_MTU, PacketizerConfig, Payloader, RTP_HEADER_LEN, RtpError,
    RtpHeader, RtpPacketizer,
};
pub use sdp::{SdpCodec, SdpParams};
