//! A minimal NATS publisher for fault injection: the client protocol is
//! text over TCP (`INFO` from the server, then `CONNECT {..}`, `PUB subject
//! reply n` + payload, `PING`/`PONG`; NATS client protocol docs), so a flood
//! needs no client library. Requests are published with a reply subject
//! nobody listens on: the service still handles each one.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// What a flood did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flood {
    pub sent: u64,
    pub started_unix_ns: u64,
    pub ended_unix_ns: u64,
}

/// `nats://host:port` to `host:port`.
fn addr(url: &str) -> &str {
    url.strip_prefix("nats://").unwrap_or(url)
}

/// Publishes an empty request to `subject` `rate_hz` times a second for
/// `duration` (absolute deadlines, no drift), then round-trips a PING so
/// that everything sent was processed by the server.
pub fn flood(url: &str, subject: &str, rate_hz: u32, duration: Duration) -> std::io::Result<Flood> {
    let stream = TcpStream::connect(addr(url))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.set_nodelay(true)?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    let mut line = String::new();
    reader.read_line(&mut line)?;
    if !line.starts_with("INFO ") {
        return Err(std::io::Error::other(format!(
            "not a NATS server: {:?}",
            line.trim_end()
        )));
    }
    writer.write_all(
        b"CONNECT {\"verbose\":false,\"pedantic\":false,\"name\":\"harness keyframe flood\"}\r\n",
    )?;
    let period = Duration::from_secs_f64(1.0 / f64::from(rate_hz.max(1)));
    let start = Instant::now();
    let started_unix_ns = crate::clock::unix_ns();
    let mut sent = 0u64;
    while start.elapsed() < duration {
        let due = start + period * u32::try_from(sent).unwrap_or(u32::MAX);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        write!(
            writer,
            "PUB {subject} _INBOX.harness.flood.{sent} 0\r\n\r\n"
        )?;
        sent += 1;
    }
    writer.write_all(b"PING\r\n")?;
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        match line.trim_end() {
            "PONG" => break,
            "PING" => writer.write_all(b"PONG\r\n")?,
            l if l.starts_with("-ERR") => return Err(std::io::Error::other(l.to_owned())),
            _ => {}
        }
    }
    Ok(Flood {
        sent,
        started_unix_ns,
        ended_unix_ns: crate::clock::unix_ns(),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn urls_become_addresses() {
        assert_eq!(super::addr("nats://127.0.0.1:4222"), "127.0.0.1:4222");
        assert_eq!(super::addr("127.0.0.1:1"), "127.0.0.1:1");
    }
}
