//! Chooses the encoder (`--encoder-device auto|nvenc|software`) and says why.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tracing::info;

use super::elements::{self, Backend};
use super::fallback::FallbackEncoder;
use super::gst::{GstEncoder, ensure_init};
use super::{
    AccessUnitSink, EncodeError, EncoderDevice, EncoderReport, EncoderSettings, TestHooks,
    VideoEncoder,
};
use crate::ingest::WantI420;
use crate::telemetry::{EncodeCounters, Events, StageLatency};

/// The encoder and its report, which stays current (a fallback updates it).
pub type Opened = (Box<dyn VideoEncoder>, Arc<Mutex<EncoderReport>>);

/// Opens the encoder for `device`. Returns it with a report that stays
/// current (a later fallback updates it).
pub fn open(
    settings: &EncoderSettings,
    device: EncoderDevice,
    hooks: &TestHooks,
    sink: AccessUnitSink,
    stats: Arc<EncodeCounters>,
    events: Events,
    want_i420: Arc<WantI420>,
    latency: Arc<StageLatency>,
) -> Result<Opened, EncodeError> {
    ensure_init()?;
    let (software, _) = elements::software_element(settings.codec);
    let make_software = {
        let (settings, sink, stats, latency) = (
            settings.clone(),
            sink.clone(),
            stats.clone(),
            latency.clone(),
        );
        move || -> Result<Box<dyn VideoEncoder>, EncodeError> {
            Ok(Box::new(
                GstEncoder::new(settings, software, sink, stats)?
                    .announcing_input(want_i420)
                    .measuring(latency),
            ))
        }
    };
    let report = |backend, element: &str, reason: String| EncoderReport {
        requested: device,
        backend,
        element: element.to_owned(),
        reason,
        fallback_at_frame: None,
    };

    if device == EncoderDevice::Software {
        let encoder = make_software()?;
        let r = report(
            Backend::Software,
            software,
            "software requested (--encoder-device software)".into(),
        );
        info!(element = software, reason = %r.reason, "encoder selected");
        return Ok((encoder, Arc::new(Mutex::new(r))));
    }

    // The hardware encoder's output is counted, to detect a silent NVENC.
    let hardware_units = Arc::new(AtomicU64::new(0));
    let hardware_sink: AccessUnitSink = {
        let (units, sink) = (hardware_units.clone(), sink.clone());
        Arc::new(move |au| {
            units.fetch_add(1, Ordering::Relaxed);
            sink(au)
        })
    };
    // A hardware encoder never blocks the loop (see `fallback`).
    let hardware: Result<(Box<dyn VideoEncoder>, &'static str), String> = match hooks
        .hardware_encoder(
            settings,
            hardware_sink.clone(),
            stats.clone(),
            GstEncoder::non_blocking,
        ) {
        Some(stand_in) => stand_in,
        None => elements::probe_nvenc(settings.codec).and_then(|element| {
            GstEncoder::new(settings.clone(), element, hardware_sink, stats.clone())
                .map(|e| {
                    let e = e.non_blocking().measuring(latency.clone());
                    (Box::new(e) as Box<dyn VideoEncoder>, element)
                })
                .map_err(|e| e.to_string())
        }),
    };

    match (device, hardware) {
        (EncoderDevice::Nvenc, Ok((encoder, element))) => {
            let r = report(
                Backend::Nvenc,
                element,
                "NVENC requested (--encoder-device nvenc)".into(),
            );
            info!(element, reason = %r.reason, "encoder selected");
            Ok((encoder, Arc::new(Mutex::new(r))))
        }
        (EncoderDevice::Nvenc, Err(reason)) => Err(EncodeError::NvencUnavailable { reason }),
        (_, Ok((encoder, element))) => {
            let r = report(
                Backend::Nvenc,
                element,
                "auto: NVENC available; software fallback armed".into(),
            );
            info!(element, reason = %r.reason, "encoder selected");
            let r = Arc::new(Mutex::new(r));
            let fallback = FallbackEncoder::new(
                encoder,
                hardware_units,
                Box::new(make_software),
                r.clone(),
                events,
            );
            Ok((Box::new(fallback), r))
        }
        (_, Err(why)) => {
            let encoder = make_software()?;
            let r = report(
                Backend::Software,
                software,
                format!("auto: {why}; using {software}"),
            );
            info!(element = software, reason = %r.reason, "encoder selected");
            Ok((encoder, Arc::new(Mutex::new(r))))
        }
    }
}
