//! The validated plan: what a run executes.
//!
//! Everything here has been checked: node names resolve, ids are unique,
//! units are converted to canonical numbers, expectations are parsed and
//! their metrics exist. Nothing is left to resolve later. Each item keeps the
//! [`Span`] of its definition so later stages (the runner, the lab) can still
//! point a user at the line that caused a failure.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

pub use netproof_proto::link::{
    Chance, Codel, Direction, Distribution, LinkParams, Loss, QueueLimit, Rate, Reorder, Trace,
};
use netproof_sample::Unit;

mod link;
pub use link::{Impairment, LinkImpairments, PlanTrace};

/// A byte range in the plan's source text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    /// Byte offset of the first character.
    pub start: usize,
    /// Byte offset one past the last character.
    pub end: usize,
}

impl Span {
    /// A span from a byte range.
    pub fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }
}

/// Where a plan came from, kept verbatim so a run can store it and a report
/// can quote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The file the plan was read from (as given on the command line).
    pub path: PathBuf,
    /// The full text.
    pub text: String,
}

/// The lab backend a plan runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Every node is this host with its own loopback address in 127.0.0.0/8.
    /// No impairments.
    Local,
    /// Every node is its own Linux network namespace, every link a real
    /// kernel link (a veth pair; rates with `tbf`). Needs root.
    Netns,
}

impl Backend {
    /// The backend a plan runs on when neither the plan nor `--backend`
    /// names one: namespaces, the real lab.
    pub const DEFAULT: Backend = Backend::Netns;

    /// The backend a run uses: the command line's, else the plan's, else
    /// [`Backend::DEFAULT`].
    pub fn effective(flag: Option<Backend>, plan: Option<Backend>) -> Backend {
        flag.or(plan).unwrap_or(Backend::DEFAULT)
    }

    /// The name used in plans, on the command line and in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Local => "local",
            Backend::Netns => "netns",
        }
    }

    /// Parses [`Backend::as_str`]'s output; `None` for a backend this build
    /// does not have.
    pub fn from_name(name: &str) -> Option<Backend> {
        match name {
            "local" => Some(Backend::Local),
            "netns" => Some(Backend::Netns),
            _ => None,
        }
    }
}

/// A validated test plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Metadata from the `[plan]` table.
    pub meta: Meta,
    /// The backend the plan asks for, if it names one.
    pub backend: Option<Backend>,
    /// The seed the plan fixes, if any.
    pub seed: Option<u64>,
    /// Nodes in plan order.
    pub nodes: Vec<Node>,
    /// Links in plan order.
    pub links: Vec<Link>,
    /// LAN segments in plan order.
    pub lans: Vec<Lan>,
    /// Static routes the plan sets, on top of the computed ones.
    pub routes: Vec<StaticRoute>,
    /// Services in plan order.
    pub services: Vec<Service>,
    /// Cases in plan order.
    pub cases: Vec<Case>,
    /// The source the plan was parsed from.
    pub source: Source,
}

impl Plan {
    /// Looks a node up by name.
    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// Looks a service up by name.
    pub fn service(&self, name: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.name == name)
    }

    /// Looks a case up by id.
    pub fn case(&self, id: &str) -> Option<&Case> {
        self.cases.iter().find(|c| c.id == id)
    }

    /// Whether link `i` (in plan order) is an emulated link on the netns
    /// backend: the plan impairs it with more than a rate, or a `link_set`
    /// fault of some case does, or a `link_blackhole` fault acts on it.
    pub fn emulated(&self, i: usize) -> bool {
        let Some(link) = self.links.get(i) else {
            return false;
        };
        let same = |l: &[String; 2]| {
            (l[0] == link.ends[0] && l[1] == link.ends[1])
                || (l[0] == link.ends[1] && l[1] == link.ends[0])
        };
        link.impairment.needs_emulator()
            || self
                .cases
                .iter()
                .flat_map(|c| c.setup.iter().chain(&c.steps).chain(&c.teardown))
                .any(|s| match &s.action {
                    Action::Fault(Fault::LinkSet { link: l, change }) => {
                        same(l) && change.needs_emulator()
                    }
                    Action::Fault(Fault::LinkBlackhole { link: l }) => same(l),
                    _ => false,
                })
    }
}

