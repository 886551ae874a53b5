//! One RTMP publishing session over a blocking TCP socket (or, for
//! `rtmps://`, the plaintext end of the TLS pump: [`Transport`]): handshake,
//! the command sequence up to NetStream.Publish.Start, then sending messages
//! while a reader thread answers pings, acknowledges and watches for close.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::time::{Duration, Instant};

use tracing::{debug, warn};

use super::tls::{self, TlsClient, TlsError};
use super::transport::Transport;

use crate::flv::VideoTagForm;
use crate::rtmp::command::{self, ConnectParams};
use crate::rtmp::message::{self, csid};
use crate::rtmp::{
    Acknowledger, ChunkReader, ChunkWriter, ClientHandshake, ControlMessage, HandshakeStep,
    IncomingCommand, Message, ReaderLimits, RtmpUrl, UserControlEvent,
};

/// Our outgoing chunk size (sent before any media).
pub const CHUNK_SIZE: u32 = 4096;
const SETUP_TIMEOUT: Duration = Duration::from_secs(5);
/// The whole setup (TCP, handshake, connect, createStream, publish) must end
/// within this, however the server trickles its replies.
const SETUP_DEADLINE: Duration = Duration::from_secs(10);
/// What a server can make us hold: a publisher only ever receives small
/// control and command messages (a hostile server could otherwise park
/// 16 MiB in each of 64 chunk streams).
const READER_LIMITS: ReaderLimits = ReaderLimits {
    max_message_len: 64 * 1024,
    max_chunk_streams: 8,
};
/// Control replies (pongs, acknowledgements) waiting for the writer; more
/// are dropped (the server is flooding us, or the writer is stalled).
const CONTROL_BACKLOG: usize = 16;
/// A write that blocks this long (peer stalled) ends the session.
const WRITE_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("cannot reach {target}: {source}")]
    Connect {
        target: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Tls(#[from] TlsError),
    /// An `rtmps://` URL without TLS settings: never sent in the clear.
    #[error("{target}: rtmps:// without TLS settings")]
    NoTls { target: String },
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
    stream: Transport,
    writer: ChunkWriter,
    out: Vec<u8>,
    stream_id: u32,
    /// Control replies from the reader thread (pong, acknowledgements).
    control: Receiver<Message>,
    broken: Arc<AtomicBool>,
    pub bytes_sent: u64,
    /// `rtmps://`: the TLS pump's end, awaited after the unpublish so that
    /// it and `close_notify` leave before the process may exit (the pump
    /// died with the process before it had sent them: a CI failure).
    pump: Option<tls::PumpDone>,
}

struct Setup {
    stream: Transport,
    deadline: Instant,
    reader: ChunkReader,
    writer: ChunkWriter,
    ack: Acknowledger,
    out: Vec<u8>,
    buf: Vec<u8>,
}

impl Setup {
    /// One read, bounded by what is left of the setup deadline.
    fn read(&mut self) -> Result<usize, SessionError> {
        let past = || {
            SessionError::Io(std::io::Error::new(
                ErrorKind::TimedOut,
                "the server did not complete the setup within its deadline",
            ))
        };
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(past());
        }
        self.stream
            .set_read_timeout(Some(left.min(SETUP_TIMEOUT)))?;
        match self.stream.read(&mut self.buf) {
            Err(e)
                if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
                    && Instant::now() >= self.deadline =>
            {
                Err(past())
            }
            other => Ok(other?),
        }
    }

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
            let n = self.read()?;
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
    stream: &mut Transport,
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
            .and_then(|s| s.code.as_deref())
            .map_or_else(|| "(no code)".into(), server_text),
        description: status
            .and_then(|s| s.description.as_deref())
            .map(server_text)
            .unwrap_or_default(),
    }
}

/// Longest server-supplied string we repeat in a log line or error.
const SERVER_TEXT_MAX: usize = 120;

/// A string the server chose, made safe for one log line: control
/// characters escaped (no forged lines, no terminal escapes) and cut at
/// [`SERVER_TEXT_MAX`] characters.
fn server_text(s: &str) -> String {
    let mut out: String = s
        .chars()
        .take(SERVER_TEXT_MAX)
        .flat_map(char::escape_default)
        .collect();
    if s.chars().count() > SERVER_TEXT_MAX {
        out.push('…');
    }
    out
}

impl Session {
    /// Connects and runs the publish sequence (RTMP spec §7.2.1.1, §7.2.2.6).
    /// `tls` is required for an `rtmps://` URL.
    pub fn open(
        url: &RtmpUrl,
        form: VideoTagForm,
        tls: Option<&TlsClient>,
    ) -> Result<Self, SessionError> {
        Self::open_within(url, form, tls, SETUP_DEADLINE)
    }

