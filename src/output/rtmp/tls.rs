//! `rtmps://`: RTMP inside TLS (rustls, ring provider), without changing
//! the session's design. The session keeps a blocking socket, a reader
//! thread on a clone, a closer handle and its write timeout: it gets one
//! end of a `UnixStream` pair, and a small pump thread ([`pump`]) moves
//! bytes between the other end and the TLS connection.
//!
//! Trust: the certificates of `--rtmp-ca` (then the only roots) or the
//! system's roots. A certificate that does not verify ends the attempt with
//! [`TlsError::Handshake`]; there is no fallback to plaintext.

mod pump;

use std::io::{self, ErrorKind};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore};
use tracing::debug;

/// Why the TLS client could not be configured (a config error, exit 2).
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("{path}: not a PEM certificate file: {reason}")]
    Pem { path: PathBuf, reason: String },
    #[error("{path}: no certificate in the file")]
    Empty { path: PathBuf },
    #[error("{path}: certificate {index} rejected: {source}")]
    BadCertificate {
        path: PathBuf,
        index: usize,
        source: rustls::Error,
    },
    #[error("no system root certificates found ({errors} errors); pass --rtmp-ca")]
    NoSystemRoots { errors: usize },
    #[error("TLS configuration: {0}")]
    Config(#[from] rustls::Error),
}

/// Why one TLS connection attempt failed (logged, retried with backoff).
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{host:?} is not a valid TLS server name")]
    ServerName { host: String },
    /// The handshake failed, e.g. the server's certificate did not verify.
    #[error("TLS handshake with {host} failed: {source}")]
    Handshake { host: String, source: rustls::Error },
    #[error("TLS handshake with {host} did not finish within the setup deadline")]
    Deadline { host: String },
    #[error("TLS handshake with {host}: server closed the connection")]
    Closed { host: String },
    #[error("TLS handshake with {host}: {source}")]
    Io { host: String, source: io::Error },
}

/// The TLS client settings shared by every `rtmps://` destination.
#[derive(Debug, Clone)]
pub struct TlsClient {
    config: Arc<ClientConfig>,
}

impl TlsClient {
    /// Roots from `ca_file` (PEM, one or more certificates) or, without it,
    /// the system's (rustls-native-certs).
    pub fn new(ca_file: Option<&Path>) -> Result<Self, TrustError> {
        let roots = match ca_file {
            Some(path) => roots_from_pem(path)?,
            None => system_roots()?,
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Self {
            config: Arc::new(config),
        })
    }
}

fn roots_from_pem(path: &Path) -> Result<RootCertStore, TrustError> {
    use rustls::pki_types::pem::PemObject;
    let pem = std::fs::read(path).map_err(|source| TrustError::Read {
        path: path.to_owned(),
        source,
    })?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TrustError::Pem {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TrustError::Empty {
            path: path.to_owned(),
        });
    }
    let mut roots = RootCertStore::empty();
    for (index, cert) in certs.into_iter().enumerate() {
        roots
            .add(cert)
            .map_err(|source| TrustError::BadCertificate {
                path: path.to_owned(),
                index,
                source,
            })?;
    }
    Ok(roots)
}

fn system_roots() -> Result<RootCertStore, TrustError> {
    let found = rustls_native_certs::load_native_certs();
    for e in &found.errors {
        debug!(error = %e, "skipping a system root certificate source");
    }
    let mut roots = RootCertStore::empty();
    let (added, ignored) = roots.add_parsable_certificates(found.certs);
    if ignored > 0 {
        debug!(
            ignored,
            "system root certificates that do not parse were skipped"
        );
    }
    if added == 0 {
        return Err(TrustError::NoSystemRoots {
            errors: found.errors.len(),
        });
    }
    Ok(roots)
}

/// Tells when the pump thread has ended. It ends by itself within
/// [`pump::CLOSE_FLUSH`] of the session shutting its end's write side
/// (after sending what the session wrote, then `close_notify`), so waiting
/// for it after the unpublish is how those bytes are known to have left
/// before the process exits: a pump thread dies with the process.
#[derive(Debug)]
pub struct PumpDone(std::sync::mpsc::Receiver<()>);

impl PumpDone {
    /// Waits for the pump's end, at most `max`; whether it ended.
    pub fn wait(&self, max: std::time::Duration) -> bool {
        matches!(
            self.0.recv_timeout(max),
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) | Ok(())
        )
    }
}

/// Runs the TLS handshake on `tcp` (server name and SNI from `host`, done by
/// `deadline`), then hands the connection to a pump thread and returns the
/// session's plaintext end and the pump's [`PumpDone`].
pub fn connect(
    mut tcp: TcpStream,
    host: &str,
    client: &TlsClient,
    deadline: Instant,
) -> Result<(UnixStream, PumpDone), TlsError> {
    let name = ServerName::try_from(host.to_owned())
        .map_err(|_| TlsError::ServerName { host: host.into() })?;
    let mut tls = ClientConnection::new(client.config.clone(), name).map_err(|source| {
        TlsError::Handshake {
            host: host.into(),
            source,
        }
    })?;
    handshake(&mut tls, &mut tcp, host, deadline)?;
    debug!(host, version = ?tls.protocol_version(), suite = ?tls.negotiated_cipher_suite().map(|s| s.suite()), "TLS established");
    let io = |source| TlsError::Io {
        host: host.into(),
        source,
    };
    let (session_end, pump_end) = UnixStream::pair().map_err(io)?;
    let (ended, done) = std::sync::mpsc::sync_channel(0);
    pump::spawn(tls, tcp, pump_end, ended).map_err(io)?;
    Ok((session_end, PumpDone(done)))
}

/// The handshake on the blocking socket, each read and write bounded by what
/// is left of the setup deadline (a trickling server cannot hold it).
fn handshake(
    tls: &mut ClientConnection,
    tcp: &mut TcpStream,
    host: &str,
    deadline: Instant,
) -> Result<(), TlsError> {
    let io = |source| TlsError::Io {
        host: host.into(),
        source,
    };
    while tls.is_handshaking() || tls.wants_write() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(TlsError::Deadline { host: host.into() });
        }
        tcp.set_read_timeout(Some(left)).map_err(io)?;
        tcp.set_write_timeout(Some(left)).map_err(io)?;
        if tls.wants_write() {
            match tls.write_tls(tcp) {
                Ok(_) => {}
                Err(e) if retryable(&e) => {}
                Err(e) => return Err(io(e)),
            }
            continue;
        }
        match tls.read_tls(tcp) {
            Ok(0) => return Err(TlsError::Closed { host: host.into() }),
            Ok(_) => {
                if let Err(source) = tls.process_new_packets() {
                    // Tell the server why (the alert rustls queued), best effort.
                    let _ = tls.write_tls(tcp);
                    return Err(TlsError::Handshake {
                        host: host.into(),
                        source,
                    });
                }
            }
            Err(e) if retryable(&e) => {}
            Err(e) => return Err(io(e)),
        }
    }
    Ok(())
}

/// A timed-out or interrupted socket call: try again until the deadline.
fn retryable(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
    )
}

#[cfg(test)]
mod tests;
