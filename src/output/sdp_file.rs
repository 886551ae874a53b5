//! Writes the SDP file atomically (temporary file + rename), so a reader
//! never sees a half-written description.
//!
//! The temporary file sits beside the target (often in a shared directory
//! such as /tmp), so its name is unpredictable (a random suffix) and it is
//! created with O_EXCL: a planted file or symlink of that name makes the
//! write fail instead of being followed.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::OutputError;

pub struct SdpFile {
    path: PathBuf,
    last: Option<String>,
}

impl SdpFile {
    pub fn new(path: PathBuf) -> Self {
        Self { path, last: None }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `text` unless it equals what was written last. Returns whether
    /// the file changed.
    pub fn write(&mut self, text: &str) -> Result<bool, OutputError> {
        if self.last.as_deref() == Some(text) {
            return Ok(false);
        }
        let err = |source| OutputError::Sdp {
            path: self.path.clone(),
            source,
        };
        let mut tmp = self.path.clone().into_os_string();
        tmp.push(format!(".tmp-{:016x}", rand::random::<u64>()));
        let tmp = PathBuf::from(tmp);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&tmp)
            .map_err(err)?;
        let written = f
            .write_all(text.as_bytes())
            .and_then(|()| f.sync_data())
            .and_then(|()| std::fs::rename(&tmp, &self.path));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(err(e));
        }
        self.last = Some(text.to_owned());
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_atomically_and_only_on_change() {
        let dir = std::env::temp_dir().join(format!("sdp_file_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut f = SdpFile::new(dir.join("a.sdp"));
        assert!(f.write("v=0\r\n").unwrap());
        assert!(!f.write("v=0\r\n").unwrap());
        assert!(f.write("v=1\r\n").unwrap());
        assert_eq!(
            std::fs::read_to_string(dir.join("a.sdp")).unwrap(),
            "v=1\r\n"
        );
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            1,
            "no temporary file left"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// Issue 13, defect 9: the temporary name was `<path>.tmp-<pid>`, so
    /// anyone able to write the directory could plant a symlink there and
    /// have the streamer overwrite the file it points to.
    #[test]
    fn a_planted_symlink_at_the_old_temporary_name_is_not_followed() {
        let dir = std::env::temp_dir().join(format!("sdp_sym_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let victim = dir.join("victim");
        std::fs::write(&victim, "precious").unwrap();
        let target = dir.join("s.sdp");
        let planted = dir.join(format!("s.sdp.tmp-{}", std::process::id()));
        std::os::unix::fs::symlink(&victim, &planted).unwrap();
        let mut f = SdpFile::new(target.clone());
        assert!(f.write("v=0\r\n").unwrap());
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "v=0\r\n");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
