//! A router's intent: what one daemon-owned node's routing protocols
//! should do, in the lab's own terms (interface names, addresses), derived
//! from the plan and the blueprint's addressing and read by both renderers.
//!
//! Everything daemon-specific stays out: an [`OspfInterface`] says which
//! interface, area, cost and timers, a [`BgpNeighbour`] which addresses,
//! AS numbers and policies, each with the plan [`Span`] that asked for it,
//! so a daemon's complaint about a rendered line can point back at the
//! plan. Derivation is pure and trusts what `check` validated (sessions
//! join nodes with an AS that share a link or LAN, iBGP loopbacks are
//! carried by OSPF); where that trust would be broken it returns a
//! [`ConfigError`] rather than panic.
//!
//! **BGP address families.** Each plan session becomes two BGP sessions:
//! IPv4 unicast over the two ends' IPv4 addresses and IPv6 unicast over
//! their IPv6 addresses. The alternative, MP-BGP carrying both families
//! over one IPv4 session, needs IPv6 next hops for IPv4 transport (or
//! RFC 8950 extended next hops), which BIRD and FRR set up differently
//! and which breaks the lab's symmetry between the families; with one
//! session per family each family's next hops are the peer's own address
//! of that family, both daemons configure it the same plain way, and a
//! failure of one family is visible on its own. The price is two sessions
//! per `[[bgp]]` to poll for readiness, which [`BgpNeighbour::protocol`]
//! names.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use netproof_plan::{Bfd, BgpPolicy, BgpTransport, Daemon, IpNet, Originate, Plan, Routing, Span};

use super::ConfigError;
use crate::backend::netns::Blueprint;
use crate::fabric::{Dev, End};

/// IPv4 or IPv6: one BGP session, one static protocol, one OSPF version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Family {
    /// IPv4 (OSPFv2, IPv4 unicast).
    V4,
    /// IPv6 (OSPFv3, IPv6 unicast).
    V6,
}

impl Family {
    /// Both families, IPv4 first (the order configs list them in).
    pub const BOTH: [Family; 2] = [Family::V4, Family::V6];

    /// 0 for IPv4, 1 for IPv6 (the order of `[v4, v6]` pairs).
    pub fn index(self) -> usize {
        match self {
            Family::V4 => 0,
            Family::V6 => 1,
        }
    }

    /// `4` or `6`, for names.
    pub fn digit(self) -> char {
        match self {
            Family::V4 => '4',
            Family::V6 => '6',
        }
    }

    /// `ip` or `ipv6`, as FRR's commands name the family.
    pub fn ip(self) -> &'static str {
        match self {
            Family::V4 => "ip",
            Family::V6 => "ipv6",
        }
    }

    /// `ipv4` or `ipv6`, as FRR names the address family.
    pub fn afi(self) -> &'static str {
        match self {
            Family::V4 => "ipv4",
            Family::V6 => "ipv6",
        }
    }

    /// The longest prefix: 32 or 128.
    pub fn max_len(self) -> u8 {
        match self {
            Family::V4 => 32,
            Family::V6 => 128,
        }
    }

    /// Whether `net` is of this family.
    pub fn holds(self, net: &IpNet) -> bool {
        matches!(
            (self, net),
            (Family::V4, IpNet::V4(_)) | (Family::V6, IpNet::V6(_))
        )
    }
}

