//! netproof-cdn's integration tests: an edge's store against tiny
//! in-process upstreams on 127.0.0.1 (one test binary, so linking stays
//! fast).

mod disk;
mod fill;
mod prefill;
mod tls;
mod upstream_server;
