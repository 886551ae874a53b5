//! RTP over UDP unicast: packetizes each access unit and sends the packets
//! from a non-blocking socket. A packet the socket refuses (receiver not up
//! yet, buffer full) is counted and dropped; the encoder never waits.

use std::io::ErrorKind;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::sync::Arc;

use tracing::{info, warn};

use super::OutputError;
use super::sdp_file::SdpFile;
use crate::codec::h264;
use crate::config::RtpOutput;
use crate::encode::{AccessUnit, Codec};
use crate::pipeline::Stats;
use crate::rtp::h264::H264Payloader;
use crate::rtp::sdp::{SdpCodec, SdpParams};
use crate::rtp::{PacketizerConfig, RtpPacketizer};

/// RTP video clock rate (RFC 6184 §8.2.1).
const CLOCK_RATE: u64 = 90_000;

pub struct RtpUdpOutput {
    socket: UdpSocket,
    dest: SocketAddr,
    packetizer: RtpPacketizer,
    payloader: H264Payloader,
    timestamp_base: u32,
    sdp: Option<SdpFile>,
    session_id: u64,
    sprop: Option<(Vec<u8>, Vec<u8>)>,
    stats: Arc<Stats>,
    refused_logged: bool,
}

impl RtpUdpOutput {
    pub fn open(cfg: &RtpOutput, codec: Codec, stats: Arc<Stats>) -> Result<Self, OutputError> {
        if codec != Codec::H264 {
            return Err(OutputError::Config {
                reason: format!("RTP output of {codec} is not supported yet"),
            });
        }
        let dest = cfg.endpoint;
        let bind = |source| OutputError::Bind { addr: dest, source };
        let local: SocketAddr = match dest {
            SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
            SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
        };
        let socket = UdpSocket::bind(local).map_err(bind)?;
        socket.connect(dest).map_err(bind)?;
        socket.set_nonblocking(true).map_err(bind)?;
        let packetizer = RtpPacketizer::new(PacketizerConfig {
            payload_type: cfg.payload_type,
            ssrc: rand::random(),
            initial_seq: rand::random(),
            mtu: cfg.mtu,
        })
        .map_err(|e| OutputError::Config {
            reason: e.to_string(),
        })?;
        let mut out = Self {
            socket,
            dest,
            packetizer,
            payloader: H264Payloader::default(),
            timestamp_base: rand::random(),
            sdp: cfg.sdp_path.clone().map(SdpFile::new),
            session_id: rand::random::<u32>() as u64,
            sprop: None,
            stats,
            refused_logged: false,
        };
        // Written at once so that receivers can start before the first
        // keyframe; rewritten with sprop-parameter-sets when they are known.
        out.write_sdp()?;
        info!(dest = %dest, ssrc = out.packetizer.ssrc(), pt = cfg.payload_type, mtu = cfg.mtu, "RTP output ready");
        Ok(out)
    }

    fn write_sdp(&mut self) -> Result<(), OutputError> {
        let Some(file) = &mut self.sdp else {
            return Ok(());
        };
        let (sps, pps) = match &self.sprop {
            Some((s, p)) => (Some(s.as_slice()), Some(p.as_slice())),
            None => (None, None),
        };
        let params = SdpParams {
            session_id: self.session_id,
            origin_addr: self.dest.ip(),
            dest_addr: self.dest.ip(),
            port: self.dest.port(),
            payload_type: self.packetizer.payload_type(),
            codec: SdpCodec::H264 {
                profile_level_id: sps.and_then(h264::profile_level_id),
                sps,
                pps,
            },
        };
        if file.write(&params.to_string())? {
            info!(path = %file.path().display(), with_parameter_sets = sps.is_some(), "SDP written");
        }
        Ok(())
    }

    /// Records new parameter sets and rewrites the SDP when they changed.
    fn track_parameter_sets(&mut self, au: &AccessUnit) {
        if !au.keyframe {
            return;
        }
        let found = h264::find_parameter_sets(&au.data);
        let (Some(sps), Some(pps)) = (found.sps, found.pps) else {
            return;
        };
        if self
            .sprop
            .as_ref()
            .is_some_and(|(s, p)| s == sps && p == pps)
        {
            return;
        }
        self.sprop = Some((sps.to_vec(), pps.to_vec()));
        if let Err(e) = self.write_sdp() {
            warn!(error = %e, "cannot rewrite the SDP file");
        }
    }

    fn rtp_timestamp(&self, pts_ns: u64) -> u32 {
        let ticks = (u128::from(pts_ns) * u128::from(CLOCK_RATE) / 1_000_000_000) as u64;
        self.timestamp_base.wrapping_add(ticks as u32)
    }

    pub fn publish(&mut self, au: &AccessUnit) {
        self.track_parameter_sets(au);
        let ts = self.rtp_timestamp(au.pts_ns);
        let (socket, stats) = (&self.socket, &self.stats);
        let mut refused = None;
        let _ = self
            .packetizer
            .packetize(&mut self.payloader, &au.data, ts, |packet: &[u8]| {
                match socket.send(packet) {
                    Ok(_) => {
                        Stats::incr(&stats.rtp_packets_sent);
                        Stats::add(&stats.rtp_bytes_sent, packet.len() as u64);
                    }
                    Err(e) => {
                        Stats::incr(&stats.rtp_send_errors);
                        refused.get_or_insert(e.kind());
                    }
                }
                Ok::<(), std::convert::Infallible>(())
            });
        if let Some(kind) = refused
            && !self.refused_logged
        {
            self.refused_logged = true;
            let why = if kind == ErrorKind::ConnectionRefused {
                "no receiver yet"
            } else {
                "socket busy"
            };
            warn!(dest = %self.dest, ?kind, why, "RTP packets dropped (counted; logged once)");
        }
    }
}
