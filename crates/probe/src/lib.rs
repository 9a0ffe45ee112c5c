//! netproof's measurement clients and responders.
//!
//! Each probe is a module with the same shape: a wire codec that does no
//! I/O and never panics on untrusted bytes, a sans-IO core that takes time
//! as an argument (so tests run it exactly on a virtual clock), and thin
//! tokio client and responder layers that own the sockets. Probes report
//! only through [`netproof_sample::Sink`], with the metrics and canonical
//! units of [`netproof_sample::metric`].
//!
//! Probes take sockets already created by the caller: on the netns backend
//! a socket must be made inside its node's namespace, which is the lab's
//! job, not the probe's.
//!
//! Today: [`udp_echo`] (RTT, loss, duplicates, reordering, RFC 3550 jitter)
//! and [`ping`] (ICMP and ICMPv6 echo: RTT and loss, with the same series
//! statistics), [`http`], [`throughput`] and [`dns`] (queries with EDNS
//! Client Subnet over UDP and TCP), and [`pktgen`] (UDP frames at an exact
//! packet rate or in a burst, for RFC 2544 and RFC 9004 trials).

pub mod abr;
pub mod dns;
pub mod http;
pub mod ping;
pub mod pktgen;
pub mod rfc6349;
pub mod rpm;
mod rxtime;
pub mod throughput;
pub mod udp_echo;

pub use ping::{Config as PingConfig, PingError};

pub use udp_echo::{Config as UdpEchoConfig, ProbeError, ServeStats, Summary as UdpEchoSummary};
