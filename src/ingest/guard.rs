//! Reads of a shared mapping that survive the producer shrinking its file.
//!
//! A page of a `MAP_SHARED` file mapping past the file's end raises SIGBUS
//! when touched, and the contract lets a producer re-initialise its segment
//! with another size (§2), `ftruncate`ing the same file smaller while we
//! read. Issue 13 avoided the mapping altogether (`pread`), paying a kernel
//! copy per frame that costs about three times a memcpy; issue 14 reads the
//! mapping in place again (the colour conversion is the copy) under this
//! guard, the technique libwayland-server uses for client buffers
//! (`wl_shm_buffer_begin_access`): while a guarded read runs, a SIGBUS at
//! an address inside the guarded range maps an anonymous zero page over the
//! faulting page and returns, so the read completes with zeros; the read is
//! then reported as faulted and the caller discards it and re-opens the
//! segment (whose mapping now holds zero pages). A SIGBUS anywhere else is
//! passed to the handler that was there before (by default: the process
//! dies, as it would have without us).
//!
//! The range is per thread (SIGBUS is delivered to the faulting thread), in
//! const-initialised thread-locals: no allocation or lock in the handler,
//! which calls only `mmap` and `sysconf`-free arithmetic.
//!
//! The thread-locals are atomics with compiler fences around the guarded
//! call: the handler runs between two instructions of this thread, which
//! the compiler cannot see. With plain `Cell`s an optimised build removed
//! the store of the range as dead (it is overwritten by the clearing store
//! with no read in between) and folded the fault flag to its initial
//! `false`, so release binaries died of the very SIGBUS this absorbs (found
//! running the unit tests in release; `std::sync::atomic::compiler_fence`
//! documents this use).

use std::sync::Once;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering, compiler_fence};

thread_local! {
    /// The guarded range of this thread: start and end, end == 0 when none.
    static START: AtomicUsize = const { AtomicUsize::new(0) };
    static END: AtomicUsize = const { AtomicUsize::new(0) };
    /// Whether a fault was absorbed during the current guarded read.
    static FAULTED: AtomicBool = const { AtomicBool::new(false) };
}

/// The previous SIGBUS action, as a raw `sigaction` (boxed once, leaked).
static PREVIOUS: AtomicUsize = AtomicUsize::new(0);
static INSTALL: Once = Once::new();
static PAGE: AtomicUsize = AtomicUsize::new(4096);

/// A guarded read found the mapping shorter than the file was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the shared mapping shrank during the read (SIGBUS absorbed)")]
pub struct Faulted;

extern "C" fn on_sigbus(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo for SA_SIGINFO handlers.
    let addr = unsafe { (*info).si_addr() } as usize;
    let start = START.with(|s| s.load(Ordering::Relaxed));
    let end = END.with(|e| e.load(Ordering::Relaxed));
    if end != 0 && (start..end).contains(&addr) {
        let page = PAGE.load(Ordering::Relaxed);
        let at = addr & !(page - 1);
        // SAFETY: replaces one page of our own read-only mapping (inside the
        // guarded range) with an anonymous zero page; mmap is
        // async-signal-safe in practice (a plain system call).
        let mapped = unsafe {
            libc::mmap(
                at as *mut libc::c_void,
                page,
                libc::PROT_READ,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                -1,
                0,
            )
        };
        if mapped != libc::MAP_FAILED {
            FAULTED.with(|f| f.store(true, Ordering::Relaxed));
            return;
        }
    }
    chain(sig, info, ctx);
}

/// Hands the signal to the handler installed before ours, or restores the
/// default action so that the faulting access repeats and kills the process.
fn chain(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    let prev = PREVIOUS.load(Ordering::Relaxed) as *const libc::sigaction;
    // SAFETY: PREVIOUS points to a leaked sigaction written before our
    // handler was installed; the calls below are async-signal-safe.
    unsafe {
        let handler = if prev.is_null() {
            libc::SIG_DFL
        } else {
            (*prev).sa_sigaction
        };
        if handler == libc::SIG_DFL || handler == libc::SIG_IGN {
            let mut dfl: libc::sigaction = std::mem::zeroed();
            dfl.sa_sigaction = libc::SIG_DFL;
            libc::sigaction(sig, &dfl, std::ptr::null_mut());
        } else if (*prev).sa_flags & libc::SA_SIGINFO != 0 {
            let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                std::mem::transmute(handler);
            f(sig, info, ctx);
        } else {
            let f: extern "C" fn(libc::c_int) = std::mem::transmute(handler);
            f(sig);
        }
    }
}

