//! The UDP receive loop over the RTP and RTCP sockets: blocks in `poll(2)` for
//! the time left (no busy loop) and stops at the first decisive event.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant, SystemTime};

use super::session::Session;
use super::stats::Outcome;

/// Requested receive buffer, so keyframe bursts are not dropped (best effort).
pub const RCVBUF_BYTES: libc::c_int = 4 * 1024 * 1024;
/// Largest UDP datagram.
const MAX_DATAGRAM: usize = 65_536;

/// Resolves `--listen-host`/`--port` to one address.
pub fn resolve(host: &str, port: u16) -> io::Result<SocketAddr> {
    (host, port)
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address"))
}

/// Best-effort SO_RCVBUF; returns the size the kernel reports afterwards.
pub fn enlarge_rcvbuf(sock: &UdpSocket, bytes: libc::c_int) -> Option<libc::c_int> {
    let fd = sock.as_raw_fd();
    let len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: fd is a live socket; the option value is a c_int of the given length.
    let set = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&bytes as *const libc::c_int).cast(),
            len,
        )
    };
    if set != 0 {
        return None;
    }
    let mut actual: libc::c_int = 0;
    let mut actual_len = len;
    // SAFETY: as above, with room for one c_int.
    let got = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&mut actual as *mut libc::c_int).cast(),
            &mut actual_len,
        )
    };
    (got == 0).then_some(actual)
}

/// Receives on the RTP socket (and the RTCP socket, when bound) until an
/// outcome is decided; `start` is the time origin. Waits in `poll(2)` for
/// at most the time left (no busy loop). RTCP is drained before each RTP
/// packet, so a sender report sent before a packet is applied to it.
///
/// With `linger`, a pass does not end the run: it goes on until no RTP
/// packet came for `linger` (or the timeout), then passes; a failure that
/// shows meanwhile (e.g. a strict check) still ends it with that failure.
pub fn receive(
    rtp: &UdpSocket,
    rtcp: Option<&UdpSocket>,
    timeout: Duration,
    start: Instant,
    linger: Option<Duration>,
    session: &mut Session,
) -> io::Result<Outcome> {
    let timeout_deadline = start + timeout;
    let mut passed_at: Option<Instant> = None;
    let mut last_rtp = Instant::now();
    rtp.set_nonblocking(true)?;
    if let Some(s) = rtcp {
        s.set_nonblocking(true)?;
    }
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut any_datagram = false;
    loop {
        let now = Instant::now();
        let deadline = match (passed_at, linger) {
            (Some(_), Some(l)) => timeout_deadline.min(last_rtp + l),
            _ => timeout_deadline,
        };
        // RTCP we owe the sender (PLI, FIR, RR) goes out from the RTCP
        // socket, to where its sender reports came from.
        if let Some(sock) = rtcp {
            let now_ms = start.elapsed().as_secs_f64() * 1000.0;
            session.feedback.tick(now_ms, |bytes, peer| {
                sock.send_to(bytes, peer)
                    .inspect_err(|e| tracing::warn!("RTCP send to {peer}: {e}"))
                    .is_ok()
            });
        }
        let wake = rtcp
            .and(session.feedback.next_due_ms())
            .map_or(deadline, |ms| {
                deadline.min(start + Duration::from_secs_f64(ms.max(0.0) / 1000.0))
            });
        if now >= deadline {
            if passed_at.is_some() {
                return Ok(Outcome::Pass);
            }
            return Ok(if any_datagram {
                Outcome::ThresholdNotMet
            } else {
                Outcome::Timeout
            });
        }
        let (rtp_ready, rtcp_ready) =
            wait_readable(rtp, rtcp, wake.saturating_duration_since(now))?;
        if let (true, Some(sock)) = (rtcp_ready, rtcp) {
            while let Some((len, peer)) = recv_now(sock, &mut buf)? {
                any_datagram = true;
                let at_ms = start.elapsed().as_secs_f64() * 1000.0;
                session.on_rtcp_from(&buf[..len], Some(peer), at_ms);
            }
        }
        if rtp_ready && let Some((len, _)) = recv_now(rtp, &mut buf)? {
            any_datagram = true;
            let arrival = SystemTime::now();
            let at_ms = start.elapsed().as_secs_f64() * 1000.0;
            last_rtp = Instant::now();
            match session.on_rtp(&buf[..len], at_ms, arrival) {
                Some(Outcome::Pass) if linger.is_some() => {
                    passed_at.get_or_insert_with(Instant::now);
                }
                Some(outcome) => return Ok(outcome),
                None => {}
            }
        }
    }
}

/// One datagram and its source if one is queued; `None` when none is.
fn recv_now(sock: &UdpSocket, buf: &mut [u8]) -> io::Result<Option<(usize, SocketAddr)>> {
    match sock.recv_from(buf) {
        Ok((len, peer)) => Ok(Some((len, peer))),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
            ) =>
        {
            Ok(None)
        }
        // An ICMP error queued on the socket (e.g. port unreachable): not ours to judge.
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => Ok(None),
        Err(e) => Err(e),
    }
}

/// `poll(2)` on both sockets for at most `left`; which are readable.
fn wait_readable(
    rtp: &UdpSocket,
    rtcp: Option<&UdpSocket>,
    left: Duration,
) -> io::Result<(bool, bool)> {
    let fd = |s: &UdpSocket| libc::pollfd {
        fd: s.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let mut fds = [
        fd(rtp),
        rtcp.map_or(
            libc::pollfd {
                fd: -1,
                events: 0,
                revents: 0,
            },
            fd,
        ),
    ];
    // Round up so that a wait never ends just before the deadline.
    let ms = left.as_micros().div_ceil(1000).min(i32::MAX as u128) as libc::c_int;
    // SAFETY: fds is a valid array of 2 pollfd (a negative fd is ignored by poll).
    let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
    if n < 0 {
        let e = io::Error::last_os_error();
        return if e.kind() == io::ErrorKind::Interrupted {
            Ok((false, false))
        } else {
            Err(e)
        };
    }
    let ready = |p: &libc::pollfd| p.revents & (libc::POLLIN | libc::POLLERR) != 0;
    Ok((ready(&fds[0]), ready(&fds[1])))
}
