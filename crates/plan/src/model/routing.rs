//! Routing intent: who owns a node's routes, and what the routing
//! protocols on it should do.
//!
//! The plan names the intent (an AS number, links that run OSPF, BGP
//! sessions with simple policies, prefixes to originate), never a daemon's
//! syntax; the lab renders it for BIRD or FRR. Every value here has been
//! validated against the topology: sessions join nodes that have an AS and
//! can reach each other, prefixes are networks inside the lab ranges, and
//! timers are consistent.

use std::time::Duration;

use super::{IpNet, Span};

/// Who owns a node's routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Routing {
    /// The lab computes the node's routes (shortest paths, the plan's
    /// `[[route]]`s on top), installs them, and puts them back after a
    /// fault (the default).
    #[default]
    Static,
    /// A routing daemon on the node owns its routes: the lab installs only
    /// its connected and loopback routes and never touches the rest.
    Daemon(Daemon),
}

/// A routing daemon that can own a node's routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Daemon {
    /// BIRD 2 (`routing = "bird"`; the default daemon).
    #[default]
    Bird,
    /// FRRouting (`routing = "frr"`).
    Frr,
}

impl Routing {
    /// The value as the plan writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Routing::Static => "static",
            Routing::Daemon(d) => d.as_str(),
        }
    }
}

impl Daemon {
    /// The value as the plan writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Daemon::Bird => "bird",
            Daemon::Frr => "frr",
        }
    }
}

/// A node that speaks BGP beside static routes (`bgp_speaker`): the lab
/// computes and installs its routes as for any static node, and BIRD on
/// the node runs its BGP sessions without touching its main table. It
/// announces what it originates (the ISP router of a CDN lab) and, with a
/// `table`, writes what it learns into that kernel table with the BGP
/// attributes encoded in the route (an edge that reports its routes: see
/// docs/cdn.md, "Routes learned over BGP").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BgpSpeaker {
    /// The kernel routing table learned routes go to; `None`: nowhere.
    pub table: Option<u32>,
    /// Whether the node announces anything (`false`: a receive-only
    /// session, as an Open Connect appliance holds with its ISP).
    pub announce: bool,
    /// Where `bgp_speaker` is written.
    pub span: Span,
}

/// What a node originates into its routing protocols.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Originate {
    /// The node's loopback addresses (its /32 and /128).
    Loopback,
    /// One prefix.
    Prefix(IpNet),
    /// `count` prefixes of length `length`, the first ones inside `within`
    /// in address order (for table-size and convergence-under-load tests).
    Generated {
        /// How many.
        count: u32,
        /// The block they are taken from.
        within: IpNet,
        /// Their length.
        length: u8,
    },
}

/// OSPF on a link (OSPFv2 for IPv4 and OSPFv3 for IPv6), with the link's
/// `cost` as the interface cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ospf {
    /// The area, as a 32-bit id (`0` is the backbone).
    pub area: u32,
    /// Hello interval.
    pub hello: Duration,
    /// Router dead interval.
    pub dead: Duration,
}

/// OSPF's default hello interval (RFC 2328 appendix C.3).
pub const OSPF_HELLO: Duration = Duration::from_secs(10);
/// OSPF's default router dead interval (four hellos).
pub const OSPF_DEAD: Duration = Duration::from_secs(40);

/// Bidirectional Forwarding Detection (RFC 5880) on a link's sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bfd {
    /// The desired transmit and required receive interval.
    pub interval: Duration,
    /// How many intervals without a packet declare the peer down.
    pub multiplier: u8,
}

/// BFD's defaults here: 300 ms, three missed (FRR's defaults; BIRD is told
/// the same so both daemons detect a failure in 900 ms).
pub const BFD_DEFAULT: Bfd = Bfd {
    interval: Duration::from_millis(300),
    multiplier: 3,
};

/// A BGP session between two nodes that have an AS number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BgpSession {
    /// The two ends, as node names in the order the plan wrote them.
    pub ends: [String; 2],
    /// How the ends reach each other.
    pub over: BgpTransport,
    /// Keepalive interval.
    pub keepalive: Duration,
    /// Hold time (zero: no keepalives, RFC 4271 section 4.2).
    pub hold: Duration,
    /// BFD on the session (over a link only).
    pub bfd: Option<Bfd>,
    /// What happens to routes `ends[0]` announces to `ends[1]`.
    pub a_to_b: BgpPolicy,
    /// What happens to routes `ends[1]` announces to `ends[0]`.
    pub b_to_a: BgpPolicy,
    /// Where the session is defined.
    pub span: Span,
}

/// BGP's default keepalive (RFC 4271 section 10: a third of the hold time).
pub const BGP_KEEPALIVE: Duration = Duration::from_secs(60);
/// BGP's default hold time (RFC 4271 section 10).
pub const BGP_HOLD: Duration = Duration::from_secs(180);

/// How the two ends of a BGP session reach each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BgpTransport {
    /// The addresses of the link or LAN they share (eBGP's usual way).
    Link,
    /// Their loopback addresses, reached through the IGP (iBGP's way).
    Loopback,
}

/// What happens to the routes one end of a session announces to the
/// other: the announcing end's export filter and the receiving end's
/// import filter, written as one intent.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BgpPolicy {
    /// Only these prefixes (exact matches) pass; `None`: every route.
    pub prefixes: Option<Vec<IpNet>>,
    /// LOCAL_PREF the receiving end sets (iBGP carries it on).
    pub local_pref: Option<u32>,
    /// MULTI_EXIT_DISC the announcing end sets.
    pub med: Option<u32>,
    /// How many extra times the announcing end prepends its AS.
    pub prepend: u8,
    /// Standard communities (`ASN:VALUE`) the announcing end adds.
    pub communities: Vec<(u16, u16)>,
}

impl BgpPolicy {
    /// Whether the policy changes or filters anything.
    pub fn is_empty(&self) -> bool {
        *self == BgpPolicy::default()
    }
}
