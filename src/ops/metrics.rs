//! `--metrics-addr HOST:PORT`: a small HTTP/1.1 server on its own thread.
//!
//! - `GET /metrics`: the Prometheus text format ([`crate::telemetry::prometheus`]);
//! - `GET /healthz`: 200 while the pipeline runs (the server lives as long
//!   as it does);
//! - `GET /readyz`: 200 once a frame has been encoded, 503 before.
//!
//! One request per connection (`Connection: close`), one connection at a
//! time, each bounded by a 2 s read and write timeout: a slow or silent
//! client costs at most that, never the pipeline. Requests are read up to
//! 8 KiB; anything else gets 400, 404 or 405.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use tracing::{debug, info, warn};

use crate::telemetry::prometheus::{self, Scrape};

const IO_TIMEOUT: Duration = Duration::from_secs(2);
const MAX_REQUEST: usize = 8 << 10;

/// Where a scrape's figures come from (called per request).
pub type ScrapeSource = Arc<dyn Fn() -> Scrape + Send + Sync>;

#[derive(Debug, thiserror::Error)]
#[error("--metrics-addr {addr}: cannot listen: {source}")]
pub struct MetricsError {
    pub addr: SocketAddr,
    pub source: std::io::Error,
}

/// The running server; stops when dropped.
pub struct MetricsServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl MetricsServer {
    /// Listens on `addr` (port 0: any free port) and serves `source`.
    pub fn start(addr: SocketAddr, source: ScrapeSource) -> Result<Self, MetricsError> {
        let listener = TcpListener::bind(addr).map_err(|source| MetricsError { addr, source })?;
        let bound = listener
            .local_addr()
            .map_err(|source| MetricsError { addr, source })?;
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("metrics".into())
                .spawn(move || serve(listener, &stop, &source))
                .map_err(|source| MetricsError { addr, source })?
        };
        info!(addr = %bound, "metrics on http://{bound}/metrics (/healthz, /readyz)");
        Ok(Self {
            addr: bound,
            stop,
            thread: Some(thread),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wake the blocking accept with a connection of our own.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(listener: TcpListener, stop: &AtomicBool, source: &ScrapeSource) {
    for conn in listener.incoming() {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        match conn {
            Ok(stream) => {
                if let Err(e) = handle(stream, source) {
                    debug!(error = %e, "metrics request");
                }
            }
            Err(e) => warn!(error = %e, "metrics accept"),
        }
    }
}

/// The request line's method and path, from the bytes up to the blank line.
pub fn request_target(head: &[u8]) -> Option<(&str, &str)> {
    let line = std::str::from_utf8(head).ok()?.lines().next()?;
    let mut parts = line.split(' ');
    let (method, target, version) = (parts.next()?, parts.next()?, parts.next()?);
    (version.starts_with("HTTP/1.") && parts.next().is_none()).then_some(())?;
    // The path without a query.
    Some((method, target.split('?').next().unwrap_or(target)))
}

fn handle(mut stream: TcpStream, source: &ScrapeSource) -> std::io::Result<()> {
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
        if head.len() > MAX_REQUEST {
            return respond(&mut stream, 400, "text/plain", "request too large\n", false);
        }
    }
    let Some((method, path)) = request_target(&head) else {
        return respond(&mut stream, 400, "text/plain", "bad request\n", false);
    };
    let body_too = method == "GET";
    if method != "GET" && method != "HEAD" {
        return respond(&mut stream, 405, "text/plain", "GET or HEAD\n", true);
    }
    match path {
        "/metrics" => {
            let text = prometheus::render(&source());
            respond(
                &mut stream,
                200,
                "text/plain; version=0.0.4; charset=utf-8",
                &text,
                body_too,
            )
        }
        "/healthz" => respond(&mut stream, 200, "text/plain", "ok\n", body_too),
        "/readyz" => {
            if source().ready {
                respond(&mut stream, 200, "text/plain", "ready\n", body_too)
            } else {
                respond(
                    &mut stream,
                    503,
                    "text/plain",
                    "not ready: no frame encoded yet\n",
                    body_too,
                )
            }
        }
        _ => respond(
            &mut stream,
            404,
            "text/plain",
            "not found: /metrics, /healthz, /readyz\n",
            body_too,
        ),
    }
}

fn respond(
    stream: &mut TcpStream,
    code: u16,
    kind: &str,
    body: &str,
    with_body: bool,
) -> std::io::Result<()> {
    let reason = match code {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Service Unavailable",
    };
    let head = format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    if with_body {
        stream.write_all(body.as_bytes())?;
    }
    stream.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_lines_parse_and_junk_does_not() {
        assert_eq!(
            request_target(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"),
            Some(("GET", "/metrics"))
        );
        assert_eq!(
            request_target(b"HEAD /readyz?x=1 HTTP/1.0\r\n\r\n"),
            Some(("HEAD", "/readyz"))
        );
        assert_eq!(request_target(b"GET /metrics\r\n\r\n"), None);
        assert_eq!(request_target(b"GET / HTTP/1.1 extra\r\n\r\n"), None);
        assert_eq!(request_target(&[0xff, 0xfe]), None);
        assert_eq!(request_target(b""), None);
    }
}
