//! Incoming chunk stream (RTMP spec 1.0 §5.3.1, §5.3.2, §5.4.1, §5.4.2).

use std::collections::HashMap;

use super::{ChunkError, DEFAULT_CHUNK_SIZE, EXTENDED_TIMESTAMP};
use crate::rtmp::message::{Message, MessageHeader, MessageType, parse_chunk_size};

/// Bounds on what a peer can make the reader hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReaderLimits {
    /// Largest message length accepted from a type 0/1 header.
    pub max_message_len: u32,
    /// Most chunk streams tracked at once.
    pub max_chunk_streams: usize,
}

impl Default for ReaderLimits {
    fn default() -> Self {
        Self {
            max_message_len: 16 * 1024 * 1024,
            max_chunk_streams: 64,
        }
    }
}

/// The header a chunk stream's later chunks inherit from (§5.3.1.2).
#[derive(Debug, Clone, Copy)]
struct Header {
    timestamp: u32,
    /// Delta of the last type 1/2 header; 0 after a type 0 header (as
    /// nginx-rtmp and SRS do).
    delta: u32,
    length: u32,
    type_id: MessageType,
    stream_id: u32,
    /// The last type 0/1/2 header carried an extended timestamp, so type 3
    /// chunks repeat it (§5.3.1.3).
    extended: bool,
}

#[derive(Debug)]
struct Stream {
    header: Header,
    /// Payload assembled so far for the message in progress.
    payload: Vec<u8>,
    in_progress: bool,
}

/// Reassembles messages from received bytes: [`push`](Self::push) what the
/// socket gave, then call [`next_message`](Self::next_message) until it
/// answers `Ok(None)` (more bytes needed).
///
/// Set Chunk Size (type 1) and Abort (type 2) messages from the peer are
/// applied by the reader itself, and still returned to the caller.
/// After an error the stream is out of sync: drop the connection.
#[derive(Debug)]
pub struct ChunkReader {
    buf: Vec<u8>,
    pos: usize,
    chunk_size: u32,
    limits: ReaderLimits,
    streams: HashMap<u32, Stream>,
}

impl Default for ChunkReader {
    fn default() -> Self {
        Self::new()
    }
}

/// Big-endian field reader over the unconsumed bytes; `None` = too short.
struct Cursor<'a> {
    data: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn bytes<const N: usize>(&mut self) -> Option<[u8; N]> {
        let b = self.data.get(self.at..self.at + N)?;
        self.at += N;
        b.try_into().ok()
    }
    fn u8(&mut self) -> Option<u8> {
        self.bytes::<1>().map(|[b]| b)
    }
    fn u24(&mut self) -> Option<u32> {
        self.bytes::<3>()
            .map(|[a, b, c]| u32::from_be_bytes([0, a, b, c]))
    }
    fn u32(&mut self) -> Option<u32> {
        self.bytes::<4>().map(u32::from_be_bytes)
    }
}

/// A fully available chunk, parsed but not yet applied.
struct Chunk {
    csid: u32,
    header: Header,
    new_message: bool,
    /// Offset of the chunk payload in the unconsumed bytes, and its length.
    data_at: usize,
    data_len: usize,
}

impl ChunkReader {
    pub fn new() -> Self {
        Self::with_limits(ReaderLimits::default())
    }

    pub fn with_limits(limits: ReaderLimits) -> Self {
        Self {
            buf: Vec::new(),
            pos: 0,
            chunk_size: DEFAULT_CHUNK_SIZE,
            limits,
            streams: HashMap::new(),
        }
    }

    /// The peer's current chunk size.
    pub fn chunk_size(&self) -> u32 {
        self.chunk_size
    }

    /// Bytes pushed but not yet consumed as chunks.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Appends received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        } else if self.pos > 4096 && self.pos * 2 > self.buf.len() {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete message, `Ok(None)` when more bytes are needed.
    pub fn next_message(&mut self) -> Result<Option<Message>, ChunkError> {
        loop {
            let Some(chunk) = self.parse_chunk()? else {
                return Ok(None);
            };
            if let Some(msg) = self.apply(chunk) {
                self.on_control(&msg)?;
                return Ok(Some(msg));
            }
        }
    }