/// What one daemon-owned node's routing should do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouterIntent {
    /// The node's plan name.
    pub node: String,
    /// The daemon that owns its routes.
    pub daemon: Daemon,
    /// Where the node is defined.
    pub span: Span,
    /// The router id: the node's IPv4 loopback.
    pub router_id: Ipv4Addr,
    /// Its IPv4 loopback (a /32 on `lo`).
    pub loopback_v4: Ipv4Addr,
    /// Its IPv6 loopback (a /128 on `lo`).
    pub loopback_v6: Ipv6Addr,
    /// Its AS number, when it speaks BGP.
    pub asn: Option<u32>,
    /// Its OSPF interfaces (both OSPFv2 and OSPFv3 run on each), in plan
    /// order of the links. OSPF also always carries the node's loopbacks
    /// (as stub networks on `lo`): iBGP between loopbacks needs them, and
    /// so does every probe that targets a router.
    pub ospf: Vec<OspfInterface>,
    /// Its BGP neighbours, two per plan session (one per family), in plan
    /// order of the sessions.
    pub bgp: Vec<BgpNeighbour>,
    /// What it originates, as the plan lists it.
    pub originate: Vec<Origination>,
    /// Generated blocks of the plan's `originate` that a `route_withdraw`
    /// took back, in the order they were withdrawn. BIRD forgets them.
    /// FRR keeps their static routes and stops redistributing them, all
    /// at once, through one prefix list (see `frr`): removing ten
    /// thousand static routes one `no ip route` at a time took FRR
    /// seconds, which a lab measuring convergence would have charged to
    /// the daemons.
    pub withdrawn: Vec<Origination>,
    /// The loopbacks its iBGP peers originate into BGP. OSPF carries them
    /// too, and must win (an iBGP route to a loopback cannot resolve via
    /// itself: BIRD announces only a prefix's best route, and FRR's bgpd
    /// marks such a route invalid), so the node passes these on to its
    /// eBGP peers from OSPF.
    pub internal_loopbacks: Vec<IpNet>,
    /// Nodes with static routes joined to this one by a link (hosts, or
    /// routers the lab routes): the daemon reaches their loopbacks through
    /// them and announces those and the link into OSPF, so the rest of the
    /// OSPF domain reaches them.
    pub attached: Vec<Attached>,
    /// Set when the node speaks BGP beside static routes (`bgp_speaker`):
    /// nothing goes into its main table, learned routes go to the
    /// speaker's table, if any, with their BGP attributes encoded.
    pub speaker: Option<netproof_plan::BgpSpeaker>,
}

/// A node with static routes at the far end of one of a daemon-owned
/// node's links.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attached {
    /// Its plan name.
    pub peer: String,
    /// This node's interface on the link.
    pub ifname: String,
    /// Its address on the link, IPv4 and IPv6: the next hop.
    pub gateway: [IpAddr; 2],
    /// Its loopbacks, IPv4 and IPv6.
    pub loopbacks: [IpNet; 2],
    /// The link's subnets, IPv4 and IPv6.
    pub link: [IpNet; 2],
    /// The link in the plan.
    pub span: Span,
}

impl Attached {
    /// Its loopback of `family`.
    pub fn loopback(&self, family: Family) -> IpNet {
        self.loopbacks[family.index()]
    }

    /// Its address on the link of `family`.
    pub fn gateway(&self, family: Family) -> IpAddr {
        self.gateway[family.index()]
    }

    /// The link's subnet of `family`.
    pub fn link(&self, family: Family) -> IpNet {
        self.link[family.index()]
    }
}

/// OSPF on one interface of the node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OspfInterface {
    /// The interface (the node's end of the link).
    pub ifname: String,
    /// The node at the other end.
    pub peer: String,
    /// The area id.
    pub area: u32,
    /// The interface cost: the link's `cost`.
    pub cost: u32,
    /// Hello interval (whole seconds).
    pub hello: Duration,
    /// Router dead interval (whole seconds).
    pub dead: Duration,
    /// BFD on the adjacency.
    pub bfd: Option<Bfd>,
    /// The link in the plan.
    pub span: Span,
}

