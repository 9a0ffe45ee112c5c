//! The steering decision, sans-IO: given every edge's config entry, its
//! last accepted report and its polled health, rank the edges for a client
//! (an address or an ECS subnet) and a title, and say why.
//!
//! The state owns no socket and reads no clock: every call that depends on
//! time takes `now` (time since the service started), so tests run it on a
//! virtual clock. The HTTP API and the DNS face call the same
//! [`Steering::decide`].
//!
//! The order, as Open Connect publishes it, a key compared field by field:
//!
//! 1. usable edges before the rest: an edge is unusable when its health
//!    polls say down, draining or unhealthy, or its fresh report says
//!    draining or unhealthy (unusable edges are listed last, never handed
//!    out while a usable one exists);
//! 2. the class: on-net embedded edges (a fresh learned route covers the
//!    client), then exchange-point edges, then the fill tier; an embedded
//!    edge with no covering route is not a candidate (an OCA serves only
//!    the prefixes its ISP announces to it);
//! 3. content: edges known to hold the title, then unknown, then known to
//!    lack it;
//! 4. load: an edge at [`OVERLOADED`] or more is demoted;
//! 5. the BGP decision order over the edge's best covering route: longest
//!    match, higher LOCAL_PREF, shorter AS_PATH, lower ORIGIN, lower MED,
//!    eBGP over iBGP (edges with no covering route after those with one);
//! 6. among equals in one cluster, weighted rendezvous hashing of the
//!    title (see [`hrw`]), so the cluster's edges share its titles; edges
//!    of different clusters, and edges in none, are not hashed against
//!    each other: they keep the order of their cluster's name (an edge
//!    in none counts as a cluster of its own, named after it); then the
//!    edge's name, so the order is total.
//!
//! The miss class (Netflix's terms) compares the answer with the ideal, a
//! usable on-net embedded edge holding the title: `route` when no fresh
//! embedded route covers the client, `health` when some do but none of
//! their edges is usable, `content` when usable ones do but none holds the
//! title.

pub mod hrw;
pub mod index;

use std::cmp::Ordering;
use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use netproof_proto::prefix::IpNet;
use netproof_proto::steering::{
    EdgeEntry, EdgeKind, EdgeReport, Health, LearnedRoute, Origin, SteeringConfig,
};
use serde::Serialize;
use thiserror::Error;

use self::index::RouteIndex;

/// An edge reporting this share of its capacity in use or more is demoted
/// below its peers of the same class and content.
pub const OVERLOADED: f64 = 0.9;

/// The report timeout when the config names none.
pub const DEFAULT_REPORT_TIMEOUT: Duration = Duration::from_secs(5);

/// Routes looked at to size an answer's DNS scope before settling for the
/// client's own length (see [`RouteIndex::scope`]).
const SCOPE_LOOKS: usize = 64;

/// Routes one report may carry: a full Internet table is about a million;
/// an ISP announces its own customers' prefixes to an OCA, far fewer.
pub const MAX_ROUTES: usize = 200_000;

/// What the health polls say about an edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Polled {
    /// Not polled yet (or no health URL): usable.
    Unknown,
    /// Answers `ok`.
    Up,
    /// Answers `draining`: no new clients.
    Draining,
    /// Answers `unhealthy`.
    Unhealthy,
    /// Failed its polls: dropped.
    Down,
}

impl Polled {
    /// The word `/edges` and the metrics use.
    pub fn as_str(self) -> &'static str {
        match self {
            Polled::Unknown => "unknown",
            Polled::Up => "up",
            Polled::Draining => "draining",
            Polled::Unhealthy => "unhealthy",
            Polled::Down => "down",
        }
    }
}

/// A report taken, with what the decision reads from it prepared.
#[derive(Debug, Clone)]
struct Accepted {
    report: EdgeReport,
    /// When it was taken.
    at: Duration,
    /// Titles by site, sorted, for binary search.
    titles: HashMap<String, Vec<u32>>,
}

/// One edge: its config entry, what it last reported, what its polls say.
#[derive(Debug, Clone)]
pub struct Edge {
    /// Its config entry.
    pub entry: EdgeEntry,
    report: Option<Accepted>,
    polled: Polled,
    /// Its name's hash, the HRW identity.
    hrw_id: u64,
    weight: f64,
    /// Its cluster's rank among every cluster's name (an edge in no
    /// cluster is one of its own): only edges of one group are hashed
    /// against each other.
    group: u32,
}

