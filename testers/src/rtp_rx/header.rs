//! RTP fixed header parsing, written from RFC 3550 §5.1 (and §5.3.1 for the
//! header extension). Malformed input yields an error, never a panic.
//!
//! ```text
//!  0                   1                   2                   3
//! |V=2|P|X|  CC   |M|     PT      |       sequence number         |
//! |                           timestamp                           |
//! |           synchronization source (SSRC) identifier            |
//! |            contributing source (CSRC) identifiers (CC x 32)   |
//! [ profile-defined u16 | length u16 (32-bit words) | extension   ]
//! payload ... [padding, last octet = padding count incl. itself]
//! ```

/// Fixed header size (RFC 3550 §5.1).
pub const FIXED_HEADER_LEN: usize = 12;

/// A parsed, validated RTP header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RtpHeader {
    pub padding: bool,
    pub extension: bool,
    pub marker: bool,
    pub payload_type: u8,
    pub sequence: u16,
    pub timestamp: u32,
    pub ssrc: u32,
    pub csrcs: Vec<u32>,
    /// Profile-defined 16 bits of the header extension, when X is set.
    pub extension_profile: Option<u16>,
    /// Extension data length in bytes (excluding its 4-byte header).
    pub extension_len: usize,
    /// Offset of the payload in the packet.
    pub payload_offset: usize,
    /// Payload length, padding excluded.
    pub payload_len: usize,
    /// Padding bytes at the end (0 when P is clear).
    pub padding_len: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RtpError {
    #[error("packet of {0} bytes is shorter than the 12-byte RTP header")]
    TooShort(usize),
    #[error("RTP version {0}, expected 2")]
    BadVersion(u8),
    #[error("RTCP packet type {0} (not RTP)")]
    Rtcp(u8),
    #[error("CSRC list of {count} entries truncated")]
    CsrcTruncated { count: u8 },
    #[error("header extension truncated")]
    ExtensionTruncated,
    #[error("invalid padding count {count} for {available} bytes after the header")]
    BadPadding { count: u8, available: usize },
}

fn be16(b: &[u8], off: usize) -> u16 {
    u16::from_be_bytes([b[off], b[off + 1]])
}

