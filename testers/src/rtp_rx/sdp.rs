//! The receiver's own SDP reader (RFC 4566), limited to what a video RTP
//! receiver needs: the first `m=video` section's port and payload type, its
//! `a=rtpmap` (H264/90000 or H265/90000), `a=fmtp` parameter sets, and an
//! optional `a=rtcp` port (RFC 3605).
//!
//! - RFC 4566 §5: lines are `<type>=<value>`, `<type>` one letter, ending in
//!   CRLF (a bare LF is accepted, §5 "should also accept"); `v=0` comes first.
//! - RFC 4566 §5.14: `m=<media> <port>[/<number of ports>] <proto> <fmt> ...`.
//! - RFC 4566 §6: `a=rtpmap:<pt> <encoding name>/<clock rate>[/<params>]`,
//!   `a=fmtp:<pt> <format specific parameters>`.
//! - RFC 6184 §8.1: `sprop-parameter-sets=<base64 NAL>,<base64 NAL>...` (SPS,
//!   PPS); `packetization-mode` 2 (interleaved) is not supported here.
//! - RFC 7798 §7.1: `sprop-vps`, `sprop-sps`, `sprop-pps`, each a comma list of
//!   base64 NAL units; `sprop-max-don-diff` > 0 means DONL fields, not supported.
//!
//! Anything else in the file is checked only for the line syntax.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::depay::Codec;

/// What the receiver learns from an SDP file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SdpInfo {
    /// Port of the `m=video` line.
    pub port: u16,
    /// First payload type of the `m=` line with an H264 or H265 `a=rtpmap`.
    pub payload_type: u8,
    pub codec: Codec,
    /// Port of `a=rtcp:` (RFC 3605), if given.
    pub rtcp_port: Option<u16>,
    /// Parameter-set NAL units from the fmtp (VPS, SPS, PPS order as written).
    pub parameter_sets: Vec<Vec<u8>>,
}

/// Why an SDP file was rejected; the message names the line.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SdpError(pub String);

fn err<T>(msg: impl Into<String>) -> Result<T, SdpError> {
    Err(SdpError(msg.into()))
}

/// Parses SDP text.
pub fn parse(text: &str) -> Result<SdpInfo, SdpError> {
    let mut lines: Vec<(usize, char, &str)> = Vec::new();
    let raw: Vec<&str> = text.split('\n').collect();
    for (i, line) in raw.iter().enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() && i + 1 == raw.len() {
            break; // the newline that ends the last line
        }
        let mut chars = line.chars();
        match (chars.next(), chars.next()) {
            (Some(t), Some('=')) if t.is_ascii_lowercase() => lines.push((i + 1, t, &line[2..])),
            _ => return err(format!("line {}: not `<letter>=<value>`: {line:?}", i + 1)),
        }
    }
    match lines.first() {
        Some((_, 'v', "0")) => {}
        Some((n, t, v)) => return err(format!("line {n}: expected `v=0` first, found `{t}={v}`")),
        None => return err("empty SDP"),
    }

    // The first m=video section: from its m= line to the next m= line.
    let Some(start) = lines
        .iter()
        .position(|(_, t, v)| *t == 'm' && v.split(' ').next() == Some("video"))
    else {
        return err("no `m=video` line");
    };
    let end = lines[start + 1..]
        .iter()
        .position(|(_, t, _)| *t == 'm')
        .map_or(lines.len(), |k| start + 1 + k);
    let (m_line, _, m_value) = lines[start];
    let (port, formats) = media_line(m_line, m_value)?;
    let attrs: Vec<(usize, &str)> = lines[start + 1..end]
        .iter()
        .filter(|(_, t, _)| *t == 'a')
        .map(|(n, _, v)| (*n, *v))
        .collect();

    let mut chosen = None;
    for &pt in &formats {
        if let Some(codec) = rtpmap_codec(&attrs, pt)? {
            chosen = Some((pt, codec));
            break;
        }
    }
    let Some((payload_type, codec)) = chosen else {
        return err(format!(
            "line {m_line}: no payload type of {formats:?} has `a=rtpmap:<pt> H264/90000` or `H265/90000`"
        ));
    };

    let mut rtcp_port = None;
    for &(n, a) in &attrs {
        if let Some(v) = a.strip_prefix("rtcp:") {
            let p = v.split(' ').next().unwrap_or("");
            rtcp_port = Some(
                number::<u16>(p)
                    .filter(|&p| p > 0)
                    .ok_or_else(|| SdpError(format!("line {n}: bad `a=rtcp` port {p:?}")))?,
            );
        }
    }

    let parameter_sets = fmtp_parameter_sets(&attrs, payload_type, codec)?;
    Ok(SdpInfo {
        port,
        payload_type,
        codec,
        rtcp_port,
        parameter_sets,
    })
}