/// Plan metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct Meta {
    /// A short identifier, e.g. `steering-failover`.
    pub name: String,
    /// One sentence saying what the plan proves.
    pub summary: String,
    /// Who owns the plan (a person or team), if given.
    pub owner: Option<String>,
    /// Free-form tags for selection and grouping.
    pub tags: Vec<String>,
    /// Longer prose (Markdown) shown at the top of the report, if given.
    pub description: Option<String>,
}

/// A node: a host or router of the topology.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The node's name, unique in the plan.
    pub name: String,
    /// What the node is for.
    pub role: Role,
    /// An address the plan fixes for the node (on the local backend, a
    /// loopback address), if any.
    pub address: Option<IpAddr>,
    /// Per-namespace sysctls the plan sets on the node (netns backend), as
    /// `net.ipv4.tcp_rmem` = `4096 131072 67108864`, as the plan's table
    /// lists them.
    pub sysctl: Vec<(String, String)>,
    /// Who owns the node's routes (netns backend).
    pub routing: Routing,
    /// Where the node is defined.
    pub span: Span,
}

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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Daemon {
    /// BIRD (`routing = "bird"`).
    Bird,
    /// FRRouting (`routing = "frr"`).
    Frr,
}

impl Routing {
    /// The value as the plan writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Routing::Static => "static",
            Routing::Daemon(Daemon::Bird) => "bird",
            Routing::Daemon(Daemon::Frr) => "frr",
        }
    }
}

/// A node's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// An end host (the default).
    Host,
    /// A router: forwards between its links.
    Router,
}

/// A link between two nodes.
#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    /// The two ends, as node names (validated to exist and to differ).
    pub ends: [String; 2],
    /// Impairments the plan asks for (empty for a plain link).
    pub impairment: LinkImpairments,
    /// Maximum transmission unit in bytes, if the plan sets one.
    pub mtu: Option<u32>,
    /// The link's cost for shortest-path routing (1 unless the plan says).
    pub cost: u32,
    /// Where the link is defined.
    pub span: Span,
}

impl Link {
    /// The link's display name, `a--b`.
    pub fn name(&self) -> String {
        format!("{}--{}", self.ends[0], self.ends[1])
    }
}

/// A LAN segment: several nodes on one broadcast domain (a bridge).
#[derive(Debug, Clone, PartialEq)]
pub struct Lan {
    /// The LAN's name, unique among LANs.
    pub name: String,
    /// Its members, as node names (at least two, distinct).
    pub nodes: Vec<String>,
    /// Maximum transmission unit in bytes, if the plan sets one.
    pub mtu: Option<u32>,
    /// The cost of crossing the LAN for shortest-path routing.
    pub cost: u32,
    /// Where the LAN is defined.
    pub span: Span,
}

/// A static route the plan installs on a node (netns backend). It replaces
/// a computed route to the same prefix and adds to the others.
#[derive(Debug, Clone, PartialEq)]
pub struct StaticRoute {
    /// The node that gets the route.
    pub node: String,
    /// The destination prefix's network address.
    pub to: IpAddr,
    /// The prefix length.
    pub len: u8,
    /// The next hop: a node sharing a link or LAN with `node`.
    pub via: String,
    /// Where the route is defined.
    pub span: Span,
}

/// A long-running process started on a node when the lab comes up and
/// stopped when it goes down.
#[derive(Debug, Clone, PartialEq)]
pub struct Service {
    /// The service's name, unique in the plan.
    pub name: String,
    /// The node it runs on.
    pub node: String,
    /// The command and its arguments, placeholders still unexpanded
    /// (see [`Arg`]).
    pub command: Vec<Arg>,
    /// Environment variables to set.
    pub env: Vec<(String, String)>,
    /// How to tell the service is ready.
    pub ready: Option<Readiness>,
    /// How long to wait for readiness.
    pub ready_timeout: Duration,
    /// Where the service is defined.
    pub span: Span,
}

/// How to tell that a service is ready.
#[derive(Debug, Clone, PartialEq)]
pub enum Readiness {
    /// A TCP port on the service's node accepts connections.
    Tcp {
        /// The port.
        port: u16,
    },
    /// A command run on the service's node exits 0.
    Command {
        /// The command and its arguments.
        command: Vec<Arg>,
    },
}

