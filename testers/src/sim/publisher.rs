//! ZeroMQ PUB socket for the sync messages (contract `cv-mmap-ipc.md` §3).
//!
//! For `ipc://` endpoints a stale socket file makes `bind` fail, so it is
//! removed first (and the parent directory created); the file is removed again
//! when the publisher is dropped.

use std::path::PathBuf;
use std::{fs, io};

/// How long closing waits to flush the last sync messages to connected SUBs.
const LINGER_MS: i32 = 500;

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("zmq: {0}")]
    Zmq(#[from] zmq::Error),
    #[error("ipc path {path}: {source}")]
    Ipc { path: PathBuf, source: io::Error },
}

/// A bound PUB socket.
pub struct SyncPublisher {
    socket: Option<zmq::Socket>,
    context: Option<zmq::Context>,
    ipc_path: Option<PathBuf>,
}

fn prepare_ipc_path(path: &PathBuf) -> Result<(), PublishError> {
    let ipc_err = |source| PublishError::Ipc {
        path: path.clone(),
        source,
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(ipc_err)?;
    }
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => Err(ipc_err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "is a directory",
        ))),
        Ok(_) => fs::remove_file(path).map_err(ipc_err),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(ipc_err(e)),
    }
}

impl SyncPublisher {
    /// Binds a PUB socket on `endpoint`.
    pub fn bind(endpoint: &str) -> Result<Self, PublishError> {
        let ipc_path = endpoint.strip_prefix("ipc://").map(PathBuf::from);
        if let Some(path) = &ipc_path {
            prepare_ipc_path(path)?;
        }
        let context = zmq::Context::new();
        let socket = context.socket(zmq::PUB)?;
        socket.set_linger(LINGER_MS)?;
        socket.bind(endpoint)?;
        Ok(Self {
            socket: Some(socket),
            context: Some(context),
            ipc_path,
        })
    }

    /// Publishes one message; PUB never blocks (slow subscribers lose messages).
    pub fn send(&self, msg: &[u8]) -> Result<(), PublishError> {
        if let Some(s) = &self.socket {
            s.send(msg, zmq::DONTWAIT)?;
        }
        Ok(())
    }
}

impl Drop for SyncPublisher {
    fn drop(&mut self) {
        // Close the socket and terminate the context (flushes up to LINGER_MS)
        // before removing the ipc file, so the file is not recreated behind us.
        drop(self.socket.take());
        drop(self.context.take());
        if let Some(path) = &self.ipc_path {
            match fs::remove_file(path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => tracing::warn!("could not remove {}: {e}", path.display()),
            }
        }
    }
}