/// One BGP session of the node, of one family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BgpNeighbour {
    /// The peer's plan name.
    pub peer: String,
    /// The session's family: its transport and the routes it carries.
    pub family: Family,
    /// The peer's address: its address on the shared link or LAN, or its
    /// loopback.
    pub address: IpAddr,
    /// The local address the session is made from.
    pub source: IpAddr,
    /// The interface the session runs over (link sessions), for BFD.
    pub ifname: Option<String>,
    /// The node's AS number.
    pub local_as: u32,
    /// The peer's AS number.
    pub peer_as: u32,
    /// Link or loopback.
    pub over: BgpTransport,
    /// Keepalive interval.
    pub keepalive: Duration,
    /// Hold time.
    pub hold: Duration,
    /// BFD on the session.
    pub bfd: Option<Bfd>,
    /// What the node does to the routes it announces to the peer (prefix
    /// filter, MED, prepend, communities), this family's prefixes only.
    pub export: Policy,
    /// What the node does to the routes it learns from the peer (prefix
    /// filter, LOCAL_PREF), this family's prefixes only.
    pub import: Policy,
    /// The session in the plan.
    pub span: Span,
}

impl BgpNeighbour {
    /// Whether the session is iBGP (the same AS at both ends).
    pub fn internal(&self) -> bool {
        self.local_as == self.peer_as
    }

    /// The session's name in the daemon's own terms where it has one
    /// (BIRD's protocol name, `bgp_<peer>_<4|6>` with `-` as `_`), also
    /// what readiness polls for. Node names are `[a-z][a-z0-9-]*`, so the
    /// name is unique per node and a valid BIRD symbol.
    pub fn protocol(&self) -> String {
        format!("bgp_{}_{}", symbol(&self.peer), self.family.digit())
    }
}

/// A node name as a daemon symbol: `-` becomes `_` (node names have no
/// `_`, so two names never collide).
pub fn symbol(name: &str) -> String {
    name.replace('-', "_")
}

/// One direction's policy as one end applies it, for one family.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Policy {
    /// Only these prefixes pass (exact matches); `None`: every route. An
    /// empty list passes nothing (the plan listed only the other family's).
    pub prefixes: Option<Vec<IpNet>>,
    /// LOCAL_PREF to set (import only).
    pub local_pref: Option<u32>,
    /// MED to set (export only).
    pub med: Option<u32>,
    /// How many extra times to prepend the node's AS (export only).
    pub prepend: u8,
    /// Communities to add (export only).
    pub communities: Vec<(u16, u16)>,
}

impl Policy {
    /// The announcing end's half of `p` for `family`.
    pub fn export(p: &BgpPolicy, family: Family) -> Policy {
        Policy {
            prefixes: only(p, family),
            local_pref: None,
            med: p.med,
            prepend: p.prepend,
            communities: p.communities.clone(),
        }
    }

    /// The receiving end's half of `p` for `family`.
    pub fn import(p: &BgpPolicy, family: Family) -> Policy {
        Policy {
            prefixes: only(p, family),
            local_pref: p.local_pref,
            ..Policy::default()
        }
    }

    /// Whether it changes or filters nothing.
    pub fn is_empty(&self) -> bool {
        *self == Policy::default()
    }
}

/// `p`'s prefix list cut to `family`'s prefixes (`None` stays `None`:
/// no filter).
fn only(p: &BgpPolicy, family: Family) -> Option<Vec<IpNet>> {
    p.prefixes
        .as_ref()
        .map(|ps| ps.iter().copied().filter(|n| family.holds(n)).collect())
}

/// Something the node originates, with where the plan lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origination {
    /// What.
    pub what: Originate,
    /// The node in the plan (`originate` is one of its keys).
    pub span: Span,
}

impl Origination {
    /// The prefixes it stands for, lazily (a generated block may be a
    /// million), of `family`; the loopback's are the node's /32 or /128.
    pub fn prefixes<'a>(
        &'a self,
        intent: &'a RouterIntent,
        family: Family,
    ) -> Box<dyn Iterator<Item = IpNet> + 'a> {
        match &self.what {
            Originate::Loopback => Box::new(
                [
                    IpNet::from(IpAddr::V4(intent.loopback_v4)),
                    IpNet::from(IpAddr::V6(intent.loopback_v6)),
                ]
                .into_iter()
                .filter(move |n| family.holds(n)),
            ),
            Originate::Prefix(p) => Box::new(Some(*p).filter(|n| family.holds(n)).into_iter()),
            Originate::Generated {
                count,
                within,
                length,
            } => match within.subnets(*length) {
                Ok(subnets) if family.holds(within) => Box::new(subnets.take(*count as usize)),
                _ => Box::new(std::iter::empty()),
            },
        }
    }
}

