//! Helpers shared by the fuzz targets (`fuzz_targets/`) and the seed
//! generator (`examples/gen_seeds.rs`).
//!
//! Every target reads its input with the same small framing, so that the
//! seed generator can write valid inputs with the crates' own encoders:
//!
//! - fixed leading fields ([`Input::u8`], [`Input::u16`], [`Input::u32`]),
//!   big-endian, reading zeros past the end;
//! - records: a `u16` big-endian length and that many bytes
//!   ([`Input::record`], written by [`push_record`]); a record that runs
//!   past the end of the input is cut short;
//! - the rest of the input ([`Input::rest`]).

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::OnceLock;
use std::thread::JoinHandle;

/// Front-to-back reader over a fuzz input.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Self { data }
    }

    /// Up to `n` bytes (fewer at the end of the input).
    pub fn take(&mut self, n: usize) -> &'a [u8] {
        let (head, tail) = self.data.split_at(n.min(self.data.len()));
        self.data = tail;
        head
    }

    /// Exactly `N` bytes, zero-filled past the end of the input.
    pub fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        let head = self.take(N);
        out[..head.len()].copy_from_slice(head);
        out
    }

    pub fn u8(&mut self) -> u8 {
        self.array::<1>()[0]
    }

    pub fn u16(&mut self) -> u16 {
        u16::from_be_bytes(self.array())
    }

    pub fn u32(&mut self) -> u32 {
        u32::from_be_bytes(self.array())
    }

    pub fn u64(&mut self) -> u64 {
        u64::from_be_bytes(self.array())
    }

    /// One record (`u16` BE length, then the bytes); `None` once the input
    /// is exhausted.
    pub fn record(&mut self) -> Option<&'a [u8]> {
        if self.data.is_empty() {
            return None;
        }
        let len = usize::from(self.u16());
        Some(self.take(len))
    }

    /// Everything not read yet.
    pub fn rest(self) -> &'a [u8] {
        self.data
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
}

/// Appends a record (see [`Input::record`]).
///
/// # Panics
///
/// If `rec` is longer than 65535 bytes (seed generator misuse).
pub fn push_record(out: &mut Vec<u8>, rec: &[u8]) {
    let len = u16::try_from(rec.len()).expect("record longer than 65535 bytes");
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(rec);
}

/// Cuts `data` into consecutive pieces whose lengths are taken, in turn,
/// from `steps` (a step of 0 means 1 byte; no steps means one piece). The
/// pieces always cover `data` exactly, in order.
pub fn pieces<'a>(data: &'a [u8], steps: &[u8]) -> Vec<&'a [u8]> {
    if steps.is_empty() {
        return vec![data];
    }
    let mut out = Vec::new();
    let mut rest = data;
    let mut i = 0;
    while !rest.is_empty() {
        // Steps scale up so that a few bytes can also cut large inputs.
        let step = usize::from(steps[i % steps.len()].max(1)) * (1 + i % 3);
        let (head, tail) = rest.split_at(step.min(rest.len()));
        out.push(head);
        rest = tail;
        i += 1;
    }
    out
}

/// TCP over 127.0.0.1 for the targets that drive the RTMP stub, whose
/// connection type is a `TcpStream`.
///
/// Time-wait sockets: every input opens one connection. The client closes
/// first, so its side goes to TIME_WAIT; Linux reuses such ports for
/// loopback connections (`net.ipv4.tcp_tw_reuse` = 2, the default), so a
/// long run does not run out of ephemeral ports.
pub mod loopback {
    use super::*;

    /// The process's listener on an ephemeral port of 127.0.0.1.
    pub fn listener() -> &'static TcpListener {
        static LISTENER: OnceLock<TcpListener> = OnceLock::new();
        LISTENER.get_or_init(|| {
            ignore_sigpipe();
            TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0")
        })
    }

    /// A client connected to [`listener`]; the connection waits in the
    /// listener's accept queue.
    pub fn connect() -> TcpStream {
        let addr = listener().local_addr().expect("listener address");
        let client = TcpStream::connect(addr).expect("connect to the loopback listener");
        let _ = client.set_nodelay(true);
        client
    }

    /// A connected (client, server) pair.
    pub fn pair() -> (TcpStream, TcpStream) {
        let client = connect();
        listener()
            .set_nonblocking(false)
            .expect("blocking listener");
        let (server, _) = listener().accept().expect("accept the loopback client");
        (client, server)
    }

    /// Writes `input` to `client` and then half-closes it, from a thread that
    /// afterwards reads and discards everything the server sends until the
    /// server closes. The server side therefore sees exactly `input` then
    /// end-of-stream, and its writes never block on a full socket buffer.
    pub fn feed(client: TcpStream, input: Vec<u8>) -> JoinHandle<()> {
        std::thread::spawn(move || {
            let mut client = client;
            // The server may stop reading early and close: errors are fine.
            let _ = client.write_all(&input);
            let _ = client.shutdown(Shutdown::Write);
            let mut sink = [0u8; 16 * 1024];
            while matches!(client.read(&mut sink), Ok(n) if n > 0) {}
        })
    }

    /// Writes to a socket whose peer has gone must give `EPIPE`, not kill
    /// the fuzzer (libFuzzer's `main` does not ignore `SIGPIPE` as Rust's
    /// does).
    fn ignore_sigpipe() {
        // SAFETY: setting a signal disposition to SIG_IGN has no
        // preconditions.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_IGN);
        }
    }
}

