//! Server side of the RTMP handshake (Adobe RTMP 1.0 §5.2) and the chunk
//! stream (§5.3): a reader that reassembles messages honouring the peer's
//! Set Chunk Size, and a writer that splits messages into chunks.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::tls::Socket;

/// Handshake packet size (C1/S1/C2/S2).
pub const HANDSHAKE_SIZE: usize = 1536;
/// The chunk size both sides start with (§5.4.1).
pub const DEFAULT_CHUNK_SIZE: usize = 128;
/// Largest message the 24-bit length field can carry.
pub const MAX_MESSAGE_LEN: usize = 0xFF_FFFF;

/// Why reading or writing stopped.
#[derive(Debug)]
pub enum ConnError {
    /// The peer closed the connection.
    Closed,
    /// The overall deadline passed.
    Timeout,
    /// The peer broke the protocol (exit 7).
    Protocol(String),
    /// Another socket error (treated like a close).
    Io(io::Error),
}

impl std::fmt::Display for ConnError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnError::Closed => write!(f, "connection closed by peer"),
            ConnError::Timeout => write!(f, "timeout"),
            ConnError::Protocol(m) => write!(f, "protocol violation: {m}"),
            ConnError::Io(e) => write!(f, "I/O error: {e}"),
        }
    }
}

fn protocol<T>(msg: impl Into<String>) -> Result<T, ConnError> {
    Err(ConnError::Protocol(msg.into()))
}

/// A complete RTMP message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub csid: u32,
    pub timestamp: u32,
    pub type_id: u8,
    pub stream_id: u32,
    pub payload: Vec<u8>,
}

#[derive(Debug, Default)]
struct ChunkStream {
    started: bool,
    timestamp: u32,
    /// Delta applied to a new message started by a type-3 chunk (after a type-0
    /// chunk this is its absolute timestamp, §5.3.1.2.4 / common practice).
    delta: u32,
    len: usize,
    type_id: u8,
    stream_id: u32,
    extended: bool,
    buf: Vec<u8>,
}

/// One accepted connection (TCP, or TLS on it) with a deadline on every read.
pub struct Conn {
    stream: Box<dyn Socket>,
    deadline: Instant,
    /// Bytes read from the socket (handshake included).
    pub bytes_in: u64,
    /// Chunk size the peer announced (we read with it).
    pub in_chunk_size: usize,
    /// Chunk size we write with.
    pub out_chunk_size: usize,
    streams: HashMap<u32, ChunkStream>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.stream.finish();
    }
}

impl Conn {
    pub fn new(stream: Box<dyn Socket>, deadline: Instant) -> Self {
        Self {
            stream,
            deadline,
            bytes_in: 0,
            in_chunk_size: DEFAULT_CHUNK_SIZE,
            out_chunk_size: DEFAULT_CHUNK_SIZE,
            streams: HashMap::new(),
        }
    }

