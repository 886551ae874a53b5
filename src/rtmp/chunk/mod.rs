//! The chunk stream (RTMP spec 1.0 §5.3): messages are split into chunks of
//! at most the sender's chunk size, each chunk prefixed by a basic header
//! (format + chunk stream id, §5.3.1.1), a message header of type 0-3
//! (§5.3.1.2) and, when the timestamp does not fit in 24 bits, an extended
//! timestamp (§5.3.1.3).
//!
//! [`ChunkWriter`] turns outgoing messages into chunks; [`ChunkReader`]
//! reassembles incoming chunks into messages. Both are pure.

mod reader;
mod writer;

pub use reader::{ChunkReader, ReaderLimits};
pub use writer::ChunkWriter;

use thiserror::Error;

use super::message::MessageError;

/// Chunk size before any Set Chunk Size (§5.4.1).
pub const DEFAULT_CHUNK_SIZE: u32 = 128;
/// Lowest chunk stream id usable by messages (0 and 1 select the 2- and
/// 3-byte basic header forms).
pub const MIN_CSID: u32 = 2;
/// Highest chunk stream id (3-byte form: 65535 + 64).
pub const MAX_CSID: u32 = 65599;
/// Timestamp field value announcing an extended timestamp (§5.3.1.3).
const EXTENDED_TIMESTAMP: u32 = 0xFF_FFFF;
/// Message length is a 24-bit field in type 0 and 1 headers.
pub const MAX_MESSAGE_LEN: usize = 0xFF_FFFF;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ChunkError {
    #[error("chunk stream id {0} out of range 2..=65599")]
    InvalidChunkStreamId(u32),
    #[error("message payload of {0} bytes does not fit the 24-bit length field")]
    PayloadTooLarge(usize),
    #[error("chunk size {0} out of range 1..=0x7FFFFFFF")]
    InvalidChunkSize(u32),
    #[error("chunk of format {fmt} on chunk stream {csid} without a previous header")]
    MissingPreviousHeader { csid: u32, fmt: u8 },
    #[error("chunk of format {fmt} on chunk stream {csid} interrupts an unfinished message")]
    HeaderInsideMessage { csid: u32, fmt: u8 },
    #[error("message of {len} bytes exceeds the limit of {max} (hostile peer?)")]
    MessageTooLarge { len: u32, max: u32 },
    #[error("more than {max} chunk streams in use (hostile peer?)")]
    TooManyChunkStreams { max: usize },
    #[error("invalid protocol control message: {0}")]
    Control(#[from] MessageError),
}

/// Appends a basic header (§5.3.1.1) in its shortest form.
fn put_basic_header(fmt: u8, csid: u32, out: &mut Vec<u8>) {
    debug_assert!((MIN_CSID..=MAX_CSID).contains(&csid));
    let f = fmt << 6;
    match csid {
        2..=63 => out.push(f | csid as u8),
        64..=319 => out.extend_from_slice(&[f, (csid - 64) as u8]),
        _ => {
            let v = csid - 64;
            out.extend_from_slice(&[f | 1, v as u8, (v >> 8) as u8]);
        }
    }
}

#[cfg(test)]
mod tests;
