//! RTP fixed header, CSRC list, header extension and padding (RFC 3550
//! §5.1, §5.3.1) as the RTP receiver tester reads every datagram:
//! `rtp_rx::header::parse`.
//!
//! Invariants: header, extension, payload and padding tile the packet
//! exactly; the fields are the packet's bits.
#![no_main]

use cvmmap_testers::rtp_rx::header::{self, FIXED_HEADER_LEN};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(h) = header::parse(data) else {
        return;
    };
    assert_eq!(data[0] >> 6, 2);
    assert!(!(200..=207).contains(&data[1]));
    let ext = if h.extension { 4 + h.extension_len } else { 0 };
    assert_eq!(h.payload_offset, FIXED_HEADER_LEN + 4 * h.csrcs.len() + ext);
    assert_eq!(h.payload_offset + h.payload_len + h.padding_len, data.len());
    assert_eq!(h.csrcs.len(), usize::from(data[0] & 0x0F));
    assert_eq!(h.padding, h.padding_len > 0);
    assert_eq!(h.extension_profile.is_some(), h.extension);
    assert_eq!(h.marker, data[1] & 0x80 != 0);
    assert_eq!(h.payload_type, data[1] & 0x7F);
    assert_eq!(h.sequence, u16::from_be_bytes([data[2], data[3]]));
    let _payload = &data[h.payload_offset..h.payload_offset + h.payload_len];
});
