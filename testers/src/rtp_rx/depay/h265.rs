//! H.265 RTP payload (RFC 7798) without DONL (sprop-max-don-diff = 0).
//!
//! ```text
//! payload header = NAL unit header (RFC 7798 §4.4, §1.1.4):
//!   |F|   Type    |  LayerId  | TID |
//!   Type 0..=47  single NAL unit packet (§4.4.1): the payload is the NAL unit
//!   Type 48      AP (§4.4.2): [16-bit size | NAL unit] repeated, at least two
//!   Type 49      FU (§4.4.3): FU header |S|E|  FuType   |
//!   Type 50      PACI (§4.4.4): not supported here
//!   Type 51..=63 unspecified
//! ```
//!
//! The NAL unit header of a fragmented unit is the payload header with Type
//! replaced by FuType (§4.4.3). F must be 0 and TID must not be 0.

use super::{Fragment, PayloadError, Piece};

/// Aggregation packet type (RFC 7798 §4.4.2).
pub const AP: u8 = 48;
/// Fragmentation unit type (RFC 7798 §4.4.3).
pub const FU: u8 = 49;
/// PACI packet type (RFC 7798 §4.4.4).
pub const PACI: u8 = 50;

/// Checks F and TID of a 2-byte NAL unit header; returns its Type.
fn header_type(h: &[u8]) -> Result<u8, PayloadError> {
    if h[0] & 0x80 != 0 {
        return Err(PayloadError::ForbiddenBit);
    }
    if h[1] & 0x07 == 0 {
        return Err(PayloadError::ZeroTid);
    }
    Ok((h[0] >> 1) & 0x3F)
}

/// Splits one H.265 RTP payload into NAL units and FU fragments.
pub fn parse_payload(payload: &[u8]) -> Result<Vec<Piece<'_>>, PayloadError> {
    match payload.len() {
        0 => return Err(PayloadError::Empty),
        1 => return Err(PayloadError::TooShort(1)),
        _ => {}
    }
    match header_type(payload)? {
        0..=47 => Ok(vec![Piece::Nal(payload)]),
        AP => aggregation(payload),
        FU => fu(payload).map(|f| vec![Piece::Fragment(f)]),
        PACI => Err(PayloadError::Unsupported(PACI)),
        t => Err(PayloadError::Reserved(t)),
    }
}

/// AP without DONL (RFC 7798 §4.4.2): "An AP MUST carry at least two
/// aggregation units"; each is a 16-bit NALU size and the NAL unit.
fn aggregation(payload: &[u8]) -> Result<Vec<Piece<'_>>, PayloadError> {
    let mut pieces = Vec::new();
    let mut at = 2;
    while at < payload.len() {
        let Some(size) = payload.get(at..at + 2) else {
            return Err(PayloadError::AggregationTruncated(at));
        };
        let size = usize::from(u16::from_be_bytes([size[0], size[1]]));
        let Some(nal) = payload.get(at + 2..at + 2 + size).filter(|n| n.len() >= 2) else {
            return Err(PayloadError::AggregationTruncated(at));
        };
        let t = header_type(nal)?;
        if t >= AP {
            return Err(PayloadError::AggregatedType(t));
        }
        pieces.push(Piece::Nal(nal));
        at += 2 + size;
    }
    if pieces.len() < 2 {
        return Err(PayloadError::AggregationTooFew(pieces.len()));
    }
    Ok(pieces)
}

