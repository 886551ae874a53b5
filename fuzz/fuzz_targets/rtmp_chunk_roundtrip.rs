//! RTMP chunking round trip: messages split by the streamer's
//! `rtmp::ChunkWriter` (header compression types 0-3, extended timestamps,
//! 1- to 3-byte basic headers) and read back by `rtmp::ChunkReader`.
//!
//! Input: `u32` chunk size (announced with Set Chunk Size first), then
//! records, one per message: `u8` chunk stream choice, `u8` type id, `u8`
//! stream id, `u32` timestamp, then the payload.
//!
//! Invariant: the reader returns exactly the messages written, in order,
//! whatever the chunk size and however the bytes are split.
#![no_main]

use cvmmap_fuzz::{Input, pieces};
use cvmmap_streamer::rtmp::message::{csid, set_chunk_size};
use cvmmap_streamer::rtmp::{ChunkReader, ChunkWriter, Message, MessageType};
use libfuzzer_sys::fuzz_target;

/// Chunk stream ids covering the 1-, 2- and 3-byte basic header forms.
const CSIDS: [u32; 8] = [3, 4, 5, 6, 63, 64, 319, 65599];

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    // 1..=65536 mostly, sometimes the 31-bit maximum.
    let raw = input.u32();
    let chunk_size = if raw & 0x8000_0000 != 0 {
        0x7FFF_FFFF
    } else {
        (raw & 0xFFFF) + 1
    };
    let steps = input.take(2);
    let mut messages = Vec::new();
    while let Some(rec) = input.record() {
        let mut r = Input::new(rec);
        let cs = CSIDS[usize::from(r.u8()) % CSIDS.len()];
        let mut type_id = r.u8();
        // Set Chunk Size would change only the reader's chunk size: the
        // writer is told separately (as the session does); keep it out.
        if type_id == MessageType::SET_CHUNK_SIZE.0 {
            type_id = MessageType::VIDEO.0;
        }
        let stream_id = u32::from(r.u8());
        let timestamp = r.u32();
        let msg = Message::new(
            MessageType(type_id),
            stream_id,
            timestamp,
            r.rest().to_vec(),
        );
        messages.push((cs, msg));
    }

    let mut writer = ChunkWriter::new();
    let mut wire = Vec::new();
    writer
        .write_message(
            csid::PROTOCOL_CONTROL,
            &set_chunk_size(chunk_size),
            &mut wire,
        )
        .expect("Set Chunk Size is written");
    writer.set_chunk_size(chunk_size).expect("valid chunk size");
    for (cs, msg) in &messages {
        writer
            .write_message(*cs, msg, &mut wire)
            .expect("valid message");
    }

    let mut reader = ChunkReader::new();
    let mut got = Vec::new();
    for part in pieces(&wire, steps) {
        reader.push(part);
        while let Some(msg) = reader.next_message().expect("our own chunks read back") {
            got.push(msg);
        }
    }
    assert_eq!(reader.buffered(), 0);
    assert_eq!(reader.chunk_size(), chunk_size);
    assert_eq!(got.len(), messages.len() + 1);
    for (got, (_, sent)) in got[1..].iter().zip(&messages) {
        assert_eq!(got, sent);
    }
});
