//! UDP echo: round-trip time, loss, duplicates, reordering and jitter
//! between a client and a netproof responder.
//!
//! Layered like a small network stack: [`wire`] is the packet codec (no
//! I/O, never panics), [`tracker`] the sans-IO state of a series on a
//! caller-supplied clock, and [`server`] and [`client`] the thin tokio
//! layers that own sockets and time. The responder is netproof's own
//! rather than the classic echo service (port 7) so the client's send
//! time travels in the packet and a reply can be told from a stray.
//!
//! Not measured here: one-way delay (it needs synchronised clocks) and
//! path MTU (a size that does not fit shows up as loss).

pub mod client;
pub mod server;
pub mod tracker;
pub mod wire;

pub use client::{Config, ProbeError, run};
pub use server::{ServeStats, serve};
pub use tracker::{Convergence, Outcome, Reception, Summary, Tracker};
pub use wire::{Kind, Packet, WireError};

/// The port `netproof probe serve` answers UDP echo on when no address is
/// given (7007: the classic echo port 7, with room for the client's
/// timestamp, in netproof's own format).
pub const DEFAULT_PORT: u16 = 7007;