impl RouterIntent {
    /// The node's loopback of `family` as a host prefix (/32 or /128).
    pub fn loopback(&self, family: Family) -> IpNet {
        IpNet::from(match family {
            Family::V4 => IpAddr::V4(self.loopback_v4),
            Family::V6 => IpAddr::V6(self.loopback_v6),
        })
    }

    /// Whether it originates its loopbacks into BGP.
    pub fn originates_loopback(&self) -> bool {
        self.originate.iter().any(|o| o.what == Originate::Loopback)
    }

    /// Whether it originates anything besides its loopbacks in `family`
    /// (what needs a static protocol).
    pub fn originates_static(&self, family: Family) -> bool {
        self.originate.iter().any(|o| match &o.what {
            Originate::Loopback => false,
            Originate::Prefix(p) => family.holds(p),
            Originate::Generated { within, .. } => family.holds(within),
        })
    }

    /// Every BFD setting it uses, per interface, for daemons that configure
    /// BFD per interface (BIRD): the link's own, else the session's.
    pub fn bfd_interfaces(&self) -> Vec<(String, Bfd)> {
        let mut out: Vec<(String, Bfd)> = Vec::new();
        let ospf = self
            .ospf
            .iter()
            .filter_map(|o| Some((o.ifname.clone(), o.bfd?)));
        let bgp = self
            .bgp
            .iter()
            .filter_map(|b| Some((b.ifname.clone()?, b.bfd?)));
        for (ifname, bfd) in ospf.chain(bgp) {
            if !out.iter().any(|(i, _)| *i == ifname) {
                out.push((ifname, bfd));
            }
        }
        out
    }

    /// Whether anything on the node runs BFD.
    pub fn runs_bfd(&self) -> bool {
        self.ospf.iter().any(|o| o.bfd.is_some()) || self.bgp.iter().any(|b| b.bfd.is_some())
    }
}

/// Where a node attaches to a link or LAN it shares with a peer: its
/// interface and both ends' addresses of each family.
struct Shared {
    ifname: String,
    local: [IpAddr; 2],
    peer: [IpAddr; 2],
}

/// How `node` reaches `peer` one hop away: their link if they have one
/// (at most one joins a pair), else the first LAN they are both on.
fn shared(bp: &Blueprint, node: usize, peer: usize) -> Option<Shared> {
    let g = &bp.graph;
    let f = &bp.fabric;
    for (i, l) in g.links.iter().enumerate() {
        let end = if (l.a, l.b) == (node, peer) {
            End::A
        } else if (l.a, l.b) == (peer, node) {
            End::B
        } else {
            continue;
        };
        let addrs = f.addressing.links[i].end_addresses();
        return Some(Shared {
            ifname: f.naming.interface(i, end)?.to_string(),
            local: addrs[end.index()],
            peer: addrs[end.other().index()],
        });
    }
    for (i, lan) in f.addressing.lans.iter().enumerate() {
        let (Some(me), Some(them)) = (lan.position(node), lan.position(peer)) else {
            continue;
        };
        return Some(Shared {
            ifname: f.naming.dev(node, Dev::Lan(i))?.to_string(),
            local: [IpAddr::V4(lan.v4[me]), IpAddr::V6(lan.v6[me])],
            peer: [IpAddr::V4(lan.v4[them]), IpAddr::V6(lan.v6[them])],
        });
    }
    None
}

