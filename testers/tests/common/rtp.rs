//! The tests' own tiny RTP packetizer (RFC 3550 §5.1 header; RFC 6184 single
//! NAL unit, STAP-A and FU-A; RFC 7798 single NAL unit, AP and FU), written
//! separately from the receiver's depacketizer so that a round trip checks one
//! against the other. Also: Annex-B splitting and hand-made RTCP.

/// Which payload format to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    H264,
    H265,
}

impl Kind {
    fn header_len(self) -> usize {
        match self {
            Kind::H264 => 1,
            Kind::H265 => 2,
        }
    }
}

/// A version-2 RTP packet.
pub fn rtp_packet(pt: u8, seq: u16, ts: u32, ssrc: u32, marker: bool, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, (u8::from(marker) << 7) | pt];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

/// Packetizes access units; the marker bit is set on each unit's last packet.
#[derive(Clone, Debug)]
pub struct Packetizer {
    pub kind: Kind,
    pub pt: u8,
    pub ssrc: u32,
    pub seq: u16,
    /// Largest RTP packet, header included.
    pub mtu: usize,
    /// Put consecutive small NAL units into STAP-A / AP packets.
    pub aggregate: bool,
}

impl Packetizer {
    pub fn new(kind: Kind, pt: u8, ssrc: u32, seq: u16, mtu: usize) -> Self {
        Self {
            kind,
            pt,
            ssrc,
            seq,
            mtu,
            aggregate: false,
        }
    }

    fn max_payload(&self) -> usize {
        self.mtu - 12
    }

    /// RTP payloads for one access unit.
    pub fn payloads(&self, nals: &[Vec<u8>]) -> Vec<Vec<u8>> {
        let max = self.max_payload();
        let hl = self.kind.header_len();
        let mut out = Vec::new();
        let mut i = 0;
        while i < nals.len() {
            // Try an aggregation packet of nals[i..j].
            if self.aggregate {
                let mut size = hl;
                let mut j = i;
                while j < nals.len() && size + 2 + nals[j].len() <= max {
                    size += 2 + nals[j].len();
                    j += 1;
                }
                let min_units = match self.kind {
                    Kind::H264 => 2, // a STAP-A of one unit is legal, but pointless
                    Kind::H265 => 2, // RFC 7798 §4.4.2: at least two
                };
                if j - i >= min_units {
                    out.push(self.aggregation(&nals[i..j]));
                    i = j;
                    continue;
                }
            }
            let nal = &nals[i];
            if nal.len() <= max {
                out.push(nal.clone());
            } else {
                out.extend(self.fragments(nal));
            }
            i += 1;
        }
        out
    }

    fn aggregation(&self, nals: &[Vec<u8>]) -> Vec<u8> {
        let mut p = match self.kind {
            Kind::H264 => {
                let f = nals.iter().fold(0, |a, n| a | (n[0] & 0x80));
                let nri = nals.iter().map(|n| n[0] & 0x60).max().unwrap_or(0);
                vec![f | nri | 24]
            }
            Kind::H265 => {
                let f = nals.iter().fold(0, |a, n| a | (n[0] & 0x80));
                let layer = nals
                    .iter()
                    .map(|n| (u16::from(n[0] & 1) << 5) | u16::from(n[1] >> 3))
                    .min()
                    .unwrap_or(0);
                let tid = nals.iter().map(|n| n[1] & 7).min().unwrap_or(1);
                vec![
                    f | (48 << 1) | (layer >> 5) as u8,
                    (((layer & 0x1F) as u8) << 3) | tid,
                ]
            }
        };
        for n in nals {
            p.extend_from_slice(&(n.len() as u16).to_be_bytes());
            p.extend_from_slice(n);
        }
        p
    }

    fn fragments(&self, nal: &[u8]) -> Vec<Vec<u8>> {
        let (head, body): (Vec<u8>, &[u8]) = match self.kind {
            Kind::H264 => (vec![(nal[0] & 0xE0) | 28], &nal[1..]),
            Kind::H265 => (vec![(nal[0] & 0x81) | (49 << 1), nal[1]], &nal[2..]),
        };
        let nal_type = match self.kind {
            Kind::H264 => nal[0] & 0x1F,
            Kind::H265 => (nal[0] >> 1) & 0x3F,
        };
        let chunk = self.max_payload() - head.len() - 1;
        let n = body.chunks(chunk).count();
        body.chunks(chunk)
            .enumerate()
            .map(|(k, c)| {
                let mut p = head.clone();
                p.push((u8::from(k == 0) << 7) | (u8::from(k + 1 == n) << 6) | nal_type);
                p.extend_from_slice(c);
                p
            })
            .collect()
    }

    /// RTP packets of one access unit with timestamp `ts`.
    pub fn packetize(&mut self, ts: u32, nals: &[Vec<u8>]) -> Vec<Vec<u8>> {
        let payloads = self.payloads(nals);
        let n = payloads.len();
        payloads
            .iter()
            .enumerate()
            .map(|(k, pl)| {
                let p = rtp_packet(self.pt, self.seq, ts, self.ssrc, k + 1 == n, pl);
                self.seq = self.seq.wrapping_add(1);
                p
            })
            .collect()
    }
}

/// NAL units of an Annex-B byte stream (3- or 4-byte start codes).
pub fn split_annex_b(data: &[u8]) -> Vec<Vec<u8>> {
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 3 <= data.len() {
        if data[i..i + 3] == [0, 0, 1] {
            starts.push(i + 3);
            i += 3;
        } else {
            i += 1;
        }
    }
    let mut nals = Vec::new();
    for (k, &s) in starts.iter().enumerate() {
        let mut end = starts.get(k + 1).map_or(data.len(), |&next| next - 3);
        while end > s && data[end - 1] == 0 {
            end -= 1;
        }
        if end > s {
            nals.push(data[s..end].to_vec());
        }
    }
    nals
}

/// Annex-B with 4-byte start codes.
pub fn join_annex_b(nals: &[Vec<u8>]) -> Vec<u8> {
    nals.iter()
        .flat_map(|n| [0, 0, 0, 1].iter().chain(n.iter()).copied())
        .collect()
}

/// A compound RTCP packet: SR (RFC 3550 §6.4.1) + SDES CNAME (§6.5).
pub fn rtcp_sr(ssrc: u32, unix_ns: u64, rtp_ts: u32) -> Vec<u8> {
    let secs = unix_ns / 1_000_000_000 + 2_208_988_800;
    let frac = ((unix_ns % 1_000_000_000) << 32) / 1_000_000_000;
    let mut p = vec![0x80, 200, 0, 6];
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(&(secs as u32).to_be_bytes());
    p.extend_from_slice(&(frac as u32).to_be_bytes());
    p.extend_from_slice(&rtp_ts.to_be_bytes());
    p.extend_from_slice(&1u32.to_be_bytes());
    p.extend_from_slice(&100u32.to_be_bytes());
    p.extend_from_slice(&[0x81, 202, 0, 3]);
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(&[1, 3, b't', b's', b't', 0, 0, 0]);
    p
}
