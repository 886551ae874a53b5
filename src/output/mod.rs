//! Output drivers: the only code that owns sockets and output files.
//! Each output receives every access unit and must never block the encoder.

pub mod rtp_udp;
pub mod sdp_file;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use crate::config::Config;
use crate::encode::AccessUnit;
use crate::pipeline::Stats;

#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("cannot open a UDP socket towards {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("invalid output configuration: {reason}")]
    Config { reason: String },
    #[error("cannot write the SDP file {path}: {source}")]
    Sdp {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Every enabled output.
pub struct Outputs {
    rtp: Option<rtp_udp::RtpUdpOutput>,
}

impl Outputs {
    pub fn open(config: &Config, stats: Arc<Stats>) -> Result<Self, OutputError> {
        let rtp = match &config.rtp {
            Some(cfg) => Some(rtp_udp::RtpUdpOutput::open(
                cfg,
                config.encoder.codec,
                stats,
            )?),
            None => {
                tracing::warn!("no output enabled: frames are encoded and discarded");
                None
            }
        };
        Ok(Self { rtp })
    }

    pub fn publish(&mut self, au: &AccessUnit) {
        if let Some(rtp) = &mut self.rtp {
            rtp.publish(au);
        }
    }

    pub fn finish(&mut self) {
        if let Some(rtp) = &mut self.rtp {
            rtp.finish();
        }
    }
}
