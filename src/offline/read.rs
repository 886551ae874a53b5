//! Our recordings read back: the channels of an MCAP file and its messages
//! in file order (the bounded record walker of [`crate::record::records`]:
//! plain reads, every length checked, chunk CRCs checked; a damaged file is
//! an error naming `recover`, never a fault).

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use foxglove::messages::{CompressedVideo, RawImage};
use mcap::records::Record;
use mcap::sans_io::linear_reader::LinearReaderOptions;
use prost::Message as _;

use super::OfflineError;
use crate::encode::Codec;
use crate::record::records::{Next, Stop, for_each_record};

/// One channel as its record declared it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channel {
    pub id: u16,
    pub topic: String,
    /// The schema's name (`foxglove.CompressedVideo`); empty for none.
    pub schema: String,
    pub message_encoding: String,
    pub metadata: BTreeMap<String, String>,
}

impl Channel {
    /// `/<label>/video` of `foxglove.CompressedVideo`: the label.
    pub fn video_label(&self) -> Option<&str> {
        let label = self.topic.strip_prefix('/')?.strip_suffix("/video")?;
        (self.schema == "foxglove.CompressedVideo" && !label.contains('/')).then_some(label)
    }

    /// The codec its metadata names (`format`).
    pub fn codec(&self) -> Option<Codec> {
        match self.metadata.get("format").map(String::as_str) {
            Some("h264") => Some(Codec::H264),
            Some("h265") => Some(Codec::H265),
            _ => None,
        }
    }
}

/// One record the walk hands out.
pub enum Item<'a> {
    Channel(&'a Channel),
    Message {
        channel: &'a Channel,
        log_time: u64,
        sequence: u32,
        data: &'a [u8],
    },
    Metadata {
        name: &'a str,
        fields: &'a BTreeMap<String, String>,
    },
}

/// What the visitor says after each item.
pub enum Flow {
    Continue,
    Stop,
}

