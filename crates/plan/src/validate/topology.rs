//! `[[node]]` and `[[link]]`: the topology.

use std::net::IpAddr;

use crate::diagnostic::Finding;
use crate::model::{Backend, Lan, Link, Node, Role, Routing, Span, StaticRoute};
use crate::spelling;
use crate::tree::{Checker, Table};
use netproof_proto::prefix as address;

use super::{Context, Names, Unique, matches_pattern, optional, suggest_name};

const NODE_KEYS: &[&str] = &[
    "name",
    "role",
    "address",
    "sysctl",
    "routing",
    "asn",
    "originate",
    "bgp_speaker",
    "resolver",
];

/// The per-namespace sysctls a node may set (host tuning: buffers for long
/// fat pipes, congestion control, TCP options). Others are global, or
/// belong to the lab (forwarding, multipath hashing).
pub(crate) const NODE_SYSCTLS: &[&str] = &[
    "net.ipv4.tcp_rmem",
    "net.ipv4.tcp_wmem",
    "net.ipv4.tcp_congestion_control",
    "net.ipv4.tcp_ecn",
    "net.ipv4.tcp_sack",
    "net.ipv4.tcp_timestamps",
    "net.ipv4.tcp_window_scaling",
    "net.ipv4.tcp_mtu_probing",
    "net.ipv4.tcp_notsent_lowat",
    "net.ipv4.tcp_slow_start_after_idle",
    "net.ipv4.tcp_no_metrics_save",
    "net.ipv4.tcp_fastopen",
    "net.ipv4.ip_default_ttl",
    "net.ipv4.ip_local_port_range",
];

/// A node's `sysctl` table: allowlisted keys, values as strings or
/// integers, buffer triples checked for shape.
fn sysctls(
    ck: &mut Checker<'_>,
    cx: &Context<'_>,
    v: &crate::tree::Val<'_, '_>,
) -> Option<Vec<(String, String)>> {
    let t = v.table(
        ck,
        "sysctl",
        "a table such as `{ \"net.ipv4.tcp_rmem\" = \"4096 131072 67108864\" }`",
    )?;
    if cx.backend != Backend::Netns {
        ck.report(
            Finding::new(
                v.entry_span(),
                "`sysctl` needs the netns backend".to_string(),
                "needs the netns backend",
            )
            .hint("on the local backend every node is this host; run on netns, or remove `sysctl`"),
        );
        return None;
    }
    let mut out = Vec::new();
    let mut ok = true;
    for (key, span) in t.keys() {
        let Some(val) = t.get(key) else { continue };
        if !NODE_SYSCTLS.contains(&key) {
            let hint = match spelling::closest(key, NODE_SYSCTLS.iter().copied()) {
                _ if val.as_table().is_some() => {
                    "TOML reads dotted keys as nested tables: quote the sysctl's name, e.g. `\"net.ipv4.tcp_rmem\" = \"...\"`"
                        .to_string()
                }
                Some(near) => format!("did you mean `{near}`? a node may set {}", spelling::one_of(NODE_SYSCTLS)),
                None => format!("a node may set {}", spelling::one_of(NODE_SYSCTLS)),
            };
            ck.report(
                Finding::new(
                    span,
                    format!("`{key}` is not a sysctl a node may set"),
                    "not allowed",
                )
                .hint(hint),
            );
            ok = false;
            continue;
        }
        let value = if val.is_integer() {
            val.integer(ck, "").map(|i| i.to_string())
        } else {
            val.text(ck).map(|s| s.value.trim().to_string())
        };
        let Some(value) = value else {
            ok = false;
            continue;
        };
        if key.ends_with("tcp_rmem") || key.ends_with("tcp_wmem") {
            let nums: Vec<Option<u64>> = value.split_whitespace().map(|n| n.parse().ok()).collect();
            let good = nums.len() == 3
                && nums.iter().all(Option::is_some)
                && nums[0] <= nums[1]
                && nums[1] <= nums[2];
            if !good {
                val.invalid(
                    ck,
                    format!("`{key}` = `{value}` is not three byte counts, min <= default <= max"),
                    "not min default max",
                    Some("write e.g. `\"4096 131072 67108864\"` (64 MiB holds one flow of 17 Gbit/s at 20 ms)".to_string()),
                );
                ok = false;
                continue;
            }
        }
        out.push((key.to_string(), value));
    }
    ok.then_some(out)
}
const LINK_KEYS: &[&str] =
    with_impairment_keys!("ends", "mtu", "cost", "a_to_b", "b_to_a", "ospf", "bfd");

