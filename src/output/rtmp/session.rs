//! One RTMP publishing session over a blocking TCP socket: handshake, the
//! command sequence up to NetStream.Publish.Start, then sending messages
//! while a reader thread answers pings, acknowledges and watches for close.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::Duration;

use tracing::{debug, warn};

use crate::flv::VideoTagForm;
use crate::rtmp::command::{self, ConnectParams};
use crate::rtmp::message::{self, csid};
use crate::rtmp::{
    Acknowledger, ChunkReader, ChunkWriter, ClientHandshake, ControlMessage, HandshakeStep,
    IncomingCommand, Message, RtmpUrl, UserControlEvent,
};

/// Our outgoing chunk size (sent before any media).
pub const CHUNK_SIZE: u32 = 4096;
const SETUP_TIMEOUT: Duration = Duration::from_secs(5);
/// A write that blocks this long (peer stalled) ends the session.
const WRITE_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("cannot reach {target}: {source}")]
    Connect {
        target: String,
        source: std::io::Error,
    },
    #[error("connection lost: {0}")]
    Io(#[from] std::io::Error),
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The server refused `connect` or `publish` (e.g. NetStream.Publish.BadName).
    #[error("server refused {step}: {code} ({description})")]
    Rejected {
        step: &'static str,
        code: String,
        description: String,
    },
}

pub struct Session {
    stream: TcpStream,
    writer: ChunkWriter,
    out: Vec<u8>,
    stream_id: u32,
    /// Control replies from the reader thread (pong, acknowledgements).
    control: Receiver<Message>,
    broken: Arc<AtomicBool>,
    pub bytes_sent: u64,
}

struct Setup {
    stream: TcpStream,
    reader: ChunkReader,
    writer: ChunkWriter,
    ack: Acknowledger,
    out: Vec<u8>,
    buf: Vec<u8>,
}

impl Setup {
    fn send(&mut self, csid: u32, msg: &Message) -> Result<(), SessionError> {
        send_message(&mut self.stream, &mut self.writer, &mut self.out, csid, msg).map(drop)
    }

    /// Reads until a command for which `want` returns `Some`.
    fn await_command<T>(
        &mut self,
        mut want: impl FnMut(&IncomingCommand) -> Option<T>,
    ) -> Result<T, SessionError> {
        loop {
            while let Some(msg) = self
                .reader
                .next_message()
                .map_err(|e| SessionError::Protocol(e.to_string()))?
            {
                if let Some(ctrl) = ControlMessage::parse(&msg)
                    .map_err(|e| SessionError::Protocol(e.to_string()))?
                {
                    match ctrl {
                        ControlMessage::WindowAckSize(w) => self.ack.set_window(w),
                        ControlMessage::UserControl(ev) => {
                            if let Some(pong) = ev.ping_response() {
                                self.send(csid::PROTOCOL_CONTROL, &pong)?;
                            }
                        }
                        _ => {}
                    }
                    continue;
                }
                if let Ok(cmd) = IncomingCommand::from_message(&msg)
                    && let Some(t) = want(&cmd)
                {
                    return Ok(t);
                }
            }
            let n = self.stream.read(&mut self.buf)?;
            if n == 0 {
                return Err(SessionError::Io(ErrorKind::UnexpectedEof.into()));
            }
            if let Some(seq) = self.ack.on_received(n) {
                self.send(csid::PROTOCOL_CONTROL, &message::acknowledgement(seq))?;
            }
            self.reader.push(&self.buf[..n]);
        }
    }
}

/// Chunks `msg` into `out` and writes it whole; returns the bytes written. A
/// failed write ends the session, so a peer never sees a partial message
/// (a partial tag) followed by more data.
fn send_message(
    stream: &mut TcpStream,
    writer: &mut ChunkWriter,
    out: &mut Vec<u8>,
    csid: u32,
    msg: &Message,
) -> Result<usize, SessionError> {
    out.clear();
    writer
        .write_message(csid, msg, out)
        .map_err(|e| SessionError::Protocol(e.to_string()))?;
    stream.write_all(out)?;
    Ok(out.len())
}

fn rejected(step: &'static str, cmd: &IncomingCommand) -> SessionError {
    let status = cmd.status();
    SessionError::Rejected {
        step,
        code: status
            .and_then(|s| s.code.clone())
            .unwrap_or_else(|| "(no code)".into()),
        description: status
            .and_then(|s| s.description.clone())
            .unwrap_or_default(),
    }
}

