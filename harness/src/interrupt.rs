//! SIGINT/SIGTERM become a flag that every wait loop polls, so that an
//! interrupted run stops its children in order and still writes what it
//! measured (a signal handler itself can do neither safely).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

fn flag() -> &'static Arc<AtomicBool> {
    static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();
    FLAG.get_or_init(|| Arc::new(AtomicBool::new(false)))
}

/// Installs the handlers. A second signal, while the first is still being
/// handled, exits at once with 130 (the children then get SIGTERM through
/// their parent-death signal): an impatient user is never stuck.
pub fn install() -> std::io::Result<()> {
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // Registered first, so it sees the flag as the previous signal left it.
        signal_hook::flag::register_conditional_shutdown(sig, 130, Arc::clone(flag()))?;
        signal_hook::flag::register(sig, Arc::clone(flag()))?;
    }
    Ok(())
}

/// Whether SIGINT or SIGTERM arrived.
pub fn requested() -> bool {
    flag().load(Ordering::Relaxed)
}

/// Sleeps up to `d` in short steps; false when interrupted meanwhile.
pub fn sleep(d: std::time::Duration) -> bool {
    let deadline = std::time::Instant::now() + d;
    while std::time::Instant::now() < deadline {
        if requested() {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(20).min(d));
    }
    !requested()
}