/// Node names become part of namespace and interface names, which the
/// kernel limits to 15 bytes with our prefixes; 32 keeps room for the lab's
/// own naming while letting names read well.
const MAX_NODE_NAME: usize = 32;

fn node_name_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'
}

pub(super) fn nodes(
    ck: &mut Checker<'_>,
    cx: &Context<'_>,
    tables: &[Table<'_, '_>],
) -> Vec<Option<Node>> {
    let mut names = Unique::new("node name");
    let mut addresses: Vec<(IpAddr, Span)> = Vec::new();
    tables
        .iter()
        .map(|t| {
            t.reject_unknown(ck, NODE_KEYS, &|key| match key {
                "service" | "services" => {
                    Some("services are their own tables: `[[service]]` with `node = \"...\"`".to_string())
                }
                _ => None,
            });
            let name = t
                .require(ck, "name", "add `name = \"client\"` (lower-case letters, digits and `-`)")
                .and_then(|v| v.text(ck))
                .and_then(|s| {
                    let mut ok = true;
                    if !matches_pattern(s.value, |c| c.is_ascii_lowercase(), node_name_char) {
                        let suggestion = suggest_name(s.value, true, node_name_char);
                        let mut hint = "node names use lower-case letters, digits and `-`, starting with a letter"
                            .to_string();
                        if matches_pattern(&suggestion, |c| c.is_ascii_lowercase(), node_name_char) {
                            hint.push_str(&format!(", e.g. `{suggestion}`"));
                        }
                        ck.report(
                            Finding::new(s.span, format!("node name `{}` is not a valid name", s.value), "invalid name")
                                .hint(hint),
                        );
                        ok = false;
                    } else if s.value.len() > MAX_NODE_NAME {
                        ck.report(
                            Finding::new(
                                s.span,
                                format!(
                                    "node name `{}` is {} characters long, more than {MAX_NODE_NAME}",
                                    s.value,
                                    s.value.len()
                                ),
                                "too long",
                            )
                            .hint("node names end up in interface and namespace names; shorten it"),
                        );
                        ok = false;
                    }
                    ok &= names.check(ck, s.value, s.span);
                    ok.then(|| s.value.to_string())
                });
            let role = match t.get("role") {
                None => Some(Role::Host),
                Some(v) => v.str(ck).and_then(|s| match s.value {
                    "host" => Some(Role::Host),
                    "router" => Some(Role::Router),
                    other => {
                        let hint = spelling::did_you_mean(other, ["host", "router"])
                            .unwrap_or_else(|| "roles are `host` (the default) and `router`".to_string());
                        ck.report(Finding::new(s.span, format!("unknown role `{other}`"), "unknown role").hint(hint));
                        None
                    }
                }),
            };
            let address = match t.get("address") {
                None => Some(None),
                Some(v) => v.str(ck).and_then(|s| {
                    let ip = parse_ip(ck, s.value, s.span)?;
                    if !node_address_allowed(ck, cx, ip, s.span) {
                        return None;
                    }
                    if let Some((_, first)) = addresses.iter().find(|(a, _)| *a == ip) {
                        ck.report(
                            Finding::new(s.span, format!("address `{ip}` is used by two nodes"), "second use")
                                .also(*first, "first used here")
                                .hint("give every node its own address"),
                        );
                        return None;
                    }
                    addresses.push((ip, s.span));
                    Some(Some(ip))
                }),
            };
            let sysctl = match t.get("sysctl") {
                None => Some(Vec::new()),
                Some(v) => sysctls(ck, cx, &v),
            };
            let routing = match t.get("routing") {
                None => Some(Routing::Static),
                Some(v) => super::routing::routing(ck, cx, &v),
            };
            let asn = t.get("asn").map(|v| super::routing::asn(ck, cx, &v));
            let originate = t.get("originate").map(|v| super::routing::originate(ck, cx, &v));
            let bgp_speaker = t.get("bgp_speaker").map(|v| super::speaker::parse(ck, cx, &v));
            let resolver = t.get("resolver").map(|v| resolvers(ck, cx, &v));
            Some(Node {
                name: name?,
                role: role?,
                address: address?,
                sysctl: sysctl?,
                routing: routing?,
                routing_span: t.get("routing").map(|v| v.span()),
                asn: super::optional(asn)?,
                originate: super::optional(originate)?.unwrap_or_default(),
                bgp_speaker: super::optional(bgp_speaker)?,
                resolver: super::optional(resolver)?.unwrap_or_default(),
                span: t.span(),
            })
        })
        .collect()
}

