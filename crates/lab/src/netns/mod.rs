//! Linux network namespaces and netlink: the kernel primitives the `netns`
//! backend builds a lab from.
//!
//! - [`NetNs`]: create a namespace (bind-mounted under `/run/netns` when
//!   root, so `ip netns exec` works), run code inside it
//!   ([`NetNs::run`]), start processes inside it ([`prepare_exec`]), set
//!   its sysctls ([`sysctl_write`]), delete it.
//! - [`Netlink`]: links, addresses, routes (ECMP included) and `tbf` rate
//!   limits inside one namespace, over a netlink socket created there.
//!   Veth pairs are created with both ends in place (no device moves).
//! - [`census`]: which namespaces the kernel still holds, by inode, for
//!   teardown accounting.
//!
//! Rules this module keeps, from the design: a socket belongs to the
//! namespace of the thread that created it, so sockets are created from a
//! thread that has entered the namespace and never by `setns` on a thread
//! of the shared runtime; child processes enter with `setns` between fork
//! and exec; every namespace is named with the `np-` prefix.
//!
//! Not here: plan names, address allocation, routing computation and
//! process supervision, which belong to the lab above this module. Every
//! operation needs root (or CAP_NET_ADMIN and CAP_SYS_ADMIN); rootless
//! mode inside a user namespace is a later step.

pub mod census;
mod error;
mod netlink;
mod ns;
mod sysctl;
mod tbf;

#[cfg(test)]
mod tests;

pub use error::NetnsError;
pub use netlink::{IFNAME_MAX, Netlink};
pub use ns::{NAME_PREFIX, NetNs, RUN_DIR, prepare_exec};
pub use sysctl::{sysctl_read, sysctl_write};
pub use tbf::default_burst;
