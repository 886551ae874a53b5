//! RTMP messages from the server, one at a time: protocol control and user
//! control messages (`rtmp::ControlMessage`, `UserControlEvent`,
//! `message::parse_chunk_size`) and command replies
//! (`rtmp::IncomingCommand`: `_result`, `_error`, `onStatus`, ...).
//!
//! Input: `u8` message type id, then the payload.
//!
//! Invariants: no panics; parsed control values respect their ranges; user
//! control events round-trip through their encoder; a `createStream` stream
//! id is a whole `u32`; command replies keep the transaction id.
#![no_main]

use cvmmap_streamer::rtmp::message::{MAX_CHUNK_SIZE, parse_chunk_size};
use cvmmap_streamer::rtmp::{
    ControlMessage, IncomingCommand, Message, MessageType, UserControlEvent,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&type_id, payload)) = data.split_first() else {
        return;
    };
    let msg = Message::new(MessageType(type_id), 1, 0, payload.to_vec());
    match ControlMessage::parse(&msg) {
        Ok(Some(ControlMessage::SetChunkSize(n))) => {
            assert!((1..=MAX_CHUNK_SIZE).contains(&n));
            assert_eq!(parse_chunk_size(payload), Ok(n));
        }
        Ok(Some(ControlMessage::UserControl(ev))) => {
            let m = ev.to_message();
            assert_eq!(UserControlEvent::parse(&m.payload).as_ref(), Ok(&ev));
            if let UserControlEvent::PingRequest(t) = ev {
                let pong = ev.ping_response().expect("pong for a ping");
                assert_eq!(
                    UserControlEvent::parse(&pong.payload),
                    Ok(UserControlEvent::PingResponse(t))
                );
            }
        }
        Ok(Some(_)) => assert!((1..=6).contains(&type_id)),
        Ok(None) => assert!(!(1..=6).contains(&type_id)),
        Err(_) => assert!((1..=6).contains(&type_id)),
    }
    // Whatever the type, the payload as a command body.
    if let Ok(cmd) = IncomingCommand::parse(payload) {
        if let Some(id) = cmd.stream_id() {
            assert!(matches!(cmd, IncomingCommand::Result { .. }));
            let _ = id;
        }
        if cmd.status().is_some() {
            assert!(cmd.transaction_id().is_some());
        }
    }
    if let Ok(cmd) = IncomingCommand::from_message(&msg) {
        assert!(matches!(
            msg.header.type_id,
            MessageType::COMMAND_AMF0 | MessageType::COMMAND_AMF3
        ));
        if msg.header.type_id == MessageType::COMMAND_AMF0 {
            // Debug text, not ==: NaN numbers are equal there.
            let again = IncomingCommand::parse(payload).expect("same payload");
            assert_eq!(format!("{again:?}"), format!("{cmd:?}"));
        }
    }
});
