//! The 48-byte ZeroMQ frame-sync message (contract section 3).
//!
//! The producer publishes one per frame, after writing payload and metadata:
//!
//! | off  | field |
//! |------|-------|
//! | 0x00 | magic u8 = 0x7D |
//! | 0x01 | reserved u8 |
//! | 0x02 | major u8 = 1, 0x03 minor u8 = 0 |
//! | 0x04 | frame_count u32 |
//! | 0x08 | reserved 8 bytes |
//! | 0x10 | timestamp_ns u64 |
//! | 0x18 | label\[24\], ASCII, NUL-padded: the instance name |
//!
//! The same PUB socket may carry other message kinds (legacy 0x5A status,
//! 0x3C/0x3D control): [`SyncError::OtherMagic`] marks those, and callers skip
//! them silently, as they skip syncs whose label is not their instance.

use thiserror::Error;

use super::{LABEL_SIZE, SYNC_MESSAGE_SIZE};

/// First byte of a frame-sync message.
pub const SYNC_MAGIC: u8 = 0x7D;
/// The only sync major version.
pub const SYNC_MAJOR: u8 = 1;
/// The sync minor version the producer writes.
pub const SYNC_MINOR: u8 = 0;

const LABEL_OFFSET: usize = 0x18;

/// A parsed frame-sync message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncMessage {
    /// Major version (always [`SYNC_MAJOR`] once parsed).
    pub major: u8,
    /// Minor version.
    pub minor: u8,
    /// Frame counter of the frame just published.
    pub frame_count: u32,
    /// Its timestamp, ns.
    pub timestamp_ns: u64,
    /// NUL-padded label; read it with [`SyncMessage::label`].
    label: [u8; LABEL_SIZE],
}

/// Why bytes are not a frame sync for us.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SyncError {
    /// Not exactly 48 bytes.
    #[error("sync message is {len} bytes, expected 48")]
    WrongLength {
        /// Bytes received.
        len: usize,
    },
    /// Another message kind (status, control): skip it without logging.
    #[error("message magic {magic:#04x} is not a frame sync (0x7d)")]
    OtherMagic {
        /// First byte received.
        magic: u8,
    },
    /// A sync of a major version other than 1.
    #[error("unsupported sync version {major}.{minor} (supported: major 1)")]
    UnsupportedVersion {
        /// Byte 2.
        major: u8,
        /// Byte 3.
        minor: u8,
    },
    /// The label holds a non-ASCII byte before its first NUL.
    #[error("sync label byte {index} = {byte:#04x} is not ASCII")]
    LabelNotAscii {
        /// Index in the label of the first offending byte.
        index: usize,
        /// The byte.
        byte: u8,
    },
    /// The label given to [`SyncMessage::new`] does not fit (at most 23 ASCII
    /// bytes, no NUL).
    #[error("sync label {label:?} must be at most 23 ASCII bytes without NUL")]
    BadLabel {
        /// The label given.
        label: String,
    },
}

impl SyncMessage {
    /// Builds a v1.0 sync message; `label` is the instance name (at most 23 ASCII
    /// bytes, so the 24-byte field stays NUL-terminated).
    pub fn new(frame_count: u32, timestamp_ns: u64, label: &str) -> Result<Self, SyncError> {
        let bytes = label.as_bytes();
        if bytes.len() >= LABEL_SIZE || !label.is_ascii() || bytes.contains(&0) {
            return Err(SyncError::BadLabel {
                label: label.to_owned(),
            });
        }
        let mut raw = [0u8; LABEL_SIZE];
        raw[..bytes.len()].copy_from_slice(bytes);
        Ok(Self {
            major: SYNC_MAJOR,
            minor: SYNC_MINOR,
            frame_count,
            timestamp_ns,
            label: raw,
        })
    }

    /// Parses one ZeroMQ message (contract section 3).
    ///
    /// Checks, in order: length 48, magic 0x7D, major 1 (any minor), label ASCII up
    /// to its first NUL. Bytes after the first NUL of the label, and the reserved
    /// bytes, are ignored.
    pub fn parse(bytes: &[u8]) -> Result<Self, SyncError> {
        let b: &[u8; SYNC_MESSAGE_SIZE] = bytes
            .try_into()
            .map_err(|_| SyncError::WrongLength { len: bytes.len() })?;
        if b[0] != SYNC_MAGIC {
            return Err(SyncError::OtherMagic { magic: b[0] });
        }
        let (major, minor) = (b[2], b[3]);
        if major != SYNC_MAJOR {
            return Err(SyncError::UnsupportedVersion { major, minor });
        }
        let mut label = [0u8; LABEL_SIZE];
        label.copy_from_slice(&b[LABEL_OFFSET..]);
        if let Some(index) = label_bytes(&label).iter().position(|c| !c.is_ascii()) {
            return Err(SyncError::LabelNotAscii {
                index,
                byte: label[index],
            });
        }
        let mut frame_count = [0u8; 4];
        frame_count.copy_from_slice(&b[0x04..0x08]);
        let mut timestamp = [0u8; 8];
        timestamp.copy_from_slice(&b[0x10..0x18]);
        Ok(Self {
            major,
            minor,
            frame_count: u32::from_le_bytes(frame_count),
            timestamp_ns: u64::from_le_bytes(timestamp),
            label,
        })
    }

