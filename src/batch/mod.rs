//! `cvmmap_tools batch`: one verb over many recordings, with the seed's
//! conventions: inputs ([`inputs`]), what is already done ([`plan`]), local
//! pools that never exceed an encoder-device limit ([`pool`]), progress
//! ([`progress`]), a JSON report; or the jobs on a JetStream queue for
//! workers anywhere ([`queue`]).

pub mod inputs;
pub mod job;
pub mod plan;
pub mod pool;
pub mod progress;
pub mod queue;

pub use job::{Job, Outcome, Slot, Verb};
