//! The operator's surface beside the pipeline: the HTTP endpoint that
//! Prometheus scrapes and orchestrators probe ([`metrics`]), and the probe
//! a container's HEALTHCHECK runs against it ([`health`]).

pub mod health;
pub mod metrics;
