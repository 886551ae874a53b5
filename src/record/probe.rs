//! `cvmmap_tools probe`: is a recording whole, unfinished or broken?
//!
//! - MCAP, cheap: the leading magic, then the footer and the summary it
//!   points to (the `mcap` crate's sans-io summary reader, over reads and
//!   seeks: nothing is mapped, so a file truncated while we read it is an
//!   error, never a fault). `deep`: every record once, every chunk's CRC
//!   checked, messages counted.
//! - MP4: the top-level boxes (ISO/IEC 14496-12 §4.2: 32-bit size, type,
//!   64-bit `largesize` when size is 1, "to the end" when 0): `moov` and no
//!   `moof` is a finished file; `moov` with `moof` a fragmented one whose
//!   fragments play (a killed `first-moov-then-finalise` recording); no
//!   `moov` is broken, as ffmpeg says ("moov atom not found").

use std::fs::File;
use std::io::{Read, Seek};
use std::path::Path;

use mcap::sans_io::linear_reader::LinearReaderOptions;
use mcap::sans_io::summary_reader::{SummaryReadEvent, SummaryReader, SummaryReaderOptions};

use super::records::{MAX_RECORD_BYTES, Next, Stop, for_each_record, is_message};

/// What a probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// A complete file; `detail` says what was counted.
    Ok {
        detail: String,
    },
    /// Readable but not finished (an MP4 with fragments and no final
    /// `moov` of its own): plays, but a clean stop did not happen.
    Unfinished {
        detail: String,
    },
    Broken {
        reason: String,
    },
}

impl Verdict {
    pub fn is_broken(&self) -> bool {
        matches!(self, Verdict::Broken { .. })
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Verdict::Ok { detail } => write!(f, "ok: {detail}"),
            Verdict::Unfinished { detail } => write!(f, "unfinished: {detail}"),
            Verdict::Broken { reason } => write!(f, "broken: {reason}"),
        }
    }
}

fn broken(reason: impl Into<String>) -> Verdict {
    Verdict::Broken {
        reason: reason.into(),
    }
}

/// Probes `path` by its contents (MCAP magic, else MP4 boxes).
pub fn probe(path: &Path, deep: bool) -> Verdict {
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) => return broken(format!("cannot open: {e}")),
    };
    let mut head = [0u8; 8];
    let got = read_up_to(&mut file, &mut head);
    if got == 8 && head[..] == *mcap::MAGIC {
        probe_mcap(file, deep)
    } else if got == 8 && &head[4..8] == b"ftyp" {
        probe_mp4(file)
    } else {
        broken("neither MCAP (no magic) nor MP4 (no ftyp box first)")
    }
}

fn read_up_to(file: &mut File, buf: &mut [u8]) -> usize {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    n
}

/// The summary section of an MCAP file (footer, then the records it points
/// to), every record length bounded: `Err` says why there is none.
pub fn read_summary(file: &mut File) -> Result<mcap::Summary, String> {
    let mut reader = SummaryReader::new_with_options(
        SummaryReaderOptions::default().with_record_length_limit(MAX_RECORD_BYTES),
    );
    let file_len = file
        .metadata()
        .map(|m| usize::try_from(m.len()).unwrap_or(usize::MAX))
        .map_err(|e| format!("cannot stat: {e}"))?;
    while let Some(event) = reader.next_event() {
        let step = match event {
            // No request can want more than the file holds; one that gets
            // nothing more is at the end (a footer pointing past it).
            Ok(SummaryReadEvent::ReadRequest(need)) => {
                match file.read(reader.insert(need.min(file_len).max(1))) {
                    Ok(0) => return Err("the summary runs past the end of the file".into()),
                    Ok(n) => {
                        reader.notify_read(n);
                        Ok(())
                    }
                    Err(e) => Err(e),
                }
            }
            Ok(SummaryReadEvent::SeekRequest(to)) => {
                file.seek(to).map(|pos| reader.notify_seeked(pos))
            }
            Err(e) => {
                return Err(format!(
                    "{e} (no valid footer: killed while writing? try `recover`)"
                ));
            }
        };
        step.map_err(|e| format!("read error: {e}"))?;
    }
    reader
        .finish()
        .ok_or_else(|| "no summary section (written without one, or not finished)".into())
}

