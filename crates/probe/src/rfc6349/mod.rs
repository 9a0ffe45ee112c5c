//! RFC 6349, Framework for TCP Throughput Testing: one TCP transfer over a
//! path whose bottleneck bandwidth and baseline RTT are known, judged by
//! the RFC's three metrics.
//!
//! [`metrics`] is the arithmetic of RFC 6349 section 3.3.1 and section 4
//! (no I/O: the maximum achievable TCP throughput, the TCP Transfer Time
//! Ratio, TCP Efficiency and the Buffer Delay Percentage); [`transfer`]
//! moves the bytes on a connected socket and reads what the metrics need
//! from the sender's `TCP_INFO` (bytes sent and retransmitted, the
//! smoothed RTT every 10 ms, the path MTU).

pub mod metrics;
pub mod transfer;

pub use metrics::{Inputs, Metrics};
pub use transfer::{Outcome, send};
