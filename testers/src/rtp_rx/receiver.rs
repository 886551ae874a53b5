//! The UDP receive loop: blocks with a read timeout equal to the time left
//! (no busy loop) and stops at the first decisive event.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use super::cli::RxArgs;
use super::header;
use super::stats::{Outcome, RxStats};

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

/// Receives on `sock` until an outcome is decided; `start` is the time origin.
pub fn receive(
    sock: &UdpSocket,
    args: &RxArgs,
    start: Instant,
    stats: &mut RxStats,
) -> io::Result<Outcome> {
    let deadline = start + args.timeout();
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut any_datagram = false;
    loop {
        let now = Instant::now();
        if now >= deadline {
            return Ok(if any_datagram {
                Outcome::ThresholdNotMet
            } else {
                Outcome::Timeout
            });
        }
        // A zero timeout is an error for set_read_timeout: wait at least 1 ms.
        sock.set_read_timeout(Some((deadline - now).max(Duration::from_millis(1))))?;
        let len = match sock.recv_from(&mut buf) {
            Ok((len, _peer)) => len,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) =>
            {
                continue;
            }
            Err(e) => return Err(e),
        };
        any_datagram = true;
        match header::parse(&buf[..len]) {
            Ok(h) => {
                let at_ms = start.elapsed().as_secs_f64() * 1000.0;
                stats.record(&h, len, args.expect_pt, at_ms);
                if h.payload_type != args.expect_pt {
                    return Ok(Outcome::PtMismatch);
                }
                if stats.matching_packets >= args.packet_threshold {
                    return Ok(Outcome::Pass);
                }
            }
            Err(e) => {
                stats.invalid_packets += 1;
                tracing::debug!("invalid packet of {len} bytes: {e}");
            }
        }
    }
}
