//! Reads of a producer's POSIX shared-memory segment.
//!
//! Copies are `pread`s on the descriptor held open since [`Segment::open`].
//! The contract lets a producer re-initialise with another size (§2), and
//! one that `ftruncate`s the same segment smaller turns every mapped page
//! past the new end into SIGBUS for its readers; a `pread` there just
//! returns fewer bytes, which is reported as [`OutOfBounds`] and makes the
//! ingest loop re-open the segment. The frame itself is converted in place
//! from a read-only mapping ([`SharedRegion::in_place`]) under
//! [`super::guard`], which turns such a SIGBUS into the same refusal: the
//! conversion is then the one copy, without the kernel copy `pread` costs.

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
    /// The whole file as it was at open, read-only; None where it cannot be
    /// mapped (then every read is a `pread`).
    map: Option<memmap2::Mmap>,
    /// A guarded read faulted: zero pages now stand in the mapping where
    /// the file shrank, so it must not be read again even if the file
    /// grows back to its old size (see [`Segment::size_changed`]).
    poisoned: std::sync::atomic::AtomicBool,
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
        // SAFETY: a read-only shared mapping of a file another process
        // writes: read only under `guard` (SIGBUS past a shrunk end), and
        // only as bytes (no references to typed data are formed).
        let map = unsafe { memmap2::MmapOptions::new().len(len).map(&file) }.ok();
        Ok(Self {
            path: path.to_owned(),
            file,
            map,
            poisoned: Default::default(),
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
    /// producer called `ftruncate`), or a guarded read of the mapping
    /// faulted: callers re-open to see the new size.
    pub fn size_changed(&self) -> bool {
        if self.poisoned.load(std::sync::atomic::Ordering::Relaxed) {
            return true;
        }
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

    fn in_place(
        &self,
        offset: usize,
        len: usize,
        f: &mut dyn FnMut(&[u8]),
    ) -> Option<Result<(), OutOfBounds>> {
        let map = self.map.as_ref()?;
        let refused = OutOfBounds { offset, len };
        let Some(bytes) = offset.checked_add(len).and_then(|end| map.get(offset..end)) else {
            return Some(Err(refused));
        };
        Some(super::guard::read(bytes, |b| f(b)).map_err(|_| {
            self.poisoned
                .store(true, std::sync::atomic::Ordering::Relaxed);
            refused
        }))
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
        // In place (the I420 conversion's read): refused too, and the
        // mapping is poisoned even once the file has its old size again.
        // black_box: an optimised build drops reads whose sum nobody uses,
        // and then nothing faults.
        let got = seg.in_place(256, 1920 * 1080 * 3, &mut |b| {
            std::hint::black_box(
                b.iter()
                    .step_by(4096)
                    .map(|&x| usize::from(x))
                    .sum::<usize>(),
            );
        });
        assert!(matches!(got, Some(Err(_))), "{got:?}");
        f.set_len(big as u64).unwrap();
        assert!(seg.size_changed(), "a faulted mapping is never read again");
        f.set_len((256 + 640 * 360 * 3) as u64).unwrap();
        let again = Segment::open(&path).unwrap();
        assert_eq!(again.len(), 256 + 640 * 360 * 3);
        std::fs::remove_file(&path).unwrap();
    }
}
