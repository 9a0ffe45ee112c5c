//! Steps: what a case does, told apart by each step's `kind`.
//!
//! A step is either a [`NodeAction`] (a probe or a command, done *from* a
//! node) or a [`Fault`] (done *to* the lab). Faults name links and nodes by
//! [`LinkId`] and [`NodeId`], which only validation makes, so whatever acts
//! on a fault never looks a name up and never meets one that does not exist.

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::{Arg, BgpPolicy, ByteRange, DnsName, IpNet, LinkImpairments, RecordType, Span, Url};

/// A node of the plan: its position in [`Plan::nodes`](super::Plan::nodes)
/// and its name. Made only by validation, so it always names a node of the
/// plan it came from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NodeId {
    index: usize,
    name: String,
}

impl NodeId {
    pub(crate) fn new(index: usize, name: String) -> NodeId {
        NodeId { index, name }
    }

    /// The node's position in the plan's nodes (and the lab's).
    pub fn index(&self) -> usize {
        self.index
    }

    /// The node's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// A link of the plan: its position in [`Plan::links`](super::Plan::links)
/// and its two ends in the order the plan wrote them. Made only by
/// validation, so it always names a link of the plan it came from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LinkId {
    index: usize,
    ends: [String; 2],
}

impl LinkId {
    pub(crate) fn new(index: usize, ends: [String; 2]) -> LinkId {
        LinkId { index, ends }
    }

    /// The link's position in the plan's links (and the lab's).
    pub fn index(&self) -> usize {
        self.index
    }

    /// The link's two ends, as the plan's `[[link]]` wrote them.
    pub fn ends(&self) -> &[String; 2] {
        &self.ends
    }
}

impl fmt::Display for LinkId {
    /// `a--b`, as plans name links.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}--{}", self.ends[0], self.ends[1])
    }
}

/// One step of a case.
///
/// Timing: a step without `at` starts when the step before it in the list
/// (that also has no `at`) has finished, so such steps form a sequence. A
/// step with `at` starts at that offset from the start of the timeline and
/// runs in parallel with everything else. With `every`, the step's action
/// repeats at that interval until `for` has elapsed or `count` actions have
/// run, whichever comes first.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// A name for the step, unique in its case; labels its samples (`step`).
    /// Defaults to `<kind>-<n>` where n counts from 1 in the list.
    pub name: String,
    /// Offset from the start of the timeline, if the step is timed.
    pub at: Option<Duration>,
    /// Interval between repeated actions, if the step repeats.
    pub every: Option<Duration>,
    /// How long to keep repeating (with `every`).
    pub duration: Option<Duration>,
    /// How many actions to run at most (with `every`; 1 without it).
    pub count: Option<u32>,
    /// Limit on each single action.
    pub timeout: Duration,
    /// What the step does.
    pub action: Action,
    /// Keys whose values earlier steps' results give at run time.
    pub refs: Vec<super::StepRef>,
    /// Where the step is defined.
    pub span: Span,
}

/// What a step does: something done from a node, or a fault done to the
/// lab.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// A probe or a command, run from a node.
    Node(NodeAction),
    /// `kind = "fault"`: change the lab (a link down, a node stopped, ...).
    Fault(Fault),
}

/// What a step does from a node; told apart by the step's `kind` key.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeAction {
    /// `kind = "exec"`: run a command on a node.
    Exec(Exec),
    /// `kind = "tcp_connect"`: time TCP handshakes to a node's port.
    TcpConnect(TcpConnect),
    /// `kind = "udp_echo"`: a series of UDP packets to a netproof echo
    /// responder: RTT, loss, duplicates, reordering, jitter.
    UdpEcho(UdpEcho),
    /// `kind = "ping"`: a series of ICMP echo requests.
    Ping(Ping),
    /// `kind = "http"`: HTTP(S) requests timed phase by phase, or an
    /// open-loop load at a request rate.
    Http(Http),
    /// `kind = "throughput"`: an iperf3-compatible TCP or UDP throughput
    /// test against an iperf3 server.
    Throughput(Throughput),
    /// `kind = "dns"`: DNS queries to a server, with EDNS Client Subnet.
    Dns(Dns),
    /// `kind = "pktgen"`: UDP frames at an exact rate, or a burst, with
    /// sequence numbers and send times, to a receiver on another node.
    Pktgen(super::Pktgen),
    /// `kind = "search"`: a trial step repeated while a binary search
    /// moves one of its keys.
    Search(super::Search),
    /// `kind = "rfc6349"`: RFC 6349's TCP throughput test.
    Rfc6349(super::Rfc6349),
    /// `kind = "rrul"`: TCP flows each way with latency probes beside
    /// them (flent's RRUL).
    Rrul(super::Rrul),
    /// `kind = "rpm"`: responsiveness under working conditions.
    Rpm(super::Rpm),
    /// `kind = "abr"`: a streaming video session.
    Abr(super::Abr),
}

