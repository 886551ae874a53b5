//! `rtmp://host[:port]/app[/more/app]/stream[?query]` URLs, split the way
//! FFmpeg and OBS do: the last path segment is the stream name (with any
//! query), everything between host and it is the application, and the
//! `tcUrl` sent in `connect` (RTMP spec 1.0 §7.2.1.1) is
//! `rtmp://host:port/app`.
//!
//! `rtmps://` is the same over TLS (port 443 by default, as FFmpeg and the
//! CDNs use); the URL only records that TLS is wanted, and the `tcUrl`
//! keeps the scheme (`rtmps://host:port/app`), as FFmpeg and OBS send it.
//!
//! The stream name is usually a secret (the publish key of a CDN): nothing
//! this module prints shows it. `Display` and every [`UrlError`] carry the
//! URL with the stream name replaced by `***`; only [`RtmpUrl::stream`] (sent
//! in `publish`) holds it.

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

/// Port used when an `rtmp://` URL has none.
pub const DEFAULT_PORT: u16 = 1935;
/// Port used when an `rtmps://` URL has none.
pub const DEFAULT_TLS_PORT: u16 = 443;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum UrlError {
    #[error("{0:?}: only rtmp:// and rtmps:// URLs are supported")]
    UnsupportedScheme(String),
    #[error("{0:?}: missing host")]
    MissingHost(String),
    #[error("{0:?}: invalid host (brackets only around an IPv6 address)")]
    InvalidHost(String),
    #[error("{url:?}: invalid port {port:?}")]
    InvalidPort { url: String, port: String },
    #[error("{0:?}: missing application name")]
    MissingApp(String),
    #[error("{0:?}: missing stream name")]
    MissingStream(String),
}

#[derive(Clone, PartialEq, Eq)]
pub struct RtmpUrl {
    /// Host name or IP address (IPv6 without brackets).
    pub host: String,
    pub port: u16,
    /// Application, possibly with slashes (`live` or `live/sub`).
    pub app: String,
    /// Stream name (publish key), including any `?query`.
    pub stream: String,
    /// `rtmps://`: the session runs over TLS, never in the clear.
    pub tls: bool,
}

/// The scheme prefix (case-insensitive) and whether it asks for TLS.
fn split_scheme(url: &str) -> Option<(bool, &str)> {
    [("rtmps://", true), ("rtmp://", false)]
        .into_iter()
        .find_map(|(scheme, tls)| {
            url.get(..scheme.len())
                .filter(|s| s.eq_ignore_ascii_case(scheme))
                .map(|_| (tls, &url[scheme.len()..]))
        })
}

impl RtmpUrl {
    pub fn parse(url: &str) -> Result<Self, UrlError> {
        let (tls, rest) =
            split_scheme(url).ok_or_else(|| UrlError::UnsupportedScheme(redact(url)))?;
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));

        // host, [v6]:port or host:port
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6
                .split_once(']')
                .ok_or_else(|| UrlError::MissingHost(redact(url)))?;
            let port = match after {
                "" => None,
                p => Some(p.strip_prefix(':').ok_or_else(|| UrlError::InvalidPort {
                    url: redact(url),
                    port: p.to_owned(),
                })?),
            };
            (host, port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(UrlError::MissingHost(redact(url)));
        }
        // RFC 3986 §3.2.2: `[` `]` only delimit an IP literal. A host such
        // as `x[::1]` would give a tcUrl that does not parse back.
        if host.contains(['[', ']']) {
            return Err(UrlError::InvalidHost(redact(url)));
        }
        let port =
            match port {
                None if tls => DEFAULT_TLS_PORT,
                None => DEFAULT_PORT,
                Some(p) => p.parse::<u16>().ok().filter(|&p| p != 0).ok_or_else(|| {
                    UrlError::InvalidPort {
                        url: redact(url),
                        port: p.to_owned(),
                    }
                })?,
            };

        // The stream is the last segment before any query.
        let query_at = path.find('?').unwrap_or(path.len());
        let Some(slash) = path[..query_at].rfind('/') else {
            return Err(if path[..query_at].is_empty() {
                UrlError::MissingApp(redact(url))
            } else {
                UrlError::MissingStream(redact(url))
            });
        };
        let app = path[..slash].trim_matches('/');
        let stream = &path[slash + 1..];
        if app.is_empty() {
            return Err(UrlError::MissingApp(redact(url)));
        }
        if stream.is_empty() || stream.starts_with('?') {
            return Err(UrlError::MissingStream(redact(url)));
        }
        Ok(Self {
            host: host.to_owned(),
            port,
            app: app.to_owned(),
            stream: stream.to_owned(),
            tls,
        })
    }

    /// `rtmp://host:port/app` (or `rtmps://`), the `tcUrl` of `connect`.
    pub fn tc_url(&self) -> String {
        let scheme = if self.tls { "rtmps" } else { "rtmp" };
        if self.host.contains(':') {
            format!("{scheme}://[{}]:{}/{}", self.host, self.port, self.app)
        } else {
            format!("{scheme}://{}:{}/{}", self.host, self.port, self.app)
        }
    }
}

