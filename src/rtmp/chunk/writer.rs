//! Outgoing chunk stream (RTMP spec 1.0 §5.3.1, §5.3.2).

use std::collections::HashMap;

use super::{
    ChunkError, DEFAULT_CHUNK_SIZE, EXTENDED_TIMESTAMP, MAX_CSID, MAX_MESSAGE_LEN, MIN_CSID,
    put_basic_header,
};
use crate::rtmp::message::{MAX_CHUNK_SIZE, Message, MessageHeader, MessageType};

/// What the last message header sent on a chunk stream established.
#[derive(Debug, Clone, Copy)]
struct Sent {
    timestamp: u32,
    /// Timestamp delta of the last type 1/2 header; `None` after a type 0
    /// header, whose timestamp field is absolute (so a type 3 header for a
    /// new message would be ambiguous between implementations; we send a
    /// type 2 header instead).
    delta: Option<u32>,
    length: u32,
    type_id: MessageType,
    stream_id: u32,
    /// Value carried as extended timestamp by the last type 0/1/2 header,
    /// repeated in every type 3 chunk that follows it (§5.3.1.3).
    extended: Option<u32>,
}

/// Splits messages into chunks, compressing headers per chunk stream:
/// type 0 for the first message on a chunk stream (or after a stream id
/// change or a timestamp going backwards), type 1 when length or type
/// changes, type 2 when only the delta changes, type 3 when nothing does
/// (§5.3.1.2, examples in §5.3.2.1).
#[derive(Debug, Clone)]
pub struct ChunkWriter {
    chunk_size: u32,
    streams: HashMap<u32, Sent>,
}

impl Default for ChunkWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl ChunkWriter {
    /// A writer with the default chunk size of 128 bytes.
    pub fn new() -> Self {
        Self {
            chunk_size: DEFAULT_CHUNK_SIZE,
            streams: HashMap::new(),
        }
    }

    pub fn chunk_size(&self) -> u32 {
        self.chunk_size
    }

    /// Uses `size` for the following messages; call it right after writing
    /// the Set Chunk Size message that announces it (§5.4.1).
    pub fn set_chunk_size(&mut self, size: u32) -> Result<(), ChunkError> {
        if !(1..=MAX_CHUNK_SIZE).contains(&size) {
            return Err(ChunkError::InvalidChunkSize(size));
        }
        self.chunk_size = size;
        Ok(())
    }

    /// Appends the chunks of `msg` on chunk stream `csid` to `out`.
    pub fn write_message(
        &mut self,
        csid: u32,
        msg: &Message,
        out: &mut Vec<u8>,
    ) -> Result<(), ChunkError> {
        self.write(csid, &msg.header, &msg.payload, out)
    }

    /// Appends the chunks of one message on chunk stream `csid` to `out`.
    /// `out` is grown once; nothing is allocated per chunk.
    pub fn write(
        &mut self,
        csid: u32,
        header: &MessageHeader,
        payload: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), ChunkError> {
        if !(MIN_CSID..=MAX_CSID).contains(&csid) {
            return Err(ChunkError::InvalidChunkStreamId(csid));
        }
        if payload.len() > MAX_MESSAGE_LEN {
            return Err(ChunkError::PayloadTooLarge(payload.len()));
        }
        let length = payload.len() as u32;
        let prev = self.streams.get(&csid).copied();

        // Choose the header type and the value of its timestamp field.
        let (fmt, delta, field) = match prev {
            Some(p) if p.stream_id == header.stream_id && header.timestamp >= p.timestamp => {
                let delta = header.timestamp - p.timestamp;
                if p.length != length || p.type_id != header.type_id {
                    (1, Some(delta), delta)
                } else if p.delta == Some(delta) {
                    (3, Some(delta), delta)
                } else {
                    (2, Some(delta), delta)
                }
            }
            _ => (0, None, header.timestamp),
        };
        let extended = match (fmt, prev) {
            (3, Some(p)) => p.extended,
            _ => (field >= EXTENDED_TIMESTAMP).then_some(field),
        };

        let chunk_size = self.chunk_size as usize;
        let chunks = payload.len().div_ceil(chunk_size).max(1);
        let ext_len = if extended.is_some() { 4 } else { 0 };
        out.reserve(3 + 11 + ext_len + (chunks - 1) * (3 + ext_len) + payload.len());

        put_basic_header(fmt, csid, out);
        let ts_field = field.min(EXTENDED_TIMESTAMP);
        if fmt <= 2 {
            out.extend_from_slice(&ts_field.to_be_bytes()[1..]);
        }
        if fmt <= 1 {
            out.extend_from_slice(&length.to_be_bytes()[1..]);
            out.push(header.type_id.0);
        }
        if fmt == 0 {
            // The message stream id is little-endian (§5.3.1.2.1).
            out.extend_from_slice(&header.stream_id.to_le_bytes());
        }
        if let Some(ext) = extended {
            out.extend_from_slice(&ext.to_be_bytes());
        }

        let mut pieces = payload.chunks(chunk_size);
        out.extend_from_slice(pieces.next().unwrap_or_default());
        for piece in pieces {
            put_basic_header(3, csid, out);
            if let Some(ext) = extended {
                out.extend_from_slice(&ext.to_be_bytes());
            }
            out.extend_from_slice(piece);
        }

        self.streams.insert(
            csid,
            Sent {
                timestamp: header.timestamp,
                delta,
                length,
                type_id: header.type_id,
                stream_id: header.stream_id,
                extended,
            },
        );
        Ok(())
    }
}
