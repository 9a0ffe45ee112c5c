//! The sysctls of a netns lab node: the lab's own (flow hashing for ECMP,
//! IPv6 addresses kept on link-down, no duplicate address detection,
//! forwarding on routers, unprivileged ping) and then the plan's.

use crate::netns::{self, NetSysctls, PrivateProc};

/// The sysctls every lab namespace gets (paths below `/proc/sys/net`),
/// written in one visit.
///
/// Flows, not host pairs, spread over equal-cost paths (policy 0 hashes
/// addresses only). IPv6 drops a link's addresses when it goes down unless
/// told to keep them, and a link fault must be reversible. Duplicate
/// address detection would hold a router's link-local address back for a
/// second or two after link-up, and with it every packet it forwards over
/// IPv6; lab addresses are unique by construction. All are set before the
/// veths exist, so `default` applies to them.
const NODE_SYSCTLS: &[(&str, &str)] = &[
    ("ipv4/fib_multipath_hash_policy", "1"),
    ("ipv6/fib_multipath_hash_policy", "1"),
    ("ipv6/conf/all/keep_addr_on_down", "1"),
    ("ipv6/conf/default/keep_addr_on_down", "1"),
    ("ipv6/conf/all/accept_dad", "0"),
    ("ipv6/conf/default/accept_dad", "0"),
];
const ROUTER_SYSCTLS: &[(&str, &str)] =
    &[("ipv4/ip_forward", "1"), ("ipv6/conf/all/forwarding", "1")];

/// Writes a node's sysctls from the calling thread, which must already be
/// inside the node's namespace (a builder thread of [`NetNs::create_here`]):
/// /proc/sys/net resolves to the namespace of the task that looks it up.
/// Every write goes through one descriptor of `/proc/sys/net` (see
/// [`NetSysctls`] for why that matters at a thousand nodes).
pub(super) fn sysctls_here(
    router: bool,
    plan: &[(String, String)],
    proc: Option<&PrivateProc>,
) -> std::io::Result<()> {
    let mut net = NetSysctls::open_here(proc)?;
    for (key, value) in NODE_SYSCTLS
        .iter()
        .chain(if router { ROUTER_SYSCTLS } else { &[] })
    {
        net.write(key, value)
            .map_err(|e| std::io::Error::new(e.kind(), format!("net/{key}: {e}")))?;
    }
    // Unprivileged (datagram) ICMP sockets, so `ping` works inside a node
    // without raw sockets. Every group where that is allowed; in a rootless
    // lab only the groups of our user namespace exist (gid 0 inside), and
    // the kernel refuses a wider range. Best effort: without it, ping falls
    // back to a raw socket.
    for range in ["0 2147483647", "0 0"] {
        if net.write("ipv4/ping_group_range", range).is_ok() {
            break;
        }
    }
    // The plan's own, last, so they win over the lab's defaults.
    for (key, value) in plan {
        let written = netns::key_below_net(key)
            .map_err(std::io::Error::other)
            .and_then(|rel| net.write(&rel, value));
        if let Err(e) = written {
            let mut why = format!("`{key}` = `{value}`: {e}");
            if key.ends_with("tcp_congestion_control") {
                let read = |f: &str| {
                    std::fs::read_to_string(format!("/proc/sys/net/ipv4/{f}")).unwrap_or_default()
                };
                // A namespace other than the host's may only default to
                // an algorithm the host allows.
                why.push_str(&format!(
                    " (this kernel has: {}; a lab node may default only to those the host's \
                     net.ipv4.tcp_allowed_congestion_control lists: {})",
                    read("tcp_available_congestion_control").trim(),
                    read("tcp_allowed_congestion_control").trim()
                ));
            }
            return Err(std::io::Error::new(e.kind(), why));
        }
    }
    Ok(())
}
