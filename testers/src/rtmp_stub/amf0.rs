//! AMF0 (Adobe "Action Message Format -- AMF 0", December 2007) decoder and
//! the few encoders the server needs for its replies.

use std::fmt;

/// An AMF0 value. Objects and ECMA arrays keep their key order.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Number(f64),
    Boolean(bool),
    String(String),
    Object(Vec<(String, Value)>),
    Null,
    Undefined,
    Reference(u16),
    EcmaArray(Vec<(String, Value)>),
    StrictArray(Vec<Value>),
    Date(f64),
}

impl Value {
    /// Looks a key up in an object or ECMA array.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Object(p) | Value::EcmaArray(p) => {
                p.iter().find(|(k, _)| k == key).map(|(_, v)| v)
            }
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_number(&self) -> Option<f64> {
        match self {
            Value::Number(n) => Some(*n),
            _ => None,
        }
    }

    /// A JSON rendering for the report.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Number(n) => serde_json::Number::from_f64(*n).map_or(J::Null, J::Number),
            Value::Boolean(b) => J::Bool(*b),
            Value::String(s) => J::String(s.clone()),
            Value::Object(p) | Value::EcmaArray(p) => {
                J::Object(p.iter().map(|(k, v)| (k.clone(), v.to_json())).collect())
            }
            Value::Null | Value::Undefined | Value::Reference(_) => J::Null,
            Value::StrictArray(a) => J::Array(a.iter().map(Value::to_json).collect()),
            Value::Date(d) => serde_json::Number::from_f64(*d).map_or(J::Null, J::Number),
        }
    }
}

/// A malformed AMF0 byte string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmfError(pub String);

impl fmt::Display for AmfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed AMF0: {}", self.0)
    }
}

