//! Pure RTMP client protocol core for publishing (Adobe RTMP spec 1.0,
//! December 2012, section numbers cited throughout). No sockets, clocks or
//! async here: a driver owns the TCP connection, feeds received bytes in
//! and writes the bytes these types produce.
//!
//! Publish sequence, as FFmpeg and OBS do it against nginx-rtmp, SRS,
//! MediaMTX and the big ingest services:
//!
//! 1. [`handshake::ClientHandshake`]: C0+C1 out, S0+S1 in, C2 out, S2 in
//!    (§5.2). Leftover bytes after S2 go to the [`ChunkReader`].
//! 2. `SetChunkSize(4096)` on csid 2 ([`message::set_chunk_size`], §5.4.1),
//!    then [`ChunkWriter::set_chunk_size`]`(4096)`.
//! 3. [`command::connect`] (transaction 1, §7.2.1.1) with the `tcUrl` from
//!    [`RtmpUrl`]; the server answers WindowAckSize, SetPeerBandwidth,
//!    maybe SetChunkSize (applied by the reader) and `_result`
//!    (`NetConnection.Connect.Success`). Keep acknowledging with
//!    [`Acknowledger`] (§5.4.3) and answer PingRequest (§7.1.7).
//! 4. [`command::release_stream`], [`command::fc_publish`],
//!    [`command::create_stream`] (§7.2.1.3); the `_result` of
//!    `createStream` carries the message stream id
//!    ([`IncomingCommand::stream_id`]).
//! 5. [`command::publish`]`(stream name, "live")` on that stream (§7.2.2.6),
//!    then wait for `onStatus` `NetStream.Publish.Start` (or
//!    `NetStream.Publish.BadName` & co. as errors).
//! 6. [`command::set_data_frame`] (`@setDataFrame` `onMetaData`), then the
//!    video sequence header (AVC/HEVC decoder configuration record) and
//!    the coded frames as video messages (type 9, §7.1.5).
//!
//! All outgoing messages go through one [`ChunkWriter`], with the csids in
//! [`message::csid`]; all incoming bytes through one [`ChunkReader`].

pub mod amf0;
pub mod chunk;
pub mod command;
pub mod handshake;
pub mod message;
pub mod url;

#[cfg(test)]
mod tests;

pub use amf0::{Amf0Error, Value};
pub use chunk::{ChunkError, ChunkReader, ChunkWriter, ReaderLimits};
pub use command::{CommandError, ConnectParams, IncomingCommand, StatusInfo};
pub use handshake::{ClientHandshake, HandshakeError, HandshakeStep};
pub use message::{
    Acknowledger, ControlMessage, Message, MessageError, MessageHeader, MessageType,
    UserControlEvent,
};
pub use url::{RtmpUrl, UrlError};

use thiserror::Error;

/// Any error of the RTMP protocol core.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RtmpError {
    #[error(transparent)]
    Amf0(#[from] Amf0Error),
    #[error(transparent)]
    Handshake(#[from] HandshakeError),
    #[error(transparent)]
    Chunk(#[from] ChunkError),
    #[error(transparent)]
    Message(#[from] MessageError),
    #[error(transparent)]
    Command(#[from] CommandError),
    #[error(transparent)]
    Url(#[from] UrlError),
}

#[cfg(test)]
pub(crate) mod test_util {
    /// Hex dump for snapshots: 16 bytes a line, offset first.
    pub fn hex_dump(bytes: &[u8]) -> String {
        use std::fmt::Write;
        let mut s = format!("{} bytes\n", bytes.len());
        for (i, line) in bytes.chunks(16).enumerate() {
            let _ = write!(s, "{:04x}:", i * 16);
            for b in line {
                let _ = write!(s, " {b:02x}");
            }
            s.push('\n');
        }
        s
    }
}
