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

pub use netproof_proto::dns::{DnsName, RecordType};
pub use netproof_proto::link::{
    Chance, Codel, Direction, Distribution, LinkParams, Loss, QueueLimit, Rate, Reorder, Trace,
};
pub use netproof_proto::prefix::IpNet;
pub use netproof_proto::range::ByteRange;
pub use netproof_proto::url::{Host as UrlHost, Scheme, Url};
use netproof_sample::Unit;

mod cdn;
mod link;
mod procedure;
mod routing;
mod step;
mod stream;
pub use cdn::{CdnListener, CdnRole, CdnService, CdnSite, CdnValue, cert_files};
pub(crate) use cdn::{PathStep, write_toml};
pub use link::{Impairment, LinkImpairments, PlanTrace};
pub use procedure::{Pktgen, QUANTITY_KEYS, Rfc6349, Search, StepRef, emits, quantity_key};
pub use routing::{
    BFD_DEFAULT, BGP_HOLD, BGP_KEEPALIVE, Bfd, BgpPolicy, BgpSession, BgpSpeaker, BgpTransport,
    Daemon, OSPF_DEAD, OSPF_HELLO, Originate, Ospf, Routing,
};
pub use step::{
    Action, CaFile, Dns, Exec, Fault, Http, HttpLoad, LinkId, NodeAction, NodeId, Ping, Step,
    Target, TcpConnect, Throughput, Transport, UdpEcho,
};
pub use stream::{Abr, AbrAlgorithm, AbrCmcd, AbrContent, AbrServer, Rpm, Rrul};

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

/// The emulation self-check (`[plan]`'s `self_check` and
/// `lateness_warning`): before the cases (and after them, if asked) each
/// emulated link is probed between its ends, and a case whose emulator
/// released packets late by more than a share of the link's delay (p99)
/// gets a warning.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SelfCheck {
    /// Probe the emulated links before the first case.
    pub before: bool,
    /// And again after the last.
    pub after: bool,
    /// The share of a link's delay the emulator's p99 release lateness
    /// may reach in a case before the case is warned.
    pub lateness_warning: f64,
}

impl Default for SelfCheck {
    fn default() -> Self {
        SelfCheck {
            before: true,
            after: false,
            lateness_warning: 0.1,
        }
    }
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
    /// When the emulated links are measured, and when a case is warned
    /// that its emulator ran late.
    pub self_check: SelfCheck,
    /// Nodes in plan order.
    pub nodes: Vec<Node>,
    /// Links in plan order.
    pub links: Vec<Link>,
    /// LAN segments in plan order.
    pub lans: Vec<Lan>,
    /// Static routes the plan sets, on top of the computed ones.
    pub routes: Vec<StaticRoute>,
    /// BGP sessions in plan order.
    pub bgp: Vec<BgpSession>,
    /// Services in plan order.
    pub services: Vec<Service>,
    /// Cases in plan order.
    pub cases: Vec<Case>,
    /// The source the plan was parsed from.
    pub source: Source,
    /// The lab file the topology and services came from (`[plan] lab`),
    /// if the plan names one: the spans of nodes, links and services point
    /// into its text.
    pub lab: Option<Source>,
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
        self.links
            .get(i)
            .is_some_and(|l| l.impairment.needs_emulator())
            || self
                .cases
                .iter()
                .flat_map(|c| c.setup.iter().chain(&c.steps).chain(&c.teardown))
                .any(|s| match &s.action {
                    Action::Fault(Fault::LinkSet { link: l, change }) => {
                        l.index() == i && change.needs_emulator()
                    }
                    Action::Fault(Fault::LinkBlackhole { link: l }) => l.index() == i,
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
    /// The fault that proves the plan can fail, if it names one.
    pub seeded_fault: Option<SeededFault>,
    /// `PATH=VALUE` overrides that shorten the plan for `--quick`
    /// (durations and counts, never an expectation).
    pub quick: Vec<String>,
}

/// A plan's seeded fault (`[plan] seeded_fault`): overrides that break
/// what the plan tests, and the cases that must then fail. `netproof run
/// --seeded-fault` applies them, so a test program shows each plan able
/// to fail, and for the right reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeededFault {
    /// What the fault is, in a sentence (`a queue without CoDel`).
    pub summary: String,
    /// `PATH=VALUE` overrides, as `--set` takes them.
    pub set: Vec<String>,
    /// The ids of the cases that must fail with it.
    pub fails: Vec<String>,
    /// Expectations of those cases, as written, that must be among the
    /// failures: the reason the fault is caught.
    pub because: Vec<String>,
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
    /// Who owns the node's routes (netns backend): `static` unless the
    /// plan says, or the node runs a routing protocol (then a daemon).
    pub routing: Routing,
    /// Where `routing` is written, when it is.
    pub routing_span: Option<Span>,
    /// The node's BGP AS number, when it has BGP sessions.
    pub asn: Option<u32>,
    /// What the node originates into its routing protocols.
    pub originate: Vec<Originate>,
    /// A BGP speaker beside the node's static routes (`bgp_speaker`): BIRD
    /// runs its sessions, the lab keeps owning its main routing table.
    pub bgp_speaker: Option<BgpSpeaker>,
    /// The DNS resolvers a process on the node is told of (its own
    /// `/etc/resolv.conf` inside the lab), in order; empty: the host's
    /// file, untouched.
    pub resolver: Vec<IpAddr>,
    /// Where the node is defined.
    pub span: Span,
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
    /// The link's cost for shortest-path routing (1 unless the plan says),
    /// and OSPF's interface cost on it.
    pub cost: u32,
    /// OSPF on the link, when the plan runs it there.
    pub ospf: Option<Ospf>,
    /// BFD for the link's OSPF adjacency and the BGP sessions over it.
    pub bfd: Option<Bfd>,
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
    /// The destination prefix (a network: no bits set beyond its length).
    pub to: IpNet,
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
    /// (see [`Arg`]); empty for a CDN service, whose command the lab makes.
    pub command: Vec<Arg>,
    /// A reference CDN component (`cdn = "origin"|"edge"`): the lab writes
    /// its config to a file and runs `{netproof} cdn ROLE --config FILE`.
    pub cdn: Option<CdnService>,
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
    /// Nodes whose routing table changes are recorded while the case runs
    /// (`monitor_routes`, as `route.change` samples), in plan order.
    pub monitor_routes: Vec<String>,
    /// Where the case is defined.
    pub span: Span,
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
