//! The learned routes of one kernel table, kept from netlink messages.
//!
//! Pure: it takes route messages (a dump, or events as they arrive) and
//! says whether the set changed. A route BIRD did not write with the
//! encoding ([`netproof_proto::steering::encoding`]) is left out and
//! counted, never guessed at; routes of other tables, and local,
//! broadcast and multicast routes, are not looked at.

use std::collections::BTreeMap;
use std::net::IpAddr;

use netproof_proto::prefix::IpNet;
use netproof_proto::steering::LearnedRoute;
use netproof_proto::steering::encoding::{self, KernelRoute};
use rtnetlink::packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteMetric, RouteType,
};

/// The routes of one table, by prefix.
#[derive(Debug, Clone)]
pub struct LearnedTable {
    table: u32,
    routes: BTreeMap<IpNet, (Option<u32>, LearnedRoute)>,
    refused: u64,
}

/// What one message meant for the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// The set of routes changed.
    Changed,
    /// Nothing changed (another table, or the same route again).
    Same,
    /// A route of the table without the encoding: left out.
    Refused(encoding::DecodeError),
}

impl LearnedTable {
    /// An empty view of kernel table `table`.
    pub fn new(table: u32) -> LearnedTable {
        LearnedTable {
            table,
            routes: BTreeMap::new(),
            refused: 0,
        }
    }

    /// The table it reads.
    pub fn table(&self) -> u32 {
        self.table
    }

    /// The routes, in prefix order.
    pub fn routes(&self) -> Vec<LearnedRoute> {
        self.routes.values().map(|(_, r)| r.clone()).collect()
    }

    /// Routes of the table refused so far (no encoding).
    pub fn refused(&self) -> u64 {
        self.refused
    }

    /// A route added or replaced (`RTM_NEWROUTE`).
    pub fn add(&mut self, m: &RouteMessage) -> Applied {
        let Some(k) = kernel_route(self.table, m) else {
            return Applied::Same;
        };
        match encoding::decode(&k) {
            Ok(route) => {
                let new = (k.priority, route);
                if self.routes.get(&k.prefix) == Some(&new) {
                    return Applied::Same;
                }
                self.routes.insert(k.prefix, new);
                Applied::Changed
            }
            Err(e) => {
                self.refused += 1;
                Applied::Refused(e)
            }
        }
    }

    /// A route deleted (`RTM_DELROUTE`). Only the route the table holds
    /// goes: a deletion naming another priority is of a route that was
    /// replaced (a daemon may add the new one before it deletes the old).
    pub fn delete(&mut self, m: &RouteMessage) -> Applied {
        let Some(k) = kernel_route(self.table, m) else {
            return Applied::Same;
        };
        match self.routes.get(&k.prefix) {
            Some((priority, _)) if k.priority.is_none() || *priority == k.priority => {
                self.routes.remove(&k.prefix);
                Applied::Changed
            }
            _ => Applied::Same,
        }
    }

    /// The table as a whole dump shows it (a resynchronisation): whether
    /// that differs from what was held.
    pub fn replace<'a>(&mut self, dump: impl IntoIterator<Item = &'a RouteMessage>) -> bool {
        let before = std::mem::take(&mut self.routes);
        for m in dump {
            self.add(m);
        }
        before != self.routes
    }
}