fn be32(b: &[u8], off: usize) -> u32 {
    u32::from_be_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

/// Parses and validates one RTP packet.
///
/// A second byte of 200..=207 (RTCP SR, RR, SDES, BYE, APP, RTPFB, PSFB, XR)
/// is RTCP multiplexed on the same port (RFC 5761 §4) and is rejected.
pub fn parse(packet: &[u8]) -> Result<RtpHeader, RtpError> {
    if packet.len() < FIXED_HEADER_LEN {
        return Err(RtpError::TooShort(packet.len()));
    }
    let version = packet[0] >> 6;
    if version != 2 {
        return Err(RtpError::BadVersion(version));
    }
    if (200..=207).contains(&packet[1]) {
        return Err(RtpError::Rtcp(packet[1]));
    }
    let padding = packet[0] & 0x20 != 0;
    let extension = packet[0] & 0x10 != 0;
    let csrc_count = packet[0] & 0x0F;

    let mut offset = FIXED_HEADER_LEN;
    let csrc_end = offset + 4 * usize::from(csrc_count);
    if packet.len() < csrc_end {
        return Err(RtpError::CsrcTruncated { count: csrc_count });
    }
    let csrcs = (offset..csrc_end)
        .step_by(4)
        .map(|o| be32(packet, o))
        .collect();
    offset = csrc_end;

    let (mut extension_profile, mut extension_len) = (None, 0);
    if extension {
        if packet.len() < offset + 4 {
            return Err(RtpError::ExtensionTruncated);
        }
        extension_profile = Some(be16(packet, offset));
        extension_len = 4 * usize::from(be16(packet, offset + 2));
        offset += 4;
        if packet.len() < offset + extension_len {
            return Err(RtpError::ExtensionTruncated);
        }
        offset += extension_len;
    }

    let available = packet.len() - offset;
    let padding_len = if padding {
        // The count octet must lie after the header (0 when there is no room).
        let count = if available == 0 {
            0
        } else {
            packet[packet.len() - 1]
        };
        if count == 0 || usize::from(count) > available {
            return Err(RtpError::BadPadding { count, available });
        }
        usize::from(count)
    } else {
        0
    };

    Ok(RtpHeader {
        padding,
        extension,
        marker: packet[1] & 0x80 != 0,
        payload_type: packet[1] & 0x7F,
        sequence: be16(packet, 2),
        timestamp: be32(packet, 4),
        ssrc: be32(packet, 8),
        csrcs,
        extension_profile,
        extension_len,
        payload_offset: offset,
        payload_len: available - padding_len,
        padding_len,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// 0x80 = V2; 0xE0 = marker + PT 96; seq 0x1234; ts 0xDEADBEEF; ssrc 0x01020304.
    const BASIC: [u8; 12] = [0x80, 0xE0, 0x12, 0x34, 0xDE, 0xAD, 0xBE, 0xEF, 1, 2, 3, 4];

    #[test]
    fn fixed_header_fields() {
        let mut p = BASIC.to_vec();
        p.extend_from_slice(&[9, 9, 9]);
        let h = parse(&p).unwrap();
        assert!(h.marker && !h.padding && !h.extension);
        assert_eq!(h.payload_type, 96);
        assert_eq!(h.sequence, 0x1234);
        assert_eq!(h.timestamp, 0xDEAD_BEEF);
        assert_eq!(h.ssrc, 0x0102_0304);
        assert!(h.csrcs.is_empty());
        assert_eq!((h.payload_offset, h.payload_len, h.padding_len), (12, 3, 0));
    }

    #[test]
    fn no_marker_pt_0_and_empty_payload() {
        let mut p = BASIC;
        p[1] = 0x00;
        let h = parse(&p).unwrap();
        assert!(!h.marker);
        assert_eq!((h.payload_type, h.payload_len), (0, 0));
    }

    #[test]
    fn csrcs_extension_and_padding() {
        let mut p = BASIC.to_vec();
        p[0] = 0x80 | 0x20 | 0x10 | 2; // P, X, CC=2
        p.extend_from_slice(&[0xAA, 0, 0, 1, 0xBB, 0, 0, 2]); // CSRCs
        p.extend_from_slice(&[0xBE, 0xDE, 0x00, 0x01, 1, 2, 3, 4]); // ext: 1 word
        p.extend_from_slice(&[7, 7, 7, 7, 7]); // payload
        p.extend_from_slice(&[0, 0, 3]); // 3 bytes padding
        let h = parse(&p).unwrap();
        assert_eq!(h.csrcs, vec![0xAA00_0001, 0xBB00_0002]);
        assert_eq!(h.extension_profile, Some(0xBEDE));
        assert_eq!(h.extension_len, 4);
        assert_eq!(h.payload_offset, 12 + 8 + 8);
        assert_eq!((h.payload_len, h.padding_len), (5, 3));
    }

    #[test]
    fn malformed_packets_are_rejected() {
        assert_eq!(parse(&[]), Err(RtpError::TooShort(0)));
        assert_eq!(parse(&BASIC[..11]), Err(RtpError::TooShort(11)));
        let with = |b0: u8, tail: &[u8]| {
            let mut p = BASIC.to_vec();
            p[0] = b0;
            p.extend_from_slice(tail);
            parse(&p)
        };
        assert_eq!(with(0x40, &[]), Err(RtpError::BadVersion(1)));
        assert_eq!(with(0x00, &[]), Err(RtpError::BadVersion(0)));
        assert_eq!(
            with(0x81, &[1, 2, 3]),
            Err(RtpError::CsrcTruncated { count: 1 })
        );
        assert_eq!(
            with(0x8F, &[0; 56]),
            Err(RtpError::CsrcTruncated { count: 15 })
        );
        assert!(with(0x8F, &[0; 60]).is_ok());
        assert_eq!(with(0x90, &[0, 0]), Err(RtpError::ExtensionTruncated));
        assert_eq!(
            with(0x90, &[0, 0, 0, 2, 1, 2, 3, 4]),
            Err(RtpError::ExtensionTruncated)
        );
        assert!(with(0x90, &[0, 0, 0, 0]).is_ok());
        // P set, nothing after the header: no room for the count octet.
        assert_eq!(
            with(0xA0, &[]),
            Err(RtpError::BadPadding {
                count: 0,
                available: 0
            })
        );
        assert_eq!(
            with(0xA0, &[1, 0]),
            Err(RtpError::BadPadding {
                count: 0,
                available: 2
            })
        );
        assert_eq!(
            with(0xA0, &[1, 3]),
            Err(RtpError::BadPadding {
                count: 3,
                available: 2
            })
        );
        assert!(with(0xA0, &[1, 2]).is_ok());
    }

    #[test]
    fn rtcp_is_not_rtp() {
        let mut sr = BASIC;
        sr[1] = 200;
        assert_eq!(parse(&sr), Err(RtpError::Rtcp(200)));
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            if let Ok(h) = parse(&bytes) {
                prop_assert_eq!(h.payload_offset + h.payload_len + h.padding_len, bytes.len());
                prop_assert_eq!(h.csrcs.len(), usize::from(bytes[0] & 0x0F));
            }
        }

        #[test]
        fn random_v2_headers_never_panic(
            b0 in 0x80u8..=0xBF,
            rest in proptest::collection::vec(any::<u8>(), 0..128),
        ) {
            let mut p = vec![b0];
            p.extend_from_slice(&rest);
            let _ = parse(&p);
        }
    }
}
