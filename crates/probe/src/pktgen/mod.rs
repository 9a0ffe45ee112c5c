//! A UDP packet generator for RFC 2544 and RFC 9004 trials: frames at an
//! exact packet rate (or one burst), each with a sequence number and its
//! send time, counted by a receiver netproof opens on the far node.
//!
//! Layers as in every probe: [`wire`] is the 16-byte header codec (no I/O,
//! never panics), [`schedule`] the sans-IO pacing by absolute deadlines
//! (frame `i` is due at `start + i × interval`, computed exactly in
//! integer nanoseconds, so rounding never drifts the rate), [`reception`]
//! the sans-IO receiver arithmetic (distinct frames, reordering, one-way
//! delay of an even sample), and [`trial`] the thin blocking layer: one
//! sender thread that sleeps to within a margin of the next deadline and
//! spins the rest, and one receiver thread reading kernel receive stamps.
//!
//! Sender and receiver run in the same process on one host clock, so the
//! one-way delay is exact up to the kernel's stamping: no clock sync is
//! needed, which is what lets "latency at the throughput rate" be a
//! one-way figure here.
//!
//! Frame sizes follow RFC 2544: the Ethernet frame with its FCS; the UDP
//! payload is the frame less 46 bytes over IPv4 (14 Ethernet + 4 FCS + 20
//! IP + 8 UDP) or 66 over IPv6. Rates count whole frames (frame × 8 ×
//! frames/s), as a tester quotes them.

pub mod reception;
pub mod schedule;
pub mod trial;
pub mod wire;

pub use reception::Reception;
pub use schedule::Schedule;
pub use trial::{Config, PktgenError, Summary, run};

/// Bytes a frame adds to its UDP payload over IPv4: Ethernet header 14,
/// FCS 4, IPv4 20, UDP 8.
pub const OVERHEAD_V4: u32 = 46;
/// The same over IPv6 (a 40-byte IP header).
pub const OVERHEAD_V6: u32 = 66;