/// Parses an IP address, reporting text that is not one.
fn parse_ip(ck: &mut Checker<'_>, text: &str, span: Span) -> Option<IpAddr> {
    match text.parse::<IpAddr>() {
        Ok(ip) => Some(ip),
        Err(_) => {
            let hint = if let Some((addr, len)) = text.split_once('/') {
                format!("write the address without the prefix length: `{addr}` (drop `/{len}`)")
            } else {
                "write an IPv4 or IPv6 address, e.g. `127.0.0.2` or `2001:2::1`".to_string()
            };
            ck.report(
                Finding::new(
                    span,
                    format!("`{text}` is not an IP address"),
                    "not an address",
                )
                .hint(hint),
            );
            None
        }
    }
}

/// Applies the address policy to a node address.
fn node_address_allowed(ck: &mut Checker<'_>, cx: &Context<'_>, ip: IpAddr, span: Span) -> bool {
    match cx.backend {
        // The local backend subsumes the general policy: loopback only.
        Backend::Local => {
            if address::is_v4_loopback(ip) {
                return true;
            }
            ck.report(
                Finding::new(
                    span,
                    format!("node address `{ip}` is not in 127.0.0.0/8, and the plan runs on the local backend"),
                    "not a loopback address",
                )
                .hint(
                    "the local backend gives each node a loopback address: use one in 127.0.0.0/8 \
                     such as `127.0.0.2`, or remove `address` to let the lab choose",
                ),
            );
            false
        }
        // A namespace node's address is its loopback /32, from the lab range
        // so routes can reach it; loopback itself stays inside each node.
        Backend::Netns => {
            let ok = match ip {
                IpAddr::V4(v4) => {
                    !v4.is_loopback()
                        && (address::is_lab_or_loopback(ip) || cx.options.allow_external)
                }
                IpAddr::V6(_) => false,
            };
            if ok {
                return true;
            }
            let hint = match ip {
                IpAddr::V6(_) => "on the netns backend `address` is the node's IPv4 loopback (/32); its IPv6 \
                                  loopback is allocated from 2001:2::/48. Use an IPv4 address such as \
                                  `198.18.0.10`, or remove `address`"
                    .to_string(),
                IpAddr::V4(_) => format!(
                    "use an address in 198.18.0.0/15 such as `198.18.0.10`, or remove `address` to let the lab \
                     choose ({} is only for the local backend)",
                    "127.0.0.0/8"
                ),
            };
            ck.report(
                Finding::new(
                    span,
                    format!("node address `{ip}` cannot be a node's address on the netns backend"),
                    "not a lab address",
                )
                .hint(hint),
            );
            false
        }
    }
}

/// Applies the address policy to a literal address (a node's or a probe
/// target's): lab ranges and loopback unless `--allow-external`.
pub(super) fn external_allowed(
    ck: &mut Checker<'_>,
    cx: &Context<'_>,
    ip: IpAddr,
    span: Span,
) -> bool {
    if cx.options.allow_external || address::is_lab_or_loopback(ip) {
        return true;
    }
    ck.report(
        Finding::new(
            span,
            format!("address `{ip}` is outside the lab ranges"),
            "outside the lab ranges",
        )
        .hint(format!(
            "use an address in {}, or a node name; pass `--allow-external` only for a real lab",
            address::LAB_RANGES
        )),
    );
    false
}

