//! Outputs: the only code that owns output sockets and files. Each output
//! is a [`Sink`] on its own thread behind its own bounded queue ([`sink`]),
//! so none can block the encoder or another output.

pub mod mp4;
pub(crate) mod record;
pub(crate) mod rtcp_feedback;
pub(crate) mod rtmp;
pub(crate) mod rtp_udp;
pub(crate) mod sdp_file;
pub mod sink;
pub(crate) mod udp;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize};

use crate::config::Config;
use crate::signals::KeyframeRequests;
use crate::telemetry::{Counters, Events, RtmpDestination, add};

pub use sink::{DropCounter, Fanout, Flow, Sink};

/// A sink its caller brings (the recorder's forwarding sink), with the
/// counter its dropped units go to.
pub struct ExtraSink {
    pub sink: Box<dyn Sink>,
    pub dropped: DropCounter,
}

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
    #[error(transparent)]
    Record(#[from] crate::record::RecordError),
    #[error("cannot write the MP4 {path}: {reason}")]
    Mp4 { path: PathBuf, reason: String },
    #[error("RTMP server refused {step}: {code} {description}")]
    RtmpRejected {
        step: &'static str,
        code: String,
        description: String,
    },
}

/// Starts every enabled output, and the caller's `extra` sinks, each on
/// its own thread.
pub fn open_sinks(
    config: &Config,
    counters: &Counters,
    keyframes: KeyframeRequests,
    events: Events,
    stop: Arc<AtomicBool>,
    extra: Vec<ExtraSink>,
) -> Result<Fanout, OutputError> {
    let mut fanout = Fanout::new(keyframes.clone(), events.clone(), stop);
    if let Some(cfg) = &config.rtp {
        let link = rtcp_feedback::RtcpLink {
            stats: counters.rtcp.clone(),
            keyframes: keyframes.clone(),
        };
        let sink =
            rtp_udp::RtpUdpOutput::open(cfg, config.encoder.codec, counters.rtp.clone(), link)?;
        let c = counters.rtp.clone();
        fanout.add_timed(
            Box::new(sink),
            Arc::new(move |n| add(&c.rtp_units_dropped, n)),
            Some(counters.latency.clone()),
        );
    }
    if let Some(cfg) = &config.rtmp {
        // One sink (thread, queue, session) per destination.
        let live = Arc::new(AtomicUsize::new(cfg.urls.len()));
        for (index, url) in cfg.urls.iter().enumerate() {
            let stats = rtmp::RtmpStats {
                total: counters.rtmp.clone(),
                own: Arc::default(),
            };
            counters
                .rtmp_destinations
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(RtmpDestination {
                    url: url.to_string(),
                    counters: stats.own.clone(),
                });
            let dest = rtmp::Destination {
                url: url.clone(),
                form: cfg.form,
                index,
                live: live.clone(),
                tls: cfg.tls.clone(),
            };
            let sink = rtmp::RtmpSink::new(dest, stats.clone(), keyframes.clone(), events.clone());
            fanout.add_timed(
                Box::new(sink),
                Arc::new(move |n| {
                    add(&stats.total.rtmp_units_dropped, n);
                    add(&stats.own.rtmp_units_dropped, n);
                }),
                Some(counters.latency.clone()),
            );
        }
    }
    if let Some(cfg) = &config.record {
        let sink: Box<dyn Sink> = if cfg.is_mp4() {
            Box::new(mp4::Mp4Sink::open(
                &cfg.path,
                config.encoder.codec,
                Some(counters.record.clone()),
            )?)
        } else {
            Box::new(record::McapSink::open(
                cfg,
                config.encoder.codec,
                counters.record.clone(),
            )?)
        };
        let c = counters.record.clone();
        fanout.add_timed(
            sink,
            Arc::new(move |n| add(&c.record_units_dropped, n)),
            None,
        );
    }
    for e in extra {
        fanout.add_timed(e.sink, e.dropped, None);
    }
    if fanout.is_empty() {
        tracing::warn!("no output enabled: frames are encoded and discarded");
    }
    Ok(fanout)
}