const MAX_DEPTH: usize = 32;

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], AmfError> {
        if self.buf.len() - self.pos < n {
            return Err(AmfError(format!(
                "truncated at byte {} (need {n} more)",
                self.pos
            )));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8, AmfError> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, AmfError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, AmfError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn f64(&mut self) -> Result<f64, AmfError> {
        let b = self.take(8)?;
        Ok(f64::from_be_bytes(b.try_into().expect("8 bytes")))
    }

    fn utf8(&mut self, n: usize) -> Result<String, AmfError> {
        let b = self.take(n)?;
        String::from_utf8(b.to_vec())
            .map_err(|_| AmfError(format!("invalid UTF-8 at byte {}", self.pos - n)))
    }

    /// Key/value pairs up to the empty key + object-end marker (0x00 0x00 0x09).
    fn pairs(&mut self, depth: usize) -> Result<Vec<(String, Value)>, AmfError> {
        let mut out = Vec::new();
        loop {
            let n = self.u16()? as usize;
            if n == 0 {
                let m = self.u8()?;
                if m != 0x09 {
                    return Err(AmfError(format!(
                        "empty key not followed by object-end (0x{m:02x})"
                    )));
                }
                return Ok(out);
            }
            let k = self.utf8(n)?;
            let v = self.value(depth + 1)?;
            out.push((k, v));
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, AmfError> {
        if depth > MAX_DEPTH {
            return Err(AmfError("nesting too deep".into()));
        }
        let marker = self.u8()?;
        Ok(match marker {
            0x00 => Value::Number(self.f64()?),
            0x01 => Value::Boolean(self.u8()? != 0),
            0x02 => {
                let n = self.u16()? as usize;
                Value::String(self.utf8(n)?)
            }
            0x03 => Value::Object(self.pairs(depth)?),
            0x05 => Value::Null,
            0x06 => Value::Undefined,
            0x07 => Value::Reference(self.u16()?),
            0x08 => {
                let _count = self.u32()?; // a hint only; the end marker terminates
                Value::EcmaArray(self.pairs(depth)?)
            }
            0x0A => {
                let n = self.u32()? as usize;
                if n > self.buf.len() - self.pos {
                    return Err(AmfError(format!(
                        "strict array of {n} items exceeds the message"
                    )));
                }
                let mut a = Vec::with_capacity(n);
                for _ in 0..n {
                    a.push(self.value(depth + 1)?);
                }
                Value::StrictArray(a)
            }
            0x0B => {
                let d = self.f64()?;
                let _tz = self.u16()?;
                Value::Date(d)
            }
            0x0C => {
                let n = self.u32()? as usize;
                Value::String(self.utf8(n)?)
            }
            0x09 => {
                return Err(AmfError(format!(
                    "object-end marker outside an object at byte {}",
                    self.pos - 1
                )));
            }
            m => {
                return Err(AmfError(format!(
                    "unsupported type marker 0x{m:02x} at byte {}",
                    self.pos - 1
                )));
            }
        })
    }
}

/// Decodes all the values in `buf` (a command or data message body).
pub fn decode_all(buf: &[u8]) -> Result<Vec<Value>, AmfError> {
    let mut r = Reader { buf, pos: 0 };
    let mut out = Vec::new();
    while r.pos < buf.len() {
        out.push(r.value(0)?);
    }
    Ok(out)
}

/// Appends the AMF0 encoding of `v`.
pub fn encode(out: &mut Vec<u8>, v: &Value) {
    fn pairs(out: &mut Vec<u8>, p: &[(String, Value)]) {
        for (k, v) in p {
            out.extend_from_slice(&(k.len() as u16).to_be_bytes());
            out.extend_from_slice(k.as_bytes());
            encode(out, v);
        }
        out.extend_from_slice(&[0, 0, 9]);
    }
    match v {
        Value::Number(n) => {
            out.push(0x00);
            out.extend_from_slice(&n.to_be_bytes());
        }
        Value::Boolean(b) => out.extend_from_slice(&[0x01, u8::from(*b)]),
        Value::String(s) if s.len() <= usize::from(u16::MAX) => {
            out.push(0x02);
            out.extend_from_slice(&(s.len() as u16).to_be_bytes());
            out.extend_from_slice(s.as_bytes());
        }
        Value::String(s) => {
            out.push(0x0C);
            out.extend_from_slice(&(s.len() as u32).to_be_bytes());
            out.extend_from_slice(s.as_bytes());
        }
        Value::Object(p) => {
            out.push(0x03);
            pairs(out, p);
        }
        Value::Null => out.push(0x05),
        Value::Undefined => out.push(0x06),
        Value::Reference(r) => {
            out.push(0x07);
            out.extend_from_slice(&r.to_be_bytes());
        }
        Value::EcmaArray(p) => {
            out.push(0x08);
            out.extend_from_slice(&(p.len() as u32).to_be_bytes());
            pairs(out, p);
        }
        Value::StrictArray(a) => {
            out.push(0x0A);
            out.extend_from_slice(&(a.len() as u32).to_be_bytes());
            for v in a {
                encode(out, v);
            }
        }
        Value::Date(d) => {
            out.push(0x0B);
            out.extend_from_slice(&d.to_be_bytes());
            out.extend_from_slice(&[0, 0]);
        }
    }
}

/// Encodes a sequence of values.
pub fn encode_all(vals: &[Value]) -> Vec<u8> {
    let mut out = Vec::new();
    for v in vals {
        encode(&mut out, v);
    }
    out
}

/// Shorthand for an object from `(key, value)` pairs.
pub fn object(p: &[(&str, Value)]) -> Value {
    Value::Object(
        p.iter()
            .map(|(k, v)| ((*k).to_string(), v.clone()))
            .collect(),
    )
}

pub fn string(s: &str) -> Value {
    Value::String(s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_all_types() {
        let v = vec![
            string("connect"),
            Value::Number(1.0),
            object(&[
                ("app", string("live")),
                ("fourCcList", Value::StrictArray(vec![string("hvc1")])),
                ("flag", Value::Boolean(true)),
            ]),
            Value::Null,
            Value::Undefined,
            Value::EcmaArray(vec![("width".into(), Value::Number(640.0))]),
            Value::Date(5.0),
            Value::String("x".repeat(70_000)),
        ];
        assert_eq!(decode_all(&encode_all(&v)).unwrap(), v);
    }

    #[test]
    fn rejects_truncation_and_bad_markers() {
        let b = encode_all(&[object(&[("a", Value::Number(1.0))])]);
        assert!(decode_all(&b[..b.len() - 1]).is_err());
        assert!(decode_all(&[0x0D]).is_err());
        assert!(decode_all(&[0x09]).is_err());
        assert!(decode_all(&[0x03, 0, 0, 0x05]).is_err());
        assert!(decode_all(&[0x0A, 0xFF, 0xFF, 0xFF, 0xFF]).is_err());
    }

    #[test]
    fn lookup() {
        let o = object(&[("videocodecid", Value::Number(7.0))]);
        assert_eq!(o.get("videocodecid").and_then(Value::as_number), Some(7.0));
        assert!(o.get("nope").is_none());
    }
}
