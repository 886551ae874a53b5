//! Writes the SDP file atomically (temporary file + rename), so a reader
//! never sees a half-written description.

use std::io::Write;
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
        tmp.push(format!(".tmp-{}", std::process::id()));
        let tmp = PathBuf::from(tmp);
        let mut f = std::fs::File::create(&tmp).map_err(err)?;
        f.write_all(text.as_bytes()).map_err(err)?;
        f.sync_data().map_err(err)?;
        std::fs::rename(&tmp, &self.path).map_err(err)?;
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
}
