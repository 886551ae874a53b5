//! `cvmmap_tools recover IN.mcap OUT.mcap`: a new, indexed file from what a
//! killed writer left.
//!
//! The data section is read record by record ([`super::records`]: plain
//! reads, no mapping, every length bounded, chunk CRCs checked; the
//! trailing magic not required) and every schema, channel, message,
//! attachment and metadata record is written again with its ids, so the
//! summary, indexes and statistics are rebuilt. Reading stops at the data
//! section's end (a finished file: nothing lost) or at the first record
//! that is cut short or fails its CRC (the chunk a SIGKILL interrupted,
//! whose lengths the writer had not filled in yet): everything before it is
//! kept. The same pattern as the Go and Rust `mcap recover` commands of
//! foxglove/mcap, written against the crate's public API.

use std::borrow::Cow;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use mcap::records::Record;
use mcap::sans_io::linear_reader::LinearReaderOptions;

use super::records::{Next, Stop, for_each_record};

#[derive(Debug, thiserror::Error)]
pub enum RecoverError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not MCAP: {reason}")]
    NotMcap { path: PathBuf, reason: String },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: mcap::McapError,
    },
}

/// What was written to the new file.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Recovered {
    pub schemas: u64,
    pub channels: u64,
    pub messages: u64,
    pub attachments: u64,
    pub metadata: u64,
    /// Messages of a channel never declared before them (dropped).
    pub orphan_messages: u64,
    /// Schema or channel records that contradict an earlier one with the
    /// same id, or name an unknown schema (dropped).
    pub skipped_records: u64,
    /// Why reading stopped before the data section's end; `None`: the
    /// input was whole.
    pub lost: Option<String>,
}

struct Copier {
    out_path: PathBuf,
    writer: Option<mcap::Writer<BufWriter<File>>>,
    got: Recovered,
}

impl Copier {
    fn writer(
        &mut self,
        header: Option<&mcap::records::Header>,
    ) -> Result<&mut mcap::Writer<BufWriter<File>>, RecoverError> {
        if self.writer.is_none() {
            let path = self.out_path.clone();
            let err = |source| RecoverError::Write {
                path: path.clone(),
                source,
            };
            let file = File::create(&path).map_err(|e| err(e.into()))?;
            let mut opts = mcap::WriteOptions::new();
            if let Some(h) = header {
                opts = opts.profile(h.profile.clone()).library(h.library.clone());
            }
            self.writer = Some(opts.create(BufWriter::new(file)).map_err(err)?);
        }
        Ok(self.writer.as_mut().expect("just created"))
    }

    fn write_err(&self, source: mcap::McapError) -> RecoverError {
        RecoverError::Write {
            path: self.out_path.clone(),
            source,
        }
    }

    /// Copies one record; `false` at the data section's end.
    fn copy(&mut self, record: Record<'_>) -> Result<bool, RecoverError> {
        let w = self.writer(match &record {
            Record::Header(h) => Some(h),
            _ => None,
        })?;
        let done = match record {
            Record::Schema { header, data } => w
                .add_schema_with_id(header.id, &header.name, &header.encoding, &data)
                .map(|_| self.got.schemas += 1),
            Record::Channel(c) => w
                .add_channel_with_id(
                    c.id,
                    c.schema_id,
                    &c.topic,
                    &c.message_encoding,
                    &c.metadata,
                )
                .map(|_| self.got.channels += 1),
            Record::Message { header, data } => match w.write_to_known_channel(&header, &data) {
                Err(mcap::McapError::UnknownChannel(..)) => {
                    self.got.orphan_messages += 1;
                    Ok(())
                }
                r => r.map(|_| self.got.messages += 1),
            },
            Record::Attachment { header, data, .. } => w
                .attach(&mcap::Attachment {
                    log_time: header.log_time,
                    create_time: header.create_time,
                    name: header.name,
                    media_type: header.media_type,
                    data: Cow::Borrowed(&data[..]),
                })
                .map(|_| self.got.attachments += 1),
            Record::Metadata(m) => w.write_metadata(&m).map(|_| self.got.metadata += 1),
            // The summary repeats what the data section had; the writer
            // rebuilds indexes and statistics itself.
            Record::DataEnd(_) | Record::Footer(_) => return Ok(false),
            _ => Ok(()),
        };
        match done {
            // Another writer's records that contradict earlier ones: not
            // ours to fix, and no reason to give up on the rest.
            Err(
                mcap::McapError::ConflictingSchemas(_)
                | mcap::McapError::ConflictingChannels(_)
                | mcap::McapError::InvalidSchemaId
                | mcap::McapError::UnknownSchema(..),
            ) => self.got.skipped_records += 1,
            other => other.map_err(|e| self.write_err(e))?,
        }
        Ok(true)
    }
}

