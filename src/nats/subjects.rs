//! NATS subjects of one source (contract §4) and of the streamer itself.

/// Every subject the streamer uses for one source key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subjects {
    key: String,
}

/// The micro service name (`$SRV.PING.cvmmap_streamer`).
pub const SERVICE_NAME: &str = "cvmmap_streamer";

impl Subjects {
    /// `key`: the source's NATS key (`base_name`, `.` replaced by `_`).
    pub fn new(key: &str) -> Self {
        Self {
            key: key.replace('.', "_"),
        }
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    /// The producer's ModuleStatusEvent stream.
    pub fn producer_status(&self) -> String {
        format!("cvmmap.{}.status", self.key)
    }

    /// The producer's body-tracking v1 messages.
    pub fn body(&self) -> String {
        format!("cvmmap.{}.body", self.key)
    }

    /// `source.info` request subjects, newest first (older producers answer
    /// on `control.*`).
    pub fn source_info(&self) -> [String; 2] {
        [
            format!("cvmmap.{}.producer.source.info", self.key),
            format!("cvmmap.{}.control.source.info", self.key),
        ]
    }

    /// Our periodic JSON status.
    pub fn streamer_status(&self) -> String {
        format!("{SERVICE_NAME}.{}.status", self.key)
    }

    /// Prefix of our service endpoints (`<prefix>.stats`, `<prefix>.keyframe`).
    pub fn service_group(&self) -> String {
        format!("{SERVICE_NAME}.{}", self.key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contract_example() {
        let s = Subjects::new("zed_camera0");
        assert_eq!(s.producer_status(), "cvmmap.zed_camera0.status");
        assert_eq!(s.body(), "cvmmap.zed_camera0.body");
        assert_eq!(
            s.source_info(),
            [
                "cvmmap.zed_camera0.producer.source.info",
                "cvmmap.zed_camera0.control.source.info"
            ]
        );
        assert_eq!(s.streamer_status(), "cvmmap_streamer.zed_camera0.status");
        assert_eq!(Subjects::new("a.b").key(), "a_b");
    }
}
