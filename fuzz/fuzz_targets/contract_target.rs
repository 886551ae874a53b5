//! `cvmmap://<instance>[@<prefix>][?namespace=<ns>]` source names (contract
//! section 1): `contract::Target::parse` (command line and NATS keys).
//!
//! Invariants: a parsed target prints back to a string that parses to the
//! same target; the derived names respect the contract's limits.
#![no_main]

use cvmmap_streamer::contract::Target;
use cvmmap_streamer::contract::target::{MAX_INSTANCE_LEN, MAX_IPC_PATH_LEN, MAX_NAMESPACE_LEN};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(target) = Target::parse(&text) else {
        return;
    };
    let printed = target.to_string();
    assert_eq!(Target::parse(&printed).as_ref(), Ok(&target), "{printed}");
    assert!(!target.instance().is_empty() && target.instance().len() <= MAX_INSTANCE_LEN);
    assert!(!target.namespace().is_empty() && target.namespace().len() <= MAX_NAMESPACE_LEN);
    assert!(target.prefix().starts_with('/'));
    assert!(
        target.ipc_path().len() <= MAX_IPC_PATH_LEN,
        "{}",
        target.ipc_path()
    );
    assert!(!target.nats_key().contains('.'));
    assert_eq!(
        target.zmq_endpoint(),
        format!("ipc://{}", target.ipc_path())
    );
});
