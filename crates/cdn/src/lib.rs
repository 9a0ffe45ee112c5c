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

pub mod catalogue;
pub mod object;
pub mod origin;
