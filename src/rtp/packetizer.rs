//! The codec-independent half of RTP packetization: the fixed RTP header
//! (RFC 3550 §5.1), sequence numbering and the packet buffer.
//!
//! A [`Payloader`] decides how an access unit is cut into payloads; the
//! [`RtpPacketizer`] puts a header in front of each one and hands the finished
//! packet to the caller.

use thiserror::Error;

/// Length of the fixed RTP header without CSRCs or extensions (RFC 3550 §5.1).
pub const RTP_HEADER_LEN: usize = 12;
/// Default maximum packet size: fits an Ethernet MTU with IP/UDP headers and
/// some tunnel overhead to spare.
pub const DEFAULT_MTU: usize = 1400;
/// Smallest accepted MTU.
pub const MIN_MTU: usize = 64;
/// Largest accepted MTU: the largest UDP payload over IPv4 (65535 - 20 - 8).
pub const MAX_MTU: usize = 65_507;

/// Invalid packetizer configuration.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RtpError {
    /// The MTU is outside `MIN_MTU..=MAX_MTU`.
    #[error("RTP MTU {mtu} is out of range {min}..={max}")]
    MtuOutOfRange {
        /// The rejected value.
        mtu: usize,
        /// [`MIN_MTU`].
        min: usize,
        /// [`MAX_MTU`].
        max: usize,
    },
    /// The payload type does not fit the 7-bit PT field (RFC 3550 §5.1).
    #[error("RTP payload type {payload_type} does not fit in 7 bits (0..=127)")]
    PayloadTypeOutOfRange {
        /// The rejected value.
        payload_type: u8,
    },
}

/// Splits access units into RTP payloads for one codec.
///
/// The payloader is a resumable cursor over one access unit:
/// [`Payloader::begin`] starts a new access unit, then
/// [`Payloader::next_payload`] is called with the *same* access unit until it
/// returns `None`. Each call writes one complete RTP payload (payload
/// header(s) followed by NAL unit bytes) into `out` and returns its length,
/// which must be at most `out.len()`; `out.len()` is the room left after the
/// RTP header, the same for every call of one access unit and at least
/// `MIN_MTU - RTP_HEADER_LEN`. Implementations keep offsets rather than
/// borrows and must not allocate, so a packetizer can run them per packet.
///
/// The RTP header, including the marker bit, is the packetizer's business:
/// the payloader never needs to know which payload is the last one.
pub trait Payloader {
    /// Resets the cursor to the start of `access_unit` (an Annex-B byte stream).
    fn begin(&mut self, access_unit: &[u8]);

    /// Writes the next payload of `access_unit` into `out` and returns its
    /// length, or returns `None` once the access unit is exhausted.
    fn next_payload(&mut self, access_unit: &[u8], out: &mut [u8]) -> Option<usize>;
}

/// Static settings of an RTP stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketizerConfig {
    /// RTP payload type, 0..=127; dynamic types are 96..=127 (RFC 3551 §6).
    pub payload_type: u8,
    /// Synchronization source identifier; should be random (RFC 3550 §8).
    pub ssrc: u32,
    /// Sequence number of the first packet; should be random (RFC 3550 §5.1).
    pub initial_seq: u16,
    /// Largest packet, RTP header included, in bytes: `MIN_MTU..=MAX_MTU`.
    pub mtu: usize,
}

impl PacketizerConfig {
    /// Random SSRC and initial sequence number, [`DEFAULT_MTU`].
    pub fn random(payload_type: u8) -> Self {
        Self {
            payload_type,
            ssrc: rand::random(),
            initial_seq: rand::random(),
            mtu: DEFAULT_MTU,
        }
    }
}

/// Owns the RTP header state of one stream and turns access units into packets.
#[derive(Debug)]
pub struct RtpPacketizer {
    payload_type: u8,
    ssrc: u32,
    next_seq: u16,
    mtu: usize,
    /// Two packet buffers of `mtu` bytes each, allocated once: one holds the
    /// packet being emitted while the next payload is produced into the other
    /// (to learn whether the held packet is the last one, i.e. its marker).
    scratch: Box<[u8]>,
}

impl RtpPacketizer {
    /// Validates `cfg` and allocates the packet buffers.
    pub fn new(cfg: PacketizerConfig) -> Result<Self, RtpError> {
        if !(MIN_MTU..=MAX_MTU).contains(&cfg.mtu) {
            return Err(RtpError::MtuOutOfRange {
                mtu: cfg.mtu,
                min: MIN_MTU,
                max: MAX_MTU,
            });
        }
        if cfg.payload_type > 0x7f {
            return Err(RtpError::PayloadTypeOutOfRange {
                payload_type: cfg.payload_type,
            });
        }
        Ok(Self {
            payload_type: cfg.payload_type,
            ssrc: cfg.ssrc,
            next_seq: cfg.initial_seq,
            mtu: cfg.mtu,
            scratch: vec![0; 2 * cfg.mtu].into_boxed_slice(),
        })
    }

