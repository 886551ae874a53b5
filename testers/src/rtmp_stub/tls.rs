//! `--tls`: RTMP over TLS (RTMPS) with rustls. The certificate is made at
//! start (rcgen, self-signed, for `localhost` and `127.0.0.1`) and its PEM
//! written to `--tls-cert-out`, so a test can trust exactly it.
//!
//! The stub reads and writes its socket from one thread with per-call
//! timeouts, so a rustls `StreamOwned` over the `TcpStream` is enough: the
//! timeouts stay on the TCP socket ([`Socket`]).

use std::io::{self, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ServerConfig, ServerConnection, StreamOwned};

/// The names the certificate is valid for.
pub const CERT_NAMES: [&str; 2] = ["localhost", "127.0.0.1"];

/// What [`super::chunk::Conn`] reads and writes: the TCP socket or TLS on it.
pub trait Socket: Read + Write + Send {
    fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()>;
    fn set_write_timeout(&self, t: Option<Duration>) -> io::Result<()>;
    /// Before the socket is dropped: TLS sends close_notify (RFC 8446
    /// §6.1), so the publisher can tell our close from a truncation.
    fn finish(&mut self) {}
}

impl Socket for TcpStream {
    fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        TcpStream::set_read_timeout(self, t)
    }
    fn set_write_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        TcpStream::set_write_timeout(self, t)
    }
}

pub type TlsStream = StreamOwned<ServerConnection, TcpStream>;

impl Socket for TlsStream {
    fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        self.sock.set_read_timeout(t)
    }
    fn set_write_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        self.sock.set_write_timeout(t)
    }
    fn finish(&mut self) {
        self.conn.send_close_notify();
        let _ = self
            .sock
            .set_write_timeout(Some(Duration::from_millis(200)));
        while self.conn.wants_write() && self.conn.write_tls(&mut self.sock).is_ok_and(|n| n > 0) {}
    }
}

/// A fresh self-signed certificate and the server configuration using it;
/// the certificate's PEM is returned for `--tls-cert-out`.
pub fn self_signed() -> Result<(Arc<ServerConfig>, String), String> {
    let names: Vec<String> = CERT_NAMES.iter().map(|s| (*s).to_owned()).collect();
    let rcgen_err = |e: rcgen::Error| format!("rcgen: {e}");
    let mut params = rcgen::CertificateParams::new(names).map_err(rcgen_err)?;
    // A name of its own: another run's certificate is then an unknown
    // issuer to a client trusting this one, not a same-named impostor.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    params.distinguished_name.push(
        rcgen::DnType::CommonName,
        format!("rtmp_stub_tester {} {}", std::process::id(), now.as_nanos()),
    );
    let key_pair = rcgen::KeyPair::generate().map_err(rcgen_err)?;
    let cert = params.self_signed(&key_pair).map_err(rcgen_err)?;
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_pair.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(vec![cert.der().clone()], key)
        .map_err(|e| e.to_string())?;
    Ok((Arc::new(config), cert.pem()))
}

/// Writes the certificate where the test reads it (whole, then renamed, so
/// a reader never sees half a file).
pub fn write_cert(path: &Path, pem: &str) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, pem)?;
    std::fs::rename(&tmp, path)
}

/// The server side of the TLS handshake, bounded by `deadline`.
pub fn accept(
    config: &Arc<ServerConfig>,
    mut tcp: TcpStream,
    deadline: Instant,
) -> Result<TlsStream, String> {
    let mut tls = ServerConnection::new(config.clone()).map_err(|e| e.to_string())?;
    while tls.is_handshaking() || tls.wants_write() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err("TLS handshake: timeout".into());
        }
        let _ = tcp.set_read_timeout(Some(left));
        let _ = tcp.set_write_timeout(Some(left));
        let res = if tls.wants_write() {
            tls.write_tls(&mut tcp)
        } else {
            match tls.read_tls(&mut tcp) {
                Ok(0) => return Err("TLS handshake: the client closed the connection".into()),
                Ok(n) => tls.process_new_packets().map(|_| n).map_err(|e| {
                    let _ = tls.write_tls(&mut tcp); // our alert, best effort
                    io::Error::new(ErrorKind::InvalidData, e)
                }),
                Err(e) => Err(e),
            }
        };
        match res {
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => return Err(format!("TLS handshake: {e}")),
        }
    }
    Ok(StreamOwned::new(tls, tcp))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_certificate_is_pem_for_localhost() {
        let (_config, pem) = self_signed().unwrap();
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
        assert!(pem.trim_end().ends_with("-----END CERTIFICATE-----"));
    }
}