/// The NAL units of an Annex-B byte stream, found independently of both
/// crates' splitters (used for cross-checks): start code `00 00 01`, zero
/// bytes before a start code trimmed, empty units skipped.
pub fn annexb_nals(data: &[u8]) -> Vec<&[u8]> {
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 2 < data.len() {
        if data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1 {
            starts.push((i, i + 3));
            i += 3;
        } else {
            i += 1;
        }
    }
    let mut out = Vec::new();
    for (k, &(_, begin)) in starts.iter().enumerate() {
        let end = starts.get(k + 1).map_or(data.len(), |&(code, _)| code);
        let mut nal = &data[begin..end];
        while let [head @ .., 0] = nal {
            nal = head;
        }
        if !nal.is_empty() {
            out.push(nal);
        }
    }
    out
}

/// The RTP receiver's depacketizers (`rx_depay_h264`, `rx_depay_h265`): one
/// body for both codecs, whose payload parsers `Codec::parse_payload` picks.
pub mod depay {
    use std::time::SystemTime;

    use cvmmap_testers::rtp_rx::depay::{Assembler, Codec, Packet, Piece};

    use crate::Input;

    fn inside(outer: &[u8], inner: &[u8]) -> bool {
        let (o, i) = (outer.as_ptr_range(), inner.as_ptr_range());
        o.start <= i.start && i.end <= o.end
    }

    /// Feeds one input (see the targets' docs) through `codec`'s payload parser
    /// and the assembler, asserting the invariants.
    pub fn run(data: &[u8], codec: Codec) {
        let mut input = Input::new(data);
        let mut assembler = Assembler::new(codec);
        let mut units = Vec::new();
        let (mut seq, mut ts) = (0u16, 0u32);
        let mut packets = 0u64;
        while let Some(rec) = input.record() {
            let mut r = Input::new(rec);
            let flags = r.u8();
            let step = r.u8();
            let payload = r.rest();
            if let Ok(pieces) = codec.parse_payload(payload) {
                assert!(!pieces.is_empty());
                for piece in pieces {
                    match piece {
                        Piece::Nal(nal) => {
                            assert!(inside(payload, nal) && nal.len() >= codec.nal_header_len());
                            assert!(codec.nal_type(nal).is_some());
                        }
                        Piece::Fragment(f) => {
                            assert!(inside(payload, f.data));
                            assert_eq!(f.nal_header().len(), codec.nal_header_len());
                        }
                    }
                }
            }
            seq = seq.wrapping_add(u16::from(step));
            if flags & 2 == 2 {
                ts = ts.wrapping_add(3000);
            }
            assembler.push(
                &Packet {
                    ssrc: 1,
                    sequence: seq,
                    timestamp: ts,
                    marker: flags & 1 == 1,
                    payload,
                    arrival: SystemTime::UNIX_EPOCH,
                },
                &mut units,
            );
            packets += 1;
        }
        let c = &assembler.counters;
        let finished = units.len() as u64;
        assert_eq!(
            c.access_units_complete + c.access_units_incomplete,
            finished
        );
        assert!(c.malformed_packets + c.late_or_duplicate <= packets);
        for unit in &units {
            if unit.is_complete() {
                assert!(!unit.nals.is_empty());
                for nal in &unit.nals {
                    assert!(codec.nal_type(nal).is_some(), "{nal:?}");
                }
                let _ = unit.has_keyframe(codec);
                let annex_b = unit.annex_b();
                assert!(annex_b.len() >= 4 * unit.nals.len());
            }
        }
    }
}