    /// Parses the chunk at the front of the buffer without consuming it.
    fn parse_chunk(&self) -> Result<Option<Chunk>, ChunkError> {
        let mut c = Cursor {
            data: &self.buf[self.pos..],
            at: 0,
        };
        let parsed = (|| -> Option<Result<Chunk, ChunkError>> {
            // Basic header (§5.3.1.1).
            let b0 = c.u8()?;
            let fmt = b0 >> 6;
            let csid = match u32::from(b0 & 0x3F) {
                0 => 64 + u32::from(c.u8()?),
                1 => {
                    let [lo, hi] = c.bytes::<2>()?;
                    64 + u32::from(lo) + 256 * u32::from(hi)
                }
                id => id,
            };
            let stream = self.streams.get(&csid);
            match stream {
                None if fmt != 0 => {
                    return Some(Err(ChunkError::MissingPreviousHeader { csid, fmt }));
                }
                None if self.streams.len() >= self.limits.max_chunk_streams => {
                    return Some(Err(ChunkError::TooManyChunkStreams {
                        max: self.limits.max_chunk_streams,
                    }));
                }
                Some(s) if s.in_progress && fmt != 3 => {
                    return Some(Err(ChunkError::HeaderInsideMessage { csid, fmt }));
                }
                _ => {}
            }

            // Message header (§5.3.1.2) and extended timestamp (§5.3.1.3).
            let prev = stream.map(|s| s.header);
            let in_progress = stream.is_some_and(|s| s.in_progress);
            let mut h = match prev {
                Some(p) => p,
                None => Header {
                    timestamp: 0,
                    delta: 0,
                    length: 0,
                    type_id: MessageType(0),
                    stream_id: 0,
                    extended: false,
                },
            };
            let field = if fmt <= 2 { c.u24()? } else { 0 };
            if fmt <= 1 {
                h.length = c.u24()?;
                h.type_id = MessageType(c.u8()?);
            }
            if fmt == 0 {
                h.stream_id = u32::from_le_bytes(c.bytes::<4>()?);
            }
            if fmt <= 2 {
                h.extended = field == EXTENDED_TIMESTAMP;
            }
            let value = if h.extended { c.u32()? } else { field };
            match fmt {
                0 => {
                    h.timestamp = value;
                    h.delta = 0;
                }
                1 | 2 => {
                    h.delta = value;
                    h.timestamp = h.timestamp.wrapping_add(value);
                }
                // Type 3 starting a new message: same delta again. The
                // repeated extended timestamp (if any) is only consumed.
                _ if !in_progress => h.timestamp = h.timestamp.wrapping_add(h.delta),
                _ => {}
            }
            if h.length > self.limits.max_message_len {
                return Some(Err(ChunkError::MessageTooLarge {
                    len: h.length,
                    max: self.limits.max_message_len,
                }));
            }

            let have = if in_progress {
                stream.map_or(0, |s| s.payload.len())
            } else {
                0
            };
            let data_len = (h.length as usize - have).min(self.chunk_size as usize);
            if c.data.len() - c.at < data_len {
                return None;
            }
            Some(Ok(Chunk {
                csid,
                header: h,
                new_message: !in_progress,
                data_at: c.at,
                data_len,
            }))
        })();
        parsed.transpose()
    }

    /// Consumes a parsed chunk; returns the message it completes.
    fn apply(&mut self, chunk: Chunk) -> Option<Message> {
        let start = self.pos + chunk.data_at;
        let data = &self.buf[start..start + chunk.data_len];
        self.pos = start + chunk.data_len;
        let stream = self.streams.entry(chunk.csid).or_insert_with(|| Stream {
            header: chunk.header,
            payload: Vec::new(),
            in_progress: false,
        });
        stream.header = chunk.header;
        if chunk.new_message {
            stream.payload.clear();
        }
        stream.payload.extend_from_slice(data);
        if stream.payload.len() < chunk.header.length as usize {
            stream.in_progress = true;
            return None;
        }
        stream.in_progress = false;
        let h = chunk.header;
        Some(Message {
            header: MessageHeader {
                timestamp: h.timestamp,
                type_id: h.type_id,
                stream_id: h.stream_id,
            },
            payload: std::mem::take(&mut stream.payload),
        })
    }

    /// Applies Set Chunk Size (§5.4.1) and Abort (§5.4.2).
    fn on_control(&mut self, msg: &Message) -> Result<(), ChunkError> {
        match msg.header.type_id {
            MessageType::SET_CHUNK_SIZE => self.chunk_size = parse_chunk_size(&msg.payload)?,
            MessageType::ABORT => {
                if let Some(b) = msg.payload.get(..4) {
                    let csid = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
                    if let Some(s) = self.streams.get_mut(&csid) {
                        s.payload.clear();
                        s.in_progress = false;
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }
}