fn probe_mcap(mut file: File, deep: bool) -> Verdict {
    let summary = match read_summary(&mut file) {
        Ok(s) => s,
        Err(reason) => return broken(reason),
    };
    let Some(stats) = summary.stats else {
        return broken("the summary has no statistics record");
    };
    let mut detail = format!(
        "{} messages on {} channels in {} chunks",
        stats.message_count, stats.channel_count, stats.chunk_count
    );
    if deep {
        if let Err(e) = file.rewind() {
            return broken(format!("read error: {e}"));
        }
        match count_messages(file) {
            Ok(n) if n == stats.message_count => {
                detail.push_str("; every chunk's CRC and message read")
            }
            Ok(n) => {
                return broken(format!(
                    "the statistics say {} messages, the file holds {n}",
                    stats.message_count
                ));
            }
            Err(e) => return broken(e),
        }
    }
    Verdict::Ok { detail }
}

/// Reads every record with chunk CRCs checked; the number of messages.
fn count_messages(file: File) -> Result<u64, String> {
    let mut messages = 0u64;
    let options = LinearReaderOptions::default()
        .with_validate_data_section_crc(true)
        .with_validate_summary_section_crc(true);
    for_each_record(file, options, |record| {
        messages += u64::from(is_message(&record));
        Ok(Next::Continue)
    })
    .map_err(|stop| match stop {
        Stop::Io(e) => format!("read error: {e}"),
        Stop::Invalid { reason, .. } => reason,
    })?;
    Ok(messages)
}

/// One top-level box: its type and where the next one starts.
fn next_box(file: &mut File, at: u64, len: u64) -> Result<Option<([u8; 4], u64)>, String> {
    if at >= len {
        return Ok(None);
    }
    let mut h = [0u8; 16];
    file.seek(std::io::SeekFrom::Start(at))
        .map_err(|e| format!("read error: {e}"))?;
    let got = read_up_to(file, &mut h);
    if got < 8 {
        return Err(format!("a truncated box header at byte {at}"));
    }
    let size = u64::from(u32::from_be_bytes([h[0], h[1], h[2], h[3]]));
    let kind = [h[4], h[5], h[6], h[7]];
    let size = match size {
        0 => len - at,
        1 if got == 16 => u64::from_be_bytes(h[8..16].try_into().expect("8 bytes")),
        1 => return Err(format!("a truncated box header at byte {at}")),
        n => n,
    };
    if size < 8 {
        return Err(format!("a box of {size} bytes at byte {at}"));
    }
    Ok(Some((kind, at.saturating_add(size))))
}

fn probe_mp4(mut file: File) -> Verdict {
    let len = match file.metadata() {
        Ok(m) => m.len(),
        Err(e) => return broken(format!("cannot stat: {e}")),
    };
    let (mut at, mut moov, mut moof, mut mdat, mut truncated) = (0u64, 0, 0, 0, false);
    loop {
        match next_box(&mut file, at, len) {
            Ok(None) => break,
            Ok(Some((kind, next))) => {
                match &kind {
                    b"moov" => moov += 1,
                    b"moof" => moof += 1,
                    b"mdat" => mdat += 1,
                    _ => {}
                }
                if next > len {
                    // The last box runs past the end: a killed writer.
                    truncated = true;
                    break;
                }
                at = next;
            }
            Err(e) => return broken(e),
        }
    }
    let tail = if truncated {
        ", the last box cut short"
    } else {
        ""
    };
    match (moov, moof) {
        (0, _) => broken(format!("moov atom not found ({mdat} mdat{tail})")),
        (_, 0) if !truncated => Verdict::Ok {
            detail: format!("finalised ({mdat} mdat)"),
        },
        (_, 0) => broken(format!("moov present, mdat cut short{tail}")),
        (_, f) => Verdict::Unfinished {
            detail: format!("fragmented, {f} fragments play{tail}"),
        },
    }
}