pub(super) fn links(
    ck: &mut Checker<'_>,
    cx: &Context<'_>,
    names: &Names,
    tables: &[Table<'_, '_>],
) -> Vec<Option<Link>> {
    let mut pairs: Vec<([String; 2], Span)> = Vec::new();
    tables
        .iter()
        .map(|t| {
            t.reject_unknown(ck, LINK_KEYS, &|key| match key {
                "name" => Some("a link is named by its ends (`a--b`); remove `name`".to_string()),
                "nodes" => Some("did you mean `ends`?".to_string()),
                _ => None,
            });
            let ends_val = t.require(ck, "ends", "add `ends = [\"a\", \"b\"]`, the two nodes the link joins");
            let written = ends_val.as_ref().and_then(|v| v.strings(ck));
            // The link's display name as written, for messages, even when
            // an end does not resolve.
            let display = match &written {
                Some(e) if e.len() == 2 => format!("link `{}--{}`", e[0].value, e[1].value),
                _ => "this link".to_string(),
            };
            let ends = match (ends_val.as_ref(), written) {
                (Some(v), Some(e)) => {
                    if e.len() != 2 {
                        v.invalid(
                            ck,
                            format!("`ends` must name exactly 2 nodes, found {}", e.len()),
                            "expected 2 nodes",
                            Some("a link joins two nodes: `ends = [\"a\", \"b\"]`".to_string()),
                        );
                        None
                    } else {
                        let a = names.resolve_str(ck, &e[0]);
                        let b = names.resolve_str(ck, &e[1]);
                        match (a, b) {
                            (Some(a), Some(b)) if a == b => {
                                v.invalid(
                                    ck,
                                    format!("{display} joins `{a}` to itself"),
                                    "same node twice",
                                    Some("a link joins two different nodes".to_string()),
                                );
                                None
                            }
                            (Some(a), Some(b)) => {
                                let key = if a <= b { [a.clone(), b.clone()] } else { [b.clone(), a.clone()] };
                                if let Some((_, first)) = pairs.iter().find(|(k, _)| *k == key) {
                                    ck.report(
                                        Finding::new(
                                            v.span(),
                                            format!("duplicate link between `{a}` and `{b}`"),
                                            "second link",
                                        )
                                        .also(*first, "first link between them")
                                        .hint("two nodes are joined by at most one link; merge the two tables"),
                                    );
                                    None
                                } else {
                                    pairs.push((key, v.span()));
                                    Some([a, b])
                                }
                            }
                            _ => None,
                        }
                    }
                }
                _ => None,
            };

            let impairment = super::impair::link(ck, &cx.plan_dir, t, &display);
            let mtu = t.get("mtu").map(|v| {
                let m = v.int_in(ck, 68..=65535, "bytes");
                netns_mtu(ck, cx, m, &v)
            });

            let cost = t.get("cost").map(|v| v.int_in(ck, 1..=65535, "").and_then(|c| u32::try_from(c).ok()));
            if cx.backend == Backend::Local {
                for key in super::impair::KEYS.iter().chain(super::impair::DIRECTIONS) {
                    if let Some(v) = t.get(key) {
                        ck.report(
                            Finding::new(
                                v.entry_span(),
                                format!("{display}: `{key}` cannot be emulated on the local backend"),
                                "needs the netns backend",
                            )
                            .hint(format!(
                                "link properties need the netns backend (`backend = \"netns\"` or `--backend \
                                 netns`, the default), where the link emulator shapes them; remove `{key}` to \
                                 run on the local backend"
                            )),
                        );
                    }
                }
            }

            let protocols = super::routing::link(ck, cx, t);
            let (ospf, bfd) = protocols?;
            Some(Link {
                ends: ends?,
                impairment: impairment?,
                mtu: optional(mtu)?,
                cost: optional(cost)?.unwrap_or(1),
                ospf,
                bfd,
                span: t.span(),
            })
        })
        .collect()
}

const LAN_KEYS: &[&str] = &["name", "nodes", "mtu", "cost"];

