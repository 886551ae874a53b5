//! Read-only mapping of a producer's POSIX shared-memory segment.
//!
//! Only this file touches the mapping's raw memory. The producer writes the
//! segment concurrently, so reads go through raw pointers (never a `&[u8]`
//! over memory another process mutates) and every read is bounds-checked
//! against the mapped length, whatever the metadata says.

use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{Ordering, fence};

use memmap2::{Mmap, MmapOptions};

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

/// A read-only mapping of one incarnation of a segment.
pub struct Segment {
    path: PathBuf,
    file: File,
    map: Mmap,
    dev_ino: (u64, u64),
}

impl Segment {
    /// Opens and maps the segment read-only. A missing segment is
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
        // SAFETY: the mapping is read-only and private to this struct; all
        // access goes through `read_at`, which bounds-checks and never forms
        // a reference to the shared bytes.
        let map = unsafe { MmapOptions::new().len(len).map(&file) }.map_err(io)?;
        Ok(Self {
            path: path.to_owned(),
            file,
            map,
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

    /// Whether the file's current size differs from the mapped length (the
    /// producer called `ftruncate`). Reading past a shrunk file would raise
    /// SIGBUS, so callers remap before copying when this is true.
    pub fn size_changed(&self) -> bool {
        match self.file.metadata() {
            Ok(m) => m.len() != self.map.len() as u64,
            Err(_) => true,
        }
    }
}

impl SharedRegion for Segment {
    fn len(&self) -> usize {
        self.map.len()
    }

    fn read_at(&self, offset: usize, dst: &mut [u8]) -> Result<(), OutOfBounds> {
        let end = offset.checked_add(dst.len()).ok_or(OutOfBounds {
            offset,
            len: dst.len(),
        })?;
        if end > self.map.len() {
            return Err(OutOfBounds {
                offset,
                len: dst.len(),
            });
        }
        // Order this read after any earlier read of the metadata.
        fence(Ordering::Acquire);
        // SAFETY: `offset..end` lies inside the live mapping (checked above);
        // `dst` is a distinct, exclusively borrowed buffer.
        unsafe {
            std::ptr::copy_nonoverlapping(
                self.map.as_ptr().add(offset),
                dst.as_mut_ptr(),
                dst.len(),
            )
        };
        fence(Ordering::Acquire);
        Ok(())
    }
}
