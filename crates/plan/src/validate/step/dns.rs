//! `kind = "dns"`: a series of DNS queries from one node to a server, with
//! an optional EDNS Client Subnet prefix.
//!
//! The server is a node or an address (port 53 unless written); the name,
//! the record type and the subnet are checked here, so a typo in any of
//! them is a plan error at its key, not a failed query at run time.

use std::time::Duration;

use crate::diagnostic::Finding;
use netproof_proto::prefix;

use crate::model::{Dns, DnsName, IpNet, NodeAction, RecordType, Transport};
use crate::tree::{Checker, Str, Table};
use crate::units::format_duration;

use crate::validate::{Context, Names, optional, positive_duration};

use super::target::{from_node, target_with_default};

/// The keys a `dns` step adds to the common ones.
pub(super) const KEYS: &[&str] = &[
    "from",
    "server",
    "qname",
    "type",
    "subnet",
    "transport",
    "queries",
    "interval",
    "wait",
    "tries",
];

/// The record types a step may ask for.
const TYPES: &[&str] = &[
    "A", "AAAA", "CNAME", "TXT", "NS", "SOA", "MX", "SRV", "PTR", "CAA", "HTTPS", "SVCB", "ANY",
];

const DEFAULT_PORT: u16 = 53;
const DEFAULT_WAIT: Duration = Duration::from_secs(2);
const DEFAULT_TRIES: u32 = 3;

pub(super) fn dns(
    ck: &mut Checker<'_>,
    cx: &Context<'_>,
    names: &Names,
    t: &Table<'_, '_>,
    label: &str,
) -> Option<NodeAction> {
    let from = from_node(ck, names, t, "asks");
    let server = t
        .require(
            ck,
            "server",
            "add `server = \"NODE\"` (port 53), `\"NODE:PORT\"` or an address: the DNS server asked",
        )
        .and_then(|v| v.str(ck))
        .and_then(|s| target_with_default(ck, cx, names, &s, DEFAULT_PORT));
    let name = t
        .require(
            ck,
            "qname",
            "add `qname = \"www.cdn.test\"`, the name asked about",
        )
        .and_then(|v| v.text(ck))
        .and_then(|s| dns_name(ck, &s));
    let rtype = t.get("type").map(|v| {
        let s = v.str(ck)?;
        let upper = s.value.to_ascii_uppercase();
        if TYPES.contains(&upper.as_str())
            && let Ok(t) = RecordType::parse(&upper)
        {
            Some(t)
        } else {
            ck.report(
                Finding::new(
                    s.span,
                    format!("`{}` is not a record type a `dns` step asks for", s.value),
                    "unknown type",
                )
                .hint(format!("write one of {}", crate::spelling::one_of(TYPES))),
            );
            None
        }
    });
    let subnet = t
        .get("subnet")
        .map(|v| v.str(ck).and_then(|s| subnet(ck, &s)));
    let transport = t.get("transport").map(|v| {
        let s = v.str(ck)?;
        match s.value {
            "udp" => Some(Transport::Udp),
            "tcp" => Some(Transport::Tcp),
            other => {
                ck.report(
                    Finding::new(s.span, format!("unknown transport `{other}`"), "not a transport")
                        .hint("write `transport = \"udp\"` (TCP after a truncated answer) or `transport = \"tcp\"`"),
                );
                None
            }
        }
    });
    let queries = t.get("queries").map(|v| {
        v.int_in(ck, 1..=100_000, "queries")
            .and_then(|n| u32::try_from(n).ok())
    });
    let interval = t.get("interval").map(|v| positive_duration(ck, &v));
    let wait = t.get("wait").map(|v| positive_duration(ck, &v));
    let tries = t.get("tries").map(|v| {
        v.int_in(ck, 1..=10, "tries")
            .and_then(|n| u32::try_from(n).ok())
    });
    let transport = optional(transport)?.unwrap_or(Transport::Udp);
    if let (Transport::Tcp, Some(v)) = (transport, t.get("tries")) {
        ck.report(
            Finding::new(
                v.key_span(),
                "`tries` is for UDP; a TCP query is sent once".to_string(),
                "not for tcp",
            )
            .hint("remove `tries`, or use `transport = \"udp\"`"),
        );
        return None;
    }
    let step = Dns {
        from: from?,
        server: server.as_ref()?.0.clone(),
        port: server.as_ref()?.1,
        name: name?,
        rtype: optional(rtype)?.unwrap_or(RecordType::A),
        subnet: optional(subnet)?,
        transport,
        queries: optional(queries)?.unwrap_or(1),
        interval: optional(interval)?.unwrap_or(Duration::from_secs(1)),
        wait: optional(wait)?.unwrap_or(DEFAULT_WAIT),
        tries: optional(tries)?.unwrap_or(DEFAULT_TRIES),
    };
    // Read quietly: a malformed `timeout` is reported by the common checks.
    if let Some(v) = t.get("timeout")
        && let Some(timeout) = v.duration(&mut Checker::new(ck.text))
    {
        let needed = step.interval.saturating_mul(step.queries - 1) + step.wait;
        if timeout < needed {
            ck.report(
                Finding::new(v.key_span(), format!("step `{label}` cannot finish its queries within its `timeout`"), "too short")
                    .hint(format!(
                        "{} queries every {} with a wait of {} take at least {}; raise `timeout` or remove it (the default fits every try)",
                        step.queries,
                        format_duration(step.interval),
                        format_duration(step.wait),
                        format_duration(needed)
                    )),
            );
            return None;
        }
    }
    Some(NodeAction::Dns(step))
}

