//! Client side of the simple RTMP handshake (RTMP spec 1.0 §5.2).
//!
//! ```text
//! client                       server
//!   C0 (version 3) + C1  --->
//!                        <---  S0 + S1
//!   C2 (echo of S1)      --->                (sent as soon as S1 is in)
//!                        <---  S2 (echo of C1)
//! ```
//!
//! C1/S1/S2/C2 are 1536 bytes: 4-byte time, 4 bytes (zero in C1), 1528
//! random bytes (§5.2.3, §5.2.4). S2 is not checked against C1: servers
//! using the "complex" (digest) handshake do not echo it verbatim.

use thiserror::Error;

/// RTMP version sent in C0 and required in S0 (§5.2.2).
pub const RTMP_VERSION: u8 = 3;
/// Size of C1, S1, C2 and S2 (§5.2.3).
pub const HANDSHAKE_SIZE: usize = 1536;
/// Random bytes in C1.
pub const RANDOM_SIZE: usize = HANDSHAKE_SIZE - 8;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HandshakeError {
    #[error("server speaks RTMP version {0}, expected 3")]
    UnsupportedVersion(u8),
    #[error("handshake already finished")]
    AlreadyDone,
}

/// What to do after feeding bytes to [`ClientHandshake::push`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandshakeStep {
    /// Send `send` (possibly empty) and feed more received bytes.
    Continue { send: Vec<u8> },
    /// The handshake is complete: send `send` (C2 if it was not sent yet),
    /// then treat `leftover` as the start of the chunk stream.
    Done { send: Vec<u8>, leftover: Vec<u8> },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// C0+C1 sent (or about to be), waiting for S0 and S1.
    AwaitS0S1,
    /// C2 sent, waiting for S2.
    AwaitS2,
    Done,
}

/// Client handshake state machine: send [`c0_c1`](Self::c0_c1) first, then
/// [`push`](Self::push) every received byte until it answers `Done`.
#[derive(Debug, Clone)]
pub struct ClientHandshake {
    state: State,
    c1: Box<[u8; HANDSHAKE_SIZE]>,
    received: Vec<u8>,
}

impl ClientHandshake {
    /// `time` is the C1 time field (ms, any epoch); `random` fills the rest.
    pub fn new(time: u32, random: &[u8; RANDOM_SIZE]) -> Self {
        let mut c1 = Box::new([0u8; HANDSHAKE_SIZE]);
        c1[..4].copy_from_slice(&time.to_be_bytes());
        c1[8..].copy_from_slice(random);
        Self {
            state: State::AwaitS0S1,
            c1,
            received: Vec::with_capacity(1 + 2 * HANDSHAKE_SIZE),
        }
    }

    /// Like [`new`](Self::new) with random bytes from `rng`.
    pub fn with_rng<R: rand::RngCore + ?Sized>(time: u32, rng: &mut R) -> Self {
        let mut random = [0u8; RANDOM_SIZE];
        rng.fill_bytes(&mut random);
        Self::new(time, &random)
    }

