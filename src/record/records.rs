//! Every record of an MCAP file in order, chunks opened here: the reader
//! `probe --deep` and `recover` share.
//!
//! The `mcap` crate's sans-io linear reader finds the top-level records
//! (plain reads, nothing mapped; [`feed`] never lets it hold more than the
//! file has, and no record may claim more than [`MAX_RECORD_BYTES`]), but
//! the records inside a chunk are split here, with every length checked
//! against what is left of the chunk: the crate 0.26 subtracts a record's
//! claimed length from the chunk's remaining bytes unchecked (an overflow
//! panic with overflow checks, a wrapped count without; found by fuzzing
//! `record_recover`). A chunk is decompressed (zstd or none; lz4 is not
//! built in) into at most its stated `uncompressed_size`, which must match,
//! and its CRC is checked when it has one (MCAP spec, "Chunk").

use std::fs::File;
use std::io::Read;

use mcap::records::{Record, op};
use mcap::sans_io::linear_reader::{LinearReadEvent, LinearReader, LinearReaderOptions};

/// The longest record (and a chunk's uncompressed records) accepted: our
/// writer closes chunks at 4 MiB, other writers default to 1 MiB. A
/// crafted length is an error, never an allocation of that size.
pub const MAX_RECORD_BYTES: usize = 256 << 20;

/// Answers a sans-io reader's read request from `file`, never asking it to
/// hold more than what is left of the file (`left`, updated): a record that
/// claims more is cut, and its claimed length must not become a buffer.
/// Returns the bytes read; 0 at the end of the file.
pub(crate) fn feed(
    reader: &mut LinearReader,
    file: &mut File,
    need: usize,
    left: &mut u64,
) -> std::io::Result<usize> {
    let want = need.min(usize::try_from(*left).unwrap_or(usize::MAX));
    if want == 0 {
        return Ok(0);
    }
    let n = file.read(reader.insert(want))?;
    reader.notify_read(n);
    *left = left.saturating_sub(n as u64);
    Ok(n)
}

/// Why reading stopped early.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// The file could not be read.
    Io(String),
    /// The bytes are not (or no longer) valid MCAP; `records` were read.
    Invalid { records: u64, reason: String },
}

/// What `visit` says after each record.
pub enum Next {
    Continue,
    Done,
}

/// Calls `visit` for every record of `file` in order (chunk contents in
/// place of their chunk). `Ok(records)` at the end of the file or when
/// `visit` says done.
pub fn for_each_record(
    mut file: File,
    options: LinearReaderOptions,
    mut visit: impl FnMut(Record<'_>) -> Result<Next, Stop>,
) -> Result<u64, Stop> {
    let mut left = file.metadata().map_err(|e| Stop::Io(e.to_string()))?.len();
    let mut reader = LinearReader::new_with_options(
        options
            .with_emit_chunks(true)
            .with_record_length_limit(MAX_RECORD_BYTES),
    );
    let mut records = 0u64;
    let invalid = |records, reason: String| Stop::Invalid { records, reason };
    let mut scratch = Vec::new();
    while let Some(event) = reader.next_event() {
        match event.map_err(|e| invalid(records, e.to_string()))? {
            LinearReadEvent::ReadRequest(need) => {
                let n = feed(&mut reader, &mut file, need, &mut left)
                    .map_err(|e| Stop::Io(e.to_string()))?;
                if n == 0 {
                    return Err(invalid(
                        records,
                        format!(
                            "the file ends inside a record ({need} more bytes wanted): cut short"
                        ),
                    ));
                }
            }
            LinearReadEvent::Record { data, opcode } => {
                let record = parse(opcode, data).map_err(|e| {
                    invalid(
                        records,
                        format!("record {} (opcode {opcode:#04x}): {e}", records + 1),
                    )
                })?;
                let Record::Chunk { header, data } = record else {
                    records += 1;
                    match visit(record)? {
                        Next::Continue => continue,
                        Next::Done => return Ok(records),
                    }
                };
                let content = open_chunk(&header, &data, &mut scratch)
                    .map_err(|reason| invalid(records, reason))?;
                let mut at = 0usize;
                while at < content.len() {
                    let (opcode, body) =
                        inner_record(content, at).map_err(|reason| invalid(records, reason))?;
                    at += 9 + body.len();
                    let record = parse(opcode, body).map_err(|e| {
                        invalid(records, format!("record {} in a chunk: {e}", records + 1))
                    })?;
                    records += 1;
                    if let Next::Done = visit(record)? {
                        return Ok(records);
                    }
                }
            }
        }
    }
    Ok(records)
}

/// The records field of a chunk, decompressed into `scratch` if needed.
fn open_chunk<'a>(
    header: &mcap::records::ChunkHeader,
    data: &'a [u8],
    scratch: &'a mut Vec<u8>,
) -> Result<&'a [u8], String> {
    let size = usize::try_from(header.uncompressed_size)
        .ok()
        .filter(|&n| n <= MAX_RECORD_BYTES)
        .ok_or_else(|| format!("a chunk of {} bytes uncompressed", header.uncompressed_size))?;
    let content: &[u8] = match header.compression.as_str() {
        "" => data,
        "zstd" => {
            // Into the buffer the last chunk used: it grows to the largest
            // chunk once, and never past what this chunk's header states
            // (decompression stops at the capacity).
            scratch.clear();
            scratch.reserve(size);
            zstd::bulk::Decompressor::new()
                .and_then(|mut d| d.decompress_to_buffer(data, scratch))
                .map_err(|e| format!("a zstd chunk does not decompress: {e}"))?;
            scratch
        }
        other => return Err(format!("chunk compression {other:?} is not supported")),
    };
    if content.len() != size {
        return Err(format!(
            "a chunk holds {} bytes, its header says {size}",
            content.len()
        ));
    }
    if header.uncompressed_crc != 0 && crc32fast::hash(content) != header.uncompressed_crc {
        return Err("a chunk fails its CRC".into());
    }
    Ok(content)
}

