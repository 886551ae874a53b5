//! RTMP messages (RTMP spec 1.0 §6 message format, §5.4 protocol control
//! messages, §6.2 user control messages, §7.1 message types) and the
//! [`Acknowledger`] that decides when to acknowledge received bytes
//! (§5.4.3, §5.4.4).

use std::fmt;

use thiserror::Error;

/// Recommended chunk stream ids. Protocol control messages MUST use csid 2
/// (spec §5.4); the rest follow FFmpeg's choice and are free otherwise.
pub mod csid {
    pub const PROTOCOL_CONTROL: u32 = 2;
    pub const COMMAND: u32 = 3;
    pub const AUDIO: u32 = 4;
    pub const DATA: u32 = 5;
    pub const VIDEO: u32 = 6;
}

/// The message type id (spec §6.1.1, §7.1).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct MessageType(pub u8);

impl MessageType {
    pub const SET_CHUNK_SIZE: Self = Self(1);
    pub const ABORT: Self = Self(2);
    pub const ACKNOWLEDGEMENT: Self = Self(3);
    pub const USER_CONTROL: Self = Self(4);
    pub const WINDOW_ACK_SIZE: Self = Self(5);
    pub const SET_PEER_BANDWIDTH: Self = Self(6);
    pub const AUDIO: Self = Self(8);
    pub const VIDEO: Self = Self(9);
    pub const DATA_AMF3: Self = Self(15);
    pub const SHARED_OBJECT_AMF3: Self = Self(16);
    pub const COMMAND_AMF3: Self = Self(17);
    pub const DATA_AMF0: Self = Self(18);
    pub const SHARED_OBJECT_AMF0: Self = Self(19);
    pub const COMMAND_AMF0: Self = Self(20);
    pub const AGGREGATE: Self = Self(22);

    fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            1 => "SetChunkSize",
            2 => "Abort",
            3 => "Acknowledgement",
            4 => "UserControl",
            5 => "WindowAckSize",
            6 => "SetPeerBandwidth",
            8 => "Audio",
            9 => "Video",
            15 => "DataAmf3",
            16 => "SharedObjectAmf3",
            17 => "CommandAmf3",
            18 => "DataAmf0",
            19 => "SharedObjectAmf0",
            20 => "CommandAmf0",
            22 => "Aggregate",
            _ => return None,
        })
    }

    /// Protocol control messages (§5.4: types 1, 2, 3, 5, 6) plus user
    /// control (4); all travel on message stream 0 and csid 2.
    pub fn is_control(self) -> bool {
        matches!(self.0, 1..=6)
    }
}

impl fmt::Debug for MessageType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => write!(f, "{n}({})", self.0),
            None => write!(f, "MessageType({})", self.0),
        }
    }
}

/// The message header fields the chunk layer carries (§6.1.1), without
/// the length (implied by the payload).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageHeader {
    /// Milliseconds, 32 bits, wrapping.
    pub timestamp: u32,
    pub type_id: MessageType,
    /// Message stream id (0 for protocol control and NetConnection commands).
    pub stream_id: u32,
}

/// One complete RTMP message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub header: MessageHeader,
    pub payload: Vec<u8>,
}

impl Message {
    pub fn new(type_id: MessageType, stream_id: u32, timestamp: u32, payload: Vec<u8>) -> Self {
        Self {
            header: MessageHeader {
                timestamp,
                type_id,
                stream_id,
            },
            payload,
        }
    }