    /// C0 and C1, the first bytes to send.
    pub fn c0_c1(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1 + HANDSHAKE_SIZE);
        out.push(RTMP_VERSION);
        out.extend_from_slice(&self.c1[..]);
        out
    }

    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Feeds received bytes.
    pub fn push(&mut self, bytes: &[u8]) -> Result<HandshakeStep, HandshakeError> {
        if self.state == State::Done {
            return Err(HandshakeError::AlreadyDone);
        }
        self.received.extend_from_slice(bytes);
        if let Some(&version) = self.received.first()
            && version != RTMP_VERSION
        {
            return Err(HandshakeError::UnsupportedVersion(version));
        }
        let mut send = Vec::new();
        let s1_end = 1 + HANDSHAKE_SIZE;
        if self.state == State::AwaitS0S1 && self.received.len() >= s1_end {
            // C2 echoes S1 (§5.2.4).
            send.extend_from_slice(&self.received[1..s1_end]);
            self.state = State::AwaitS2;
        }
        let end = 1 + 2 * HANDSHAKE_SIZE;
        if self.state == State::AwaitS2 && self.received.len() >= end {
            self.state = State::Done;
            let leftover = self.received.split_off(end);
            self.received = Vec::new();
            return Ok(HandshakeStep::Done { send, leftover });
        }
        Ok(HandshakeStep::Continue { send })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn server_reply(s1_fill: u8) -> Vec<u8> {
        let mut v = vec![3];
        v.extend_from_slice(&[s1_fill; HANDSHAKE_SIZE]);
        v.extend_from_slice(&[0xEE; HANDSHAKE_SIZE]);
        v
    }

    #[test]
    fn c0_c1_layout() {
        let hs = ClientHandshake::new(0x0102_0304, &[0xAB; RANDOM_SIZE]);
        let c = hs.c0_c1();
        assert_eq!(c.len(), 1537);
        assert_eq!(c[..9], [3, 1, 2, 3, 4, 0, 0, 0, 0]);
        assert!(c[9..].iter().all(|&b| b == 0xAB));
        let hs = ClientHandshake::with_rng(0, &mut rand::rng());
        assert_eq!(hs.c0_c1()[5..9], [0, 0, 0, 0]);
    }

    #[test]
    fn all_at_once_with_leftover() {
        let mut hs = ClientHandshake::new(0, &[0; RANDOM_SIZE]);
        let mut input = server_reply(0x5A);
        input.extend_from_slice(&[0x02, 0xAA]);
        let step = hs.push(&input).unwrap();
        assert_eq!(
            step,
            HandshakeStep::Done {
                send: vec![0x5A; HANDSHAKE_SIZE],
                leftover: vec![0x02, 0xAA]
            }
        );
        assert!(hs.is_done());
        assert_eq!(hs.push(&[1]), Err(HandshakeError::AlreadyDone));
    }

    #[test]
    fn c2_sent_once_s1_arrives() {
        let mut hs = ClientHandshake::new(0, &[0; RANDOM_SIZE]);
        let input = server_reply(0x11);
        assert_eq!(
            hs.push(&input[..1000]).unwrap(),
            HandshakeStep::Continue { send: vec![] }
        );
        assert_eq!(
            hs.push(&input[1000..1537]).unwrap(),
            HandshakeStep::Continue {
                send: vec![0x11; HANDSHAKE_SIZE]
            }
        );
        assert_eq!(
            hs.push(&input[1537..3000]).unwrap(),
            HandshakeStep::Continue { send: vec![] }
        );
        assert_eq!(
            hs.push(&input[3000..]).unwrap(),
            HandshakeStep::Done {
                send: vec![],
                leftover: vec![]
            }
        );
    }

    #[test]
    fn wrong_version_rejected() {
        let mut hs = ClientHandshake::new(0, &[0; RANDOM_SIZE]);
        assert_eq!(
            hs.push(&[6, 0, 0]),
            Err(HandshakeError::UnsupportedVersion(6))
        );
    }

    proptest! {
        #[test]
        fn prop_any_split_gives_same_result(
            cuts in prop::collection::vec(1usize..700, 1..10),
            extra in prop::collection::vec(any::<u8>(), 0..50),
        ) {
            let mut input = server_reply(0x77);
            input.extend_from_slice(&extra);
            let mut hs = ClientHandshake::new(0, &[1; RANDOM_SIZE]);
            let mut sent = Vec::new();
            let mut rest = input.as_slice();
            let mut i = 0;
            let leftover = loop {
                let n = cuts[i % cuts.len()].min(rest.len());
                i += 1;
                let step = hs.push(&rest[..n]).unwrap();
                rest = &rest[n..];
                match step {
                    HandshakeStep::Continue { send } => sent.extend(send),
                    HandshakeStep::Done { send, mut leftover } => {
                        sent.extend(send);
                        leftover.extend_from_slice(rest);
                        break leftover;
                    }
                }
            };
            prop_assert_eq!(sent, vec![0x77; HANDSHAKE_SIZE]);
            prop_assert_eq!(leftover, extra);
        }
    }
}