impl Edge {
    fn fresh(&self, now: Duration, timeout: Duration) -> Option<&Accepted> {
        self.report
            .as_ref()
            .filter(|a| now.saturating_sub(a.at) < timeout)
    }
}

/// Why a report was not taken.
#[derive(Debug, Error, PartialEq)]
pub enum ReportError {
    /// The report names an edge the config does not list.
    #[error(
        "no edge `{0}` in steering's config\nhint: the report's `edge` must be one of the `[[edge]]` names"
    )]
    UnknownEdge(String),
    /// The report is older than the one already taken.
    #[error(
        "report {seq} from `{edge}` is not newer than report {last}, taken {age:?} ago\nhint: send a higher `seq` (an edge that restarts is taken again once its last report is older than the report timeout)"
    )]
    Stale {
        /// The edge.
        edge: String,
        /// The report's sequence number.
        seq: u64,
        /// The last one taken.
        last: u64,
        /// How long ago.
        age: Duration,
    },
    /// The report says something impossible.
    #[error("report from `{edge}`: {what}\nhint: {hint}")]
    Invalid {
        /// The edge.
        edge: String,
        /// What is wrong.
        what: String,
        /// What to fix.
        hint: &'static str,
    },
}

impl ReportError {
    /// A short name for counting.
    pub fn kind(&self) -> &'static str {
        match self {
            ReportError::UnknownEdge(_) => "unknown_edge",
            ReportError::Stale { .. } => "stale",
            ReportError::Invalid { .. } => "invalid",
        }
    }
}

/// What a decision is asked.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Query<'a> {
    /// The client's address (a /32 or /128) or subnet (from ECS).
    pub client: IpNet,
    /// The site (the name the client asked for); `""` for none.
    pub site: &'a str,
    /// The title, when known.
    pub title: Option<u32>,
}

/// Where an edge sits for this client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Class {
    /// An embedded edge with a fresh route covering the client.
    OnNet,
    /// An exchange-point edge.
    Exchange,
    /// The fill tier.
    Tier,
}

impl Class {
    /// The word reasons and metrics use.
    pub fn as_str(self) -> &'static str {
        match self {
            Class::OnNet => "on-net",
            Class::Exchange => "exchange",
            Class::Tier => "tier",
        }
    }
}

/// Whether an edge holds the title.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Holds {
    /// Its report lists the title.
    Yes,
    /// No title asked, or no fresh report to tell.
    Unknown,
    /// Its report does not list the title.
    No,
}

/// Why an edge cannot take new clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Unusable {
    /// Its health polls failed.
    Down,
    /// Its health endpoint says draining.
    PolledDraining,
    /// Its health endpoint says unhealthy.
    PolledUnhealthy,
    /// Its report says draining.
    ReportedDraining,
    /// Its report says unhealthy.
    ReportedUnhealthy,
}

impl Unusable {
    /// The word reasons and metrics use.
    pub fn as_str(self) -> &'static str {
        match self {
            Unusable::Down => "down (health polls failed)",
            Unusable::PolledDraining => "draining (health endpoint)",
            Unusable::PolledUnhealthy => "unhealthy (health endpoint)",
            Unusable::ReportedDraining => "draining (report)",
            Unusable::ReportedUnhealthy => "unhealthy (report)",
        }
    }
}

/// Netflix's classes of steering misses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Miss {
    /// No on-net embedded edge covers the client.
    Route,
    /// Some do, but none is usable.
    Health,
    /// Usable ones do, but none holds the title.
    Content,
}

impl Miss {
    /// The word the API, the log and the metrics use.
    pub fn as_str(self) -> &'static str {
        match self {
            Miss::Route => "route",
            Miss::Health => "health",
            Miss::Content => "content",
        }
    }
}

