//! AMF0 (command and data message bodies): the streamer's `rtmp::amf0`
//! decoder and encoder, cross-checked against the RTMP stub's own decoder.
//!
//! Invariants: `decode_all` never panics; encoding what it decoded is a
//! fixed point (encode, decode, encode gives the same bytes); single-value
//! `decode` walks the same values; values of the types both sides know, at
//! moderate depth, decode in the stub to the same tree.
#![no_main]

use cvmmap_streamer::rtmp::amf0::{self, Value};
use cvmmap_testers::rtmp_stub::amf0 as stub;
use libfuzzer_sys::fuzz_target;

fn encode(values: &[Value]) -> Vec<u8> {
    let mut out = Vec::new();
    amf0::encode_all(values, &mut out);
    out
}

/// Whether every value is of a type the stub decodes to an equal value (the
/// stub has no Unsupported, XML or typed objects and drops the Date time
/// zone), at a depth within both decoders' limits.
fn portable(v: &Value, depth: usize) -> bool {
    if depth > 16 {
        return false;
    }
    match v {
        Value::Number(_)
        | Value::Boolean(_)
        | Value::String(_)
        | Value::LongString(_)
        | Value::Null
        | Value::Undefined
        | Value::Reference(_) => true,
        // The stub takes an empty key as the object end (AMF0 §2.5); ours
        // also reads an empty key followed by a value as a property.
        Value::Object(p) | Value::EcmaArray(p) => p
            .iter()
            .all(|(k, v)| !k.is_empty() && portable(v, depth + 1)),
        Value::StrictArray(items) => items.iter().all(|v| portable(v, depth + 1)),
        Value::Date { .. }
        | Value::Unsupported
        | Value::XmlDocument(_)
        | Value::TypedObject { .. } => false,
    }
}

fn same_number(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits()
}

fn same(ours: &Value, theirs: &stub::Value) -> bool {
    let props = |a: &[(String, Value)], b: &[(String, stub::Value)]| {
        a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|((ka, va), (kb, vb))| ka == kb && same(va, vb))
    };
    match (ours, theirs) {
        (Value::Number(a), stub::Value::Number(b)) => same_number(*a, *b),
        (Value::Boolean(a), stub::Value::Boolean(b)) => a == b,
        (Value::String(a) | Value::LongString(a), stub::Value::String(b)) => a == b,
        (Value::Object(a), stub::Value::Object(b)) => props(a, b),
        (Value::EcmaArray(a), stub::Value::EcmaArray(b)) => props(a, b),
        (Value::StrictArray(a), stub::Value::StrictArray(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(a, b)| same(a, b))
        }
        (Value::Null, stub::Value::Null) | (Value::Undefined, stub::Value::Undefined) => true,
        (Value::Reference(a), stub::Value::Reference(b)) => a == b,
        _ => false,
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(values) = amf0::decode_all(data) else {
        return;
    };
    // One value at a time gives the same values.
    let mut rest = data;
    let mut one_by_one = Vec::new();
    while !rest.is_empty() {
        let before = rest.len();
        one_by_one.push(amf0::decode(&mut rest).expect("decode_all succeeded"));
        assert!(rest.len() < before);
    }
    assert_eq!(encode(&one_by_one), encode(&values));

    // Encoding is a fixed point after one decode.
    let first = encode(&values);
    let again = amf0::decode_all(&first).expect("our own encoding decodes");
    assert_eq!(again.len(), values.len());
    assert_eq!(encode(&again), first);

    // The stub reads what we send.
    if again.iter().all(|v| portable(v, 0)) {
        let theirs = stub::decode_all(&first)
            .unwrap_or_else(|e| panic!("stub rejects our encoding of {again:?}: {e}"));
        assert_eq!(theirs.len(), again.len());
        for (a, b) in again.iter().zip(&theirs) {
            assert!(same(a, b), "{a:?} vs {b:?}");
        }
    }
});