/// `url` with its stream name (the last of at least two path segments) and
/// any query replaced by `***`; also for text that does not parse.
pub fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    // A `?` before the scheme separator is not a query (and would leave
    // `head` shorter than the scheme).
    let query_at = url[scheme_end..]
        .find('?')
        .map_or(url.len(), |i| i + scheme_end);
    let (head, query) = url.split_at(query_at);
    let Some(path_at) = head[scheme_end..].find('/').map(|i| i + scheme_end) else {
        return url.to_owned();
    };
    let path = &head[path_at + 1..];
    let last = head.rfind('/').unwrap_or(head.len());
    if !path.contains('/') || last < path_at {
        // One segment at most: an application, no stream name.
        return if query.is_empty() {
            url.to_owned()
        } else {
            format!("{head}?***")
        };
    }
    let name = &head[last + 1..];
    if name.is_empty() && query.is_empty() {
        return url.to_owned();
    }
    format!("{}***", &head[..=last])
}

impl FromStr for RtmpUrl {
    type Err = UrlError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl RtmpUrl {
    /// The whole URL, stream name included: for the wire only, never logs.
    pub fn expose(&self) -> String {
        format!("{}/{}", self.tc_url(), self.stream)
    }
}

impl fmt::Debug for RtmpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RtmpUrl")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("app", &self.app)
            .field("stream", &"***")
            .field("tls", &self.tls)
            .finish()
    }
}