/// Why an edge ranks where it does.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reason {
    /// Its class.
    pub class: Class,
    /// Why it cannot take new clients, if it cannot.
    pub unusable: Option<Unusable>,
    /// Whether it holds the title.
    pub holds: Holds,
    /// Its reported load, if fresh.
    pub load: Option<f64>,
    /// Whether that load demoted it.
    pub overloaded: bool,
    /// Its best fresh route covering the client.
    pub route: Option<LearnedRoute>,
    /// Its rendezvous score for the title (higher wins among equals).
    pub hrw: f64,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(u) = self.unusable {
            write!(f, "{}; ", u.as_str())?;
        }
        f.write_str(self.class.as_str())?;
        if let Some(r) = &self.route {
            let origin = match r.origin {
                Origin::Igp => "igp",
                Origin::Egp => "egp",
                Origin::Incomplete => "incomplete",
            };
            write!(
                f,
                " via {} (local_pref {}, as_path {}, origin {origin}, med {}, {})",
                r.prefix,
                r.local_pref,
                r.as_path_len,
                r.med,
                if r.ebgp { "ebgp" } else { "ibgp" }
            )?;
        }
        match self.holds {
            Holds::Yes => f.write_str("; holds the title")?,
            Holds::No => f.write_str("; lacks the title")?,
            Holds::Unknown => {}
        }
        if let Some(l) = self.load {
            write!(f, "; load {l:.2}")?;
            if self.overloaded {
                f.write_str(" (demoted)")?;
            }
        }
        write!(f, "; hrw {:.4}", self.hrw)
    }
}

/// One edge in a decision's ranking.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranked {
    /// The edge's index in [`Steering::edges`].
    pub edge: usize,
    /// Why it ranks here.
    pub reason: Reason,
}

impl Ranked {
    /// Whether it may be handed to a new client.
    pub fn usable(&self) -> bool {
        self.reason.unusable.is_none()
    }
}

/// A decision: the ranking, the miss class, and the prefix length the
/// answer holds for (RFC 7871's scope).
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// Candidates, best first; unusable ones last.
    pub ranked: Vec<Ranked>,
    /// The miss class; `None` when a usable on-net edge holds the title
    /// (or no title was asked and a usable on-net edge covers the client).
    pub miss: Option<Miss>,
    /// The prefix length of the client block this answer holds for.
    pub scope: u8,
}

impl Decision {
    /// The usable edges, best first.
    pub fn usable(&self) -> impl Iterator<Item = &Ranked> {
        self.ranked.iter().filter(|r| r.usable())
    }
}

/// The steering state: every edge, the route index.
#[derive(Debug, Clone)]
pub struct Steering {
    edges: Vec<Edge>,
    by_name: HashMap<String, usize>,
    index: RouteIndex,
    report_timeout: Duration,
}

/// One candidate's sort key, compared field by field.
#[derive(Debug, Clone, Copy)]
struct Key {
    unusable: bool,
    class: Class,
    holds: Holds,
    overloaded: bool,
    route: Option<BgpKey>,
    group: u32,
    hrw: f64,
}

/// The BGP decision order over one route, smaller is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct BgpKey {
    longer: std::cmp::Reverse<u8>,
    local_pref: std::cmp::Reverse<u32>,
    as_path: u32,
    origin: Origin,
    med: u32,
    ibgp: bool,
}

impl BgpKey {
    fn of(r: &LearnedRoute) -> BgpKey {
        BgpKey {
            longer: std::cmp::Reverse(r.prefix.prefix_len()),
            local_pref: std::cmp::Reverse(r.local_pref),
            as_path: r.as_path_len,
            origin: r.origin,
            med: r.med,
            ibgp: !r.ebgp,
        }
    }
}

fn compare(a: &Key, b: &Key) -> Ordering {
    a.unusable
        .cmp(&b.unusable)
        .then(a.class.cmp(&b.class))
        .then(a.holds.cmp(&b.holds))
        .then(a.overloaded.cmp(&b.overloaded))
        .then(match (&a.route, &b.route) {
            (Some(x), Some(y)) => x.cmp(y),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        })
        .then(a.group.cmp(&b.group))
        .then(b.hrw.total_cmp(&a.hrw))
}

impl Steering {
    /// The state for a validated config, every edge unreported and
    /// unpolled.
    pub fn new(config: &SteeringConfig) -> Steering {
        // A cluster's group is named after it; an edge in none is a group
        // of its own, named after the edge (kept apart from clusters).
        let group_name = |e: &netproof_proto::steering::EdgeEntry| match &e.cluster {
            Some(c) => (0u8, c.clone()),
            None => (1u8, e.name.clone()),
        };
        let mut groups: Vec<(u8, String)> = config.edges.iter().map(group_name).collect();
        groups.sort();
        groups.dedup();
        let edges: Vec<Edge> = config
            .edges
            .iter()
            .map(|e| Edge {
                hrw_id: hrw::key_hash(e.name.as_bytes()),
                weight: e.weight.unwrap_or(1.0),
                group: groups.binary_search(&group_name(e)).unwrap_or(0) as u32,
                entry: e.clone(),
                report: None,
                polled: Polled::Unknown,
            })
            .collect();
        let by_name = edges
            .iter()
            .enumerate()
            .map(|(i, e)| (e.entry.name.clone(), i))
            .collect();
        Steering {
            edges,
            by_name,
            index: RouteIndex::default(),
            report_timeout: config
                .report_timeout
                .map_or(DEFAULT_REPORT_TIMEOUT, |s| s.0),
        }
    }

