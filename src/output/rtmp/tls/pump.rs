//! The pump: one thread moving bytes between the session's plaintext socket
//! (a `UnixStream`, non-blocking here) and the TLS connection on the TCP
//! socket, waiting in poll(2) on both.
//!
//! Memory is bounded: one [`CHUNK`] of plaintext each way, and rustls holds
//! at most [`TLS_BUFFER_LIMIT`] of unsent records. When the server stalls,
//! rustls fills, the pump stops reading the session's socket, that socket's
//! small buffer fills, and the session's own writes block until its write
//! timeout: the same backpressure as plain TCP.
//!
//! Either side closing closes the other. When the session closes, what it
//! wrote is still sent, then `close_notify` (RFC 8446 §6.1: a party must
//! send it before closing its write side, so the server can tell the end of
//! the stream from a truncation), all within [`CLOSE_FLUSH`].

use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use rustls::ClientConnection;
use tracing::{debug, warn};

/// Plaintext held in each direction between a socket and rustls.
const CHUNK: usize = 16 * 1024;
/// Unsent TLS records rustls may hold (its default is 64 KiB); past it the
/// pump stops reading the session.
const TLS_BUFFER_LIMIT: usize = 64 * 1024;
/// After the session closed: how long its last bytes and `close_notify` may
/// take to leave (the plain session's unpublish gets 1 s too).
pub(super) const CLOSE_FLUSH: Duration = Duration::from_secs(1);

/// Starts the pump thread; it ends when either side closes, dropping
/// `ended` as it does.
pub(super) fn spawn(
    mut tls: ClientConnection,
    tcp: TcpStream,
    plain: UnixStream,
    ended: std::sync::mpsc::SyncSender<()>,
) -> io::Result<()> {
    tcp.set_nonblocking(true)?;
    plain.set_nonblocking(true)?;
    tls.set_buffer_limit(Some(TLS_BUFFER_LIMIT));
    let mut pump = Pump {
        tls,
        tcp,
        plain,
        outgoing: Buf::new(),
        incoming: Buf::new(),
        tcp_eof: false,
        session_reading: true,
        closing: None,
    };
    std::thread::Builder::new()
        .name("rtmp-tls".into())
        .spawn(move || {
            match pump.run() {
                Ok(why) => debug!(why, "TLS connection closed"),
                // Many servers just close TCP (no close_notify); the
                // session reports the end as it does for plain RTMP.
                Err(e) if e.kind() == ErrorKind::UnexpectedEof => {
                    debug!(error = %e, "TLS connection closed by the server");
                }
                Err(e) => warn!(error = %e, "TLS connection ended"),
            }
            let _ = pump.plain.shutdown(Shutdown::Both);
            let _ = pump.tcp.shutdown(Shutdown::Both);
            drop(ended);
        })?;
    Ok(())
}

/// Bytes read from one side, not yet taken by the other.
struct Buf {
    bytes: Box<[u8]>,
    start: usize,
    end: usize,
}

impl Buf {
    fn new() -> Self {
        Self {
            bytes: vec![0; CHUNK].into_boxed_slice(),
            start: 0,
            end: 0,
        }
    }

    fn is_empty(&self) -> bool {
        self.start == self.end
    }

    fn pending(&self) -> &[u8] {
        &self.bytes[self.start..self.end]
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        if self.start == self.end {
            (self.start, self.end) = (0, 0);
        }
    }

    /// Refills an empty buffer from `r`; `Ok(0)` is the end of its stream.
    fn fill(&mut self, mut r: impl Read) -> io::Result<usize> {
        debug_assert!(self.is_empty());
        let n = r.read(&mut self.bytes)?;
        (self.start, self.end) = (0, n);
        Ok(n)
    }
}

struct Pump {
    tls: ClientConnection,
    tcp: TcpStream,
    plain: UnixStream,
    /// From the session, for rustls.
    outgoing: Buf,
    /// From rustls, for the session.
    incoming: Buf,
    /// The server closed the TCP connection.
    tcp_eof: bool,
    /// The session still reads (false once it shut its end: what it wrote
    /// before is still read and sent).
    session_reading: bool,
    /// The session closed its end at this time: flush and finish.
    closing: Option<Instant>,
}

fn blocked(e: &io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted)
}

