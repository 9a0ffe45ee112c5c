//! DNS: A, AAAA, CNAME, TXT, NS, SOA (any data type by name) queries to a
//! given server over UDP or TCP, with EDNS Client Subnet, so a test can
//! say which answer clients in one subnet get.
//!
//! Laid out like the other probes: [`wire`] is the codec (hickory-proto's
//! message types plus the checks a probe needs; no I/O, never panics),
//! [`report`] turns what a query measured into samples without I/O, and
//! [`client`] is the tokio layer that does the I/O itself over a UDP
//! socket or TCP connections the caller makes (inside a lab node's
//! namespace on the netns backend), so latency is the exchange's own.
//!
//! Metrics: `dns.latency`, `dns.answer` (a set), `dns.rcode`, `dns.ttl`,
//! `dns.answers`; flags and the ECS scope are labels. Not done here:
//! DNSSEC validation, DNS over TLS or HTTPS, following referrals.

pub mod client;
pub mod lookup;
pub mod report;
pub mod wire;

pub use client::{Config, MAX_TRIES, SetupError, Summary, run};
pub use netproof_proto::dns::{DnsName, RecordType};
pub use netproof_proto::prefix::IpNet;
pub use report::{QueryReport, Transport};
pub use wire::{Flags, Malformed, Question, Record, Response};