    /// Packetizes one Annex-B access unit stamped with `rtp_timestamp` (the
    /// codec clock, 90 kHz for video, RFC 6184 §5.1).
    ///
    /// `emit` is called once per packet, in order, with the complete packet
    /// (header and payload, at most `mtu` bytes) borrowed from an internal
    /// buffer: nothing is allocated per packet. All packets carry
    /// `rtp_timestamp`; the marker bit is set on the last packet of the
    /// access unit only (RFC 6184 §5.1, RFC 7798 §4.1). An access unit that
    /// yields no payload (empty, or only dropped NAL units) emits nothing.
    ///
    /// Returns the number of packets emitted. If `emit` fails, packetization
    /// stops and the error is returned; the failed packet has consumed its
    /// sequence number, the rest of the access unit is discarded.
    pub fn packetize<P, E>(
        &mut self,
        payloader: &mut P,
        access_unit: &[u8],
        rtp_timestamp: u32,
        mut emit: impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<usize, E>
    where
        P: Payloader + ?Sized,
    {
        let max_payload = self.max_payload();
        let (mut held, mut spare) = self.scratch.split_at_mut(self.mtu);
        payloader.begin(access_unit);
        let Some(mut held_len) = payloader.next_payload(access_unit, &mut held[RTP_HEADER_LEN..])
        else {
            return Ok(0);
        };
        let mut count = 0;
        loop {
            assert!(
                held_len <= max_payload,
                "payloader wrote {held_len} bytes into a {max_payload}-byte payload"
            );
            let following = payloader.next_payload(access_unit, &mut spare[RTP_HEADER_LEN..]);
            let header = RtpHeader {
                marker: following.is_none(),
                payload_type: self.payload_type,
                sequence: self.next_seq,
                timestamp: rtp_timestamp,
                ssrc: self.ssrc,
            };
            header.write(&mut held[..RTP_HEADER_LEN]);
            self.next_seq = self.next_seq.wrapping_add(1);
            emit(&held[..RTP_HEADER_LEN + held_len])?;
            count += 1;
            match following {
                Some(len) => {
                    held_len = len;
                    std::mem::swap(&mut held, &mut spare);
                }
                None => return Ok(count),
            }
        }
    }

    /// The stream's SSRC.
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// The 7-bit payload type.
    pub fn payload_type(&self) -> u8 {
        self.payload_type
    }

    /// Sequence number the next packet will carry.
    pub fn next_sequence(&self) -> u16 {
        self.next_seq
    }

    /// Largest packet size, RTP header included.
    pub fn mtu(&self) -> usize {
        self.mtu
    }

    /// Room for the payload in each packet: `mtu - RTP_HEADER_LEN`.
    pub fn max_payload(&self) -> usize {
        self.mtu - RTP_HEADER_LEN
    }

    /// Address and length of the packet buffers, to check they are reused.
    #[cfg(test)]
    pub(crate) fn scratch_identity(&self) -> (*const u8, usize) {
        (self.scratch.as_ptr(), self.scratch.len())
    }
}

/// The fixed RTP header as this packetizer writes it: version 2, no padding,
/// no extension, no CSRCs (RFC 3550 §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpHeader {
    /// M bit: last packet of an access unit.
    pub marker: bool,
    /// 7-bit payload type.
    pub payload_type: u8,
    /// Sequence number.
    pub sequence: u16,
    /// Media timestamp.
    pub timestamp: u32,
    /// Synchronization source.
    pub ssrc: u32,
}

impl RtpHeader {
    /// Serializes into the first [`RTP_HEADER_LEN`] bytes of `out`.
    ///
    /// # Panics
    /// If `out` is shorter than [`RTP_HEADER_LEN`].
    pub fn write(&self, out: &mut [u8]) {
        // V=2 | P=0 | X=0 | CC=0
        out[0] = 0x80;
        out[1] = (u8::from(self.marker) << 7) | (self.payload_type & 0x7f);
        out[2..4].copy_from_slice(&self.sequence.to_be_bytes());
        out[4..8].copy_from_slice(&self.timestamp.to_be_bytes());
        out[8..12].copy_from_slice(&self.ssrc.to_be_bytes());
    }
}
