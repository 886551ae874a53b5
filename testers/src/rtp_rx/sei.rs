//! Body-tracking SEI units (docs/body-sei.md), read with our own code:
//! SEI NAL units (H.264 nal_unit_type 6, ITU-T H.264 §7.3.2.3; H.265
//! PREFIX_SEI 39, ITU-T H.265 §7.3.5), emulation prevention removed
//! (H.264 §7.4.1, H.265 §7.4.2), every `sei_message` read with its
//! ff-coded payloadType and payloadSize (H.264 §7.3.2.3.1), and the
//! `user_data_unregistered` messages (payloadType 5; H.264 §D.1.6,
//! H.265 §D.2.7) with our UUID picked out. Other UUIDs and payload types
//! are skipped. Nothing here panics on arbitrary bytes.

use super::depay::Codec;

/// UUID `d405bd7e-6c92-4128-a28c-984492bc96eb` (docs/body-sei.md "NAL unit").
pub const BODY_SEI_UUID: [u8; 16] = [
    0xd4, 0x05, 0xbd, 0x7e, 0x6c, 0x92, 0x41, 0x28, 0xa2, 0x8c, 0x98, 0x44, 0x92, 0xbc, 0x96, 0xeb,
];
/// `user_data_unregistered` (H.264 §D.1.6, H.265 §D.2.7).
pub const USER_DATA_UNREGISTERED: u32 = 5;
/// H.264 SEI nal_unit_type (Table 7-1).
pub const H264_SEI: u8 = 6;
/// H.265 PREFIX_SEI_NUT (Table 7-1).
pub const H265_PREFIX_SEI: u8 = 39;

/// Why an SEI RBSP could not be read to its end.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SeiError {
    #[error("sei_message header truncated at byte {0}")]
    HeaderTruncated(usize),
    #[error("payloadType or payloadSize overflows at byte {0}")]
    Overflow(usize),
    #[error("payloadSize {size} at byte {at} runs past the end ({left} bytes left)")]
    PayloadTruncated { at: usize, size: usize, left: usize },
}

/// One `sei_message`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeiMessage<'a> {
    pub payload_type: u32,
    pub payload: &'a [u8],
}

/// What one SEI NAL unit holds for us.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SeiScan {
    /// The bytes after our UUID of each `user_data_unregistered` message
    /// with our UUID: the body messages, in order.
    pub bodies: Vec<Vec<u8>>,
    /// Messages with our UUID whose payloadSize runs past the NAL unit.
    pub truncated_bodies: u64,
    /// Set when the RBSP could not be read to its end.
    pub error: Option<SeiError>,
}

/// Whether `nal` (header included) is an SEI NAL unit that may carry a body
/// message: H.264 type 6, H.265 type 39.
pub fn is_body_sei_nal(codec: Codec, nal: &[u8]) -> bool {
    match (codec, codec.nal_type(nal)) {
        (Codec::H264, Some(t)) => t == H264_SEI,
        (Codec::H265, Some(t)) => t == H265_PREFIX_SEI,
        _ => false,
    }
}

