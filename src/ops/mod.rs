//! The operator's surface beside the pipeline: the HTTP endpoint that
//! Prometheus scrapes and orchestrators probe ([`metrics`]).

pub mod metrics;
