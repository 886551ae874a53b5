//! H.264 RTP payload (RFC 6184), non-interleaved: packetization-mode 0 and 1.
//!
//! ```text
//! NAL unit header / payload header (RFC 6184 §5.3):  |F|NRI|  Type   |
//!   Type 1..=23  single NAL unit packet (§5.6): the payload is the NAL unit
//!   Type 24      STAP-A (§5.7.1): [16-bit size | NAL unit] repeated
//!   Type 28      FU-A (§5.8): FU indicator |F|NRI|28|, FU header |S|E|R|Type|
//!   Type 25, 26, 27, 29 (STAP-B, MTAP16, MTAP24, FU-B): interleaved mode only
//!   Type 0, 30, 31: reserved / undefined (§5.2)
//! ```
//!
//! The NAL unit header of a fragmented unit is the FU indicator's F and NRI
//! with the FU header's Type (§5.8).

use super::{Fragment, PayloadError, Piece};

/// STAP-A payload type (RFC 6184 §5.7.1).
pub const STAP_A: u8 = 24;
/// FU-A payload type (RFC 6184 §5.8).
pub const FU_A: u8 = 28;

const F_BIT: u8 = 0x80;

/// Splits one H.264 RTP payload into NAL units and FU-A fragments.
pub fn parse_payload(payload: &[u8]) -> Result<Vec<Piece<'_>>, PayloadError> {
    let Some(&first) = payload.first() else {
        return Err(PayloadError::Empty);
    };
    if first & F_BIT != 0 {
        return Err(PayloadError::ForbiddenBit);
    }
    match first & 0x1F {
        1..=23 => Ok(vec![Piece::Nal(payload)]),
        STAP_A => stap_a(payload),
        FU_A => fu_a(payload).map(|f| vec![Piece::Fragment(f)]),
        t @ (25 | 26 | 27 | 29) => Err(PayloadError::Unsupported(t)),
        t => Err(PayloadError::Reserved(t)),
    }
}

/// STAP-A (RFC 6184 §5.7.1): one or more single-time aggregation units, each
/// a 16-bit NAL unit size followed by the NAL unit; nothing may follow the last.
fn stap_a(payload: &[u8]) -> Result<Vec<Piece<'_>>, PayloadError> {
    let mut pieces = Vec::new();
    let mut at = 1;
    while at < payload.len() {
        let Some(size) = payload.get(at..at + 2) else {
            return Err(PayloadError::AggregationTruncated(at));
        };
        let size = usize::from(u16::from_be_bytes([size[0], size[1]]));
        let Some(nal) = payload.get(at + 2..at + 2 + size).filter(|n| !n.is_empty()) else {
            return Err(PayloadError::AggregationTruncated(at));
        };
        if nal[0] & F_BIT != 0 {
            return Err(PayloadError::ForbiddenBit);
        }
        let t = nal[0] & 0x1F;
        if !(1..=23).contains(&t) {
            return Err(PayloadError::AggregatedType(t));
        }
        pieces.push(Piece::Nal(nal));
        at += 2 + size;
    }
    if pieces.is_empty() {
        return Err(PayloadError::AggregationTooFew(0));
    }
    Ok(pieces)
}

