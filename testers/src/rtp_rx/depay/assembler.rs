//! Access-unit assembly over a sequence of RTP packets of one codec.
//!
//! Boundaries: an access unit (AU) ends with the packet whose marker bit is
//! set (RFC 6184 §5.1, RFC 7798 §4.1: "set for the last packet of the access
//! unit"), or, failing that, when a packet with another RTP timestamp arrives
//! (all packets of one AU share its timestamp, RFC 3550 §5.1), or when the
//! SSRC changes.
//!
//! An AU is *complete* only if no packet inside or at the edges of it was lost
//! (a sequence-number gap, RFC 3550 §5.1, 16-bit wrap), every fragmented NAL
//! unit started with an S and ended with an E fragment, none of its payloads
//! was malformed, and it ended with a marker bit.
//!
//! Counters separate sender errors from network loss: `missing_marker` and
//! `fu_errors` are counted only when no packet was lost around them, since a
//! lost packet may have carried the marker or the S/E fragment.
//!
//! There is no jitter buffer: a late (reordered) or duplicate packet is dropped
//! and counted; the gap it left has already made its AU incomplete.

use std::time::SystemTime;

use super::{Codec, Fragment, Piece};

/// The RTP fields the assembler needs from one packet.
#[derive(Clone, Copy, Debug)]
pub struct Packet<'a> {
    pub ssrc: u32,
    pub sequence: u16,
    pub timestamp: u32,
    pub marker: bool,
    pub payload: &'a [u8],
    /// Wall-clock arrival time.
    pub arrival: SystemTime,
}

/// One assembled access unit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessUnit {
    pub ssrc: u32,
    pub timestamp: u32,
    /// Whole NAL units in arrival order, headers included, no start codes.
    pub nals: Vec<Vec<u8>>,
    pub packets: u32,
    pub first_seq: u16,
    pub last_seq: u16,
    /// Ended by a packet with the marker bit.
    pub marker: bool,
    /// A packet inside or at an edge of the AU was lost.
    pub lost: bool,
    /// A fragmentation error that loss does not explain.
    pub fu_error: bool,
    /// At least one of its payloads could not be read.
    pub malformed: bool,
    /// Arrival time of its last packet.
    pub arrival: SystemTime,
}

impl AccessUnit {
    /// No loss, no fragmentation error, no malformed payload, ended by a marker.
    pub fn is_complete(&self) -> bool {
        self.marker && !self.lost && !self.fu_error && !self.malformed && !self.nals.is_empty()
    }

    /// Whether a NAL unit of a keyframe type (IDR / IRAP) is in it.
    pub fn has_keyframe(&self, codec: Codec) -> bool {
        self.nals
            .iter()
            .filter_map(|n| codec.nal_type(n))
            .any(|t| codec.is_keyframe_type(t))
    }

    /// Annex-B bytes with 4-byte start codes.
    pub fn annex_b(&self) -> Vec<u8> {
        super::annex_b(self.nals.iter().map(Vec::as_slice))
    }
}

/// Running totals of the assembler.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DepayCounters {
    pub access_units_complete: u64,
    pub access_units_incomplete: u64,
    /// AUs ended by a timestamp change without a marker, with no loss around them.
    pub missing_marker: u64,
    /// FU without S, without E, with S and E both set, a new S while one is
    /// open, or a fragment of another type, with no loss to explain it.
    pub fu_errors: u64,
    /// Payloads that could not be read (also unsupported packet types).
    pub malformed_packets: u64,
    /// Dropped packets with an old or repeated sequence number.
    pub late_or_duplicate: u64,
}

/// A NAL unit being rebuilt from FU fragments.
#[derive(Debug)]
struct OpenFu {
    nal: Vec<u8>,
    header_len: usize,
}

#[derive(Debug)]
struct Building {
    au: AccessUnit,
    fu: Option<OpenFu>,
    /// First AU of a stream: a fragment without S may be the tail of a NAL
    /// unit sent before the receiver started (treated as loss, not error).
    stream_start: bool,
}

impl Building {
    /// Counts a fragmentation error unless loss explains it; the AU is broken either way.
    fn fu_problem(&mut self, counters: &mut DepayCounters) {
        if !self.au.lost {
            self.au.fu_error = true;
            counters.fu_errors += 1;
        }
    }

