//! Wire-level tests: snapshots of what we send, decoding of hand-built
//! server replies.

use super::command::{self, ConnectParams, IncomingCommand, StatusInfo};
use super::message::{self, Message, MessageType, csid};
use super::test_util::hex_dump;
use super::{ChunkReader, ChunkWriter, RtmpUrl, Value};

/// Chunks `msg` as the first message on `csid` with a 4096-byte chunk size
/// (what we use after our SetChunkSize).
fn wire(csid: u32, msg: &Message) -> Vec<u8> {
    let mut w = ChunkWriter::new();
    w.set_chunk_size(4096).unwrap();
    let mut out = Vec::new();
    w.write_message(csid, msg, &mut out).unwrap();
    out
}

fn connect_params(four_cc: Option<&[&str]>) -> ConnectParams {
    let url = RtmpUrl::parse("rtmp://localhost/live/cam").unwrap();
    let mut p = ConnectParams::new(&url.app, url.tc_url());
    p.four_cc_list = four_cc.map(|l| l.iter().map(|s| s.to_string()).collect());
    p
}

#[test]
fn snapshot_connect() {
    let msg = command::connect(1.0, &connect_params(None));
    assert_eq!(msg.header.type_id, MessageType::COMMAND_AMF0);
    assert_eq!(msg.header.stream_id, 0);
    insta::assert_snapshot!(hex_dump(&wire(csid::COMMAND, &msg)));
}

#[test]
fn snapshot_connect_with_four_cc_list() {
    let msg = command::connect(1.0, &connect_params(Some(&["hvc1", "avc1"])));
    let values = super::amf0::decode_all(&msg.payload).unwrap();
    assert_eq!(
        values[2].get("fourCcList"),
        Some(&Value::StrictArray(vec![
            Value::string("hvc1"),
            Value::string("avc1")
        ]))
    );
    insta::assert_snapshot!(hex_dump(&wire(csid::COMMAND, &msg)));
}

#[test]
fn snapshot_publish() {
    let msg = command::publish(5.0, 1, "cam");
    assert_eq!(msg.header.stream_id, 1);
    insta::assert_snapshot!(hex_dump(&wire(csid::COMMAND, &msg)));
}

#[test]
fn snapshot_fmle_calls_and_metadata() {
    let mut out = Vec::new();
    let mut w = ChunkWriter::new();
    w.set_chunk_size(4096).unwrap();
    for m in [
        command::release_stream(2.0, "cam"),
        command::fc_publish(3.0, "cam"),
        command::create_stream(4.0),
    ] {
        w.write_message(csid::COMMAND, &m, &mut out).unwrap();
    }
    let meta = command::set_data_frame(
        1,
        &[
            ("width", Value::Number(1280.0)),
            ("height", Value::Number(720.0)),
            ("videocodecid", Value::Number(7.0)),
        ],
    );
    assert_eq!(meta.header.type_id, MessageType::DATA_AMF0);
    w.write_message(csid::DATA, &meta, &mut out).unwrap();
    insta::assert_snapshot!(hex_dump(&out));
}

// ---- hand-built AMF0, independent of our encoder

fn s(out: &mut Vec<u8>, text: &str) {
    out.push(2);
    out.extend_from_slice(&(text.len() as u16).to_be_bytes());
    out.extend_from_slice(text.as_bytes());
}

fn n(out: &mut Vec<u8>, v: f64) {
    out.push(0);
    out.extend_from_slice(&v.to_be_bytes());
}

fn key(out: &mut Vec<u8>, k: &str) {
    out.extend_from_slice(&(k.len() as u16).to_be_bytes());
    out.extend_from_slice(k.as_bytes());
}

fn obj(out: &mut Vec<u8>, props: &[(&str, &str)]) {
    out.push(3);
    for (k, v) in props {
        key(out, k);
        s(out, v);
    }
    out.extend_from_slice(&[0, 0, 9]);
}

/// A type 0 chunk on csid 3, stream `sid`, type 20, in one chunk (< 128).
fn chunk0(sid: u8, payload: &[u8]) -> Vec<u8> {
    assert!(payload.len() <= 128 || payload.len() <= 4096);
    let len = payload.len() as u32;
    let mut v = vec![0x03, 0, 0, 0];
    v.extend_from_slice(&len.to_be_bytes()[1..]);
    v.extend_from_slice(&[20, sid, 0, 0, 0]);
    v.extend_from_slice(payload);
    v
}

fn read_one(bytes: &[u8]) -> Message {
    let mut r = ChunkReader::new();
    // The server raised its chunk size first, as nginx-rtmp does.
    r.push(&[0x02, 0, 0, 0, 0, 0, 4, 1, 0, 0, 0, 0, 0, 0, 0x10, 0]);
    let scs = r.next_message().unwrap().unwrap();
    assert_eq!(scs, message::set_chunk_size(4096));
    r.push(bytes);
    let m = r.next_message().unwrap().unwrap();
    assert_eq!(r.next_message(), Ok(None));
    m
}