/// FU (RFC 7798 §4.4.3).
fn fu(payload: &[u8]) -> Result<Fragment<'_>, PayloadError> {
    if payload.len() < 3 {
        return Err(PayloadError::TooShort(payload.len()));
    }
    let fu = payload[2];
    let fu_type = fu & 0x3F;
    if fu_type >= AP {
        return Err(PayloadError::FuType(fu_type));
    }
    Ok(Fragment {
        start: fu & 0x80 != 0,
        end: fu & 0x40 != 0,
        header: [(payload[0] & 0x81) | (fu_type << 1), payload[1]],
        header_len: 2,
        data: &payload[3..],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// NAL unit header bytes for `t` with LayerId 0, TID 1.
    fn hdr(t: u8) -> [u8; 2] {
        [t << 1, 1]
    }

    #[test]
    fn single_nal_unit_packet() {
        let p = [0x26, 0x01, 9, 9]; // IDR_W_RADL (19)
        assert_eq!(parse_payload(&p), Ok(vec![Piece::Nal(&p)]));
    }

    #[test]
    fn aggregation_packet_vps_sps_pps() {
        let mut p = hdr(AP).to_vec();
        for (t, len) in [(32u8, 3usize), (33, 4), (34, 2)] {
            p.extend_from_slice(&(len as u16).to_be_bytes());
            p.extend_from_slice(&hdr(t));
            p.extend(std::iter::repeat_n(0xAB, len - 2));
        }
        let pieces = parse_payload(&p).unwrap();
        let types: Vec<u8> = pieces
            .iter()
            .map(|piece| match piece {
                Piece::Nal(n) => (n[0] >> 1) & 0x3F,
                Piece::Fragment(_) => 255,
            })
            .collect();
        assert_eq!(types, vec![32, 33, 34]);
    }

    #[test]
    fn malformed_aggregation_packets() {
        let mut one = hdr(AP).to_vec();
        one.extend_from_slice(&[0, 2, 0x40, 0x01]);
        assert_eq!(parse_payload(&one), Err(PayloadError::AggregationTooFew(1)));
        assert_eq!(
            parse_payload(&hdr(AP)),
            Err(PayloadError::AggregationTooFew(0))
        );
        let mut trunc = one.clone();
        trunc.extend_from_slice(&[0, 9, 0x40]);
        assert_eq!(
            parse_payload(&trunc),
            Err(PayloadError::AggregationTruncated(6))
        );
        let mut nested = one.clone();
        nested.extend_from_slice(&[0, 2, FU << 1, 1]);
        assert_eq!(
            parse_payload(&nested),
            Err(PayloadError::AggregatedType(FU))
        );
    }

    #[test]
    fn fu_rebuilds_the_nal_header() {
        // payload header type 49, LayerId 0, TID 1; FU header S=1, FuType 19
        let p = [FU << 1, 0x01, 0x80 | 19, 7, 8];
        let pieces = parse_payload(&p).unwrap();
        let [Piece::Fragment(f)] = pieces[..] else {
            panic!("{pieces:?}")
        };
        assert!(f.start && !f.end);
        assert_eq!(f.nal_header(), &[0x26, 0x01]);
        assert_eq!(f.data, &[7, 8]);
        // LayerId high bit in byte 0 survives.
        let p = [(FU << 1) | 1, 0x0A, 0x40 | 1];
        let pieces = parse_payload(&p).unwrap();
        let [Piece::Fragment(f)] = pieces[..] else {
            panic!()
        };
        assert!(f.end && !f.start);
        assert_eq!(f.nal_header(), &[0x03, 0x0A]);
    }

    #[test]
    fn malformed_and_unsupported() {
        assert_eq!(parse_payload(&[]), Err(PayloadError::Empty));
        assert_eq!(parse_payload(&[0x26]), Err(PayloadError::TooShort(1)));
        assert_eq!(parse_payload(&[0xA6, 1]), Err(PayloadError::ForbiddenBit));
        assert_eq!(parse_payload(&[0x26, 0]), Err(PayloadError::ZeroTid));
        assert_eq!(parse_payload(&hdr(FU)), Err(PayloadError::TooShort(2)));
        assert_eq!(
            parse_payload(&[FU << 1, 1, 0x80 | 48]),
            Err(PayloadError::FuType(48))
        );
        assert_eq!(
            parse_payload(&hdr(PACI)),
            Err(PayloadError::Unsupported(PACI))
        );
        assert_eq!(parse_payload(&hdr(51)), Err(PayloadError::Reserved(51)));
    }

    proptest! {
        #[test]
        fn random_payloads_never_panic(p in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(pieces) = parse_payload(&p) {
                prop_assert!(!pieces.is_empty());
                for piece in pieces {
                    if let Piece::Nal(n) = piece {
                        prop_assert!(n.len() >= 2);
                    }
                }
            }
        }
    }
}
