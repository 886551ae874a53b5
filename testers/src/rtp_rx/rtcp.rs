//! The receiver's own RTCP parser (RFC 3550 §6), for the sender reports that
//! map RTP timestamps to wall-clock time.
//!
//! Every RTCP packet starts with (§6.4.1):
//!
//! ```text
//! |V=2|P|   RC/SC   |      PT       |             length            |
//! ```
//!
//! where length is the packet's size in 32-bit words minus one, header
//! included. Packets are sent stacked in a compound packet (§6.1) and the
//! validity checks of Appendix A.2 apply: version 2 everywhere, the first packet
//! is an SR or RR, only the last packet may carry padding, and the lengths add
//! up to the datagram's size exactly.
//!
//! Sender report (§6.4.1), PT 200, after the header:
//!
//! ```text
//! SSRC of sender | NTP timestamp, most significant word | NTP lsw
//! RTP timestamp | sender's packet count | sender's octet count
//! RC report blocks of 24 bytes | profile-specific extensions
//! ```
//!
//! RR (201) is read for its sender SSRC, BYE (203, §6.6) for its SSRC list;
//! SDES (202), APP (204) and other types are skipped.

/// RTCP packet types (RFC 3550 §12.1).
pub const PT_SR: u8 = 200;
pub const PT_RR: u8 = 201;
pub const PT_SDES: u8 = 202;
pub const PT_BYE: u8 = 203;
pub const PT_APP: u8 = 204;

/// Size of one reception report block (§6.4.1).
const REPORT_BLOCK_LEN: usize = 24;

/// An RTCP sender report's sender info (RFC 3550 §6.4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SenderReport {
    pub ssrc: u32,
    /// NTP timestamp, seconds since 1900-01-01 (most significant word).
    pub ntp_msw: u32,
    /// NTP timestamp, binary fraction of a second (least significant word).
    pub ntp_lsw: u32,
    /// The same instant as `ntp_*`, in RTP timestamp units.
    pub rtp_timestamp: u32,
    pub packet_count: u32,
    pub octet_count: u32,
    /// Number of reception report blocks (RC).
    pub report_blocks: u8,
}

/// One packet of a compound RTCP packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RtcpPacket {
    SenderReport(SenderReport),
    ReceiverReport { ssrc: u32, report_blocks: u8 },
    Sdes { chunks: u8 },
    Bye { ssrcs: Vec<u32> },
    App,
    Other { packet_type: u8 },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RtcpError {
    #[error("{0} bytes left, shorter than an RTCP header")]
    TooShort(usize),
    #[error("RTCP version {0}, expected 2")]
    BadVersion(u8),
    #[error("compound packet starts with packet type {0}, not SR or RR")]
    FirstNotReport(u8),
    #[error("packet of {declared} bytes overruns the {available} bytes left")]
    LengthOverrun { declared: usize, available: usize },
    #[error("padding on a packet that is not the last one")]
    PaddingNotLast,
    #[error("invalid padding count {0}")]
    BadPadding(u8),
    #[error("packet type {packet_type} with count {count} needs more than {len} bytes")]
    Truncated {
        packet_type: u8,
        count: u8,
        len: usize,
    },
}

