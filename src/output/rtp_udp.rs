//! RTP over UDP: packetizes each access unit and sends the packets from a
//! non-blocking socket, on its own sink thread. A packet that finds the send
//! buffer full waits briefly for room ([`super::udp`]); one the socket still
//! refuses (receiver not up yet, buffer full) is counted and dropped.

use std::io::ErrorKind;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::{info, warn};

use super::OutputError;
use super::rtcp_feedback::{RtcpLink, RtcpReader, SentLog};
use super::sdp_file::SdpFile;
use super::sink::{Flow, Sink};
use super::udp::{self, WaitBudget};
use crate::codec::parameter_sets_annexb;
use crate::config::RtpOutput;
use crate::encode::{AccessUnit, Codec};
use crate::rtp::h264::H264Payloader;
use crate::rtp::h265::H265Payloader;
use crate::rtp::rtcp::{self, SenderReport};
use crate::rtp::rtcp_feedback::ntp_middle32;
use crate::rtp::sdp::{SdpCodec, SdpParams};
use crate::rtp::{PacketizerConfig, RtpPacketizer};
use crate::telemetry::{RtpCounters, add, incr};

/// RTP video clock rate (RFC 6184 §8.2.1).
const CLOCK_RATE: u64 = 90_000;
/// Sender reports go out at least this often (well under the 5 s receivers
/// may expect), the first one with the first access unit.
const SR_INTERVAL: Duration = Duration::from_secs(1);

/// RTCP towards RTP port + 1 (RFC 3550 §11): sender reports that map RTP
/// time to the capture wall clock, so receivers can measure latency; and,
/// on the same socket, what receivers send back ([`RtcpReader`]).
struct RtcpSender {
    socket: UdpSocket,
    /// When each SR left, for the round-trip time of the reports echoing it.
    sent_log: SentLog,
    /// Reads PLI, FIR and receiver reports; stopped when the sink drops.
    _reader: Option<RtcpReader>,
    cname: String,
    buf: Vec<u8>,
    last_report: Option<Instant>,
    /// Since the start, wrapping (RFC 3550 §6.4.1).
    packets: u32,
    octets: u32,
}

impl RtcpSender {
    fn open(dest: SocketAddr, local: SocketAddr, ssrc: u32, link: RtcpLink) -> Option<Self> {
        let port = dest.port().checked_add(1)?;
        let socket = UdpSocket::bind(local).ok()?;
        // Connected: only datagrams from the receiver's RTCP port are read.
        socket.connect(SocketAddr::new(dest.ip(), port)).ok()?;
        socket.set_nonblocking(true).ok()?;
        let sent_log = SentLog::new();
        let reader = socket
            .try_clone()
            .and_then(|s| RtcpReader::start(s, ssrc, CLOCK_RATE as u32, link, sent_log.clone()));
        let reader = match reader {
            Ok(r) => Some(r),
            Err(e) => {
                warn!(error = %e, "RTCP feedback not read (no PLI/FIR, no receiver reports)");
                None
            }
        };
        let cname = format!(
            "cvmmap-streamer.{}@{}",
            std::process::id(),
            socket.local_addr().ok()?.ip()
        );
        Some(Self {
            socket,
            sent_log,
            _reader: reader,
            cname,
            buf: Vec::with_capacity(rtcp::MAX_COMPOUND_LEN + 8),
            last_report: None,
            packets: 0,
            octets: 0,
        })
    }

    fn count(&mut self, packet_len: usize) {
        self.packets = self.packets.wrapping_add(1);
        self.octets = self
            .octets
            .wrapping_add(packet_len.saturating_sub(crate::rtp::RTP_HEADER_LEN) as u32);
    }

    fn report(&self, ssrc: u32, unix_ns: u64, rtp_timestamp: u32) -> SenderReport {
        SenderReport {
            ssrc,
            unix_ns,
            rtp_timestamp,
            packet_count: self.packets,
            octet_count: self.octets,
        }
    }

