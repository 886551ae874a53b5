//! The RTMP stub's AMF0 decoder and encoder (`rtmp_stub::amf0`), which read
//! every command and data message a publisher sends.
//!
//! Invariants: encoding what was decoded is a fixed point; lookups and the
//! JSON rendering of the report work on any decoded value.
#![no_main]

use cvmmap_testers::rtmp_stub::amf0::{self, Value};
use libfuzzer_sys::fuzz_target;

fn walk(v: &Value) {
    let _ = (v.as_str(), v.as_number(), v.get("code"), v.get(""));
    match v {
        Value::Object(p) | Value::EcmaArray(p) => p.iter().for_each(|(_, v)| walk(v)),
        Value::StrictArray(a) => a.iter().for_each(walk),
        _ => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(values) = amf0::decode_all(data) else {
        return;
    };
    for v in &values {
        walk(v);
        let _ = v.to_json().to_string();
    }
    let first = amf0::encode_all(&values);
    let again = amf0::decode_all(&first).expect("the stub decodes its own encoding");
    assert_eq!(amf0::encode_all(&again), first);
});
