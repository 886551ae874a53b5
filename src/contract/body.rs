//! Body-tracking v1 messages (`cvmmap.<key>.body`, contract §4): a 64-byte
//! little-endian header followed by `body_count` records of 3248 bytes.
//!
//! Only the header is interpreted; the records travel on unchanged.

/// Header length in bytes.
pub const BODY_HEADER_SIZE: usize = 64;
/// Header magic at offset 0.
pub const BODY_MAGIC: u8 = 0x62;
/// The only record size v1 defines.
pub const BODY_RECORD_SIZE: u16 = 3248;
const LABEL_OFFSET: usize = 40;
const LABEL_LEN: usize = 24;

/// Why a body message was rejected; each names the field and the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("body message is {len} bytes, shorter than the 64-byte header")]
    TooShort { len: usize },
    #[error("body magic is {found:#04x}, expected 0x62")]
    Magic { found: u8 },
    #[error("body version is {major}.{minor}, expected 1.0")]
    Version { major: u8, minor: u8 },
    #[error("body_record_size is {found}, expected 3248")]
    RecordSize { found: u16 },
    #[error("payload_size_bytes is {declared}, body_count {count} x 3248 is {expected}")]
    PayloadSize {
        declared: u32,
        count: u16,
        expected: u64,
    },
    #[error("body message is {actual} bytes, the header declares {declared}")]
    Length { declared: u64, actual: usize },
    #[error("body label is {found:?}, expected {expected:?}")]
    Label { found: String, expected: String },
}

/// The fields of a valid body-tracking v1 header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyHeader {
    pub frame_count: u32,
    /// The frame's metadata timestamp: ties the message to its frame.
    pub timestamp_ns: u64,
    pub sdk_timestamp_ns: u64,
    pub body_count: u16,
    pub label: String,
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

impl BodyHeader {
    /// Validates a whole message (header and record sizes). With
    /// `expected_label`, the header's label must name that instance.
    pub fn parse(msg: &[u8], expected_label: Option<&str>) -> Result<Self, BodyError> {
        if msg.len() < BODY_HEADER_SIZE {
            return Err(BodyError::TooShort { len: msg.len() });
        }
        if msg[0] != BODY_MAGIC {
            return Err(BodyError::Magic { found: msg[0] });
        }
        let (major, minor) = (msg[2], msg[3]);
        if (major, minor) != (1, 0) {
            return Err(BodyError::Version { major, minor });
        }
        let count = u16_at(msg, 24);
        let record = u16_at(msg, 26);
        if record != BODY_RECORD_SIZE {
            return Err(BodyError::RecordSize { found: record });
        }
        let declared = u32_at(msg, 36);
        let expected = u64::from(count) * u64::from(BODY_RECORD_SIZE);
        if u64::from(declared) != expected {
            return Err(BodyError::PayloadSize {
                declared,
                count,
                expected,
            });
        }
        let total = BODY_HEADER_SIZE as u64 + expected;
        if msg.len() as u64 != total {
            return Err(BodyError::Length {
                declared: total,
                actual: msg.len(),
            });
        }
        let raw = &msg[LABEL_OFFSET..LABEL_OFFSET + LABEL_LEN];
        let end = raw.iter().position(|&b| b == 0).unwrap_or(LABEL_LEN);
        let label = String::from_utf8_lossy(&raw[..end]).into_owned();
        if let Some(expected) = expected_label
            && label != expected
        {
            return Err(BodyError::Label {
                found: label,
                expected: expected.to_owned(),
            });
        }
        Ok(Self {
            frame_count: u32_at(msg, 4),
            timestamp_ns: u64_at(msg, 8),
            sdk_timestamp_ns: u64_at(msg, 16),
            body_count: count,
            label,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn message(count: u16, label: &str) -> Vec<u8> {
        let mut m = vec![0u8; BODY_HEADER_SIZE + usize::from(count) * 3248];
        m[0] = BODY_MAGIC;
        m[2] = 1;
        m[4..8].copy_from_slice(&42u32.to_le_bytes());
        m[8..16].copy_from_slice(&123_456_789u64.to_le_bytes());
        m[16..24].copy_from_slice(&99u64.to_le_bytes());
        m[24..26].copy_from_slice(&count.to_le_bytes());
        m[26..28].copy_from_slice(&3248u16.to_le_bytes());
        m[36..40].copy_from_slice(&(u32::from(count) * 3248).to_le_bytes());
        m[40..40 + label.len()].copy_from_slice(label.as_bytes());
        m
    }

    #[test]
    fn valid_message_parses() {
        let h = BodyHeader::parse(&message(2, "camera_0"), Some("camera_0")).unwrap();
        assert_eq!(
            h,
            BodyHeader {
                frame_count: 42,
                timestamp_ns: 123_456_789,
                sdk_timestamp_ns: 99,
                body_count: 2,
                label: "camera_0".into()
            }
        );
        assert!(BodyHeader::parse(&message(0, "x"), None).is_ok());
    }

    #[test]
    fn each_rule_rejects() {
        let ok = message(1, "cam");
        let bad = |f: &dyn Fn(&mut Vec<u8>)| {
            let mut m = ok.clone();
            f(&mut m);
            BodyHeader::parse(&m, Some("cam")).unwrap_err()
        };
        assert_eq!(bad(&|m| m.truncate(10)), BodyError::TooShort { len: 10 });
        assert_eq!(bad(&|m| m[0] = 0x5a), BodyError::Magic { found: 0x5a });
        assert!(matches!(
            bad(&|m| m[2] = 2),
            BodyError::Version { major: 2, .. }
        ));
        assert!(matches!(bad(&|m| m[26] = 1), BodyError::RecordSize { .. }));
        assert!(matches!(bad(&|m| m[36] = 0), BodyError::PayloadSize { .. }));
        assert!(matches!(bad(&|m| m.push(0)), BodyError::Length { .. }));
        assert!(matches!(bad(&|m| m[40] = b'd'), BodyError::Label { .. }));
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = BodyHeader::parse(&bytes, Some("cam"));
        }
    }
}
