//! Linux network namespaces and netlink: the kernel primitives the `netns`
//! backend builds a lab from.
//!
//! - [`NetNs`]: create a namespace (held by a descriptor, and optionally
//!   bind-mounted under `/run/netns` when root, so `ip netns exec` works), run code inside it
//!   ([`NetNs::run`]), start processes inside it ([`prepare_exec`]), set
//!   its sysctls ([`sysctl_write`]), delete it.
//! - [`Netlink`]: links, addresses, routes (ECMP included) and `tbf` rate
//!   limits inside one namespace, over a netlink socket created there.
//!   Veth pairs are created with both ends in place (no device moves).
//! - [`Batch`]: many requests in one `sendmsg`, answered only when they
//!   fail, for the thousands of routes of a large lab.
//! - [`census`]: which namespaces the kernel still holds, by inode, for
//!   teardown accounting.
//! - [`introduce_ends`]: permanent neighbour entries between a link's two
//!   ends, made when the link is built and again when a fault brings it
//!   back up.
//!
//! Rules this module keeps, from the design: a socket belongs to the
//! namespace of the thread that created it, so sockets are created from a
//! thread that has entered the namespace and never by `setns` on a thread
//! of the shared runtime; child processes enter with `setns` between fork
//! and exec; every namespace is named with the `np-` prefix.
//!
//! Kernel quirks a lab built on this must know (each pinned by a test):
//!
//! - After bringing links up, call [`Netlink::wait_ready`] on every veth
//!   end before sending: otherwise the first packet through an end brought
//!   up before its peer may be lost (a 1 s TCP SYN timeout).
//! - Turn IPv6 duplicate address detection off in every namespace before
//!   creating its interfaces (`net.ipv6.conf.all.accept_dad` and
//!   `net.ipv6.conf.default.accept_dad` = 0): a router solicits next hops
//!   from its link-local address and sends nothing while that address is
//!   in DAD, so each hop would delay a first IPv6 connect by 1-2 s.
//!   [`Netlink::add_address`] already adds with `nodad`.
//! - A new namespace starts with `lo` down, forwarding off and
//!   `fib_multipath_hash_policy` 0 (ECMP by addresses only).
//!
//! Not here: plan names, address allocation, routing computation and
//! process supervision, which belong to the lab above this module. Every
//! operation needs CAP_NET_ADMIN and CAP_SYS_ADMIN: as root, or, without
//! root, inside the user namespace of [`crate::rootless`], which grants
//! them over the namespaces it owns.

pub mod addrconf;
mod batch;
pub mod census;
mod error;
mod neighbour;
mod netlink;
mod ns;
pub mod resolv;
mod sysctl;
mod tbf;

#[cfg(test)]
mod tests;

pub use batch::{Batch, BatchError};
pub use error::NetnsError;
pub use neighbour::{Macs, introduce_ends};
pub use netlink::{IFNAME_MAX, Netlink, address_request, route_op, route_request, up_request};
pub use ns::{NAME_PREFIX, NetNs, RUN_DIR, prepare_exec};
pub use sysctl::{NetSysctls, PrivateProc, key_below_net, sysctl_read, sysctl_write};
pub use tbf::default_burst;
