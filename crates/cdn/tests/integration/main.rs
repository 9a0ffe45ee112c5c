//! The CDN over real sockets on loopback: an origin started in-process with
//! lab certificates, asked by our own rustls/hyper client and by real
//! peers (openssl, curl, h2load, nginx); an edge's store against tiny
//! in-process upstreams. One test binary (see STYLE.md), one module per
//! concern. Every wait is bounded.

mod disk;
mod fill;
mod hostile;
mod interop;
mod keepalive;
mod nginx;
mod operations;
mod prefill;
mod ranges;
mod report;
mod sites;
mod support;
mod tiers;
mod tls;
mod upstream_server;
