use proptest::prelude::*;

use super::*;
use crate::rtmp::message::{self, Message, MessageHeader, MessageType};
use crate::rtmp::test_util::hex_dump;

fn video(ts: u32, payload: Vec<u8>) -> Message {
    Message::new(MessageType::VIDEO, 1, ts, payload)
}

fn read_all(reader: &mut ChunkReader) -> Result<Vec<Message>, ChunkError> {
    let mut out = Vec::new();
    while let Some(m) = reader.next_message()? {
        out.push(m);
    }
    Ok(out)
}

#[test]
fn snapshot_fmt0_fmt3_video_message() {
    let mut w = ChunkWriter::new();
    let payload: Vec<u8> = (0..200u32).map(|i| i as u8).collect();
    let mut out = Vec::new();
    w.write_message(6, &video(40, payload), &mut out).unwrap();
    // 12-byte type 0 header + 128 bytes, 1-byte type 3 header + 72 bytes.
    assert_eq!(out.len(), 12 + 128 + 1 + 72);
    assert_eq!(out[..12], [0x06, 0, 0, 40, 0, 0, 200, 9, 1, 0, 0, 0]);
    assert_eq!(out[140], 0xC6);
    insta::assert_snapshot!(hex_dump(&out));
}

#[test]
fn snapshot_set_chunk_size() {
    let mut w = ChunkWriter::new();
    let mut out = Vec::new();
    w.write_message(
        message::csid::PROTOCOL_CONTROL,
        &message::set_chunk_size(4096),
        &mut out,
    )
    .unwrap();
    assert_eq!(out, [0x02, 0, 0, 0, 0, 0, 4, 1, 0, 0, 0, 0, 0, 0, 0x10, 0]);
    insta::assert_snapshot!(hex_dump(&out));
}

#[test]
fn header_compression_sequence() {
    // Spec §5.3.2.1 example 1: audio with constant size and delta.
    let mut w = ChunkWriter::new();
    let mut out = Vec::new();
    let audio = |ts| Message::new(MessageType::AUDIO, 1, ts, vec![0xAF; 32]);
    let mut fmts = Vec::new();
    for ts in [1000, 1020, 1040, 1060] {
        let start = out.len();
        w.write_message(4, &audio(ts), &mut out).unwrap();
        fmts.push(out[start] >> 6);
    }
    assert_eq!(fmts, [0, 2, 3, 3]);
    // Length change -> type 1; stream id change -> type 0.
    let start = out.len();
    w.write_message(
        4,
        &Message::new(MessageType::AUDIO, 1, 1080, vec![1; 5]),
        &mut out,
    )
    .unwrap();
    assert_eq!(out[start] >> 6, 1);
    let start = out.len();
    w.write_message(
        4,
        &Message::new(MessageType::AUDIO, 2, 1100, vec![1; 5]),
        &mut out,
    )
    .unwrap();
    assert_eq!(out[start] >> 6, 0);
    // Timestamp going backwards -> type 0.
    let start = out.len();
    w.write_message(
        4,
        &Message::new(MessageType::AUDIO, 2, 10, vec![1; 5]),
        &mut out,
    )
    .unwrap();
    assert_eq!(out[start] >> 6, 0);

    let mut r = ChunkReader::new();
    r.push(&out);
    let ts: Vec<u32> = read_all(&mut r)
        .unwrap()
        .iter()
        .map(|m| m.header.timestamp)
        .collect();
    assert_eq!(ts, [1000, 1020, 1040, 1060, 1080, 1100, 10]);
}

#[test]
fn basic_header_forms() {
    for (csid, expected) in [
        (2, vec![0x02]),
        (63, vec![0x3F]),
        (64, vec![0x00, 0x00]),
        (319, vec![0x00, 0xFF]),
        (320, vec![0x01, 0x00, 0x01]),
        (65599, vec![0x01, 0xFF, 0xFF]),
    ] {
        let mut out = Vec::new();
        put_basic_header(0, csid, &mut out);
        assert_eq!(out, expected, "csid {csid}");
    }
    let mut w = ChunkWriter::new();
    let m = video(0, vec![]);
    assert_eq!(
        w.write_message(1, &m, &mut Vec::new()),
        Err(ChunkError::InvalidChunkStreamId(1))
    );
    assert_eq!(
        w.write_message(65600, &m, &mut Vec::new()),
        Err(ChunkError::InvalidChunkStreamId(65600))
    );
}

#[test]
fn extended_timestamp_repeated_in_type3_chunks() {
    let mut w = ChunkWriter::new();
    let mut out = Vec::new();
    let ts = 0x0100_0000;
    w.write_message(6, &video(ts, vec![7; 130]), &mut out)
        .unwrap();
    let mut expected = vec![0x06, 0xFF, 0xFF, 0xFF, 0, 0, 130, 9, 1, 0, 0, 0, 1, 0, 0, 0];
    expected.extend_from_slice(&[7; 128]);
    expected.extend_from_slice(&[0xC6, 1, 0, 0, 0, 7, 7]);
    assert_eq!(out, expected);

    let mut r = ChunkReader::new();
    r.push(&out);
    let msgs = read_all(&mut r).unwrap();
    assert_eq!(msgs, [video(ts, vec![7; 130])]);
}