fn be32(b: &[u8], off: usize) -> u32 {
    u32::from_be_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

/// Parses and validates a compound RTCP packet (one UDP datagram).
pub fn parse_compound(datagram: &[u8]) -> Result<Vec<RtcpPacket>, RtcpError> {
    // A compound packet holds at least its first SR or RR (RFC 3550 §6.1).
    if datagram.is_empty() {
        return Err(RtcpError::TooShort(0));
    }
    let mut packets = Vec::new();
    let mut at = 0;
    while at < datagram.len() {
        let rest = &datagram[at..];
        if rest.len() < 4 {
            return Err(RtcpError::TooShort(rest.len()));
        }
        let version = rest[0] >> 6;
        if version != 2 {
            return Err(RtcpError::BadVersion(version));
        }
        let padding = rest[0] & 0x20 != 0;
        let count = rest[0] & 0x1F;
        let packet_type = rest[1];
        if at == 0 && packet_type != PT_SR && packet_type != PT_RR {
            return Err(RtcpError::FirstNotReport(packet_type));
        }
        let len = 4 * (usize::from(u16::from_be_bytes([rest[2], rest[3]])) + 1);
        if len > rest.len() {
            return Err(RtcpError::LengthOverrun {
                declared: len,
                available: rest.len(),
            });
        }
        let mut packet = &rest[..len];
        if padding {
            if len != rest.len() {
                return Err(RtcpError::PaddingNotLast);
            }
            let pad = packet[len - 1];
            if pad == 0 || usize::from(pad) > len - 4 {
                return Err(RtcpError::BadPadding(pad));
            }
            packet = &packet[..len - usize::from(pad)];
        }
        packets.push(parse_one(packet_type, count, packet)?);
        at += len;
    }
    Ok(packets)
}

/// One packet, header included, padding removed.
fn parse_one(packet_type: u8, count: u8, p: &[u8]) -> Result<RtcpPacket, RtcpError> {
    let truncated = || RtcpError::Truncated {
        packet_type,
        count,
        len: p.len(),
    };
    let blocks = usize::from(count) * REPORT_BLOCK_LEN;
    Ok(match packet_type {
        PT_SR => {
            if p.len() < 28 + blocks {
                return Err(truncated());
            }
            RtcpPacket::SenderReport(SenderReport {
                ssrc: be32(p, 4),
                ntp_msw: be32(p, 8),
                ntp_lsw: be32(p, 12),
                rtp_timestamp: be32(p, 16),
                packet_count: be32(p, 20),
                octet_count: be32(p, 24),
                report_blocks: count,
            })
        }
        PT_RR => {
            if p.len() < 8 + blocks {
                return Err(truncated());
            }
            RtcpPacket::ReceiverReport {
                ssrc: be32(p, 4),
                report_blocks: count,
            }
        }
        PT_SDES => RtcpPacket::Sdes { chunks: count },
        PT_BYE => {
            if p.len() < 4 + 4 * usize::from(count) {
                return Err(truncated());
            }
            RtcpPacket::Bye {
                ssrcs: (0..usize::from(count))
                    .map(|k| be32(p, 4 + 4 * k))
                    .collect(),
            }
        }
        PT_APP => RtcpPacket::App,
        _ => RtcpPacket::Other { packet_type },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// SR (RC 0) + SDES CNAME "cam" + BYE, as a sender would stack them.
    fn compound() -> Vec<u8> {
        let mut p = vec![0x80, 200, 0, 6]; // SR, 7 words
        p.extend_from_slice(&0x1234_5678u32.to_be_bytes()); // SSRC
        p.extend_from_slice(&0xE9A1_2B3Cu32.to_be_bytes()); // NTP msw
        p.extend_from_slice(&0x8000_0000u32.to_be_bytes()); // NTP lsw (0.5 s)
        p.extend_from_slice(&0xFFFF_FF00u32.to_be_bytes()); // RTP timestamp
        p.extend_from_slice(&10u32.to_be_bytes()); // packet count
        p.extend_from_slice(&12_345u32.to_be_bytes()); // octet count
        // SDES: 1 chunk: SSRC, CNAME(1) len 3 "cam", END, pad to 32 bits.
        p.extend_from_slice(&[0x81, 202, 0, 3]);
        p.extend_from_slice(&0x1234_5678u32.to_be_bytes());
        p.extend_from_slice(&[1, 3, b'c', b'a', b'm', 0, 0, 0]);
        // BYE with one SSRC.
        p.extend_from_slice(&[0x81, 203, 0, 1]);
        p.extend_from_slice(&0x1234_5678u32.to_be_bytes());
        p
    }

    #[test]
    fn sender_report_in_a_compound_packet() {
        let packets = parse_compound(&compound()).unwrap();
        assert_eq!(
            packets,
            vec![
                RtcpPacket::SenderReport(SenderReport {
                    ssrc: 0x1234_5678,
                    ntp_msw: 0xE9A1_2B3C,
                    ntp_lsw: 0x8000_0000,
                    rtp_timestamp: 0xFFFF_FF00,
                    packet_count: 10,
                    octet_count: 12_345,
                    report_blocks: 0,
                }),
                RtcpPacket::Sdes { chunks: 1 },
                RtcpPacket::Bye {
                    ssrcs: vec![0x1234_5678]
                },
            ]
        );
    }

    #[test]
    fn sender_report_with_report_block_and_padding() {
        let mut p = vec![0xA1, 200, 0, 13]; // P, RC 1: 28 + 24 + 4 pad = 56 bytes
        p.extend_from_slice(&7u32.to_be_bytes());
        p.extend_from_slice(&[0; 20]);
        p.extend_from_slice(&[0xEE; 24]); // report block
        p.extend_from_slice(&[0, 0, 0, 4]); // 4 bytes padding
        assert_eq!(p.len(), 56);
        let packets = parse_compound(&p).unwrap();
        let [RtcpPacket::SenderReport(sr)] = &packets[..] else {
            panic!("{packets:?}")
        };
        assert_eq!((sr.ssrc, sr.report_blocks), (7, 1));
    }

    #[test]
    fn receiver_report_first_then_app() {
        let mut p = vec![0x80, 201, 0, 1];
        p.extend_from_slice(&9u32.to_be_bytes());
        p.extend_from_slice(&[0x80, 204, 0, 2, 0, 0, 0, 9, b'n', b'a', b'm', b'e']);
        assert_eq!(
            parse_compound(&p).unwrap(),
            vec![
                RtcpPacket::ReceiverReport {
                    ssrc: 9,
                    report_blocks: 0
                },
                RtcpPacket::App
            ]
        );
    }

    /// Found by fuzzing (fuzz target rx_rtcp): an empty datagram was
    /// accepted as a valid compound packet of no packets.
    #[test]
    fn empty_datagram_is_not_a_compound_packet() {
        assert_eq!(parse_compound(&[]), Err(RtcpError::TooShort(0)));
    }

    #[test]
    fn invalid_compound_packets() {
        let good = compound();
        assert_eq!(parse_compound(&good[..3]), Err(RtcpError::TooShort(3)));
        let mut v1 = good.clone();
        v1[0] = 0x40;
        assert_eq!(parse_compound(&v1), Err(RtcpError::BadVersion(1)));
        // SDES first.
        assert_eq!(
            parse_compound(&good[28..]),
            Err(RtcpError::FirstNotReport(202))
        );
        // Cut inside the BYE.
        assert!(matches!(
            parse_compound(&good[..good.len() - 2]),
            Err(RtcpError::LengthOverrun { .. })
        ));
        // Trailing bytes that are not a whole packet.
        let mut tail = good.clone();
        tail.extend_from_slice(&[0x80, 203]);
        assert_eq!(parse_compound(&tail), Err(RtcpError::TooShort(2)));
        // Padding on the first of several packets.
        let mut pad = good.clone();
        pad[0] |= 0x20;
        assert_eq!(parse_compound(&pad), Err(RtcpError::PaddingNotLast));
        // SR whose length leaves no room for the sender info.
        assert!(matches!(
            parse_compound(&[0x80, 200, 0, 1, 0, 0, 0, 1]),
            Err(RtcpError::Truncated {
                packet_type: 200,
                ..
            })
        ));
        // RC 1 but no report block.
        let mut rc = good[..28].to_vec();
        rc[0] = 0x81;
        assert!(matches!(
            parse_compound(&rc),
            Err(RtcpError::Truncated { .. })
        ));
        // Bad padding count.
        let mut bad_pad = good[..28].to_vec();
        bad_pad[0] |= 0x20;
        bad_pad[27] = 0;
        assert_eq!(parse_compound(&bad_pad), Err(RtcpError::BadPadding(0)));
        bad_pad[27] = 200;
        assert_eq!(parse_compound(&bad_pad), Err(RtcpError::BadPadding(200)));
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse_compound(&bytes);
        }

        #[test]
        fn random_v2_compound_never_panics(
            headers in proptest::collection::vec((0u8..64, 199u8..=206, 0u16..12), 1..5),
            fill in any::<u8>(),
        ) {
            let mut p = Vec::new();
            for (b0, pt, words) in headers {
                p.extend_from_slice(&[0x80 | (b0 & 0x3F), pt]);
                p.extend_from_slice(&words.to_be_bytes());
                p.extend(std::iter::repeat_n(fill, 4 * usize::from(words)));
            }
            let _ = parse_compound(&p);
        }
    }
}
