//! Reads of a producer's POSIX shared-memory segment.
//!
//! Every copy is a `pread` on the descriptor held open since [`Segment::open`],
//! never a load from a mapping. The contract lets a producer re-initialise
//! with another size (§2), and one that `ftruncate`s the same segment smaller
//! turns every mapped page past the new end into SIGBUS for its readers; a
//! `pread` there just returns fewer bytes, which is reported as
//! [`OutOfBounds`] and makes the ingest loop re-open the segment. The kernel
//! copies from the page cache into our buffer: still one copy per frame, and
//! no reference to memory another process mutates is ever formed.

use std::fs::File;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};

use super::IngestError;
use super::snapshot::{OutOfBounds, SharedRegion};
use crate::contract::METADATA_SIZE;

/// Where a segment's name points now, compared with what is mapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Identity {
    /// The name still refers to the mapped file.
    Same,
    /// The producer re-created the segment: the name refers to another file.
    Replaced,
    /// The name no longer exists (producer exited and unlinked it).
    Gone,
}

/// Converts a POSIX shm name (`name` or `/name`) to its path under /dev/shm.
pub fn shm_path(name: &str) -> Result<PathBuf, IngestError> {
    let bare = name.strip_prefix('/').unwrap_or(name);
    if bare.is_empty() || bare.len() > 255 || bare.contains('/') || bare == "." || bare == ".." {
        return Err(IngestError::BadShmName {
            name: name.to_owned(),
        });
    }
    Ok(Path::new("/dev/shm").join(bare))
}

/// One incarnation of a segment, opened read-only.
pub struct Segment {
    path: PathBuf,
    file: File,
    /// The file's size when opened: what the metadata is validated against.
    len: usize,
    dev_ino: (u64, u64),
}

impl Segment {
    /// Opens the segment read-only. A missing segment is
    /// [`IngestError::SegmentMissing`] (the producer may not have started).
    pub fn open(path: &Path) -> Result<Self, IngestError> {
        let io = |source| IngestError::SegmentIo {
            path: path.to_owned(),
            source,
        };
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(IngestError::SegmentMissing {
                    path: path.to_owned(),
                });
            }
            Err(e) => return Err(io(e)),
        };
        let meta = file.metadata().map_err(io)?;
        let len = usize::try_from(meta.len()).unwrap_or(usize::MAX);
        if len < METADATA_SIZE {
            return Err(IngestError::SegmentTooSmall {
                path: path.to_owned(),
                size: len,
            });
        }
        Ok(Self {
            path: path.to_owned(),
            file,
            len,
            dev_ino: (meta.dev(), meta.ino()),
        })
    }

    /// Whether the segment's name still refers to the mapped file.
    pub fn identity(&self) -> Identity {
        match std::fs::metadata(&self.path) {
            Ok(m) if (m.dev(), m.ino()) == self.dev_ino => Identity::Same,
            Ok(_) => Identity::Replaced,
            Err(_) => Identity::Gone,
        }
    }

    /// Whether the file's current size differs from the size at open (the
    /// producer called `ftruncate`): callers re-open to see the new size.
    pub fn size_changed(&self) -> bool {
        match self.file.metadata() {
            Ok(m) => m.len() != self.len as u64,
            Err(_) => true,
        }
    }
}

impl SharedRegion for Segment {
    fn len(&self) -> usize {
        self.len
    }

    /// `pread` until `dst` is full. A read that ends early (the producer
    /// shrank the file meanwhile) or fails is refused: the caller re-opens.
    fn read_at(&self, offset: usize, dst: &mut [u8]) -> Result<(), OutOfBounds> {
        let refused = OutOfBounds {
            offset,
            len: dst.len(),
        };
        let end = offset.checked_add(dst.len()).ok_or(refused)?;
        if end > self.len {
            return Err(refused);
        }
        let mut done = 0;
        while done < dst.len() {
            match self.file.read_at(&mut dst[done..], (offset + done) as u64) {
                Ok(0) => return Err(refused),
                Ok(n) => done += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return Err(refused),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 13, defect 2: a producer that shrinks the segment in place
    /// (`ftruncate` smaller, same inode) while we read. With the old mapped
    /// copy this test died of SIGBUS; now the read is refused and the size
    /// change is visible, so the loop re-opens.
    #[test]
    fn a_segment_shrunk_in_place_refuses_reads_past_its_end() {
        let path = PathBuf::from(format!("/dev/shm/cvmst_shrink_{}", std::process::id()));
        let big = 256 + 1920 * 1080 * 3;
        let f = std::fs::File::create(&path).unwrap();
        f.set_len(big as u64).unwrap();
        f.write_at(&[7u8; 16], 1_000_000).unwrap();
        let seg = Segment::open(&path).unwrap();
        let mut buf = vec![0u8; 16];
        seg.read_at(1_000_000, &mut buf).unwrap();
        assert_eq!(buf, [7u8; 16]);
        f.set_len((256 + 640 * 360 * 3) as u64).unwrap();
        assert!(seg.size_changed(), "the shrink is visible");
        let mut frame = vec![0u8; 1920 * 1080 * 3];
        assert_eq!(
            seg.read_at(256, &mut frame),
            Err(OutOfBounds {
                offset: 256,
                len: frame.len()
            })
        );
        assert!(seg.read_at(1_000_000, &mut buf).is_err());
        // What is still there reads fine.
        seg.read_at(0, &mut buf).unwrap();
        let again = Segment::open(&path).unwrap();
        assert_eq!(again.len(), 256 + 640 * 360 * 3);
        std::fs::remove_file(&path).unwrap();
    }
}
