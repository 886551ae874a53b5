//! One MCAP file being written (see the module doc of [`super`]).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use foxglove::Encode;
use foxglove::messages::{CompressedVideo, RawImage, Timestamp};
use mcap::records::MessageHeader;

use crate::encode::Codec;

/// A chunk is closed once its messages span this much log time.
pub const CHUNK_SPAN_NS: u64 = 250_000_000;
/// ... or hold this many uncompressed bytes (a 1080p keyframe is ~0.5 MB).
pub const CHUNK_BYTES: u64 = 4 << 20;
/// The MCAP header's `library` field.
const LIBRARY: &str = concat!("cvmmap-streamer ", env!("CARGO_PKG_VERSION"));

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("cannot create the recording {path}: {source}")]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write the recording {path}: {source}")]
    Write {
        path: PathBuf,
        source: mcap::McapError,
    },
    #[error("cannot encode a message on {topic} for {path}: {source}")]
    Encode {
        path: PathBuf,
        topic: String,
        source: prost::EncodeError,
    },
}

/// How chunks are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordOptions {
    /// zstd (the default) or none: video barely compresses, depth does.
    pub zstd: bool,
    /// zstd's worker threads; 0 compresses on the writing thread itself
    /// (the default: a recorder must not take the encoder's cores).
    pub compression_threads: u32,
}

impl Default for RecordOptions {
    fn default() -> Self {
        Self {
            zstd: true,
            compression_threads: 0,
        }
    }
}

/// A video channel of [`McapRecording`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VideoChannel(usize);

/// A raw image channel (depth, confidence) of [`McapRecording`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageChannel(usize);

/// A JSON channel (the `/bundle` manifest) of [`McapRecording`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonChannel(usize);

/// A channel of raw messages in a documented binary layout, no schema
/// (the body-tracking messages) of [`McapRecording`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawChannel(usize);

/// What one channel received.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ChannelStats {
    pub topic: String,
    pub messages: u64,
    /// Payload bytes (access units, image data, JSON), before the framing.
    pub payload_bytes: u64,
    /// Messages whose log time was moved past the previous one's.
    pub log_time_adjusted: u64,
}

/// The message each channel reuses (timestamp and data replaced for every
/// message): no allocation per message, and `data` is the caller's
/// buffer, shared, never copied before the chunk.
enum Template {
    Video(CompressedVideo),
    Image(RawImage),
    Json,
}

struct Channel {
    id: u16,
    sequence: u32,
    last_log_ns: Option<u64>,
    template: Template,
    stats: ChannelStats,
}

/// An MCAP file being written.
pub struct McapRecording {
    path: PathBuf,
    writer: mcap::Writer<BufWriter<File>>,
    channels: Vec<Channel>,
    /// The encoded message, reused.
    scratch: Vec<u8>,
    /// Log time of the first message in the open chunk.
    chunk_start_ns: Option<u64>,
    /// Uncompressed bytes in the open chunk.
    chunk_bytes: u64,
}

