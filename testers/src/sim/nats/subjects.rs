//! NATS key and subjects (contract `cv-mmap-ipc.md` §1 "NATS key", §4).
//!
//! The key is `base_name` with `.` replaced by `_`; `base_name` is the shm
//! name (`<ns>_<instance>` when derived from a target, the explicit
//! `--shm-name` otherwise).

/// Where the control requests are answered (§4: "Older producers use
/// `cvmmap.<key>.control.source.*` for the same requests").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ControlPrefix {
    /// `cvmmap.<key>.producer.source.*`.
    Producer,
    /// `cvmmap.<key>.control.source.*` (`--legacy-control`).
    Legacy,
}

/// §1: the NATS key of a base name.
pub fn key_from_base_name(base_name: &str) -> String {
    base_name.replace('.', "_")
}

/// Whether `key` is one NATS subject token: non-empty, no `.`, no wildcard
/// (`*`, `>`), no whitespace or control characters.
pub fn is_valid_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .chars()
            .all(|c| !matches!(c, '.' | '*' | '>') && !c.is_whitespace() && !c.is_control())
}

/// The subjects of one source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subjects {
    pub status: String,
    pub body: String,
    pub info: String,
    pub reset: String,
}

impl Subjects {
    pub fn new(key: &str, control: ControlPrefix) -> Self {
        let c = match control {
            ControlPrefix::Producer => "producer",
            ControlPrefix::Legacy => "control",
        };
        Self {
            status: format!("cvmmap.{key}.status"),
            body: format!("cvmmap.{key}.body"),
            info: format!("cvmmap.{key}.{c}.source.info"),
            reset: format!("cvmmap.{key}.{c}.source.reset"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contract_example_and_dots() {
        assert_eq!(key_from_base_name("zed_camera0"), "zed_camera0");
        assert_eq!(key_from_base_name("cvmmap_cam.1.a"), "cvmmap_cam_1_a");
    }

    #[test]
    fn subjects() {
        let s = Subjects::new("zed_camera0", ControlPrefix::Producer);
        assert_eq!(s.status, "cvmmap.zed_camera0.status");
        assert_eq!(s.body, "cvmmap.zed_camera0.body");
        assert_eq!(s.info, "cvmmap.zed_camera0.producer.source.info");
        assert_eq!(s.reset, "cvmmap.zed_camera0.producer.source.reset");
        let s = Subjects::new("k", ControlPrefix::Legacy);
        assert_eq!(
            (s.info.as_str(), s.reset.as_str()),
            (
                "cvmmap.k.control.source.info",
                "cvmmap.k.control.source.reset"
            )
        );
    }

    #[test]
    fn key_validity() {
        for ok in ["a", "zed_camera0", "ns-2_x"] {
            assert!(is_valid_key(ok), "{ok}");
        }
        for bad in ["", "a.b", "a*", ">", "a b", "a\tb"] {
            assert!(!is_valid_key(bad), "{bad:?}");
        }
    }
}
