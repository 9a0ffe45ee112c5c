//! The probe crate's one integration-test binary: probes against real
//! responders over loopback only.

mod ping;
mod udp_echo;
