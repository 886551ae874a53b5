//! cv-mmap metadata block (contract section 2: v1, v2.0, v2.1):
//! `contract::parse_metadata` and `read_counter_and_timestamp`.
//!
//! Input: the metadata bytes (at least 256 are read), then at offset 256 an
//! optional `u32` little-endian shm size (default 256 + 4096).
//!
//! Invariants: on `Ok` every plane and the payload lie inside the mapped
//! segment and counter/timestamp agree with the torn-read probe; on
//! `PayloadExceedsSegment` a remap to `required_shm_size` is enough.
#![no_main]

use cvmmap_streamer::contract::{
    FrameLayout, METADATA_SIZE, MetadataError, PAYLOAD_OFFSET, Plane, parse_metadata,
    read_counter_and_timestamp,
};
use libfuzzer_sys::fuzz_target;

fn check_plane(p: &Plane, layout: &FrameLayout, shm_size: usize) {
    assert!(p.width > 0 && p.height > 0, "{p:?}");
    assert!(p.row_bytes() <= p.stride, "{p:?}");
    let r = p.payload_range();
    assert!(
        r.start <= r.end && r.end <= layout.payload_size,
        "{p:?} {layout:?}"
    );
    assert!(p.shm_range().end <= shm_size, "{p:?} shm {shm_size}");
}

fn check(meta: &[u8], shm_size: usize) {
    match parse_metadata(meta, shm_size) {
        Ok(layout) => {
            assert!(matches!(layout.major, 1 | 2), "{layout:?}");
            assert!(layout.payload_size > 0);
            assert!(layout.required_shm_size() <= shm_size);
            assert_eq!(layout.payload_shm_range().end, layout.required_shm_size());
            assert_eq!(
                read_counter_and_timestamp(meta),
                Some((layout.frame_count, layout.timestamp_ns))
            );
            check_plane(&layout.video, &layout, shm_size);
            for p in [&layout.depth, &layout.confidence].into_iter().flatten() {
                check_plane(p, &layout, shm_size);
            }
            if let Some(au) = &layout.encoded {
                check_plane(&au.plane, &layout, shm_size);
                assert_eq!(au.plane.height, 1);
                assert_eq!(au.plane.width as usize, au.plane.size);
            }
            // The same block is accepted in a larger segment too.
            assert_eq!(parse_metadata(meta, shm_size + 4096).as_ref(), Ok(&layout));
        }
        Err(e @ MetadataError::PayloadExceedsSegment { .. }) => {
            let need = e.required_shm_size().expect("size for a remap");
            assert!(need > shm_size as u64, "{e:?}");
            // "re-stat and remap": the larger mapping must get past the size check.
            if let Ok(need) = usize::try_from(need) {
                let again = parse_metadata(meta, need);
                assert!(
                    !matches!(again, Err(MetadataError::PayloadExceedsSegment { .. })),
                    "{e:?} then {again:?}"
                );
            }
        }
        Err(e) => assert_eq!(e.required_shm_size(), None),
    }
}

fuzz_target!(|data: &[u8]| {
    let shm_size = match data.get(METADATA_SIZE..METADATA_SIZE + 4) {
        Some(b) => u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize,
        None => PAYLOAD_OFFSET + 4096,
    };
    check(data, shm_size);
    // Short reads of the same block: never a panic, always TooShort.
    if data.len() >= METADATA_SIZE {
        let cut = usize::from(data[METADATA_SIZE - 1]) % METADATA_SIZE;
        assert!(matches!(
            parse_metadata(&data[..cut], shm_size),
            Err(MetadataError::TooShort { .. })
        ));
    }
});