/// One argument of a command, split into literal text and placeholders.
///
/// `--bind={addr:server}` is `[Text("--bind="), Addr("server")]`. The
/// placeholders are validated (the node exists) and expanded by the runner
/// once the lab knows every node's address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arg(pub Vec<ArgPart>);

/// A piece of a command argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArgPart {
    /// Literal text.
    Text(String),
    /// `{addr:NODE}`: the node's address.
    Addr(String),
    /// `{netproof}`: the path of the running netproof binary.
    Netproof,
}

impl Arg {
    /// A literal argument with no placeholders.
    pub fn literal(s: impl Into<String>) -> Self {
        Arg(vec![ArgPart::Text(s.into())])
    }

    /// Expands placeholders with `addr_of(node)`; `{netproof}` becomes the
    /// running binary's path.
    pub fn expand(&self, mut addr_of: impl FnMut(&str) -> String) -> String {
        let mut s = String::new();
        for part in &self.0 {
            match part {
                ArgPart::Text(t) => s.push_str(t),
                ArgPart::Addr(n) => s.push_str(&addr_of(n)),
                ArgPart::Netproof => s.push_str(
                    &std::env::current_exe()
                        .map(|p| p.display().to_string())
                        .unwrap_or_else(|_| "netproof".to_string()),
                ),
            }
        }
        s
    }
}

/// A test case.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    /// The case id, unique in the plan (e.g. `SF-01`).
    pub id: String,
    /// A one-line title.
    pub title: String,
    /// Why the case exists and what it proves (prose, may be multi-line).
    pub purpose: Option<String>,
    /// How many times to run the case (at least 1).
    pub repeat: u32,
    /// The whole case (setup, steps, teardown) must finish within this.
    pub timeout: Duration,
    /// Steps run one after another before the timeline; a failure skips
    /// the timeline (teardown still runs).
    pub setup: Vec<Step>,
    /// The case's timeline.
    pub steps: Vec<Step>,
    /// Steps that always run after the timeline, even after a failure.
    pub teardown: Vec<Step>,
    /// Expectations judged over the samples of each repetition.
    pub expect: Vec<Expectation>,
    /// Where the case is defined.
    pub span: Span,
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
    /// Where the step is defined.
    pub span: Span,
}

/// What a step does; told apart by the step's `kind` key.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// `kind = "exec"`: run a command on a node.
    Exec(Exec),
    /// `kind = "tcp_connect"`: time TCP handshakes to a node's port.
    TcpConnect(TcpConnect),
    /// `kind = "fault"`: change the lab (a link down, a node stopped, ...).
    Fault(Fault),
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
    /// The name asked about (`qname`), as written.
    pub name: String,
    /// The record type's name, upper case (`A`, `AAAA`, `TXT`, ...).
    pub rtype: String,
    /// The EDNS Client Subnet source prefix: a network address with no
    /// bits set beyond its length.
    pub subnet: Option<(IpAddr, u8)>,
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
    /// The URL as written (scheme, host, port, path).
    pub url: String,
    /// `https` rather than `http`.
    pub https: bool,
    /// Where to connect: the URL's host when it is a node or an address,
    /// else the step's `to`.
    pub to: Target,
    /// The port connected to.
    pub port: u16,
    /// The request's path and query.
    pub path: String,
    /// The Host header (HTTP/2 `:authority`).
    pub host: String,
    /// The TLS server name; `None` sends no SNI (`sni = false`).
    pub sni: Option<String>,
    /// A PEM file of CA certificates to verify the server against.
    pub ca: Option<PathBuf>,
    /// Accept any certificate (still recorded).
    pub insecure: bool,
    /// HTTP/2 (ALPN `h2` for https, prior knowledge for http).
    pub http2: bool,
    /// A byte range to ask for: first and last offsets (inclusive).
    pub range: Option<(u64, Option<u64>)>,
    /// Requests one after another, each on a fresh connection (without
    /// `rate`); at most this many in load mode.
    pub requests: u32,
    /// Limit on each request.
    pub request_timeout: Duration,
    /// Load mode, when `rate` is set.
    pub load: Option<HttpLoad>,
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
    /// How long to wait for replies after the last packet.
    pub wait: Duration,
}

