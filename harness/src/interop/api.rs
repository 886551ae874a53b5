//! The servers' own HTTP APIs, read into one [`ServerView`]: nginx-rtmp's
//! `/stat` XML, SRS `/api/v1/streams/`, ZLMediaKit `/index/api/getMediaList`
//! and MediaMTX `/v3/paths/list`. A plain HTTP/1.0 GET over a loopback
//! socket with timeouts is all they need, so no HTTP client crate.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use serde_json::Value;

use super::server::Kind;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("bad API URL {url:?}: expected http://HOST:PORT[/prefix]")]
    BadUrl { url: String },
    #[error("{url}: {source}")]
    Io { url: String, source: std::io::Error },
    #[error("{url}: HTTP status line {status:?}")]
    Status { url: String, status: String },
    #[error("{url}: unreadable answer: {why}")]
    Body { url: String, why: String },
}

/// How long one API request may take in all.
const TIMEOUT: Duration = Duration::from_secs(3);

/// `GET base + path` (base `http://host:port[/prefix]`); the body on 200.
pub fn get(base: &str, path: &str) -> Result<String, ApiError> {
    let url = format!("{}{path}", base.trim_end_matches('/'));
    let bad = || ApiError::BadUrl { url: url.clone() };
    let rest = url.strip_prefix("http://").ok_or_else(bad)?;
    let (host, target) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let addr = host
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(bad)?;
    let io = |source| ApiError::Io {
        url: url.clone(),
        source,
    };
    let mut s = TcpStream::connect_timeout(&addr, TIMEOUT).map_err(io)?;
    s.set_read_timeout(Some(TIMEOUT)).map_err(io)?;
    s.set_write_timeout(Some(TIMEOUT)).map_err(io)?;
    let req = format!("GET {target} HTTP/1.0\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).map_err(io)?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).map_err(io)?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").ok_or_else(|| ApiError::Body {
        url: url.clone(),
        why: "no end of headers".into(),
    })?;
    let status = head.lines().next().unwrap_or_default();
    if status.split_whitespace().nth(1) != Some("200") {
        return Err(ApiError::Status {
            url,
            status: status.to_owned(),
        });
    }
    Ok(body.to_owned())
}

/// One answer about the row's stream.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    pub video_codec: Option<String>,
    pub width: Option<u64>,
    pub height: Option<u64>,
    pub bytes_in: Option<u64>,
    /// Bytes the server sent to the stream's players.
    pub bytes_out: Option<u64>,
    pub frames: Option<u64>,
    pub readers: Option<u64>,
    pub publishing: Option<bool>,
}

/// Reads one API answer for `(body, app, stream)`.
type Parser = fn(&str, &str, &str) -> Result<Option<Snapshot>, String>;

/// Where one server's API is and how to ask it about `app/stream`.
#[derive(Debug, Clone)]
pub struct Api {
    pub kind: Kind,
    pub base: String,
    /// ZLMediaKit's `api.secret`.
    pub secret: Option<String>,
}

impl Api {
    /// What the request path is, for the evidence.
    pub fn source(&self) -> String {
        let path = match self.kind {
            Kind::Nginx => "/stat",
            Kind::Srs => "/api/v1/streams/",
            Kind::Zlm => "/index/api/getMediaList",
            Kind::Mediamtx => "/v3/paths/list",
        };
        format!("{} {}{path}", self.kind.title(), self.base)
    }

    /// The stream's snapshot (None: not listed), and the raw answer, which
    /// the row keeps as evidence.
    pub fn query(&self, app: &str, stream: &str) -> Result<(Option<Snapshot>, String), ApiError> {
        let (path, parse): (String, Parser) = match self.kind {
            Kind::Nginx => ("/stat".into(), nginx_stat),
            // count=100: SRS lists 10 streams per page by default.
            Kind::Srs => ("/api/v1/streams/?count=100".into(), srs_streams),
            Kind::Zlm => (
                format!(
                    "/index/api/getMediaList?secret={}&schema=rtmp&app={app}&stream={stream}",
                    self.secret.as_deref().unwrap_or_default()
                ),
                zlm_media,
            ),
            Kind::Mediamtx => ("/v3/paths/list".into(), mediamtx_paths),
        };
        let body = get(&self.base, &path)?;
        let snap = parse(&body, app, stream).map_err(|why| ApiError::Body {
            url: format!("{}{path}", self.base),
            why,
        })?;
        Ok((snap, body))
    }
}

fn json(body: &str) -> Result<Value, String> {
    serde_json::from_str(body).map_err(|e| e.to_string())
}

