//! Output drivers: the only code that owns sockets and output files.
//! Each output receives every access unit and must never block the encoder.

pub mod rtmp;
pub mod rtp_udp;
pub mod sdp_file;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use crate::config::Config;
use crate::encode::AccessUnit;
use crate::pipeline::{KeyframeRequests, Stats};

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
    #[error("RTMP server refused {step}: {code} {description}")]
    RtmpRejected {
        step: &'static str,
        code: String,
        description: String,
    },
}

/// Every enabled output.
pub struct Outputs {
    rtp: Option<rtp_udp::RtpUdpOutput>,
    rtmp: Option<rtmp::RtmpPublisher>,
    /// An output that cannot go on (e.g. the RTMP server refused the stream)
    /// leaves its error here and stops the pipeline.
    fatal: Arc<Mutex<Option<OutputError>>>,
}

impl Outputs {
    pub fn open(
        config: &Config,
        stats: Arc<Stats>,
        keyframes: KeyframeRequests,
        stop: Arc<AtomicBool>,
    ) -> Result<Self, OutputError> {
        let fatal = Arc::new(Mutex::new(None));
        let rtp = match &config.rtp {
            Some(cfg) => Some(rtp_udp::RtpUdpOutput::open(
                cfg,
                config.encoder.codec,
                stats.clone(),
            )?),
            None => None,
        };
        let rtmp = config
            .rtmp
            .as_ref()
            .map(|cfg| rtmp::RtmpPublisher::start(cfg, stats, keyframes, stop, fatal.clone()));
        if rtp.is_none() && rtmp.is_none() {
            tracing::warn!("no output enabled: frames are encoded and discarded");
        }
        Ok(Self { rtp, rtmp, fatal })
    }

    pub fn publish(&mut self, au: &AccessUnit) {
        if let Some(rtp) = &mut self.rtp {
            rtp.publish(au);
        }
        if let Some(rtmp) = &mut self.rtmp {
            rtmp.publish(au);
        }
    }

    /// Ends every output (RTCP BYE; RTMP sends what is queued).
    pub fn finish(&mut self) {
        if let Some(rtp) = &mut self.rtp {
            rtp.finish();
        }
        if let Some(rtmp) = &mut self.rtmp {
            rtmp.finish();
        }
    }

    /// The error that stopped an output, if one did.
    pub fn take_fatal(&self) -> Option<OutputError> {
        self.fatal.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}
