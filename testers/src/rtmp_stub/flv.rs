//! FLV VIDEODATA checks: the legacy AVC/HEVC tag header (FLV 10.1 §E.4.3.1,
//! codec id 7, and the "domestic" codec id 12 with the same layout), the
//! Enhanced RTMP `ExVideoTagHeader` (veovera E-RTMP v1, FourCC `hvc1`), the
//! decoder configuration records (ISO/IEC 14496-15 §5.3.3.1 AVC, §8.3.3.1
//! HEVC) and 4-byte length-prefixed NAL unit framing.

use serde::Serialize;

/// Legacy FLV codec id for AVC.
pub const CODEC_AVC: u8 = 7;
/// Legacy codec id the "domestic" (Chinese CDN) extension uses for HEVC.
pub const CODEC_HEVC_DOMESTIC: u8 = 12;
/// FourCC `hvc1` as a number (what E-RTMP puts in onMetaData videocodecid).
pub const FOURCC_HVC1: u32 = u32::from_be_bytes(*b"hvc1");

/// Which video codec signalling the tag used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signalling {
    /// Legacy header with this 4-bit codec id.
    Legacy(u8),
    /// ExVideoTagHeader with this FourCC.
    Ex([u8; 4]),
}

impl Signalling {
    pub fn describe(&self) -> String {
        match self {
            Signalling::Legacy(id) => format!("legacy codec id {id}"),
            Signalling::Ex(f) => format!("ex-header FourCC {:?}", String::from_utf8_lossy(f)),
        }
    }
}

/// What a video message carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind<'a> {
    /// Decoder configuration record.
    SequenceHeader(&'a [u8]),
    /// Coded frame: length-prefixed NAL units.
    Coded {
        keyframe: bool,
        cts: i32,
        data: &'a [u8],
    },
    /// End of sequence, command frames, metadata, anything the checks skip.
    Other,
}

/// A parsed video tag body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VideoTag<'a> {
    pub signalling: Signalling,
    pub kind: Kind<'a>,
}

fn si24(b: &[u8]) -> i32 {
    (i32::from_be_bytes([b[0], b[1], b[2], 0])) >> 8
}

/// Parses the tag header of a video message body.
pub fn parse_video(p: &[u8]) -> Result<VideoTag<'_>, String> {
    let Some(&b0) = p.first() else {
        return Err("empty video message".into());
    };
    if b0 & 0x80 != 0 {
        // E-RTMP: IsExHeader UB[1], FrameType UB[3], PacketType UB[4], FourCC.
        let frame_type = (b0 >> 4) & 0x07;
        let packet_type = b0 & 0x0F;
        if p.len() < 5 {
            return Err(format!(
                "ex-header video message of {} bytes has no FourCC",
                p.len()
            ));
        }
        let fourcc: [u8; 4] = p[1..5].try_into().expect("4 bytes");
        let body = &p[5..];
        let kind = if frame_type == 5 {
            Kind::Other // command frame
        } else {
            match packet_type {
                0 => Kind::SequenceHeader(body),
                1 => {
                    if body.len() < 3 {
                        return Err("CodedFrames without its composition time".into());
                    }
                    Kind::Coded {
                        keyframe: frame_type == 1,
                        cts: si24(body),
                        data: &body[3..],
                    }
                }
                3 => Kind::Coded {
                    keyframe: frame_type == 1,
                    cts: 0,
                    data: body,
                },
                _ => Kind::Other, // SequenceEnd, Metadata, MPEG2TSSequenceStart, ...
            }
        };
        return Ok(VideoTag {
            signalling: Signalling::Ex(fourcc),
            kind,
        });
    }
    let frame_type = b0 >> 4;
    let codec = b0 & 0x0F;
    let signalling = Signalling::Legacy(codec);
    if frame_type == 5 || !(codec == CODEC_AVC || codec == CODEC_HEVC_DOMESTIC) {
        return Ok(VideoTag {
            signalling,
            kind: Kind::Other,
        });
    }
    if p.len() < 5 {
        return Err(format!(
            "codec id {codec} video message of {} bytes is shorter than its 5-byte header",
            p.len()
        ));
    }
    let body = &p[5..];
    let kind = match p[1] {
        0 => Kind::SequenceHeader(body),
        1 => Kind::Coded {
            keyframe: frame_type == 1,
            cts: si24(&p[2..5]),
            data: body,
        },
        2 => Kind::Other,
        t => return Err(format!("AVCPacketType {t} is not 0, 1 or 2")),
    };
    Ok(VideoTag { signalling, kind })
}

