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
pub mod params;
pub mod tap;
pub mod vnet;

pub use params::{Direction, LinkParams, LinkState};
