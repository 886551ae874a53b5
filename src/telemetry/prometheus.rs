//! The counters in the Prometheus text exposition format (version 0.0.4,
//! prometheus.io "Exposition formats"): every counter of
//! [`StatsSnapshot`] as `cvmmap_<name>_total` (the latest RTCP receiver
//! report's figures as `cvmmap_rtcp_*` gauges), the encoder actually used as
//! an info metric, the encoder latency as gauges, and readiness. Pure:
//! the server that exposes it is `crate::ops`.

use std::fmt::Write as _;

use super::{LatencySummary, StatsSnapshot};
use crate::encode::EncoderReport;

/// What one scrape shows.
#[derive(Debug, Clone)]
pub struct Scrape {
    pub stats: StatsSnapshot,
    pub encoder: EncoderReport,
    pub codec: String,
    pub target_bitrate_kbps: u32,
    pub encode_latency_ms: Option<LatencySummary>,
    pub uptime_s: f64,
    pub ready: bool,
}

/// A label value escaped (backslash, double quote, newline).
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The exposition text of `s`.
pub fn render(s: &Scrape) -> String {
    let mut o = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, samples: &[(String, String)]| {
        let _ = writeln!(o, "# HELP {name} {help}");
        let _ = writeln!(o, "# TYPE {name} {kind}");
        for (labels, value) in samples {
            let _ = writeln!(o, "{name}{labels} {value}");
        }
    };
    // The snapshot is one flat object of counters (its JSON form).
    if let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(&s.stats) {
        for (key, value) in fields {
            if super::rtcp::GAUGES.contains(&key.as_str()) {
                continue;
            }
            let Some(v) = value.as_u64() else { continue };
            metric(
                &format!("cvmmap_{key}_total"),
                "counter",
                &format!("cvmmap-streamer counter {key} (docs: the run summary's stats)"),
                &[(String::new(), v.to_string())],
            );
        }
    }
    // The latest RTCP reception report (RFC 3550 §6.4.1): gauges, shown
    // once a receiver has reported on our stream.
    for (key, value) in s.stats.rtcp.gauges() {
        if let Some(v) = value {
            metric(
                &format!("cvmmap_{key}"),
                "gauge",
                &format!("Latest RTCP receiver report about the RTP stream: {key}."),
                &[(String::new(), format!("{v:.3}"))],
            );
        }
    }
    let e = &s.encoder;
    let backend = serde_json::to_value(e.backend)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let requested = serde_json::to_value(e.requested)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    metric(
        "cvmmap_encoder_info",
        "gauge",
        "The encoder actually encoding (1), with the device asked for and the codec.",
        &[(
            format!(
                "{{backend=\"{}\",element=\"{}\",requested=\"{}\",codec=\"{}\"}}",
                label(&backend),
                label(&e.element),
                label(&requested),
                label(&s.codec)
            ),
            "1".into(),
        )],
    );
    metric(
        "cvmmap_encoder_fallbacks_total",
        "counter",
        "Times NVENC was replaced by the software encoder.",
        &[(
            String::new(),
            u64::from(e.fallback_at_frame.is_some()).to_string(),
        )],
    );
    metric(
        "cvmmap_target_bitrate_kbps",
        "gauge",
        "The encoder's target bitrate (--bitrate-kbps).",
        &[(String::new(), s.target_bitrate_kbps.to_string())],
    );
    if let Some(l) = &s.encode_latency_ms {
        metric(
            "cvmmap_encode_latency_ms",
            "gauge",
            "Frame into the encoder to its access unit out, over the run.",
            &[
                ("{quantile=\"0.5\"}".into(), format!("{:.3}", l.p50)),
                ("{quantile=\"0.99\"}".into(), format!("{:.3}", l.p99)),
            ],
        );
    }
    // Each RTMP destination's own counters, labelled by its place in
    // --rtmp-url order and its URL without the stream key.
    if !s.stats.rtmp_destinations.is_empty() {
        type Field = fn(&super::counters::RtmpSnapshot) -> u64;
        let fields: [(&str, Field); 4] = [
            ("units_sent", |r| r.rtmp_units_sent),
            ("units_dropped", |r| r.rtmp_units_dropped),
            ("bytes_sent", |r| r.rtmp_bytes_sent),
            ("reconnects", |r| r.rtmp_reconnects),
        ];
        for (name, get) in fields {
            let samples: Vec<(String, String)> = s
                .stats
                .rtmp_destinations
                .iter()
                .enumerate()
                .map(|(i, d)| {
                    (
                        format!("{{destination=\"{i}\",url=\"{}\"}}", label(&d.url)),
                        get(&d.stats).to_string(),
                    )
                })
                .collect();
            metric(
                &format!("cvmmap_rtmp_destination_{name}_total"),
                "counter",
                &format!("RTMP {name} of one destination (--rtmp-url, in order)."),
                &samples,
            );
        }
    }
    metric(
        "cvmmap_uptime_seconds",
        "gauge",
        "Seconds since the pipeline started.",
        &[(String::new(), format!("{:.3}", s.uptime_s))],
    );
    metric(
        "cvmmap_ready",
        "gauge",
        "1 once a frame has been encoded (or passed through), as /readyz says.",
        &[(String::new(), u8::from(s.ready).to_string())],
    );
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::{Backend, EncoderDevice};

    #[test]
    fn every_counter_is_a_total_and_labels_are_escaped() {
        let mut stats = StatsSnapshot::default();
        stats.ingest.frames_ingested = 42;
        let text = render(&Scrape {
            stats,
            encoder: EncoderReport {
                requested: EncoderDevice::Auto,
                backend: Backend::Software,
                element: "x264\"enc".into(),
                reason: String::new(),
                fallback_at_frame: None,
            },
            codec: "h264".into(),
            target_bitrate_kbps: 2500,
            encode_latency_ms: None,
            uptime_s: 1.5,
            ready: true,
        });
        assert!(
            text.contains(
                "# TYPE cvmmap_frames_ingested_total counter\ncvmmap_frames_ingested_total 42\n"
            ),
            "{text}"
        );
        assert!(text.contains(r#"element="x264\"enc""#), "{text}");
        assert!(text.contains("cvmmap_ready 1\n"));
        assert!(
            text.contains("cvmmap_rtcp_pli_received_total 0\n"),
            "{text}"
        );
        assert!(
            !text.contains("cvmmap_rtcp_rtt_ms"),
            "no report yet: {text}"
        );
        // Every sample line is NAME[{labels}] VALUE.
        for l in text.lines().filter(|l| !l.starts_with('#')) {
            let value = l.rsplit(' ').next().unwrap();
            assert!(value.parse::<f64>().is_ok(), "{l}");
        }
    }
    #[test]
    fn rtcp_figures_are_gauges() {
        use crate::telemetry::{LatestReport, RtcpCounters};
        let rtcp = RtcpCounters::default();
        rtcp.set_latest(LatestReport {
            fraction_lost: 0,
            cumulative_lost: 3,
            highest_seq: 1000,
            jitter: 90,
            clock_rate: 90_000,
            rtt: Some(65),
        });
        let stats = StatsSnapshot {
            rtcp: rtcp.snapshot(),
            ..StatsSnapshot::default()
        };
        let text = render(&Scrape {
            stats,
            encoder: EncoderReport {
                requested: EncoderDevice::Auto,
                backend: Backend::Software,
                element: "x264enc".into(),
                reason: String::new(),
                fallback_at_frame: None,
            },
            codec: "h264".into(),
            target_bitrate_kbps: 2500,
            encode_latency_ms: None,
            uptime_s: 1.0,
            ready: true,
        });
        assert!(
            text.contains("# TYPE cvmmap_rtcp_jitter_ms gauge\ncvmmap_rtcp_jitter_ms 1.000\n"),
            "{text}"
        );
        assert!(
            text.contains("cvmmap_rtcp_cumulative_lost 3.000\n"),
            "{text}"
        );
        assert!(text.contains("cvmmap_rtcp_rtt_ms 0.992\n"), "{text}");
        assert!(!text.contains("cvmmap_rtcp_highest_seq_total"), "{text}");
    }
}