    /// Sends a report when one is due; `unix_ns` is the capture time of the
    /// unit whose RTP timestamp is `rtp_timestamp`.
    fn maybe_report(&mut self, ssrc: u32, unix_ns: u64, rtp_timestamp: u32) {
        if unix_ns == 0 || self.last_report.is_some_and(|t| t.elapsed() < SR_INTERVAL) {
            return;
        }
        self.last_report = Some(Instant::now());
        let sr = self.report(ssrc, unix_ns, rtp_timestamp);
        rtcp::write_sender_report(&mut self.buf, &sr, &self.cname);
        // Best effort, like RTP: a receiver that is not up yet refuses it.
        if self.socket.send(&self.buf).is_ok() {
            // What a receiver will echo as LSR (RFC 3550 §6.4.1).
            self.sent_log
                .sent(ntp_middle32(rtcp::ntp_from_unix_ns(unix_ns)));
        }
    }

    fn bye(&mut self, ssrc: u32, unix_ns: u64, rtp_timestamp: u32) {
        let sr = self.report(ssrc, unix_ns, rtp_timestamp);
        rtcp::write_sender_report(&mut self.buf, &sr, &self.cname);
        rtcp::write_bye(&mut self.buf, ssrc);
        if self.socket.send(&self.buf).is_ok() {
            // Receivers that outlive us echo this one last.
            self.sent_log
                .sent(ntp_middle32(rtcp::ntp_from_unix_ns(unix_ns)));
        }
    }
}

pub struct RtpUdpOutput {
    socket: UdpSocket,
    dest: SocketAddr,
    packetizer: RtpPacketizer,
    codec: Codec,
    h264: H264Payloader,
    h265: H265Payloader,
    timestamp_base: u32,
    sdp: Option<SdpFile>,
    session_id: u64,
    /// Starts at SESSION_VERSION - 1; every written description increases it.
    session_version: u64,
    /// The parameter sets of the last keyframe, Annex-B framed (SDP sprop-*).
    parameter_sets: Vec<u8>,
    stats: Arc<RtpCounters>,
    refused_logged: bool,
    rtcp: Option<RtcpSender>,
    /// Capture time and RTP timestamp of the last unit sent.
    last_sent: (u64, u32),
}

impl RtpUdpOutput {
    /// `link`: where receivers' RTCP feedback goes (keyframe requests,
    /// report figures).
    pub fn open(
        cfg: &RtpOutput,
        codec: Codec,
        stats: Arc<RtpCounters>,
        link: RtcpLink,
    ) -> Result<Self, OutputError> {
        let dest = cfg.endpoint;
        let bind = |source| OutputError::Bind { addr: dest, source };
        let local: SocketAddr = match dest {
            SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
            SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
        };
        let socket = UdpSocket::bind(local).map_err(bind)?;
        let send_buffer = udp::configure(&socket, dest, cfg.send_buffer).map_err(bind)?;
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
        let rtcp = RtcpSender::open(dest, local, packetizer.ssrc(), link);
        let mut out = Self {
            socket,
            dest,
            packetizer,
            codec,
            h264: H264Payloader::default(),
            h265: H265Payloader::default(),
            timestamp_base: rand::random(),
            sdp: cfg.sdp_path.clone().map(SdpFile::new),
            session_id: rand::random::<u32>() as u64,
            session_version: crate::rtp::sdp::SESSION_VERSION - 1,
            parameter_sets: Vec::new(),
            stats,
            refused_logged: false,
            rtcp,
            last_sent: (0, 0),
        };
        // Written at once so that receivers can start before the first
        // keyframe; rewritten with sprop-parameter-sets when they are known.
        out.write_sdp()?;
        info!(dest = %dest, ssrc = out.packetizer.ssrc(), pt = cfg.payload_type, mtu = cfg.mtu, send_buffer, "RTP output ready");
        Ok(out)
    }

    fn write_sdp(&mut self) -> Result<(), OutputError> {
        let Some(file) = &mut self.sdp else {
            return Ok(());
        };
        let codec = match self.codec {
            Codec::H264 => SdpCodec::h264_from_access_unit(&self.parameter_sets),
            Codec::H265 => SdpCodec::h265_from_access_unit(&self.parameter_sets),
        };
        self.session_version += 1;
        let params = SdpParams {
            session_version: self.session_version,
            session_id: self.session_id,
            origin_addr: self.dest.ip(),
            dest_addr: self.dest.ip(),
            port: self.dest.port(),
            payload_type: self.packetizer.payload_type(),
            codec,
        };
        if file.write(&params.to_string())? {
            info!(
                path = %file.path().display(),
                with_parameter_sets = !self.parameter_sets.is_empty(),
                "SDP written"
            );
        }
        Ok(())
    }