/// A series of DNS queries from one node to one server.
#[derive(Debug, Clone, PartialEq)]
pub struct Dns {
    /// The node that asks (its address is the source).
    pub from: String,
    /// The server.
    pub server: Target,
    /// The server's port (53 unless `server` names one).
    pub port: u16,
    /// The name asked about (`qname`), fully qualified.
    pub name: DnsName,
    /// The record type (`A`, `AAAA`, `TXT`, ...).
    pub rtype: RecordType,
    /// The EDNS Client Subnet source prefix: a network address with no
    /// bits set beyond its length.
    pub subnet: Option<IpNet>,
    /// UDP (with TCP after a truncated answer) or TCP only.
    pub transport: Transport,
    /// Queries in the series.
    pub queries: u32,
    /// Time between the starts of two queries.
    pub interval: Duration,
    /// UDP: how long each try waits for its answer; TCP: the limit on
    /// the whole exchange.
    pub wait: Duration,
    /// UDP sends per query.
    pub tries: u32,
}

/// The transport of a throughput test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// TCP streams.
    Tcp,
    /// UDP streams at a target rate.
    Udp,
}

/// An iperf3-compatible throughput test from one node.
#[derive(Debug, Clone, PartialEq)]
pub struct Throughput {
    /// The node that runs the client (its address is the source).
    pub from: String,
    /// The iperf3 server.
    pub to: Target,
    /// The server's port (5201 unless `to` names one).
    pub port: u16,
    /// TCP or UDP.
    pub protocol: Transport,
    /// Parallel streams.
    pub streams: u16,
    /// How long data flows.
    pub duration: Duration,
    /// The server sends (iperf3's `-R`).
    pub reverse: bool,
    /// Target rate per stream in bits/s; `None`: unlimited for TCP, 1 Mbit/s for UDP.
    pub rate: Option<u64>,
    /// Block (TCP) or datagram (UDP) size in bytes; `None` for iperf3's default.
    pub length: Option<usize>,
    /// Stop after this many bytes over all streams, if reached first.
    pub bytes: Option<u64>,
    /// Time between goodput samples.
    pub interval: Duration,
}

/// HTTP(S) requests from one node. The address connected to, the Host
/// header and the TLS server name are set independently.
#[derive(Debug, Clone, PartialEq)]
pub struct Http {
    /// The node that connects.
    pub from: String,
    /// The URL (scheme, host, port, path and query).
    pub url: Url,
    /// Where to connect: the URL's host when it is a node or an address,
    /// else the step's `to`.
    pub to: Target,
    /// The port connected to.
    pub port: u16,
    /// The Host header (HTTP/2 `:authority`).
    pub host: String,
    /// The TLS server name; `None` sends no SNI (`sni = false`).
    pub sni: Option<String>,
    /// The CA certificates to verify the server against.
    pub ca: Option<CaFile>,
    /// Accept any certificate (still recorded).
    pub insecure: bool,
    /// HTTP/2 (ALPN `h2` for https, prior knowledge for http).
    pub http2: bool,
    /// A byte range to ask for.
    pub range: Option<ByteRange>,
    /// Check every body against the reference CDN's synthetic catalogue
    /// whose seed this is (`verify = { seed = N }`): the URL's path names
    /// a catalogue file, whose bytes any range of must equal.
    pub verify: Option<u64>,
    /// Requests one after another, each on a fresh connection (without
    /// `rate`); at most this many in load mode.
    pub requests: u32,
    /// Limit on each request.
    pub request_timeout: Duration,
    /// Load mode, when `rate` is set.
    pub load: Option<HttpLoad>,
}

/// Where an `http` step's trusted CA certificates are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaFile {
    /// A PEM file (relative to the plan's directory, already joined).
    Path(PathBuf),
    /// `ca = "{lab_ca}"`: the CA the lab made for its CDN services'
    /// certificates.
    Lab,
}

/// Open-loop load for an `http` step.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpLoad {
    /// Connections, each with one request in flight at most.
    pub connections: u32,
    /// Requests per second offered.
    pub rate: u32,
    /// No request is scheduled after this long.
    pub duration: Duration,
}

