//! Permanent neighbour entries between the two ends of a point-to-point
//! link, so neither end ever resolves the other by ARP or neighbour
//! discovery.
//!
//! Both the build (when a link is made) and live control (when a link
//! fault brings a link back up) use [`introduce_ends`]; it lives here,
//! among the kernel primitives, so neither of them depends on the other.

use std::net::IpAddr;

use super::{Netlink, NetnsError};

/// The hardware addresses of a link's two ends, end `a` first.
pub type Macs = [[u8; 6]; 2];

/// Gives each end of a link permanent neighbour entries for the other
/// end's addresses, as `ip neigh replace ... nud permanent` would, instead
/// of letting them find each other by ARP and neighbour discovery.
/// `nls[k]` acts in the namespace of end `k`, whose interface is
/// `ifnames[k]`, whose addresses (IPv4 and IPv6) are `addrs[k]` and whose
/// hardware address is `macs[k]`.
///
/// Why:
/// - The kernel's IPv6 neighbour table is one for the whole host: every
///   namespace's entries count against `net.ipv6.neigh.default.gc_thresh3`
///   (1024 by default, settable only in the host's own namespace), and
///   past it a new neighbour is refused ("neighbor table overflow") and
///   the packet that needed it dropped. A 1000-node leaf-spine reached
///   that limit from a few dozen pings between hosts and lost 3 of 40
///   first pings. Permanent entries do not count against it.
/// - An emulated link may be slow or lossy, and a lost solicitation would
///   hold the first packets back a second or more.
/// - No first packet of a measurement waits for address resolution.
///
/// Taking an end down drops its entries; a link fault puts them back when
/// it brings the link up. LAN members still use ARP and neighbour
/// discovery.
pub async fn introduce_ends(
    nls: [&Netlink; 2],
    ifnames: [&str; 2],
    addrs: [[IpAddr; 2]; 2],
    macs: Macs,
) -> Result<(), NetnsError> {
    for (me, peer) in [(0, 1), (1, 0)] {
        for addr in addrs[peer] {
            nls[me].add_neighbour(ifnames[me], addr, macs[peer]).await?;
        }
    }
    Ok(())
}
