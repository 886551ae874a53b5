//! The RTMP stub's chunk stream reader (RTMP 1.0 §5.3: basic and message
//! headers of types 0-3, extended timestamps, the peer's Set Chunk Size):
//! `rtmp_stub::chunk::Conn::read_message`, fed over a real loopback TCP
//! connection (the stub's connection type is a `TcpStream`).
//!
//! Input: `u8` initial chunk size choice, then the publisher's bytes after
//! the handshake.
//!
//! Invariants: messages never exceed the 24-bit length; the reader applies
//! Set Chunk Size as the server does; a stream that simply ends was read to
//! its last byte.
#![no_main]

use std::time::{Duration, Instant};

use cvmmap_fuzz::{Input, loopback};
use cvmmap_testers::rtmp_stub::chunk::{Conn, ConnError, MAX_MESSAGE_LEN};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let choice = input.u8();
    let stream = input.rest();
    let (client, server) = loopback::pair();
    let feeder = loopback::feed(client, stream.to_vec());
    let mut conn = Conn::new(Box::new(server), Instant::now() + Duration::from_secs(10));
    if choice != 0 {
        conn.in_chunk_size = 1 << (choice % 17);
    }
    let mut payload_bytes = 0usize;
    let end = loop {
        match conn.read_message() {
            Ok(m) => {
                assert!(m.payload.len() <= MAX_MESSAGE_LEN);
                assert!((2..=65599).contains(&m.csid));
                payload_bytes += m.payload.len();
                if m.type_id == 1 {
                    // As the server: 31-bit, non-zero.
                    let Some(b) = m.payload.get(..4) else {
                        break None;
                    };
                    let n = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
                    if n == 0 || n & 0x8000_0000 != 0 {
                        break None;
                    }
                    conn.in_chunk_size = n as usize;
                }
            }
            Err(e) => break Some(e),
        }
    };
    assert!(payload_bytes <= stream.len());
    let bytes_in = conn.bytes_in;
    drop(conn);
    feeder.join().expect("feeder thread");
    match end {
        Some(ConnError::Closed) => assert_eq!(bytes_in, stream.len() as u64),
        Some(ConnError::Timeout) => {
            panic!("read timed out: the reader waited for bytes that never come")
        }
        Some(ConnError::Io(e)) => panic!("I/O error on loopback: {e}"),
        Some(ConnError::Protocol(_)) | None => {}
    }
});
