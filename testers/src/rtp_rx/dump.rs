//! `--dump-units PATH`: every complete access unit appended to a file as a
//! 4-byte little-endian length followed by that many Annex-B bytes (NAL units
//! behind 4-byte start codes, exactly as received: nothing is added), so that
//! tests can compare them byte for byte with what was sent.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

/// An open dump file.
pub struct UnitDump {
    file: File,
    pub units: u64,
}

impl UnitDump {
    /// Opens `path` for appending (created when missing).
    pub fn open(path: &Path) -> io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(Self { file, units: 0 })
    }

    /// Appends one record (a single write, so a killed process leaves whole records).
    pub fn write(&mut self, annex_b: &[u8]) -> io::Result<()> {
        let len = u32::try_from(annex_b.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "unit over 4 GiB"))?;
        let mut record = Vec::with_capacity(4 + annex_b.len());
        record.extend_from_slice(&len.to_le_bytes());
        record.extend_from_slice(annex_b);
        self.file.write_all(&record)?;
        self.units += 1;
        Ok(())
    }
}

/// Splits a dump file's bytes into its records; `None` if the last is cut short.
pub fn read_records(mut bytes: &[u8]) -> Option<Vec<&[u8]>> {
    let mut records = Vec::new();
    while !bytes.is_empty() {
        let len = u32::from_le_bytes(bytes.get(..4)?.try_into().ok()?) as usize;
        records.push(bytes.get(4..4 + len)?);
        bytes = &bytes[4 + len..];
    }
    Some(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_append() {
        let path = std::env::temp_dir().join(format!("cvmt_dump_{}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let mut d = UnitDump::open(&path).unwrap();
        d.write(&[0, 0, 0, 1, 0x65, 1]).unwrap();
        drop(d);
        let mut d = UnitDump::open(&path).unwrap();
        d.write(&[]).unwrap();
        d.write(&[0, 0, 0, 1, 0x41]).unwrap();
        assert_eq!(d.units, 2);
        let bytes = std::fs::read(&path).unwrap();
        let _ = std::fs::remove_file(&path);
        let recs = read_records(&bytes).unwrap();
        assert_eq!(
            recs,
            vec![&[0, 0, 0, 1, 0x65, 1][..], &[], &[0, 0, 0, 1, 0x41]]
        );
        assert!(read_records(&bytes[..bytes.len() - 1]).is_none());
        assert!(read_records(&[1, 0]).is_none());
    }
}
