//! RTMP chunk stream reader (RTMP 1.0 §5.3, §5.4.1, §5.4.2):
//! `rtmp::ChunkReader` fed arbitrary server bytes in arbitrary pieces, each
//! message then handled as the publishing session does (`ControlMessage`,
//! `UserControlEvent`, `IncomingCommand`, `Acknowledger`).
//!
//! Input: a `u8` count of step bytes, the steps, one byte of reader limits,
//! then the bytes from the server.
//!
//! Invariants: the messages and the first error do not depend on how the
//! bytes were split into reads; limits hold; Set Chunk Size is applied.
#![no_main]

use cvmmap_fuzz::{Input, pieces};
use cvmmap_streamer::rtmp::message::MAX_CHUNK_SIZE;
use cvmmap_streamer::rtmp::{
    Acknowledger, ChunkError, ChunkReader, ControlMessage, IncomingCommand, Message, MessageType,
    ReaderLimits,
};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, PartialEq)]
struct Outcome {
    messages: Vec<Message>,
    error: Option<ChunkError>,
    chunk_size: u32,
}

/// What the publishing session does with one message from the server.
fn handle(msg: &Message, reader: &ChunkReader, ack: &mut Acknowledger) {
    match ControlMessage::parse(msg) {
        Ok(Some(ControlMessage::SetChunkSize(n))) => {
            assert!((1..=MAX_CHUNK_SIZE).contains(&n));
            assert_eq!(
                reader.chunk_size(),
                n,
                "Set Chunk Size applied by the reader"
            );
        }
        Ok(Some(ControlMessage::WindowAckSize(w))) => ack.set_window(w),
        Ok(Some(ControlMessage::UserControl(ev))) => {
            if let Some(pong) = ev.ping_response() {
                assert_eq!(pong.header.type_id, MessageType::USER_CONTROL);
            }
            // The event serializes back to a payload that parses to itself.
            let again = cvmmap_streamer::rtmp::UserControlEvent::parse(&ev.to_message().payload);
            assert_eq!(again.as_ref(), Ok(&ev));
        }
        Ok(_) | Err(_) => {}
    }
    if let Ok(cmd) = IncomingCommand::from_message(msg) {
        let _ = (cmd.transaction_id(), cmd.status());
        if let Some(id) = cmd.stream_id() {
            assert!(f64::from(id).fract() == 0.0);
        }
    }
}

fn run(parts: &[&[u8]], limits: ReaderLimits) -> Outcome {
    let mut reader = ChunkReader::with_limits(limits);
    let mut ack = Acknowledger::new();
    let mut messages = Vec::new();
    let mut pushed = 0usize;
    for part in parts {
        reader.push(part);
        pushed += part.len();
        if let Some(seq) = ack.on_received(part.len()) {
            assert_eq!(u64::from(seq), ack.received() & 0xFFFF_FFFF);
        }
        loop {
            assert!(reader.buffered() <= pushed);
            match reader.next_message() {
                Ok(Some(msg)) => {
                    assert!(msg.payload.len() <= limits.max_message_len as usize);
                    handle(&msg, &reader, &mut ack);
                    messages.push(msg);
                }
                Ok(None) => break,
                Err(e) => {
                    return Outcome {
                        messages,
                        error: Some(e),
                        chunk_size: reader.chunk_size(),
                    };
                }
            }
        }
    }
    Outcome {
        messages,
        error: None,
        chunk_size: reader.chunk_size(),
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let n = usize::from(input.u8() % 16);
    let steps = input.take(n);
    let l = input.u8();
    let limits = if l & 0x80 == 0 {
        ReaderLimits::default()
    } else {
        ReaderLimits {
            max_message_len: u32::from(l & 0x0F) * 64,
            max_chunk_streams: usize::from((l >> 4) & 0x07),
        }
    };
    let stream = input.rest();
    let whole = run(&[stream], limits);
    let split = run(&pieces(stream, steps), limits);
    assert_eq!(whole, split);
});