#[test]
fn decode_connect_result() {
    let mut p = Vec::new();
    s(&mut p, "_result");
    n(&mut p, 1.0);
    p.push(3);
    key(&mut p, "fmsVer");
    s(&mut p, "FMS/3,0,1,123");
    key(&mut p, "capabilities");
    n(&mut p, 31.0);
    p.extend_from_slice(&[0, 0, 9]);
    p.push(3);
    for (k, v) in [
        ("level", "status"),
        ("code", "NetConnection.Connect.Success"),
        ("description", "Connection succeeded."),
    ] {
        key(&mut p, k);
        s(&mut p, v);
    }
    key(&mut p, "objectEncoding");
    n(&mut p, 0.0);
    p.extend_from_slice(&[0, 0, 9]);

    let msg = read_one(&chunk0(0, &p));
    let cmd = IncomingCommand::from_message(&msg).unwrap();
    let IncomingCommand::Result {
        transaction_id,
        status,
        args,
    } = &cmd
    else {
        panic!("{cmd:?}")
    };
    assert_eq!(*transaction_id, 1.0);
    assert_eq!(
        *status,
        StatusInfo {
            level: Some("status".into()),
            code: Some("NetConnection.Connect.Success".into()),
            description: Some("Connection succeeded.".into()),
        }
    );
    assert_eq!(args[0].get("capabilities"), Some(&Value::Number(31.0)));
    assert_eq!(cmd.stream_id(), None);
}

#[test]
fn decode_create_stream_result() {
    let mut p = Vec::new();
    s(&mut p, "_result");
    n(&mut p, 4.0);
    p.push(5);
    n(&mut p, 1.0);
    let cmd = IncomingCommand::parse(&p).unwrap();
    assert_eq!(cmd.transaction_id(), Some(4.0));
    assert_eq!(cmd.stream_id(), Some(1));
    assert_eq!(cmd.status(), Some(&StatusInfo::default()));
}

fn on_status(code: &str, level: &str, description: &str) -> Vec<u8> {
    let mut p = Vec::new();
    s(&mut p, "onStatus");
    n(&mut p, 0.0);
    p.push(5);
    obj(
        &mut p,
        &[
            ("level", level),
            ("code", code),
            ("description", description),
        ],
    );
    chunk0(1, &p)
}

#[test]
fn decode_on_status_publish_start() {
    let msg = read_one(&on_status(
        "NetStream.Publish.Start",
        "status",
        "Start publishing",
    ));
    assert_eq!(msg.header.stream_id, 1);
    assert_eq!(
        IncomingCommand::from_message(&msg).unwrap(),
        IncomingCommand::OnStatus {
            transaction_id: 0.0,
            status: StatusInfo {
                level: Some("status".into()),
                code: Some("NetStream.Publish.Start".into()),
                description: Some("Start publishing".into()),
            }
        }
    );
}

#[test]
fn decode_on_status_bad_name() {
    let msg = read_one(&on_status(
        "NetStream.Publish.BadName",
        "error",
        "Already publishing",
    ));
    let cmd = IncomingCommand::from_message(&msg).unwrap();
    let status = cmd.status().unwrap();
    assert_eq!(status.code.as_deref(), Some("NetStream.Publish.BadName"));
    assert_eq!(status.level.as_deref(), Some("error"));
    assert_eq!(status.description.as_deref(), Some("Already publishing"));
}

#[test]
fn decode_error_on_bw_done_and_others() {
    let mut p = Vec::new();
    s(&mut p, "_error");
    n(&mut p, 1.0);
    p.push(5);
    obj(
        &mut p,
        &[
            ("level", "error"),
            ("code", "NetConnection.Connect.Rejected"),
            ("description", "auth failed"),
        ],
    );
    let cmd = IncomingCommand::parse(&p).unwrap();
    assert!(matches!(
        cmd,
        IncomingCommand::Error {
            transaction_id: 1.0,
            ..
        }
    ));
    assert_eq!(
        cmd.status().unwrap().code.as_deref(),
        Some("NetConnection.Connect.Rejected")
    );

    let mut p = Vec::new();
    s(&mut p, "onBWDone");
    n(&mut p, 0.0);
    p.push(5);
    assert_eq!(IncomingCommand::parse(&p), Ok(IncomingCommand::OnBwDone));

    let mut p = Vec::new();
    s(&mut p, "onFCPublish");
    p.push(5);
    assert_eq!(
        IncomingCommand::parse(&p),
        Ok(IncomingCommand::Other {
            name: "onFCPublish".into(),
            transaction_id: None,
            args: vec![Value::Null],
        })
    );

    // AMF3-wrapped command (type 17) with its leading format byte.
    let mut p = vec![0];
    s(&mut p, "onBWDone");
    let m = Message::new(MessageType::COMMAND_AMF3, 0, 0, p);
    assert_eq!(
        IncomingCommand::from_message(&m),
        Ok(IncomingCommand::OnBwDone)
    );

    assert_eq!(
        IncomingCommand::parse(&[0, 0, 0, 0, 0, 0, 0, 0, 0]),
        Err(command::CommandError::MissingName)
    );
    assert!(matches!(
        IncomingCommand::parse(&[2, 0, 5, b'a']),
        Err(command::CommandError::Amf0(_))
    ));
}

#[test]
fn our_commands_parse_back() {
    for (m, name) in [
        (command::release_stream(2.0, "k"), "releaseStream"),
        (command::fc_publish(3.0, "k"), "FCPublish"),
        (command::fc_unpublish(6.0, "k"), "FCUnpublish"),
        (command::create_stream(4.0), "createStream"),
        (command::delete_stream(7.0, 1), "deleteStream"),
        (command::publish(5.0, 1, "k"), "publish"),
    ] {
        match IncomingCommand::from_message(&m).unwrap() {
            IncomingCommand::Other {
                name: got,
                transaction_id: Some(_),
                ..
            } => assert_eq!(got, name),
            other => panic!("{other:?}"),
        }
    }
}
