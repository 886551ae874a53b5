//! Annex-B byte stream splitting (ITU-T H.264 Annex B, shared by H.265 Annex B).
//!
//! An Annex-B stream is a sequence of `[leading zeros] 00 00 01 <NAL unit>
//! [trailing zeros]` records. The splitter yields each NAL unit as a slice of
//! the input with its start code removed:
//!
//! - both 3-byte (`00 00 01`) and 4-byte (`00 00 00 01`) start codes are
//!   recognised; the extra zero of a 4-byte start code, like any other
//!   `trailing_zero_8bits`, is stripped from the end of the preceding NAL unit
//!   (a NAL unit never ends in a zero byte: its last byte holds the
//!   `rbsp_stop_one_bit`);
//! - bytes before the first start code are not a NAL unit and are skipped;
//! - empty NAL units (two start codes back to back) are skipped.
//!
//! No allocation: the iterator only keeps the input slice and an offset. Input
//! that violates emulation prevention (e.g. `00 00 00` not followed by `01`
//! inside a NAL unit) is not rejected; it just stays inside the NAL unit.

use std::iter::FusedIterator;
use std::ops::Range;

/// Iterates over the NAL units of an Annex-B byte stream.
///
/// ```
/// use cvmmap_streamer::codec::nal_units;
/// let stream = [0, 0, 0, 1, 0x67, 0x42, 0, 0, 1, 0x68, 0xce, 0];
/// let nals: Vec<&[u8]> = nal_units(&stream).collect();
/// assert_eq!(nals, [&[0x67, 0x42][..], &[0x68, 0xce][..]]);
/// ```
pub fn nal_units(data: &[u8]) -> NalUnits<'_> {
    NalUnits::new(data)
}

/// Iterator over the NAL units of an Annex-B byte stream; see [`nal_units`].
///
/// Besides the slices, it can report byte ranges ([`NalUnits::next_range`])
/// and be suspended and resumed at an offset ([`NalUnits::position`],
/// [`NalUnits::resume`]), which lets a caller keep its place in an access unit
/// without holding a borrow of it.
#[derive(Debug, Clone)]
pub struct NalUnits<'a> {
    data: &'a [u8],
    /// Offset where the search for the next start code begins.
    pos: usize,
}

impl<'a> NalUnits<'a> {
    /// Starts at the beginning of `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Self { data, pos: 0 }
    }

    /// Continues over `data` from `position`, as returned by
    /// [`NalUnits::position`] of an iterator over the same `data`.
    ///
    /// Any offset is accepted (clamped to `data.len()`): the result behaves
    /// like `nal_units(&data[position..])` with ranges relative to `data`.
    pub fn resume(data: &'a [u8], position: usize) -> Self {
        Self {
            data,
            pos: position.min(data.len()),
        }
    }

    /// Offset into the input where iteration will continue.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Like [`Iterator::next`] but returns the NAL unit's byte range within
    /// the input instead of the slice.
    pub fn next_range(&mut self) -> Option<Range<usize>> {
        let data = self.data;
        loop {
            let Some((_, start)) = find_start_code(data, self.pos) else {
                self.pos = data.len();
                return None;
            };
            let end = match find_start_code(data, start) {
                Some((next_code, _)) => next_code,
                None => data.len(),
            };
            self.pos = end;
            // trailing_zero_8bits (and the first zero of a 4-byte start code)
            // belong to the next start code, not to this NAL unit.
            let trimmed = data[start..end]
                .iter()
                .rposition(|&b| b != 0)
                .map_or(start, |last| start + last + 1);
            if trimmed > start {
                return Some(start..trimmed);
            }
        }
    }
}

impl<'a> Iterator for NalUnits<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let data = self.data;
        self.next_range().map(|range| &data[range])
    }
}

impl FusedIterator for NalUnits<'_> {}