/// Recovers `input` into `output` (created or truncated).
pub fn recover(input: &Path, output: &Path) -> Result<Recovered, RecoverError> {
    let file = File::open(input).map_err(|source| RecoverError::Read {
        path: input.to_owned(),
        source,
    })?;
    let mut copier = Copier {
        out_path: output.to_owned(),
        writer: None,
        got: Recovered::default(),
    };
    let mut ended = false;
    // A write error stops the walk; it is the one error that is ours.
    let mut failed = None;
    let read = for_each_record(
        file,
        LinearReaderOptions::default().with_skip_end_magic(true),
        |record| match copier.copy(record) {
            Ok(true) => Ok(Next::Continue),
            Ok(false) => {
                ended = true;
                Ok(Next::Done)
            }
            Err(e) => {
                failed = Some(e);
                Ok(Next::Done)
            }
        },
    );
    if let Some(e) = failed {
        return Err(e);
    }
    match read {
        Err(Stop::Io(e)) => {
            return Err(RecoverError::Read {
                path: input.to_owned(),
                source: std::io::Error::other(e),
            });
        }
        Err(Stop::Invalid { records: 0, reason }) => {
            return Err(RecoverError::NotMcap {
                path: input.to_owned(),
                reason,
            });
        }
        Err(Stop::Invalid { reason, .. }) => copier.got.lost = Some(reason),
        Ok(0) => {
            return Err(RecoverError::NotMcap {
                path: input.to_owned(),
                reason: "no record after the magic".into(),
            });
        }
        Ok(_) => {}
    }
    if !ended && copier.got.lost.is_none() {
        copier.got.lost = Some("the input ends before its DataEnd record".into());
    }
    let dropped = copier.got.skipped_records + copier.got.orphan_messages;
    if dropped > 0 && copier.got.lost.is_none() {
        copier.got.lost = Some(format!(
            "{dropped} records contradicted earlier ones or named an undeclared channel"
        ));
    }
    let out = output.to_owned();
    copier
        .writer(None)?
        .finish()
        .map_err(|source| RecoverError::Write { path: out, source })?;
    Ok(copier.got)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::encode::Codec;
    use crate::record::probe::{Verdict, probe};
    use crate::record::{McapRecording, RecordOptions};

    fn scratch(tag: &str) -> PathBuf {
        std::env::temp_dir().join(format!("recover_{tag}_{}.mcap", std::process::id()))
    }

    /// A whole two-message recording's bytes.
    fn recording() -> Vec<u8> {
        let path = scratch("src");
        let mut rec = McapRecording::create(&path, RecordOptions::default()).unwrap();
        let v = rec.add_video("c", Codec::H264).unwrap();
        for t in [1, 2] {
            rec.write_video(v, t, &bytes::Bytes::from_static(&[0, 0, 1, 0x65, 1]))
                .unwrap();
        }
        rec.write_metadata("m", BTreeMap::new()).unwrap();
        rec.finish().unwrap();
        let b = std::fs::read(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        b
    }

    #[test]
    fn a_whole_file_recovers_whole_and_a_cut_one_keeps_its_complete_records() {
        let (input, output) = (scratch("in"), scratch("out"));
        let whole = recording();
        std::fs::write(&input, &whole).unwrap();
        let got = recover(&input, &output).unwrap();
        assert_eq!(
            (got.messages, got.metadata, got.lost.as_deref()),
            (2, 1, None)
        );
        assert!(matches!(probe(&output, true), Verdict::Ok { .. }));
        // Cut inside the summary: the data section is whole.
        std::fs::write(&input, &whole[..whole.len() - 40]).unwrap();
        let got = recover(&input, &output).unwrap();
        assert_eq!(got.messages, 2);
        assert!(matches!(probe(&input, false), Verdict::Broken { .. }));
        for f in [input, output] {
            let _ = std::fs::remove_file(f);
        }
    }

    /// Found by fuzzing: a record claiming 2^63 bytes made the crate's
    /// reader allocate its length (capacity overflow, a panic).
    #[test]
    fn a_crafted_record_length_is_an_error_never_an_allocation() {
        let (input, output) = (scratch("huge_in"), scratch("huge_out"));
        let mut b = recording();
        // The header record: opcode at 8, length at 9..17; the next record
        // starts right after it.
        let header_len = u64::from_le_bytes(b[9..17].try_into().unwrap()) as usize;
        let next = 8 + 9 + header_len;
        b[next + 1..next + 9].copy_from_slice(&(u64::MAX - 7).to_le_bytes());
        std::fs::write(&input, &b).unwrap();
        let got = recover(&input, &output).unwrap();
        assert!(
            got.lost.as_deref().unwrap().contains("exceeds limit"),
            "{got:?}"
        );
        assert!(probe(&input, true).is_broken());
        for f in [input, output] {
            let _ = std::fs::remove_file(f);
        }
    }
}
