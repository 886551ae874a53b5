//! Body-tracking v1 messages (contract `cv-mmap-ipc.md` §4; docs/body-sei.md
//! "Body message, for readers"), parsed and validated with our own code:
//! 64-byte little-endian header, magic 0x62 at 0, major 1 at 2, minor 0 at 3,
//! frame_count u32 at 4, timestamp_ns u64 at 8, sdk_timestamp_ns u64 at 16,
//! body_count u16 at 24, body_record_size u16 = 3248 at 26,
//! payload_size_bytes u32 at 36 (= body_count × 3248), label[24] at 40;
//! then exactly body_count records of 3248 bytes.

/// Header size (§4).
pub const HEADER_SIZE: usize = 64;
/// Magic at offset 0 (§4).
pub const MAGIC: u8 = 0x62;
/// Size of one record (§4).
pub const RECORD_SIZE: u16 = 3248;

/// The header fields of a valid message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BodyHeader {
    pub frame_count: u32,
    pub timestamp_ns: u64,
    pub sdk_timestamp_ns: u64,
    pub body_count: u16,
    pub payload_size: u32,
    /// The label up to its first NUL.
    pub label: Vec<u8>,
}

/// Why a body message is invalid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("{0} bytes, shorter than the 64-byte header")]
    TooShort(usize),
    #[error("magic {0:#04x}, expected 0x62")]
    Magic(u8),
    #[error("version {major}.{minor}, expected 1.0")]
    Version { major: u8, minor: u8 },
    #[error("body_record_size {0}, expected 3248")]
    RecordSize(u16),
    #[error("payload_size_bytes {payload_size} != body_count {body_count} x 3248")]
    PayloadSize { body_count: u16, payload_size: u32 },
    #[error("message is {actual} bytes, header says {expected}")]
    Length { expected: u64, actual: usize },
    #[error("SEI payloadSize runs past the NAL unit")]
    Truncated,
}

fn u16_at(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes([b[o], b[o + 1]])
}
fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}
fn u64_at(b: &[u8], o: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[o..o + 8]);
    u64::from_le_bytes(a)
}

/// Parses and validates one message.
pub fn parse(msg: &[u8]) -> Result<BodyHeader, BodyError> {
    if msg.len() < HEADER_SIZE {
        return Err(BodyError::TooShort(msg.len()));
    }
    if msg[0] != MAGIC {
        return Err(BodyError::Magic(msg[0]));
    }
    let (major, minor) = (msg[2], msg[3]);
    if (major, minor) != (1, 0) {
        return Err(BodyError::Version { major, minor });
    }
    let record_size = u16_at(msg, 26);
    if record_size != RECORD_SIZE {
        return Err(BodyError::RecordSize(record_size));
    }
    let body_count = u16_at(msg, 24);
    let payload_size = u32_at(msg, 36);
    if u64::from(payload_size) != u64::from(body_count) * u64::from(RECORD_SIZE) {
        return Err(BodyError::PayloadSize {
            body_count,
            payload_size,
        });
    }
    let expected = HEADER_SIZE as u64 + u64::from(payload_size);
    if msg.len() as u64 != expected {
        return Err(BodyError::Length {
            expected,
            actual: msg.len(),
        });
    }
    let label = &msg[40..64];
    let end = label.iter().position(|&b| b == 0).unwrap_or(label.len());
    Ok(BodyHeader {
        frame_count: u32_at(msg, 4),
        timestamp_ns: u64_at(msg, 8),
        sdk_timestamp_ns: u64_at(msg, 16),
        body_count,
        payload_size,
        label: label[..end].to_vec(),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A valid message (the writer side, for tests).
    pub(crate) fn message(frame_count: u32, timestamp_ns: u64, body_count: u16) -> Vec<u8> {
        let payload = usize::from(body_count) * 3248;
        let mut m = vec![0u8; 64 + payload];
        m[0] = 0x62;
        m[2] = 1;
        m[4..8].copy_from_slice(&frame_count.to_le_bytes());
        m[8..16].copy_from_slice(&timestamp_ns.to_le_bytes());
        m[16..24].copy_from_slice(&(timestamp_ns + 1).to_le_bytes());
        m[24..26].copy_from_slice(&body_count.to_le_bytes());
        m[26..28].copy_from_slice(&3248u16.to_le_bytes());
        m[36..40].copy_from_slice(&(payload as u32).to_le_bytes());
        m[40..43].copy_from_slice(b"cam");
        for (i, b) in m[64..].iter_mut().enumerate() {
            *b = (i % 251) as u8;
        }
        m
    }

    #[test]
    fn valid_message() {
        let h = parse(&message(42, 123_456_789, 2)).unwrap();
        assert_eq!(
            h,
            BodyHeader {
                frame_count: 42,
                timestamp_ns: 123_456_789,
                sdk_timestamp_ns: 123_456_790,
                body_count: 2,
                payload_size: 6496,
                label: b"cam".to_vec(),
            }
        );
        assert_eq!(parse(&message(0, 0, 0)).unwrap().payload_size, 0);
    }

    #[test]
    fn every_check_fails_closed() {
        let good = message(1, 2, 1);
        let bad = |f: &dyn Fn(&mut Vec<u8>)| {
            let mut m = good.clone();
            f(&mut m);
            parse(&m).unwrap_err()
        };
        assert_eq!(parse(&good[..63]).unwrap_err(), BodyError::TooShort(63));
        assert_eq!(bad(&|m| m[0] = 0x63), BodyError::Magic(0x63));
        assert_eq!(
            bad(&|m| m[2] = 2),
            BodyError::Version { major: 2, minor: 0 }
        );
        assert_eq!(
            bad(&|m| m[3] = 1),
            BodyError::Version { major: 1, minor: 1 }
        );
        assert_eq!(bad(&|m| m[26] = 0), BodyError::RecordSize(3072));
        assert_eq!(
            bad(&|m| m[24] = 2),
            BodyError::PayloadSize {
                body_count: 2,
                payload_size: 3248
            }
        );
        assert_eq!(
            bad(&|m| m.push(0)),
            BodyError::Length {
                expected: 64 + 3248,
                actual: 64 + 3249
            }
        );
        assert!(matches!(
            parse(&good[..100]).unwrap_err(),
            BodyError::Length { .. }
        ));
    }

    proptest::proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            let _ = parse(&bytes);
            let mut m = bytes.clone();
            if m.len() >= 4 { m[0] = 0x62; m[2] = 1; m[3] = 0; }
            let _ = parse(&m);
        }
    }
}