/// A series of ICMP echo requests from one node.
#[derive(Debug, Clone, PartialEq)]
pub struct Ping {
    /// The node that sends (its address is the source).
    pub from: String,
    /// What is pinged: a node (its IPv4 address) or a literal address.
    pub to: Target,
    /// Requests in a series.
    pub packets: u32,
    /// Time between two requests.
    pub interval: Duration,
    /// ICMP payload size in bytes.
    pub size: usize,
    /// How long to wait for replies after the last request.
    pub wait: Duration,
}

/// A series of echo packets from one node to a responder.
#[derive(Debug, Clone, PartialEq)]
pub struct UdpEcho {
    /// The node that sends (its address is the source).
    pub from: String,
    /// The responder.
    pub to: Target,
    /// The responder's port.
    pub port: u16,
    /// Packets in a series.
    pub packets: u32,
    /// Time between two packets.
    pub interval: Duration,
    /// Size of each UDP payload in bytes.
    pub size: usize,
    /// How long to wait for replies after the last packet (with
    /// `convergence`, for each packet's reply before it counts as lost).
    pub wait: Duration,
    /// `convergence = true`: the series is a steady stream across a
    /// failure; loss is its measurement (`convergence.*` metrics), not a
    /// step failure.
    pub convergence: bool,
}

impl Action {
    /// The step kind's name, as written in plans and used as metric prefix.
    pub fn kind(&self) -> &'static str {
        match self {
            Action::Node(a) => a.kind(),
            Action::Fault(_) => "fault",
        }
    }

    /// The node the step acts on or from (for a fault: the node it
    /// stops or starts, the first end of its first link, or nothing for
    /// `restore`).
    pub fn node(&self) -> &str {
        match self {
            Action::Node(a) => a.node(),
            Action::Fault(f) => f.node(),
        }
    }
}

impl NodeAction {
    /// The step kind's name, as written in plans and used as metric prefix.
    pub fn kind(&self) -> &'static str {
        match self {
            NodeAction::Exec(_) => "exec",
            NodeAction::TcpConnect(_) => "tcp_connect",
            NodeAction::UdpEcho(_) => "udp_echo",
            NodeAction::Ping(_) => "ping",
            NodeAction::Throughput(_) => "throughput",
            NodeAction::Http(_) => "http",
            NodeAction::Dns(_) => "dns",
            NodeAction::Pktgen(_) => "pktgen",
            NodeAction::Search(_) => "search",
            NodeAction::Rfc6349(_) => "rfc6349",
            NodeAction::Rrul(_) => "rrul",
            NodeAction::Rpm(_) => "rpm",
            NodeAction::Abr(_) => "abr",
        }
    }

    /// The node the action runs on or from.
    pub fn node(&self) -> &str {
        match self {
            NodeAction::Exec(e) => &e.node,
            NodeAction::TcpConnect(t) => &t.from,
            NodeAction::UdpEcho(u) => &u.from,
            NodeAction::Ping(p) => &p.from,
            NodeAction::Throughput(t) => &t.from,
            NodeAction::Http(h) => &h.from,
            NodeAction::Dns(d) => &d.from,
            NodeAction::Pktgen(p) => &p.from,
            NodeAction::Search(s) => s.trial.node(),
            NodeAction::Rfc6349(r) => &r.from,
            NodeAction::Rrul(r) => &r.from,
            NodeAction::Rpm(r) => &r.from,
            NodeAction::Abr(a) => &a.from,
        }
    }
}

/// Runs a command on a node.
#[derive(Debug, Clone, PartialEq)]
pub struct Exec {
    /// The node to run on.
    pub node: String,
    /// The command and its arguments.
    pub command: Vec<Arg>,
    /// Environment variables to set; values take the same placeholders as
    /// arguments (`{addr:NODE}`, `{netproof}`).
    pub env: Vec<(String, Arg)>,
}

/// Times TCP handshakes from one node to another node's port.
#[derive(Debug, Clone, PartialEq)]
pub struct TcpConnect {
    /// The node that connects (its address is the source address).
    pub from: String,
    /// What is connected to.
    pub to: Target,
    /// The port connected to.
    pub port: u16,
}

