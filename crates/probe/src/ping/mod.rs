//! ICMP echo ("ping"): round-trip time and loss to any host, no responder
//! needed.
//!
//! Laid out like [`crate::udp_echo`]: [`wire`] is the ICMP/ICMPv6 echo
//! codec (no I/O, never panics), [`series`] the sans-IO state of a series
//! on a caller-supplied clock, [`socket`] opens the socket (unprivileged
//! when `net.ipv4.ping_group_range` allows, raw otherwise) and [`client`]
//! is the thin tokio layer. The statistics are udp_echo's
//! [`Tracker`](crate::udp_echo::Tracker): an echo is an echo, whichever
//! protocol carries it.
//!
//! Each request carries its send time, so a reply is matched by sequence
//! and stamp (and, on a raw socket, by identifier) and its RTT needs no
//! per-request table. Not done here: ICMP error reporting (an unreachable
//! host shows up as loss), TTL or record-route options, and any responder
//! (the kernel answers echo requests itself).

pub mod client;
pub mod series;
pub mod socket;
pub mod wire;

pub use crate::udp_echo::tracker::Summary;
pub use client::{Config, PingError, run};
pub use series::{Reply, Series, SocketKind};
pub use socket::{SocketDenied, open_socket};
pub use wire::{Echo, Family, Kind, WireError};
