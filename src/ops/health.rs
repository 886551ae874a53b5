//! `cvmmap_streamer healthcheck [HOST:PORT]`: asks a running streamer's
//! `/healthz` (the `--metrics-addr` server) and answers with the exit code,
//! so a container's HEALTHCHECK needs no curl or wget in the image.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

/// Connect, send and read, each at most this long (a wedged streamer must
/// fail the probe, not hang it).
const TIMEOUT: Duration = Duration::from_secs(2);
/// Enough for the status line and headers of the answer.
const MAX_ANSWER: u64 = 4096;

#[derive(Debug, thiserror::Error)]
pub enum HealthError {
    #[error("no address: give HOST:PORT or set CVMMAP_METRICS_ADDR")]
    NoAddress,
    #[error("{addr:?} is not HOST:PORT")]
    BadAddress { addr: String },
    #[error("{addr}: {source}")]
    Io {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("{addr}: /healthz answered {status:?}")]
    Unhealthy { addr: SocketAddr, status: String },
}

/// Where to ask: a wildcard listen address (0.0.0.0, ::) is asked on the
/// loopback address of its family.
pub fn target(addr: &str) -> Result<SocketAddr, HealthError> {
    let bad = || HealthError::BadAddress {
        addr: addr.to_owned(),
    };
    let mut a = addr
        .to_socket_addrs()
        .map_err(|_| bad())?
        .next()
        .ok_or_else(bad)?;
    if a.ip().is_unspecified() {
        a.set_ip(match a.ip() {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
        });
    }
    Ok(a)
}

/// `GET /healthz`: Ok on 200.
pub fn check(addr: SocketAddr) -> Result<(), HealthError> {
    let io = |source| HealthError::Io { addr, source };
    let mut s = TcpStream::connect_timeout(&addr, TIMEOUT).map_err(io)?;
    s.set_read_timeout(Some(TIMEOUT)).map_err(io)?;
    s.set_write_timeout(Some(TIMEOUT)).map_err(io)?;
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .map_err(io)?;
    let mut answer = Vec::new();
    s.take(MAX_ANSWER).read_to_end(&mut answer).map_err(io)?;
    let status = String::from_utf8_lossy(&answer)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    if status.split(' ').nth(1) == Some("200") {
        Ok(())
    } else {
        Err(HealthError::Unhealthy { addr, status })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_are_asked_on_loopback() {
        assert_eq!(
            target("0.0.0.0:9464").unwrap(),
            "127.0.0.1:9464".parse().unwrap()
        );
        assert_eq!(target("[::]:9464").unwrap(), "[::1]:9464".parse().unwrap());
        assert_eq!(
            target("127.0.0.2:1").unwrap(),
            "127.0.0.2:1".parse().unwrap()
        );
        assert!(matches!(
            target("nonsense"),
            Err(HealthError::BadAddress { .. })
        ));
    }

    #[test]
    fn a_closed_port_is_unhealthy() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        drop(l);
        assert!(matches!(check(addr), Err(HealthError::Io { .. })));
    }
}
