//! The longest-prefix-match index over every edge's learned routes.
//!
//! A decision asks two things of the routes: which of them cover the
//! client (for the BGP order and the miss class), and whether other routes
//! split the block the answer is valid for (for the DNS scope). With 10,000
//! client prefixes and a decision budget of tens of microseconds, a linear
//! scan per query is out: the index keeps, per address family, one hash
//! map per prefix length that occurs (a query probes at most 33 or 129 of
//! them, in practice the handful of lengths ISPs announce), and a sorted
//! list of every prefix for the range question.
//!
//! The index is rebuilt whole when an edge's routes change (a report with
//! the same routes as the last changes nothing): reports are rare next to
//! queries, and a rebuild of 10,000 routes takes about a millisecond.
//! Freshness (a silent edge's routes stop counting) is the caller's filter
//! at query time, so expiry never needs a rebuild.

use std::collections::HashMap;
use std::net::IpAddr;

use netproof_proto::prefix::IpNet;

/// Where a route sits: the edge's index and the route's index in that
/// edge's last accepted report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteRef {
    /// The edge, as the steering state numbers them.
    pub edge: u32,
    /// The route in the edge's report.
    pub route: u32,
}

/// One address family's routes.
#[derive(Debug, Default, Clone)]
struct Family {
    /// The prefix lengths that occur, longest first.
    lens: Vec<u8>,
    /// Routes by (length, network bits left-aligned in a u128).
    by_prefix: HashMap<(u8, u128), Vec<RouteRef>>,
    /// Every distinct (network, length), sorted, for range questions.
    sorted: Vec<(u128, u8)>,
}

/// The index over all edges' routes.
#[derive(Debug, Default, Clone)]
pub struct RouteIndex {
    v4: Family,
    v6: Family,
}

/// An address's bits, left-aligned (an IPv4 address in the top 32 bits),
/// so masks work the same for both families.
pub fn bits(addr: IpAddr) -> u128 {
    match addr {
        IpAddr::V4(a) => (u32::from(a) as u128) << 96,
        IpAddr::V6(a) => u128::from(a),
    }
}

/// `bits` with everything past `len` cleared.
pub fn mask(bits: u128, len: u8) -> u128 {
    if len == 0 {
        0
    } else {
        bits & (u128::MAX << (128 - u32::from(len.min(128))))
    }
}