    fn abort_open_fu(&mut self, counters: &mut DepayCounters) {
        if self.fu.take().is_some() {
            self.fu_problem(counters);
        }
    }

    fn add(&mut self, piece: Piece<'_>, counters: &mut DepayCounters) {
        match piece {
            Piece::Nal(nal) => {
                self.abort_open_fu(counters);
                self.au.nals.push(nal.to_vec());
            }
            Piece::Fragment(f) => self.add_fragment(&f, counters),
        }
    }

    fn add_fragment(&mut self, f: &Fragment<'_>, counters: &mut DepayCounters) {
        if f.start && f.end {
            // RFC 6184 §5.8 / RFC 7798 §4.4.3: S and E MUST NOT both be set.
            self.abort_open_fu(counters);
            self.fu_problem(counters);
            return;
        }
        if f.start {
            self.abort_open_fu(counters);
            let mut nal = f.nal_header().to_vec();
            nal.extend_from_slice(f.data);
            self.fu = Some(OpenFu {
                nal,
                header_len: f.header_len,
            });
            return;
        }
        let Some(open) = self.fu.as_mut() else {
            if self.stream_start && self.au.nals.is_empty() {
                self.au.lost = true; // joined in the middle of a NAL unit
            } else {
                self.fu_problem(counters);
            }
            return;
        };
        if open.nal[..open.header_len] != *f.nal_header() {
            self.fu = None;
            self.fu_problem(counters);
            return;
        }
        open.nal.extend_from_slice(f.data);
        if f.end {
            let done = self.fu.take().map(|o| o.nal).unwrap_or_default();
            self.au.nals.push(done);
        }
    }
}

/// Groups packets of one codec into access units.
#[derive(Debug)]
pub struct Assembler {
    codec: Codec,
    current: Option<Building>,
    /// SSRC and highest sequence number of the last accepted packet.
    last: Option<(u32, u16)>,
    pub counters: DepayCounters,
}

impl Assembler {
    pub fn new(codec: Codec) -> Self {
        Self {
            codec,
            current: None,
            last: None,
            counters: DepayCounters::default(),
        }
    }

    pub fn codec(&self) -> Codec {
        self.codec
    }

    /// Feeds one packet; appends the access units it ends to `out`.
    pub fn push(&mut self, p: &Packet<'_>, out: &mut Vec<AccessUnit>) {
        let mut stream_start = false;
        let mut gap = false;
        match self.last {
            Some((ssrc, prev)) if ssrc == p.ssrc => {
                let delta = p.sequence.wrapping_sub(prev);
                if delta == 0 || delta >= 0x8000 {
                    self.counters.late_or_duplicate += 1;
                    return;
                }
                gap = delta != 1;
            }
            Some(_) => {
                // New SSRC: the old stream's AU ends here, unfinished.
                if let Some(b) = self.current.take() {
                    self.finish(b, false, out);
                }
                stream_start = true;
            }
            None => stream_start = true,
        }
        self.last = Some((p.ssrc, p.sequence));

        if let Some(b) = self.current.as_mut()
            && b.au.timestamp != p.timestamp
        {
            // Ended by a timestamp change: the marker packet was lost, or never sent.
            b.au.lost |= gap;
            if !b.au.lost {
                self.counters.missing_marker += 1;
            }
            let b = self.current.take().expect("checked above");
            self.finish(b, false, out);
        }

        let b = match self.current.as_mut() {
            Some(b) => {
                if gap {
                    // A NAL unit being rebuilt has a hole: drop it.
                    b.au.lost = true;
                    b.fu = None;
                }
                b
            }
            None => {
                // After a gap the lost packets may have been this AU's first ones.
                let lost = gap;
                self.current.insert(Building {
                    au: AccessUnit {
                        ssrc: p.ssrc,
                        timestamp: p.timestamp,
                        nals: Vec::new(),
                        packets: 0,
                        first_seq: p.sequence,
                        last_seq: p.sequence,
                        marker: false,
                        lost,
                        fu_error: false,
                        malformed: false,
                        arrival: p.arrival,
                    },
                    fu: None,
                    stream_start,
                })
            }
        };
        b.au.packets += 1;
        b.au.last_seq = p.sequence;
        b.au.arrival = p.arrival;

        match self.codec.parse_payload(p.payload) {
            Ok(pieces) => {
                for piece in pieces {
                    b.add(piece, &mut self.counters);
                }
            }
            Err(e) => {
                tracing::debug!(
                    "malformed {} payload (seq {}): {e}",
                    self.codec.name(),
                    p.sequence
                );
                self.counters.malformed_packets += 1;
                b.au.malformed = true;
                b.fu = None;
            }
        }

        if p.marker {
            let b = self.current.take().expect("inserted above");
            self.finish(b, true, out);
        }
    }