    /// Serializes to the 48-byte wire form (reserved bytes zero).
    pub fn to_bytes(&self) -> [u8; SYNC_MESSAGE_SIZE] {
        let mut out = [0u8; SYNC_MESSAGE_SIZE];
        out[0] = SYNC_MAGIC;
        out[2] = self.major;
        out[3] = self.minor;
        out[0x04..0x08].copy_from_slice(&self.frame_count.to_le_bytes());
        out[0x10..0x18].copy_from_slice(&self.timestamp_ns.to_le_bytes());
        out[LABEL_OFFSET..].copy_from_slice(&self.label);
        out
    }

    /// The label up to its first NUL (ASCII, so always valid UTF-8).
    pub fn label(&self) -> &str {
        // parse() and new() only accept ASCII up to the first NUL.
        std::str::from_utf8(label_bytes(&self.label)).unwrap_or_default()
    }

    /// The label bytes up to its first NUL.
    pub fn label_bytes(&self) -> &[u8] {
        label_bytes(&self.label)
    }

    /// True when the label is exactly `expected` (the instance name).
    pub fn label_matches(&self, expected: &str) -> bool {
        self.label_bytes() == expected.as_bytes()
    }
}

/// Parses one ZeroMQ message; same as [`SyncMessage::parse`].
pub fn parse(bytes: &[u8]) -> Result<SyncMessage, SyncError> {
    SyncMessage::parse(bytes)
}

fn label_bytes(label: &[u8; LABEL_SIZE]) -> &[u8] {
    let end = label.iter().position(|&c| c == 0).unwrap_or(LABEL_SIZE);
    &label[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The upstream test vector, written byte by byte from the section 3 table.
    fn upstream_vector() -> Vec<u8> {
        let mut b = vec![0x7D, 0x00, 0x01, 0x00];
        b.extend_from_slice(&42u32.to_le_bytes()); // 0x04 frame_count
        b.extend_from_slice(&[0; 8]); // 0x08 reserved
        b.extend_from_slice(&123_456_789u64.to_le_bytes()); // 0x10 timestamp_ns
        let mut label = [0u8; 24];
        label[..8].copy_from_slice(b"camera_0");
        b.extend_from_slice(&label); // 0x18 label
        assert_eq!(b.len(), 48);
        b
    }

    #[test]
    fn parses_upstream_test_vector() {
        let msg = SyncMessage::parse(&upstream_vector()).unwrap();
        assert_eq!((msg.major, msg.minor), (1, 0));
        assert_eq!(msg.frame_count, 42);
        assert_eq!(msg.timestamp_ns, 123_456_789);
        assert_eq!(msg.label(), "camera_0");
        assert_eq!(msg.label_bytes(), b"camera_0");
        assert!(msg.label_matches("camera_0"));
        assert!(!msg.label_matches("camera_"));
        assert!(!msg.label_matches("camera_00"));
    }

    #[test]
    fn to_bytes_round_trips_and_matches_the_vector() {
        let msg = SyncMessage::new(42, 123_456_789, "camera_0").unwrap();
        assert_eq!(msg.to_bytes().to_vec(), upstream_vector());
        assert_eq!(SyncMessage::parse(&msg.to_bytes()).unwrap(), msg);
        let parsed = SyncMessage::parse(&upstream_vector()).unwrap();
        assert_eq!(parsed.to_bytes().to_vec(), upstream_vector());
    }

    #[test]
    fn other_magics_are_reported_for_silent_skipping() {
        for magic in [0x5A, 0x3C, 0x3D] {
            let mut b = upstream_vector();
            b[0] = magic;
            assert_eq!(SyncMessage::parse(&b), Err(SyncError::OtherMagic { magic }));
        }
    }

    #[test]
    fn wrong_length_is_rejected() {
        for len in [0, 1, 47, 49, 64] {
            let mut b = upstream_vector();
            b.resize(len, 0);
            assert_eq!(SyncMessage::parse(&b), Err(SyncError::WrongLength { len }));
        }
    }

    #[test]
    fn other_major_is_rejected_and_minor_is_kept() {
        let mut b = upstream_vector();
        b[2] = 2;
        b[3] = 7;
        assert_eq!(
            SyncMessage::parse(&b),
            Err(SyncError::UnsupportedVersion { major: 2, minor: 7 })
        );
        b[2] = 1;
        assert_eq!(SyncMessage::parse(&b).unwrap().minor, 7);
    }

    #[test]
    fn label_rules() {
        let mut b = upstream_vector();
        b[0x18 + 3] = 0xC3;
        assert_eq!(
            SyncMessage::parse(&b),
            Err(SyncError::LabelNotAscii {
                index: 3,
                byte: 0xC3
            })
        );
        // Garbage after the terminating NUL is ignored.
        let mut b = upstream_vector();
        b[0x18 + 20] = 0xFF;
        assert_eq!(SyncMessage::parse(&b).unwrap().label(), "camera_0");
        // A full 24-byte label without NUL is read whole.
        let mut b = upstream_vector();
        b[0x18..].copy_from_slice(b"abcdefghijklmnopqrstuvwx");
        assert_eq!(
            SyncMessage::parse(&b).unwrap().label(),
            "abcdefghijklmnopqrstuvwx"
        );
        // new() keeps room for the terminator.
        assert!(SyncMessage::new(0, 0, &"a".repeat(23)).is_ok());
        assert!(matches!(
            SyncMessage::new(0, 0, &"a".repeat(24)),
            Err(SyncError::BadLabel { .. })
        ));
        assert!(SyncMessage::new(0, 0, "caméra").is_err());
        assert!(SyncMessage::new(0, 0, "a\0b").is_err());
    }
}