#[test]
fn extended_delta_and_type3_new_message() {
    let mut w = ChunkWriter::new();
    let mut out = Vec::new();
    let big = 0x0200_0000;
    let msgs: Vec<Message> = [5, 5 + big, 5 + 2 * big, 5 + 3 * big]
        .into_iter()
        .map(|ts| video(ts, vec![1; 10]))
        .collect();
    let mut fmts = Vec::new();
    for m in &msgs {
        let start = out.len();
        w.write_message(6, m, &mut out).unwrap();
        fmts.push(out[start] >> 6);
    }
    assert_eq!(fmts, [0, 2, 3, 3]);
    let mut r = ChunkReader::new();
    r.push(&out);
    assert_eq!(read_all(&mut r).unwrap(), msgs);
}

#[test]
fn reader_applies_set_chunk_size_and_abort() {
    let mut w = ChunkWriter::new();
    let mut out = Vec::new();
    w.write_message(2, &message::set_chunk_size(4096), &mut out)
        .unwrap();
    w.set_chunk_size(4096).unwrap();
    w.write_message(6, &video(0, vec![3; 3000]), &mut out)
        .unwrap();
    let mut r = ChunkReader::new();
    r.push(&out);
    let msgs = read_all(&mut r).unwrap();
    assert_eq!(r.chunk_size(), 4096);
    assert_eq!(msgs.len(), 2);
    assert_eq!(msgs[1].payload.len(), 3000);

    // A half message on csid 6, then Abort(6), then a fresh message.
    let mut out = Vec::new();
    let mut w = ChunkWriter::new();
    w.write_message(6, &video(0, vec![1; 200]), &mut out)
        .unwrap();
    out.truncate(12 + 128);
    w.write_message(2, &message::abort(6), &mut out).unwrap();
    let mut w2 = ChunkWriter::new();
    w2.write_message(6, &video(9, vec![2; 3]), &mut out)
        .unwrap();
    let mut r = ChunkReader::new();
    r.push(&out);
    let msgs = read_all(&mut r).unwrap();
    assert_eq!(msgs.len(), 2);
    assert_eq!(msgs[1], video(9, vec![2; 3]));
}

#[test]
fn reader_rejects_bad_input() {
    // Type 1 header with no previous header.
    let mut r = ChunkReader::new();
    r.push(&[0x46, 0, 0, 0, 0, 0, 1, 9, 0]);
    assert_eq!(
        r.next_message(),
        Err(ChunkError::MissingPreviousHeader { csid: 6, fmt: 1 })
    );

    // Set Chunk Size 0.
    let mut r = ChunkReader::new();
    r.push(&[0x02, 0, 0, 0, 0, 0, 4, 1, 0, 0, 0, 0, 0x80, 0, 0, 0]);
    assert_eq!(
        r.next_message(),
        Err(ChunkError::Control(
            message::MessageError::InvalidChunkSize(0)
        ))
    );

    // Message too large.
    let mut r = ChunkReader::with_limits(ReaderLimits {
        max_message_len: 1000,
        max_chunk_streams: 2,
    });
    r.push(&[0x06, 0, 0, 0, 0, 0x10, 0, 9, 1, 0, 0, 0]);
    assert_eq!(
        r.next_message(),
        Err(ChunkError::MessageTooLarge {
            len: 4096,
            max: 1000
        })
    );

    // Too many chunk streams.
    let mut r = ChunkReader::with_limits(ReaderLimits {
        max_message_len: 1000,
        max_chunk_streams: 2,
    });
    let mut out = Vec::new();
    let mut w = ChunkWriter::new();
    for csid in [3, 4, 5] {
        w.write_message(csid, &video(0, vec![0; 1]), &mut out)
            .unwrap();
    }
    r.push(&out);
    assert!(r.next_message().unwrap().is_some());
    assert!(r.next_message().unwrap().is_some());
    assert_eq!(
        r.next_message(),
        Err(ChunkError::TooManyChunkStreams { max: 2 })
    );

    // New header in the middle of a message on the same chunk stream.
    let mut out = Vec::new();
    let mut w = ChunkWriter::new();
    w.write_message(6, &video(0, vec![1; 200]), &mut out)
        .unwrap();
    out.truncate(12 + 128);
    out.extend_from_slice(&[0x86, 0, 0, 1]);
    let mut r = ChunkReader::new();
    r.push(&out);
    assert_eq!(
        r.next_message(),
        Err(ChunkError::HeaderInsideMessage { csid: 6, fmt: 2 })
    );
}

