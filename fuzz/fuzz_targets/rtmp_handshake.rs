//! RTMP client handshake (RTMP 1.0 §5.2): `rtmp::ClientHandshake::push`
//! with the server's S0/S1/S2 bytes arriving in arbitrary pieces.
//!
//! Input: a `u8` count of step bytes, the steps, then the server's bytes.
//!
//! Invariants: the outcome does not depend on how the bytes are split; C2 is
//! sent exactly once and echoes S1; `Done` comes exactly when S0+S1+S2 are in
//! and hands over every byte after them; wrong versions are rejected.
#![no_main]

use cvmmap_fuzz::{Input, pieces};
use cvmmap_streamer::rtmp::handshake::{HANDSHAKE_SIZE, RANDOM_SIZE};
use cvmmap_streamer::rtmp::{ClientHandshake, HandshakeError, HandshakeStep};
use libfuzzer_sys::fuzz_target;

/// (bytes sent, leftover once done, error) after pushing `pieces` in order.
fn run(parts: &[&[u8]]) -> (Vec<u8>, Option<Vec<u8>>, Option<HandshakeError>) {
    let mut hs = ClientHandshake::new(1234, &[7u8; RANDOM_SIZE]);
    let c0c1 = hs.c0_c1();
    assert_eq!(c0c1.len(), 1 + HANDSHAKE_SIZE);
    assert_eq!(c0c1[0], 3);
    let mut sent = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        match hs.push(part) {
            Ok(HandshakeStep::Continue { send }) => {
                assert!(!hs.is_done());
                sent.extend_from_slice(&send);
            }
            Ok(HandshakeStep::Done { send, leftover }) => {
                assert!(hs.is_done());
                sent.extend_from_slice(&send);
                // Later bytes belong to the chunk stream, not the handshake.
                let mut leftover = leftover;
                for later in &parts[i + 1..] {
                    leftover.extend_from_slice(later);
                }
                assert_eq!(hs.push(b"x"), Err(HandshakeError::AlreadyDone));
                return (sent, Some(leftover), None);
            }
            Err(e) => return (sent, None, Some(e)),
        }
    }
    (sent, None, None)
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let n = usize::from(input.u8() % 16);
    let steps = input.take(n);
    let server = input.rest();
    let whole = run(&[server]);
    let split = run(&pieces(server, steps));
    assert_eq!(whole, split);

    let (sent, leftover, error) = whole;
    match server.first() {
        Some(&v) if v != 3 => assert_eq!(error, Some(HandshakeError::UnsupportedVersion(v))),
        _ => assert_eq!(error, None),
    }
    if error.is_none() {
        let s1_end = 1 + HANDSHAKE_SIZE;
        if server.len() >= s1_end {
            assert_eq!(sent, server[1..s1_end]);
        } else {
            assert!(sent.is_empty());
        }
        let end = 1 + 2 * HANDSHAKE_SIZE;
        match leftover {
            Some(rest) => assert_eq!(rest, server[end..]),
            None => assert!(server.len() < end),
        }
    }
});
