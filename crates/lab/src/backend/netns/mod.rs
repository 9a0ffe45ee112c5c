//! The `netns` backend: one network namespace per node, one veth pair (or
//! emulated link) per link, a bridge in a namespace of its own per LAN,
//! addresses and static routes computed by [`crate::fabric`].
//!
//! - [`blueprint`]: pure; turns the plan into a [`Blueprint`] (the
//!   fabric, how each link is made, namespace names) and fails before
//!   anything exists in the kernel when the plan cannot be built, so
//!   `netproof check` can call it.
//! - [`build`]: creates the namespaces, then the links and LANs
//!   ([`links`]) and the routes ([`routes`]), and tears it all down again.
//! - [`sysctls`]: what every node's namespace is set to while it is made.
//!
//! The kernel operations themselves are [`crate::netns`]'s; live control
//! of a built lab is [`crate::control`]'s, which gets what it needs from
//! [`Blueprint::control_parts`].

mod blueprint;
mod build;
mod links;
mod routes;
mod sysctls;

pub(crate) use blueprint::{Blueprint, blueprint};
pub(crate) use build::{Built, build};

#[cfg(test)]
mod tests;