impl Pump {
    /// Moves bytes until one side closes; the reason, or the error.
    fn run(&mut self) -> io::Result<&'static str> {
        loop {
            let mut progress = false;
            if self.receiving()
                && let Some(why) = self.deliver(&mut progress)?
            {
                return Ok(why);
            }
            self.take_from_session(&mut progress)?;
            self.send_tls(&mut progress)?;
            if self.receiving() {
                self.receive_tls(&mut progress)?;
            }
            if let Some(since) = self.closing {
                if self.outgoing.is_empty() && !self.tls.wants_write() {
                    return Ok("session closed; close_notify sent");
                }
                if since.elapsed() >= CLOSE_FLUSH {
                    return Ok("session closed; the server took too long to read the rest");
                }
            }
            if !progress {
                self.wait()?;
            }
        }
    }

    /// Whether server data is still wanted.
    fn receiving(&self) -> bool {
        self.closing.is_none() && self.session_reading
    }

    /// Server plaintext to the session, as far as the session takes it.
    fn deliver(&mut self, progress: &mut bool) -> io::Result<Option<&'static str>> {
        loop {
            if !self.incoming.is_empty() {
                match self.plain.write(self.incoming.pending()) {
                    Ok(n) => {
                        self.incoming.consume(n);
                        *progress = true;
                        continue;
                    }
                    Err(e) if blocked(&e) => return Ok(None),
                    Err(e)
                        if matches!(
                            e.kind(),
                            ErrorKind::BrokenPipe | ErrorKind::ConnectionReset
                        ) =>
                    {
                        // The session closed (e.g. after its unpublish)
                        // while the server was talking: drop the reply,
                        // still send what the session wrote.
                        self.session_reading = false;
                        self.incoming.consume(self.incoming.pending().len());
                        *progress = true;
                        return Ok(None);
                    }
                    Err(e) => return Err(e),
                }
            }
            match self.incoming.fill(self.tls.reader()) {
                Ok(0) => return Ok(Some("the server sent close_notify")),
                Ok(_) => *progress = true,
                Err(e) if blocked(&e) => return Ok(None),
                // UnexpectedEof: closed without close_notify (a truncation).
                Err(e) => return Err(e),
            }
        }
    }

    /// Session plaintext into rustls, as far as its buffer limit allows.
    fn take_from_session(&mut self, progress: &mut bool) -> io::Result<()> {
        loop {
            if !self.outgoing.is_empty() {
                let n = self.tls.writer().write(self.outgoing.pending())?;
                if n == 0 {
                    return Ok(()); // rustls is full: the server is behind
                }
                self.outgoing.consume(n);
                *progress = true;
                continue;
            }
            if self.closing.is_some() {
                return Ok(());
            }
            match self.outgoing.fill(&self.plain) {
                Ok(0) => {
                    self.closing = Some(Instant::now());
                    self.tls.send_close_notify();
                    *progress = true;
                    return Ok(());
                }
                Ok(_) => *progress = true,
                Err(e) if blocked(&e) => return Ok(()),
                Err(e) => return Err(e),
            }
        }
    }

    /// TLS records to the server, as far as the socket takes them.
    fn send_tls(&mut self, progress: &mut bool) -> io::Result<()> {
        while self.tls.wants_write() {
            match self.tls.write_tls(&mut self.tcp) {
                Ok(_) => *progress = true,
                Err(e) if blocked(&e) => return Ok(()),
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// TLS records from the server, while rustls has room for them.
    fn receive_tls(&mut self, progress: &mut bool) -> io::Result<()> {
        if self.tcp_eof || !self.incoming.is_empty() || !self.tls.wants_read() {
            return Ok(());
        }
        match self.tls.read_tls(&mut self.tcp) {
            Ok(n) => {
                self.tcp_eof = n == 0;
                *progress = true;
                if let Err(e) = self.tls.process_new_packets() {
                    // Send the alert rustls queued, best effort.
                    let _ = self.tls.write_tls(&mut self.tcp);
                    return Err(io::Error::new(ErrorKind::InvalidData, e));
                }
                Ok(())
            }
            Err(e) if blocked(&e) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Sleeps until a socket the pump waits on is ready (or the close
    /// deadline). Only called when nothing moved, so every wait below is on
    /// something that just would have blocked.
    fn wait(&self) -> io::Result<()> {
        let closing = self.closing.is_some();
        let mut plain_events = 0;
        if !closing && self.outgoing.is_empty() {
            plain_events |= libc::POLLIN;
        }
        if self.receiving() && !self.incoming.is_empty() {
            plain_events |= libc::POLLOUT;
        }
        let mut tcp_events = 0;
        if self.receiving() && !self.tcp_eof && self.incoming.is_empty() && self.tls.wants_read() {
            tcp_events |= libc::POLLIN;
        }
        if self.tls.wants_write() {
            tcp_events |= libc::POLLOUT;
        }
        // A negative fd is skipped (poll(2)): no spurious POLLHUP wake-ups
        // from a side nothing is waited on.
        let fd = |events: i16, fd: i32| if events == 0 { -1 } else { fd };
        let mut fds = [
            libc::pollfd {
                fd: fd(plain_events, self.plain.as_raw_fd()),
                events: plain_events,
                revents: 0,
            },
            libc::pollfd {
                fd: fd(tcp_events, self.tcp.as_raw_fd()),
                events: tcp_events,
                revents: 0,
            },
        ];
        let timeout_ms = match self.closing {
            Some(since) => CLOSE_FLUSH.saturating_sub(since.elapsed()).as_millis() as i32 + 1,
            None if plain_events == 0 && tcp_events == 0 => {
                return Err(io::Error::other("TLS pump has nothing to wait for"));
            }
            None => -1,
        };
        // SAFETY: `fds` is a valid array of two pollfd for the whole call.
        let rc = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
        if rc < 0 {
            let e = io::Error::last_os_error();
            if e.kind() != ErrorKind::Interrupted {
                return Err(e);
            }
        }
        Ok(())
    }
}