/// `[[lan]]` tables: several nodes on one segment.
pub(super) fn lans(
    ck: &mut Checker<'_>,
    cx: &Context<'_>,
    names: &Names,
    tables: &[Table<'_, '_>],
) -> Vec<Option<Lan>> {
    let mut unique = Unique::new("LAN name");
    tables
        .iter()
        .map(|t| {
            t.reject_unknown(ck, LAN_KEYS, &|key| match key {
                "ends" | "members" => Some("a LAN lists its members in `nodes`".to_string()),
                k if super::impair::KEYS.contains(&k) => {
                    Some("LANs carry no impairments; put them on a `[[link]]`".to_string())
                }
                _ => None,
            });
            let name = t
                .require(ck, "name", "add `name = \"office\"` (lower-case letters, digits and `-`)")
                .and_then(|v| v.text(ck))
                .and_then(|s| {
                    if !matches_pattern(s.value, |c| c.is_ascii_lowercase(), node_name_char)
                        || s.value.len() > MAX_NODE_NAME
                    {
                        ck.report(
                            Finding::new(s.span, format!("LAN name `{}` is not a valid name", s.value), "invalid name")
                                .hint(format!(
                                    "LAN names use lower-case letters, digits and `-`, start with a letter and have at most {MAX_NODE_NAME} characters"
                                )),
                        );
                        return None;
                    }
                    unique.check(ck, s.value, s.span).then(|| s.value.to_string())
                });
            let nodes_val = t.require(ck, "nodes", "add `nodes = [\"a\", \"b\", \"c\"]`, the LAN's members");
            let nodes = nodes_val.as_ref().and_then(|v| {
                let items = v.strings(ck)?;
                let mut out: Vec<String> = Vec::new();
                let mut ok = true;
                for s in &items {
                    match names.resolve_str(ck, s) {
                        Some(n) if out.contains(&n) => {
                            ck.report(
                                Finding::new(s.span, format!("node `{n}` is listed twice"), "listed twice")
                                    .hint("a node joins a LAN once"),
                            );
                            ok = false;
                        }
                        Some(n) => out.push(n),
                        None => ok = false,
                    }
                }
                if ok && out.len() < 2 {
                    v.invalid(
                        ck,
                        format!("a LAN needs at least 2 nodes, found {}", out.len()),
                        "too few nodes",
                        Some("a LAN joins two or more nodes; for exactly two a `[[link]]` also works".to_string()),
                    );
                    ok = false;
                }
                ok.then_some(out)
            });
            let mtu = t.get("mtu").map(|v| {
                let m = v.int_in(ck, 68..=65535, "bytes");
                netns_mtu(ck, cx, m, &v)
            });
            let cost = t.get("cost").map(|v| v.int_in(ck, 1..=65535, "").and_then(|c| u32::try_from(c).ok()));
            Some(Lan {
                name: name?,
                nodes: nodes?,
                mtu: optional(mtu)?,
                cost: optional(cost)?.unwrap_or(1),
                span: t.span(),
            })
        })
        .collect()
}

const ROUTE_KEYS: &[&str] = &["node", "to", "via"];

