//! Responsiveness under working conditions (draft-ietf-ippm-responsiveness,
//! "RPM"): round trips per minute from trimmed-mean latencies measured
//! while HTTP/2 connections saturate the path.
//!
//! [`arith`] is the draft's arithmetic with no I/O (tested on recorded
//! latencies against a hand computation); [`client`] drives the load and
//! the probes over the HTTP probe's connections.

pub mod arith;
pub mod client;

pub use arith::{Latencies, TRIM_PERCENTILE, trimmed_mean};
pub use client::{Config, RpmError, Summary, run};