/// The record at `at` of a chunk's records: (opcode, body), its claimed
/// length checked against what is left.
fn inner_record(content: &[u8], at: usize) -> Result<(u8, &[u8]), String> {
    let head = content
        .get(at..at + 9)
        .ok_or("a record header cut by its chunk's end")?;
    let len = u64::from_le_bytes(head[1..9].try_into().expect("8 bytes"));
    let body = usize::try_from(len)
        .ok()
        .and_then(|len| content.get(at + 9..(at + 9).checked_add(len)?))
        .ok_or_else(|| format!("a record of {len} bytes runs past its chunk's end"))?;
    Ok((head[0], body))
}

/// `mcap::parse_record`, after the checks it lacks: the crate 0.26 slices
/// an Attachment's body to `len - 4` for its CRC without checking that the
/// header fits before it (a slice-index panic, found by fuzzing
/// `record_recover`).
fn parse(opcode: u8, body: &[u8]) -> Result<Record<'_>, String> {
    if opcode == op::ATTACHMENT && !attachment_fits(body) {
        return Err("an attachment record too short for its own fields".into());
    }
    mcap::parse_record(opcode, body).map_err(|e| e.to_string())
}

/// Whether an Attachment body (MCAP spec, "Attachment": log_time u64,
/// create_time u64, name and media_type as u32-length strings, data_len
/// u64, data, crc u32) holds its fields and data.
fn attachment_fits(body: &[u8]) -> bool {
    let string_end = |at: usize| -> Option<usize> {
        let len = u32::from_le_bytes(body.get(at..at + 4)?.try_into().ok()?);
        (at + 4).checked_add(len as usize)
    };
    let fits = || -> Option<bool> {
        let data_len_at = string_end(string_end(16)?)?;
        let data_len = u64::from_le_bytes(body.get(data_len_at..data_len_at + 8)?.try_into().ok()?);
        let end = (data_len_at + 8)
            .checked_add(usize::try_from(data_len).ok()?)?
            .checked_add(4)?;
        Some(end <= body.len())
    };
    fits().unwrap_or(false)
}

/// Whether `opcode` is a Message record (for counting).
pub fn is_message(record: &Record<'_>) -> bool {
    record.opcode() == op::MESSAGE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_attachment_too_short_for_its_fields_is_refused_before_the_crate_slices_it() {
        // log/create time, name "a", media type "", data_len 2, data, crc.
        let mut b = vec![0u8; 16];
        b.extend_from_slice(&1u32.to_le_bytes());
        b.push(b'a');
        b.extend_from_slice(&0u32.to_le_bytes());
        b.extend_from_slice(&2u64.to_le_bytes());
        b.extend_from_slice(&[7, 7, 0, 0, 0, 0]);
        assert!(attachment_fits(&b));
        assert!(matches!(
            parse(op::ATTACHMENT, &b),
            Ok(Record::Attachment { .. })
        ));
        // Cut after data_len (the crate panicked here): refused.
        let cut = &b[..16 + 5 + 4 + 8];
        assert!(!attachment_fits(cut));
        assert!(parse(op::ATTACHMENT, cut).is_err());
        assert!(!attachment_fits(&[]));
    }

    #[test]
    fn inner_records_never_run_past_their_chunk() {
        // opcode 5, length 3, body; then a record claiming 2^64 - 1 bytes.
        let mut c = vec![5u8, 3, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3];
        assert_eq!(inner_record(&c, 0).unwrap(), (5, &[1u8, 2, 3][..]));
        c.extend_from_slice(&[5, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);
        assert!(inner_record(&c, 12).unwrap_err().contains("runs past"));
        assert!(inner_record(&c, 15).unwrap_err().contains("cut"));
    }
}
