//! Naming one source (contract section 1).
//!
//! A target is `cvmmap://<instance>[@<prefix>][?namespace=<ns>]` or a bare
//! `<instance>`; prefix defaults to `/tmp` and namespace to `cvmmap`. From it:
//!
//! - `base_name = <ns>_<instance>`;
//! - shared memory: POSIX shm name `base_name` (`/dev/shm/<base_name>`);
//! - ZeroMQ sync: `ipc://<prefix>/<base_name>` (path at most 107 bytes);
//! - NATS key: `base_name` with `.` replaced by `_`.
//!
//! Validation follows the upstream resolver: instance
//! `[A-Za-z0-9][A-Za-z0-9._-]{0,22}` (fits the 24-byte NUL-terminated sync label),
//! namespace the same pattern up to 32 bytes, an absolute prefix without empty,
//! `.` or `..` segments (one trailing `/` is dropped), and `namespace` as the only
//! query key.

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

use super::LABEL_SIZE;

/// URI scheme of a target.
pub const SCHEME: &str = "cvmmap://";
/// Prefix (directory of the ipc socket) when the target names none.
pub const DEFAULT_PREFIX: &str = "/tmp";
/// Namespace when the target names none.
pub const DEFAULT_NAMESPACE: &str = "cvmmap";
/// Longest instance name: the sync label minus its NUL.
pub const MAX_INSTANCE_LEN: usize = LABEL_SIZE - 1;
/// Longest namespace.
pub const MAX_NAMESPACE_LEN: usize = 32;
/// Longest ipc socket path (`sun_path` is 108 bytes with its NUL).
pub const MAX_IPC_PATH_LEN: usize = 107;

/// A validated source name. Build it with [`str::parse`] / [`Target::new`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    instance: String,
    prefix: String,
    namespace: String,
}

/// Why a target string was rejected; each variant carries the offending text.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TargetError {
    /// The target string is empty.
    #[error("cvmmap target is empty")]
    Empty,
    /// The instance does not match `[A-Za-z0-9][A-Za-z0-9._-]{0,22}`.
    #[error("invalid cvmmap instance {instance:?}: expected [A-Za-z0-9][A-Za-z0-9._-]{{0,22}}")]
    BadInstance {
        /// The instance text.
        instance: String,
    },
    /// The namespace does not match `[A-Za-z0-9][A-Za-z0-9._-]{0,31}`.
    #[error("invalid cvmmap namespace {namespace:?}: expected [A-Za-z0-9][A-Za-z0-9._-]{{0,31}}")]
    BadNamespace {
        /// The namespace text.
        namespace: String,
    },
    /// The prefix is not a clean absolute path.
    #[error("invalid cvmmap prefix {prefix:?}: {reason}")]
    BadPrefix {
        /// The prefix text.
        prefix: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The query string is malformed (empty, a part without `=`, an empty value,
    /// a repeated key).
    #[error("invalid cvmmap query {query:?}: {reason}")]
    BadQuery {
        /// The query text (after `?`).
        query: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A query key other than `namespace`.
    #[error("unsupported cvmmap query key {key:?} (only \"namespace\" is known)")]
    UnknownQueryKey {
        /// The key.
        key: String,
    },
    /// More than one `@` in the authority.
    #[error("invalid cvmmap target {target:?}: at most one '@' allowed")]
    MultipleAt {
        /// The whole target text.
        target: String,
    },
    /// `<prefix>/<base_name>` is longer than 107 bytes.
    #[error("cvmmap ipc path {path:?} is {} bytes, at most 107 allowed", path.len())]
    IpcPathTooLong {
        /// The socket path.
        path: String,
    },
}

impl Target {
    /// Builds a target from its parts, with the same checks as parsing.
    pub fn new(instance: &str, prefix: &str, namespace: &str) -> Result<Self, TargetError> {
        if !is_token(instance, MAX_INSTANCE_LEN) {
            return Err(TargetError::BadInstance {
                instance: instance.to_owned(),
            });
        }
        if !is_token(namespace, MAX_NAMESPACE_LEN) {
            return Err(TargetError::BadNamespace {
                namespace: namespace.to_owned(),
            });
        }
        let target = Self {
            instance: instance.to_owned(),
            prefix: clean_prefix(prefix)?,
            namespace: namespace.to_owned(),
        };
        let path = target.ipc_path();
        if path.len() > MAX_IPC_PATH_LEN {
            return Err(TargetError::IpcPathTooLong { path });
        }
        Ok(target)
    }

    /// Parses `cvmmap://<instance>[@<prefix>][?namespace=<ns>]` or a bare instance.
    pub fn parse(text: &str) -> Result<Self, TargetError> {
        if text.is_empty() {
            return Err(TargetError::Empty);
        }
        let Some(body) = text.strip_prefix(SCHEME) else {
            return Self::new(text, DEFAULT_PREFIX, DEFAULT_NAMESPACE);
        };
        let (authority, query) = match body.split_once('?') {
            Some((authority, query)) => (authority, Some(query)),
            None => (body, None),
        };
        let (instance, prefix) = match authority.split_once('@') {
            Some((_, prefix)) if prefix.contains('@') => {
                return Err(TargetError::MultipleAt {
                    target: text.to_owned(),
                });
            }
            Some((instance, prefix)) => (instance, prefix),
            None => (authority, DEFAULT_PREFIX),
        };
        let namespace = match query {
            Some(query) => parse_query(query)?,
            None => DEFAULT_NAMESPACE,
        };
        Self::new(instance, prefix, namespace)
    }

    /// The instance name (also the sync label).
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// Directory of the ipc socket, absolute, without trailing `/` (except `/`).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The namespace.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// `<namespace>_<instance>`.
    pub fn base_name(&self) -> String {
        format!("{}_{}", self.namespace, self.instance)
    }

    /// POSIX shared-memory name: `base_name` (what `shm_open` is given).
    pub fn shm_name(&self) -> String {
        self.base_name()
    }

    /// The segment's path on Linux: `/dev/shm/<base_name>`.
    pub fn shm_path(&self) -> String {
        format!("/dev/shm/{}", self.base_name())
    }

    /// Filesystem path of the ipc socket: `<prefix>/<base_name>`.
    pub fn ipc_path(&self) -> String {
        let sep = if self.prefix.ends_with('/') { "" } else { "/" };
        format!("{}{sep}{}", self.prefix, self.base_name())
    }

    /// ZeroMQ endpoint of the sync PUB socket: `ipc://<prefix>/<base_name>`.
    pub fn zmq_endpoint(&self) -> String {
        format!("ipc://{}", self.ipc_path())
    }

    /// NATS subject key: `base_name` with `.` replaced by `_`.
    pub fn nats_key(&self) -> String {
        self.base_name().replace('.', "_")
    }
}

impl FromStr for Target {
    type Err = TargetError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

/// Writes the full URI form, which parses back to the same target.
impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{SCHEME}{}@{}?namespace={}",
            self.instance, self.prefix, self.namespace
        )
    }
}