    fn control(type_id: MessageType, payload: Vec<u8>) -> Self {
        Self::new(type_id, 0, 0, payload)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MessageError {
    #[error("{type_id:?} message payload is {len} bytes, expected at least {expected}")]
    ShortPayload {
        type_id: MessageType,
        len: usize,
        expected: usize,
    },
    #[error("invalid chunk size {0} (must be 1..=0x7FFFFFFF)")]
    InvalidChunkSize(u32),
}

/// Largest chunk size (§5.4.1: 31 bits).
pub const MAX_CHUNK_SIZE: u32 = 0x7FFF_FFFF;

/// Set Chunk Size (§5.4.1). `size` is clamped to 1..=[`MAX_CHUNK_SIZE`].
pub fn set_chunk_size(size: u32) -> Message {
    let size = size.clamp(1, MAX_CHUNK_SIZE);
    Message::control(MessageType::SET_CHUNK_SIZE, size.to_be_bytes().to_vec())
}

/// Abort Message (§5.4.2) for a chunk stream id.
pub fn abort(csid: u32) -> Message {
    Message::control(MessageType::ABORT, csid.to_be_bytes().to_vec())
}

/// Acknowledgement (§5.4.3) with the number of bytes received so far.
pub fn acknowledgement(sequence_number: u32) -> Message {
    Message::control(
        MessageType::ACKNOWLEDGEMENT,
        sequence_number.to_be_bytes().to_vec(),
    )
}

/// Window Acknowledgement Size (§5.4.4).
pub fn window_ack_size(size: u32) -> Message {
    Message::control(MessageType::WINDOW_ACK_SIZE, size.to_be_bytes().to_vec())
}

/// Set Peer Bandwidth limit type (§5.4.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitType {
    Hard,
    Soft,
    Dynamic,
    Other(u8),
}

impl From<u8> for LimitType {
    fn from(v: u8) -> Self {
        match v {
            0 => Self::Hard,
            1 => Self::Soft,
            2 => Self::Dynamic,
            o => Self::Other(o),
        }
    }
}

/// User control event (§6.2 / §7.1.7). Event data is big-endian.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserControlEvent {
    StreamBegin(u32),
    StreamEof(u32),
    StreamDry(u32),
    SetBufferLength { stream_id: u32, millis: u32 },
    StreamIsRecorded(u32),
    PingRequest(u32),
    PingResponse(u32),
    Other { event_type: u16, data: Vec<u8> },
}

impl UserControlEvent {
    /// Parses a User Control Message payload (type 4).
    pub fn parse(payload: &[u8]) -> Result<Self, MessageError> {
        let short = |expected| MessageError::ShortPayload {
            type_id: MessageType::USER_CONTROL,
            len: payload.len(),
            expected,
        };
        let [h, l, data @ ..] = payload else {
            return Err(short(2));
        };
        let event_type = u16::from_be_bytes([*h, *l]);
        let u32_at = |i: usize| -> Result<u32, MessageError> {
            data.get(i..i + 4)
                .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
                .ok_or(short(2 + i + 4))
        };
        Ok(match event_type {
            0 => Self::StreamBegin(u32_at(0)?),
            1 => Self::StreamEof(u32_at(0)?),
            2 => Self::StreamDry(u32_at(0)?),
            3 => Self::SetBufferLength {
                stream_id: u32_at(0)?,
                millis: u32_at(4)?,
            },
            4 => Self::StreamIsRecorded(u32_at(0)?),
            6 => Self::PingRequest(u32_at(0)?),
            7 => Self::PingResponse(u32_at(0)?),
            event_type => Self::Other {
                event_type,
                data: data.to_vec(),
            },
        })
    }

    /// The User Control Message (type 4, stream 0) carrying this event.
    pub fn to_message(&self) -> Message {
        let mut p = Vec::with_capacity(10);
        let (event_type, a, b): (u16, u32, Option<u32>) = match self {
            Self::StreamBegin(s) => (0, *s, None),
            Self::StreamEof(s) => (1, *s, None),
            Self::StreamDry(s) => (2, *s, None),
            Self::SetBufferLength { stream_id, millis } => (3, *stream_id, Some(*millis)),
            Self::StreamIsRecorded(s) => (4, *s, None),
            Self::PingRequest(t) => (6, *t, None),
            Self::PingResponse(t) => (7, *t, None),
            Self::Other { event_type, data } => {
                p.extend_from_slice(&event_type.to_be_bytes());
                p.extend_from_slice(data);
                return Message::control(MessageType::USER_CONTROL, p);
            }
        };
        p.extend_from_slice(&event_type.to_be_bytes());
        p.extend_from_slice(&a.to_be_bytes());
        if let Some(b) = b {
            p.extend_from_slice(&b.to_be_bytes());
        }
        Message::control(MessageType::USER_CONTROL, p)
    }

