//! IPv6 link-local addresses as the kernel lists them in a namespace
//! (`/proc/net/if_inet6`), and whether each is still tentative.
//!
//! Even with duplicate address detection off, the kernel clears a new
//! address's tentative flag from a work queue after link-up; on a loaded
//! host that lags, and until it is done a router cannot solicit the next
//! hop of a packet it forwards, so a first IPv6 connection through it
//! stalls by a one-second SYN retransmit. The lab waits on this.

use std::io;

use super::NetNs;

/// `IFA_F_TENTATIVE`.
const TENTATIVE: u32 = 0x40;

/// One link-local address of an interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkLocal {
    /// The interface.
    pub ifname: String,
    /// Still tentative: not yet usable as a source.
    pub tentative: bool,
}

/// The link-local addresses of every interface in `ns`.
pub fn link_locals(ns: &NetNs) -> io::Result<Vec<LinkLocal>> {
    let table = ns
        .run(|| std::fs::read_to_string("/proc/thread-self/net/if_inet6"))
        .map_err(|e| io::Error::other(e.to_string()))??;
    Ok(parse(&table))
}

/// Parses `if_inet6`: address, ifindex, prefix length, scope, flags (hex),
/// name; only `fe80` addresses are kept. A line that does not parse is
/// skipped.
fn parse(table: &str) -> Vec<LinkLocal> {
    table
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let [addr, _, _, _, flags, name] = f.as_slice() else {
                return None;
            };
            let flags = u32::from_str_radix(flags, 16).ok()?;
            addr.starts_with("fe80").then(|| LinkLocal {
                ifname: (*name).to_string(),
                tentative: flags & TENTATIVE != 0,
            })
        })
        .collect()
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn netns_if_inet6_lines_give_link_locals_and_their_state() {
        let table = "\
00000000000000000000000000000001 01 80 10 80       lo
fe80000000000000a0b1c2fffed3e4f5 02 40 20 c0    to-r
fe80000000000000a0b1c2fffed3e4f6 03 40 20 80    to-b
20010002000000000000000000000002 02 7f 00 80    to-r
garbage
";
        assert_eq!(
            parse(table),
            [
                LinkLocal {
                    ifname: "to-r".into(),
                    tentative: true
                },
                LinkLocal {
                    ifname: "to-b".into(),
                    tentative: false
                },
            ]
        );
    }
}
