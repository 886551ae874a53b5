//! A minimal depacketizer written from RFC 6184 / RFC 7798 independently of
//! the payloader code, strict about everything the payloaders promise.

/// A parsed RTP packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    pub marker: bool,
    pub payload_type: u8,
    pub seq: u16,
    pub timestamp: u32,
    pub ssrc: u32,
    pub payload: Vec<u8>,
}

/// Parses a packet as the packetizer writes it (V=2, no P/X/CSRC).
pub fn parse(packet: &[u8]) -> Packet {
    assert!(packet.len() > 12, "packet too short: {}", packet.len());
    assert_eq!(packet[0], 0x80, "V=2, P=0, X=0, CC=0");
    Packet {
        marker: packet[1] & 0x80 != 0,
        payload_type: packet[1] & 0x7f,
        seq: u16::from_be_bytes([packet[2], packet[3]]),
        timestamp: u32::from_be_bytes(packet[4..8].try_into().unwrap()),
        ssrc: u32::from_be_bytes(packet[8..12].try_into().unwrap()),
        payload: packet[12..].to_vec(),
    }
}

fn be16(b: &[u8]) -> usize {
    usize::from(u16::from_be_bytes([b[0], b[1]]))
}

/// Splits the units of an aggregation packet body (16-bit size + NAL unit).
fn aggregated(mut body: &[u8], nals: &mut Vec<Vec<u8>>) {
    let mut count = 0;
    while !body.is_empty() {
        let size = be16(body);
        assert!(size > 0, "empty aggregated unit");
        nals.push(body[2..2 + size].to_vec());
        body = &body[2 + size..];
        count += 1;
    }
    assert!(count >= 2, "aggregation packet with {count} unit(s)");
}

/// Reassembles the NAL units of an H.264 packetization-mode=1 stream.
pub fn h264(packets: &[Packet]) -> Vec<Vec<u8>> {
    let mut nals = Vec::new();
    let mut fu: Option<Vec<u8>> = None;
    for p in packets {
        let pl = &p.payload;
        match pl[0] & 0x1f {
            1..=23 => {
                assert!(fu.is_none(), "unterminated FU-A");
                nals.push(pl.clone());
            }
            24 => {
                assert!(fu.is_none(), "unterminated FU-A");
                let first = nals.len();
                aggregated(&pl[1..], &mut nals);
                let f = nals[first..].iter().fold(0, |f, n| f | (n[0] & 0x80));
                let nri = nals[first..].iter().map(|n| n[0] & 0x60).max().unwrap();
                assert_eq!(pl[0] & 0xe0, f | nri, "STAP-A F/NRI");
            }
            28 => {
                let (indicator, header) = (pl[0], pl[1]);
                let (start, end) = (header & 0x80 != 0, header & 0x40 != 0);
                assert_eq!(header & 0x20, 0, "R bit");
                assert!(!(start && end), "S and E in one FU-A");
                assert!(pl.len() > 2, "empty FU-A");
                if start {
                    assert!(fu.is_none(), "FU-A start inside FU-A");
                    fu = Some(vec![(indicator & 0xe0) | (header & 0x1f)]);
                }
                let buf = fu.as_mut().expect("FU-A without start");
                assert_eq!(buf[0], (indicator & 0xe0) | (header & 0x1f));
                buf.extend_from_slice(&pl[2..]);
                if end {
                    nals.push(fu.take().unwrap());
                }
            }
            t => panic!("unexpected H.264 payload type {t}"),
        }
    }
    assert!(fu.is_none(), "unterminated FU-A at end of access unit");
    nals
}

/// Reassembles the NAL units of an H.265 stream without DONL.
pub fn h265(packets: &[Packet]) -> Vec<Vec<u8>> {
    let mut nals = Vec::new();
    let mut fu: Option<Vec<u8>> = None;
    for p in packets {
        let pl = &p.payload;
        match (pl[0] >> 1) & 0x3f {
            48 => {
                assert!(fu.is_none(), "unterminated FU");
                let first = nals.len();
                aggregated(&pl[2..], &mut nals);
                let layer = |n: &Vec<u8>| ((n[0] & 1) << 5) | (n[1] >> 3);
                let min_layer = nals[first..].iter().map(layer).min().unwrap();
                let min_tid = nals[first..].iter().map(|n| n[1] & 7).min().unwrap();
                let f = nals[first..].iter().fold(0, |f, n| f | (n[0] & 0x80));
                assert_eq!(pl[0] & 0x80, f, "AP F");
                assert_eq!(layer(pl), min_layer, "AP LayerId");
                assert_eq!(pl[1] & 7, min_tid, "AP TID");
            }
            49 => {
                let header = pl[2];
                let (start, end) = (header & 0x80 != 0, header & 0x40 != 0);
                assert!(!(start && end), "S and E in one FU");
                assert!(pl.len() > 3, "empty FU");
                let nal_header = [(pl[0] & 0x81) | ((header & 0x3f) << 1), pl[1]];
                if start {
                    assert!(fu.is_none(), "FU start inside FU");
                    fu = Some(nal_header.to_vec());
                }
                let buf = fu.as_mut().expect("FU without start");
                assert_eq!(buf[..2], nal_header);
                buf.extend_from_slice(&pl[3..]);
                if end {
                    nals.push(fu.take().unwrap());
                }
            }
            50..=63 => panic!("unexpected H.265 payload type"),
            _ => {
                assert!(fu.is_none(), "unterminated FU");
                nals.push(pl.clone());
            }
        }
    }
    assert!(fu.is_none(), "unterminated FU at end of access unit");
    nals
}