/// A fault injected into the running lab. Each fault is recorded as an
/// event at the time it happens; the lab returns to the plan's state after
/// every case.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// `link_down` (one link) or `partition` (several at once): both ends
    /// set administratively down, as a pulled cable; the two end nodes
    /// withdraw their routes through it (static routes elsewhere stay).
    LinkDown {
        /// The links.
        links: Vec<LinkId>,
    },
    /// `link_up`: the links back up, their routes reinstalled.
    LinkUp {
        /// The links.
        links: Vec<LinkId>,
    },
    /// `link_blackhole`: every frame dropped with the carrier up, a failure
    /// routing does not see (an emulated link); `link_up` or `restore`
    /// ends it.
    LinkBlackhole {
        /// The link.
        link: LinkId,
    },
    /// `link_flap`: down for half a period, up for half, `flaps` times.
    LinkFlap {
        /// The link.
        link: LinkId,
        /// One down-and-up cycle.
        period: Duration,
        /// How many cycles.
        flaps: u32,
    },
    /// `link_set`: change a link's properties while the lab runs; what it
    /// sets replaces the link's setting, the rest stays.
    LinkSet {
        /// The link.
        link: LinkId,
        /// The changes.
        change: Box<LinkImpairments>,
    },
    /// `node_stop`: stop the node's services (SIGTERM, then SIGKILL).
    NodeStop {
        /// The node.
        node: NodeId,
    },
    /// `node_kill`: kill the node's services at once (SIGKILL).
    NodeKill {
        /// The node.
        node: NodeId,
    },
    /// `node_start`: start the node's stopped services again.
    NodeStart {
        /// The node.
        node: NodeId,
    },
    /// `route_withdraw`: a daemon-owned node stops originating one of the
    /// prefixes (or generated blocks) its `originate` lists.
    RouteWithdraw {
        /// The node.
        node: NodeId,
        /// The prefix, as `originate` lists it (a generated block by its
        /// `within`).
        prefix: IpNet,
    },
    /// `route_announce`: the node originates a withdrawn prefix again.
    RouteAnnounce {
        /// The node.
        node: NodeId,
        /// The prefix, as `originate` lists it.
        prefix: IpNet,
    },
    /// `bgp_policy`: a BGP session's policy changes while it runs; each
    /// direction given replaces that direction's policy whole.
    BgpPolicy {
        /// The session's ends, in the order its `[[bgp]]` table writes
        /// them.
        ends: [String; 2],
        /// What `ends[0]` announces to `ends[1]` from now on.
        a_to_b: Option<BgpPolicy>,
        /// What `ends[1]` announces to `ends[0]` from now on.
        b_to_a: Option<BgpPolicy>,
    },
    /// `restore`: every link up with the plan's properties, every service
    /// running.
    Restore,
}

impl Fault {
    /// The fault's name as written in plans.
    pub fn name(&self) -> &'static str {
        match self {
            Fault::LinkDown { links } if links.len() > 1 => "partition",
            Fault::LinkDown { .. } => "link_down",
            Fault::LinkUp { .. } => "link_up",
            Fault::LinkBlackhole { .. } => "link_blackhole",
            Fault::LinkFlap { .. } => "link_flap",
            Fault::LinkSet { .. } => "link_set",
            Fault::NodeStop { .. } => "node_stop",
            Fault::NodeKill { .. } => "node_kill",
            Fault::NodeStart { .. } => "node_start",
            Fault::RouteWithdraw { .. } => "route_withdraw",
            Fault::RouteAnnounce { .. } => "route_announce",
            Fault::BgpPolicy { .. } => "bgp_policy",
            Fault::Restore => "restore",
        }
    }

    /// The node the fault concerns, or `""` for `restore`.
    pub fn node(&self) -> &str {
        match self {
            Fault::LinkDown { links } | Fault::LinkUp { links } => {
                links.first().map_or("", |l| l.ends()[0].as_str())
            }
            Fault::LinkFlap { link, .. }
            | Fault::LinkSet { link, .. }
            | Fault::LinkBlackhole { link } => &link.ends()[0],
            Fault::NodeStop { node }
            | Fault::NodeKill { node }
            | Fault::NodeStart { node }
            | Fault::RouteWithdraw { node, .. }
            | Fault::RouteAnnounce { node, .. } => node.name(),
            Fault::BgpPolicy { ends, .. } => &ends[0],
            Fault::Restore => "",
        }
    }
}

/// The far end of a probe: a node of the plan or a literal address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A node, by name; its address is resolved when the lab is up.
    Node(String),
    /// A literal address (checked against the lab ranges and loopback
    /// unless `--allow-external`).
    Addr(IpAddr),
    /// A DNS name, looked up when the step runs through the step's node's
    /// own resolvers (its `resolver`); only an `http` step's URL host.
    Name(String),
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Node(n) => f.write_str(n),
            Target::Addr(a) => write!(f, "{a}"),
            Target::Name(n) => f.write_str(n),
        }
    }
}