fn num(v: &Value, key: &str) -> Option<u64> {
    v.get(key)
        .and_then(|n| n.as_u64().or(n.as_f64().map(|f| f as u64)))
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// The text of the first `<tag>...</tag>` in `xml`.
pub(super) fn tag<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{name}>"))? + start;
    Some(xml[start..end].trim())
}

/// The bodies of every `<name>...</name>` block (not nested in itself).
fn blocks<'a>(xml: &'a str, name: &str) -> Vec<&'a str> {
    let (open, close) = (format!("<{name}>"), format!("</{name}>"));
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(s) = rest.find(&open) {
        let body = &rest[s + open.len()..];
        let Some(e) = body.find(&close) else { break };
        out.push(&body[..e]);
        rest = &body[e + close.len()..];
    }
    out
}

/// nginx-rtmp `rtmp_stat all`: `<application><name>live</name><live>
/// <stream><name>..</name><bytes_in>..</bytes_in><meta><video><width>..`,
/// one `<client>` per connection, the publisher's with `<publishing/>`.
pub fn nginx_stat(xml: &str, app: &str, stream: &str) -> Result<Option<Snapshot>, String> {
    if !xml.contains("<rtmp>") {
        return Err("not an nginx-rtmp stat document".into());
    }
    let Some(application) = blocks(xml, "application")
        .into_iter()
        .find(|a| tag(a, "name") == Some(app))
    else {
        return Ok(None);
    };
    let Some(s) = blocks(application, "stream")
        .into_iter()
        .find(|s| tag(s, "name") == Some(stream))
    else {
        return Ok(None);
    };
    let n = |x: Option<&str>| x.and_then(|v| v.parse::<u64>().ok());
    let video = tag(s, "video");
    let clients = blocks(s, "client");
    let publishers = clients
        .iter()
        .filter(|c| c.contains("<publishing/>"))
        .count();
    Ok(Some(Snapshot {
        video_codec: video.and_then(|v| tag(v, "codec")).map(str::to_owned),
        width: n(video.and_then(|v| tag(v, "width"))),
        height: n(video.and_then(|v| tag(v, "height"))),
        bytes_in: n(tag(s, "bytes_in")),
        bytes_out: n(tag(s, "bytes_out")),
        frames: None,
        readers: Some((clients.len() - publishers) as u64),
        publishing: Some(s.contains("<publishing/>")),
    }))
}

/// SRS `GET /api/v1/streams/`: `{"code":0,"streams":[{"app","name",
/// "clients","frames","recv_bytes","publish":{"active"},"video":{"codec",
/// "width","height"}}]}`; `clients` counts the publisher too.
pub fn srs_streams(body: &str, app: &str, stream: &str) -> Result<Option<Snapshot>, String> {
    let v = json(body)?;
    let streams = v
        .get("streams")
        .and_then(Value::as_array)
        .ok_or("no streams array")?;
    let Some(s) = streams.iter().find(|s| {
        text(s, "app").as_deref() == Some(app) && text(s, "name").as_deref() == Some(stream)
    }) else {
        return Ok(None);
    };
    let publishing = s.pointer("/publish/active").and_then(Value::as_bool);
    let video = s.get("video").filter(|v| v.is_object());
    Ok(Some(Snapshot {
        video_codec: video.and_then(|v| text(v, "codec")),
        width: video.and_then(|v| num(v, "width")),
        height: video.and_then(|v| num(v, "height")),
        bytes_in: num(s, "recv_bytes"),
        bytes_out: num(s, "send_bytes"),
        frames: num(s, "frames"),
        readers: num(s, "clients").map(|c| c.saturating_sub(u64::from(publishing == Some(true)))),
        publishing,
    }))
}

/// ZLMediaKit `getMediaList`: `{"code":0,"data":[{"app","stream",
/// "readerCount","totalBytes"?,"tracks":[{"codec_type":0,"codec_id_name",
/// "width","height","frames"}]}]}`; `data` is absent when nothing matches.
pub fn zlm_media(body: &str, app: &str, stream: &str) -> Result<Option<Snapshot>, String> {
    let v = json(body)?;
    // Errors are negative codes (-100 wrong secret, ...).
    if v.get("code").and_then(Value::as_i64) != Some(0) {
        return Err(format!("code {:?}: {:?}", v.get("code"), text(&v, "msg")));
    }
    let Some(m) = v.get("data").and_then(Value::as_array).and_then(|d| {
        d.iter().find(|m| {
            text(m, "app").as_deref() == Some(app) && text(m, "stream").as_deref() == Some(stream)
        })
    }) else {
        return Ok(None);
    };
    let video = m
        .get("tracks")
        .and_then(Value::as_array)
        .and_then(|t| t.iter().find(|t| num(t, "codec_type") == Some(0)));
    Ok(Some(Snapshot {
        video_codec: video.and_then(|t| text(t, "codec_id_name")),
        width: video.and_then(|t| num(t, "width")),
        height: video.and_then(|t| num(t, "height")),
        bytes_in: num(m, "totalBytes"),
        bytes_out: None,
        frames: video.and_then(|t| num(t, "frames")),
        readers: num(m, "readerCount"),
        publishing: Some(true),
    }))
}

