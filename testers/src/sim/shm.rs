//! The producer's POSIX shared-memory segment (contract `cv-mmap-ipc.md` §2):
//! `/dev/shm/<name>`, 256 bytes of metadata followed by the payload.
//!
//! Like real producers, the segment can grow while it is live ([`ShmSegment::grow_payload`]:
//! `ftruncate` bigger, then remap); consumers re-stat and remap when the metadata asks
//! for more than they have mapped (§2).

use std::ffi::CString;
use std::fs::{File, Permissions};
use std::io;
use std::os::fd::FromRawFd;
use std::os::unix::fs::PermissionsExt;

use memmap2::MmapMut;

use super::layout::META_SIZE;

/// Unlinks the shm name when dropped (also on a failed [`ShmSegment::create`]).
#[derive(Debug)]
struct Unlink(CString);

impl Drop for Unlink {
    fn drop(&mut self) {
        // SAFETY: the pointer comes from a live, NUL-terminated CString.
        unsafe { libc::shm_unlink(self.0.as_ptr()) };
    }
}

/// Creates `name` exclusively (mode 0666), sizes it to `256 + payload_size`
/// and maps it read-write. The name is unlinked again on failure.
fn open_new(cname: &CString, payload_size: usize) -> io::Result<(File, MmapMut)> {
    // SAFETY: valid C string; the returned fd is checked and then owned by a File.
    let fd = unsafe {
        libc::shm_open(
            cname.as_ptr(),
            libc::O_CREAT | libc::O_EXCL | libc::O_RDWR,
            0o666 as libc::mode_t,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    let made = (|| {
        // SAFETY: fd is a freshly opened descriptor nobody else owns.
        let file = unsafe { File::from_raw_fd(fd) };
        // shm_open applies the umask; readers of other users need 0666.
        file.set_permissions(Permissions::from_mode(0o666))?;
        file.set_len((META_SIZE + payload_size) as u64)?;
        // SAFETY: the segment is ours (O_EXCL); other processes only read it.
        let map = unsafe { MmapMut::map_mut(&file)? };
        Ok((file, map))
    })();
    if made.is_err() {
        // SAFETY: valid C string.
        unsafe { libc::shm_unlink(cname.as_ptr()) };
    }
    made
}

/// A created, mapped segment; removed from `/dev/shm` on drop.
#[derive(Debug)]
pub struct ShmSegment {
    map: MmapMut,
    file: File,
    unlink: Unlink,
}

impl ShmSegment {
    /// Creates `/dev/shm/<name>` (mode 0666, a stale segment is removed first),
    /// sizes it to `256 + payload_size` and maps it read-write.
    pub fn create(name: &str, payload_size: usize) -> io::Result<Self> {
        let cname = CString::new(format!("/{name}"))
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in shm name"))?;
        // SAFETY: valid C string; a missing segment just makes shm_unlink fail.
        unsafe { libc::shm_unlink(cname.as_ptr()) };
        let (file, map) = open_new(&cname, payload_size)?;
        Ok(Self {
            map,
            file,
            unlink: Unlink(cname),
        })
    }

    /// A producer re-initialising (contract §2): the metadata is zeroed,
    /// the name unlinked and a new segment (a new inode, all zero) created
    /// under it with room for `payload_size` bytes. Readers still mapping
    /// the old one see zeroed metadata until they re-open the name.
    pub fn recreate(&mut self, payload_size: usize) -> io::Result<()> {
        self.map[..META_SIZE].fill(0);
        std::sync::atomic::fence(std::sync::atomic::Ordering::SeqCst);
        // SAFETY: valid C string owned by the guard.
        unsafe { libc::shm_unlink(self.unlink.0.as_ptr()) };
        let (file, map) = open_new(&self.unlink.0, payload_size)?;
        self.map = map;
        self.file = file;
        Ok(())
    }

    /// A producer re-initialising in place: the same file (same inode,
    /// metadata kept) is truncated or extended to `256 + payload_size` and
    /// remapped. Readers that mapped the old size and touch a page past the
    /// new end get SIGBUS; that is the consumer's problem to survive.
    pub fn resize_in_place(&mut self, payload_size: usize) -> io::Result<bool> {
        if payload_size == self.payload_capacity() {
            return Ok(false);
        }
        self.file.set_len((META_SIZE + payload_size) as u64)?;
        // SAFETY: as in `create`; the old mapping is replaced (and unmapped) below.
        let map = unsafe { MmapMut::map_mut(&self.file)? };
        self.map = map;
        Ok(true)
    }

    /// Metadata block `[0,256)` and payload `[256,..)`, split for separate writes.
    pub fn parts_mut(&mut self) -> (&mut [u8], &mut [u8]) {
        self.map.split_at_mut(META_SIZE)
    }

    /// Bytes available for the payload (mapped size minus the metadata).
    pub fn payload_capacity(&self) -> usize {
        self.map.len() - META_SIZE
    }

    /// Makes room for at least `payload_size` payload bytes. When the segment
    /// is too small it is enlarged (`ftruncate`) to `256 + new_payload` bytes and
    /// remapped; existing content is kept. Returns whether it grew.
    pub fn grow_payload(&mut self, payload_size: usize, new_payload: usize) -> io::Result<bool> {
        if payload_size <= self.payload_capacity() {
            return Ok(false);
        }
        let new_payload = new_payload.max(payload_size);
        self.file.set_len((META_SIZE + new_payload) as u64)?;
        // SAFETY: as in `create`; the old mapping is replaced (and unmapped) below.
        let map = unsafe { MmapMut::map_mut(&self.file)? };
        self.map = map;
        Ok(true)
    }

    /// Total mapped size in bytes.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Never true: the segment always holds at least the metadata.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grow_keeps_content_and_resizes_the_file() {
        let name = format!("cvmt_shm_unit_{}", std::process::id());
        let mut seg = ShmSegment::create(&name, 100).unwrap();
        assert_eq!((seg.len(), seg.payload_capacity()), (356, 100));
        seg.parts_mut().0[0] = 0xAB;
        seg.parts_mut().1[99] = 0xCD;
        assert!(!seg.grow_payload(100, 1000).unwrap(), "fits: no growth");
        assert!(seg.grow_payload(101, 1000).unwrap());
        assert_eq!(seg.payload_capacity(), 1000);
        assert!(seg.grow_payload(5000, 10).unwrap(), "at least the need");
        assert_eq!(seg.payload_capacity(), 5000);
        let (meta, payload) = seg.parts_mut();
        assert_eq!((meta[0], payload[99], payload[100]), (0xAB, 0xCD, 0));
        let path = format!("/dev/shm/{name}");
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 5256);
        drop(seg);
        assert!(!std::path::Path::new(&path).exists());
    }

    #[test]
    fn resize_in_place_keeps_the_inode_and_the_metadata() {
        use std::os::unix::fs::MetadataExt;
        let name = format!("cvmt_shm_shrink_{}", std::process::id());
        let path = format!("/dev/shm/{name}");
        let mut seg = ShmSegment::create(&name, 4096).unwrap();
        seg.parts_mut().0.fill(0x11);
        let ino = std::fs::metadata(&path).unwrap().ino();
        assert!(seg.resize_in_place(100).unwrap());
        assert!(!seg.resize_in_place(100).unwrap(), "same size: nothing");
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!((meta.ino(), meta.len()), (ino, 356));
        assert!(seg.parts_mut().0.iter().all(|&b| b == 0x11));
        drop(seg);
    }

    #[test]
    fn recreate_makes_a_new_inode_and_zeroes_the_old_metadata() {
        use std::os::unix::fs::MetadataExt;
        let name = format!("cvmt_shm_recreate_{}", std::process::id());
        let path = format!("/dev/shm/{name}");
        let mut seg = ShmSegment::create(&name, 64).unwrap();
        seg.parts_mut().0.fill(0x55);
        seg.parts_mut().1.fill(0x66);
        let ino = std::fs::metadata(&path).unwrap().ino();
        // A reader that mapped the old segment keeps it.
        let old = std::fs::File::open(&path).unwrap();
        seg.recreate(128).unwrap();
        let meta = std::fs::metadata(&path).unwrap();
        assert_ne!(meta.ino(), ino, "a new inode under the same name");
        assert_eq!(meta.len(), 256 + 128);
        assert_eq!(seg.payload_capacity(), 128);
        let (m, p) = seg.parts_mut();
        assert!(m.iter().chain(p.iter()).all(|&b| b == 0));
        let mut buf = vec![0u8; 257];
        std::io::Read::read_exact(&mut &old, &mut buf).unwrap();
        assert!(buf[..256].iter().all(|&b| b == 0), "old metadata zeroed");
        assert_eq!(buf[256], 0x66, "old payload untouched");
        drop(seg);
        assert!(!std::path::Path::new(&path).exists());
    }
}
