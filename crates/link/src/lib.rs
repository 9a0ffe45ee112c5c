//! netproof's userspace link emulator.
//!
//! The kernel this lab runs on has no `netem`, so an impaired link is a TAP
//! device in each of its two nodes' namespaces, and this crate moves frames
//! between them, shaping each direction with a [`core::Pipeline`]: loss
//! models, duplication, corruption, a bottleneck queue served at a rate or by
//! a recorded trace, CoDel, and propagation delay with jitter and reordering.
//!
//! The pipeline is sans-IO: it sees frames as segment counts and sizes and is
//! driven by a clock it is given, so it is tested exactly on a virtual clock.
//! The I/O layer ([`tap`], [`vnet`], [`emulator`]) reads frames from the TAP
//! devices with their virtio-net headers, so TCP hands over 64 KiB GSO
//! super-frames, asks the pipeline what becomes of each wire segment, and
//! splits a super-frame only where its segments' fates differ.

pub mod core;
pub mod emulator;
pub mod tap;
pub mod vnet;

/// What a direction does: the shared value types, defined in `netproof-proto`
/// so the plan validates into them without depending on this crate.
pub use netproof_proto::link as params;
pub use params::{Direction, LinkParams, LinkState};