    /// The PingResponse to send back for a PingRequest (same timestamp).
    pub fn ping_response(&self) -> Option<Message> {
        match self {
            Self::PingRequest(t) => Some(Self::PingResponse(*t).to_message()),
            _ => None,
        }
    }
}

/// A decoded protocol control or user control message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ControlMessage {
    SetChunkSize(u32),
    Abort { csid: u32 },
    Acknowledgement { sequence_number: u32 },
    WindowAckSize(u32),
    SetPeerBandwidth { size: u32, limit: LimitType },
    UserControl(UserControlEvent),
}

impl ControlMessage {
    /// Decodes `msg` if it is a control message (types 1..=6), `Ok(None)`
    /// for any other type.
    pub fn parse(msg: &Message) -> Result<Option<Self>, MessageError> {
        let t = msg.header.type_id;
        let p = &msg.payload;
        let u32_at = |i: usize| {
            p.get(i..i + 4)
                .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
                .ok_or(MessageError::ShortPayload {
                    type_id: t,
                    len: p.len(),
                    expected: i + 4,
                })
        };
        Ok(Some(match t {
            MessageType::SET_CHUNK_SIZE => Self::SetChunkSize(parse_chunk_size(p)?),
            MessageType::ABORT => Self::Abort { csid: u32_at(0)? },
            MessageType::ACKNOWLEDGEMENT => Self::Acknowledgement {
                sequence_number: u32_at(0)?,
            },
            MessageType::USER_CONTROL => Self::UserControl(UserControlEvent::parse(p)?),
            MessageType::WINDOW_ACK_SIZE => Self::WindowAckSize(u32_at(0)?),
            MessageType::SET_PEER_BANDWIDTH => {
                let size = u32_at(0)?;
                let limit = *p.get(4).ok_or(MessageError::ShortPayload {
                    type_id: t,
                    len: p.len(),
                    expected: 5,
                })?;
                Self::SetPeerBandwidth {
                    size,
                    limit: limit.into(),
                }
            }
            _ => return Ok(None),
        }))
    }
}

/// Parses a Set Chunk Size payload (§5.4.1): 31 bits (the top bit MUST be
/// zero and is ignored), and 0 is rejected.
pub fn parse_chunk_size(payload: &[u8]) -> Result<u32, MessageError> {
    let b: [u8; 4] =
        payload
            .get(..4)
            .and_then(|b| b.try_into().ok())
            .ok_or(MessageError::ShortPayload {
                type_id: MessageType::SET_CHUNK_SIZE,
                len: payload.len(),
                expected: 4,
            })?;
    let size = u32::from_be_bytes(b) & MAX_CHUNK_SIZE;
    if size == 0 {
        return Err(MessageError::InvalidChunkSize(0));
    }
    Ok(size)
}

/// Decides when to send Acknowledgements (§5.4.3): after receiving a
/// window's worth of bytes since the last one. Pure: feed it byte counts,
/// it answers with the sequence number to acknowledge.
///
/// The sequence number is the total number of bytes received so far,
/// modulo 2^32. Until the peer sends Window Acknowledgement Size
/// (§5.4.4) no acknowledgement is due.
#[derive(Debug, Clone, Default)]
pub struct Acknowledger {
    window: u32,
    received: u64,
    last_acked: u64,
}

impl Acknowledger {
    pub fn new() -> Self {
        Self::default()
    }

    /// The peer's Window Acknowledgement Size; 0 disables acknowledgements.
    pub fn set_window(&mut self, window: u32) {
        self.window = window;
    }

    pub fn window(&self) -> u32 {
        self.window
    }