/// The intent of every daemon-owned node of `plan`, in plan order.
pub(crate) fn derive(plan: &Plan, bp: &Blueprint) -> Result<Vec<RouterIntent>, ConfigError> {
    let index = |name: &str| plan.nodes.iter().position(|n| n.name == name);
    let mut out = Vec::new();
    for (i, node) in plan.nodes.iter().enumerate() {
        let daemon = match (node.routing, node.bgp_speaker) {
            (Routing::Daemon(d), _) => d,
            // A speaker always runs BIRD: only its kernel protocol writes
            // another table with attributes a filter sets (docs/cdn.md).
            (Routing::Static, Some(_)) => Daemon::Bird,
            (Routing::Static, None) => continue,
        };
        let addrs = &bp.fabric.addressing.nodes[i];
        let mut ospf = Vec::new();
        for (k, link) in plan.links.iter().enumerate() {
            let Some(o) = &link.ospf else { continue };
            let g = &bp.graph.links[k];
            let end = if g.a == i {
                End::A
            } else if g.b == i {
                End::B
            } else {
                continue;
            };
            ospf.push(OspfInterface {
                ifname: bp
                    .fabric
                    .naming
                    .interface(k, end)
                    .unwrap_or_default()
                    .to_string(),
                peer: link.ends[end.other().index()].clone(),
                area: o.area,
                cost: link.cost,
                hello: o.hello,
                dead: o.dead,
                bfd: link.bfd,
                span: link.span,
            });
        }
        let mut bgp = Vec::new();
        for s in &plan.bgp {
            let Some(me) = s.ends.iter().position(|e| *e == node.name) else {
                continue;
            };
            let peer_name = &s.ends[1 - me];
            let asn_of = |name: &str| {
                plan.node(name)
                    .and_then(|n| n.asn)
                    .ok_or_else(|| ConfigError::NoAsn {
                        node: name.to_string(),
                        span: s.span,
                    })
            };
            let (local_as, peer_as) = (asn_of(&node.name)?, asn_of(peer_name)?);
            let peer = index(peer_name).ok_or_else(|| ConfigError::NotNeighbours {
                ends: s.ends.clone(),
                span: s.span,
            })?;
            // a_to_b is what ends[0] announces: its export, ends[1]'s import.
            let (out_policy, in_policy) = if me == 0 {
                (&s.a_to_b, &s.b_to_a)
            } else {
                (&s.b_to_a, &s.a_to_b)
            };
            let (link_bfd, ifname, local, remote) = match s.over {
                BgpTransport::Link => {
                    let sh = shared(bp, i, peer).ok_or_else(|| ConfigError::NotNeighbours {
                        ends: s.ends.clone(),
                        span: s.span,
                    })?;
                    let link_bfd = plan
                        .links
                        .iter()
                        .find(|l| l.ends.contains(&node.name) && l.ends.contains(peer_name))
                        .and_then(|l| l.bfd);
                    (link_bfd, Some(sh.ifname), sh.local, sh.peer)
                }
                BgpTransport::Loopback => {
                    let p = &bp.fabric.addressing.nodes[peer];
                    (
                        None,
                        None,
                        [IpAddr::V4(addrs.loopback_v4), IpAddr::V6(addrs.loopback_v6)],
                        [IpAddr::V4(p.loopback_v4), IpAddr::V6(p.loopback_v6)],
                    )
                }
            };
            for (f, family) in Family::BOTH.into_iter().enumerate() {
                bgp.push(BgpNeighbour {
                    peer: peer_name.clone(),
                    family,
                    address: remote[f],
                    source: local[f],
                    ifname: ifname.clone(),
                    local_as,
                    peer_as,
                    over: s.over,
                    keepalive: s.keepalive,
                    hold: s.hold,
                    // The session's own BFD; a link's BFD protects the
                    // sessions over it too (the plan language says so).
                    bfd: s.bfd.or(link_bfd),
                    export: Policy::export(out_policy, family),
                    import: Policy::import(in_policy, family),
                    span: s.span,
                });
            }
        }
        let mut attached = Vec::new();
        for (k, link) in plan.links.iter().enumerate() {
            let g = &bp.graph.links[k];
            let (end, other) = if g.a == i {
                (End::A, g.b)
            } else if g.b == i {
                (End::B, g.a)
            } else {
                continue;
            };
            if plan.nodes[other].routing != Routing::Static {
                continue;
            }
            let la = &bp.fabric.addressing.links[k];
            let addrs = la.end_addresses();
            let net = |p: crate::fabric::Prefix| IpNet::new(p.addr, p.len).ok();
            let peer = &bp.fabric.addressing.nodes[other];
            let (Some(v4), Some(v6)) = (net(la.subnet_v4()), net(la.subnet_v6())) else {
                continue;
            };
            attached.push(Attached {
                peer: plan.nodes[other].name.clone(),
                ifname: bp
                    .fabric
                    .naming
                    .interface(k, end)
                    .unwrap_or_default()
                    .to_string(),
                gateway: addrs[end.other().index()],
                loopbacks: [
                    IpNet::from(IpAddr::V4(peer.loopback_v4)),
                    IpNet::from(IpAddr::V6(peer.loopback_v6)),
                ],
                link: [v4, v6],
                span: link.span,
            });
        }
        // Nodes on a LAN with this one whose routes the fabric owns: the
        // same as a link's far end, reached at its address on the LAN.
        for (k, lan) in bp.fabric.addressing.lans.iter().enumerate() {
            let Some(me) = lan.position(i) else { continue };
            let Some(ifname) = bp.fabric.naming.dev(i, Dev::Lan(k)) else {
                continue;
            };
            let (Some(v4), Some(v6)) = (
                IpNet::new(lan.prefix_v4.addr, lan.prefix_v4.len).ok(),
                IpNet::new(lan.prefix_v6.addr, lan.prefix_v6.len).ok(),
            ) else {
                continue;
            };
            for (pos, &other) in lan.members.iter().enumerate() {
                if pos == me || plan.nodes[other].routing != Routing::Static {
                    continue;
                }
                let peer = &bp.fabric.addressing.nodes[other];
                attached.push(Attached {
                    peer: plan.nodes[other].name.clone(),
                    ifname: ifname.to_string(),
                    gateway: [IpAddr::V4(lan.v4[pos]), IpAddr::V6(lan.v6[pos])],
                    loopbacks: [
                        IpNet::from(IpAddr::V4(peer.loopback_v4)),
                        IpNet::from(IpAddr::V6(peer.loopback_v6)),
                    ],
                    link: [v4, v6],
                    span: plan.lans[k].span,
                });
            }
        }
        if node.bgp_speaker.is_some() {
            // The fabric routes the node: no static routes in the daemon.
            attached.clear();
        }
        out.push(RouterIntent {
            speaker: node.bgp_speaker,
            attached,
            node: node.name.clone(),
            daemon,
            span: node.span,
            router_id: addrs.loopback_v4,
            loopback_v4: addrs.loopback_v4,
            loopback_v6: addrs.loopback_v6,
            asn: node.asn,
            ospf,
            bgp,
            withdrawn: Vec::new(),
            internal_loopbacks: plan
                .bgp
                .iter()
                .filter_map(|s| {
                    let me = s.ends.iter().position(|e| *e == node.name)?;
                    let peer = plan.node(&s.ends[1 - me])?;
                    let peer_index = index(&peer.name)?;
                    (peer.asn == node.asn && peer.originate.contains(&Originate::Loopback))
                        .then_some(peer_index)
                })
                .flat_map(|p| {
                    let a = &bp.fabric.addressing.nodes[p];
                    [
                        IpNet::from(IpAddr::V4(a.loopback_v4)),
                        IpNet::from(IpAddr::V6(a.loopback_v6)),
                    ]
                })
                .collect(),
            originate: node
                .originate
                .iter()
                .map(|o| Origination {
                    what: o.clone(),
                    span: node.span,
                })
                .collect(),
        });
    }
    Ok(out)
}