/// `[A-Za-z0-9][A-Za-z0-9._-]{0,max-1}`.
fn is_token(text: &str, max: usize) -> bool {
    let bytes = text.as_bytes();
    match bytes.first() {
        Some(first) if first.is_ascii_alphanumeric() && bytes.len() <= max => bytes
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-')),
        _ => false,
    }
}

/// Returns the namespace named by `key=value&...` (only `namespace` is known).
fn parse_query(query: &str) -> Result<&str, TargetError> {
    let bad = |reason| TargetError::BadQuery {
        query: query.to_owned(),
        reason,
    };
    if query.is_empty() {
        return Err(bad("query string is empty"));
    }
    let mut namespace = None;
    for part in query.split('&') {
        let (key, value) = part
            .split_once('=')
            .ok_or_else(|| bad("expected key=value pairs"))?;
        if key != "namespace" {
            return Err(TargetError::UnknownQueryKey {
                key: key.to_owned(),
            });
        }
        if value.is_empty() {
            return Err(bad("namespace is empty"));
        }
        if namespace.replace(value).is_some() {
            return Err(bad("namespace given more than once"));
        }
    }
    namespace.ok_or_else(|| bad("query string is empty"))
}

/// Checks an absolute prefix and drops one trailing `/` (but keeps `/` itself).
fn clean_prefix(prefix: &str) -> Result<String, TargetError> {
    let bad = |reason| TargetError::BadPrefix {
        prefix: prefix.to_owned(),
        reason,
    };
    if !prefix.starts_with('/') {
        return Err(bad("must be an absolute path"));
    }
    if prefix.contains(['\\', '\0']) {
        return Err(bad("must not contain '\\' or NUL"));
    }
    if prefix.contains("//") {
        return Err(bad("must not contain empty path segments"));
    }
    let trimmed = match prefix.strip_suffix('/') {
        Some(rest) if !rest.is_empty() => rest,
        _ => prefix,
    };
    if trimmed
        .split('/')
        .any(|segment| segment == "." || segment == "..")
    {
        return Err(bad("must not contain '.' or '..' segments"));
    }
    Ok(trimmed.to_owned())
}

#[cfg(test)]
mod tests;