/// A port or payload type: ASCII digits only (RFC 4566 §9 `port`, `fmt` of
/// RTP/AVP; `str::parse` would also take a leading `+`).
fn number<T: std::str::FromStr>(text: &str) -> Option<T> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// `m=video <port>[/<n>] RTP/AVP <fmt> ...` (RFC 4566 §5.14).
fn media_line(n: usize, value: &str) -> Result<(u16, Vec<u8>), SdpError> {
    let fields: Vec<&str> = value.split(' ').collect();
    if fields.len() < 4 {
        return err(format!(
            "line {n}: `m=` needs `<media> <port> <proto> <fmt>`: {value:?}"
        ));
    }
    let port_text = fields[1].split('/').next().unwrap_or("");
    let port = match number::<u16>(port_text) {
        Some(0) => return err(format!("line {n}: port 0: the video stream is disabled")),
        Some(p) => p,
        None => return err(format!("line {n}: bad port {:?}", fields[1])),
    };
    if fields[2] != "RTP/AVP" {
        return err(format!(
            "line {n}: transport {:?} is not RTP/AVP",
            fields[2]
        ));
    }
    let formats = fields[3..]
        .iter()
        .map(|f| number::<u8>(f).filter(|&pt| pt <= 127))
        .collect::<Option<Vec<u8>>>()
        .ok_or_else(|| {
            SdpError(format!(
                "line {n}: payload types must be 0..=127: {value:?}"
            ))
        })?;
    Ok((port, formats))
}

/// The codec of `a=rtpmap:<pt>`, if it is H264/90000 or H265/90000.
fn rtpmap_codec(attrs: &[(usize, &str)], pt: u8) -> Result<Option<Codec>, SdpError> {
    for &(n, a) in attrs {
        let Some(rest) = a.strip_prefix("rtpmap:") else {
            continue;
        };
        let Some((pt_text, encoding)) = rest.split_once(' ') else {
            return err(format!(
                "line {n}: `a=rtpmap:` needs `<pt> <encoding>/<clock>`"
            ));
        };
        if number::<u8>(pt_text) != Some(pt) {
            continue;
        }
        let mut parts = encoding.trim().split('/');
        let name = parts.next().unwrap_or("");
        let clock = parts.next();
        let codec = if name.eq_ignore_ascii_case("H264") {
            Codec::H264
        } else if name.eq_ignore_ascii_case("H265") {
            Codec::H265
        } else {
            return Ok(None);
        };
        if clock != Some("90000") {
            return err(format!(
                "line {n}: {name} clock rate must be 90000 (RFC 6184 §8.2.1 / RFC 7798 §7.2): {a:?}"
            ));
        }
        return Ok(Some(codec));
    }
    Ok(None)
}