/// What a decoder configuration record held.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigSummary {
    pub codec: &'static str,
    pub profile: u8,
    pub level: u8,
    pub length_size: u8,
    pub vps: usize,
    pub sps: usize,
    pub pps: usize,
}

struct Cur<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Cur<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], String> {
        if self.b.len() - self.pos < n {
            return Err(format!("truncated at byte {} reading {what}", self.pos));
        }
        let s = &self.b[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn u16(&mut self, what: &str) -> Result<usize, String> {
        let s = self.take(2, what)?;
        Ok(usize::from(u16::from_be_bytes([s[0], s[1]])))
    }
}

/// AVCDecoderConfigurationRecord: version 1, lengthSizeMinusOne 3, at least
/// one SPS (type 7) and one PPS (type 8).
pub fn parse_avc_config(b: &[u8]) -> Result<ConfigSummary, String> {
    let mut c = Cur { b, pos: 0 };
    let h = c.take(6, "AVC record header")?;
    if h[0] != 1 {
        return Err(format!("AVC configurationVersion {} (expected 1)", h[0]));
    }
    let length_size = (h[4] & 0x03) + 1;
    if length_size != 4 {
        return Err(format!(
            "AVC lengthSizeMinusOne gives {length_size}-byte lengths, expected 4"
        ));
    }
    let mut counts = [0usize; 2];
    for (i, (want, name)) in [(7u8, "SPS"), (8, "PPS")].into_iter().enumerate() {
        let n = if i == 0 {
            usize::from(h[5] & 0x1F)
        } else {
            usize::from(c.take(1, "numOfPictureParameterSets")?[0])
        };
        if n == 0 {
            return Err(format!("AVC record has no {name}"));
        }
        for _ in 0..n {
            let len = c.u16(name)?;
            let nal = c.take(len, name)?;
            let t = nal.first().map(|x| x & 0x1F);
            if t != Some(want) {
                return Err(format!("AVC record {name} entry has NAL type {t:?}"));
            }
        }
        counts[i] = n;
    }
    Ok(ConfigSummary {
        codec: "avc",
        profile: h[1],
        level: h[3],
        length_size,
        vps: 0,
        sps: counts[0],
        pps: counts[1],
    })
}

/// HEVCDecoderConfigurationRecord: version 1, lengthSizeMinusOne 3, arrays
/// holding VPS (32), SPS (33) and PPS (34).
pub fn parse_hevc_config(b: &[u8]) -> Result<ConfigSummary, String> {
    let mut c = Cur { b, pos: 0 };
    let h = c.take(23, "HEVC record header")?;
    if h[0] != 1 {
        return Err(format!("HEVC configurationVersion {} (expected 1)", h[0]));
    }
    let length_size = (h[21] & 0x03) + 1;
    if length_size != 4 {
        return Err(format!(
            "HEVC lengthSizeMinusOne gives {length_size}-byte lengths, expected 4"
        ));
    }
    let (mut vps, mut sps, mut pps) = (0, 0, 0);
    for _ in 0..h[22] {
        let t = c.take(1, "array NAL_unit_type")?[0] & 0x3F;
        let n = c.u16("numNalus")?;
        for _ in 0..n {
            let len = c.u16("nalUnitLength")?;
            let nal = c.take(len, "NAL unit")?;
            let nt = nal.first().map(|x| (x >> 1) & 0x3F);
            if nt != Some(t) {
                return Err(format!(
                    "HEVC record array of type {t} holds NAL type {nt:?}"
                ));
            }
        }
        match t {
            32 => vps += n,
            33 => sps += n,
            34 => pps += n,
            _ => {}
        }
    }
    if vps == 0 || sps == 0 || pps == 0 {
        return Err(format!(
            "HEVC record lacks parameter sets (vps {vps}, sps {sps}, pps {pps})"
        ));
    }
    Ok(ConfigSummary {
        codec: "hevc",
        profile: h[1] & 0x1F,
        level: h[12],
        length_size,
        vps,
        sps,
        pps,
    })
}

/// Walks 4-byte length-prefixed NAL units that must exactly fill `data`;
/// returns the NAL unit types (H.264 5-bit or H.265 6-bit).
pub fn nal_types(data: &[u8], hevc: bool) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < data.len() {
        if data.len() - pos < 4 {
            return Err(format!(
                "{} stray bytes after NAL unit {} (no room for a 4-byte length)",
                data.len() - pos,
                out.len()
            ));
        }
        let n = u32::from_be_bytes(data[pos..pos + 4].try_into().expect("4 bytes")) as usize;
        pos += 4;
        if n == 0 || n > data.len() - pos {
            return Err(format!(
                "NAL unit {} length {n} does not fit the {} bytes left in the tag",
                out.len(),
                data.len() - pos
            ));
        }
        let h = data[pos];
        if h & 0x80 != 0 {
            return Err(format!("NAL unit {} has forbidden_zero_bit set", out.len()));
        }
        out.push(if hevc { (h >> 1) & 0x3F } else { h & 0x1F });
        pos += n;
    }
    if out.is_empty() {
        return Err("coded frame without NAL units".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPS: &[u8] = &[
        0x67, 0x64, 0x00, 0x1e, 0xac, 0xd9, 0x40, 0xa0, 0x2f, 0xf9, 0x70, 0x11, 0x00, 0x00, 0x03,
        0x00, 0x01, 0x00, 0x00, 0x03, 0x00, 0x32, 0x0f, 0x16, 0x2d, 0x96,
    ];
    const PPS: &[u8] = &[0x68, 0xeb, 0xe3, 0xcb, 0x22, 0xc0];

    fn avcc() -> Vec<u8> {
        let mut r = vec![1, SPS[1], SPS[2], SPS[3], 0xFF, 0xE1];
        r.extend_from_slice(&(SPS.len() as u16).to_be_bytes());
        r.extend_from_slice(SPS);
        r.push(1);
        r.extend_from_slice(&(PPS.len() as u16).to_be_bytes());
        r.extend_from_slice(PPS);
        r
    }

    #[test]
    fn avc_record() {
        let s = parse_avc_config(&avcc()).unwrap();
        assert_eq!(
            (s.profile, s.level, s.sps, s.pps, s.length_size),
            (100, 30, 1, 1, 4)
        );
        let mut bad = avcc();
        bad[4] = 0xFD;
        assert!(parse_avc_config(&bad).is_err());
        let r = avcc();
        assert!(parse_avc_config(&r[..r.len() - 1]).is_err());
    }

    #[test]
    fn hevc_record() {
        let mut r = vec![1u8; 23];
        r[21] = 0xF3;
        r[22] = 3;
        for t in [32u8, 33, 34] {
            r.extend_from_slice(&[0x80 | t, 0, 1, 0, 2, t << 1, 1]);
        }
        let s = parse_hevc_config(&r).unwrap();
        assert_eq!((s.vps, s.sps, s.pps), (1, 1, 1));
        r[22] = 2;
        assert!(parse_hevc_config(&r[..r.len() - 7]).is_err());
    }

    #[test]
    fn tags_and_nals() {
        let t = parse_video(&[0x17, 1, 0xFF, 0xFF, 0xFE, 0, 0, 0, 1, 0x65]).unwrap();
        assert_eq!(t.signalling, Signalling::Legacy(7));
        assert_eq!(
            t.kind,
            Kind::Coded {
                keyframe: true,
                cts: -2,
                data: &[0, 0, 0, 1, 0x65]
            }
        );
        let t = parse_video(&[0x90, b'h', b'v', b'c', b'1', 1]).unwrap();
        assert_eq!(t.signalling, Signalling::Ex(*b"hvc1"));
        assert_eq!(t.kind, Kind::SequenceHeader(&[1]));
        let t = parse_video(&[0xA3, b'h', b'v', b'c', b'1', 0, 0, 0, 1, 2]).unwrap();
        assert!(matches!(
            t.kind,
            Kind::Coded {
                keyframe: false,
                cts: 0,
                ..
            }
        ));
        assert_eq!(
            nal_types(&[0, 0, 0, 1, 0x65, 0, 0, 0, 2, 0x41, 0], false).unwrap(),
            vec![5, 1]
        );
        assert!(nal_types(&[0, 0, 0, 2, 0x65], false).is_err());
        assert!(nal_types(&[0, 0, 0, 1, 0x65, 0], false).is_err());
        assert!(nal_types(&[], false).is_err());
        assert!(parse_video(&[0x17, 1]).is_err());
    }
}