    /// Records the parameter sets of a keyframe and rewrites the SDP when
    /// they changed (new resolution, encoder fallback).
    fn track_parameter_sets(&mut self, au: &AccessUnit) {
        if !au.keyframe {
            return;
        }
        let sets = parameter_sets_annexb(&au.data, self.codec == Codec::H265);
        if sets.is_empty() || sets == self.parameter_sets {
            return;
        }
        self.parameter_sets = sets;
        if let Err(e) = self.write_sdp() {
            warn!(error = %e, "cannot rewrite the SDP file");
        }
    }

    fn rtp_timestamp(&self, pts_ns: u64) -> u32 {
        let ticks = (u128::from(pts_ns) * u128::from(CLOCK_RATE) / 1_000_000_000) as u64;
        self.timestamp_base.wrapping_add(ticks as u32)
    }

    fn publish(&mut self, au: &AccessUnit) {
        self.track_parameter_sets(au);
        let ts = self.rtp_timestamp(au.pts_ns);
        // The report goes first, so a receiver can map this very unit.
        let ssrc = self.packetizer.ssrc();
        let wall = ntp_source(au.capture_ts_ns, unix_now_ns());
        if let Some(r) = &mut self.rtcp {
            r.maybe_report(ssrc, wall, ts);
        }
        let (socket, stats, rtcp) = (&self.socket, &self.stats, &mut self.rtcp);
        let mut refused = None;
        let mut budget = WaitBudget::new();
        let mut send = |packet: &[u8]| {
            let sent = budget.send(
                || socket.send(packet),
                |limit| udp::wait_writable(socket, limit),
            );
            match sent {
                Ok(_) => {
                    incr(&stats.rtp_packets_sent);
                    add(&stats.rtp_bytes_sent, packet.len() as u64);
                    if let Some(r) = rtcp.as_mut() {
                        r.count(packet.len());
                    }
                }
                Err(e) => {
                    incr(&stats.rtp_send_errors);
                    refused.get_or_insert(e.kind());
                }
            }
            Ok::<(), std::convert::Infallible>(())
        };
        let _ = match self.codec {
            Codec::H264 => self
                .packetizer
                .packetize(&mut self.h264, &au.data, ts, &mut send),
            Codec::H265 => self
                .packetizer
                .packetize(&mut self.h265, &au.data, ts, &mut send),
        };
        add(&self.stats.rtp_send_waits, budget.waits);
        self.last_sent = (wall, ts);
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

/// Capture stamps before 2001 are not wall-clock time: the producer's
/// domain is media time (contract §6: seconds since its own start).
const EPOCH_DOMAIN_FROM_NS: u64 = 978_307_200 * 1_000_000_000;

/// The wall-clock time a sender report pairs with a unit's RTP timestamp
/// (RFC 3550 §6.4.1: the NTP field is wall-clock time). A capture stamp in
/// the Unix epoch domain is used as is, so receivers measure capture to
/// arrival; a media-time stamp would claim 1970, so the send time is used.
fn ntp_source(capture_ns: u64, now_ns: u64) -> u64 {
    if capture_ns >= EPOCH_DOMAIN_FROM_NS {
        capture_ns
    } else {
        now_ns
    }
}

fn unix_now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

impl Sink for RtpUdpOutput {
    fn name(&self) -> &'static str {
        "rtp"
    }

    fn write(&mut self, unit: &AccessUnit) -> Result<Flow, OutputError> {
        self.publish(unit);
        Ok(Flow::Continue)
    }

    /// Ends the session: a last sender report with BYE (RFC 3550 §6.6).
    fn finish(&mut self) {
        let ssrc = self.packetizer.ssrc();
        let (unix_ns, ts) = self.last_sent;
        if let Some(r) = &mut self.rtcp {
            r.bye(ssrc, unix_ns, ts);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 13, defect 8: RTCP's NTP field carried the capture stamp even
    /// in a media-time domain (5 s after start became 1970-01-01 00:00:05).
    #[test]
    fn sender_reports_use_the_wall_clock_for_media_time_stamps() {
        let now = 1_780_000_000_000_000_000;
        assert_eq!(ntp_source(5_000_000_000, now), now);
        assert_eq!(ntp_source(0, now), now);
        let capture = 1_779_999_999_990_000_000;
        assert_eq!(ntp_source(capture, now), capture, "epoch domain: as is");
    }
}
