//! AMF0 values, encoder and decoder (Adobe "Action Message Format -- AMF 0",
//! as used by RTMP command and data messages, RTMP spec 1.0 §7.1.1/§7.1.2).
//!
//! Decoding works on complete message payloads, so running out of bytes is
//! an error ([`Amf0Error::Truncated`]) rather than "wait for more". Hostile
//! input is bounded: nesting deeper than [`MAX_DEPTH`] is rejected and no
//! allocation is sized from an untrusted count beyond the bytes present.

use thiserror::Error;

/// Deepest nesting of objects/arrays the decoder accepts.
pub const MAX_DEPTH: usize = 64;

/// AMF0 type markers (AMF0 spec §2.1).
pub mod marker {
    pub const NUMBER: u8 = 0x00;
    pub const BOOLEAN: u8 = 0x01;
    pub const STRING: u8 = 0x02;
    pub const OBJECT: u8 = 0x03;
    pub const MOVIECLIP: u8 = 0x04;
    pub const NULL: u8 = 0x05;
    pub const UNDEFINED: u8 = 0x06;
    pub const REFERENCE: u8 = 0x07;
    pub const ECMA_ARRAY: u8 = 0x08;
    pub const OBJECT_END: u8 = 0x09;
    pub const STRICT_ARRAY: u8 = 0x0A;
    pub const DATE: u8 = 0x0B;
    pub const LONG_STRING: u8 = 0x0C;
    pub const UNSUPPORTED: u8 = 0x0D;
    pub const RECORDSET: u8 = 0x0E;
    pub const XML_DOCUMENT: u8 = 0x0F;
    pub const TYPED_OBJECT: u8 = 0x10;
    pub const AVMPLUS: u8 = 0x11;
}

/// One AMF0 value. Objects and ECMA arrays keep their properties in wire
/// order (RTMP peers care about the order of `connect` properties).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Number(f64),
    Boolean(bool),
    /// Encoded as a long string when longer than 65535 bytes.
    String(String),
    Object(Vec<(String, Value)>),
    Null,
    Undefined,
    /// Reference to an earlier complex value by index (decoded, not resolved).
    Reference(u16),
    EcmaArray(Vec<(String, Value)>),
    StrictArray(Vec<Value>),
    /// Milliseconds since the Unix epoch; the time zone field is reserved.
    Date {
        millis: f64,
        time_zone: i16,
    },
    LongString(String),
    Unsupported,
    XmlDocument(String),
    TypedObject {
        class_name: String,
        properties: Vec<(String, Value)>,
    },
}

impl Value {
    /// Shorthand for `Value::String(s.into())`.
    pub fn string(s: impl Into<String>) -> Self {
        Self::String(s.into())
    }

    /// The text of a `String` or `LongString`.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::String(s) | Self::LongString(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_number(&self) -> Option<f64> {
        match self {
            Self::Number(n) => Some(*n),
            _ => None,
        }
    }

    /// The properties of an `Object`, `EcmaArray` or `TypedObject`.
    pub fn properties(&self) -> Option<&[(String, Value)]> {
        match self {
            Self::Object(p) | Self::EcmaArray(p) | Self::TypedObject { properties: p, .. } => {
                Some(p)
            }
            _ => None,
        }
    }

    /// First property named `key` of an object-like value.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.properties()?
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Amf0Error {
    #[error("AMF0: value truncated (need {needed} more bytes)")]
    Truncated { needed: usize },
    #[error("AMF0: unknown type marker {0:#04x}")]
    UnknownMarker(u8),
    #[error("AMF0: unsupported type marker {0:#04x}")]
    UnsupportedMarker(u8),
    #[error("AMF0: object-end marker outside an object")]
    UnexpectedObjectEnd,
    #[error("AMF0: nesting deeper than {limit} levels (hostile input?)")]
    TooDeep { limit: usize },
}

// ---------------------------------------------------------------- encoding

