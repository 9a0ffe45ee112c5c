//! netproof-steering on real sockets on 127.0.0.1 (no namespaces): the API,
//! the DNS face (parsed by hickory and by kdig), hostile input, health
//! polling and failover.

mod api;
mod dns;
mod health;
mod support;
