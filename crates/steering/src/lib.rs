//! netproof's reference CDN steering service (`netproof cdn steering`), in
//! Open Connect's model: edges report the client prefixes their ISPs
//! announce to them over BGP, with health, load and contents; steering
//! polls their health endpoints; one sans-IO decision ranks edges for a
//! client and a title, and two faces hand the ranking out: an HTTP API of
//! ranked URLs and an authoritative DNS server aware of EDNS Client
//! Subnet.
//!
//! - [`decision`]: the sans-IO decision (BGP order, health, content, load,
//!   rendezvous hashing), its route index and its miss classes.
//! - [`health`]: the sans-IO health-poll state machine of one edge.
//! - [`poller`]: polls each edge's health endpoint and feeds the machine.
//! - [`dns`]: the authoritative DNS face: a pure request path
//!   ([`dns::Zone::respond`]) and its UDP and TCP loops.
//! - [`api`]: the HTTP API (`/steer`, `/report`, `/edges`) and the admin
//!   endpoint (`/health`, `/metrics`).
//! - [`metrics`]: counters, Prometheus text, service sample lines, the
//!   decision log.
//! - [`config`]: reading and validating the config file.
//! - [`server`]: running the service from its config.
//!
//! This crate never depends on the plan, the probes or the executor: it
//! runs as a process.

pub mod api;
pub mod config;
pub mod decision;
pub mod dns;
pub mod health;
pub mod metrics;
pub mod poller;
pub mod server;