/// FU-A (RFC 6184 §5.8).
fn fu_a(payload: &[u8]) -> Result<Fragment<'_>, PayloadError> {
    if payload.len() < 2 {
        return Err(PayloadError::TooShort(payload.len()));
    }
    let (indicator, fu) = (payload[0], payload[1]);
    let t = fu & 0x1F;
    if !(1..=23).contains(&t) {
        return Err(PayloadError::FuType(t));
    }
    Ok(Fragment {
        start: fu & 0x80 != 0,
        end: fu & 0x40 != 0,
        header: [(indicator & 0xE0) | t, 0],
        header_len: 1,
        data: &payload[2..],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn single_nal_unit_packet() {
        let p = [0x65, 1, 2, 3];
        assert_eq!(parse_payload(&p), Ok(vec![Piece::Nal(&p)]));
        assert_eq!(parse_payload(&[0x06]), Ok(vec![Piece::Nal(&[0x06])]));
    }

    #[test]
    fn stap_a_with_sps_pps_idr() {
        let p = [
            0x78, // F=0 NRI=3 type 24
            0, 3, 0x67, 0xAA, 0xBB, // SPS
            0, 2, 0x68, 0xCC, // PPS
            0, 1, 0x65, // IDR (header only)
        ];
        assert_eq!(
            parse_payload(&p),
            Ok(vec![
                Piece::Nal(&[0x67, 0xAA, 0xBB]),
                Piece::Nal(&[0x68, 0xCC]),
                Piece::Nal(&[0x65]),
            ])
        );
    }

    #[test]
    fn malformed_stap_a() {
        assert_eq!(
            parse_payload(&[0x18]),
            Err(PayloadError::AggregationTooFew(0))
        );
        assert_eq!(
            parse_payload(&[0x18, 0]),
            Err(PayloadError::AggregationTruncated(1))
        );
        assert_eq!(
            parse_payload(&[0x18, 0, 3, 0x67, 1]),
            Err(PayloadError::AggregationTruncated(1))
        );
        assert_eq!(
            parse_payload(&[0x18, 0, 0]),
            Err(PayloadError::AggregationTruncated(1))
        );
        assert_eq!(
            parse_payload(&[0x18, 0, 1, 0x67, 0]),
            Err(PayloadError::AggregationTruncated(4))
        );
        assert_eq!(
            parse_payload(&[0x18, 0, 1, 0x7C]),
            Err(PayloadError::AggregatedType(28))
        );
        assert_eq!(
            parse_payload(&[0x18, 0, 1, 0xE7]),
            Err(PayloadError::ForbiddenBit)
        );
    }

    #[test]
    fn fu_a_rebuilds_the_nal_header() {
        // indicator F=0 NRI=3 type 28; FU header S=1 type 5
        let start = [0x7C, 0x85, 1, 2];
        let Ok(pieces) = parse_payload(&start) else {
            panic!()
        };
        let [Piece::Fragment(f)] = pieces[..] else {
            panic!("{pieces:?}")
        };
        assert!(f.start && !f.end);
        assert_eq!(f.nal_header(), &[0x65]);
        assert_eq!(f.data, &[1, 2]);
        let end = [0x5C, 0x41];
        let Ok(pieces) = parse_payload(&end) else {
            panic!()
        };
        let [Piece::Fragment(f)] = pieces[..] else {
            panic!()
        };
        assert!(!f.start && f.end && f.data.is_empty());
        assert_eq!(f.nal_header(), &[0x41]);
    }

    #[test]
    fn malformed_and_unsupported() {
        assert_eq!(parse_payload(&[]), Err(PayloadError::Empty));
        assert_eq!(parse_payload(&[0x85]), Err(PayloadError::ForbiddenBit));
        assert_eq!(parse_payload(&[0x1C]), Err(PayloadError::TooShort(1)));
        assert_eq!(parse_payload(&[0x1C, 0x98]), Err(PayloadError::FuType(24)));
        assert_eq!(parse_payload(&[0x1C, 0x80]), Err(PayloadError::FuType(0)));
        for t in [25u8, 26, 27, 29] {
            assert_eq!(parse_payload(&[t, 0]), Err(PayloadError::Unsupported(t)));
        }
        for t in [0u8, 30, 31] {
            assert_eq!(parse_payload(&[t, 0]), Err(PayloadError::Reserved(t)));
        }
    }

    proptest! {
        #[test]
        fn random_payloads_never_panic(p in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(pieces) = parse_payload(&p) {
                prop_assert!(!pieces.is_empty());
                for piece in pieces {
                    if let Piece::Nal(n) = piece {
                        prop_assert!(!n.is_empty());
                    }
                }
            }
        }
    }
}
