//! Packetization shared by the NAL-unit based payload formats, H.264
//! (RFC 6184) and H.265 (RFC 7798).
//!
//! Both formats send a NAL unit that fits as is (single NAL unit packet), cut
//! one that does not into fragmentation units (FU-A / FU), and may gather
//! small NAL units into an aggregation packet (STAP-A / AP). Only the header
//! bits differ; a [`NalScheme`] supplies them and [`NalPayloader`] does the
//! walking, so a codec payloader only decides how a NAL unit is split.

use std::marker::PhantomData;
use std::ops::Range;

use crate::codec::annexb::NalUnits;

/// Codec-specific header layout of a NAL-unit payload format.
pub(super) trait NalScheme {
    /// NAL unit header length: 1 for H.264, 2 for H.265.
    const NAL_HEADER_LEN: usize;
    /// Bytes in front of each fragment's data: FU indicator + FU header
    /// (H.264, 2) or PayloadHdr + FU header (H.265, 3).
    const FU_HEADER_LEN: usize;
    /// Aggregation packet header: STAP-A NAL header (H.264, 1) or PayloadHdr
    /// (H.265, 2). Each aggregated unit then takes a 16-bit size and the NAL.
    const AP_HEADER_LEN: usize;

    /// Whether `nal` is never sent (e.g. access unit delimiters).
    fn is_dropped(nal: &[u8]) -> bool;

    /// Whether `nal` may be aggregated with its neighbours (parameter sets, SEI).
    fn is_aggregated(nal: &[u8]) -> bool;

    /// The first [`Self::FU_HEADER_LEN`] bytes of a fragment of the NAL unit
    /// whose header is `nal_header` (`NAL_HEADER_LEN` bytes).
    fn fu_header(nal_header: &[u8], start: bool, end: bool) -> [u8; 3];

    /// Folds one more aggregated NAL unit into the aggregation packet header
    /// (`acc` is `None` for the first one); the first [`Self::AP_HEADER_LEN`]
    /// bytes of the result are written.
    fn ap_header(acc: Option<[u8; 2]>, nal: &[u8]) -> [u8; 2];
}

/// A NAL unit being sent as fragmentation units; offsets into the access unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fragment {
    /// Start of the NAL unit (its header).
    nal_start: usize,
    /// First byte not sent yet.
    next: usize,
    /// End of the NAL unit.
    end: usize,
}

/// Resumable cursor over one access unit implementing
/// [`super::Payloader`]'s contract for a [`NalScheme`].
#[derive(Debug, Clone)]
pub(super) struct NalPayloader<S> {
    /// Whether aggregation packets are produced.
    aggregate: bool,
    /// Where the Annex-B scan resumes.
    pos: usize,
    /// The NAL unit currently being fragmented, if any.
    fragment: Option<Fragment>,
    scheme: PhantomData<S>,
}

impl<S: NalScheme> NalPayloader<S> {
    pub(super) fn new(aggregate: bool) -> Self {
        Self {
            aggregate,
            pos: 0,
            fragment: None,
            scheme: PhantomData,
        }
    }

    pub(super) fn aggregates(&self) -> bool {
        self.aggregate
    }

    pub(super) fn begin(&mut self) {
        self.pos = 0;
        self.fragment = None;
    }

    pub(super) fn next_payload(&mut self, au: &[u8], out: &mut [u8]) -> Option<usize> {
        if let Some(fragment) = self.fragment.take() {
            return Some(self.write_fragment(au, fragment, out));
        }
        let mut nals = NalUnits::resume(au, self.pos);
        loop {
            let range = nals.next_range();
            self.pos = nals.position();
            let range = range?;
            let nal = &au[range.clone()];
            if S::is_dropped(nal) {
                continue;
            }
            if self.aggregate
                && S::is_aggregated(nal)
                && let Some(len) = self.write_aggregate(au, range.clone(), out)
            {
                return Some(len);
            }
            if nal.len() <= out.len() {
                // Single NAL unit packet: the NAL unit is the payload.
                out[..nal.len()].copy_from_slice(nal);
                return Some(nal.len());
            }
            let fragment = Fragment {
                nal_start: range.start,
                next: range.start + S::NAL_HEADER_LEN,
                end: range.end,
            };
            return Some(self.write_fragment(au, fragment, out));
        }
    }

    /// Writes the next fragmentation unit of `f`; keeps `f` for the next call
    /// unless this was its last fragment.
    fn write_fragment(&mut self, au: &[u8], mut f: Fragment, out: &mut [u8]) -> usize {
        let hdr_len = S::FU_HEADER_LEN;
        let take = (f.end - f.next).min(out.len() - hdr_len);
        let start = f.next == f.nal_start + S::NAL_HEADER_LEN;
        let end = f.next + take == f.end;
        let nal_header = &au[f.nal_start..f.nal_start + S::NAL_HEADER_LEN];
        out[..hdr_len].copy_from_slice(&S::fu_header(nal_header, start, end)[..hdr_len]);
        out[hdr_len..hdr_len + take].copy_from_slice(&au[f.next..f.next + take]);
        f.next += take;
        if !end {
            self.fragment = Some(f);
        }
        hdr_len + take
    }

    /// Aggregates `first` and the aggregatable NAL units right after it, as
    /// many as fit. Returns `None` (leaving the cursor alone) when fewer than
    /// two would fit: a lone NAL unit goes into a single NAL unit packet.
    fn write_aggregate(&mut self, au: &[u8], first: Range<usize>, out: &mut [u8]) -> Option<usize> {
        let mut nals = NalUnits::resume(au, self.pos);
        let mut len = S::AP_HEADER_LEN;
        let mut header = None;
        let mut count = 0;
        let mut end_pos = self.pos;
        let mut range = first;
        'units: loop {
            let nal = &au[range];
            let entry_end = len + 2 + nal.len();
            let Ok(size) = u16::try_from(nal.len()) else {
                break;
            };
            if entry_end > out.len() {
                break;
            }
            out[len..len + 2].copy_from_slice(&size.to_be_bytes());
            out[len + 2..entry_end].copy_from_slice(nal);
            len = entry_end;
            header = Some(S::ap_header(header, nal));
            count += 1;
            end_pos = nals.position();
            range = loop {
                match nals.next_range() {
                    Some(r) if S::is_dropped(&au[r.clone()]) => continue,
                    Some(r) if S::is_aggregated(&au[r.clone()]) => break r,
                    _ => break 'units,
                }
            };
        }
        let header = header.filter(|_| count >= 2)?;
        out[..S::AP_HEADER_LEN].copy_from_slice(&header[..S::AP_HEADER_LEN]);
        self.pos = end_pos;
        Some(len)
    }
}
