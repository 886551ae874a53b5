//! ZeroMQ frame-sync message (contract section 3): `SyncMessage::parse`.
//!
//! Invariants: a parsed message serializes back to bytes that parse to the
//! same message, and equal the input except the reserved bytes and the label
//! bytes after its first NUL; its label is ASCII and matches itself.
#![no_main]

use cvmmap_streamer::contract::{SYNC_MESSAGE_SIZE, SyncError, SyncMessage};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match SyncMessage::parse(data) {
        Ok(msg) => {
            assert_eq!(data.len(), SYNC_MESSAGE_SIZE);
            let bytes = msg.to_bytes();
            assert_eq!(SyncMessage::parse(&bytes), Ok(msg));
            assert_eq!(bytes[0], data[0]);
            assert_eq!(bytes[2..8], data[2..8]);
            assert_eq!(bytes[0x10..0x18], data[0x10..0x18]);
            let label = msg.label();
            assert!(label.is_ascii() && !label.contains('\0'));
            assert_eq!(label.as_bytes(), msg.label_bytes());
            assert_eq!(&data[0x18..0x18 + label.len()], label.as_bytes());
            assert!(msg.label_matches(label));
            // A label that fits is rebuilt by the constructor.
            if label.len() < 24 {
                let built = SyncMessage::new(msg.frame_count, msg.timestamp_ns, label)
                    .expect("label accepted by parse");
                assert_eq!(built.label(), label);
            }
        }
        Err(SyncError::WrongLength { len }) => assert_ne!(len, SYNC_MESSAGE_SIZE),
        Err(SyncError::LabelNotAscii { index, byte }) => {
            assert!(index < 24 && !byte.is_ascii());
        }
        Err(_) => {}
    }
});