impl Action {
    /// The step kind's name, as written in plans and used as metric prefix.
    pub fn kind(&self) -> &'static str {
        match self {
            Action::Exec(_) => "exec",
            Action::TcpConnect(_) => "tcp_connect",
            Action::Fault(_) => "fault",
            Action::UdpEcho(_) => "udp_echo",
            Action::Ping(_) => "ping",
            Action::Throughput(_) => "throughput",
            Action::Http(_) => "http",
            Action::Dns(_) => "dns",
        }
    }

    /// The node the step acts on or from (for a fault: the node it
    /// stops or starts, the first end of its first link, or nothing for
    /// `restore`).
    pub fn node(&self) -> &str {
        match self {
            Action::Exec(e) => &e.node,
            Action::TcpConnect(t) => &t.from,
            Action::Fault(f) => f.node(),
            Action::UdpEcho(u) => &u.from,
            Action::Ping(p) => &p.from,
            Action::Throughput(t) => &t.from,
            Action::Http(h) => &h.from,
            Action::Dns(d) => &d.from,
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
    /// Environment variables to set.
    pub env: Vec<(String, String)>,
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
        /// The links, as node-name pairs in plan order of their ends.
        links: Vec<[String; 2]>,
    },
    /// `link_up`: the links back up, their routes reinstalled.
    LinkUp {
        /// The links.
        links: Vec<[String; 2]>,
    },
    /// `link_blackhole`: every frame dropped with the carrier up, a failure
    /// routing does not see (an emulated link); `link_up` or `restore`
    /// ends it.
    LinkBlackhole {
        /// The link.
        link: [String; 2],
    },
    /// `link_flap`: down for half a period, up for half, `flaps` times.
    LinkFlap {
        /// The link.
        link: [String; 2],
        /// One down-and-up cycle.
        period: Duration,
        /// How many cycles.
        flaps: u32,
    },
    /// `link_set`: change a link's properties while the lab runs; what it
    /// sets replaces the link's setting, the rest stays.
    LinkSet {
        /// The link.
        link: [String; 2],
        /// The changes.
        change: Box<LinkImpairments>,
    },
    /// `node_stop`: stop the node's services (SIGTERM, then SIGKILL).
    NodeStop {
        /// The node.
        node: String,
    },
    /// `node_kill`: kill the node's services at once (SIGKILL).
    NodeKill {
        /// The node.
        node: String,
    },
    /// `node_start`: start the node's stopped services again.
    NodeStart {
        /// The node.
        node: String,
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
            Fault::Restore => "restore",
        }
    }

    /// The node the fault concerns, or `""` for `restore`.
    pub fn node(&self) -> &str {
        match self {
            Fault::LinkDown { links } | Fault::LinkUp { links } => {
                links.first().map_or("", |l| l[0].as_str())
            }
            Fault::LinkFlap { link, .. }
            | Fault::LinkSet { link, .. }
            | Fault::LinkBlackhole { link } => &link[0],
            Fault::NodeStop { node } | Fault::NodeKill { node } | Fault::NodeStart { node } => node,
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
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Node(n) => f.write_str(n),
            Target::Addr(a) => write!(f, "{a}"),
        }
    }
}

/// An expectation: `aggregate(metric{labels}) op threshold`.
#[derive(Debug, Clone, PartialEq)]
pub struct Expectation {
    /// The text as written, for reports.
    pub text: String,
    /// The aggregation.
    pub aggregate: Aggregate,
    /// The metric's name (validated against the catalogue).
    pub metric: String,
    /// Label filters: only samples whose labels match all of these count.
    pub labels: Vec<(String, String)>,
    /// The comparison.
    pub op: Comparison,
    /// The threshold in the unit of the aggregate's result.
    pub threshold: f64,
    /// The unit of the aggregate's result (the metric's unit for min, max,
    /// mean, sum and percentiles; count for `count`; ratio for
    /// `success_ratio`; per second, as `Count`, for `rate`; text for
    /// `all` and `any`).
    pub unit: Unit,
    /// Where the expectation is written.
    pub span: Span,
    /// `all(...) contains "TEXT"`: a membership test of each sample instead
    /// of a comparison. When set, the aggregate is [`Aggregate::All`] or
    /// [`Aggregate::Any`] and `op` and `threshold` are unused.
    pub contains: Option<Contains>,
}

