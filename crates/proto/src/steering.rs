//! The reference CDN's steering: what an edge reports to the steering
//! service, and what `netproof cdn steering --config FILE` reads.
//!
//! Open Connect's model: each edge (an OCA) learns its ISP's client
//! prefixes over BGP and reports them, with its health, load and the titles
//! it holds, to the steering service ([`EdgeReport`], JSON, `POST
//! /report` on steering's API listener, on a short interval and on every
//! change). Steering ranks edges for a client from those reports (BGP
//! decision order over the learned routes, then health, content and load,
//! with rendezvous hashing inside a cluster) and answers through two faces
//! that share the decision: a ranked-URL HTTP API and an ECS-aware
//! authoritative DNS server.
//!
//! ```toml
//! admin = "198.18.0.9:9100"
//! report_timeout = "5s"            # an edge silent this long is unreachable
//! [listen]
//! api = ["198.18.0.9:80"]           # GET /steer, POST /report
//! dns = ["198.18.0.9:53"]           # UDP and TCP
//! [dns]
//! zone = "video.cdn.test"           # authoritative for this name and below
//! steered = ["video.cdn.test"]      # names answered with the best edges
//! ttl = "10s"
//! answers = 2                       # A/AAAA records per steered answer
//! ns = [{ name = "ns.video.cdn.test", address = "198.18.0.9" }]
//! [health]
//! interval = "500ms"
//! timeout = "400ms"
//! failures = 3                      # misses before an edge is down
//! recoveries = 2                    # successes before it is up again
//! [[edge]]
//! name = "oca-a1"
//! host = "oca-a1.video.cdn.test"    # its own name: URLs and DNS use it
//! addresses = ["198.18.1.2"]
//! kind = "embedded"                 # embedded | exchange | tier
//! cluster = "isp-a"                 # titles spread by HRW inside one
//! health = "http://198.18.1.2:9100/health"
//! url = "https://oca-a1.video.cdn.test:8443"
//! ```

use std::net::{IpAddr, SocketAddr};

pub mod encoding;

use serde::{Deserialize, Serialize};

use crate::cdn::{ConfigError, Span, check_name};
use crate::prefix::IpNet;
use crate::url::Url;

/// What an edge tells steering, whole each time (not a delta), so a lost
/// report costs nothing but freshness.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EdgeReport {
    /// The edge's name, as steering's config names it.
    pub edge: String,
    /// Increases with every report the edge sends; steering ignores a
    /// report not newer than the last one it took. netproof's edges start
    /// it at their start time in microseconds since 1970, so an edge that
    /// restarts is newer at once.
    pub seq: u64,
    /// The edge's own view of its health.
    pub health: Health,
    /// Share of its capacity in use, 0.0 to 1.0 (open connections over the
    /// limit, or the higher of that and its send rate over its link).
    pub load: f64,
    /// The client prefixes its ISP announces to it, with the BGP
    /// attributes steering orders them by.
    pub routes: Vec<LearnedRoute>,
    /// What it holds.
    pub contents: Contents,
}

/// An edge's health, as its admin endpoint and its reports say it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    /// Serving.
    Ok,
    /// Finishing what it has; no new clients.
    Draining,
    /// Not to be used.
    Unhealthy,
}

impl Health {
    /// The word the admin endpoint and the report use.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Ok => "ok",
            Health::Draining => "draining",
            Health::Unhealthy => "unhealthy",
        }
    }
}

/// A route an edge learned over BGP, with the attributes of the BGP
/// decision process (RFC 4271 section 9.1.2.2) that steering compares
/// across edges after the longest match.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LearnedRoute {
    /// The client prefix.
    pub prefix: IpNet,
    /// LOCAL_PREF (higher wins; 100 when the session did not set one).
    pub local_pref: u32,
    /// AS_PATH length (shorter wins).
    pub as_path_len: u32,
    /// ORIGIN (IGP before EGP before incomplete).
    pub origin: Origin,
    /// MULTI_EXIT_DISC (lower wins; 0 when absent).
    pub med: u32,
    /// Learned over eBGP (preferred over iBGP).
    pub ebgp: bool,
}

