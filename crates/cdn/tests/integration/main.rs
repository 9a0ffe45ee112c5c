//! The CDN over real sockets on loopback: an origin started in-process with
//! lab certificates, asked by our own rustls/hyper client and by real
//! peers (openssl, curl, h2load, nginx). One test binary (see STYLE.md),
//! one module per concern. Every wait is bounded.

mod hostile;
mod interop;
mod nginx;
mod operations;
mod ranges;
mod sites;
mod support;
