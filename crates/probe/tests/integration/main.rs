//! The probe crate's one integration-test binary: probes against real
//! responders over loopback only.

mod abr;
mod http;
mod ping;
mod throughput;
mod udp_echo;