/// `[[route]]` tables: static routes on top of the computed ones.
pub(super) fn routes(
    ck: &mut Checker<'_>,
    cx: &Context<'_>,
    names: &Names,
    links: &[[String; 2]],
    lans: &[Vec<String>],
    tables: &[Table<'_, '_>],
) -> Vec<Option<StaticRoute>> {
    tables
        .iter()
        .map(|t| {
            t.reject_unknown(ck, ROUTE_KEYS, &|key| match key {
                "dest" | "prefix" | "destination" => Some("did you mean `to`?".to_string()),
                "gateway" | "nexthop" | "next_hop" => Some("did you mean `via`? it names a neighbour node".to_string()),
                _ => None,
            });
            if cx.backend != Backend::Netns {
                ck.report(
                    Finding::new(t.span(), format!("`[[route]]` needs the netns backend; the plan runs on {}", cx.backend.as_str()), "needs netns")
                        .hint("routes exist only between namespaces: use `backend = \"netns\"`, or remove the route"),
                );
            }
            let node = t
                .require(ck, "node", "add `node = \"...\"`, the node that gets the route")
                .and_then(|v| v.str(ck))
                .and_then(|s| names.resolve_str(ck, &s));
            let via_str = t
                .require(ck, "via", "add `via = \"...\"`, the neighbour to send to")
                .and_then(|v| v.str(ck));
            let via = via_str.as_ref().and_then(|s| names.resolve_str(ck, s));
            let to = t
                .require(ck, "to", "add `to = \"198.18.9.0/24\"`, the destination prefix")
                .and_then(|v| v.str(ck))
                .and_then(|s| match address::parse_network(s.value) {
                    Ok(net) => external_allowed(ck, cx, net.addr(), s.span).then_some(net),
                    Err(e) => {
                        ck.report(Finding::new(s.span, e.to_string(), e.label()).hint(e.hint()));
                        None
                    }
                });
            let (node, via) = (node?, via?);
            if node == via {
                ck.report(Finding::new(t.span(), format!("node `{node}` cannot route via itself"), "via itself").hint("`via` names a neighbour: a node on a shared link or LAN"));
                return None;
            }
            let adjacent = links.iter().any(|l| (l[0] == node && l[1] == via) || (l[0] == via && l[1] == node))
                || lans.iter().any(|m| m.contains(&node) && m.contains(&via));
            if !adjacent {
                let span = via_str.map_or(t.span(), |s| s.span);
                ck.report(
                    Finding::new(span, format!("`{via}` is not a neighbour of `{node}`"), "not adjacent")
                        .hint(format!("a next hop shares a `[[link]]` or `[[lan]]` with `{node}`")),
                );
                return None;
            }
            let to = to?;
            Some(StaticRoute { node, to, via, span: t.span() })
        })
        .collect()
}

/// An MTU, checked against what the netns backend can carry: every netns
/// link and LAN also carries IPv6, which needs at least 1280 bytes.
fn netns_mtu(
    ck: &mut Checker<'_>,
    cx: &Context<'_>,
    mtu: Option<i64>,
    v: &crate::tree::Val<'_, '_>,
) -> Option<u32> {
    let m = u32::try_from(mtu?).ok()?;
    if cx.backend == Backend::Netns && m < 1280 {
        v.invalid(
            ck,
            format!("`mtu` {m} is below 1280, the least IPv6 accepts"),
            "too small for IPv6",
            Some(
                "the netns backend addresses every link and LAN with IPv6 too; use 1280 or more"
                    .to_string(),
            ),
        );
        return None;
    }
    Some(m)
}

/// A node's `resolver`: one to three DNS server addresses (glibc reads
/// at most three `nameserver` lines), on the netns backend only, inside
/// the lab ranges or the node's own loopback unless `--allow-external`.
fn resolvers(
    ck: &mut Checker<'_>,
    cx: &Context<'_>,
    v: &crate::tree::Val<'_, '_>,
) -> Option<Vec<IpAddr>> {
    if cx.backend != Backend::Netns {
        ck.report(
            Finding::new(v.span(), "`resolver` needs the netns backend", "needs the netns backend")
                .hint("on the local backend every node is this host and shares its /etc/resolv.conf; run on netns"),
        );
        return None;
    }
    let items = v.strings(ck)?;
    if items.is_empty() || items.len() > 3 {
        v.invalid(
            ck,
            format!("`resolver` lists {} addresses", items.len()),
            "one to three",
            Some("list one to three DNS server addresses, e.g. `resolver = [\"198.18.0.9\"]` (the C library reads at most three)".to_string()),
        );
        return None;
    }
    let mut out = Vec::new();
    let mut ok = true;
    for s in &items {
        let Some(ip) = parse_ip(ck, s.value, s.span) else {
            ok = false;
            continue;
        };
        if !(cx.options.allow_external || address::is_lab_or_loopback(ip)) {
            ck.report(
                Finding::new(s.span, format!("resolver `{ip}` is outside the lab ranges"), "outside the lab")
                    .hint("name a resolver inside the lab (198.18.0.0/15, 2001:2::/48, or loopback), or pass `--allow-external`"),
            );
            ok = false;
            continue;
        }
        out.push(ip);
    }
    ok.then_some(out)
}