    fn open_within(
        url: &RtmpUrl,
        form: VideoTagForm,
        tls: Option<&TlsClient>,
        setup_deadline: Duration,
    ) -> Result<Self, SessionError> {
        let deadline = Instant::now() + setup_deadline;
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
        let tcp = TcpStream::connect_timeout(&addr, SETUP_TIMEOUT).map_err(connect_err)?;
        tcp.set_nodelay(true)?;
        limit_send_buffer(&tcp, SEND_BUFFER);
        let mut pump = None;
        let stream = match (url.tls, tls) {
            (false, _) => Transport::Tcp(tcp),
            (true, Some(client)) => {
                let (plain, done) = tls::connect(tcp, &url.host, client, deadline)?;
                pump = Some(done);
                // The pump's socket buffer is latency too (see SEND_BUFFER).
                limit_send_buffer(&plain, TLS_PLAIN_BUFFER);
                Transport::Tls(plain)
            }
            (true, None) => return Err(SessionError::NoTls { target }),
        };
        stream.set_read_timeout(Some(SETUP_TIMEOUT))?;
        stream.set_write_timeout(Some(WRITE_TIMEOUT))?;
        let mut s = Setup {
            stream,
            deadline,
            reader: ChunkReader::with_limits(READER_LIMITS),
            writer: ChunkWriter::new(),
            ack: Acknowledger::new(),
            out: Vec::with_capacity(64 * 1024),
            buf: vec![0; 64 * 1024],
        };

        // Handshake (§5.2).
        let mut hs = ClientHandshake::with_rng(0, &mut rand::rng());
        s.stream.write_all(&hs.c0_c1())?;
        loop {
            let n = s.read()?;
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
        let (tx, control) = sync_channel(CONTROL_BACKLOG);
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
            pump,
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

impl Session {
    /// Ends the publication politely on a clean stop (FMLE convention, as
    /// OBS and ffmpeg do): `FCUnpublish` and `deleteStream` (RTMP 1.0
    /// §7.2.2.3), so the server ends the stream at once instead of waiting
    /// for its idle timeout. Bounded: a stalled peer gets one second.
    pub fn unpublish(&mut self, stream_name: &str) -> Result<(), SessionError> {
        self.stream.set_write_timeout(Some(UNPUBLISH_TIMEOUT))?;
        self.write(csid::COMMAND, &command::fc_unpublish(6.0, stream_name))?;
        self.write(csid::COMMAND, &command::delete_stream(7.0, self.stream_id))?;
        // Over TLS the bytes are only with the pump thread yet: shut our
        // write side (the pump sends the rest, then close_notify) and wait
        // for it, bounded like the writes above.
        if let Some(done) = &self.pump {
            self.stream.shutdown(Shutdown::Write)?;
            if !done.wait(UNPUBLISH_TIMEOUT + Duration::from_millis(100)) {
                return Err(SessionError::Io(ErrorKind::TimedOut.into()));
            }
        }
        Ok(())
    }

    /// A handle that closes the socket from another thread: a write blocked
    /// on a stalled peer returns at once (the shutdown deadline uses it).
    pub fn closer(&self) -> std::io::Result<Transport> {
        self.stream.try_clone()
    }
}

/// How long the goodbye may block on a stalled peer.
const UNPUBLISH_TIMEOUT: Duration = Duration::from_secs(1);

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
/// Send buffer of the session's end of the TLS pump's socket pair: with the
/// pump's own bounded buffers, a stalled server blocks our writes soon.
const TLS_PLAIN_BUFFER: libc::c_int = 64 * 1024;

fn limit_send_buffer(stream: &impl std::os::fd::AsRawFd, bytes: libc::c_int) {
    // SAFETY: setsockopt on a socket we own, with a valid int option value.
    let rc = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_SNDBUF,
            (&bytes as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        debug!(error = %std::io::Error::last_os_error(), "cannot limit the RTMP send buffer");
    }
}

fn read_loop(
    mut stream: Transport,
    mut reader: ChunkReader,
    mut ack: Acknowledger,
    mut buf: Vec<u8>,
    control: &SyncSender<Message>,
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
                            // Full: the writer is behind; a lost pong is harmless.
                            let _ = control.try_send(pong);
                        }
                    }
                    Ok(_) => {
                        if let Ok(IncomingCommand::OnStatus { status, .. }) =
                            IncomingCommand::from_message(&msg)
                            && status.level.as_deref() == Some("error")
                        {
                            let code = status.code.as_deref().map(server_text);
                            warn!(code = ?code, "server reported an error while publishing");
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
                    // A later acknowledgement covers a dropped one.
                    let _ = control.try_send(message::acknowledgement(seq));
                }
                reader.push(&buf[..n]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 13, defect 9: a server that trickles its handshake (a byte
    /// at a time, each within the per-read timeout) held the setup for
    /// ever. The setup now has one overall deadline.
    #[test]
    fn a_trickling_server_cannot_hold_the_setup() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let server = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let (mut c, _) = listener.accept().unwrap();
                let _ = c.write_all(&[3]);
                while !stop.load(Ordering::Relaxed) {
                    if c.write_all(&[0]).is_err() {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            })
        };
        let url = RtmpUrl::parse(&format!("rtmp://127.0.0.1:{port}/live/s")).unwrap();
        let t = Instant::now();
        let err = Session::open_within(&url, VideoTagForm::Avc, None, Duration::from_millis(800))
            .err()
            .expect("the setup must fail");
        let took = t.elapsed();
        stop.store(true, Ordering::Relaxed);
        server.join().unwrap();
        assert!(err.to_string().contains("deadline"), "{err}");
        // The trickle alone would need 1536 bytes * 100 ms = 150 s.
        assert!(took < Duration::from_secs(5), "{took:?}");
    }

    #[test]
    fn server_text_is_one_bounded_line() {
        assert_eq!(
            server_text("NetStream.Publish.BadName"),
            "NetStream.Publish.BadName"
        );
        let hostile = format!("x\nERROR forged line\x1b[31m{}", "A".repeat(10_000));
        let t = server_text(&hostile);
        assert!(!t.contains('\n') && !t.contains('\x1b'), "{t}");
        assert!(t.chars().count() < 2 * SERVER_TEXT_MAX + 4, "{}", t.len());
    }
}
