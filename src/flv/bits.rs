//! RBSP bit reading for the parameter-set parsers of [`super::avc`] and
//! [`super::hevc_record`].
//!
//! A NAL unit payload is an escaped RBSP: the encoder inserts an
//! `emulation_prevention_three_byte` (0x03) after every two zero bytes that
//! would otherwise be followed by a byte `<= 0x03` (ITU-T H.264 §7.4.1,
//! ITU-T H.265 §7.4.2). [`Rbsp::new`] removes those bytes; the reader then
//! implements `u(n)` and `ue(v)` (H.264 §7.2, §9.1; H.265 §7.2, §9.2).

/// Why reading an RBSP failed; becomes the `reason` of
/// [`FlvError::BadSps`](super::FlvError::BadSps).
pub(super) type BitError = &'static str;

/// An unescaped RBSP and a bit cursor into it.
#[derive(Debug)]
pub(super) struct Rbsp {
    data: Vec<u8>,
    /// Bit offset of the next bit to read, MSB first.
    pos: usize,
}

impl Rbsp {
    /// Unescapes `payload` (the NAL unit without its header bytes).
    pub(super) fn new(payload: &[u8]) -> Self {
        let mut data = Vec::with_capacity(payload.len());
        let mut zeros = 0usize;
        for &b in payload {
            if zeros >= 2 && b == 0x03 {
                // emulation_prevention_three_byte: dropped, and it resets the
                // zero run (00 00 03 00 00 03 is two escapes).
                zeros = 0;
                continue;
            }
            zeros = if b == 0 { zeros + 1 } else { 0 };
            data.push(b);
        }
        Self { data, pos: 0 }
    }

    /// `u(n)` for `n <= 32`.
    pub(super) fn bits(&mut self, n: u32) -> Result<u32, BitError> {
        debug_assert!(n <= 32);
        let mut value: u64 = 0;
        for _ in 0..n {
            value = (value << 1) | u64::from(self.bit()?);
        }
        // At most 32 bits were shifted in.
        Ok(value as u32)
    }

    /// `u(1)` as a bool.
    pub(super) fn flag(&mut self) -> Result<bool, BitError> {
        Ok(self.bit()? == 1)
    }

    /// Skips `n` bits.
    pub(super) fn skip(&mut self, n: usize) -> Result<(), BitError> {
        let end = self.pos.checked_add(n).ok_or("truncated RBSP")?;
        if end > self.data.len() * 8 {
            return Err("truncated RBSP");
        }
        self.pos = end;
        Ok(())
    }

    /// `ue(v)`: unsigned Exp-Golomb. Values needing more than 31 leading
    /// zeros do not fit a `u32` and no syntax element we read allows them.
    pub(super) fn ue(&mut self) -> Result<u32, BitError> {
        let mut leading_zeros = 0u32;
        while self.bit()? == 0 {
            leading_zeros += 1;
            if leading_zeros > 31 {
                return Err("Exp-Golomb code longer than 32 bits");
            }
        }
        let suffix = self.bits(leading_zeros)?;
        // 2^31 - 1 + (2^31 - 1) fits in u32.
        Ok((1u32 << leading_zeros) - 1 + suffix)
    }

    fn bit(&mut self) -> Result<u8, BitError> {
        let byte = *self.data.get(self.pos / 8).ok_or("truncated RBSP")?;
        let bit = (byte >> (7 - self.pos % 8)) & 1;
        self.pos += 1;
        Ok(bit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_emulation_prevention_bytes() {
        let r = Rbsp::new(&[0x00, 0x00, 0x03, 0x01, 0x00, 0x00, 0x03, 0x00, 0x00, 0x03]);
        assert_eq!(r.data, [0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00]);
        // A 0x03 not preceded by two zeros is data.
        assert_eq!(Rbsp::new(&[0x00, 0x03, 0x03]).data, [0x00, 0x03, 0x03]);
    }

    #[test]
    fn reads_fixed_and_exp_golomb() {
        // 1 | 010 | 011 | 00100 | 0001000 | 1010...
        //  0    1     2     3        7
        let mut r = Rbsp::new(&[0b1010_0110, 0b0100_0001, 0b0001_0100]);
        assert_eq!(r.ue(), Ok(0));
        assert_eq!(r.ue(), Ok(1));
        assert_eq!(r.ue(), Ok(2));
        assert_eq!(r.ue(), Ok(3));
        assert_eq!(r.ue(), Ok(7));
        assert_eq!(r.bits(4), Ok(0b1010));
        assert_eq!(r.flag(), Ok(false));
        assert!(r.flag().is_err());
    }

    #[test]
    fn overlong_exp_golomb_is_an_error() {
        let mut r = Rbsp::new(&[0; 8]);
        assert!(r.ue().is_err());
        let mut r = Rbsp::new(&[0xff]);
        assert!(r.skip(9).is_err());
        assert!(r.skip(usize::MAX).is_err());
        assert_eq!(r.bits(8), Ok(0xff));
    }
}