/// Finds the first `00 00 01` at or after `from`; returns the offset of its
/// first byte and the offset just past it.
fn find_start_code(data: &[u8], from: usize) -> Option<(usize, usize)> {
    // `i` indexes the candidate `01` byte.
    let mut i = from.checked_add(2)?;
    while i < data.len() {
        match data[i] {
            0 => i += 1,
            1 if data[i - 1] == 0 && data[i - 2] == 0 => return Some((i - 2, i + 1)),
            // A non-zero byte at `i` rules out start codes ending at
            // `i`, `i + 1` and `i + 2`.
            _ => i += 3,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn split(data: &[u8]) -> Vec<Vec<u8>> {
        nal_units(data).map(<[u8]>::to_vec).collect()
    }

    #[test]
    fn empty_and_no_start_code() {
        assert!(split(&[]).is_empty());
        assert!(split(&[0, 0]).is_empty());
        assert!(split(&[0x65, 1, 2, 3]).is_empty());
        assert!(split(&[0, 0, 1]).is_empty());
        assert!(split(&[0, 0, 0, 1, 0, 0, 0]).is_empty());
    }

    #[test]
    fn three_and_four_byte_start_codes() {
        let data = [
            0, 0, 0, 1, 0x67, 0xaa, //
            0, 0, 1, 0x68, 0xbb, //
            0, 0, 0, 1, 0x65, 0x01, 0x02,
        ];
        assert_eq!(
            split(&data),
            [vec![0x67, 0xaa], vec![0x68, 0xbb], vec![0x65, 0x01, 0x02]]
        );
    }

    #[test]
    fn leading_garbage_is_skipped() {
        let data = [0xff, 0x12, 0, 0, 0, 0, 0, 1, 0x09, 0xf0];
        assert_eq!(split(&data), [vec![0x09, 0xf0]]);
    }

    #[test]
    fn trailing_zeros_belong_to_the_next_start_code() {
        let data = [0, 0, 1, 0x67, 0x42, 0, 0, 0, 0, 0, 1, 0x68, 0xce, 0, 0];
        assert_eq!(split(&data), [vec![0x67, 0x42], vec![0x68, 0xce]]);
    }

    #[test]
    fn empty_nal_units_are_skipped() {
        let data = [0, 0, 1, 0, 0, 1, 0, 0, 0, 1, 0x41, 0, 0, 1];
        assert_eq!(split(&data), [vec![0x41]]);
    }

    #[test]
    fn emulation_prevention_bytes_stay_inside() {
        let data = [0, 0, 1, 0x65, 0, 0, 3, 1, 0, 0, 3, 0, 0x80];
        assert_eq!(split(&data), [vec![0x65, 0, 0, 3, 1, 0, 0, 3, 0, 0x80]]);
    }

    #[test]
    fn ranges_and_resume() {
        let data = [0, 0, 1, 0x67, 0x42, 0, 0, 0, 1, 0x68, 0xce];
        let mut it = nal_units(&data);
        assert_eq!(it.next_range(), Some(3..5));
        let pos = it.position();
        let mut resumed = NalUnits::resume(&data, pos);
        assert_eq!(resumed.next_range(), Some(9..11));
        assert_eq!(resumed.next_range(), None);
        assert_eq!(resumed.position(), data.len());
        assert_eq!(NalUnits::resume(&data, 1000).next(), None);
    }

    /// Inserts emulation prevention bytes (H.264 §7.4.1) and makes the last
    /// byte non-zero, producing a NAL unit body that survives Annex-B framing.
    fn escape(raw: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(raw.len() + raw.len() / 2 + 1);
        let mut zeros = 0;
        for &b in raw {
            if zeros >= 2 && b <= 3 {
                out.push(3);
                zeros = 0;
            }
            out.push(b);
            zeros = if b == 0 { zeros + 1 } else { 0 };
        }
        if out.last().is_none_or(|&b| b == 0) {
            out.push(0x80);
        }
        out
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512)) {
            for nal in nal_units(&data) {
                prop_assert!(!nal.is_empty());
                prop_assert_ne!(*nal.last().unwrap(), 0);
                prop_assert!(!nal.windows(3).any(|w| w == [0, 0, 1]));
            }
        }

        #[test]
        fn framed_nal_units_round_trip(
            nals in proptest::collection::vec(
                (proptest::collection::vec(any::<u8>(), 0..64), any::<bool>(), 0usize..3),
                0..8,
            ),
            garbage in proptest::collection::vec(1u8..=255, 0..4),
        ) {
            let mut stream = garbage.clone();
            let mut expected = Vec::new();
            for (raw, long_code, trailing) in &nals {
                let nal = escape(raw);
                if *long_code { stream.push(0); }
                stream.extend_from_slice(&[0, 0, 1]);
                stream.extend_from_slice(&nal);
                stream.extend(std::iter::repeat_n(0, *trailing));
                expected.push(nal);
            }
            prop_assert_eq!(split(&stream), expected);
        }
    }
}