/// The per-sample test of `all(...)`/`any(...) [!]contains "TEXT"`: a sample
/// contains TEXT when it is successful and its value is a set with TEXT as
/// a member or a text equal to TEXT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contains {
    /// `!contains`: the test is that the sample does *not* contain TEXT.
    pub negated: bool,
    /// TEXT, with node-address placeholders resolved when judging.
    pub text: Template,
}

/// Text with `{addr:NODE}` and `{addr6:NODE}` placeholders (nodes checked
/// against the plan), resolved once the lab has given nodes addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template(pub Vec<TemplatePart>);

/// A piece of a [`Template`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplatePart {
    /// Literal text.
    Text(String),
    /// `{addr:NODE}`: the node's address.
    Addr(String),
    /// `{addr6:NODE}`: the node's IPv6 address.
    Addr6(String),
}

impl Template {
    /// Expands placeholders with `resolve`; the error is the first
    /// placeholder it could not resolve.
    pub fn expand(
        &self,
        mut resolve: impl FnMut(&TemplatePart) -> Option<String>,
    ) -> Result<String, &TemplatePart> {
        let mut s = String::new();
        for part in &self.0 {
            match part {
                TemplatePart::Text(t) => s.push_str(t),
                p => s.push_str(&resolve(p).ok_or(p)?),
            }
        }
        Ok(s)
    }
}

impl std::fmt::Display for Template {
    /// As written, braces doubled in literal text.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for part in &self.0 {
            match part {
                TemplatePart::Text(t) => f.write_str(&t.replace('{', "{{").replace('}', "}}"))?,
                TemplatePart::Addr(n) => write!(f, "{{addr:{n}}}")?,
                TemplatePart::Addr6(n) => write!(f, "{{addr6:{n}}}")?,
            }
        }
        Ok(())
    }
}

/// How an expectation summarises a metric's samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Aggregate {
    /// Smallest numeric value.
    Min,
    /// Largest numeric value.
    Max,
    /// Arithmetic mean of numeric values.
    Mean,
    /// Sum of numeric values.
    Sum,
    /// The given percentile (0..=100) of numeric values; `p50` is the median.
    Percentile(f64),
    /// Number of samples (attempts), successful or not.
    Count,
    /// Successful samples divided by all samples.
    SuccessRatio,
    /// Successful samples per second of the timeline.
    Rate,
    /// Every sample (at least one) passes the `contains` test.
    All,
    /// At least one sample passes the `contains` test.
    Any,
}

impl Aggregate {
    /// The name as written in expectations (`p99`, `success_ratio`).
    pub fn name(&self) -> String {
        match self {
            Aggregate::Min => "min".into(),
            Aggregate::Max => "max".into(),
            Aggregate::Mean => "mean".into(),
            Aggregate::Sum => "sum".into(),
            Aggregate::Percentile(p) => format!("p{p}"),
            Aggregate::Count => "count".into(),
            Aggregate::SuccessRatio => "success_ratio".into(),
            Aggregate::Rate => "rate".into(),
            Aggregate::All => "all".into(),
            Aggregate::Any => "any".into(),
        }
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `==`
    Eq,
    /// `!=`
    Ne,
}

impl Comparison {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            Comparison::Lt => "<",
            Comparison::Le => "<=",
            Comparison::Gt => ">",
            Comparison::Ge => ">=",
            Comparison::Eq => "==",
            Comparison::Ne => "!=",
        }
    }

    /// Whether `measured op threshold` holds.
    pub fn holds(self, measured: f64, threshold: f64) -> bool {
        match self {
            Comparison::Lt => measured < threshold,
            Comparison::Le => measured <= threshold,
            Comparison::Gt => measured > threshold,
            Comparison::Ge => measured >= threshold,
            Comparison::Eq => measured == threshold,
            Comparison::Ne => measured != threshold,
        }
    }
}
