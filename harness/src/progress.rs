//! How a runner tells the outside world where it is. The library never
//! prints; the `harness` binary renders this as a live line per row on a
//! terminal, or as plain lines in logs.

use crate::model::RowEntry;

pub trait Progress: Sync {
    /// A row or scenario begins.
    fn started(&self, row: &str);
    /// It moved to a new phase ("receiver starting", "streaming", ...).
    fn phase(&self, row: &str, phase: &str);
    /// It ended, with its summary entry.
    fn finished(&self, entry: &RowEntry);
}

/// Reports nothing (library tests, embedding).
pub struct Silent;

impl Progress for Silent {
    fn started(&self, _row: &str) {}
    fn phase(&self, _row: &str, _phase: &str) {}
    fn finished(&self, _entry: &RowEntry) {}
}
