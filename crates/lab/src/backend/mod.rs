//! The lab's backends: where its nodes live.
//!
//! - [`local`]: every node is this host, with a loopback address of its
//!   own from a leased block of 127.0.0.0/8; nothing is impaired.
//! - [`netns`]: a network namespace per node, links and LANs between
//!   them, addresses and routes from [`crate::fabric`], built from the
//!   kernel primitives of [`crate::netns`].
//!
//! The crate root chooses between them ([`crate::Lab::plan`]); each keeps
//! what it holds for a planned lab and for a running one.

pub(crate) mod local;
pub(crate) mod netns;
