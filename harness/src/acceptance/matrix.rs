//! The seed's compatibility matrix as data: five mandatory rows and the
//! invalid one, with the frame counts and thresholds each is held to.

use std::collections::BTreeMap;

use crate::HarnessError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Rtp,
    Rtmp,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Rtp => "rtp",
            Protocol::Rtmp => "rtmp",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowDef {
    pub id: &'static str,
    pub title: &'static str,
    /// The simulator's `--label` (at most 24 bytes), as in the seed's runs.
    pub label: &'static str,
    pub protocol: Protocol,
    pub codec: &'static str,
    pub rtmp_mode: Option<&'static str>,
    /// `rtmp_stub_tester --mode` for RTMP rows.
    pub stub_mode: Option<&'static str>,
    /// onMetaData `videocodecid` the stub must report.
    pub videocodecid: Option<u64>,
    /// Frames the simulator publishes at [`FPS`]. H.265 rows use fewer: x265
    /// on a two-core host is the slow part, and 150 frames (5 GOPs) still
    /// show a sustained stream.
    pub frames: u64,
    /// The invalid row: the streamer must refuse it with exit 2.
    pub negative: bool,
}

pub const FPS: u64 = 30;
pub const WIDTH: u32 = 640;
pub const HEIGHT: u32 = 360;

impl RowDef {
    /// Complete access units (RTP) or video frames (RTMP) the tester must
    /// receive: 95% of what was published, the seed's acceptance bar.
    pub fn receive_threshold(&self) -> u64 {
        (self.frames * 95).div_ceil(100)
    }

    /// Frames the RTP receiver's decoder must produce: a little below the
    /// receive threshold, since the receiver stops at its threshold and the
    /// decoder may still hold the last frame or two.
    pub fn decode_threshold(&self) -> u64 {
        self.frames * 93 / 100
    }
}

const fn row(
    id: &'static str,
    title: &'static str,
    label: &'static str,
    protocol: Protocol,
    codec: &'static str,
    rtmp: Option<(&'static str, &'static str, u64)>,
    frames: u64,
) -> RowDef {
    let (rtmp_mode, stub_mode, videocodecid) = match rtmp {
        Some((m, s, v)) => (Some(m), Some(s), Some(v)),
        None => (None, None, None),
    };
    RowDef {
        id,
        title,
        label,
        protocol,
        codec,
        rtmp_mode,
        stub_mode,
        videocodecid,
        frames,
        negative: false,
    }
}

/// `videocodecid` of Enhanced RTMP: the FourCC `hvc1` as a big-endian u32.
const HVC1: u64 = 0x6876_6331;

pub const MATRIX: [RowDef; 6] = [
    row(
        "rtp_h264",
        "RTP H.264",
        "acc_1_rtp_h264",
        Protocol::Rtp,
        "h264",
        None,
        300,
    ),
    row(
        "rtp_h265",
        "RTP H.265",
        "acc_2_rtp_h265",
        Protocol::Rtp,
        "h265",
        None,
        150,
    ),
    row(
        "rtmp_h264",
        "RTMP H.264 (enhanced mode: legacy codec id 7)",
        "acc_3_rtmp_h264",
        Protocol::Rtmp,
        "h264",
        Some(("enhanced", "h264", 7)),
        300,
    ),
    row(
        "rtmp_h265_enhanced",
        "RTMP H.265 enhanced (hvc1)",
        "acc_4_rtmp_h265_enh",
        Protocol::Rtmp,
        "h265",
        Some(("enhanced", "h265-enhanced", HVC1)),
        150,
    ),
    row(
        "rtmp_h265_domestic",
        "RTMP H.265 domestic (codec id 12)",
        "acc_5_rtmp_h265_dom",
        Protocol::Rtmp,
        "h265",
        Some(("domestic", "h265-domestic", 12)),
        150,
    ),
    RowDef {
        negative: true,
        frames: 0,
        ..row(
            "invalid_rtmp_h264_domestic",
            "RTMP H.264 domestic (INVALID: must exit 2)",
            "acc_6_invalid",
            Protocol::Rtmp,
            "h264",
            Some(("domestic", "h264", 7)),
            0,
        )
    },
];

/// A deliberate fault for one row (`--break-row ROW=KIND`), to show that a
/// broken row fails with a reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sabotage {
    /// The RTP receiver expects payload type 97 while the streamer sends 96.
    WrongPt,
    /// The RTMP stub expects another codec signalling than the row's.
    WrongMode,
}

impl Sabotage {
    pub fn as_str(self) -> &'static str {
        match self {
            Sabotage::WrongPt => "wrong-pt",
            Sabotage::WrongMode => "wrong-mode",
        }
    }
}

fn find(id: &str) -> Result<&'static RowDef, HarnessError> {
    MATRIX
        .iter()
        .find(|r| r.id == id)
        .ok_or_else(|| HarnessError::UnknownRow {
            name: id.to_owned(),
            known: MATRIX.iter().map(|r| r.id).collect::<Vec<_>>().join(", "),
        })
}

/// The rows named in `--rows a,b` (matrix order), or all of them.
pub fn select(rows: Option<&[String]>) -> Result<Vec<&'static RowDef>, HarnessError> {
    let Some(names) = rows else {
        return Ok(MATRIX.iter().collect());
    };
    for n in names {
        find(n)?;
    }
    Ok(MATRIX
        .iter()
        .filter(|r| names.iter().any(|n| n == r.id))
        .collect())
}

/// Parses `ROW=KIND` specs; a kind must fit the row's protocol.
pub fn parse_breaks(specs: &[String]) -> Result<BTreeMap<&'static str, Sabotage>, HarnessError> {
    let mut out = BTreeMap::new();
    for spec in specs {
        let bad = |why: &str| HarnessError::BadBreak {
            spec: spec.clone(),
            why: why.to_owned(),
        };
        let (row, kind) = spec
            .split_once('=')
            .ok_or_else(|| bad("expected ROW=KIND"))?;
        let def = find(row)?;
        let kind = match kind {
            "wrong-pt" => Sabotage::WrongPt,
            "wrong-mode" => Sabotage::WrongMode,
            _ => return Err(bad("KIND is wrong-pt (RTP rows) or wrong-mode (RTMP rows)")),
        };
        let fits = !def.negative
            && matches!(
                (def.protocol, kind),
                (Protocol::Rtp, Sabotage::WrongPt) | (Protocol::Rtmp, Sabotage::WrongMode)
            );
        if !fits {
            return Err(bad("this kind does not apply to that row"));
        }
        out.insert(def.id, kind);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_mandatory_rows_and_one_invalid() {
        assert_eq!(MATRIX.iter().filter(|r| !r.negative).count(), 5);
        assert!(MATRIX.iter().all(|r| r.label.len() <= 24));
        assert_eq!(MATRIX[0].receive_threshold(), 285);
        assert_eq!(MATRIX[1].receive_threshold(), 143);
    }

    #[test]
    fn selects_and_breaks() {
        let sel = select(Some(&["rtmp_h264".into(), "rtp_h264".into()])).unwrap();
        assert_eq!(
            sel.iter().map(|r| r.id).collect::<Vec<_>>(),
            ["rtp_h264", "rtmp_h264"]
        );
        assert!(select(Some(&["nope".into()])).is_err());
        let b = parse_breaks(&["rtp_h264=wrong-pt".into()]).unwrap();
        assert_eq!(b["rtp_h264"], Sabotage::WrongPt);
        assert!(parse_breaks(&["rtp_h264=wrong-mode".into()]).is_err());
        assert!(parse_breaks(&["rtp_h264".into()]).is_err());
    }
}
