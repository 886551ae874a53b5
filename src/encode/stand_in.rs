//! Test hooks (feature `test-hooks`, and unit tests): a stand-in for the
//! hardware encoder, since this machine class has no NVENC yet the fallback
//! must be exercised. Without the feature, [`TestHooks`] is empty and the
//! production encoder has no trace of it.

#[cfg(any(test, feature = "test-hooks"))]
mod enabled {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    use crate::encode::{EncodeError, EncodeInput, VideoEncoder};

    /// How the stand-in misbehaves (hidden flag `--test-hw-encoder`).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum HardwareStandIn {
        /// Accepts every frame and never outputs (a wedged NVENC session).
        Stall,
        /// Fails on the first frame (NVENC that cannot start).
        FailStart,
    }

    /// Test-only configuration of the encoder selection.
    #[derive(Debug, Clone, Default, PartialEq, Eq)]
    pub struct TestHooks {
        /// Use a stand-in instead of probing NVENC.
        pub hardware: Option<HardwareStandIn>,
    }

    impl TestHooks {
        /// The stand-in "hardware" encoder, when one is configured.
        pub(crate) fn hardware_encoder(&self) -> Option<(Box<dyn VideoEncoder>, &'static str)> {
            self.hardware.map(|kind| {
                let enc: Box<dyn VideoEncoder> = Box::new(StandInEncoder {
                    kind,
                    frames: Arc::default(),
                });
                (enc, "test-stand-in")
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
                HardwareStandIn::Stall => Ok(()),
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
    ) -> Option<(Box<dyn crate::encode::VideoEncoder>, &'static str)> {
        None
    }
}