impl RouteIndex {
    /// An index over `routes`: each edge's routes, in edge order.
    pub fn build<'a>(routes: impl IntoIterator<Item = (u32, &'a [IpNet])>) -> RouteIndex {
        let mut index = RouteIndex::default();
        for (edge, prefixes) in routes {
            for (i, p) in prefixes.iter().enumerate() {
                let fam = index.family_mut(p.addr());
                let key = (p.prefix_len(), mask(bits(p.addr()), p.prefix_len()));
                fam.by_prefix.entry(key).or_default().push(RouteRef {
                    edge,
                    route: i as u32,
                });
            }
        }
        for fam in [&mut index.v4, &mut index.v6] {
            let mut lens: Vec<u8> = fam.by_prefix.keys().map(|k| k.0).collect();
            lens.sort_unstable_by(|a, b| b.cmp(a));
            lens.dedup();
            fam.lens = lens;
            let mut sorted: Vec<(u128, u8)> = fam.by_prefix.keys().map(|&(l, n)| (n, l)).collect();
            sorted.sort_unstable();
            fam.sorted = sorted;
        }
        index
    }

    fn family(&self, addr: IpAddr) -> &Family {
        match addr {
            IpAddr::V4(_) => &self.v4,
            IpAddr::V6(_) => &self.v6,
        }
    }

    fn family_mut(&mut self, addr: IpAddr) -> &mut Family {
        match addr {
            IpAddr::V4(_) => &mut self.v4,
            IpAddr::V6(_) => &mut self.v6,
        }
    }

    /// Every route covering `client` (a route whose prefix contains the
    /// whole client subnet), longest prefixes first, with its length.
    pub fn covering(&self, client: IpNet) -> impl Iterator<Item = (u8, RouteRef)> + '_ {
        let fam = self.family(client.addr());
        let (b, qlen) = (bits(client.addr()), client.prefix_len());
        fam.lens
            .iter()
            .filter(move |&&l| l <= qlen)
            .filter_map(move |&l| fam.by_prefix.get(&(l, mask(b, l))).map(|v| (l, v)))
            .flat_map(|(l, v)| v.iter().map(move |r| (l, *r)))
    }

    /// The prefix length an answer for `client` is valid for, given that
    /// the longest route covering it has length `covering` (0 when none):
    /// that length when no other route splits the covering block, else the
    /// client's own length, or longer when routes lie inside the client's
    /// subnet (RFC 7871 allows a scope longer than the source). Looks at
    /// no more than `limit` routes in the block; past that it answers the
    /// client's own length (or longer), which is always valid.
    pub fn scope(&self, client: IpNet, covering: u8, limit: usize) -> u8 {
        let fam = self.family(client.addr());
        let (b, qlen) = (bits(client.addr()), client.prefix_len());
        let block_start = mask(b, covering);
        let block_end = block_start | !mask(u128::MAX, covering);
        let client_start = mask(b, qlen);
        let client_end = client_start | !mask(u128::MAX, qlen);
        let from = fam.sorted.partition_point(|&(n, _)| n < block_start);
        let mut scope = covering;
        let mut inside = 0u8;
        for (seen, &(net, len)) in fam.sorted[from..].iter().enumerate() {
            if net > block_end {
                break;
            }
            if seen >= limit {
                scope = scope.max(qlen);
                // Routes inside the client's subnet still matter: find them
                // with a second search from the client's start.
                let from = fam.sorted.partition_point(|&(n, _)| n < client_start);
                for &(n, l) in &fam.sorted[from..] {
                    if n > client_end {
                        break;
                    }
                    if l > qlen {
                        inside = inside.max(l);
                    }
                }
                break;
            }
            if len <= covering {
                continue;
            }
            if len > qlen && net >= client_start && net <= client_end {
                // Inside the client's subnet: the answer differs within it.
                inside = inside.max(len);
            } else if len > qlen || mask(b, len) != net {
                // Beside the client in the block: the block is split, so
                // the answer holds only for the client's own subnet.
                scope = scope.max(qlen);
            }
            // A route of length <= qlen that contains the client covers it
            // too; its length is at most `covering`, already counted.
        }
        scope.max(inside)
    }

    /// How many distinct prefixes the index holds.
    pub fn len(&self) -> usize {
        self.v4.sorted.len() + self.v6.sorted.len()
    }

    /// Whether the index holds no prefix.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    fn index(edges: &[&[&str]]) -> RouteIndex {
        let nets: Vec<Vec<IpNet>> = edges
            .iter()
            .map(|e| e.iter().map(|s| net(s)).collect())
            .collect();
        RouteIndex::build(
            nets.iter()
                .enumerate()
                .map(|(i, v)| (i as u32, v.as_slice())),
        )
    }

    #[test]
    fn covering_routes_come_longest_first_across_edges() {
        let ix = index(&[&["198.18.0.0/15", "198.18.64.0/24"], &["198.18.64.0/20"]]);
        let got: Vec<(u8, u32)> = ix
            .covering(net("198.18.64.9/32"))
            .map(|(l, r)| (l, r.edge))
            .collect();
        assert_eq!(got, [(24, 0), (20, 1), (15, 0)]);
        // A /22 client subnet is covered by the /20 and the /15, not the /24.
        let got: Vec<u8> = ix.covering(net("198.18.64.0/22")).map(|(l, _)| l).collect();
        assert_eq!(got, [20, 15]);
        assert_eq!(ix.covering(net("2001:2::1/128")).count(), 0);
    }

    #[test]
    fn families_do_not_mix() {
        let ix = index(&[&["2001:2:0:40::/64"], &["0.0.0.0/0"]]);
        let v6: Vec<u32> = ix
            .covering(net("2001:2:0:40::5/128"))
            .map(|(_, r)| r.edge)
            .collect();
        assert_eq!(v6, [0]);
        let v4: Vec<u32> = ix
            .covering(net("198.18.1.1/32"))
            .map(|(_, r)| r.edge)
            .collect();
        assert_eq!(v4, [1]);
    }

    #[test]
    fn rfc7871_scope_is_the_covering_length_unless_routes_split_the_block() {
        // Alone in its /20: the answer holds for the whole /20.
        let ix = index(&[&["198.18.64.0/20"]]);
        assert_eq!(ix.scope(net("198.18.64.0/24"), 20, 64), 20);
        // A sibling /24 inside the /20 splits it: the client's /24 only.
        let ix = index(&[&["198.18.64.0/20"], &["198.18.70.0/24"]]);
        assert_eq!(ix.scope(net("198.18.64.0/24"), 20, 64), 24);
        // A /26 inside the client's /24: the answer differs inside, so the
        // scope is longer than the source.
        let ix = index(&[&["198.18.64.0/20"], &["198.18.64.64/26"]]);
        assert_eq!(ix.scope(net("198.18.64.0/24"), 20, 64), 26);
        // No covering route: the client's own length at least.
        let ix = index(&[&["198.18.64.0/20"]]);
        assert_eq!(ix.scope(net("198.18.128.0/24"), 0, 64), 24);
        // Past the limit the answer is the client's own length, still
        // seeing routes inside its subnet.
        let ix = index(&[&["198.18.64.0/20", "198.18.64.128/25"], &["198.18.65.0/24"]]);
        assert_eq!(ix.scope(net("198.18.64.0/24"), 20, 1), 25);
    }
}