    fn read_exact(&mut self, buf: &mut [u8]) -> Result<(), ConnError> {
        let mut done = 0;
        while done < buf.len() {
            let left = self.deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(ConnError::Timeout);
            }
            self.stream
                .set_read_timeout(Some(left.max(Duration::from_millis(1))))
                .map_err(ConnError::Io)?;
            match self.stream.read(&mut buf[done..]) {
                Ok(0) => return Err(ConnError::Closed),
                Ok(n) => {
                    done += n;
                    self.bytes_in += n as u64;
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                    ) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::ConnectionReset
                            | io::ErrorKind::ConnectionAborted
                            | io::ErrorKind::BrokenPipe
                    ) =>
                {
                    return Err(ConnError::Closed);
                }
                Err(e) => return Err(ConnError::Io(e)),
            }
        }
        Ok(())
    }

    fn u8(&mut self) -> Result<u8, ConnError> {
        let mut b = [0u8; 1];
        self.read_exact(&mut b)?;
        Ok(b[0])
    }

    fn be(&mut self, n: usize) -> Result<u32, ConnError> {
        let mut b = [0u8; 4];
        self.read_exact(&mut b[4 - n..])?;
        Ok(u32::from_be_bytes(b))
    }

    fn write_all(&mut self, b: &[u8]) -> Result<(), ConnError> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ConnError::Timeout);
        }
        let _ = self.stream.set_write_timeout(Some(left));
        self.stream.write_all(b).map_err(|e| match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => ConnError::Timeout,
            io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted => ConnError::Closed,
            _ => ConnError::Io(e),
        })
    }

    /// Server handshake: reads C0+C1, sends S0+S1+S2 (S2 echoes C1), reads C2.
    /// Returns whether C2 echoed S1's random bytes (recorded, not enforced).
    pub fn handshake(&mut self) -> Result<bool, ConnError> {
        let c0 = self.u8()?;
        if c0 != 3 {
            return protocol(format!("handshake: C0 version {c0}, expected 3"));
        }
        let mut c1 = vec![0u8; HANDSHAKE_SIZE];
        self.read_exact(&mut c1)?;
        let mut s = Vec::with_capacity(1 + 2 * HANDSHAKE_SIZE);
        s.push(3);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        s.extend_from_slice(&(now.as_millis() as u32).to_be_bytes());
        s.extend_from_slice(&[0, 0, 0, 0]);
        let mut x = (now.as_nanos() as u64) | 1;
        while s.len() < 1 + HANDSHAKE_SIZE {
            // xorshift64: the random field only needs to be unpredictable-ish.
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            s.push((x >> 32) as u8);
        }
        let s1_random = s[9..].to_vec();
        s.extend_from_slice(&c1);
        self.write_all(&s)?;
        let mut c2 = vec![0u8; HANDSHAKE_SIZE];
        self.read_exact(&mut c2)?;
        Ok(c2[8..] == s1_random[..])
    }

    /// Reads chunks until one message is complete.
    pub fn read_message(&mut self) -> Result<Message, ConnError> {
        loop {
            let b0 = self.u8()?;
            let fmt = b0 >> 6;
            let csid = match b0 & 0x3F {
                0 => 64 + u32::from(self.u8()?),
                1 => {
                    let lo = u32::from(self.u8()?);
                    let hi = u32::from(self.u8()?);
                    64 + lo + hi * 256
                }
                n => u32::from(n),
            };
            let mut st = self.streams.remove(&csid).unwrap_or_default();
            if !st.started && fmt != 0 && fmt != 1 {
                return protocol(format!(
                    "chunk type {fmt} on chunk stream {csid} without a previous header"
                ));
            }
            if fmt != 3 && !st.buf.is_empty() {
                return protocol(format!(
                    "chunk type {fmt} on chunk stream {csid} while a message ({} of {} bytes) is incomplete",
                    st.buf.len(),
                    st.len
                ));
            }
            match fmt {
                0 => {
                    let ts = self.be(3)?;
                    st.len = self.be(3)? as usize;
                    st.type_id = self.u8()?;
                    let mut sid = [0u8; 4];
                    self.read_exact(&mut sid)?;
                    st.stream_id = u32::from_le_bytes(sid);
                    st.extended = ts == 0xFF_FFFF;
                    let ts = if st.extended { self.be(4)? } else { ts };
                    st.timestamp = ts;
                    st.delta = ts;
                }
                1 | 2 => {
                    let d = self.be(3)?;
                    if fmt == 1 {
                        st.len = self.be(3)? as usize;
                        st.type_id = self.u8()?;
                    }
                    st.extended = d == 0xFF_FFFF;
                    let d = if st.extended { self.be(4)? } else { d };
                    st.delta = d;
                    st.timestamp = st.timestamp.wrapping_add(d);
                }
                _ => {
                    if st.extended {
                        let _ = self.be(4)?;
                    }
                    if st.buf.is_empty() {
                        st.timestamp = st.timestamp.wrapping_add(st.delta);
                    }
                }
            }
            st.started = true;
            let want = (st.len - st.buf.len()).min(self.in_chunk_size);
            let at = st.buf.len();
            st.buf.resize(at + want, 0);
            let r = self.read_exact(&mut st.buf[at..]);
            let done = st.buf.len() == st.len;
            let msg = done.then(|| Message {
                csid,
                timestamp: st.timestamp,
                type_id: st.type_id,
                stream_id: st.stream_id,
                payload: std::mem::take(&mut st.buf),
            });
            self.streams.insert(csid, st);
            r?;
            if let Some(m) = msg {
                return Ok(m);
            }
        }
    }

    /// Writes one message as a type-0 chunk followed by type-3 chunks.
    pub fn write_message(
        &mut self,
        csid: u8,
        type_id: u8,
        stream_id: u32,
        timestamp: u32,
        payload: &[u8],
    ) -> Result<(), ConnError> {
        debug_assert!((2..64).contains(&csid));
        let ext = timestamp >= 0xFF_FFFF;
        let mut out = Vec::with_capacity(payload.len() + 32);
        out.push(csid);
        out.extend_from_slice(&(if ext { 0xFF_FFFF } else { timestamp }).to_be_bytes()[1..]);
        out.extend_from_slice(&(payload.len() as u32).to_be_bytes()[1..]);
        out.push(type_id);
        out.extend_from_slice(&stream_id.to_le_bytes());
        if ext {
            out.extend_from_slice(&timestamp.to_be_bytes());
        }
        for (i, piece) in payload.chunks(self.out_chunk_size.max(1)).enumerate() {
            if i > 0 {
                out.push(0xC0 | csid);
                if ext {
                    out.extend_from_slice(&timestamp.to_be_bytes());
                }
            }
            out.extend_from_slice(piece);
        }
        self.write_all(&out)
    }
}
