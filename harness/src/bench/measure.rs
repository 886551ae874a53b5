//! Turning a reaped process into figures, and the UDP port the unpaced runs
//! send to.

use std::net::UdpSocket;

use super::model::{Run, ThreadSplit};
use crate::ports;
use crate::supervisor::Proc;
use crate::supervisor::threads::Split;

/// An even/odd UDP port pair bound by the harness (RTP, RTCP) and never
/// read: the unpaced runs need a destination whose sends succeed like real
/// ones (a port nobody listens on answers with ICMP "port unreachable",
/// and the next send fails early, costing less than a real one). The
/// kernel drops what overflows the receive queue, silently.
pub struct UdpSink {
    pub port: u16,
    _rtp: UdpSocket,
    _rtcp: UdpSocket,
}

impl UdpSink {
    pub fn bind() -> std::io::Result<Self> {
        let mut last = None;
        // free_udp_pair releases the ports before returning; retry if
        // another process took one in between.
        for _ in 0..8 {
            let port = ports::free_udp_pair()?;
            match (
                UdpSocket::bind(("127.0.0.1", port)),
                UdpSocket::bind(("127.0.0.1", port + 1)),
            ) {
                (Ok(rtp), Ok(rtcp)) => {
                    return Ok(Self {
                        port,
                        _rtp: rtp,
                        _rtcp: rtcp,
                    });
                }
                (Err(e), _) | (_, Err(e)) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| std::io::Error::other("no free UDP port pair")))
    }
}

/// What limited a run's frame rate (see [`Run::fps_limited_by`]).
pub const BY_ENCODER: &str = "encoder";
pub const LOWER_BOUND: &str = "lower_bound";
pub const BY_REALTIME: &str = "realtime";
pub const BY_BACK_PRESSURE: &str = "back_pressure";

/// Frame counts a side reported for one run.
#[derive(Debug, Clone, Copy, Default)]
pub struct Frames {
    pub encoded: Option<u64>,
    pub input: Option<u64>,
    pub dropped: Option<u64>,
}

/// The figures of a process that has ended; None while it runs (or when
/// nothing accounted its usage: a container).
pub fn run_figures(
    mode: &'static str,
    m: &mut Proc,
    frames: Frames,
    limited_by: &'static str,
) -> Option<Run> {
    let ended = m.ended()?;
    let u = ended.usage?;
    let wall_ms = ended.wall.as_secs_f64() * 1000.0;
    let cpu_ms = u.user_ms + u.sys_ms;
    let per_frame = frames.encoded.filter(|&n| n > 0);
    let threads = m.threads().zip(per_frame).map(|(t, n)| {
        let split = Split::new(t, cpu_ms);
        ThreadSplit {
            threads: split.threads,
            encoder_workers: split.workers,
            encoder_workers_cpu_ms_per_frame: round3(split.workers_cpu_ms / n as f64),
            outside_encoder_cpu_ms_per_frame: round3(split.outside_cpu_ms / n as f64),
        }
    });
    Some(Run {
        mode,
        process: m.record(),
        wall_ms: round3(wall_ms),
        user_cpu_ms: round3(u.user_ms),
        sys_cpu_ms: round3(u.sys_ms),
        peak_rss_kib: u.max_rss_kib,
        peak_rss_mib: round3(u.max_rss_kib as f64 / 1024.0),
        frames_encoded: frames.encoded,
        frames_in: frames.input,
        frames_dropped: frames.dropped,
        cpu_ms_per_frame: per_frame.map(|n| round3(cpu_ms / n as f64)),
        fps: per_frame
            .filter(|_| wall_ms > 0.0)
            .map(|n| round3(n as f64 * 1000.0 / wall_ms)),
        fps_limited_by: limited_by,
        threads,
    })
}

/// Three decimals: the measurements are nowhere near that precise, and
/// shorter numbers keep the JSON readable.
pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sink_holds_an_even_pair() {
        let s = UdpSink::bind().unwrap();
        assert_eq!(s.port % 2, 0);
        assert!(UdpSocket::bind(("127.0.0.1", s.port)).is_err());
        assert_eq!(round3(1.23456), 1.235);
    }
}
