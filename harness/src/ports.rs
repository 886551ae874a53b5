//! Ports on 127.0.0.1 chosen by the OS (bind port 0), and checks that a
//! peer has bound its socket, read from /proc/net so that nothing is sent to
//! a port before its receiver listens.

use std::net::{TcpListener, UdpSocket};
use std::time::{Duration, Instant};

/// An even UDP port P with P+1 also free: RTP on P, RTCP on P+1 (the
/// receiver binds P+1 by default). Both are released before returning, so
/// another process could take them in between; the retry loop and the
/// OS's random ephemeral choice make that unlikely, and a taken port shows
/// up as a receiver that cannot bind (a failed row with a reason), never as
/// a silent pass.
pub fn free_udp_pair() -> std::io::Result<u16> {
    let mut last_err = None;
    for _ in 0..64 {
        let a = UdpSocket::bind("127.0.0.1:0")?;
        let port = a.local_addr()?.port();
        if port % 2 != 0 || port == u16::MAX {
            continue;
        }
        match UdpSocket::bind(("127.0.0.1", port + 1)) {
            Ok(_b) => return Ok(port),
            Err(e) => last_err = Some(e),
        }
    }
    Err(last_err.unwrap_or_else(|| std::io::Error::other("no free even UDP port pair")))
}

/// A TCP port that was free a moment ago.
pub fn free_tcp_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Whether a socket is bound to `port` in /proc/net/{udp,udp6} (`udp`) or
/// listening on it in /proc/net/{tcp,tcp6}.
fn bound(port: u16, udp: bool) -> bool {
    let files: [&str; 2] = if udp {
        ["/proc/net/udp", "/proc/net/udp6"]
    } else {
        ["/proc/net/tcp", "/proc/net/tcp6"]
    };
    let needle = format!(":{port:04X}");
    files.iter().any(|f| {
        std::fs::read_to_string(f).is_ok_and(|text| {
            text.lines().skip(1).any(|line| {
                let cols: Vec<&str> = line.split_whitespace().collect();
                // TCP state 0A is LISTEN; UDP sockets have no such state.
                cols.len() > 3 && cols[1].ends_with(&needle) && (udp || cols[3] == "0A")
            })
        })
    })
}

/// Waits until some socket is bound to UDP `port`; false on timeout or
/// interrupt.
pub fn wait_udp_bound(port: u16, timeout: Duration) -> bool {
    wait(timeout, || bound(port, true))
}

/// Waits until some socket listens on TCP `port`.
pub fn wait_tcp_listening(port: u16, timeout: Duration) -> bool {
    wait(timeout, || bound(port, false))
}

fn wait(timeout: Duration, mut ready: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if ready() {
            return true;
        }
        if Instant::now() >= deadline || !crate::interrupt::sleep(Duration::from_millis(20)) {
            return false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn udp_pair_is_even_and_free() {
        let p = free_udp_pair().unwrap();
        assert_eq!(p % 2, 0);
        let _a = UdpSocket::bind(("127.0.0.1", p)).unwrap();
        let _b = UdpSocket::bind(("127.0.0.1", p + 1)).unwrap();
        assert!(wait_udp_bound(p, Duration::from_secs(1)));
    }

    #[test]
    fn sees_a_tcp_listener() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        assert!(wait_tcp_listening(port, Duration::from_secs(1)));
    }
}
