//! Deterministic NVENC -> software fallback (seed README, "NVENC with
//! Fallback"): a hardware encoder that fails to start is replaced at once;
//! one that has produced zero access units after [`FALLBACK_AFTER_FRAMES`]
//! input frames, or within [`HARDWARE_WATCHDOG`] of its first frame
//! (whichever comes first: a slow source must not keep a wedged NVENC for
//! minutes), is replaced at that frame, and the stream goes on from a
//! software keyframe. The hardware encoder pushes without blocking, so a
//! wedged session cannot hang the loop before the rule fires, and it is
//! torn down on its own thread, so a wedged teardown cannot either.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tracing::warn;

use super::elements::Backend;
use super::{EncodeError, EncodeInput, EncoderReport, VideoEncoder};
use crate::telemetry::Events;

/// Input frames a hardware encoder may swallow without output.
pub const FALLBACK_AFTER_FRAMES: u64 = 60;
/// How long after its first frame a hardware encoder may stay silent.
pub const HARDWARE_WATCHDOG: Duration = Duration::from_secs(2);

/// Builds the software encoder when the switch happens.
pub type SoftwareFactory = Box<dyn FnOnce() -> Result<Box<dyn VideoEncoder>, EncodeError> + Send>;

pub struct FallbackEncoder {
    active: Box<dyn VideoEncoder>,
    software: Option<SoftwareFactory>,
    /// Access units the hardware encoder has produced (counted by its sink).
    hardware_units: Arc<AtomicU64>,
    frames_in: u64,
    /// When the hardware encoder got its first frame.
    first_push: Option<Instant>,
    watchdog: Duration,
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
            first_push: None,
            watchdog: HARDWARE_WATCHDOG,
            report,
            events,
        }
    }

    /// Another watchdog bound (tests).
    #[cfg(test)]
    pub(crate) fn with_watchdog(mut self, watchdog: Duration) -> Self {
        self.watchdog = watchdog;
        self
    }

    /// Why the silent hardware encoder must go now, if it must.
    fn silent_too_long(&self) -> Option<String> {
        if !self.on_hardware() || self.hardware_units.load(Ordering::Relaxed) > 0 {
            return None;
        }
        if self.frames_in >= FALLBACK_AFTER_FRAMES {
            return Some(format!(
                "NVENC produced no access unit in {FALLBACK_AFTER_FRAMES} frames"
            ));
        }
        let waited = self.first_push?.elapsed();
        (waited >= self.watchdog).then(|| {
            format!(
                "NVENC produced no access unit in {} ms ({} frames)",
                waited.as_millis(),
                self.frames_in
            )
        })
    }

    fn on_hardware(&self) -> bool {
        self.software.is_some()
    }

    fn switch(&mut self, reason: String) -> Result<(), EncodeError> {
        let factory = self.software.take().expect("switch happens once");
        let software = factory()?;
        let element = software.element_name();
        // Dropping the hardware encoder stops its pipeline without waiting
        // for a drain that may never come; on its own thread, so that a
        // teardown a wedged driver holds up cannot hold up the stream.
        let hardware = std::mem::replace(&mut self.active, software);
        let _ = std::thread::Builder::new()
            .name("nvenc-teardown".into())
            .spawn(move || drop(hardware));
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
        if let Some(reason) = self.silent_too_long() {
            self.switch(reason)?;
            input.force_keyframe = true;
        }
        if self.on_hardware() {
            self.first_push.get_or_insert_with(Instant::now);
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
