//! Test hooks (feature `test-hooks`, and unit tests): a stand-in for the
//! hardware encoder, since this machine class has no NVENC yet the fallback
//! must be exercised. Without the feature, [`TestHooks`] is empty and the
//! production encoder has no trace of it.

#[cfg(any(test, feature = "test-hooks"))]
mod enabled {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    use crate::encode::gst::GstEncoder;
    use crate::encode::{
        AccessUnitSink, EncodeError, EncodeInput, EncoderSettings, VideoEncoder, elements,
    };
    use crate::telemetry::EncodeCounters;

    /// An encoder and the element name it reports.
    pub(crate) type NamedEncoder = (Box<dyn VideoEncoder>, &'static str);

    /// How the stand-in misbehaves (hidden flag `--test-hw-encoder`).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum HardwareStandIn {
        /// Accepts every frame and never outputs (a wedged NVENC session).
        Stall,
        /// Fails on the first frame (NVENC that cannot start).
        FailStart,
        /// A real GStreamer encoder whose output never drains, so that
        /// GStreamer's backpressure blocks the push like a wedged NVENC
        /// session does (the `Stall` stand-in never blocks).
        Wedge,
    }

    /// Test-only configuration of the encoder selection.
    #[derive(Debug, Clone, Default, PartialEq, Eq)]
    pub struct TestHooks {
        /// Use a stand-in instead of probing NVENC.
        pub hardware: Option<HardwareStandIn>,
    }

    impl TestHooks {
        /// The stand-in "hardware" encoder, when one is configured; `wedge`
        /// turns a GStreamer encoder into the hardware one (the caller's
        /// hardware settings, non-blocking push included).
        pub(crate) fn hardware_encoder(
            &self,
            settings: &EncoderSettings,
            sink: AccessUnitSink,
            stats: Arc<EncodeCounters>,
            wedge: impl FnOnce(GstEncoder) -> GstEncoder,
        ) -> Option<Result<NamedEncoder, String>> {
            self.hardware.map(|kind| {
                let enc: Box<dyn VideoEncoder> = match kind {
                    HardwareStandIn::Wedge => {
                        let (element, _) = elements::software_element(settings.codec);
                        let enc = GstEncoder::new(settings.clone(), element, sink, stats)
                            .map_err(|e| e.to_string())?
                            .with_stalled_output()
                            .with_native_feed();
                        Box::new(wedge(enc))
                    }
                    kind => Box::new(StandInEncoder {
                        kind,
                        frames: Arc::default(),
                    }),
                };
                Ok((enc, "test-stand-in"))
            })
        }
    }

    /// The stand-in encoder. `frames` counts what it was given.
    pub struct StandInEncoder {
        pub kind: HardwareStandIn,
        pub frames: Arc<AtomicU64>,
    }

    impl VideoEncoder for StandInEncoder {
        fn encode(&mut self, _input: EncodeInput) -> Result<(), EncodeError> {
            self.frames.fetch_add(1, Ordering::Relaxed);
            match self.kind {
                HardwareStandIn::Stall | HardwareStandIn::Wedge => Ok(()),
                HardwareStandIn::FailStart => Err(EncodeError::Runtime {
                    message: "stand-in hardware encoder cannot start".into(),
                }),
            }
        }

        fn finish(&mut self) -> Result<(), EncodeError> {
            Ok(())
        }

        fn element_name(&self) -> &'static str {
            "test-stand-in"
        }
    }
}

#[cfg(any(test, feature = "test-hooks"))]
pub use enabled::*;

/// No test hooks in this build.
#[cfg(not(any(test, feature = "test-hooks")))]
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TestHooks;

#[cfg(not(any(test, feature = "test-hooks")))]
impl TestHooks {
    pub(crate) fn hardware_encoder(
        &self,
        _settings: &crate::encode::EncoderSettings,
        _sink: crate::encode::AccessUnitSink,
        _stats: std::sync::Arc<crate::telemetry::EncodeCounters>,
        _wedge: impl FnOnce(crate::encode::gst::GstEncoder) -> crate::encode::gst::GstEncoder,
    ) -> Option<Result<NamedEncoder, String>> {
        None
    }
}

/// An encoder and the element name it reports.
#[cfg(not(any(test, feature = "test-hooks")))]
pub(crate) type NamedEncoder = (Box<dyn crate::encode::VideoEncoder>, &'static str);