/// BGP's ORIGIN attribute, in preference order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// Learned from an IGP (0).
    Igp,
    /// Learned from EGP (1).
    Egp,
    /// Learned some other way (2).
    Incomplete,
}

/// What an edge holds, for the content step of the decision.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contents {
    /// Every title it holds at least one whole file of, by site.
    pub titles: Vec<SiteTitles>,
    /// Whether it fills what it lacks (an edge with fill sources): a
    /// content miss on such an edge is slower, not a failure.
    pub fills: bool,
}

/// The titles one site has on an edge.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteTitles {
    /// The site's name.
    pub site: String,
    /// Its title numbers, ascending.
    pub titles: Vec<u32>,
}

/// `netproof cdn steering`'s configuration.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SteeringConfig {
    /// Where to serve.
    pub listen: SteeringListen,
    /// The admin endpoint (`/health`, `/metrics`), if any.
    #[serde(default)]
    pub admin: Option<SocketAddr>,
    /// An edge whose last report is older than this is treated as having
    /// no routes (default 5s).
    #[serde(default)]
    pub report_timeout: Option<Span>,
    /// One JSON line per decision on stdout.
    #[serde(default)]
    pub decision_log: bool,
    /// The authoritative DNS face.
    #[serde(default)]
    pub dns: Option<DnsFace>,
    /// Health polling of every edge.
    #[serde(default)]
    pub health: HealthPolling,
    /// The edges steering may hand out.
    #[serde(rename = "edge", default)]
    pub edges: Vec<EdgeEntry>,
}

/// Steering's listeners.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SteeringListen {
    /// The HTTP API (`GET /steer`, `POST /report`).
    #[serde(default)]
    pub api: Vec<SocketAddr>,
    /// DNS over UDP and TCP.
    #[serde(default)]
    pub dns: Vec<SocketAddr>,
}

/// The DNS zone steering is authoritative for.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsFace {
    /// The zone's apex, e.g. `video.cdn.test`.
    pub zone: String,
    /// Names in the zone answered with the best edges for the client.
    pub steered: Vec<String>,
    /// TTL of steered answers (default 10s); edge names get 300s.
    #[serde(default)]
    pub ttl: Option<Span>,
    /// Address records per steered answer (default 2).
    #[serde(default)]
    pub answers: Option<u32>,
    /// The zone's name servers (their A/AAAA are served as glue).
    pub ns: Vec<NameServer>,
}

/// A name server of the zone.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NameServer {
    /// Its name.
    pub name: String,
    /// Its address.
    pub address: IpAddr,
}

/// How steering polls edges' health endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthPolling {
    /// Time between polls of one edge (default 1s).
    #[serde(default)]
    pub interval: Option<Span>,
    /// Time a poll may take (default: the interval).
    #[serde(default)]
    pub timeout: Option<Span>,
    /// Consecutive failed polls before an edge is down (default 3).
    #[serde(default)]
    pub failures: Option<u32>,
    /// Consecutive good polls before a down edge is up again (default 2).
    #[serde(default)]
    pub recoveries: Option<u32>,
}

/// Where an edge sits, in steering's order of preference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EdgeKind {
    /// Inside an ISP (on-net for the prefixes it learns).
    Embedded,
    /// At an exchange point.
    Exchange,
    /// The fill tier, the last resort.
    Tier,
}

/// An edge steering may hand out.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EdgeEntry {
    /// Its name: reports carry it.
    pub name: String,
    /// Its own host name, under the zone, answered with its addresses.
    pub host: String,
    /// Its service addresses.
    pub addresses: Vec<IpAddr>,
    /// Where it sits.
    pub kind: EdgeKind,
    /// Edges of one cluster share titles by rendezvous hashing.
    #[serde(default)]
    pub cluster: Option<String>,
    /// Its health endpoint (`http://ADDR:PORT/health`, polled over plain
    /// HTTP), if any.
    #[serde(default)]
    pub health: Option<String>,
    /// The base of the URLs the API hands out for it
    /// (`https://oca-a1.video.cdn.test:8443`).
    pub url: String,
    /// Relative capacity within its cluster (default 1.0).
    #[serde(default)]
    pub weight: Option<f64>,
}

