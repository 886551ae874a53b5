//! Session description for a receiver of the RTP stream: SDP text
//! (RFC 4566) with the H.264 (RFC 6184 §8.2.1) or H.265 (RFC 7798 §7.2)
//! media parameters. Pure formatting: render with `to_string()`.
//!
//! ```text
//! v=0
//! o=- <session_id> <session_version> IN IP4 <origin_addr>
//! s=cvmmap-streamer
//! c=IN IP4 <dest_addr>
//! t=0 0
//! m=video <port> RTP/AVP <pt>
//! a=rtpmap:<pt> H264/90000
//! a=fmtp:<pt> packetization-mode=1;profile-level-id=<hex>;sprop-parameter-sets=<sps>,<pps>
//! a=sendonly
//! ```
//!
//! Lines end in CRLF (RFC 4566 §5). Parameters not known yet (no keyframe
//! seen) are omitted.

use std::fmt::{self, Display, Formatter};
use std::net::IpAddr;

use base64::display::Base64Display;
use base64::engine::general_purpose::STANDARD;

use crate::codec::{h264, h265};

/// RTP clock rate of video payload formats (RFC 6184 §8.2.1, RFC 7798 §7.1).
pub const VIDEO_CLOCK_RATE: u32 = 90_000;
/// Session name (`s=`).
pub const SESSION_NAME: &str = "cvmmap-streamer";
/// TTL announced for IPv4 multicast destinations, which RFC 4566 §5.7
/// requires in `c=`; a multicast sender should set the same on its socket.
pub const IPV4_MULTICAST_TTL: u8 = 16;
/// Session version (`o=`): the description is regenerated, not versioned.
/// `<sess-version>` of the first description; writers increase it with every
/// change (RFC 4566 §5.2).
pub const SESSION_VERSION: u64 = 1;

/// Everything the SDP text depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdpParams<'a> {
    /// `<sess-id>` of `o=`; should be unique (RFC 4566 §5.2).
    pub session_id: u64,
    /// `<sess-version>` of `o=`: increases whenever the description changes.
    pub session_version: u64,
    /// `<unicast-address>` of `o=`: the sender.
    pub origin_addr: IpAddr,
    /// `c=` address: where the packets go.
    pub dest_addr: IpAddr,
    /// `m=` port: the RTP destination port.
    pub port: u16,
    /// Dynamic RTP payload type of `m=`, `a=rtpmap` and `a=fmtp`.
    pub payload_type: u8,
    /// Codec and its out-of-band parameters.
    pub codec: SdpCodec<'a>,
}

/// Codec-specific media attributes. Parameter sets are NAL units with their
/// header, without start code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SdpCodec<'a> {
    /// H.264 (RFC 6184), packetization-mode=1.
    H264 {
        /// `profile-level-id`; when `None` it is taken from `sps`, if any.
        profile_level_id: Option<[u8; 3]>,
        /// First entry of `sprop-parameter-sets`.
        sps: Option<&'a [u8]>,
        /// Second entry of `sprop-parameter-sets`.
        pps: Option<&'a [u8]>,
    },
    /// H.265 (RFC 7798).
    H265 {
        /// `sprop-vps`.
        vps: Option<&'a [u8]>,
        /// `sprop-sps`.
        sps: Option<&'a [u8]>,
        /// `sprop-pps`.
        pps: Option<&'a [u8]>,
    },
}

impl<'a> SdpCodec<'a> {
    /// H.264 parameters found in an Annex-B access unit (a keyframe).
    pub fn h264_from_access_unit(access_unit: &'a [u8]) -> Self {
        let found = h264::find_parameter_sets(access_unit);
        Self::H264 {
            profile_level_id: found.sps.and_then(h264::profile_level_id),
            sps: found.sps,
            pps: found.pps,
        }
    }

    /// H.265 parameters found in an Annex-B access unit (a keyframe).
    pub fn h265_from_access_unit(access_unit: &'a [u8]) -> Self {
        let found = h265::find_parameter_sets(access_unit);
        Self::H265 {
            vps: found.vps,
            sps: found.sps,
            pps: found.pps,
        }
    }

    /// Encoding name of `a=rtpmap`.
    pub fn encoding_name(&self) -> &'static str {
        match self {
            Self::H264 { .. } => "H264",
            Self::H265 { .. } => "H265",
        }
    }

    /// Writes the `a=fmtp` parameters; returns `false` if there are none.
    fn write_fmtp(&self, f: &mut Formatter<'_>, pt: u8) -> Result<bool, fmt::Error> {
        match *self {
            Self::H264 {
                profile_level_id,
                sps,
                pps,
            } => {
                write!(f, "a=fmtp:{pt} packetization-mode=1")?;
                if let Some([p, c, l]) =
                    profile_level_id.or_else(|| sps.and_then(h264::profile_level_id))
                {
                    write!(f, ";profile-level-id={p:02x}{c:02x}{l:02x}")?;
                }
                let mut sep = ";sprop-parameter-sets=";
                for set in [sps, pps].into_iter().flatten() {
                    write!(f, "{sep}{}", Base64Display::new(set, &STANDARD))?;
                    sep = ",";
                }
                Ok(true)
            }
            Self::H265 { vps, sps, pps } => {
                let mut sep = None;
                for (name, set) in [("sprop-vps", vps), ("sprop-sps", sps), ("sprop-pps", pps)] {
                    let Some(set) = set else { continue };
                    match sep {
                        None => write!(f, "a=fmtp:{pt} ")?,
                        Some(s) => f.write_str(s)?,
                    }
                    write!(f, "{name}={}", Base64Display::new(set, &STANDARD))?;
                    sep = Some(";");
                }
                Ok(sep.is_some())
            }
        }
    }
}

/// `<addrtype>` of `o=` and `c=` (RFC 4566 §5.2, §5.7).
fn addr_type(ip: IpAddr) -> &'static str {
    match ip {
        IpAddr::V4(_) => "IP4",
        IpAddr::V6(_) => "IP6",
    }
}

impl Display for SdpParams<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let pt = self.payload_type;
        let (origin, dest) = (self.origin_addr, self.dest_addr);
        write!(f, "v=0\r\n")?;
        write!(
            f,
            "o=- {} {} IN {} {origin}\r\n",
            self.session_id,
            self.session_version,
            addr_type(origin)
        )?;
        write!(f, "s={SESSION_NAME}\r\n")?;
        write!(f, "c=IN {} {dest}", addr_type(dest))?;
        if let IpAddr::V4(v4) = dest
            && v4.is_multicast()
        {
            write!(f, "/{IPV4_MULTICAST_TTL}")?;
        }
        write!(f, "\r\n")?;
        write!(f, "t=0 0\r\n")?;
        write!(f, "m=video {} RTP/AVP {pt}\r\n", self.port)?;
        write!(
            f,
            "a=rtpmap:{pt} {}/{VIDEO_CLOCK_RATE}\r\n",
            self.codec.encoding_name()
        )?;
        if self.codec.write_fmtp(f, pt)? {
            write!(f, "\r\n")?;
        }
        write!(f, "a=sendonly\r\n")
    }
}
