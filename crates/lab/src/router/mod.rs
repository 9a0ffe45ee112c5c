//! Routers in the lab: nodes whose routes a routing daemon (BIRD 2 or FRR)
//! owns.
//!
//! - [`config`]: pure; renders the plan's routing intent into each
//!   daemon-owned node's configuration files, keeping for every rendered
//!   line the plan span that produced it.

pub mod config;