/// The URL with the stream name hidden (`rtmp[s]://host:port/app/***`).
impl fmt::Display for RtmpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/***", self.tc_url())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn p(s: &str) -> RtmpUrl {
        RtmpUrl::parse(s).unwrap()
    }

    #[test]
    fn basic() {
        let u = p("rtmp://example.com/live/cam1");
        assert_eq!(
            u,
            RtmpUrl {
                host: "example.com".into(),
                port: 1935,
                app: "live".into(),
                stream: "cam1".into(),
                tls: false,
            }
        );
        assert_eq!(u.tc_url(), "rtmp://example.com:1935/live");
        assert_eq!(u.expose(), "rtmp://example.com:1935/live/cam1");
        assert_eq!(u.to_string(), "rtmp://example.com:1935/live/***");
    }

    #[test]
    fn port_nested_app_and_query() {
        let u = p("RTMP://10.0.0.2:19350/a/b/key?token=x/y&z=1");
        assert_eq!(u.host, "10.0.0.2");
        assert_eq!(u.port, 19350);
        assert_eq!(u.app, "a/b");
        assert_eq!(u.stream, "key?token=x/y&z=1");
        assert_eq!(u.tc_url(), "rtmp://10.0.0.2:19350/a/b");
    }

    #[test]
    fn ipv6() {
        let u = p("rtmp://[::1]:1936/live/s");
        assert_eq!(u.host, "::1");
        assert_eq!(u.port, 1936);
        assert_eq!(u.tc_url(), "rtmp://[::1]:1936/live");
        assert_eq!(p("rtmp://[fe80::1]/live/s").port, 1935);
    }

    #[test]
    fn errors_carry_the_text() {
        let e = |s: &str| RtmpUrl::parse(s).unwrap_err();
        assert_eq!(
            e("http://x/live/s"),
            UrlError::UnsupportedScheme("http://x/live/***".into())
        );
        assert_eq!(
            e("rtmp:///live/s"),
            UrlError::MissingHost("rtmp:///live/***".into())
        );
        assert_eq!(
            e("rtmp://h:99999/live/s"),
            UrlError::InvalidPort {
                url: "rtmp://h:99999/live/***".into(),
                port: "99999".into()
            }
        );
        assert_eq!(
            e("rtmp://h:/live/s"),
            UrlError::InvalidPort {
                url: "rtmp://h:/live/***".into(),
                port: "".into()
            }
        );
        assert_eq!(e("rtmp://h"), UrlError::MissingApp("rtmp://h".into()));
        assert_eq!(
            e("rtmp://h/live"),
            UrlError::MissingStream("rtmp://h/live".into())
        );
        assert_eq!(
            e("rtmp://h/live/"),
            UrlError::MissingStream("rtmp://h/live/".into())
        );
        assert_eq!(
            e("rtmp://h//s"),
            UrlError::MissingApp("rtmp://h//***".into())
        );
        assert!(e("rtmp://h/live").to_string().contains("rtmp://h/live"));
    }

    /// Issue 13, defect 9: the stream key was printed in logs and errors.
    #[test]
    fn the_stream_key_is_never_displayed() {
        let key = "live_8832_s3cr3tKey";
        let u = p(&format!("rtmp://a.example:1935/app/{key}?auth=tok"));
        assert!(!u.to_string().contains(key) && !u.to_string().contains("tok"));
        assert!(!format!("{u:?}").contains(key), "Debug too");
        for bad in [
            format!("http://a/app/{key}"),
            format!("rtmp://a:0/app/{key}"),
            format!("rtmp://a:x/app/{key}?auth=tok"),
            format!("rtmp:///app/{key}"),
            format!("rtmp://a//{key}"),
        ] {
            let msg = RtmpUrl::parse(&bad).unwrap_err().to_string();
            assert!(!msg.contains(key) && !msg.contains("tok"), "{msg}");
        }
        assert_eq!(redact("rtmp://h/live"), "rtmp://h/live");
        assert_eq!(redact("rtmp://h/live?k=v"), "rtmp://h/live?***");
        assert_eq!(redact("not a url"), "not a url");
    }

    /// Found by fuzzing (fuzz target rtmp_url): a `?` before `://` made
    /// `redact`, and so `RtmpUrl::parse`, slice out of bounds and panic.
    #[test]
    fn question_mark_before_the_scheme_separator() {
        assert!(matches!(
            RtmpUrl::parse("1o?///:///x"),
            Err(UrlError::UnsupportedScheme(_))
        ));
        assert_eq!(redact("a?b://h/app/key"), "a?b://h/app/***");
        assert_eq!(redact("x?://"), "x?://");
    }

    /// Found by fuzzing (fuzz target rtmp_url): `rtmp://x[::1]:1936/live/s`
    /// parsed with host `x[::1]`, whose tcUrl `rtmp://[x[::1]]:1936/live`
    /// no longer parses; brackets inside a host are now rejected.
    #[test]
    fn brackets_inside_a_host_are_rejected() {
        assert_eq!(
            RtmpUrl::parse("rtmp://x[::1]:1936/live/s"),
            Err(UrlError::InvalidHost("rtmp://x[::1]:1936/live/***".into()))
        );
        assert!(matches!(
            RtmpUrl::parse("rtmp://[a]b]/live/s"),
            Err(UrlError::InvalidPort { .. })
        ));
        let u = p("rtmp://[fe80::1]:1936/live/s");
        assert_eq!(RtmpUrl::parse(&u.expose()), Ok(u));
    }

    #[test]
    fn rtmps_is_tls_on_port_443_and_keeps_its_scheme() {
        let u = p("rtmps://live.example.com/app/s3cr3t?auth=tok");
        assert!(u.tls);
        assert_eq!(u.port, DEFAULT_TLS_PORT);
        assert_eq!(u.tc_url(), "rtmps://live.example.com:443/app");
        assert_eq!(
            u.expose(),
            "rtmps://live.example.com:443/app/s3cr3t?auth=tok"
        );
        assert_eq!(u.to_string(), "rtmps://live.example.com:443/app/***");
        assert!(!format!("{u:?}").contains("s3cr3t"));
        assert_eq!(RtmpUrl::parse(&u.expose()), Ok(u));

        let v6 = p("RTMPS://[::1]:8443/live/s");
        assert!(v6.tls && v6.port == 8443);
        assert_eq!(v6.tc_url(), "rtmps://[::1]:8443/live");
        // Plain RTMP is unchanged.
        let plain = p("rtmp://h/live/s");
        assert!(!plain.tls && plain.port == DEFAULT_PORT);
        assert_eq!(
            RtmpUrl::parse("rtmpt://h/live/key"),
            Err(UrlError::UnsupportedScheme("rtmpt://h/live/***".into()))
        );
        assert_eq!(
            RtmpUrl::parse("rtmps:///live/key"),
            Err(UrlError::MissingHost("rtmps:///live/***".into()))
        );
    }

    proptest! {
        #[test]
        fn prop_never_panics(s in "\\PC{0,40}") {
            let _ = RtmpUrl::parse(&s);
            let _ = RtmpUrl::parse(&format!("rtmp://{s}"));
        }

        #[test]
        fn prop_round_trip(
            host in "[a-z][a-z0-9.-]{0,12}",
            port in 1u16..,
            app in "[a-z]{1,6}(/[a-z]{1,6}){0,2}",
            stream in "[A-Za-z0-9_-]{1,10}(\\?[a-z=&/]{0,10})?",
            tls in any::<bool>(),
        ) {
            let scheme = if tls { "rtmps" } else { "rtmp" };
            let u = p(&format!("{scheme}://{host}:{port}/{app}/{stream}"));
            prop_assert_eq!(u.tls, tls);
            prop_assert_eq!(&u.host, &host);
            prop_assert_eq!(u.port, port);
            prop_assert_eq!(&u.app, &app);
            prop_assert_eq!(&u.stream, &stream);
            prop_assert_eq!(p(&u.expose()), u);
            let _ = redact(&format!("rtmp://{host}:{port}/{app}/{stream}"));
        }
    }
}