/// MediaMTX `GET /v3/paths/list`: `{"items":[{"name":"live/x","ready",
/// "tracks":["H264"],"bytesReceived","readers":[..]}]}`. It reports no
/// picture size.
pub fn mediamtx_paths(body: &str, app: &str, stream: &str) -> Result<Option<Snapshot>, String> {
    let v = json(body)?;
    let items = v
        .get("items")
        .and_then(Value::as_array)
        .ok_or("no items array")?;
    let name = format!("{app}/{stream}");
    let Some(p) = items
        .iter()
        .find(|p| text(p, "name").as_deref() == Some(&name))
    else {
        return Ok(None);
    };
    Ok(Some(Snapshot {
        video_codec: p
            .get("tracks")
            .and_then(Value::as_array)
            .and_then(|t| t.iter().filter_map(Value::as_str).next())
            .map(str::to_owned),
        width: None,
        height: None,
        bytes_in: num(p, "bytesReceived"),
        bytes_out: num(p, "bytesSent"),
        frames: None,
        readers: p
            .get("readers")
            .and_then(Value::as_array)
            .map(|r| r.len() as u64),
        publishing: p.get("ready").and_then(Value::as_bool),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_nginx_stat() {
        let xml = "<rtmp><server><application><name>live</name><live>\
            <stream><name>s1</name><bytes_in>12345</bytes_in><bytes_out>999</bytes_out>\
            <meta><video><width>640</width><height>360</height><frame_rate>30</frame_rate>\
            <codec>H264</codec></video></meta><nclients>2</nclients>\
            <client><id>1</id><publishing/><active/></client>\
            <client><id>2</id><active/></client><publishing/><active/></stream>\
            </live></application></server></rtmp>";
        let s = nginx_stat(xml, "live", "s1").unwrap().unwrap();
        assert_eq!(s.video_codec.as_deref(), Some("H264"));
        assert_eq!(
            (s.width, s.height, s.bytes_in),
            (Some(640), Some(360), Some(12345))
        );
        assert_eq!((s.readers, s.publishing), (Some(1), Some(true)));
        assert_eq!(s.bytes_out, Some(999));
        assert_eq!(nginx_stat(xml, "live", "other").unwrap(), None);
        assert!(nginx_stat("<html/>", "live", "s1").is_err());
    }

    #[test]
    fn reads_srs_zlm_and_mediamtx() {
        let srs = r#"{"code":0,"streams":[{"app":"live","name":"s","clients":2,"frames":300,
            "recv_bytes":999,"publish":{"active":true},"video":{"codec":"H265","width":640,"height":360}}]}"#;
        let s = srs_streams(srs, "live", "s").unwrap().unwrap();
        assert_eq!(
            (s.readers, s.frames, s.width),
            (Some(1), Some(300), Some(640))
        );
        assert_eq!(s.video_codec.as_deref(), Some("H265"));
        let zlm = r#"{"code":0,"data":[{"app":"live","stream":"s","readerCount":1,
            "tracks":[{"codec_type":0,"codec_id_name":"H264","width":640,"height":360,"frames":42}]}]}"#;
        let z = zlm_media(zlm, "live", "s").unwrap().unwrap();
        assert_eq!((z.frames, z.readers), (Some(42), Some(1)));
        assert_eq!(zlm_media(r#"{"code":0}"#, "live", "s").unwrap(), None);
        assert!(zlm_media(r#"{"code":-100,"msg":"secret"}"#, "live", "s").is_err());
        let mtx = r#"{"items":[{"name":"live/s","ready":true,"tracks":["H265"],
            "bytesReceived":77,"readers":[{"type":"rtmpConn"}]}]}"#;
        let m = mediamtx_paths(mtx, "live", "s").unwrap().unwrap();
        assert_eq!((m.bytes_in, m.readers), (Some(77), Some(1)));
        assert_eq!(m.video_codec.as_deref(), Some("H265"));
    }
}
