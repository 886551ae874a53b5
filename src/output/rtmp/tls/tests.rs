use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ServerConfig, ServerConnection, StreamOwned};

use super::*;

/// A self-signed certificate for 127.0.0.1: the server's settings and the
/// PEM a client may trust.
fn certificate() -> (Arc<ServerConfig>, String) {
    let ck =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(ck.key_pair.serialize_der()));
    let config =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![ck.cert.der().clone()], key)
            .unwrap();
    (Arc::new(config), ck.cert.pem())
}

fn ca_file(tag: &str, pem: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cvmmap-tls-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("ca.pem");
    std::fs::write(&path, pem).unwrap();
    path
}

/// A one-connection TLS server running `serve` on the accepted stream (its
/// result is what the handshake and `serve` gave).
fn server<T: Send + 'static>(
    config: Arc<ServerConfig>,
    serve: impl FnOnce(&mut StreamOwned<ServerConnection, TcpStream>) -> T + Send + 'static,
) -> (u16, JoinHandle<Result<T, std::io::Error>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let (tcp, _) = listener.accept()?;
        tcp.set_read_timeout(Some(Duration::from_secs(10)))?;
        let mut tls = StreamOwned::new(ServerConnection::new(config).unwrap(), tcp);
        while tls.conn.is_handshaking() {
            tls.conn.complete_io(&mut tls.sock)?;
        }
        Ok(serve(&mut tls))
    });
    (port, handle)
}

fn open(port: u16, client: &TlsClient) -> Result<UnixStream, TlsError> {
    let tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
    connect(
        tcp,
        "127.0.0.1",
        client,
        Instant::now() + Duration::from_secs(5),
    )
    .map(|(plain, _pump)| plain)
}

#[test]
fn bytes_cross_both_ways_and_closing_sends_close_notify() {
    let (config, pem) = certificate();
    let client = TlsClient::new(Some(&ca_file("rt", &pem))).unwrap();
    let (port, srv) = server(config, |tls| {
        let mut got = [0u8; 5];
        tls.read_exact(&mut got).unwrap();
        tls.write_all(b"world").unwrap();
        tls.flush().unwrap();
        // RFC 8446 §6.1: Ok(0) only after close_notify; a bare TCP close
        // is an UnexpectedEof error in rustls.
        let mut rest = [0u8; 16];
        (got, tls.read(&mut rest).map_err(|e| e.kind()))
    });
    let mut plain = open(port, &client).unwrap();
    plain.write_all(b"hello").unwrap();
    let mut reply = [0u8; 5];
    plain.read_exact(&mut reply).unwrap();
    assert_eq!(&reply, b"world");
    plain.shutdown(Shutdown::Both).unwrap();
    let (got, end) = srv.join().unwrap().unwrap();
    assert_eq!(&got, b"hello");
    assert_eq!(end, Ok(0), "no close_notify");
}

/// The last bytes a session writes before it shuts its write side (the
/// unpublish) are with the pump thread only: `PumpDone` says when they and
/// close_notify have left, so the process does not exit before.
#[test]
fn the_pump_ends_after_sending_the_last_bytes_and_says_so() {
    let (config, pem) = certificate();
    let client = TlsClient::new(Some(&ca_file("done", &pem))).unwrap();
    let (port, srv) = server(config, |tls| {
        let mut all = Vec::new();
        let end = tls.read_to_end(&mut all).map_err(|e| e.kind());
        (all, end)
    });
    let tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let (mut plain, done) = connect(
        tcp,
        "127.0.0.1",
        &client,
        Instant::now() + Duration::from_secs(5),
    )
    .unwrap();
    plain.write_all(&[7u8; 100_000]).unwrap();
    plain.shutdown(Shutdown::Write).unwrap();
    assert!(done.wait(Duration::from_secs(5)), "the pump did not end");
    let (all, end) = srv.join().unwrap().unwrap();
    assert_eq!(all.len(), 100_000);
    assert_eq!(end, Ok(100_000), "ended by close_notify");
}

#[test]
fn an_untrusted_certificate_fails_the_handshake() {
    let (config, _) = certificate();
    let (_, other_pem) = certificate();
    let client = TlsClient::new(Some(&ca_file("untrusted", &other_pem))).unwrap();
    let (port, srv) = server(config, |_| ());
    let err = open(port, &client).expect_err("must not connect");
    assert!(
        matches!(
            &err,
            TlsError::Handshake {
                source: rustls::Error::InvalidCertificate(_),
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("certificate"), "{err}");
    // The server saw our alert, not plaintext.
    assert!(srv.join().unwrap().is_err());
}

#[test]
fn the_server_name_is_checked() {
    let (config, pem) = certificate();
    let client = TlsClient::new(Some(&ca_file("name", &pem))).unwrap();
    let (port, _srv) = server(config, |_| ());
    let tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    let err = connect(tcp, "cam.example.com", &client, deadline).expect_err("wrong name");
    assert!(
        matches!(
            &err,
            TlsError::Handshake {
                source: rustls::Error::InvalidCertificate(_),
                ..
            }
        ),
        "{err:?}"
    );
}

/// A server that stops reading: the session's writes block (bounded
/// buffering), its write timeout applies, and the closer wakes a blocked
/// write at once.
#[test]
fn a_stalled_server_blocks_the_writer_and_the_closer_wakes_it() {
    let (config, pem) = certificate();
    let client = TlsClient::new(Some(&ca_file("stall", &pem))).unwrap();
    let (release, wait) = std::sync::mpsc::channel::<()>();
    let (port, srv) = server(config, move |_| {
        let _ = wait.recv();
    });
    let mut plain = open(port, &client).unwrap();
    plain
        .set_write_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let chunk = vec![0x5a; 64 * 1024];
    let mut sent = 0usize;
    let err = loop {
        match plain.write(&chunk) {
            Ok(n) => sent += n,
            Err(e) => break e,
        }
        assert!(sent < 64 << 20, "writes never block: {sent} bytes");
    };
    assert!(
        matches!(
            err.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
        "{err}"
    );

    plain
        .set_write_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let closer = plain.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        let t = Instant::now();
        let r = plain.write_all(&chunk);
        (r.is_err(), t.elapsed())
    });
    std::thread::sleep(Duration::from_millis(200));
    closer.shutdown(Shutdown::Both).unwrap();
    let (failed, took) = writer.join().unwrap();
    assert!(failed && took < Duration::from_secs(5), "{took:?}");
    release.send(()).unwrap();
    srv.join().unwrap().unwrap();
}

#[test]
fn bad_ca_files_are_refused() {
    let err = TlsClient::new(Some(Path::new("/nonexistent/ca.pem"))).unwrap_err();
    assert!(matches!(err, TrustError::Read { .. }), "{err}");
    let err = TlsClient::new(Some(&ca_file("empty", "no pem here\n"))).unwrap_err();
    assert!(matches!(err, TrustError::Empty { .. }), "{err}");
    let bad = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    let err = TlsClient::new(Some(&ca_file("bad", bad))).unwrap_err();
    assert!(
        matches!(
            err,
            TrustError::BadCertificate { .. } | TrustError::Pem { .. }
        ),
        "{err}"
    );
}