impl SteeringConfig {
    /// Every problem a single key cannot show, all at once.
    pub fn validate(&self) -> Result<(), Vec<ConfigError>> {
        let mut errors = Vec::new();
        if self.listen.api.is_empty() && self.listen.dns.is_empty() {
            errors.push(ConfigError::new(
                "listen",
                "steering has no face: neither `api` nor `dns` has an address",
                "add `api = [\"ADDR:PORT\"]` and/or `dns = [\"ADDR:53\"]` under `[listen]`",
            ));
        }
        if !self.listen.dns.is_empty() && self.dns.is_none() {
            errors.push(ConfigError::new(
                "dns",
                "`listen.dns` has addresses but there is no `[dns]` zone to answer for",
                "add a `[dns]` table with `zone`, `steered` and `ns`",
            ));
        }
        if let Some(dns) = &self.dns {
            check_zone(dns, &self.edges, &mut errors);
        }
        let h = &self.health;
        for (key, value) in [
            ("health.failures", h.failures),
            ("health.recoveries", h.recoveries),
        ] {
            if value == Some(0) {
                errors.push(ConfigError::new(
                    key,
                    "`0` would make every poll decide alone",
                    "write a count of 1 or more (default: 3 failures, 2 recoveries)",
                ));
            }
        }
        if let Some(i) = h.interval
            && i.0.is_zero()
        {
            errors.push(ConfigError::new(
                "health.interval",
                "a poll interval of no time",
                "write how often to poll each edge, e.g. `500ms`",
            ));
        }
        if self.edges.is_empty() {
            errors.push(ConfigError::new(
                "edge",
                "no `[[edge]]`: steering would have nowhere to send clients",
                "add one `[[edge]]` table per edge steering may hand out",
            ));
        }
        for (i, edge) in self.edges.iter().enumerate() {
            if let Some(first) = self.edges[..i].iter().position(|e| e.name == edge.name) {
                errors.push(ConfigError::new(
                    format!("edge[{i}].name"),
                    format!("`{}` is already `edge[{first}]`", edge.name),
                    "give every edge its own name: reports carry it",
                ));
            }
            if let Err(what) = check_name(&edge.host) {
                errors.push(ConfigError::new(
                    format!("edge[{i}].host"),
                    format!("`{}` {what}", edge.host),
                    "write the edge's own host name, e.g. `oca-a1.video.cdn.test`",
                ));
            }
            for (key, url) in std::iter::once((format!("edge[{i}].url"), &edge.url))
                .chain(edge.health.iter().map(|h| (format!("edge[{i}].health"), h)))
            {
                if let Err(e) = Url::parse(url) {
                    errors.push(ConfigError::new(
                        key,
                        format!("`{url}`: {e}"),
                        "write an http:// or https:// URL",
                    ));
                }
            }
            // Health endpoints are an edge's admin listener: plain HTTP.
            if let Some(h) = &edge.health
                && Url::parse(h).is_ok_and(|u| u.is_https())
            {
                errors.push(ConfigError::new(
                    format!("edge[{i}].health"),
                    format!("`{h}` is https, but steering polls health over plain HTTP"),
                    "name the edge's admin listener, e.g. `http://198.18.1.2:9100/health`",
                ));
            }
            if edge.addresses.is_empty() {
                errors.push(ConfigError::new(
                    format!("edge[{i}].addresses"),
                    "an edge with no address cannot be answered in DNS",
                    "list its service addresses, e.g. `[\"198.18.1.2\"]`",
                ));
            }
            if let Some(w) = edge.weight
                && !(w.is_finite() && w > 0.0)
            {
                errors.push(ConfigError::new(
                    format!("edge[{i}].weight"),
                    format!("`{w}` is not a positive capacity"),
                    "write a positive number relative to the cluster's other edges (default 1.0)",
                ));
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

fn check_zone(dns: &DnsFace, edges: &[EdgeEntry], errors: &mut Vec<ConfigError>) {
    let zone = dns.zone.trim_end_matches('.').to_ascii_lowercase();
    if zone.starts_with("*.") || check_name(&zone).is_err() {
        errors.push(ConfigError::new(
            "dns.zone",
            format!("`{}` is not a zone name", dns.zone),
            "write the zone's apex, e.g. `video.cdn.test`",
        ));
        return;
    }
    let inside = |name: &str| {
        let n = name.trim_end_matches('.').to_ascii_lowercase();
        n == zone || n.ends_with(&format!(".{zone}"))
    };
    if dns.steered.is_empty() {
        errors.push(ConfigError::new(
            "dns.steered",
            "no steered name: the DNS face would answer nothing with edges",
            format!("list the names clients resolve, e.g. `[\"{zone}\"]`"),
        ));
    }
    for (i, name) in dns.steered.iter().enumerate() {
        if !inside(name) {
            errors.push(ConfigError::new(
                format!("dns.steered[{i}]"),
                format!("`{name}` is not in the zone `{zone}`"),
                "steer only names at or below the zone's apex",
            ));
        }
    }
    if dns.ns.is_empty() {
        errors.push(ConfigError::new(
            "dns.ns",
            "a zone needs at least one name server for its NS and SOA records",
            format!("add `ns = [{{ name = \"ns.{zone}\", address = \"ADDR\" }}]`"),
        ));
    }
    if dns.answers == Some(0) {
        errors.push(ConfigError::new(
            "dns.answers",
            "`0` records per answer would answer nothing",
            "write 1 or more (default 2)",
        ));
    }
    for (i, edge) in edges.iter().enumerate() {
        if !inside(&edge.host) {
            errors.push(ConfigError::new(
                format!("edge[{i}].host"),
                format!("`{}` is not in the zone `{zone}`", edge.host),
                "name each edge under the zone, so the DNS face can answer for it",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> SteeringConfig {
        toml::from_str(text).expect("parses")
    }

    const GOOD: &str = r#"
        [listen]
        api = ["127.0.0.1:0"]
        dns = ["127.0.0.1:0"]
        [dns]
        zone = "video.cdn.test"
        steered = ["video.cdn.test"]
        ns = [{ name = "ns.video.cdn.test", address = "198.18.0.9" }]
        [[edge]]
        name = "oca-a1"
        host = "oca-a1.video.cdn.test"
        addresses = ["198.18.1.2"]
        kind = "embedded"
        cluster = "isp-a"
        health = "http://198.18.1.2:9100/health"
        url = "https://oca-a1.video.cdn.test:8443"
    "#;

    #[test]
    fn a_good_config_validates() {
        let c = config(GOOD);
        assert_eq!(c.validate(), Ok(()));
        assert_eq!(c.edges[0].kind, EdgeKind::Embedded);
    }

    #[test]
    fn every_problem_is_reported_at_once_with_its_key() {
        let text = GOOD
            .replace(
                "steered = [\"video.cdn.test\"]",
                "steered = [\"video.other.test\"]",
            )
            .replace("host = \"oca-a1.video.cdn.test\"", "host = \"oca a1\"")
            .replace(
                "http://198.18.1.2:9100/health",
                "https://198.18.1.2:9100/health",
            );
        let errors = config(&text).validate().unwrap_err();
        let keys: Vec<&str> = errors.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "dns.steered[0]",
                "edge[0].host",
                "edge[0].host",
                "edge[0].health"
            ]
        );
    }

    #[test]
    fn a_report_round_trips_as_json() {
        let report = EdgeReport {
            edge: "oca-a1".into(),
            seq: 7,
            health: Health::Draining,
            load: 0.25,
            routes: vec![LearnedRoute {
                prefix: "198.18.64.0/20".parse().unwrap(),
                local_pref: 200,
                as_path_len: 1,
                origin: Origin::Igp,
                med: 0,
                ebgp: true,
            }],
            contents: Contents {
                titles: vec![SiteTitles {
                    site: "video.cdn.test".into(),
                    titles: vec![1, 4],
                }],
                fills: true,
            },
        };
        let json = serde_json::to_string(&report).unwrap();
        assert!(json.contains("\"prefix\":\"198.18.64.0/20\""), "{json}");
        assert!(json.contains("\"health\":\"draining\""), "{json}");
        assert_eq!(serde_json::from_str::<EdgeReport>(&json).unwrap(), report);
    }
}