/// Appends the AMF0 encoding of `value` to `out`.
///
/// Object keys longer than 65535 bytes (not representable) are truncated at
/// a character boundary.
pub fn encode(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Number(n) => {
            out.push(marker::NUMBER);
            out.extend_from_slice(&n.to_be_bytes());
        }
        Value::Boolean(b) => out.extend_from_slice(&[marker::BOOLEAN, u8::from(*b)]),
        Value::String(s) if s.len() <= usize::from(u16::MAX) => {
            out.push(marker::STRING);
            put_short_str(s, out);
        }
        Value::String(s) | Value::LongString(s) => {
            out.push(marker::LONG_STRING);
            put_long_str(s, out);
        }
        Value::Object(props) => {
            out.push(marker::OBJECT);
            put_properties(props, out);
        }
        Value::Null => out.push(marker::NULL),
        Value::Undefined => out.push(marker::UNDEFINED),
        Value::Reference(i) => {
            out.push(marker::REFERENCE);
            out.extend_from_slice(&i.to_be_bytes());
        }
        Value::EcmaArray(props) => {
            out.push(marker::ECMA_ARRAY);
            out.extend_from_slice(&len_u32(props.len()).to_be_bytes());
            put_properties(props, out);
        }
        Value::StrictArray(items) => {
            out.push(marker::STRICT_ARRAY);
            out.extend_from_slice(&len_u32(items.len()).to_be_bytes());
            for item in items {
                encode(item, out);
            }
        }
        Value::Date { millis, time_zone } => {
            out.push(marker::DATE);
            out.extend_from_slice(&millis.to_be_bytes());
            out.extend_from_slice(&time_zone.to_be_bytes());
        }
        Value::Unsupported => out.push(marker::UNSUPPORTED),
        Value::XmlDocument(s) => {
            out.push(marker::XML_DOCUMENT);
            put_long_str(s, out);
        }
        Value::TypedObject {
            class_name,
            properties,
        } => {
            out.push(marker::TYPED_OBJECT);
            put_short_str(class_name, out);
            put_properties(properties, out);
        }
    }
}

/// Encodes several values back to back (a command message body).
pub fn encode_all<'a>(values: impl IntoIterator<Item = &'a Value>, out: &mut Vec<u8>) {
    for v in values {
        encode(v, out);
    }
}

