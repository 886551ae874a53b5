//! `cvmmap_tools recover IN.mcap OUT.mcap`: a new, indexed file from what a
//! killed writer left.
//!
//! The data section is read record by record with the `mcap` crate's
//! sans-io linear reader (plain reads, no mapping; the trailing magic not
//! required, chunk CRCs checked) and every schema, channel, message,
//! attachment and metadata record is written again with its ids, so the
//! summary, indexes and statistics are rebuilt. Reading stops at the data
//! section's end (a finished file: nothing lost) or at the first record
//! that is cut short or fails its CRC (the chunk a SIGKILL interrupted,
//! whose lengths the writer had not filled in yet): everything before it is
//! kept. The same pattern as the Go and Rust `mcap recover` commands of
//! foxglove/mcap, written against the crate's public API.

use std::borrow::Cow;
use std::fs::File;
use std::io::{BufWriter, Read};
use std::path::{Path, PathBuf};

use mcap::records::Record;
use mcap::sans_io::linear_reader::{LinearReadEvent, LinearReader, LinearReaderOptions};

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
    let read_err = |source| RecoverError::Read {
        path: input.to_owned(),
        source,
    };
    let not_mcap = |reason: String| RecoverError::NotMcap {
        path: input.to_owned(),
        reason,
    };
    let mut file = File::open(input).map_err(read_err)?;
    let mut reader = LinearReader::new_with_options(
        LinearReaderOptions::default()
            .with_skip_end_magic(true)
            .with_validate_chunk_crcs(true),
    );
    let mut copier = Copier {
        out_path: output.to_owned(),
        writer: None,
        got: Recovered::default(),
    };
    let (mut records, mut ended) = (0u64, false);
    while let Some(event) = reader.next_event() {
        match event {
            Err(e) if records == 0 => return Err(not_mcap(e.to_string())),
            Err(e) => {
                copier.got.lost = Some(e.to_string());
                break;
            }
            Ok(LinearReadEvent::ReadRequest(need)) => {
                let n = file.read(reader.insert(need)).map_err(read_err)?;
                reader.notify_read(n);
                if n == 0 {
                    // The input ends inside a record: the chunk a kill cut.
                    copier.got.lost = Some(format!(
                        "the input ends inside a record ({need} more bytes wanted): cut short"
                    ));
                    break;
                }
            }
            Ok(LinearReadEvent::Record { data, opcode }) => {
                records += 1;
                let record = match mcap::parse_record(opcode, data) {
                    Ok(r) => r,
                    Err(e) => {
                        copier.got.lost =
                            Some(format!("record {records} (opcode {opcode:#04x}): {e}"));
                        break;
                    }
                };
                if !copier.copy(record)? {
                    ended = true;
                    break;
                }
            }
        }
    }
    if records == 0 {
        return Err(not_mcap("no record after the magic".into()));
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