impl Session {
    /// Connects and runs the publish sequence (RTMP spec §7.2.1.1, §7.2.2.6).
    pub fn open(url: &RtmpUrl, form: VideoTagForm) -> Result<Self, SessionError> {
        let target = format!("{}:{}", url.host, url.port);
        let connect_err = |source| SessionError::Connect {
            target: target.clone(),
            source,
        };
        let addr = (url.host.as_str(), url.port)
            .to_socket_addrs()
            .map_err(connect_err)?
            .next()
            .ok_or_else(|| connect_err(ErrorKind::NotFound.into()))?;
        let stream = TcpStream::connect_timeout(&addr, SETUP_TIMEOUT).map_err(connect_err)?;
        stream.set_nodelay(true)?;
        limit_send_buffer(&stream);
        stream.set_read_timeout(Some(SETUP_TIMEOUT))?;
        stream.set_write_timeout(Some(WRITE_TIMEOUT))?;
        let mut s = Setup {
            stream,
            reader: ChunkReader::new(),
            writer: ChunkWriter::new(),
            ack: Acknowledger::new(),
            out: Vec::with_capacity(64 * 1024),
            buf: vec![0; 64 * 1024],
        };

        // Handshake (§5.2).
        let mut hs = ClientHandshake::with_rng(0, &mut rand::rng());
        s.stream.write_all(&hs.c0_c1())?;
        loop {
            let n = s.stream.read(&mut s.buf)?;
            if n == 0 {
                return Err(SessionError::Io(ErrorKind::UnexpectedEof.into()));
            }
            match hs
                .push(&s.buf[..n])
                .map_err(|e| SessionError::Protocol(e.to_string()))?
            {
                HandshakeStep::Continue { send } => s.stream.write_all(&send)?,
                HandshakeStep::Done { send, leftover } => {
                    s.stream.write_all(&send)?;
                    s.reader.push(&leftover);
                    break;
                }
            }
        }

        s.send(csid::PROTOCOL_CONTROL, &message::set_chunk_size(CHUNK_SIZE))?;
        s.writer
            .set_chunk_size(CHUNK_SIZE)
            .map_err(|e| SessionError::Protocol(e.to_string()))?;

        let mut params = ConnectParams::new(url.app.clone(), url.tc_url());
        if form == VideoTagForm::EnhancedHvc1 {
            params.four_cc_list = Some(vec!["hvc1".into()]);
        }
        s.send(csid::COMMAND, &command::connect(1.0, &params))?;
        s.await_command(|c| match c {
            IncomingCommand::Result { transaction_id, .. } if *transaction_id == 1.0 => {
                Some(Ok(()))
            }
            IncomingCommand::Error { transaction_id, .. } if *transaction_id == 1.0 => {
                Some(Err(rejected("connect", c)))
            }
            _ => None,
        })??;

        s.send(csid::COMMAND, &command::release_stream(2.0, &url.stream))?;
        s.send(csid::COMMAND, &command::fc_publish(3.0, &url.stream))?;
        s.send(csid::COMMAND, &command::create_stream(4.0))?;
        let stream_id = s.await_command(|c| match c {
            IncomingCommand::Result { transaction_id, .. } if *transaction_id == 4.0 => {
                Some(c.stream_id().ok_or_else(|| {
                    SessionError::Protocol("createStream _result without a stream id".into())
                }))
            }
            IncomingCommand::Error { transaction_id, .. } if *transaction_id == 4.0 => {
                Some(Err(rejected("createStream", c)))
            }
            _ => None,
        })??;

        s.send(
            csid::COMMAND,
            &command::publish(5.0, stream_id, &url.stream),
        )?;
        s.await_command(|c| match c {
            IncomingCommand::OnStatus { status, .. } => match status.code.as_deref() {
                Some("NetStream.Publish.Start") => Some(Ok(())),
                _ if status.level.as_deref() == Some("error") => Some(Err(rejected("publish", c))),
                _ => None,
            },
            IncomingCommand::Error { .. } => Some(Err(rejected("publish", c))),
            _ => None,
        })??;

        // Publishing: a reader thread takes over the receiving side.
        s.stream.set_read_timeout(None)?;
        let (tx, control) = channel();
        let broken = Arc::new(AtomicBool::new(false));
        let read_half = s.stream.try_clone()?;
        {
            let broken = broken.clone();
            let (reader, ack, buf) = (s.reader, s.ack, s.buf);
            std::thread::Builder::new()
                .name("rtmp-reader".into())
                .spawn(move || read_loop(read_half, reader, ack, buf, &tx, &broken))?;
        }
        Ok(Self {
            stream: s.stream,
            writer: s.writer,
            out: s.out,
            stream_id,
            control,
            broken,
            bytes_sent: 0,
        })
    }

