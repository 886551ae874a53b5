//! Property tests: the parsers are total (no input panics them), and an `Ok`
//! metadata layout always lies inside the mapping (the guarantee of
//! [`parse_metadata`] that the ingest relies on to slice shared memory).

use proptest::prelude::*;

use super::test_support::{Meta, v1_bgr, v2_1_encoded, v2_one_plane, v2_three_planes};
use super::{
    FrameLayout, PAYLOAD_OFFSET, SyncMessage, Target, parse_metadata, read_counter_and_timestamp,
};

/// Checks the bounds guarantee without any arithmetic that could overflow.
fn check_bounds(l: &FrameLayout, shm_size: usize) -> Result<(), TestCaseError> {
    let end = PAYLOAD_OFFSET.checked_add(l.payload_size);
    prop_assert!(
        end.is_some_and(|end| end <= shm_size),
        "payload {} > shm {shm_size}",
        l.payload_size
    );
    prop_assert!(l.payload_size > 0);
    let planes = [
        Some(l.video),
        l.depth,
        l.confidence,
        l.encoded.map(|e| e.plane),
    ];
    let mut next = 0usize;
    for p in planes.into_iter().flatten() {
        let plane_end = p.offset.checked_add(p.size);
        prop_assert!(
            plane_end.is_some_and(|e| e <= l.payload_size),
            "{p:?} outside {}",
            l.payload_size
        );
        prop_assert_eq!(p.offset, next, "planes are packed");
        next = p.offset + p.size;
        prop_assert!(p.width > 0 && p.height > 0);
        prop_assert!((p.row_bytes() as u64) <= p.stride as u64);
        prop_assert!((p.stride as u64) * u64::from(p.height) <= p.size as u64);
        prop_assert!(p.shm_range().end <= shm_size);
    }
    Ok(())
}

/// One edit of a metadata block: a byte, or a little-endian u32 (small values are
/// likelier to keep the block valid, so accepted mutants are common).
#[derive(Debug, Clone)]
enum Mutation {
    Byte(usize, u8),
    Word(usize, u32),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (0usize..256, any::<u8>()).prop_map(|(at, v)| Mutation::Byte(at, v)),
        (0usize..253, prop_oneof![0u32..600, any::<u32>()])
            .prop_map(|(at, v)| Mutation::Word(at, v)),
        // Aim at the header counts/sizes and the descriptor fields.
        (
            prop::sample::select(vec![0x20, 0x21, 0x28, 0x2C]),
            0u32..520
        )
            .prop_map(|(at, v)| Mutation::Word(at, v)),
        (0usize..4, 1usize..6, 0u32..520)
            .prop_map(|(slot, f, v)| Mutation::Word(64 + 24 * slot + 4 * f, v)),
    ]
}

fn apply(m: &mut Meta, mutation: &Mutation) {
    match *mutation {
        Mutation::Byte(at, v) => {
            m.u8(at, v);
        }
        Mutation::Word(at, v) => {
            m.u32(at, v);
        }
    }
}

fn base() -> impl Strategy<Value = Meta> {
    prop::sample::select(vec![0usize, 1, 2, 3]).prop_map(|i| match i {
        0 => v2_one_plane(),
        1 => v2_three_planes(),
        2 => v2_1_encoded(),
        _ => v1_bgr(),
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic_metadata(bytes in prop::collection::vec(any::<u8>(), 0..400),
                                         shm_size in prop_oneof![0usize..1024, any::<usize>()]) {
        if let Ok(layout) = parse_metadata(&bytes, shm_size) {
            check_bounds(&layout, shm_size)?;
        }
        let _ = read_counter_and_timestamp(&bytes);
    }

    #[test]
    fn random_bytes_after_a_valid_prefix_never_panic(tail in prop::collection::vec(any::<u8>(), 247..300),
                                                     major in 0u8..4, shm_size in any::<usize>()) {
        let mut bytes = super::MAGIC.to_vec();
        bytes.push(major);
        bytes.extend_from_slice(&tail);
        if let Ok(layout) = parse_metadata(&bytes, shm_size) {
            check_bounds(&layout, shm_size)?;
        }
    }

    #[test]
    fn mutated_valid_headers_keep_the_bounds_guarantee(
        mut meta in base(),
        mutations in prop::collection::vec(mutation(), 1..4),
        shm_size in prop_oneof![0usize..1024, any::<usize>()],
    ) {
        for m in &mutations {
            apply(&mut meta, m);
        }
        if let Ok(layout) = parse_metadata(&meta.0, shm_size) {
            check_bounds(&layout, shm_size)?;
        }
    }

    #[test]
    fn random_bytes_never_panic_sync(bytes in prop::collection::vec(any::<u8>(), 0..100)) {
        if let Ok(msg) = SyncMessage::parse(&bytes) {
            prop_assert_eq!(SyncMessage::parse(&msg.to_bytes()), Ok(msg));
        }
    }

    #[test]
    fn random_syncs_round_trip(mut bytes in prop::collection::vec(any::<u8>(), 48..=48)) {
        bytes[0] = 0x7D;
        bytes[2] = 1;
        if let Ok(msg) = SyncMessage::parse(&bytes) {
            prop_assert!(msg.label().is_ascii() && msg.label().len() <= 24);
            prop_assert_eq!(SyncMessage::parse(&msg.to_bytes()), Ok(msg));
            prop_assert!(msg.label_matches(msg.label()));
        }
    }

    #[test]
    fn random_targets_never_panic(text in prop_oneof![
        any::<String>(),
        "(cvmmap://)?[a-zA-Z0-9._@/?=&\\\\-]{0,120}",
        "cvmmap://[a-z0-9.]{1,30}(@/[a-z/.]{0,90})?(\\?namespace=[a-z.]{0,40})?",
    ]) {
        if let Ok(target) = text.parse::<Target>() {
            prop_assert!(target.instance().len() <= 23);
            prop_assert!(target.namespace().len() <= 32);
            prop_assert!(target.ipc_path().len() <= 107);
            prop_assert!(target.prefix().starts_with('/'));
            prop_assert!(!target.nats_key().contains('.'));
            prop_assert_eq!(target.to_string().parse::<Target>(), Ok(target));
        }
    }
}

/// The mutation property is only meaningful if some mutants are accepted.
#[test]
fn mutation_strategy_reaches_accepted_layouts() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = (base(), prop::collection::vec(mutation(), 1..4));
    let accepted = (0..2000)
        .filter(|_| {
            let (mut meta, mutations) = strategy.new_tree(&mut runner).unwrap().current();
            mutations.iter().for_each(|m| apply(&mut meta, m));
            parse_metadata(&meta.0, 4096).is_ok()
        })
        .count();
    assert!(accepted > 100, "only {accepted} of 2000 mutants parsed");
}
