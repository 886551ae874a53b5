//! The RTP socket's settings and its send-with-a-short-wait.
//!
//! A keyframe is hundreds of packets handed to the kernel at once. With the
//! default send buffer and a non-blocking socket, the tail of a large
//! keyframe meets EAGAIN on a real NIC and is lost, and the whole GOP after
//! it decodes broken. So the buffer is enlarged, and a packet that still
//! finds it full waits for room briefly (bounded per access unit, so a dead
//! link cannot stall the sink) instead of being dropped at once.

use std::io::{self, ErrorKind};
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use tracing::{debug, info};

use crate::rtp::sdp::IPV4_MULTICAST_TTL;

/// The longest a packet waits for room in the send buffer.
pub const SEND_WAIT: Duration = Duration::from_millis(5);
/// The most one access unit may spend waiting in all; past it, packets that
/// find the buffer full are dropped (counted) as before.
pub const UNIT_WAIT_BUDGET: Duration = Duration::from_millis(20);

/// Applies the send buffer and, for an IPv4 multicast destination, the TTL
/// the SDP announces (RFC 4566 §5.7; the socket default of 1 would keep
/// the stream on the local link whatever the SDP says). Returns the send
/// buffer the kernel granted.
pub fn configure(socket: &UdpSocket, dest: SocketAddr, send_buffer: usize) -> io::Result<usize> {
    if let SocketAddr::V4(v4) = dest
        && v4.ip().is_multicast()
    {
        socket.set_multicast_ttl_v4(u32::from(IPV4_MULTICAST_TTL))?;
    }
    let want = libc::c_int::try_from(send_buffer).unwrap_or(libc::c_int::MAX);
    // SO_SNDBUFFORCE passes net.core.wmem_max where we may (CAP_NET_ADMIN);
    // otherwise SO_SNDBUF gets what the limit allows.
    if setsockopt_int(socket, libc::SO_SNDBUFFORCE, want).is_err() {
        setsockopt_int(socket, libc::SO_SNDBUF, want)?;
    }
    // Linux reports twice the value set (bookkeeping overhead included).
    let granted = getsockopt_int(socket, libc::SO_SNDBUF)? as usize / 2;
    if granted < send_buffer {
        info!(
            requested = send_buffer,
            granted, "RTP send buffer capped by net.core.wmem_max"
        );
    }
    Ok(granted)
}

fn setsockopt_int(socket: &UdpSocket, opt: libc::c_int, v: libc::c_int) -> io::Result<()> {
    // SAFETY: a socket we own, an int option, its exact size.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            opt,
            (&v as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn getsockopt_int(socket: &UdpSocket, opt: libc::c_int) -> io::Result<libc::c_int> {
    let mut v: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: a socket we own; `v` and `len` are valid for the call.
    let rc = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            opt,
            (&mut v as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if rc == 0 {
        Ok(v)
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Waits until `socket` can take a packet, at most `limit`.
pub fn wait_writable(socket: &UdpSocket, limit: Duration) -> bool {
    let mut pfd = libc::pollfd {
        fd: socket.as_raw_fd(),
        events: libc::POLLOUT,
        revents: 0,
    };
    let ms = limit.as_millis().clamp(1, i32::MAX as u128) as libc::c_int;
    // SAFETY: one valid pollfd.
    let rc = unsafe { libc::poll(&mut pfd, 1, ms) };
    rc > 0 && pfd.revents & libc::POLLOUT != 0
}

/// The per-unit wait budget and what it was used for.
#[derive(Debug)]
pub struct WaitBudget {
    until: Instant,
    /// Packets that found the buffer full and waited.
    pub waits: u64,
}

impl Default for WaitBudget {
    fn default() -> Self {
        Self::new()
    }
}

impl WaitBudget {
    pub fn new() -> Self {
        Self {
            until: Instant::now() + UNIT_WAIT_BUDGET,
            waits: 0,
        }
    }

    /// Sends one packet with `send`; on a full buffer (EAGAIN) waits with
    /// `wait` (given the time left, returns whether there is room) and
    /// retries, while the unit's budget lasts. Other errors come back at
    /// once.
    pub fn send(
        &mut self,
        mut send: impl FnMut() -> io::Result<usize>,
        mut wait: impl FnMut(Duration) -> bool,
    ) -> io::Result<usize> {
        loop {
            match send() {
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    let left = self.until.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(e);
                    }
                    self.waits += 1;
                    if !wait(left.min(SEND_WAIT)) {
                        debug!("RTP send buffer still full after waiting");
                    }
                }
                other => return other,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 13, defect 8: a packet that met EAGAIN was dropped at once;
    /// now it waits for room and goes out.
    #[test]
    fn a_full_buffer_is_waited_for_not_dropped() {
        let mut full = 2;
        let mut budget = WaitBudget::new();
        let sent = budget.send(
            || {
                if full > 0 {
                    full -= 1;
                    Err(ErrorKind::WouldBlock.into())
                } else {
                    Ok(1200)
                }
            },
            |_| true,
        );
        assert_eq!(sent.unwrap(), 1200);
        assert_eq!(budget.waits, 2);
    }

    #[test]
    fn the_wait_is_bounded_per_unit() {
        let mut budget = WaitBudget::new();
        let t = Instant::now();
        let r = budget.send(
            || Err(ErrorKind::WouldBlock.into()),
            |d| {
                std::thread::sleep(d);
                false
            },
        );
        assert_eq!(r.unwrap_err().kind(), ErrorKind::WouldBlock);
        assert!(t.elapsed() < UNIT_WAIT_BUDGET * 3, "{:?}", t.elapsed());
        // Other errors are not waited for.
        let mut budget = WaitBudget::new();
        let r = budget.send(|| Err(ErrorKind::ConnectionRefused.into()), |_| true);
        assert_eq!(r.unwrap_err().kind(), ErrorKind::ConnectionRefused);
        assert_eq!(budget.waits, 0);
    }

    /// Issue 13, defect 8: the SDP announced TTL 16 for multicast, the
    /// socket kept the default 1.
    #[test]
    fn multicast_gets_the_announced_ttl_and_the_buffer_grows() {
        let s = UdpSocket::bind("0.0.0.0:0").unwrap();
        let default = getsockopt_int(&s, libc::SO_SNDBUF).unwrap() as usize / 2;
        let granted = configure(&s, "239.1.2.3:5004".parse().unwrap(), 4 << 20).unwrap();
        assert_eq!(s.multicast_ttl_v4().unwrap(), u32::from(IPV4_MULTICAST_TTL));
        assert!(granted >= default, "{granted} < {default}");
        let u = UdpSocket::bind("127.0.0.1:0").unwrap();
        configure(&u, "127.0.0.1:5004".parse().unwrap(), 1 << 20).unwrap();
        assert_eq!(u.multicast_ttl_v4().unwrap(), 1, "unicast: untouched");
    }
}