impl McapRecording {
    /// Creates (or truncates) `path`.
    pub fn create(path: &Path, opts: RecordOptions) -> Result<Self, RecordError> {
        let file = File::create(path).map_err(|source| RecordError::Create {
            path: path.to_owned(),
            source,
        })?;
        let writer = mcap::WriteOptions::new()
            .compression(opts.zstd.then_some(mcap::Compression::Zstd))
            .compression_threads(opts.compression_threads)
            // Closed by span or size here, never by the crate's own size rule.
            .chunk_size(None)
            .library(LIBRARY)
            .create(BufWriter::with_capacity(1 << 20, file))
            .map_err(|source| RecordError::Write {
                path: path.to_owned(),
                source,
            })?;
        Ok(Self {
            path: path.to_owned(),
            writer,
            channels: Vec::new(),
            scratch: Vec::with_capacity(1 << 16),
            chunk_start_ns: None,
            chunk_bytes: 0,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn write_err(&self, source: mcap::McapError) -> RecordError {
        RecordError::Write {
            path: self.path.clone(),
            source,
        }
    }

    fn add_channel(
        &mut self,
        schema: (&str, &str, &[u8]),
        topic: String,
        metadata: BTreeMap<String, String>,
        message_encoding: &str,
        template: Template,
    ) -> Result<usize, RecordError> {
        // Schema id 0: no schema (MCAP spec, Channel record).
        let schema_id = if schema.0.is_empty() {
            0
        } else {
            self.writer
                .add_schema(schema.0, schema.1, schema.2)
                .map_err(|e| self.write_err(e))?
        };
        let id = self
            .writer
            .add_channel(schema_id, &topic, message_encoding, &metadata)
            .map_err(|e| self.write_err(e))?;
        self.channels.push(Channel {
            id,
            sequence: 0,
            last_log_ns: None,
            template,
            stats: ChannelStats {
                topic,
                ..ChannelStats::default()
            },
        });
        Ok(self.channels.len() - 1)
    }

    /// Adds `/<label>/video`; the channel metadata names the source and the
    /// format.
    pub fn add_video(&mut self, label: &str, codec: Codec) -> Result<VideoChannel, RecordError> {
        let schema = CompressedVideo::get_schema().expect("foxglove messages have schemas");
        let format = match codec {
            Codec::H264 => "h264",
            Codec::H265 => "h265",
        };
        let metadata = BTreeMap::from([
            ("source".to_owned(), label.to_owned()),
            ("format".to_owned(), format.to_owned()),
        ]);
        let template = Template::Video(CompressedVideo {
            timestamp: None,
            frame_id: label.to_owned(),
            data: Bytes::new(),
            format: format.to_owned(),
        });
        self.add_channel(
            (&schema.name, &schema.encoding, &schema.data),
            format!("/{label}/video"),
            metadata,
            &CompressedVideo::get_message_encoding(),
            template,
        )
        .map(VideoChannel)
    }

    /// Adds `/<label>/<name>` (`depth`, `confidence`) of `foxglove.RawImage`
    /// in `encoding` (`16UC1`, `32FC1`); `metadata` adds to `source`.
    pub fn add_image(
        &mut self,
        label: &str,
        name: &str,
        encoding: &str,
        mut metadata: BTreeMap<String, String>,
    ) -> Result<ImageChannel, RecordError> {
        let schema = RawImage::get_schema().expect("foxglove messages have schemas");
        metadata.insert("source".to_owned(), label.to_owned());
        metadata.insert("encoding".to_owned(), encoding.to_owned());
        let template = Template::Image(RawImage {
            frame_id: label.to_owned(),
            encoding: encoding.to_owned(),
            ..RawImage::default()
        });
        self.add_channel(
            (&schema.name, &schema.encoding, &schema.data),
            format!("/{label}/{name}"),
            metadata,
            &RawImage::get_message_encoding(),
            template,
        )
        .map(ImageChannel)
    }

    /// Adds a JSON channel with its JSON Schema (`jsonschema` encoding).
    pub fn add_json(
        &mut self,
        topic: &str,
        schema_name: &str,
        json_schema: &str,
    ) -> Result<JsonChannel, RecordError> {
        self.add_channel(
            (schema_name, "jsonschema", json_schema.as_bytes()),
            topic.to_owned(),
            BTreeMap::new(),
            "json",
            Template::Json,
        )
        .map(JsonChannel)
    }

    /// Adds `topic` with no schema, its messages in `message_encoding` (a
    /// layout the metadata names).
    pub fn add_raw(
        &mut self,
        topic: &str,
        message_encoding: &str,
        metadata: BTreeMap<String, String>,
    ) -> Result<RawChannel, RecordError> {
        self.add_channel(
            ("", "", &[]),
            topic.to_owned(),
            metadata,
            message_encoding,
            Template::Json,
        )
        .map(RawChannel)
    }

    /// One raw message logged at `ts_ns`.
    pub fn write_raw(
        &mut self,
        channel: RawChannel,
        ts_ns: u64,
        data: &[u8],
    ) -> Result<u64, RecordError> {
        self.scratch.clear();
        self.scratch.extend_from_slice(data);
        self.finish_message(channel.0, ts_ns, Ok(()), data.len())
    }

    /// One access unit (Annex B, one picture) captured at `capture_ts_ns`.
    pub fn write_video(
        &mut self,
        channel: VideoChannel,
        capture_ts_ns: u64,
        unit: &Bytes,
    ) -> Result<u64, RecordError> {
        let Template::Video(m) = &mut self.channels[channel.0].template else {
            unreachable!("a VideoChannel indexes a video channel");
        };
        m.timestamp = Some(timestamp(capture_ts_ns));
        m.data = unit.clone();
        self.scratch.clear();
        let encoded = m.encode(&mut self.scratch);
        // The template must not keep the unit alive until the next one.
        m.data = Bytes::new();
        self.finish_message(channel.0, capture_ts_ns, encoded, unit.len())
    }

    /// One image (`step` bytes a row) captured at `capture_ts_ns`.
    pub fn write_image(
        &mut self,
        channel: ImageChannel,
        capture_ts_ns: u64,
        (width, height, step): (u32, u32, u32),
        data: &Bytes,
    ) -> Result<u64, RecordError> {
        let Template::Image(m) = &mut self.channels[channel.0].template else {
            unreachable!("an ImageChannel indexes an image channel");
        };
        m.timestamp = Some(timestamp(capture_ts_ns));
        (m.width, m.height, m.step) = (width, height, step);
        m.data = data.clone();
        self.scratch.clear();
        let encoded = m.encode(&mut self.scratch);
        m.data = Bytes::new();
        self.finish_message(channel.0, capture_ts_ns, encoded, data.len())
    }

    /// One JSON message (already serialised) logged at `ts_ns`.
    pub fn write_json(
        &mut self,
        channel: JsonChannel,
        ts_ns: u64,
        json: &[u8],
    ) -> Result<u64, RecordError> {
        self.scratch.clear();
        self.scratch.extend_from_slice(json);
        self.finish_message(channel.0, ts_ns, Ok(()), json.len())
    }

    /// A metadata record (e.g. the producer's `source.info`).
    pub fn write_metadata(
        &mut self,
        name: &str,
        values: BTreeMap<String, String>,
    ) -> Result<(), RecordError> {
        self.writer
            .write_metadata(&mcap::records::Metadata {
                name: name.to_owned(),
                metadata: values,
            })
            .map_err(|e| self.write_err(e))
    }

    /// Writes the message in `scratch` on channel `index`; returns its log
    /// time (what a `/bundle` names it by).
    fn finish_message(
        &mut self,
        index: usize,
        ts_ns: u64,
        encoded: Result<(), prost::EncodeError>,
        payload_len: usize,
    ) -> Result<u64, RecordError> {
        let ch = &mut self.channels[index];
        encoded.map_err(|source| RecordError::Encode {
            path: self.path.clone(),
            topic: ch.stats.topic.clone(),
            source,
        })?;
        let log_ns = strictly_after(ch.last_log_ns, ts_ns);
        if log_ns != ts_ns {
            ch.stats.log_time_adjusted += 1;
        }
        ch.last_log_ns = Some(log_ns);
        let header = MessageHeader {
            channel_id: ch.id,
            sequence: ch.sequence,
            log_time: log_ns,
            publish_time: ts_ns,
        };
        ch.sequence = ch.sequence.wrapping_add(1);
        ch.stats.messages += 1;
        ch.stats.payload_bytes += payload_len as u64;
        let len = self.scratch.len() as u64;
        self.writer
            .write_to_known_channel(&header, &self.scratch)
            .map_err(|e| RecordError::Write {
                path: self.path.clone(),
                source: e,
            })?;
        self.after_message(log_ns, len)?;
        Ok(log_ns)
    }

    /// The sequence the next message of a channel gets (a `/bundle` names
    /// its members by it).
    pub fn next_sequence(&self, channel: VideoChannel) -> u32 {
        self.channels[channel.0].sequence
    }

    /// Closes the chunk once it spans [`CHUNK_SPAN_NS`] or holds
    /// [`CHUNK_BYTES`] (module doc: what a kill can lose).
    fn after_message(&mut self, log_ns: u64, len: u64) -> Result<(), RecordError> {
        let start = *self.chunk_start_ns.get_or_insert(log_ns);
        self.chunk_bytes += len;
        if log_ns.saturating_sub(start) >= CHUNK_SPAN_NS || self.chunk_bytes >= CHUNK_BYTES {
            self.writer.flush().map_err(|e| self.write_err(e))?;
            self.chunk_start_ns = None;
            self.chunk_bytes = 0;
        }
        Ok(())
    }

    /// Writes the summary and the footer; the file is complete.
    pub fn finish(mut self) -> Result<Vec<ChannelStats>, RecordError> {
        self.writer.finish().map_err(|e| self.write_err(e))?;
        Ok(self.channels.into_iter().map(|c| c.stats).collect())
    }
}

/// `ts`, or one nanosecond after `last` when that is not earlier.
fn strictly_after(last: Option<u64>, ts: u64) -> u64 {
    match last {
        Some(l) if ts <= l => l.saturating_add(1),
        _ => ts,
    }
}

fn timestamp(ns: u64) -> Timestamp {
    // u32 seconds reach 2106; a later (or bogus) stamp saturates.
    let sec = u32::try_from(ns / 1_000_000_000).unwrap_or(u32::MAX);
    Timestamp::new(sec, (ns % 1_000_000_000) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_times_rise_strictly() {
        assert_eq!(strictly_after(None, 5), 5);
        assert_eq!(strictly_after(Some(5), 5), 6);
        assert_eq!(strictly_after(Some(9), 5), 10);
        assert_eq!(strictly_after(Some(5), 7), 7);
        assert_eq!(strictly_after(Some(u64::MAX), 7), u64::MAX);
    }

    fn scratch(tag: &str) -> PathBuf {
        std::env::temp_dir().join(format!("mcap_file_{tag}_{}.mcap", std::process::id()))
    }

    #[test]
    fn writes_video_image_and_json_channels_a_reader_reads_back() {
        let path = scratch("all");
        let mut rec = McapRecording::create(&path, RecordOptions::default()).unwrap();
        let video = rec.add_video("cam0", Codec::H265).unwrap();
        let depth = rec
            .add_image(
                "cam0",
                "depth",
                "16UC1",
                BTreeMap::from([("unit".into(), "millimetre".into())]),
            )
            .unwrap();
        let bundle = rec.add_json("/bundle", "cvmmap.Bundle", "{}").unwrap();
        let unit = Bytes::from_static(&[0, 0, 0, 1, 0x40, 1, 0xAA]);
        // Two units with the same capture time: the second logs 1 ns later.
        rec.write_video(video, 1_000, &unit).unwrap();
        rec.write_video(video, 1_000, &unit).unwrap();
        assert_eq!(rec.next_sequence(video), 2);
        rec.write_image(depth, 1_000, (2, 1, 4), &Bytes::from_static(&[1, 0, 2, 0]))
            .unwrap();
        rec.write_json(bundle, 1_000, br#"{"bundle_index":0}"#)
            .unwrap();
        rec.write_metadata(
            "source.info",
            BTreeMap::from([("label".into(), "cam0".into())]),
        )
        .unwrap();
        let stats = rec.finish().unwrap();
        assert_eq!(stats[0].messages, 2);
        assert_eq!(stats[0].log_time_adjusted, 1);

        let bytes = std::fs::read(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        let summary = mcap::Summary::read(&bytes).unwrap().unwrap();
        assert_eq!(summary.stats.as_ref().unwrap().message_count, 4);
        assert_eq!(summary.stats.as_ref().unwrap().metadata_count, 1);
        let msgs: Vec<_> = mcap::MessageStream::new(&bytes)
            .unwrap()
            .map(|m| m.unwrap())
            .collect();
        let topics: Vec<&str> = msgs.iter().map(|m| m.channel.topic.as_str()).collect();
        assert_eq!(
            topics,
            ["/cam0/video", "/cam0/video", "/cam0/depth", "/bundle"]
        );
        assert_eq!((msgs[0].log_time, msgs[1].log_time), (1_000, 1_001));
        assert_eq!(msgs[1].publish_time, 1_000);
        assert_eq!(msgs[1].sequence, 1);
        let schema = msgs[0].channel.schema.as_ref().unwrap();
        assert_eq!(schema.name, "foxglove.CompressedVideo");
        assert_eq!(msgs[0].channel.metadata["format"], "h265");
        use prost::Message;
        let v = CompressedVideo::decode(&msgs[0].data[..]).unwrap();
        assert_eq!((v.format.as_str(), v.frame_id.as_str()), ("h265", "cam0"));
        assert_eq!(v.data, unit);
        let d = RawImage::decode(&msgs[2].data[..]).unwrap();
        assert_eq!(
            (d.width, d.height, d.step, d.encoding.as_str()),
            (2, 1, 4, "16UC1")
        );
        assert_eq!(msgs[2].channel.metadata["unit"], "millimetre");
        assert_eq!(&msgs[3].data[..], br#"{"bundle_index":0}"#);
        assert_eq!(
            msgs[3].channel.schema.as_ref().unwrap().encoding,
            "jsonschema"
        );
    }

    #[test]
    fn chunks_close_every_span_so_a_kill_loses_little() {
        let path = scratch("span");
        let mut rec = McapRecording::create(
            &path,
            RecordOptions {
                zstd: false,
                compression_threads: 0,
            },
        )
        .unwrap();
        let video = rec.add_video("c", Codec::H264).unwrap();
        let unit = Bytes::from(vec![0u8; 1000]);
        // 2 s at 30 fps: about 8 chunks of 250 ms.
        for i in 0..60u64 {
            rec.write_video(video, i * 33_333_333, &unit).unwrap();
        }
        rec.finish().unwrap();
        let bytes = std::fs::read(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        let chunks = mcap::Summary::read(&bytes)
            .unwrap()
            .unwrap()
            .chunk_indexes
            .len();
        assert!((7..=9).contains(&chunks), "{chunks} chunks");
    }

    #[test]
    fn timestamps_split_seconds_and_nanoseconds() {
        let t = timestamp(1_733_000_000_123_456_789);
        assert_eq!((t.sec(), t.nsec()), (1_733_000_000, 123_456_789));
        assert_eq!(timestamp(u64::MAX).sec(), u32::MAX);
    }
}
