//! `rtmp://host[:port]/app[/more/app]/stream[?query]` URLs, split the way
//! FFmpeg and OBS do: the last path segment is the stream name (with any
//! query), everything between host and it is the application, and the
//! `tcUrl` sent in `connect` (RTMP spec 1.0 §7.2.1.1) is
//! `rtmp://host:port/app`.

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

/// Port used when the URL has none.
pub const DEFAULT_PORT: u16 = 1935;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum UrlError {
    #[error("{0:?}: only rtmp:// URLs are supported")]
    UnsupportedScheme(String),
    #[error("{0:?}: missing host")]
    MissingHost(String),
    #[error("{url:?}: invalid port {port:?}")]
    InvalidPort { url: String, port: String },
    #[error("{0:?}: missing application name")]
    MissingApp(String),
    #[error("{0:?}: missing stream name")]
    MissingStream(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtmpUrl {
    /// Host name or IP address (IPv6 without brackets).
    pub host: String,
    pub port: u16,
    /// Application, possibly with slashes (`live` or `live/sub`).
    pub app: String,
    /// Stream name (publish key), including any `?query`.
    pub stream: String,
}

impl RtmpUrl {
    pub fn parse(url: &str) -> Result<Self, UrlError> {
        let rest = url
            .get(..7)
            .filter(|s| s.eq_ignore_ascii_case("rtmp://"))
            .map(|_| &url[7..])
            .ok_or_else(|| UrlError::UnsupportedScheme(url.to_owned()))?;
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));

        // host, [v6]:port or host:port
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6
                .split_once(']')
                .ok_or_else(|| UrlError::MissingHost(url.to_owned()))?;
            let port = match after {
                "" => None,
                p => Some(p.strip_prefix(':').ok_or_else(|| UrlError::InvalidPort {
                    url: url.to_owned(),
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
            return Err(UrlError::MissingHost(url.to_owned()));
        }
        let port =
            match port {
                None => DEFAULT_PORT,
                Some(p) => p.parse::<u16>().ok().filter(|&p| p != 0).ok_or_else(|| {
                    UrlError::InvalidPort {
                        url: url.to_owned(),
                        port: p.to_owned(),
                    }
                })?,
            };

        // The stream is the last segment before any query.
        let query_at = path.find('?').unwrap_or(path.len());
        let Some(slash) = path[..query_at].rfind('/') else {
            return Err(if path[..query_at].is_empty() {
                UrlError::MissingApp(url.to_owned())
            } else {
                UrlError::MissingStream(url.to_owned())
            });
        };
        let app = path[..slash].trim_matches('/');
        let stream = &path[slash + 1..];
        if app.is_empty() {
            return Err(UrlError::MissingApp(url.to_owned()));
        }
        if stream.is_empty() || stream.starts_with('?') {
            return Err(UrlError::MissingStream(url.to_owned()));
        }
        Ok(Self {
            host: host.to_owned(),
            port,
            app: app.to_owned(),
            stream: stream.to_owned(),
        })
    }

    /// `rtmp://host:port/app`, the `tcUrl` of `connect`.
    pub fn tc_url(&self) -> String {
        if self.host.contains(':') {
            format!("rtmp://[{}]:{}/{}", self.host, self.port, self.app)
        } else {
            format!("rtmp://{}:{}/{}", self.host, self.port, self.app)
        }
    }
}

impl FromStr for RtmpUrl {
    type Err = UrlError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for RtmpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.tc_url(), self.stream)
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
                stream: "cam1".into()
            }
        );
        assert_eq!(u.tc_url(), "rtmp://example.com:1935/live");
        assert_eq!(u.to_string(), "rtmp://example.com:1935/live/cam1");
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
            UrlError::UnsupportedScheme("http://x/live/s".into())
        );
        assert_eq!(
            e("rtmp:///live/s"),
            UrlError::MissingHost("rtmp:///live/s".into())
        );
        assert_eq!(
            e("rtmp://h:99999/live/s"),
            UrlError::InvalidPort {
                url: "rtmp://h:99999/live/s".into(),
                port: "99999".into()
            }
        );
        assert_eq!(
            e("rtmp://h:/live/s"),
            UrlError::InvalidPort {
                url: "rtmp://h:/live/s".into(),
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
        assert_eq!(e("rtmp://h//s"), UrlError::MissingApp("rtmp://h//s".into()));
        assert!(e("rtmp://h/live").to_string().contains("rtmp://h/live"));
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
        ) {
            let u = p(&format!("rtmp://{host}:{port}/{app}/{stream}"));
            prop_assert_eq!(&u.host, &host);
            prop_assert_eq!(u.port, port);
            prop_assert_eq!(&u.app, &app);
            prop_assert_eq!(&u.stream, &stream);
            prop_assert_eq!(p(&u.to_string()), u);
        }
    }
}
