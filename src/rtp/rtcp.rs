//! RTCP sender reports (RFC 3550 §6.4.1), with the SDES CNAME that every
//! compound packet must carry (§6.5, §6.1) and BYE (§6.6). Pure: the caller
//! supplies the wall-clock time and the RTP timestamp it maps to.

/// Seconds from the NTP epoch (1900) to the Unix epoch (1970).
pub const NTP_UNIX_OFFSET_S: u64 = 2_208_988_800;

const VERSION: u8 = 2 << 6;
const PT_SR: u8 = 200;
const PT_SDES: u8 = 202;
const PT_BYE: u8 = 203;
const SDES_CNAME: u8 = 1;

/// Largest compound packet built here: SR (28) + SDES with a 255-byte CNAME.
pub const MAX_COMPOUND_LEN: usize = 28 + 8 + 2 + 255 + 4 + 8;

/// A Unix time in ns as a 64-bit NTP timestamp (seconds since 1900 in the
/// upper 32 bits, binary fraction in the lower 32).
pub fn ntp_from_unix_ns(unix_ns: u64) -> u64 {
    let secs = unix_ns / 1_000_000_000 + NTP_UNIX_OFFSET_S;
    let frac = ((unix_ns % 1_000_000_000) << 32) / 1_000_000_000;
    (secs << 32) | frac
}

/// What a sender report says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SenderReport {
    pub ssrc: u32,
    /// Wall-clock (capture) time, Unix ns, that `rtp_timestamp` corresponds to.
    pub unix_ns: u64,
    pub rtp_timestamp: u32,
    /// Packets sent since the start (wraps, §6.4.1).
    pub packet_count: u32,
    /// Payload octets sent since the start, headers excluded (wraps).
    pub octet_count: u32,
}

fn header(out: &mut Vec<u8>, count: u8, pt: u8, words_minus_one: u16) {
    out.push(VERSION | (count & 0x1f));
    out.push(pt);
    out.extend_from_slice(&words_minus_one.to_be_bytes());
}

/// Appends SR + SDES(CNAME) as one compound packet to `out` (cleared
/// first). `cname` is truncated to 255 bytes.
pub fn write_sender_report(out: &mut Vec<u8>, sr: &SenderReport, cname: &str) {
    out.clear();
    // SR with no report blocks: 7 words.
    header(out, 0, PT_SR, 6);
    out.extend_from_slice(&sr.ssrc.to_be_bytes());
    out.extend_from_slice(&ntp_from_unix_ns(sr.unix_ns).to_be_bytes());
    out.extend_from_slice(&sr.rtp_timestamp.to_be_bytes());
    out.extend_from_slice(&sr.packet_count.to_be_bytes());
    out.extend_from_slice(&sr.octet_count.to_be_bytes());
    // SDES, one chunk: SSRC, CNAME item, END (zero) padded to 32 bits.
    let cname = &cname.as_bytes()[..cname.len().min(255)];
    let chunk = 4 + 2 + cname.len() + 1;
    let padded = chunk.div_ceil(4) * 4;
    header(out, 1, PT_SDES, (padded / 4) as u16);
    out.extend_from_slice(&sr.ssrc.to_be_bytes());
    out.push(SDES_CNAME);
    out.push(cname.len() as u8);
    out.extend_from_slice(cname);
    out.resize(out.len() + padded - (4 + 2 + cname.len()), 0);
}

/// Appends BYE for `ssrc` (sent when the stream ends).
pub fn write_bye(out: &mut Vec<u8>, ssrc: u32) {
    header(out, 1, PT_BYE, 1);
    out.extend_from_slice(&ssrc.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ntp_conversion_matches_the_epochs() {
        assert_eq!(ntp_from_unix_ns(0), NTP_UNIX_OFFSET_S << 32);
        // Half a second is 0x8000_0000 of fraction.
        assert_eq!(ntp_from_unix_ns(1_500_000_000) & 0xffff_ffff, 0x8000_0000);
        assert_eq!(ntp_from_unix_ns(1_500_000_000) >> 32, NTP_UNIX_OFFSET_S + 1);
    }

    #[test]
    fn sender_report_bytes_follow_rfc3550() {
        let sr = SenderReport {
            ssrc: 0x0102_0304,
            unix_ns: 1_000_000_000,
            rtp_timestamp: 0xAABB_CCDD,
            packet_count: 7,
            octet_count: 9000,
        };
        let mut out = Vec::new();
        write_sender_report(&mut out, &sr, "cvmmap");
        // SR: V=2, RC=0, PT=200, length 6 words.
        assert_eq!(&out[..4], &[0x80, 200, 0, 6]);
        assert_eq!(&out[4..8], &[1, 2, 3, 4]);
        assert_eq!(
            u32::from_be_bytes(out[8..12].try_into().unwrap()),
            (NTP_UNIX_OFFSET_S + 1) as u32
        );
        assert_eq!(&out[12..16], &[0, 0, 0, 0]);
        assert_eq!(&out[16..20], &[0xAA, 0xBB, 0xCC, 0xDD]);
        assert_eq!(u32::from_be_bytes(out[20..24].try_into().unwrap()), 7);
        assert_eq!(u32::from_be_bytes(out[24..28].try_into().unwrap()), 9000);
        // SDES: V=2, SC=1, PT=202; chunk = 4 + 2 + 6 + END -> 13 -> 16 bytes = 4 words.
        assert_eq!(&out[28..32], &[0x81, 202, 0, 4]);
        assert_eq!(&out[32..36], &[1, 2, 3, 4]);
        assert_eq!(&out[36..38], &[1, 6]);
        assert_eq!(&out[38..44], b"cvmmap");
        assert_eq!(out.len(), 28 + 4 + 16);
        assert!(out[44..].iter().all(|&b| b == 0), "END item and padding");
        assert_eq!(out.len() % 4, 0);
    }

    #[test]
    fn every_cname_length_pads_to_whole_words() {
        let sr = SenderReport {
            ssrc: 1,
            unix_ns: 0,
            rtp_timestamp: 0,
            packet_count: 0,
            octet_count: 0,
        };
        let mut out = Vec::new();
        for n in 0..300 {
            write_sender_report(&mut out, &sr, &"x".repeat(n));
            assert_eq!(out.len() % 4, 0);
            let words = u16::from_be_bytes([out[30], out[31]]) as usize;
            assert_eq!(out.len(), 28 + 4 + words * 4, "cname {n}");
            assert!(out.len() <= MAX_COMPOUND_LEN);
        }
    }

    #[test]
    fn bye_names_the_source() {
        let mut out = Vec::new();
        write_bye(&mut out, 0xDEAD_BEEF);
        assert_eq!(out, [0x81, 203, 0, 1, 0xDE, 0xAD, 0xBE, 0xEF]);
    }
}
