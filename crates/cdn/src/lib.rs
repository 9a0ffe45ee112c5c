//! netproof's reference CDN, modelled on what Open Connect publishes:
//! appliances (edges) embedded in ISPs and at exchange points serve byte
//! ranges of content files over HTTPS, filled from a peer in the same
//! site, a fill tier and an origin.
//!
//! Every component runs as a process (`netproof cdn origin|edge|certs`),
//! on a lab node or outside a lab with `--config FILE`; this crate never
//! depends on the plan, the probes or the executor.
//!
//! - [`object`]: the seam between an HTTP front and what it serves from:
//!   the origin's synthetic catalogue, or an edge's cache and fill.
//! - [`catalogue`]: the synthetic catalogue's paths, lengths and validators.
//! - [`origin`]: the origin's store over the catalogue, with fault knobs.
//! - [`cache`]: an edge's byte-budgeted object cache and its eviction
//!   policies (LRU, SIEVE).
//! - [`fill`]: an edge's store: cache hits, coalesced misses filled from
//!   ranked sources (peer, tier, origin), proactive fill.
//! - [`upstream`]: the HTTP(S) client a fill fetches objects with.
//! - [`front`]: the HTTP(S) server over any store: sites, TLS, ranges.
//! - [`metrics`]: counters (Prometheus, service samples) and access records.
//! - [`sites`]: which site a name (SNI or Host) belongs to; 421 decisions.
//! - [`range`]: range planning (200, 206, multipart, 416, If-Range).
//! - [`tls`]: certificates by site and the SNI resolver.
//! - [`date`]: HTTP dates.
//! - [`config`]: reading and validating origin and edge config files.
//! - [`admin`]: the admin endpoint: health, metrics, drain, prefill.
//! - [`routes`]: an edge's routes learned over BGP, read from its node's
//!   kernel table over netlink.
//! - [`reporter`]: an edge's reports to steering (routes, health, load,
//!   contents).
//! - [`server`]: running an origin or an edge from its config.
//! - [`certs`]: the lab CA and per-site certificates.

pub mod admin;
pub mod cache;
pub mod catalogue;
pub mod certs;
pub mod config;
pub mod date;
pub mod fill;
pub mod front;
pub mod metrics;
pub mod object;
pub mod origin;
pub mod range;
pub mod reporter;
pub mod routes;
pub mod server;
pub mod sites;
pub mod tls;
pub mod upstream;
