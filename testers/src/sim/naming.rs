//! Source naming (contract `cv-mmap-ipc.md` §1 "Naming one source").
//!
//! `cvmmap://<instance>[@<prefix>][?namespace=<ns>]` or a bare `<instance>`;
//! defaults prefix `/tmp`, namespace `cvmmap`; `base_name = <ns>_<instance>`,
//! shared memory `/dev/shm/<base_name>`, sync `ipc://<prefix>/<base_name>`.

use std::fmt;

/// Default ipc directory (§1).
pub const DEFAULT_PREFIX: &str = "/tmp";
/// Default namespace (§1).
pub const DEFAULT_NAMESPACE: &str = "cvmmap";
/// Longest ipc path (§1: "path at most 107 bytes", the `sun_path` limit).
pub const MAX_IPC_PATH: usize = 107;

const SCHEME: &str = "cvmmap://";

/// Names derived from one target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceNames {
    /// The instance; also the label of every sync message.
    pub instance: String,
    /// POSIX shm name (without the leading `/`).
    pub shm_name: String,
    /// ZeroMQ endpoint, `ipc://...`.
    pub endpoint: String,
}

/// Why a target string was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetError(pub String);

impl fmt::Display for TargetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `[A-Za-z0-9][A-Za-z0-9._-]{0,max-1}` (§1 instance / namespace pattern).
pub fn is_valid_name(s: &str, max: usize) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= max
        && b[0].is_ascii_alphanumeric()
        && b[1..]
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
}

/// Parses a target (§1) into the shm name, endpoint and instance label.
pub fn parse_target(target: &str) -> Result<SourceNames, TargetError> {
    let err = |m: String| Err(TargetError(m));
    let (instance, prefix, namespace) = match target.strip_prefix(SCHEME) {
        None => (target, DEFAULT_PREFIX, DEFAULT_NAMESPACE.to_string()),
        Some(rest) => {
            let (main, query) = match rest.split_once('?') {
                Some((m, q)) => (m, Some(q)),
                None => (rest, None),
            };
            let namespace = match query {
                None => DEFAULT_NAMESPACE.to_string(),
                Some(q) => match q.strip_prefix("namespace=") {
                    Some(ns) if !ns.contains('&') => ns.to_string(),
                    _ => return err(format!("unsupported query `{q}` (only namespace=<ns>)")),
                },
            };
            let (instance, prefix) = match main.split_once('@') {
                Some((i, p)) => (i, p),
                None => (main, DEFAULT_PREFIX),
            };
            (instance, prefix, namespace)
        }
    };
    if !is_valid_name(instance, 23) {
        return err(format!(
            "instance `{instance}` must match [A-Za-z0-9][A-Za-z0-9._-]{{0,22}}"
        ));
    }
    if !is_valid_name(&namespace, 32) {
        return err(format!(
            "namespace `{namespace}` must match [A-Za-z0-9][A-Za-z0-9._-]{{0,31}}"
        ));
    }
    if !prefix.starts_with('/') {
        return err(format!("prefix `{prefix}` must be an absolute directory"));
    }
    let base_name = format!("{namespace}_{instance}");
    let dir = prefix.trim_end_matches('/');
    let path = format!("{dir}/{base_name}");
    if path.len() > MAX_IPC_PATH {
        return err(format!(
            "ipc path `{path}` is {} bytes, at most {MAX_IPC_PATH}",
            path.len()
        ));
    }
    Ok(SourceNames {
        instance: instance.to_string(),
        shm_name: base_name,
        endpoint: format!("ipc://{path}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(t: &str) -> (String, String, String) {
        let n = parse_target(t).unwrap();
        (n.instance, n.shm_name, n.endpoint)
    }

    #[test]
    fn contract_example() {
        assert_eq!(
            names("cvmmap://camera0@/run/cvmmap?namespace=zed"),
            (
                "camera0".into(),
                "zed_camera0".into(),
                "ipc:///run/cvmmap/zed_camera0".into()
            )
        );
    }

    #[test]
    fn bare_and_defaults() {
        let expected = (
            "cam.1".into(),
            "cvmmap_cam.1".into(),
            "ipc:///tmp/cvmmap_cam.1".into(),
        );
        assert_eq!(names("cam.1"), expected);
        assert_eq!(names("cvmmap://cam.1"), expected);
        assert_eq!(names("cvmmap://cam.1@/tmp/"), expected);
        assert_eq!(
            names("cvmmap://a?namespace=ns-2"),
            ("a".into(), "ns-2_a".into(), "ipc:///tmp/ns-2_a".into())
        );
        assert_eq!(names("cvmmap://a@/").2, "ipc:///cvmmap_a");
    }

    #[test]
    fn rejects_bad_names() {
        for t in [
            "",
            "_x",
            "a/b",
            "cvmmap://",
            "cvmmap://a@rel/dir",
            "cvmmap://a?ns=x",
            "cvmmap://a?namespace=",
            "cvmmap://a?namespace=x&y=1",
            "abcdefghijklmnopqrstuvwx", // 24 bytes > 23
        ] {
            assert!(parse_target(t).is_err(), "{t:?} accepted");
        }
        assert!(parse_target("abcdefghijklmnopqrstuvw").is_ok()); // 23 bytes
    }

    #[test]
    fn rejects_long_ipc_path() {
        let prefix = format!("/{}", "d".repeat(100));
        assert!(parse_target(&format!("cvmmap://cam@{prefix}")).is_err());
    }
}
