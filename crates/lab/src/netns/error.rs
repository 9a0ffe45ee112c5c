//! [`NetnsError`]: every way a namespace, netlink or sysctl operation fails.
//!
//! Each variant reads as a sentence naming the namespace, the interface
//! where there is one, what was being done, and the operating system's
//! reason, so a failure deep in a lab's bring-up explains itself without a
//! backtrace. A `hint:` line follows when the fix is guessable (missing
//! privileges, a name clash).

use std::fmt;
use std::io;

/// Why a namespace, link, address, route, qdisc or sysctl operation failed.
#[derive(Debug, thiserror::Error)]
pub enum NetnsError {
    /// A namespace name the lab refuses before asking the kernel.
    #[error("namespace name `{name}` cannot be used: {reason}")]
    InvalidNamespaceName {
        /// The name as given.
        name: String,
        /// Why not (`it must start with `np-``).
        reason: &'static str,
    },
    /// An interface name the kernel would refuse.
    #[error("interface name `{name}` in namespace `{ns}` cannot be used: {reason}")]
    InvalidInterfaceName {
        /// The namespace the interface was meant for.
        ns: String,
        /// The name as given.
        name: String,
        /// Why not (`longer than 15 bytes`).
        reason: &'static str,
    },
    /// An argument that is wrong before anything reaches the kernel (a
    /// prefix longer than the address, a route without a next hop, ...).
    #[error("in namespace `{ns}`, cannot {op}: {reason}")]
    InvalidArgument {
        /// The namespace.
        ns: String,
        /// What was being done.
        op: String,
        /// What is wrong with the argument.
        reason: String,
    },
    /// Creating, entering, mounting or removing a namespace failed.
    #[error("cannot {op} network namespace `{ns}`: {source}{}", Hint::for_io(.source))]
    Namespace {
        /// The namespace.
        ns: String,
        /// What was being done (`create`, `enter`, `bind-mount ... for`).
        op: String,
        /// The operating system's reason.
        #[source]
        source: io::Error,
    },
    /// A netlink request was refused or could not be sent.
    #[error("in namespace `{ns}`, cannot {op}: {source}{}", Hint::for_io(.source))]
    Netlink {
        /// The namespace the request acted in.
        ns: String,
        /// The interface the request was about, if one.
        ifname: Option<String>,
        /// What was being done (`bring interface `veth0` up`).
        op: String,
        /// The kernel's reason (the errno of the netlink NACK).
        #[source]
        source: io::Error,
    },
    /// An interface looked up by name does not exist in the namespace.
    #[error("in namespace `{ns}`, cannot {op}: there is no interface `{ifname}` there")]
    NoSuchInterface {
        /// The namespace searched.
        ns: String,
        /// The missing interface.
        ifname: String,
        /// What was being done.
        op: String,
    },
    /// An interface did not become able to carry traffic in time.
    #[error(
        "in namespace `{ns}`, interface `{ifname}` could not carry traffic after {waited:?}: {missing}"
    )]
    NotReady {
        /// The namespace.
        ns: String,
        /// The interface.
        ifname: String,
        /// How long was waited.
        waited: std::time::Duration,
        /// What was still missing (`no carrier`, `IPv6 not ready`).
        missing: String,
    },
    /// Writing or reading a sysctl inside a namespace failed.
    #[error("in namespace `{ns}`, cannot {op} sysctl `{key}`: {source}{}", Hint::for_io(.source))]
    Sysctl {
        /// The namespace.
        ns: String,
        /// The key (`net.ipv4.ip_forward`).
        key: String,
        /// `write` or `read`.
        op: &'static str,
        /// The operating system's reason.
        #[source]
        source: io::Error,
    },
    /// A netlink handle was asked for outside a tokio runtime.
    #[error(
        "in namespace `{ns}`, cannot open a netlink handle: no tokio runtime is running on this thread\n\
         hint: create the handle from inside the runtime that will drive it"
    )]
    NoRuntime {
        /// The namespace.
        ns: String,
    },
}

impl NetnsError {
    /// The operating system error underneath, if there is one.
    pub fn os_error(&self) -> Option<i32> {
        match self {
            Self::Namespace { source, .. }
            | Self::Netlink { source, .. }
            | Self::Sysctl { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }
}

/// The `hint:` line for an OS error whose fix is guessable; empty otherwise.
struct Hint(Option<&'static str>);

impl Hint {
    fn for_io(e: &io::Error) -> Self {
        Hint(match e.raw_os_error() {
            Some(libc::EPERM) | Some(libc::EACCES) => Some(
                "network namespaces, links and routes need root or CAP_NET_ADMIN \
                 (CAP_SYS_ADMIN to create and enter namespaces); without root, netproof builds \
                 the lab inside a user namespace of its own, which needs a kernel that allows \
                 unprivileged user namespaces (try `unshare -rn true`)",
            ),
            Some(libc::EEXIST) => Some(
                "something with that name already exists: a lab killed earlier may have left it \
                 (`ip netns list`, `ip -n NS link`)",
            ),
            _ => None,
        })
    }
}

impl fmt::Display for Hint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(h) => write!(f, "\nhint: {h}"),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netns_error_eperm_carries_a_hint() {
        let e = NetnsError::Netlink {
            ns: "np-a".into(),
            ifname: Some("veth0".into()),
            op: "bring interface `veth0` up".into(),
            source: io::Error::from_raw_os_error(libc::EPERM),
        };
        let text = e.to_string();
        assert!(
            text.starts_with(
                "in namespace `np-a`, cannot bring interface `veth0` up: Operation not permitted"
            ),
            "{text}"
        );
        assert!(text.contains("\nhint: network namespaces"), "{text}");
        assert_eq!(e.os_error(), Some(libc::EPERM));
    }

    #[test]
    fn netns_error_without_a_guessable_fix_has_no_hint() {
        let e = NetnsError::Namespace {
            ns: "np-a".into(),
            op: "create".into(),
            source: io::Error::from_raw_os_error(libc::ENOMEM),
        };
        assert!(!e.to_string().contains("hint:"), "{e}");
    }
}