#[test]
fn byte_by_byte_feed() {
    let mut w = ChunkWriter::new();
    let mut out = Vec::new();
    let msgs = [
        video(0, vec![1; 300]),
        video(33, vec![2; 300]),
        video(66, vec![]),
    ];
    for m in &msgs {
        w.write_message(6, m, &mut out).unwrap();
    }
    let mut r = ChunkReader::new();
    let mut got = Vec::new();
    for b in &out {
        r.push(std::slice::from_ref(b));
        while let Some(m) = r.next_message().unwrap() {
            got.push(m);
        }
    }
    assert_eq!(got, msgs);
    assert_eq!(r.buffered(), 0);
}

#[derive(Debug, Clone)]
enum TsStep {
    Small(u32),
    Large(u32),
    Absolute(u32),
    Same,
}

fn arb_step() -> impl Strategy<Value = TsStep> {
    prop_oneof![
        (0u32..100).prop_map(TsStep::Small),
        (0xFF_FFF0u32..0x0200_0000).prop_map(TsStep::Large),
        any::<u32>().prop_map(TsStep::Absolute),
        Just(TsStep::Same),
    ]
}

fn arb_messages() -> impl Strategy<Value = Vec<(u32, Message)>> {
    let one = (
        prop::sample::select(vec![2u32, 3, 6, 63, 64, 319, 320, 65599]),
        prop::sample::select(vec![8u8, 9, 18, 20]),
        0u32..3,
        arb_step(),
        prop_oneof![Just(0usize), 1usize..40, 100usize..700,],
    );
    prop::collection::vec(one, 1..24).prop_map(|items| {
        let mut last_ts = std::collections::HashMap::new();
        items
            .into_iter()
            .map(|(csid, type_id, stream_id, step, len)| {
                let prev: u32 = *last_ts.get(&csid).unwrap_or(&0);
                let ts = match step {
                    TsStep::Small(d) => prev.saturating_add(d),
                    TsStep::Large(d) => prev.saturating_add(d),
                    TsStep::Absolute(t) => t,
                    TsStep::Same => prev,
                };
                last_ts.insert(csid, ts);
                let payload = (0..len).map(|i| (i as u8) ^ type_id).collect();
                (
                    csid,
                    Message::new(MessageType(type_id), stream_id, ts, payload),
                )
            })
            .collect()
    })
}

proptest! {
    #[test]
    fn prop_round_trip(
        msgs in arb_messages(),
        chunk_size in prop_oneof![1u32..16, 16u32..300, Just(4096u32), Just(0x7FFF_FFFF)],
        cuts in prop::collection::vec(1usize..200, 1..8),
    ) {
        let mut w = ChunkWriter::new();
        let mut out = Vec::new();
        let scs = message::set_chunk_size(chunk_size);
        w.write_message(2, &scs, &mut out).unwrap();
        w.set_chunk_size(chunk_size).unwrap();
        for (csid, m) in &msgs {
            w.write_message(*csid, m, &mut out).unwrap();
        }

        let mut r = ChunkReader::new();
        let mut got = Vec::new();
        let mut rest = out.as_slice();
        let mut i = 0;
        while !rest.is_empty() {
            let n = cuts[i % cuts.len()].min(rest.len());
            i += 1;
            r.push(&rest[..n]);
            rest = &rest[n..];
            while let Some(m) = r.next_message().unwrap() {
                got.push(m);
            }
        }
        prop_assert_eq!(r.buffered(), 0);
        prop_assert_eq!(r.chunk_size(), chunk_size);
        prop_assert_eq!(&got[0], &scs);
        let expected: Vec<Message> = msgs.into_iter().map(|(_, m)| m).collect();
        prop_assert_eq!(&got[1..], &expected[..]);
    }

    #[test]
    fn prop_random_bytes_never_panic(
        prefix_chunk_size in prop::option::of(1u32..64),
        bytes in prop::collection::vec(any::<u8>(), 0..2048),
    ) {
        let mut r = ChunkReader::with_limits(ReaderLimits {
            max_message_len: 4096,
            max_chunk_streams: 8,
        });
        if let Some(cs) = prefix_chunk_size {
            let mut out = Vec::new();
            ChunkWriter::new().write_message(2, &message::set_chunk_size(cs), &mut out).unwrap();
            r.push(&out);
        }
        for piece in bytes.chunks(97) {
            r.push(piece);
            while let Ok(Some(m)) = r.next_message() {
                prop_assert!(m.payload.len() <= 4096);
            }
        }
    }

    #[test]
    fn prop_writer_header_of_random_message(
        csid in 2u32..=65599,
        ts in any::<u32>(),
        sid in any::<u32>(),
        len in 0usize..300,
    ) {
        let m = Message {
            header: MessageHeader { timestamp: ts, type_id: MessageType::VIDEO, stream_id: sid },
            payload: vec![0x55; len],
        };
        let mut out = Vec::new();
        ChunkWriter::new().write_message(csid, &m, &mut out).unwrap();
        let mut r = ChunkReader::new();
        r.push(&out);
        prop_assert_eq!(r.next_message().unwrap(), Some(m));
    }
}