    /// Whether the reader saw the connection end or the server report an error.
    pub fn is_broken(&self) -> bool {
        self.broken.load(Ordering::Relaxed)
    }

    fn write(&mut self, csid: u32, msg: &Message) -> Result<(), SessionError> {
        self.bytes_sent +=
            send_message(&mut self.stream, &mut self.writer, &mut self.out, csid, msg)? as u64;
        Ok(())
    }

    /// Sends control replies queued by the reader thread.
    pub fn flush_control(&mut self) -> Result<(), SessionError> {
        while let Ok(msg) = self.control.try_recv() {
            self.write(csid::PROTOCOL_CONTROL, &msg)?;
        }
        Ok(())
    }

    pub fn send_metadata<K: AsRef<str>>(
        &mut self,
        props: &[(K, crate::rtmp::Value)],
    ) -> Result<(), SessionError> {
        let msg = command::set_data_frame(self.stream_id, props);
        self.write(csid::DATA, &msg)
    }

    pub fn send_video(&mut self, dts_ms: u32, body: Vec<u8>) -> Result<(), SessionError> {
        let msg = Message::new(
            crate::rtmp::MessageType::VIDEO,
            self.stream_id,
            dts_ms,
            body,
        );
        self.write(csid::VIDEO, &msg)
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // Ends the reader thread too.
        let _ = self.stream.shutdown(Shutdown::Both);
    }
}

/// Kernel send buffer of the RTMP socket. Small on purpose: whatever sits in
/// it is latency, and a stalled peer must become visible to the queue (and
/// turn into whole-unit drops) within a fraction of a second, not after
/// megabytes of autotuned buffering. 256 KiB still holds a large keyframe and
/// sustains ~20 Mbit/s at 100 ms RTT.
const SEND_BUFFER: libc::c_int = 256 * 1024;

fn limit_send_buffer(stream: &TcpStream) {
    use std::os::fd::AsRawFd;
    // SAFETY: setsockopt on a socket we own, with a valid int option value.
    let rc = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_SNDBUF,
            (&SEND_BUFFER as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        debug!(error = %std::io::Error::last_os_error(), "cannot limit the RTMP send buffer");
    }
}

fn read_loop(
    mut stream: TcpStream,
    mut reader: ChunkReader,
    mut ack: Acknowledger,
    mut buf: Vec<u8>,
    control: &Sender<Message>,
    broken: &AtomicBool,
) {
    loop {
        loop {
            match reader.next_message() {
                Ok(Some(msg)) => match ControlMessage::parse(&msg) {
                    Ok(Some(ControlMessage::WindowAckSize(w))) => ack.set_window(w),
                    Ok(Some(ControlMessage::UserControl(
                        ev @ UserControlEvent::PingRequest(_),
                    ))) => {
                        if let Some(pong) = ev.ping_response() {
                            let _ = control.send(pong);
                        }
                    }
                    Ok(_) => {
                        if let Ok(IncomingCommand::OnStatus { status, .. }) =
                            IncomingCommand::from_message(&msg)
                            && status.level.as_deref() == Some("error")
                        {
                            warn!(code = ?status.code, "server reported an error while publishing");
                            broken.store(true, Ordering::Relaxed);
                            return;
                        }
                    }
                    Err(e) => debug!(error = %e, "ignoring a malformed control message"),
                },
                Ok(None) => break,
                Err(e) => {
                    warn!(error = %e, "RTMP stream from the server is corrupt");
                    broken.store(true, Ordering::Relaxed);
                    return;
                }
            }
        }
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => {
                broken.store(true, Ordering::Relaxed);
                return;
            }
            Ok(n) => {
                if let Some(seq) = ack.on_received(n) {
                    let _ = control.send(message::acknowledgement(seq));
                }
                reader.push(&buf[..n]);
            }
        }
    }
}