/// The encoding's fields of `m`, when it is a unicast route of `table`.
pub fn kernel_route(table: u32, m: &RouteMessage) -> Option<KernelRoute> {
    let attrs = &m.attributes;
    // Tables above 255 are only in RTA_TABLE (the header says 252).
    let t = attrs
        .iter()
        .find_map(|a| match a {
            RouteAttribute::Table(t) => Some(*t),
            _ => None,
        })
        .unwrap_or(u32::from(m.header.table));
    if t != table || m.header.kind != RouteType::Unicast {
        return None;
    }
    let h: &RouteHeader = &m.header;
    let addr = attrs.iter().find_map(|a| match a {
        RouteAttribute::Destination(RouteAddress::Inet(a)) => Some(IpAddr::V4(*a)),
        RouteAttribute::Destination(RouteAddress::Inet6(a)) => Some(IpAddr::V6(*a)),
        _ => None,
    });
    let addr = match (addr, h.address_family) {
        (Some(a), _) => a,
        (None, rtnetlink::packet_route::AddressFamily::Inet) => IpAddr::V4(0.into()),
        (None, rtnetlink::packet_route::AddressFamily::Inet6) => IpAddr::V6(0.into()),
        _ => return None,
    };
    let prefix = IpNet::new(addr, h.destination_prefix_length).ok()?;
    let mut k = KernelRoute {
        prefix,
        priority: None,
        window: None,
        ssthresh: None,
        reordering: None,
    };
    for a in attrs {
        match a {
            RouteAttribute::Priority(p) => k.priority = Some(*p),
            RouteAttribute::Metrics(ms) => {
                for metric in ms {
                    match metric {
                        RouteMetric::Window(v) => k.window = Some(*v),
                        RouteMetric::SsThresh(v) => k.ssthresh = Some(*v),
                        RouteMetric::Reordering(v) => k.reordering = Some(*v),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    Some(k)
}

#[cfg(test)]
mod tests {
    use netproof_proto::steering::Origin;
    use netproof_proto::steering::encoding::MARK;
    use rtnetlink::packet_route::AddressFamily;

    use super::*;

    fn message(prefix: &str, table: u32, priority: Option<u32>, window: u32) -> RouteMessage {
        let net: IpNet = prefix.parse().unwrap();
        let mut m = RouteMessage::default();
        m.header.address_family = if net.addr().is_ipv4() {
            AddressFamily::Inet
        } else {
            AddressFamily::Inet6
        };
        m.header.destination_prefix_length = net.prefix_len();
        m.header.kind = RouteType::Unicast;
        m.header.table = if table > 255 { 252 } else { table as u8 };
        m.attributes.push(RouteAttribute::Table(table));
        m.attributes
            .push(RouteAttribute::Destination(net.addr().into()));
        if let Some(p) = priority {
            m.attributes.push(RouteAttribute::Priority(p));
        }
        m.attributes.push(RouteAttribute::Metrics(vec![
            RouteMetric::Window(window),
            RouteMetric::SsThresh(50),
            RouteMetric::Reordering(2),
        ]));
        m
    }

    #[test]
    fn routes_of_the_table_are_decoded_and_others_ignored() {
        let mut t = LearnedTable::new(1000);
        assert_eq!(
            t.add(&message("198.18.200.0/24", 1000, Some(MARK + 1), 200)),
            Applied::Changed
        );
        assert_eq!(
            t.add(&message("2001:2:0:200::/56", 1000, Some(MARK + 4), 100)),
            Applied::Changed
        );
        assert_eq!(
            t.add(&message("198.18.201.0/24", 254, Some(MARK), 100)),
            Applied::Same
        );
        let mut local = message("198.18.202.0/24", 1000, Some(MARK), 100);
        local.header.kind = RouteType::Local;
        assert_eq!(t.add(&local), Applied::Same);
        let routes = t.routes();
        assert_eq!(routes.len(), 2);
        let v4 = &routes[0];
        assert_eq!(v4.prefix.to_string(), "198.18.200.0/24");
        assert_eq!(
            (v4.local_pref, v4.med, v4.as_path_len, v4.origin, v4.ebgp),
            (200, 50, 2, Origin::Egp, true)
        );
        assert!(!routes[1].ebgp);
        // The same route again is no change.
        assert_eq!(
            t.add(&message("198.18.200.0/24", 1000, Some(MARK + 1), 200)),
            Applied::Same
        );
    }

    #[test]
    fn a_route_without_the_marker_is_refused_and_counted() {
        let mut t = LearnedTable::new(100);
        assert!(matches!(
            t.add(&message("198.18.200.0/24", 100, Some(32), 200)),
            Applied::Refused(_)
        ));
        assert_eq!((t.routes().len(), t.refused()), (0, 1));
    }

    #[test]
    fn a_deletion_of_a_replaced_priority_keeps_the_new_route() {
        let mut t = LearnedTable::new(100);
        t.add(&message("198.18.200.0/24", 100, Some(MARK), 200));
        // The daemon adds the route with its new ORIGIN, then deletes the old.
        t.add(&message("198.18.200.0/24", 100, Some(MARK + 2), 200));
        assert_eq!(
            t.delete(&message("198.18.200.0/24", 100, Some(MARK), 200)),
            Applied::Same
        );
        assert_eq!(t.routes()[0].origin, Origin::Incomplete);
        assert_eq!(
            t.delete(&message("198.18.200.0/24", 100, Some(MARK + 2), 200)),
            Applied::Changed
        );
        assert!(t.routes().is_empty());
    }

    #[test]
    fn a_dump_replaces_the_table_and_says_whether_it_differed() {
        let mut t = LearnedTable::new(100);
        let a = message("198.18.200.0/24", 100, Some(MARK), 200);
        let b = message("198.18.201.0/24", 100, Some(MARK), 100);
        assert!(t.replace([&a, &b]));
        assert!(!t.replace([&b, &a]));
        assert!(t.replace([&b]));
        assert_eq!(t.routes().len(), 1);
    }
}
