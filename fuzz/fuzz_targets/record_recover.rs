//! MCAP files from outside (`cvmmap_tools probe` and `recover`): a killed
//! writer, a disk error or anybody's file. The bytes are written to a
//! scratch file, probed deep, then recovered into another.
//!
//! Invariants: no panic; whenever `recover` succeeds, its output probes
//! whole (`--deep`: every CRC, the statistics' message count) and holds
//! exactly the messages `recover` says it wrote; a file the deep probe
//! calls ok recovers without losses but for records that contradict
//! earlier ones.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use cvmmap_streamer::record::probe::{Verdict, probe};
use cvmmap_streamer::record::recover::recover;
use libfuzzer_sys::fuzz_target;

fn scratch() -> &'static (PathBuf, PathBuf) {
    static P: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    P.get_or_init(|| {
        let dir = std::env::temp_dir();
        let id = std::process::id();
        (
            dir.join(format!("fuzz_recover_in_{id}.mcap")),
            dir.join(format!("fuzz_recover_out_{id}.mcap")),
        )
    })
}

fuzz_target!(|data: &[u8]| {
    let (input, output) = scratch();
    std::fs::write(input, data).expect("scratch file");
    let before = probe(input, true);
    match recover(input, output) {
        Ok(got) => {
            match probe(output, true) {
                Verdict::Ok { detail } => assert!(
                    detail.starts_with(&format!("{} messages", got.messages)),
                    "{detail} vs {got:?}"
                ),
                v => panic!("a recovered file must probe ok: {v}"),
            }
            if matches!(before, Verdict::Ok { .. }) {
                // Only records that contradict others may be dropped.
                assert!(
                    got.lost.is_none() || got.skipped_records + got.orphan_messages > 0,
                    "a whole file lost something: {got:?}"
                );
            }
        }
        Err(_) => assert!(!matches!(before, Verdict::Ok { .. }), "a whole file failed to recover"),
    }
});