    /// The edges, in config order.
    pub fn edges(&self) -> &[Edge] {
        &self.edges
    }

    /// The edge named `name`.
    pub fn edge_index(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    /// How long a report counts.
    pub fn report_timeout(&self) -> Duration {
        self.report_timeout
    }

    /// Takes a report at `now`: the newest from its edge replaces the last.
    pub fn report(&mut self, report: EdgeReport, now: Duration) -> Result<(), ReportError> {
        let Some(&i) = self.by_name.get(&report.edge) else {
            return Err(ReportError::UnknownEdge(report.edge));
        };
        let invalid = |what: String, hint| ReportError::Invalid {
            edge: report.edge.clone(),
            what,
            hint,
        };
        if !(report.load.is_finite() && (0.0..=1.0).contains(&report.load)) {
            return Err(invalid(
                format!("load `{}` is not a share between 0 and 1", report.load),
                "send connections (or rate) in use over capacity",
            ));
        }
        if report.routes.len() > MAX_ROUTES {
            return Err(invalid(
                format!(
                    "{} routes, over the {MAX_ROUTES} one report may carry",
                    report.routes.len()
                ),
                "report the client prefixes the ISP announces, not a full table",
            ));
        }
        if let Some(r) = report.routes.iter().find(|r| r.prefix.trunc() != r.prefix) {
            return Err(invalid(
                format!("route `{}` has bits set past its length", r.prefix),
                "send the prefix as BGP carries it, e.g. `198.18.64.0/20`",
            ));
        }
        let edge = &self.edges[i];
        if let Some(last) = edge.fresh(now, self.report_timeout)
            && report.seq <= last.report.seq
        {
            return Err(ReportError::Stale {
                edge: report.edge,
                seq: report.seq,
                last: last.report.seq,
                age: now.saturating_sub(last.at),
            });
        }
        let routes_changed = edge
            .report
            .as_ref()
            .is_none_or(|a| a.report.routes != report.routes);
        let titles = report
            .contents
            .titles
            .iter()
            .map(|s| {
                let mut t = s.titles.clone();
                t.sort_unstable();
                (s.site.to_ascii_lowercase(), t)
            })
            .collect();
        self.edges[i].report = Some(Accepted {
            report,
            at: now,
            titles,
        });
        if routes_changed {
            self.rebuild();
        }
        Ok(())
    }

    fn rebuild(&mut self) {
        let nets: Vec<Vec<IpNet>> = self
            .edges
            .iter()
            .map(|e| {
                e.report
                    .as_ref()
                    .map(|a| a.report.routes.iter().map(|r| r.prefix).collect())
                    .unwrap_or_default()
            })
            .collect();
        self.index = RouteIndex::build(
            nets.iter()
                .enumerate()
                .map(|(i, v)| (i as u32, v.as_slice())),
        );
    }

    /// Sets what the health polls say about edge `i`; returns the previous
    /// verdict.
    pub fn set_polled(&mut self, i: usize, polled: Polled) -> Polled {
        std::mem::replace(&mut self.edges[i].polled, polled)
    }

    /// What the health polls say about edge `i`.
    pub fn polled(&self, i: usize) -> Polled {
        self.edges[i].polled
    }

    /// Edge `i`'s last accepted report and its age at `now`, fresh or not.
    pub fn last_report(&self, i: usize, now: Duration) -> Option<(&EdgeReport, Duration)> {
        self.edges[i]
            .report
            .as_ref()
            .map(|a| (&a.report, now.saturating_sub(a.at)))
    }

    /// Whether edge `i`'s last report still counts at `now`.
    pub fn is_fresh(&self, i: usize, now: Duration) -> bool {
        self.edges[i].fresh(now, self.report_timeout).is_some()
    }

    /// Why edge `i` cannot take new clients at `now`, if it cannot.
    pub fn unusable(&self, i: usize, now: Duration) -> Option<Unusable> {
        let e = &self.edges[i];
        match e.polled {
            Polled::Down => return Some(Unusable::Down),
            Polled::Draining => return Some(Unusable::PolledDraining),
            Polled::Unhealthy => return Some(Unusable::PolledUnhealthy),
            Polled::Unknown | Polled::Up => {}
        }
        match e.fresh(now, self.report_timeout).map(|a| a.report.health) {
            Some(Health::Draining) => Some(Unusable::ReportedDraining),
            Some(Health::Unhealthy) => Some(Unusable::ReportedUnhealthy),
            Some(Health::Ok) | None => None,
        }
    }

    /// Ranks the edges for `q` at `now`.
    pub fn decide(&self, q: &Query<'_>, now: Duration) -> Decision {
        let timeout = self.report_timeout;
        // Each edge's best fresh covering route: the index yields the
        // longest first, so the first seen per edge wins unless a route of
        // the same length has better attributes.
        let mut best: Vec<Option<(BgpKey, &LearnedRoute)>> = vec![None; self.edges.len()];
        let mut longest = 0u8;
        for (len, r) in self.index.covering(q.client) {
            let e = &self.edges[r.edge as usize];
            let Some(acc) = e.fresh(now, timeout) else {
                continue;
            };
            let route = &acc.report.routes[r.route as usize];
            let key = BgpKey::of(route);
            let slot = &mut best[r.edge as usize];
            if slot.is_none_or(|(k, _)| key < k) {
                *slot = Some((key, route));
            }
            longest = longest.max(len);
        }
        let site = q.site.trim_end_matches('.');
        let key_hash = {
            let mut k = Vec::with_capacity(site.len() + 11);
            k.extend(site.bytes().map(|b| b.to_ascii_lowercase()));
            k.push(b'/');
            if let Some(t) = q.title {
                k.extend_from_slice(t.to_string().as_bytes());
            }
            hrw::key_hash(&k)
        };
        let mut candidates: Vec<(Key, Ranked)> = Vec::with_capacity(self.edges.len());
        let (mut covered, mut covered_usable, mut covered_holding) = (false, false, false);
        for (i, e) in self.edges.iter().enumerate() {
            let route = best[i];
            let class = match e.entry.kind {
                EdgeKind::Embedded if route.is_some() => Class::OnNet,
                EdgeKind::Embedded => continue,
                EdgeKind::Exchange => Class::Exchange,
                EdgeKind::Tier => Class::Tier,
            };
            let fresh = e.fresh(now, timeout);
            let holds = match (q.title, fresh) {
                (Some(t), Some(acc)) => {
                    let has = |v: &Vec<u32>| v.binary_search(&t).is_ok();
                    let found = if site.is_empty() {
                        acc.titles.values().any(has)
                    } else {
                        acc.titles.get(&site.to_ascii_lowercase()).is_some_and(has)
                    };
                    if found { Holds::Yes } else { Holds::No }
                }
                _ => Holds::Unknown,
            };
            let load = fresh.map(|a| a.report.load);
            let overloaded = load.is_some_and(|l| l >= OVERLOADED);
            let unusable = self.unusable(i, now);
            if class == Class::OnNet {
                covered = true;
                if unusable.is_none() {
                    covered_usable = true;
                    covered_holding |= holds == Holds::Yes;
                }
            }
            let hrw = hrw::score(e.hrw_id, e.weight, key_hash);
            let key = Key {
                unusable: unusable.is_some(),
                class,
                holds,
                overloaded,
                route: route.map(|(k, _)| k),
                group: e.group,
                hrw,
            };
            let reason = Reason {
                class,
                unusable,
                holds,
                load,
                overloaded,
                route: route.map(|(_, r)| r.clone()),
                hrw,
            };
            candidates.push((key, Ranked { edge: i, reason }));
        }
        candidates.sort_by(|(ka, ra), (kb, rb)| {
            compare(ka, kb).then_with(|| {
                self.edges[ra.edge]
                    .entry
                    .name
                    .cmp(&self.edges[rb.edge].entry.name)
            })
        });
        let miss = if !covered {
            Some(Miss::Route)
        } else if !covered_usable {
            Some(Miss::Health)
        } else if q.title.is_some() && !covered_holding {
            Some(Miss::Content)
        } else {
            None
        };
        Decision {
            ranked: candidates.into_iter().map(|(_, r)| r).collect(),
            miss,
            scope: self.index.scope(q.client, longest, SCOPE_LOOKS),
        }
    }
}

/// The client of a query from an address: a /32 or /128.
pub fn host(addr: IpAddr) -> IpNet {
    IpNet::from(addr)
}

#[cfg(test)]
pub(crate) mod tests;
