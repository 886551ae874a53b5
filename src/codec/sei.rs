//! SEI `user_data_unregistered` NAL units (H.264 §7.3.2.3, §D.1.6; H.265
//! §7.3.5, §D.2.7), used to carry body tracking in-band (docs/body-sei.md).
//!
//! Pure: builds bytes and splices them into an Annex-B access unit.

use super::{h264, h265, nal_units};

/// Our UUID for body-tracking v1 payloads (docs/body-sei.md).
pub const BODY_TRACKING_UUID: [u8; 16] = [
    0xd4, 0x05, 0xbd, 0x7e, 0x6c, 0x92, 0x41, 0x28, 0xa2, 0x8c, 0x98, 0x44, 0x92, 0xbc, 0x96, 0xeb,
];

/// `payloadType` of user_data_unregistered (H.264 Table D-1, H.265 Table D.1).
const USER_DATA_UNREGISTERED: u8 = 5;

/// Appends one SEI NAL unit (4-byte start code, header, one sei_message with
/// `uuid` + `payload`, trailing bits) to `out`, with emulation prevention.
pub fn append_user_data_nal(hevc: bool, uuid: &[u8; 16], payload: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&[0, 0, 0, 1]);
    if hevc {
        // nal_unit_type 39 (PREFIX_SEI), nuh_layer_id 0, nuh_temporal_id_plus1 1.
        out.extend_from_slice(&[39 << 1, 1]);
    } else {
        // forbidden_zero_bit 0, nal_ref_idc 0, nal_unit_type 6.
        out.push(6);
    }
    let mut rbsp = Rbsp::new(out);
    rbsp.push(USER_DATA_UNREGISTERED);
    // payloadSize: ff_byte* then last_payload_size_byte (§7.3.2.3.1).
    let mut size = uuid.len() + payload.len();
    while size >= 255 {
        rbsp.push(0xff);
        size -= 255;
    }
    rbsp.push(size as u8);
    uuid.iter().chain(payload).for_each(|&b| rbsp.push(b));
    // rbsp_trailing_bits: stop bit and alignment.
    rbsp.push(0x80);
}

/// Writes RBSP bytes into a NAL unit payload, inserting
/// `emulation_prevention_three_byte` where `00 00` is followed by 00..=03
/// (H.264 §7.4.1, H.265 §7.4.2).
struct Rbsp<'a> {
    out: &'a mut Vec<u8>,
    zeros: u8,
}

impl<'a> Rbsp<'a> {
    fn new(out: &'a mut Vec<u8>) -> Self {
        Self { out, zeros: 0 }
    }

    fn push(&mut self, b: u8) {
        if self.zeros >= 2 && b <= 3 {
            self.out.push(3);
            self.zeros = 0;
        }
        self.out.push(b);
        self.zeros = if b == 0 { self.zeros + 1 } else { 0 };
    }
}

/// A copy of `access_unit` with `sei` (complete Annex-B NAL units) placed
/// before its first VCL NAL unit, where SEI belongs (H.264 §7.4.1.2.3, H.265
/// §7.4.2.4.4). An access unit without VCL NAL units gets `sei` at the end.
pub fn insert_before_first_vcl(hevc: bool, access_unit: &[u8], sei: &[u8]) -> Vec<u8> {
    let is_vcl = |first: u8| {
        if hevc {
            h265::nal_type(first).is_vcl()
        } else {
            h264::nal_type(first).is_vcl()
        }
    };
    let mut units = nal_units(access_unit);
    let mut at = access_unit.len();
    while let Some(range) = units.next_range() {
        if is_vcl(access_unit[range.start]) {
            // The 3-byte start code `00 00 01` sits right before the range.
            at = range.start.saturating_sub(3);
            break;
        }
    }
    let mut out = Vec::with_capacity(access_unit.len() + sei.len());
    out.extend_from_slice(&access_unit[..at]);
    out.extend_from_slice(sei);
    out.extend_from_slice(&access_unit[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Undoes emulation prevention (independent of [`Rbsp`]).
    fn unescape(nal: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut zeros = 0;
        for &b in nal {
            if zeros >= 2 && b == 3 {
                zeros = 0;
                continue;
            }
            out.push(b);
            zeros = if b == 0 { zeros + 1 } else { 0 };
        }
        out
    }

    #[test]
    fn h264_sei_layout_and_ff_coded_size() {
        let payload = vec![7u8; 300];
        let mut out = Vec::new();
        append_user_data_nal(false, &BODY_TRACKING_UUID, &payload, &mut out);
        assert_eq!(&out[..5], &[0, 0, 0, 1, 6]);
        let rbsp = unescape(&out[5..]);
        // type 5, size 316 = 255 + 61.
        assert_eq!(&rbsp[..3], &[5, 0xff, 61]);
        assert_eq!(&rbsp[3..19], &BODY_TRACKING_UUID);
        assert_eq!(&rbsp[19..319], &payload[..]);
        assert_eq!(rbsp[319..], [0x80]);
    }

    #[test]
    fn zeros_in_the_payload_are_escaped_and_no_start_code_appears() {
        let payload = vec![0u8; 64];
        let mut out = Vec::new();
        append_user_data_nal(true, &BODY_TRACKING_UUID, &payload, &mut out);
        assert_eq!(&out[..6], &[0, 0, 0, 1, 0x4e, 0x01]);
        let body = &out[6..];
        assert!(!body.windows(3).any(|w| w[0] == 0 && w[1] == 0 && w[2] <= 2));
        let rbsp = unescape(body);
        assert_eq!(rbsp[1], 80);
        assert_eq!(&rbsp[18..82], &payload[..]);
        // The SEI is one NAL unit to an Annex-B splitter.
        assert_eq!(nal_units(&out).count(), 1);
    }

    #[test]
    fn sei_goes_after_parameter_sets_before_the_first_slice() {
        let au = [
            0, 0, 0, 1, 0x67, 1, 0, 0, 0, 1, 0x68, 2, 0, 0, 1, 0x65, 9, 0, 0, 1, 0x65, 8,
        ];
        let mut sei = Vec::new();
        append_user_data_nal(false, &BODY_TRACKING_UUID, b"x", &mut sei);
        let out = insert_before_first_vcl(false, &au, &sei);
        let types: Vec<u8> = nal_units(&out).map(|n| n[0] & 0x1f).collect();
        assert_eq!(types, [7, 8, 6, 5, 5]);
        let hevc = [0, 0, 1, 0x40, 1, 7, 0, 0, 1, 0x26, 1, 5];
        let mut sei = Vec::new();
        append_user_data_nal(true, &BODY_TRACKING_UUID, b"x", &mut sei);
        let out = insert_before_first_vcl(true, &hevc, &sei);
        let types: Vec<u8> = nal_units(&out).map(|n| (n[0] >> 1) & 0x3f).collect();
        assert_eq!(types, [32, 39, 19]);
    }
}
