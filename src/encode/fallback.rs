//! Deterministic NVENC -> software fallback (seed README, "NVENC with
//! Fallback"): a hardware encoder that fails to start is replaced at once;
//! one that has produced zero access units after [`FALLBACK_AFTER_FRAMES`]
//! input frames is replaced at that frame, and the stream goes on from a
//! software keyframe.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tracing::warn;

use super::elements::Backend;
use super::{EncodeError, EncodeInput, EncoderReport, VideoEncoder};
use crate::telemetry::Events;

/// Input frames a hardware encoder may swallow without output.
pub const FALLBACK_AFTER_FRAMES: u64 = 60;

/// Builds the software encoder when the switch happens.
pub type SoftwareFactory = Box<dyn FnOnce() -> Result<Box<dyn VideoEncoder>, EncodeError> + Send>;

pub struct FallbackEncoder {
    active: Box<dyn VideoEncoder>,
    software: Option<SoftwareFactory>,
    /// Access units the hardware encoder has produced (counted by its sink).
    hardware_units: Arc<AtomicU64>,
    frames_in: u64,
    report: Arc<Mutex<EncoderReport>>,
    events: Events,
}

impl FallbackEncoder {
    pub fn new(
        hardware: Box<dyn VideoEncoder>,
        hardware_units: Arc<AtomicU64>,
        software: SoftwareFactory,
        report: Arc<Mutex<EncoderReport>>,
        events: Events,
    ) -> Self {
        Self {
            active: hardware,
            software: Some(software),
            hardware_units,
            frames_in: 0,
            report,
            events,
        }
    }

    fn on_hardware(&self) -> bool {
        self.software.is_some()
    }

    fn switch(&mut self, reason: String) -> Result<(), EncodeError> {
        let factory = self.software.take().expect("switch happens once");
        let software = factory()?;
        let element = software.element_name();
        // Dropping the hardware encoder stops its pipeline without waiting
        // for a drain that may never come.
        drop(std::mem::replace(&mut self.active, software));
        warn!(frame = self.frames_in, element, %reason, "falling back to software encoding");
        let mut r = self.report.lock().unwrap_or_else(|p| p.into_inner());
        self.events.emit(
            "encoder_fallback",
            serde_json::json!({"from": r.element, "to": element, "frame": self.frames_in, "reason": reason}),
        );
        r.backend = Backend::Software;
        r.element = element.to_owned();
        r.reason = reason;
        r.fallback_at_frame = Some(self.frames_in);
        Ok(())
    }
}

impl VideoEncoder for FallbackEncoder {
    fn encode(&mut self, mut input: EncodeInput) -> Result<(), EncodeError> {
        if self.on_hardware()
            && self.frames_in >= FALLBACK_AFTER_FRAMES
            && self.hardware_units.load(Ordering::Relaxed) == 0
        {
            self.switch(format!(
                "NVENC produced no access unit in {FALLBACK_AFTER_FRAMES} frames"
            ))?;
            input.force_keyframe = true;
        }
        let result = self.active.encode(input);
        match result {
            Err(e) if self.on_hardware() => {
                // The frame is lost; the next one starts the software stream.
                self.switch(format!("NVENC failed: {e}"))?;
            }
            other => other?,
        }
        self.frames_in += 1;
        Ok(())
    }

    fn finish(&mut self) -> Result<(), EncodeError> {
        self.active.finish()
    }

    fn element_name(&self) -> &'static str {
        self.active.element_name()
    }
}

#[cfg(test)]
#[path = "fallback_tests.rs"]
mod tests;