/// The step's default `timeout`: every query's tries and a TCP retry, one
/// after another, plus a second.
pub(super) fn default_timeout(d: &Dns) -> Duration {
    let per_query = d.wait.saturating_mul(d.tries + 1);
    (d.interval.max(per_query))
        .saturating_mul(d.queries)
        .saturating_add(Duration::from_secs(1))
}

/// A DNS name in ASCII: labels of letters, digits, `-`, `_` (and `*`),
/// at most 63 bytes each and 253 in all, with an optional final dot.
fn dns_name(ck: &mut Checker<'_>, s: &Str<'_>) -> Option<DnsName> {
    DnsName::parse(s.value)
        .map_err(|e| {
            ck.report(
                Finding::new(s.span, format!("`{}` is not a DNS name", s.value), "invalid name")
                    .hint(format!(
                        "{}; write labels of letters, digits and `-` separated by dots, e.g. `www.cdn.test`",
                        e.why
                    )),
            );
        })
        .ok()
}

/// `ADDR/LEN` with no address bits set beyond `LEN`.
fn subnet(ck: &mut Checker<'_>, s: &Str<'_>) -> Option<IpNet> {
    prefix::parse_network(s.value)
        .map_err(|e| {
            // RFC 7871 section 6: a server answers a prefix with host bits
            // set with FORMERR.
            ck.report(Finding::new(s.span, e.to_string(), e.label()).hint(e.hint()));
        })
        .ok()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::model::{Action, Dns, NodeAction, Target, Transport};
    use crate::{Options, parse};

    fn plan(step: &str) -> String {
        format!(
            r#"
[plan]
name = "dns"
summary = "dns steps"
backend = "local"

[[node]]
name = "client"

[[node]]
name = "ns"

[[case]]
id = "D-01"
title = "ask"
steps = [ {step} ]
"#
        )
    }

    fn ok(step: &str) -> (Dns, std::time::Duration) {
        let p = parse(Path::new("p.toml"), &plan(step), &Options::default())
            .unwrap_or_else(|e| panic!("{}", e.render(false, 100)));
        let s = &p.cases[0].steps[0];
        match &s.action {
            Action::Node(NodeAction::Dns(d)) => (d.clone(), s.timeout),
            other => panic!("{other:?}"),
        }
    }

    fn errors(step: &str) -> Vec<String> {
        let e = parse(Path::new("p.toml"), &plan(step), &Options::default()).unwrap_err();
        e.problems()
            .into_iter()
            .map(|p| format!("{} | {}", p.message, p.hint.unwrap_or_default()))
            .collect()
    }

    #[test]
    fn defaults_and_every_key() {
        let (d, timeout) =
            ok(r#"{ kind = "dns", from = "client", server = "ns", qname = "www.cdn.test" }"#);
        assert_eq!(d.server, Target::Node("ns".into()));
        assert_eq!(d.port, 53);
        assert_eq!(d.rtype.to_string(), "A");
        assert_eq!(d.transport, Transport::Udp);
        assert_eq!((d.queries, d.tries, d.subnet), (1, 3, None));
        // One query: 3 tries and a TCP retry of 2 s each, plus 1 s.
        assert_eq!(timeout, std::time::Duration::from_secs(9));

        let (d, _) = ok(
            r#"{ kind = "dns", from = "client", server = "[::1]:5353", qname = "www.cdn.test.", type = "aaaa", subnet = "2001:2:4::/48", transport = "tcp", queries = 4, interval = "100ms", wait = "1s" }"#,
        );
        assert_eq!(d.server, Target::Addr("::1".parse().unwrap()));
        assert_eq!(d.port, 5353);
        assert_eq!(d.rtype.to_string(), "AAAA");
        assert_eq!(d.subnet.unwrap().to_string(), "2001:2:4::/48");
        assert_eq!(d.transport, Transport::Tcp);
        let (d, _) = ok(
            r#"{ kind = "dns", from = "client", server = "127.0.0.1", qname = "x.test", subnet = "198.18.4.0/24" }"#,
        );
        assert_eq!(d.port, 53);
        assert_eq!(d.subnet.unwrap().to_string(), "198.18.4.0/24");
    }

    #[test]
    fn mistakes_are_reported_at_their_key() {
        let e = errors(
            r#"{ kind = "dns", from = "client", server = "ns", qname = "www.cdn.test", subnet = "198.18.4.1/24" }"#,
        );
        assert!(e[0].contains("address bits set beyond /24"), "{e:?}");
        assert!(e[0].contains("`198.18.4.0/24`"), "{e:?}");
        let e = errors(
            r#"{ kind = "dns", from = "client", server = "ns", qname = "www.cdn.test", type = "AXFR" }"#,
        );
        assert!(e[0].contains("not a record type"), "{e:?}");
        let e = errors(r#"{ kind = "dns", from = "client", server = "ns", qname = "bad name" }"#);
        assert!(e[0].contains("not a DNS name"), "{e:?}");
        let e = errors(
            r#"{ kind = "dns", from = "client", server = "ns", qname = "a.test", transport = "tcp", tries = 2 }"#,
        );
        assert!(e[0].contains("`tries` is for UDP"), "{e:?}");
        let e = errors(
            r#"{ kind = "dns", from = "client", server = "ns", qname = "a.test", transport = "quic" }"#,
        );
        assert!(e[0].contains("unknown transport"), "{e:?}");
        let e = errors(
            r#"{ kind = "dns", from = "client", server = "ns", qname = "a.test", queries = 10, interval = "1s", timeout = "5s" }"#,
        );
        assert!(e[0].contains("cannot finish its queries"), "{e:?}");
        let e =
            errors(r#"{ kind = "dns", from = "client", server = "8.8.8.8", qname = "a.test" }"#);
        assert!(e[0].contains("8.8.8.8"), "{e:?}");
        let e = errors(r#"{ kind = "dns", from = "client", server = "ns" }"#);
        assert!(e[0].contains("qname"), "{e:?}");
        let e = errors(
            r#"{ kind = "dns", from = "client", server = "ns", qname = "a.test", subnet = "198.18.4.0" }"#,
        );
        assert!(e[0].contains("no prefix length"), "{e:?}");
    }
}