fn install() {
    INSTALL.call_once(|| {
        // SAFETY: sysconf and sigaction with valid arguments.
        unsafe {
            let page = libc::sysconf(libc::_SC_PAGESIZE);
            if page > 0 {
                PAGE.store(page as usize, Ordering::Relaxed);
            }
            let previous: &'static mut libc::sigaction = Box::leak(Box::new(std::mem::zeroed()));
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_sigbus as *const () as usize;
            action.sa_flags = libc::SA_SIGINFO | libc::SA_NODEFER | libc::SA_ONSTACK;
            libc::sigemptyset(&mut action.sa_mask);
            if libc::sigaction(libc::SIGBUS, &action, previous) == 0 {
                PREVIOUS.store(previous as *mut _ as usize, Ordering::Relaxed);
            }
        }
    });
}

/// Runs `f` over `bytes` (part of a shared file mapping) with SIGBUS inside
/// them absorbed; `Err(Faulted)` when one was (what `f` saw is partly zeros
/// and must be discarded, and the mapping must be re-made).
pub fn read<R>(bytes: &[u8], f: impl FnOnce(&[u8]) -> R) -> Result<R, Faulted> {
    /// Ends the guarded range however `f` returns (an unwind included).
    struct Unguard;
    impl Drop for Unguard {
        fn drop(&mut self) {
            compiler_fence(Ordering::SeqCst);
            END.with(|e| e.store(0, Ordering::Relaxed));
        }
    }
    install();
    let start = bytes.as_ptr() as usize;
    // End last: the handler treats end == 0 as "no range".
    START.with(|s| s.store(start, Ordering::Relaxed));
    FAULTED.with(|f| f.store(false, Ordering::Relaxed));
    END.with(|e| e.store(start + bytes.len(), Ordering::Relaxed));
    // The range and the flag are in place before the first read of `bytes`,
    // and the flag is read only after the last one.
    compiler_fence(Ordering::SeqCst);
    let out = {
        let _unguard = Unguard;
        f(bytes)
    };
    if FAULTED.with(|f| f.load(Ordering::Relaxed)) {
        Err(Faulted)
    } else {
        Ok(out)
    }
}

/// Reports the current guarded read on this thread as faulted: another
/// thread absorbed a SIGBUS in bytes this read handed it (`ingest::bands`).
pub fn mark_faulted() {
    FAULTED.with(|f| f.store(true, Ordering::Relaxed));
}

/// A new, empty read-write file for a test to map and shrink.
#[cfg(test)]
pub(super) fn scratch_file(path: &str) -> std::fs::File {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::FileExt;

    #[test]
    fn a_file_shrunk_under_a_guarded_read_reads_as_faulted_not_sigbus() {
        let path = format!("/dev/shm/cvmst_guard_{}", std::process::id());
        let f = scratch_file(&path);
        f.set_len(1 << 20).unwrap();
        f.write_at(&[9u8; 8], 0).unwrap();
        // SAFETY: our own file; the test shrinks it on purpose.
        let map = unsafe { memmap2::Mmap::map(&f) }.unwrap();
        assert_eq!(read(&map[..], |b| b[0]), Ok(9));
        f.set_len(4096).unwrap();
        // Touching every page past the new end would be SIGBUS unguarded.
        let sum = read(&map[..], |b| {
            b.iter().step_by(4096).map(|&x| u64::from(x)).sum::<u64>()
        });
        assert_eq!(sum, Err(Faulted));
        // The first page is still the file's.
        assert_eq!(read(&map[..4096], |b| b[0]), Ok(9));
        drop(map);
        std::fs::remove_file(&path).ok();
    }
}