/// Calls `visit` for every channel, message and metadata record of `path`
/// in file order. Messages of a channel never declared are skipped.
pub fn walk(
    path: &Path,
    mut visit: impl FnMut(Item<'_>) -> Result<Flow, OfflineError>,
) -> Result<(), OfflineError> {
    let file = File::open(path).map_err(|source| OfflineError::Open {
        path: path.to_owned(),
        source,
    })?;
    let mut schemas: BTreeMap<u16, String> = BTreeMap::new();
    let mut channels: BTreeMap<u16, Channel> = BTreeMap::new();
    let mut failed = None;
    let walked = for_each_record(file, LinearReaderOptions::default(), |record| {
        let item = match record {
            Record::Schema { header, .. } => {
                schemas.insert(header.id, header.name);
                return Ok(Next::Continue);
            }
            Record::Channel(c) => {
                let channel = Channel {
                    id: c.id,
                    topic: c.topic,
                    schema: schemas.get(&c.schema_id).cloned().unwrap_or_default(),
                    message_encoding: c.message_encoding,
                    metadata: c.metadata,
                };
                channels.insert(c.id, channel);
                Item::Channel(&channels[&c.id])
            }
            Record::Message { header, data } => match channels.get(&header.channel_id) {
                Some(channel) => {
                    return match visit(Item::Message {
                        channel,
                        log_time: header.log_time,
                        sequence: header.sequence,
                        data: &data,
                    }) {
                        Ok(Flow::Continue) => Ok(Next::Continue),
                        Ok(Flow::Stop) => Ok(Next::Done),
                        Err(e) => {
                            failed = Some(e);
                            Ok(Next::Done)
                        }
                    };
                }
                None => return Ok(Next::Continue),
            },
            Record::Metadata(m) => {
                return match visit(Item::Metadata {
                    name: &m.name,
                    fields: &m.metadata,
                }) {
                    Ok(Flow::Continue) => Ok(Next::Continue),
                    Ok(Flow::Stop) => Ok(Next::Done),
                    Err(e) => {
                        failed = Some(e);
                        Ok(Next::Done)
                    }
                };
            }
            // The summary repeats what the data section declared.
            Record::DataEnd(_) => return Ok(Next::Done),
            _ => return Ok(Next::Continue),
        };
        match visit(item) {
            Ok(Flow::Continue) => Ok(Next::Continue),
            Ok(Flow::Stop) => Ok(Next::Done),
            Err(e) => {
                failed = Some(e);
                Ok(Next::Done)
            }
        }
    });
    if let Some(e) = failed {
        return Err(e);
    }
    walked.map(|_| ()).map_err(|stop| OfflineError::Damaged {
        path: path.to_owned(),
        reason: match stop {
            Stop::Io(e) => format!("read error: {e}"),
            Stop::Invalid { reason, .. } => reason,
        },
    })
}

/// The video channels (label, codec) of `path`, in channel-id order: from
/// the summary when the file has one (no data read), else from a walk.
pub fn video_channels(path: &Path) -> Result<Vec<(String, Codec)>, OfflineError> {
    let from_summary = File::open(path)
        .ok()
        .and_then(|mut f| crate::record::probe::read_summary(&mut f).ok());
    let mut found: Vec<Channel> = Vec::new();
    match from_summary {
        Some(summary) => {
            for c in summary.channels.values() {
                found.push(Channel {
                    id: c.id,
                    topic: c.topic.clone(),
                    schema: c
                        .schema
                        .as_ref()
                        .map(|s| s.name.clone())
                        .unwrap_or_default(),
                    message_encoding: c.message_encoding.clone(),
                    metadata: c.metadata.clone(),
                });
            }
        }
        None => walk(path, |item| {
            if let Item::Channel(c) = item {
                found.push(c.clone());
            }
            Ok(Flow::Continue)
        })?,
    }
    found.sort_by_key(|c| c.id);
    Ok(found
        .iter()
        .filter_map(|c| Some((c.video_label()?.to_owned(), c.codec()?)))
        .collect())
}

/// The video channel of `label`, or an error listing the labels there are.
pub fn camera(path: &Path, label: &str) -> Result<Codec, OfflineError> {
    let cams = video_channels(path)?;
    cams.iter()
        .find(|(l, _)| l == label)
        .map(|(_, c)| *c)
        .ok_or_else(|| OfflineError::NoCamera {
            path: path.to_owned(),
            label: label.to_owned(),
            have: cams
                .iter()
                .map(|(l, _)| l.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// One access unit of a video channel.
#[derive(Debug, Clone)]
pub struct VideoUnit {
    /// The message's sequence (the frame index of the channel).
    pub sequence: u32,
    pub log_time: u64,
    /// The capture time (`timestamp`), Unix ns.
    pub capture_ns: u64,
    pub data: bytes::Bytes,
}

/// Decodes a `foxglove.CompressedVideo` message.
pub fn video_unit(
    path: &Path,
    topic: &str,
    sequence: u32,
    log_time: u64,
    data: &[u8],
) -> Result<VideoUnit, OfflineError> {
    let m = CompressedVideo::decode(data).map_err(|e| bad(path, topic, e.to_string()))?;
    let capture_ns = m.timestamp.map(|t| t.total_nanos()).unwrap_or(log_time);
    Ok(VideoUnit {
        sequence,
        log_time,
        capture_ns,
        data: m.data,
    })
}

/// Decodes a `foxglove.RawImage` message (depth, confidence).
pub fn raw_image(path: &Path, topic: &str, data: &[u8]) -> Result<RawImage, OfflineError> {
    let m = RawImage::decode(data).map_err(|e| bad(path, topic, e.to_string()))?;
    let need = u64::from(m.step) * u64::from(m.height);
    if (m.data.len() as u64) < need {
        return Err(bad(
            path,
            topic,
            format!("{} bytes for {} rows of {}", m.data.len(), m.height, m.step),
        ));
    }
    Ok(m)
}

fn bad(path: &Path, topic: &str, reason: String) -> OfflineError {
    OfflineError::BadMessage {
        path: PathBuf::from(path),
        topic: topic.to_owned(),
        reason,
    }
}