    /// Total bytes counted so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Counts `n` more received bytes; `Some(sequence_number)` when an
    /// Acknowledgement must be sent now (build it with [`acknowledgement`]).
    pub fn on_received(&mut self, n: usize) -> Option<u32> {
        self.received = self.received.saturating_add(n as u64);
        if self.window == 0 || self.received - self.last_acked < u64::from(self.window) {
            return None;
        }
        self.last_acked = self.received;
        Some(self.received as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_builders() {
        let m = set_chunk_size(4096);
        assert_eq!(m.header.type_id, MessageType::SET_CHUNK_SIZE);
        assert_eq!(m.header.stream_id, 0);
        assert_eq!(m.payload, [0, 0, 0x10, 0]);
        assert_eq!(acknowledgement(0x0102_0304).payload, [1, 2, 3, 4]);
        assert_eq!(window_ack_size(2_500_000).header.type_id.0, 5);
        assert_eq!(set_chunk_size(0).payload, [0, 0, 0, 1]);
        assert_eq!(set_chunk_size(u32::MAX).payload, [0x7F, 0xFF, 0xFF, 0xFF]);
    }

    #[test]
    fn parse_control_messages() {
        assert_eq!(
            ControlMessage::parse(&window_ack_size(5_000_000)),
            Ok(Some(ControlMessage::WindowAckSize(5_000_000)))
        );
        let spb = Message::new(
            MessageType::SET_PEER_BANDWIDTH,
            0,
            0,
            vec![0, 0x4C, 0x4B, 0x40, 2],
        );
        assert_eq!(
            ControlMessage::parse(&spb),
            Ok(Some(ControlMessage::SetPeerBandwidth {
                size: 5_000_000,
                limit: LimitType::Dynamic
            }))
        );
        assert_eq!(
            ControlMessage::parse(&Message::new(
                MessageType::SET_CHUNK_SIZE,
                0,
                0,
                vec![0x80, 0, 0, 0]
            )),
            Err(MessageError::InvalidChunkSize(0))
        );
        assert!(matches!(
            ControlMessage::parse(&Message::new(MessageType::ACKNOWLEDGEMENT, 0, 0, vec![1])),
            Err(MessageError::ShortPayload { expected: 4, .. })
        ));
        assert_eq!(
            ControlMessage::parse(&Message::new(MessageType::VIDEO, 1, 0, vec![])),
            Ok(None)
        );
    }

    #[test]
    fn ping_request_gets_response() {
        let ev = UserControlEvent::parse(&[0, 6, 0, 0, 0x30, 0x39]).unwrap();
        assert_eq!(ev, UserControlEvent::PingRequest(12345));
        let resp = ev.ping_response().unwrap();
        assert_eq!(resp.header.type_id, MessageType::USER_CONTROL);
        assert_eq!(resp.payload, [0, 7, 0, 0, 0x30, 0x39]);
        assert_eq!(
            UserControlEvent::parse(&[0, 0, 0, 0, 0, 1]),
            Ok(UserControlEvent::StreamBegin(1))
        );
        assert_eq!(UserControlEvent::StreamBegin(1).ping_response(), None);
        assert!(UserControlEvent::parse(&[0]).is_err());
        assert!(UserControlEvent::parse(&[0, 3, 0, 0, 0, 1]).is_err());
        for ev in [
            UserControlEvent::StreamBegin(7),
            UserControlEvent::SetBufferLength {
                stream_id: 1,
                millis: 3000,
            },
            UserControlEvent::Other {
                event_type: 31,
                data: vec![1, 2],
            },
        ] {
            assert_eq!(UserControlEvent::parse(&ev.to_message().payload), Ok(ev));
        }
    }

    #[test]
    fn acknowledger_counts_windows() {
        let mut a = Acknowledger::new();
        assert_eq!(a.on_received(10_000), None, "no window yet");
        a.set_window(2500);
        assert_eq!(a.on_received(0), Some(10_000));
        assert_eq!(a.on_received(2499), None);
        assert_eq!(a.on_received(1), Some(12_500));
        assert_eq!(a.on_received(5000), Some(17_500));
        assert_eq!(a.on_received(100), None);
    }

    #[test]
    fn acknowledger_sequence_wraps() {
        let mut a = Acknowledger::new();
        a.set_window(1 << 31);
        assert_eq!(a.on_received(1 << 31), Some(1 << 31));
        assert_eq!(a.on_received(1 << 31), Some(0));
        assert_eq!(a.on_received((1 << 31) + 5), Some((1 << 31) + 5));
    }
}
