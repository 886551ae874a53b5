//! Shared stderr logging setup for the tester binaries.

use std::io::IsTerminal;

/// Default filter: `info`, but async-nats only from `warn` (it logs every
/// reconnect attempt; the simulator reports NATS state in its own lines).
const DEFAULT_FILTER: &str = "info,async_nats=warn";

/// Installs a `tracing` subscriber writing to stderr (level from `RUST_LOG`,
/// default [`DEFAULT_FILTER`]).
pub fn init() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_FILTER));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}
