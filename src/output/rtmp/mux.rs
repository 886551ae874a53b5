//! Access units to FLV video tag bodies and RTMP timestamps, for one
//! publisher across its sessions (reconnects keep the timeline).

use crate::codec::{h264, h265};
use crate::encode::AccessUnit;
use crate::flv::{self, FlvError, VideoTagForm};
use crate::rtmp::Value;

/// Added to every DTS so that B-frame streams, whose first DTS are negative,
/// start at a positive RTMP timestamp.
const TIMESTAMP_OFFSET_NS: i64 = 1_000_000_000;

pub struct Muxer {
    form: VideoTagForm,
    /// Parameter sets (Annex-B framed) of the last sequence header sent in
    /// the current session; `None` until one was sent.
    sent_parameter_sets: Option<Vec<u8>>,
    last_dts_ms: Option<u32>,
    last_pts_ns: Option<u64>,
    frame_interval_ns: u64,
}

/// The tags to send for one access unit, in order.
#[derive(Debug, Default)]
pub struct Tags {
    /// `@setDataFrame onMetaData` properties, when (re)sent before this unit.
    pub metadata: Option<Vec<(&'static str, Value)>>,
    pub sequence_header: Option<Vec<u8>>,
    pub frame: Vec<u8>,
    pub dts_ms: u32,
}

impl Muxer {
    pub fn new(form: VideoTagForm) -> Self {
        Self {
            form,
            sent_parameter_sets: None,
            last_dts_ms: None,
            last_pts_ns: None,
            frame_interval_ns: 33_333_333,
        }
    }

    /// A new session must start with metadata, a sequence header and a keyframe.
    pub fn new_session(&mut self) {
        self.sent_parameter_sets = None;
    }

    /// Whether `au` can be sent now: a session starts at a keyframe.
    pub fn accepts(&self, au: &AccessUnit) -> bool {
        self.sent_parameter_sets.is_some() || au.keyframe
    }

    fn sequence_header(&self, au: &AccessUnit) -> Result<Vec<u8>, FlvError> {
        let missing = |which| FlvError::MissingParameterSet { which };
        match self.form {
            VideoTagForm::Avc => {
                let p = h264::find_parameter_sets(&au.data);
                flv::avc::sequence_header(
                    p.sps.ok_or(missing(flv::ParameterSet::Sps))?,
                    p.pps.ok_or(missing(flv::ParameterSet::Pps))?,
                )
            }
            form => {
                let p = h265::find_parameter_sets(&au.data);
                let (vps, sps, pps) = (
                    p.vps.ok_or(missing(flv::ParameterSet::Vps))?,
                    p.sps.ok_or(missing(flv::ParameterSet::Sps))?,
                    p.pps.ok_or(missing(flv::ParameterSet::Pps))?,
                );
                if form == VideoTagForm::EnhancedHvc1 {
                    flv::enhanced::sequence_start(vps, sps, pps)
                } else {
                    flv::domestic::sequence_header(vps, sps, pps)
                }
            }
        }
    }

    fn metadata(&self, au: &AccessUnit) -> Vec<(&'static str, Value)> {
        vec![
            ("width", Value::Number(f64::from(au.width))),
            ("height", Value::Number(f64::from(au.height))),
            (
                "framerate",
                Value::Number((1e9 / self.frame_interval_ns as f64 * 100.0).round() / 100.0),
            ),
            (
                "videocodecid",
                Value::Number(self.form.videocodecid_for_metadata()),
            ),
            ("encoder", Value::string("cvmmap-streamer")),
        ]
    }

    /// Builds the tags for `au` (which [`accepts`](Self::accepts) allowed).
    /// Timestamps: DTS in ms from the output timeline, never going back.
    pub fn mux(&mut self, au: &AccessUnit) -> Result<Tags, FlvError> {
        if let Some(last) = self.last_pts_ns {
            let step = au.pts_ns.saturating_sub(last);
            if (1_000_000..=1_000_000_000).contains(&step) {
                self.frame_interval_ns = step;
            }
        }
        self.last_pts_ns = Some(au.pts_ns);
        let mut tags = Tags::default();
        if au.keyframe {
            let sets =
                crate::codec::parameter_sets_annexb(&au.data, self.form != VideoTagForm::Avc);
            if !sets.is_empty() && self.sent_parameter_sets.as_ref() != Some(&sets) {
                tags.metadata = Some(self.metadata(au));
                tags.sequence_header = Some(self.sequence_header(au)?);
                self.sent_parameter_sets = Some(sets);
            }
        }
        let to_ms = |ns: i64| ((ns + TIMESTAMP_OFFSET_NS).max(0) / 1_000_000) as u32;
        let dts = to_ms(au.dts_ns).max(self.last_dts_ms.unwrap_or(0));
        self.last_dts_ms = Some(dts);
        let cts = i64::from(to_ms(au.pts_ns as i64)) - i64::from(dts);
        let cts = cts.clamp(-(1 << 23) + 1, (1 << 23) - 1) as i32;
        match self.form {
            VideoTagForm::Avc => flv::avc::coded_frame(&au.data, au.keyframe, cts, &mut tags.frame),
            VideoTagForm::EnhancedHvc1 => {
                flv::enhanced::coded_frame_auto(&au.data, au.keyframe, cts, &mut tags.frame);
            }
            VideoTagForm::DomesticHevc12 => {
                flv::domestic::coded_frame(&au.data, au.keyframe, cts, &mut tags.frame)
            }
        }
        tags.dts_ms = dts;
        Ok(tags)
    }
}