/// Removes every emulation_prevention_three_byte: in `00 00 03` the `03` is
/// dropped (H.264 §7.4.1, H.265 §7.4.2).
pub fn unescape(ebsp: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(ebsp.len());
    let mut zeros = 0;
    for &b in ebsp {
        if zeros >= 2 && b == 3 {
            zeros = 0;
            continue;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
        out.push(b);
    }
    out
}

/// Reads one ff-coded value (H.264 §7.3.2.3.1: a run of 0xFF bytes, each
/// adding 255, then a last byte < 0xFF).
fn ff_value(b: &[u8], i: &mut usize) -> Result<u32, SeiError> {
    let mut v: u32 = 0;
    loop {
        let Some(&byte) = b.get(*i) else {
            return Err(SeiError::HeaderTruncated(*i));
        };
        *i += 1;
        v = v
            .checked_add(u32::from(byte))
            .ok_or(SeiError::Overflow(*i))?;
        if byte != 0xFF {
            return Ok(v);
        }
    }
}

/// Only `rbsp_trailing_bits` left: `0x80` then zero bytes (nothing at all is
/// accepted too).
fn only_trailing_bits(rest: &[u8]) -> bool {
    match rest.split_first() {
        None => true,
        Some((&first, tail)) => first == 0x80 && tail.iter().all(|&b| b == 0),
    }
}

/// Every `sei_message` of an SEI RBSP (after the NAL header), until the
/// trailing bits; the messages read before an error are returned with it.
pub fn sei_messages(rbsp: &[u8]) -> (Vec<SeiMessage<'_>>, Option<SeiError>) {
    let mut out = Vec::new();
    let mut i = 0;
    while !only_trailing_bits(&rbsp[i..]) {
        let header = ff_value(rbsp, &mut i).and_then(|t| Ok((t, ff_value(rbsp, &mut i)?)));
        let (payload_type, size) = match header {
            Ok(h) => h,
            Err(e) => return (out, Some(e)),
        };
        let size = size as usize;
        let left = rbsp.len() - i;
        if size > left {
            // Keep what is there: a truncated message of ours is still ours.
            out.push(SeiMessage {
                payload_type,
                payload: &rbsp[i..],
            });
            return (out, Some(SeiError::PayloadTruncated { at: i, size, left }));
        }
        out.push(SeiMessage {
            payload_type,
            payload: &rbsp[i..i + size],
        });
        i += size;
    }
    (out, None)
}

/// Scans one NAL unit; `None` when it is no body-carrying SEI NAL unit.
pub fn scan_nal(codec: Codec, nal: &[u8]) -> Option<SeiScan> {
    if !is_body_sei_nal(codec, nal) {
        return None;
    }
    let rbsp = unescape(&nal[codec.nal_header_len()..]);
    let (messages, error) = sei_messages(&rbsp);
    let mut scan = SeiScan {
        error,
        ..SeiScan::default()
    };
    let last = messages.len();
    for (k, m) in messages.into_iter().enumerate() {
        if m.payload_type != USER_DATA_UNREGISTERED || !m.payload.starts_with(&BODY_SEI_UUID) {
            continue;
        }
        let truncated = k + 1 == last && matches!(error, Some(SeiError::PayloadTruncated { .. }));
        if truncated {
            scan.truncated_bodies += 1;
        } else {
            scan.bodies.push(m.payload[BODY_SEI_UUID.len()..].to_vec());
        }
    }
    Some(scan)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ff-coding of a value (the writer side, for the tests).
    fn ff(mut v: usize, out: &mut Vec<u8>) {
        while v >= 255 {
            out.push(0xFF);
            v -= 255;
        }
        out.push(v as u8);
    }

    fn message(payload_type: usize, payload: &[u8]) -> Vec<u8> {
        let mut m = Vec::new();
        ff(payload_type, &mut m);
        ff(payload.len(), &mut m);
        m.extend_from_slice(payload);
        m
    }

    fn ours(body: &[u8]) -> Vec<u8> {
        let mut p = BODY_SEI_UUID.to_vec();
        p.extend_from_slice(body);
        message(5, &p)
    }

    /// Emulation prevention, the writer side: 00 00 0x (x <= 3) -> 00 00 03 0x.
    fn escape(rbsp: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut zeros = 0;
        for &b in rbsp {
            if zeros >= 2 && b <= 3 {
                out.push(3);
                zeros = 0;
            }
            zeros = if b == 0 { zeros + 1 } else { 0 };
            out.push(b);
        }
        out
    }

    fn nal(codec: Codec, messages: &[Vec<u8>]) -> Vec<u8> {
        let mut rbsp: Vec<u8> = messages.concat();
        rbsp.push(0x80);
        let mut n = match codec {
            Codec::H264 => vec![0x06],
            Codec::H265 => vec![0x4E, 0x01],
        };
        n.extend(escape(&rbsp));
        n
    }

    #[test]
    fn unescape_removes_only_emulation_prevention() {
        assert_eq!(unescape(&[0, 0, 3, 1]), [0, 0, 1]);
        assert_eq!(unescape(&[0, 0, 3, 0, 0, 3]), [0, 0, 0, 0]);
        assert_eq!(unescape(&[0, 3, 0, 3]), [0, 3, 0, 3]);
        assert_eq!(unescape(&[0, 0, 0, 3, 3]), [0, 0, 0, 3]);
        assert_eq!(unescape(&[1, 2, 3]), [1, 2, 3]);
        let raw: Vec<u8> = (0..2000)
            .map(|i| if i % 5 < 3 { 0 } else { (i % 4) as u8 })
            .collect();
        assert_eq!(unescape(&escape(&raw)), raw);
    }

    #[test]
    fn one_body_in_h264_and_h265() {
        let body: Vec<u8> = (0..100u8).collect();
        for codec in [Codec::H264, Codec::H265] {
            let s = scan_nal(codec, &nal(codec, &[ours(&body)])).unwrap();
            assert_eq!(s.bodies, vec![body.clone()], "{codec:?}");
            assert_eq!((s.truncated_bodies, s.error), (0, None));
        }
    }

    #[test]
    fn body_with_zero_runs_needs_emulation_prevention() {
        // A body header is full of zero runs: 00 00 00 / 00 00 01 patterns.
        let mut body = vec![0x62, 0, 1, 0, 1, 0, 0, 0];
        body.extend_from_slice(&[0, 0, 0, 0, 0, 0, 2, 3]);
        let n = nal(Codec::H264, &[ours(&body)]);
        assert!(n.windows(3).any(|w| w == [0, 0, 3]), "escaped");
        assert_eq!(scan_nal(Codec::H264, &n).unwrap().bodies, vec![body]);
    }

    #[test]
    fn payload_size_over_255_is_multi_byte_ff_coded() {
        let body: Vec<u8> = (0..3248 * 2).map(|i| (i % 251) as u8).collect();
        let m = ours(&body);
        // payloadType 5, then 16 + 6496 = 6512 = 25 * 255 + 137.
        assert_eq!(m[0], 5);
        assert!(m[1..26].iter().all(|&b| b == 0xFF));
        assert_eq!(m[26], 137);
        let s = scan_nal(Codec::H265, &nal(Codec::H265, &[m])).unwrap();
        assert_eq!(s.bodies.len(), 1);
        assert_eq!(s.bodies[0], body);
    }

    #[test]
    fn multiple_messages_other_uuids_and_types_are_skipped() {
        let mut other_uuid = BODY_SEI_UUID;
        other_uuid[15] ^= 1;
        let mut foreign = other_uuid.to_vec();
        foreign.extend_from_slice(b"not ours");
        let msgs = [
            message(0, &[1, 2, 3]), // buffering period
            ours(b"first"),
            message(5, &foreign),   // another UUID
            message(300, &[9; 20]), // payloadType > 255 (ff-coded)
            ours(b"second"),
            message(4, &BODY_SEI_UUID), // our UUID but registered type
        ];
        let s = scan_nal(Codec::H264, &nal(Codec::H264, &msgs)).unwrap();
        assert_eq!(s.bodies, vec![b"first".to_vec(), b"second".to_vec()]);
        assert_eq!(s.error, None);
        let rbsp: Vec<u8> = [msgs.concat(), vec![0x80]].concat();
        let (all, err) = sei_messages(&rbsp);
        assert_eq!(err, None);
        assert_eq!(
            all.iter().map(|m| m.payload_type).collect::<Vec<_>>(),
            [0, 5, 5, 300, 5, 4]
        );
    }

    #[test]
    fn not_sei_nal_units_are_ignored() {
        assert_eq!(scan_nal(Codec::H264, &[0x65, 5, 16]), None); // IDR
        assert_eq!(scan_nal(Codec::H265, &[0x06]), None); // too short for H.265
        assert_eq!(scan_nal(Codec::H265, &[0x50, 0x01, 5, 1, 0, 0x80]), None); // suffix SEI 40
        assert_eq!(scan_nal(Codec::H264, &[]), None);
        assert!(is_body_sei_nal(Codec::H265, &[0x4E, 0x01]));
    }

    #[test]
    fn truncated_input_is_an_error_not_a_panic() {
        let full = nal(Codec::H264, &[ours(&[7; 40])]);
        for cut in 1..full.len() - 1 {
            let s = scan_nal(Codec::H264, &full[..cut]).unwrap();
            assert!(s.bodies.is_empty(), "cut {cut}");
            assert!(s.error.is_some() || cut == 1, "cut {cut}: {s:?}");
        }
        // Cut inside the body: the message is ours, and counted as truncated.
        let s = scan_nal(Codec::H264, &full[..40]).unwrap();
        assert_eq!(s.truncated_bodies, 1);
        assert!(matches!(s.error, Some(SeiError::PayloadTruncated { .. })));
        // A run of 0xFF without its last byte.
        let (m, e) = sei_messages(&[0xFF, 0xFF]);
        assert!(m.is_empty());
        assert_eq!(e, Some(SeiError::HeaderTruncated(2)));
        // Missing trailing bits are accepted.
        assert_eq!(sei_messages(&ours(b"x")).0.len(), 1);
    }

    mod prop {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
                for codec in [Codec::H264, Codec::H265] {
                    let _ = scan_nal(codec, &bytes);
                    let mut n = match codec { Codec::H264 => vec![0x06], Codec::H265 => vec![0x4E, 0x01] };
                    n.extend_from_slice(&bytes);
                    let _ = scan_nal(codec, &n);
                }
                let _ = sei_messages(&bytes);
            }

            #[test]
            fn escape_roundtrip(bytes in proptest::collection::vec(0u8..5, 0..300)) {
                prop_assert_eq!(unescape(&escape(&bytes)), bytes);
            }

            #[test]
            fn bodies_come_back_whole(
                bodies in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..700), 1..4)
            ) {
                let msgs: Vec<Vec<u8>> = bodies.iter().map(|b| ours(b)).collect();
                let s = scan_nal(Codec::H265, &nal(Codec::H265, &msgs)).unwrap();
                prop_assert_eq!(s.bodies, bodies);
                prop_assert_eq!(s.error, None);
            }
        }
    }
}