/// Parameter sets from `a=fmtp:<pt>`; checks the NAL types and packetization.
fn fmtp_parameter_sets(
    attrs: &[(usize, &str)],
    pt: u8,
    codec: Codec,
) -> Result<Vec<Vec<u8>>, SdpError> {
    let mut sets = Vec::new();
    for &(n, a) in attrs {
        let Some(rest) = a.strip_prefix("fmtp:") else {
            continue;
        };
        let (pt_text, params) = rest.split_once(' ').unwrap_or((rest, ""));
        if number::<u8>(pt_text) != Some(pt) {
            continue;
        }
        for param in params.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((key, value)) = param.split_once('=') else {
                return err(format!(
                    "line {n}: fmtp parameter {param:?} is not key=value"
                ));
            };
            let key = key.trim().to_ascii_lowercase();
            let value = value.trim();
            let expected: &[u8] = match (codec, key.as_str()) {
                (Codec::H264, "packetization-mode") => {
                    if !matches!(value, "0" | "1") {
                        return err(format!(
                            "line {n}: packetization-mode={value} is not supported (0 or 1)"
                        ));
                    }
                    continue;
                }
                (Codec::H265, "sprop-max-don-diff") => {
                    if value != "0" {
                        return err(format!(
                            "line {n}: sprop-max-don-diff={value}: DONL is not supported"
                        ));
                    }
                    continue;
                }
                (Codec::H264, "sprop-parameter-sets") => &[7, 8],
                (Codec::H265, "sprop-vps") => &[32],
                (Codec::H265, "sprop-sps") => &[33],
                (Codec::H265, "sprop-pps") => &[34],
                _ => continue,
            };
            for b64 in value.split(',').filter(|s| !s.is_empty()) {
                let nal = STANDARD
                    .decode(b64)
                    .map_err(|e| SdpError(format!("line {n}: {key}: bad base64 {b64:?}: {e}")))?;
                match codec.nal_type(&nal) {
                    Some(t) if expected.contains(&t) => sets.push(nal),
                    t => {
                        return err(format!(
                            "line {n}: {key}: NAL unit type {t:?}, expected one of {expected:?}"
                        ));
                    }
                }
            }
        }
    }
    Ok(sets)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const H264: &str = "v=0\r\n\
        o=- 42 1 IN IP4 127.0.0.1\r\n\
        s=cvmmap-streamer\r\n\
        c=IN IP4 127.0.0.1\r\n\
        t=0 0\r\n\
        m=video 5004 RTP/AVP 96\r\n\
        a=rtpmap:96 H264/90000\r\n\
        a=fmtp:96 packetization-mode=1;profile-level-id=42c01f;sprop-parameter-sets=Z0LAH9oBQBbsBEAAAAMAQAAADyPGDKg=,aM4PyA==\r\n\
        a=sendonly\r\n";

    #[test]
    fn h264_example() {
        let info = parse(H264).unwrap();
        assert_eq!(
            (info.port, info.payload_type, info.codec, info.rtcp_port),
            (5004, 96, Codec::H264, None)
        );
        assert_eq!(info.parameter_sets.len(), 2);
        assert_eq!(info.parameter_sets[0][0], 0x67);
        assert_eq!(info.parameter_sets[1], vec![0x68, 0xCE, 0x0F, 0xC8]);
    }

    #[test]
    fn h265_example_with_lf_endings_and_rtcp() {
        let text = "v=0\n\
            o=- 1 1 IN IP4 127.0.0.1\n\
            s=x\n\
            t=0 0\n\
            m=audio 4000 RTP/AVP 0\n\
            a=rtpmap:98 H264/90000\n\
            m=video 6000/2 RTP/AVP 97 98\n\
            a=rtpmap:97 VP8/90000\n\
            a=rtpmap:98 h265/90000\n\
            a=rtcp:6101\n\
            a=fmtp:98 sprop-max-don-diff=0; sprop-vps=QAEMAf//; sprop-sps=QgEBAWA=;sprop-pps=RAHA8vA8kA==\n";
        let info = parse(text).unwrap();
        assert_eq!(
            (info.port, info.payload_type, info.codec, info.rtcp_port),
            (6000, 98, Codec::H265, Some(6101))
        );
        let types: Vec<_> = info
            .parameter_sets
            .iter()
            .map(|n| Codec::H265.nal_type(n).unwrap())
            .collect();
        assert_eq!(types, vec![32, 33, 34]);
    }

    #[test]
    fn without_fmtp_there_are_no_parameter_sets() {
        let text = "v=0\r\nm=video 5004 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n";
        let info = parse(text).unwrap();
        assert!(info.parameter_sets.is_empty());
    }

    /// Found by fuzzing (fuzz target rx_sdp): `str::parse` took `+96` as
    /// payload type 96 (and `+5004` as a port), so a malformed description
    /// passed the strict receiver.
    #[test]
    fn numbers_are_digits_only() {
        let ok = "v=0\r\nm=video 5004 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n";
        assert!(parse(ok).is_ok());
        for bad in [
            ok.replace("rtpmap:96", "rtpmap:+96"),
            ok.replace("AVP 96", "AVP +96"),
            ok.replace("video 5004", "video +5004"),
            format!("{ok}a=rtcp:+5005\r\n"),
        ] {
            assert!(parse(&bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn malformed_examples() {
        let ok_tail = "m=video 5004 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n";
        for (text, needle) in [
            ("", "empty SDP"),
            ("\r\n", "not `<letter>=<value>`"),
            ("garbage", "not `<letter>=<value>`"),
            ("s=x\r\nv=0\r\n", "expected `v=0` first"),
            ("v=1\r\n", "expected `v=0` first"),
            ("v=0\r\nX=1\r\n", "not `<letter>=<value>`"),
            ("v=0\r\n", "no `m=video`"),
            ("v=0\r\nm=video 5004 RTP/AVP\r\n", "needs"),
            ("v=0\r\nm=video 0 RTP/AVP 96\r\n", "disabled"),
            ("v=0\r\nm=video 70000 RTP/AVP 96\r\n", "bad port"),
            ("v=0\r\nm=video 5004 RTP/SAVP 96\r\n", "not RTP/AVP"),
            ("v=0\r\nm=video 5004 RTP/AVP 200\r\n", "0..=127"),
            ("v=0\r\nm=video 5004 RTP/AVP 96\r\n", "no payload type"),
            (
                "v=0\r\nm=video 5004 RTP/AVP 96\r\na=rtpmap:96 H264/1000\r\n",
                "clock rate",
            ),
            (
                "v=0\r\nm=video 5004 RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\n",
                "no payload type",
            ),
        ] {
            let e = parse(text).unwrap_err();
            assert!(e.0.contains(needle), "{text:?}: {e}");
        }
        for (fmtp, needle) in [
            ("a=fmtp:96 sprop-parameter-sets=!!!", "bad base64"),
            (
                "a=fmtp:96 sprop-parameter-sets=aM4PyA==,QAEMAf//",
                "NAL unit type",
            ),
            ("a=fmtp:96 packetization-mode=2", "not supported"),
            ("a=fmtp:96 novalue", "key=value"),
            ("a=rtcp:x", "a=rtcp"),
        ] {
            let text = format!("v=0\r\n{ok_tail}{fmtp}\r\n");
            let e = parse(&text).unwrap_err();
            assert!(e.0.contains(needle), "{fmtp}: {e}");
            assert!(!e.0.contains('\n'), "one line: {e}");
        }
        let h265 = "v=0\r\nm=video 1 RTP/AVP 96\r\na=rtpmap:96 H265/90000\r\na=fmtp:96 sprop-max-don-diff=2\r\n";
        assert!(parse(h265).unwrap_err().0.contains("DONL"));
    }

    proptest! {
        #[test]
        fn random_text_never_panics(text in "\\PC{0,200}") {
            let _ = parse(&text);
        }

        #[test]
        fn random_sdp_like_lines_never_panic(
            lines in proptest::collection::vec(
                prop_oneof![
                    Just("v=0".to_string()),
                    "m=video [0-9]{0,6} RTP/AVP[ 0-9]{0,8}",
                    "a=rtpmap:[0-9]{1,3} [Hh]26[45]/[0-9]{0,6}",
                    "a=fmtp:[0-9]{1,3} [a-z=;,A-Za-z0-9+/-]{0,40}",
                    "a=rtcp:[0-9a-z]{0,6}",
                    "[a-z]=\\PC{0,20}",
                ],
                0..10,
            ),
        ) {
            let _ = parse(&lines.join("\r\n"));
        }

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse(&String::from_utf8_lossy(&bytes));
        }
    }
}