fn len_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn truncate_str(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// UTF-8 with a 16-bit length (AMF0 "UTF-8", used for keys and strings).
fn put_short_str(s: &str, out: &mut Vec<u8>) {
    let s = truncate_str(s, usize::from(u16::MAX));
    out.extend_from_slice(&(s.len() as u16).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn put_long_str(s: &str, out: &mut Vec<u8>) {
    let s = truncate_str(s, u32::MAX as usize);
    out.extend_from_slice(&len_u32(s.len()).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn put_properties(props: &[(String, Value)], out: &mut Vec<u8>) {
    for (k, v) in props {
        put_short_str(k, out);
        encode(v, out);
    }
    // Empty key followed by the object-end marker.
    out.extend_from_slice(&[0, 0, marker::OBJECT_END]);
}

// ---------------------------------------------------------------- decoding

/// Decodes one value from the front of `input` and advances it past the
/// value. On error `input` is left somewhere inside the value.
pub fn decode(input: &mut &[u8]) -> Result<Value, Amf0Error> {
    decode_at(input, 0)
}

/// Decodes values until `input` is exhausted (a command message body).
pub fn decode_all(mut input: &[u8]) -> Result<Vec<Value>, Amf0Error> {
    let mut values = Vec::new();
    while !input.is_empty() {
        values.push(decode(&mut input)?);
    }
    Ok(values)
}

fn take<'a>(input: &mut &'a [u8], n: usize) -> Result<&'a [u8], Amf0Error> {
    if input.len() < n {
        return Err(Amf0Error::Truncated {
            needed: n - input.len(),
        });
    }
    let (head, tail) = input.split_at(n);
    *input = tail;
    Ok(head)
}

fn take_array<const N: usize>(input: &mut &[u8]) -> Result<[u8; N], Amf0Error> {
    let mut a = [0; N];
    a.copy_from_slice(take(input, N)?);
    Ok(a)
}

fn take_u16(input: &mut &[u8]) -> Result<u16, Amf0Error> {
    take_array(input).map(u16::from_be_bytes)
}

fn take_u32(input: &mut &[u8]) -> Result<u32, Amf0Error> {
    take_array(input).map(u32::from_be_bytes)
}

fn take_f64(input: &mut &[u8]) -> Result<f64, Amf0Error> {
    take_array(input).map(f64::from_be_bytes)
}

/// Strings are decoded lossily: a peer's odd description text should not
/// make a whole command undecodable.
fn take_str(input: &mut &[u8], len: usize) -> Result<String, Amf0Error> {
    Ok(String::from_utf8_lossy(take(input, len)?).into_owned())
}

fn take_short_str(input: &mut &[u8]) -> Result<String, Amf0Error> {
    let len = take_u16(input)?;
    take_str(input, usize::from(len))
}

fn take_long_str(input: &mut &[u8]) -> Result<String, Amf0Error> {
    let len = take_u32(input)?;
    take_str(input, len as usize)
}

fn decode_at(input: &mut &[u8], depth: usize) -> Result<Value, Amf0Error> {
    let [m] = take_array::<1>(input)?;
    Ok(match m {
        marker::NUMBER => Value::Number(take_f64(input)?),
        marker::BOOLEAN => Value::Boolean(take_array::<1>(input)?[0] != 0),
        marker::STRING => Value::String(take_short_str(input)?),
        marker::OBJECT => Value::Object(decode_properties(input, depth + 1, None)?),
        marker::NULL => Value::Null,
        marker::UNDEFINED => Value::Undefined,
        marker::REFERENCE => Value::Reference(take_u16(input)?),
        marker::ECMA_ARRAY => {
            let count = take_u32(input)?;
            Value::EcmaArray(decode_properties(input, depth + 1, Some(count))?)
        }
        marker::OBJECT_END => return Err(Amf0Error::UnexpectedObjectEnd),
        marker::STRICT_ARRAY => {
            check_depth(depth + 1)?;
            let count = take_u32(input)? as usize;
            // Every element takes at least one byte: never trust `count`
            // for more capacity than there are bytes.
            let mut items = Vec::with_capacity(count.min(input.len()));
            for _ in 0..count {
                items.push(decode_at(input, depth + 1)?);
            }
            Value::StrictArray(items)
        }
        marker::DATE => {
            let millis = take_f64(input)?;
            let time_zone = i16::from_be_bytes(take_array(input)?);
            Value::Date { millis, time_zone }
        }
        marker::LONG_STRING => Value::LongString(take_long_str(input)?),
        marker::UNSUPPORTED => Value::Unsupported,
        marker::XML_DOCUMENT => Value::XmlDocument(take_long_str(input)?),
        marker::TYPED_OBJECT => {
            let class_name = take_short_str(input)?;
            let properties = decode_properties(input, depth + 1, None)?;
            Value::TypedObject {
                class_name,
                properties,
            }
        }
        marker::MOVIECLIP | marker::RECORDSET | marker::AVMPLUS => {
            return Err(Amf0Error::UnsupportedMarker(m));
        }
        other => return Err(Amf0Error::UnknownMarker(other)),
    })
}

fn check_depth(depth: usize) -> Result<(), Amf0Error> {
    if depth > MAX_DEPTH {
        Err(Amf0Error::TooDeep { limit: MAX_DEPTH })
    } else {
        Ok(())
    }
}

/// Key/value pairs up to the empty-key + object-end terminator.
///
/// `ecma_count` is the ECMA array's associative count: some encoders omit
/// the terminator after an ECMA array, so input ending right after `count`
/// properties is accepted too.
fn decode_properties(
    input: &mut &[u8],
    depth: usize,
    ecma_count: Option<u32>,
) -> Result<Vec<(String, Value)>, Amf0Error> {
    check_depth(depth)?;
    let mut props = Vec::new();
    loop {
        if input.is_empty() && ecma_count.is_some_and(|c| props.len() >= c as usize) {
            return Ok(props);
        }
        let key = take_short_str(input)?;
        if key.is_empty() && input.first() == Some(&marker::OBJECT_END) {
            *input = &input[1..];
            return Ok(props);
        }
        let value = decode_at(input, depth)?;
        props.push((key, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn round_trip(v: &Value) -> Value {
        let mut buf = Vec::new();
        encode(v, &mut buf);
        let mut input = buf.as_slice();
        let out = decode(&mut input).expect("decodes");
        assert!(input.is_empty(), "trailing bytes");
        out
    }

    #[test]
    fn number_bytes() {
        let mut buf = Vec::new();
        encode(&Value::Number(1.0), &mut buf);
        assert_eq!(buf, [0, 0x3F, 0xF0, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn object_bytes_and_order() {
        let v = Value::Object(vec![
            ("b".into(), Value::Boolean(true)),
            ("a".into(), Value::string("x")),
        ]);
        let mut buf = Vec::new();
        encode(&v, &mut buf);
        assert_eq!(
            buf,
            [3, 0, 1, b'b', 1, 1, 0, 1, b'a', 2, 0, 1, b'x', 0, 0, 9]
        );
        assert_eq!(round_trip(&v), v);
        assert_eq!(v.get("a").and_then(Value::as_str), Some("x"));
    }

    #[test]
    fn long_strings_switch_marker() {
        let s = "y".repeat(70_000);
        let mut buf = Vec::new();
        encode(&Value::String(s.clone()), &mut buf);
        assert_eq!(buf[0], marker::LONG_STRING);
        assert_eq!(round_trip(&Value::String(s.clone())), Value::LongString(s));
    }

    #[test]
    fn truncated_is_an_error() {
        let mut input: &[u8] = &[0, 1, 2];
        assert_eq!(decode(&mut input), Err(Amf0Error::Truncated { needed: 6 }));
        let mut input: &[u8] = &[3, 0, 1, b'a', 5];
        assert!(matches!(
            decode(&mut input),
            Err(Amf0Error::Truncated { .. })
        ));
    }

    #[test]
    fn stray_object_end_and_unknown_marker() {
        assert_eq!(decode(&mut &[9u8][..]), Err(Amf0Error::UnexpectedObjectEnd));
        assert_eq!(
            decode(&mut &[0x42u8][..]),
            Err(Amf0Error::UnknownMarker(0x42))
        );
        assert_eq!(
            decode(&mut &[0x11u8, 1][..]),
            Err(Amf0Error::UnsupportedMarker(0x11))
        );
    }

    #[test]
    fn deep_nesting_is_rejected() {
        // 10_000 nested strict arrays of one element each.
        let mut buf = Vec::new();
        for _ in 0..10_000 {
            buf.extend_from_slice(&[marker::STRICT_ARRAY, 0, 0, 0, 1]);
        }
        buf.push(marker::NULL);
        assert_eq!(
            decode(&mut buf.as_slice()),
            Err(Amf0Error::TooDeep { limit: MAX_DEPTH })
        );
        // Same with objects.
        let mut buf = Vec::new();
        for _ in 0..10_000 {
            buf.extend_from_slice(&[marker::OBJECT, 0, 1, b'k']);
        }
        assert_eq!(
            decode(&mut buf.as_slice()),
            Err(Amf0Error::TooDeep { limit: MAX_DEPTH })
        );
    }

    #[test]
    fn hostile_array_count_does_not_allocate() {
        let buf = [marker::STRICT_ARRAY, 0xFF, 0xFF, 0xFF, 0xFF, marker::NULL];
        assert!(matches!(
            decode(&mut &buf[..]),
            Err(Amf0Error::Truncated { .. })
        ));
    }

    #[test]
    fn ecma_array_without_terminator_is_accepted() {
        let buf = [marker::ECMA_ARRAY, 0, 0, 0, 1, 0, 1, b'k', marker::NULL];
        assert_eq!(
            decode(&mut &buf[..]),
            Ok(Value::EcmaArray(vec![("k".into(), Value::Null)]))
        );
    }

    fn arb_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            (-1e300f64..1e300).prop_map(Value::Number),
            any::<bool>().prop_map(Value::Boolean),
            ".{0,12}".prop_map(Value::String),
            Just(Value::Null),
            Just(Value::Undefined),
            any::<u16>().prop_map(Value::Reference),
            ((-1e15f64..1e15), any::<i16>())
                .prop_map(|(millis, time_zone)| Value::Date { millis, time_zone }),
            ".{0,12}".prop_map(Value::XmlDocument),
            Just(Value::Unsupported),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            let props = prop::collection::vec(("[a-z]{1,6}", inner.clone()), 0..6);
            prop_oneof![
                props.clone().prop_map(Value::Object),
                props.clone().prop_map(Value::EcmaArray),
                prop::collection::vec(inner, 0..6).prop_map(Value::StrictArray),
                ("[A-Z]{0,6}", props).prop_map(|(class_name, properties)| {
                    Value::TypedObject {
                        class_name,
                        properties,
                    }
                }),
            ]
        })
    }

    proptest! {
        #[test]
        fn prop_round_trip(v in arb_value()) {
            prop_assert_eq!(round_trip(&v), v);
        }

        #[test]
        fn prop_random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
            let mut input = bytes.as_slice();
            let before = input.len();
            if decode(&mut input).is_ok() {
                prop_assert!(input.len() < before);
            }
            let _ = decode_all(&bytes);
        }

        #[test]
        fn prop_prefixes_of_valid_values_are_truncated(v in arb_value(), cut in any::<prop::sample::Index>()) {
            let mut buf = Vec::new();
            encode(&v, &mut buf);
            let cut = cut.index(buf.len());
            let mut input = &buf[..cut];
            // A strict prefix may decode only for ECMA arrays that lost their
            // terminator; otherwise it must be Truncated, never a panic.
            match decode(&mut input) {
                Err(Amf0Error::Truncated { .. }) | Ok(_) => {}
                Err(e) => prop_assert!(false, "unexpected {e:?}"),
            }
        }
    }
}