    /// Closes an AU: an unfinished FU is an error unless loss explains it.
    fn finish(&mut self, mut b: Building, marker: bool, out: &mut Vec<AccessUnit>) {
        b.abort_open_fu(&mut self.counters);
        b.au.marker = marker;
        if b.au.is_complete() {
            self.counters.access_units_complete += 1;
        } else {
            self.counters.access_units_incomplete += 1;
        }
        out.push(b.au);
    }

    /// Number of packets in the AU still being assembled.
    pub fn pending_packets(&self) -> u32 {
        self.current.as_ref().map_or(0, |b| b.au.packets)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SSRC: u32 = 0xC0FFEE;

    /// (sequence, timestamp, marker, payload)
    type Pkt = (u16, u32, bool, Vec<u8>);

    /// Feeds `(seq, ts, marker, payload)` packets; returns the AUs and counters.
    fn run(
        codec: Codec,
        packets: &[(u16, u32, bool, Vec<u8>)],
    ) -> (Vec<AccessUnit>, DepayCounters) {
        run_ssrc(
            codec,
            &packets
                .iter()
                .map(|p| (SSRC, p.clone()))
                .collect::<Vec<_>>(),
        )
    }

    fn run_ssrc(codec: Codec, packets: &[(u32, Pkt)]) -> (Vec<AccessUnit>, DepayCounters) {
        let mut a = Assembler::new(codec);
        let mut out = Vec::new();
        for (ssrc, (seq, ts, marker, payload)) in packets {
            a.push(
                &Packet {
                    ssrc: *ssrc,
                    sequence: *seq,
                    timestamp: *ts,
                    marker: *marker,
                    payload,
                    arrival: SystemTime::UNIX_EPOCH,
                },
                &mut out,
            );
        }
        (out, a.counters)
    }

    /// FU-A of NAL type `t` (NRI 3) with S/E bits and data.
    fn fu_a(t: u8, s: bool, e: bool, data: &[u8]) -> Vec<u8> {
        let mut p = vec![0x7C, (u8::from(s) << 7) | (u8::from(e) << 6) | t];
        p.extend_from_slice(data);
        p
    }

    #[test]
    fn single_nal_units_with_markers_are_complete() {
        let (aus, c) = run(
            Codec::H264,
            &[
                (1, 0, false, vec![0x67, 1]),
                (2, 0, false, vec![0x68, 2]),
                (3, 0, true, vec![0x65, 3]),
                (4, 3000, true, vec![0x41, 4]),
            ],
        );
        assert_eq!(aus.len(), 2);
        assert!(aus.iter().all(AccessUnit::is_complete));
        assert_eq!(
            aus[0].nals,
            vec![vec![0x67, 1], vec![0x68, 2], vec![0x65, 3]]
        );
        assert!(aus[0].has_keyframe(Codec::H264) && !aus[1].has_keyframe(Codec::H264));
        assert_eq!(
            (aus[0].first_seq, aus[0].last_seq, aus[0].packets),
            (1, 3, 3)
        );
        assert_eq!(
            aus[0].annex_b(),
            vec![
                0, 0, 0, 1, 0x67, 1, 0, 0, 0, 1, 0x68, 2, 0, 0, 0, 1, 0x65, 3
            ]
        );
        assert_eq!((c.access_units_complete, c.access_units_incomplete), (2, 0));
        assert_eq!(
            (c.missing_marker, c.fu_errors, c.malformed_packets),
            (0, 0, 0)
        );
    }

    #[test]
    fn stap_a_and_fu_a_across_a_sequence_wrap() {
        let stap = vec![0x78, 0, 2, 0x67, 1, 0, 2, 0x68, 2];
        let (aus, c) = run(
            Codec::H264,
            &[
                (65534, 90, false, stap),
                (65535, 90, false, fu_a(5, true, false, &[1, 2])),
                (0, 90, false, fu_a(5, false, false, &[3])),
                (1, 90, true, fu_a(5, false, true, &[4, 5])),
            ],
        );
        assert_eq!(aus.len(), 1);
        assert!(aus[0].is_complete(), "{:?}", aus[0]);
        assert_eq!(
            aus[0].nals,
            vec![vec![0x67, 1], vec![0x68, 2], vec![0x65, 1, 2, 3, 4, 5]]
        );
        assert_eq!(c.access_units_complete, 1);
    }

    #[test]
    fn loss_inside_an_fu_makes_the_au_incomplete_without_fu_error() {
        let (aus, c) = run(
            Codec::H264,
            &[
                (10, 90, false, fu_a(5, true, false, &[1])),
                // 11 lost
                (12, 90, true, fu_a(5, false, true, &[3])),
                (13, 180, true, vec![0x41, 0]),
            ],
        );
        assert_eq!(aus.len(), 2);
        assert!(!aus[0].is_complete() && aus[0].lost && !aus[0].fu_error);
        assert!(aus[0].nals.is_empty());
        assert!(aus[1].is_complete());
        assert_eq!((c.access_units_complete, c.access_units_incomplete), (1, 1));
        assert_eq!(c.fu_errors, 0);
    }

    #[test]
    fn lost_marker_packet_is_loss_not_missing_marker() {
        let (aus, c) = run(
            Codec::H264,
            &[
                (1, 90, false, vec![0x65, 1]),
                // 2 (the marker packet) lost
                (3, 180, true, vec![0x41, 0]),
            ],
        );
        assert_eq!(aus.len(), 2);
        assert!(aus[0].lost && !aus[0].marker);
        // The gap could also have been the head of the second AU.
        assert!(aus[1].lost);
        assert_eq!((c.missing_marker, c.access_units_incomplete), (0, 2));
    }

    #[test]
    fn timestamp_change_without_marker_counts_missing_marker() {
        let (aus, c) = run(
            Codec::H264,
            &[
                (1, 90, false, vec![0x65, 1]),
                (2, 180, false, vec![0x41, 2]),
                (3, 270, true, vec![0x41, 3]),
            ],
        );
        assert_eq!(aus.len(), 3);
        assert!(!aus[0].marker && !aus[0].lost && !aus[0].is_complete());
        assert!(!aus[1].marker && !aus[1].lost && !aus[1].is_complete());
        assert!(aus[2].is_complete());
        assert_eq!(c.missing_marker, 2);
        assert_eq!((c.access_units_complete, c.access_units_incomplete), (1, 2));
    }

    #[test]
    fn fragmentation_errors() {
        // FU without E, closed by the marker.
        let (_, c) = run(
            Codec::H264,
            &[
                (1, 90, false, fu_a(5, true, false, &[1])),
                (2, 90, true, vec![0x41, 0]),
            ],
        );
        assert_eq!((c.fu_errors, c.access_units_incomplete), (1, 1));
        // S and E in one fragment.
        let (aus, c) = run(Codec::H264, &[(1, 90, true, fu_a(5, true, true, &[1]))]);
        assert_eq!(c.fu_errors, 1);
        assert!(aus[0].fu_error && !aus[0].is_complete());
        // A middle fragment without a start, after a complete AU.
        let (_, c) = run(
            Codec::H264,
            &[
                (1, 90, true, vec![0x65, 1]),
                (2, 180, true, fu_a(1, false, true, &[1])),
            ],
        );
        assert_eq!((c.fu_errors, c.access_units_complete), (1, 1));
        // A second S while one is open, then a fragment of another type.
        let (_, c) = run(
            Codec::H264,
            &[
                (1, 90, false, fu_a(5, true, false, &[1])),
                (2, 90, false, fu_a(5, true, false, &[1])),
                (3, 90, true, fu_a(1, false, true, &[1])),
            ],
        );
        assert_eq!(c.fu_errors, 2);
    }

    #[test]
    fn joining_in_the_middle_of_an_fu_is_not_an_error() {
        let (aus, c) = run(
            Codec::H264,
            &[
                (7, 90, true, fu_a(5, false, true, &[1])),
                (8, 180, true, vec![0x41, 0]),
            ],
        );
        assert!(aus[0].lost && !aus[0].fu_error);
        assert!(aus[1].is_complete());
        assert_eq!(c.fu_errors, 0);
    }

    #[test]
    fn duplicates_and_late_packets_are_dropped() {
        let (aus, c) = run(
            Codec::H264,
            &[
                (5, 90, false, vec![0x67, 1]),
                (5, 90, false, vec![0x67, 1]),
                (4, 90, false, vec![0x68, 1]),
                (6, 90, true, vec![0x65, 1]),
            ],
        );
        assert_eq!(c.late_or_duplicate, 2);
        assert_eq!(aus[0].nals.len(), 2);
        assert!(aus[0].is_complete());
    }

    #[test]
    fn ssrc_change_ends_the_unfinished_au() {
        let (aus, c) = run_ssrc(
            Codec::H264,
            &[
                (1, (100, 90, false, vec![0x65, 1])),
                (2, (9000, 90, true, vec![0x65, 1])),
            ],
        );
        assert_eq!(aus.len(), 2);
        assert!(!aus[0].is_complete() && aus[0].ssrc == 1);
        assert!(aus[1].is_complete() && aus[1].ssrc == 2);
        assert_eq!((c.missing_marker, c.late_or_duplicate), (0, 0));
    }

    #[test]
    fn malformed_payload_breaks_the_au() {
        let (aus, c) = run(
            Codec::H264,
            &[(1, 90, false, vec![0x65, 1]), (2, 90, true, vec![0x1E, 0])],
        );
        assert_eq!(c.malformed_packets, 1);
        assert!(aus[0].malformed && !aus[0].is_complete());
    }

    #[test]
    fn h265_ap_and_fu() {
        let mut ap = vec![48 << 1, 1];
        for t in [32u8, 33, 34] {
            ap.extend_from_slice(&[0, 3, t << 1, 1, 0xAA]);
        }
        let fu = |s: bool, e: bool, data: &[u8]| {
            let mut p = vec![49 << 1, 1, (u8::from(s) << 7) | (u8::from(e) << 6) | 19];
            p.extend_from_slice(data);
            p
        };
        let (aus, c) = run(
            Codec::H265,
            &[
                (1, 90, false, ap),
                (2, 90, false, fu(true, false, &[1, 2])),
                (3, 90, true, fu(false, true, &[3])),
                (4, 180, true, vec![1 << 1, 1, 9]),
            ],
        );
        assert_eq!(aus.len(), 2);
        assert!(aus.iter().all(AccessUnit::is_complete));
        assert_eq!(aus[0].nals[3], vec![19 << 1, 1, 1, 2, 3]);
        assert!(aus[0].has_keyframe(Codec::H265));
        assert_eq!(c.access_units_complete, 2);
    }

    fn arb_packet() -> impl Strategy<Value = (u32, Pkt)> {
        (
            0u32..3,
            (
                0u16..8,
                0u32..4,
                any::<bool>(),
                proptest::collection::vec(any::<u8>(), 0..24),
            ),
        )
    }

    proptest! {
        #[test]
        fn random_packets_never_panic_and_counters_add_up(
            h265 in any::<bool>(),
            packets in proptest::collection::vec(arb_packet(), 0..40),
        ) {
            let codec = if h265 { Codec::H265 } else { Codec::H264 };
            let (aus, c) = run_ssrc(codec, &packets);
            prop_assert_eq!(
                aus.len() as u64,
                c.access_units_complete + c.access_units_incomplete
            );
            prop_assert_eq!(
                aus.iter().filter(|a| a.is_complete()).count() as u64,
                c.access_units_complete
            );
        }
    }
}
