//! Body-tracking v1 messages (contract `cv-mmap-ipc.md` §4, subject
//! `cvmmap.<key>.body`): a 64-byte little-endian header, then `body_count`
//! records of 3248 bytes. This module only *writes*; readers live elsewhere.
//!
//! The simulator has no tracker: its records are a deterministic pattern
//! ([`record_byte`]) so that receivers can check them byte for byte.

use super::layout::LABEL_CAPACITY;

/// Header size (§4).
pub const BODY_HEADER_SIZE: usize = 64;
/// Header magic at offset 0 (§4).
pub const BODY_MAGIC: u8 = 0x62;
/// Version at offsets 2 (major) and 3 (minor) (§4).
pub const BODY_MAJOR: u8 = 1;
pub const BODY_MINOR: u8 = 0;
/// Size of one body record (§4: `body_record_size = 3248`).
pub const BODY_RECORD_SIZE: usize = 3248;
/// Largest `--body-count`: one message must fit NATS's default max_payload
/// of 1 MiB (64 + 322 * 3248 = 1 045 920 bytes).
pub const MAX_BODY_COUNT: u16 = 322;

/// What one body message says about its frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BodyStamp<'a> {
    /// The frame's `frame_count` (metadata 0x0C).
    pub frame_count: u32,
    /// The frame's metadata timestamp (0x10): the same value, so consumers
    /// can pair message and frame (docs/body-sei.md "Which access unit").
    pub timestamp_ns: u64,
    /// The tracker's own clock; the simulator has none and repeats `timestamp_ns`.
    pub sdk_timestamp_ns: u64,
    pub body_count: u16,
    /// Instance name, at most 24 bytes, NUL-padded into the header.
    pub label: &'a [u8],
}

/// Byte `i` of record `r` of frame `frame_count`:
/// `(frame_count + 31*r + 7*i) mod 251` (251 is prime, so the pattern does
/// not repeat with the 3248-byte record).
pub fn record_byte(frame_count: u32, r: usize, i: usize) -> u8 {
    ((u64::from(frame_count) + 31 * r as u64 + 7 * i as u64) % 251) as u8
}

/// Builds one message: header (§4 offsets) and `body_count` pattern records.
pub fn message(s: &BodyStamp<'_>) -> Vec<u8> {
    let count = usize::from(s.body_count);
    let payload = count * BODY_RECORD_SIZE;
    let mut m = vec![0u8; BODY_HEADER_SIZE + payload];
    m[0] = BODY_MAGIC;
    // 1: reserved, zero.
    m[2] = BODY_MAJOR;
    m[3] = BODY_MINOR;
    m[4..8].copy_from_slice(&s.frame_count.to_le_bytes());
    m[8..16].copy_from_slice(&s.timestamp_ns.to_le_bytes());
    m[16..24].copy_from_slice(&s.sdk_timestamp_ns.to_le_bytes());
    m[24..26].copy_from_slice(&s.body_count.to_le_bytes());
    m[26..28].copy_from_slice(&(BODY_RECORD_SIZE as u16).to_le_bytes());
    // 28..36: not named by the contract, zero.
    m[36..40].copy_from_slice(&(payload as u32).to_le_bytes());
    let n = s.label.len().min(LABEL_CAPACITY);
    m[40..40 + n].copy_from_slice(&s.label[..n]);
    for (r, record) in m[BODY_HEADER_SIZE..]
        .chunks_exact_mut(BODY_RECORD_SIZE)
        .enumerate()
    {
        // record_byte, stepped by 7 mod 251 instead of recomputed per byte.
        let mut v = u16::from(record_byte(s.frame_count, r, 0));
        for b in record.iter_mut() {
            *b = v as u8;
            v += 7;
            if v >= 251 {
                v -= 251;
            }
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u16_at(b: &[u8], o: usize) -> u16 {
        u16::from_le_bytes(b[o..o + 2].try_into().unwrap())
    }
    fn u32_at(b: &[u8], o: usize) -> u32 {
        u32::from_le_bytes(b[o..o + 4].try_into().unwrap())
    }
    fn u64_at(b: &[u8], o: usize) -> u64 {
        u64::from_le_bytes(b[o..o + 8].try_into().unwrap())
    }

    #[test]
    fn header_layout_matches_the_contract() {
        let m = message(&BodyStamp {
            frame_count: 0x0102_0304,
            timestamp_ns: 0x1112_1314_1516_1718,
            sdk_timestamp_ns: 0x2122_2324_2526_2728,
            body_count: 2,
            label: b"camera_0",
        });
        assert_eq!(m.len(), 64 + 2 * 3248);
        assert_eq!(&m[0..4], &[0x62, 0, 1, 0], "magic, reserved, major, minor");
        assert_eq!(&m[4..8], &[0x04, 0x03, 0x02, 0x01], "frame_count LE");
        assert_eq!(u64_at(&m, 8), 0x1112_1314_1516_1718);
        assert_eq!(u64_at(&m, 16), 0x2122_2324_2526_2728);
        assert_eq!(u16_at(&m, 24), 2);
        assert_eq!(u16_at(&m, 26), 3248);
        assert_eq!(&m[28..36], &[0; 8]);
        assert_eq!(u32_at(&m, 36), 2 * 3248);
        let mut label = [0u8; 24];
        label[..8].copy_from_slice(b"camera_0");
        assert_eq!(&m[40..64], &label);
    }

    #[test]
    fn records_follow_the_pattern() {
        let m = message(&BodyStamp {
            frame_count: 7,
            timestamp_ns: 1,
            sdk_timestamp_ns: 1,
            body_count: 3,
            label: b"x",
        });
        for r in 0..3 {
            let rec = &m[64 + r * 3248..64 + (r + 1) * 3248];
            assert!(
                rec.iter()
                    .enumerate()
                    .all(|(i, &b)| u64::from(b) == (7 + 31 * r as u64 + 7 * i as u64) % 251)
            );
        }
        assert_eq!(m[64], 7);
        assert_eq!(m[64 + 3248], 38);
    }

    #[test]
    fn zero_bodies_and_full_label() {
        let m = message(&BodyStamp {
            frame_count: 0,
            timestamp_ns: 0,
            sdk_timestamp_ns: 0,
            body_count: 0,
            label: b"abcdefghijklmnopqrstuvwx",
        });
        assert_eq!(m.len(), 64);
        assert_eq!(u32_at(&m, 36), 0);
        assert_eq!(&m[40..64], b"abcdefghijklmnopqrstuvwx");
        let max = message(&BodyStamp {
            body_count: MAX_BODY_COUNT,
            label: b"x",
            frame_count: 0,
            timestamp_ns: 0,
            sdk_timestamp_ns: 0,
        });
        assert!(max.len() <= 1 << 20);
    }
}
