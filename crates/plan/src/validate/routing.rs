//! Routing intent: a node's `routing`, `asn` and `originate`, a link's
//! `ospf` and `bfd`, and `[[bgp]]` sessions with their policies.
//!
//! Each table's own keys are read where the table is (nodes and links by
//! `topology`, sessions here); what only the whole plan can tell (an AS on
//! a node without sessions, a session to a node that is not a neighbour,
//! OSPF on a node whose routes are static, iBGP without an IGP to carry
//! the loopbacks) is checked once everything is read, in [`cross_check`].
//! A node that runs a protocol without saying `routing` gets the daemon
//! `--routing-daemon` names, else BIRD; `--routing-daemon` also overrides
//! a node's own choice, so one plan runs on either daemon.

use std::time::Duration;

use netproof_proto::prefix;

use crate::diagnostic::Finding;
use crate::model::{
    BFD_DEFAULT, BGP_HOLD, BGP_KEEPALIVE, Backend, Bfd, BgpPolicy, BgpSession, BgpTransport,
    Daemon, IpNet, Lan, Link, Node, OSPF_DEAD, OSPF_HELLO, Originate, Ospf, Routing, Span,
};
use crate::spelling;
use crate::tree::{Checker, Str, Table, Val};

use super::topology::external_allowed;
use super::{Context, Names, positive_duration};

/// The keys a `[[bgp]]` table takes.
const BGP_KEYS: &[&str] = &[
    "ends",
    "over",
    "keepalive",
    "hold",
    "bfd",
    "a_to_b",
    "b_to_a",
];
/// The keys of a session's `a_to_b` and `b_to_a`.
const POLICY_KEYS: &[&str] = &["prefixes", "local_pref", "med", "prepend", "communities"];
/// The keys of a link's `ospf` table.
const OSPF_KEYS: &[&str] = &["area", "hello", "dead"];
/// The keys of a `bfd` table.
const BFD_KEYS: &[&str] = &["interval", "multiplier"];
/// The most prefixes one node may generate.
const MAX_GENERATED: i64 = 1_000_000;

/// A node's `routing`, as written, with its span.
pub(super) fn routing(ck: &mut Checker<'_>, cx: &Context<'_>, v: &Val<'_, '_>) -> Option<Routing> {
    let s = v.str(ck)?;
    let routing = match s.value {
        "static" => Routing::Static,
        "bird" => Routing::Daemon(Daemon::Bird),
        "frr" => Routing::Daemon(Daemon::Frr),
        other => {
            let hint =
                spelling::did_you_mean(other, ["static", "bird", "frr"]).unwrap_or_else(|| {
                    "`routing` is `static` (the default), `bird` or `frr`".to_string()
                });
            ck.report(
                Finding::new(
                    s.span,
                    format!("unknown routing `{other}`"),
                    "unknown routing",
                )
                .hint(hint),
            );
            return None;
        }
    };
    needs_netns(ck, cx, s.span, &format!("`routing = \"{}\"`", s.value))?;
    Some(routing)
}

/// A node's `asn`: a 32-bit AS number other than 0 and 4294967295
/// (RFC 7300 reserves both).
pub(super) fn asn(ck: &mut Checker<'_>, cx: &Context<'_>, v: &Val<'_, '_>) -> Option<u32> {
    let n = v.int_in(ck, 1..=4_294_967_294, "AS number")?;
    needs_netns(ck, cx, v.span(), "`asn`")?;
    u32::try_from(n).ok()
}

/// A node's `originate`: `"loopback"`, prefixes, and tables
/// `{ generate = N, within = "PREFIX", length = L }`.
pub(super) fn originate(
    ck: &mut Checker<'_>,
    cx: &Context<'_>,
    v: &Val<'_, '_>,
) -> Option<Vec<Originate>> {
    needs_netns(ck, cx, v.span(), "`originate`")?;
    let items = v.array(ck, "an array of prefixes, `\"loopback\"` or `{ generate = N, within = \"PREFIX\", length = L }`")?;
    let mut out = Vec::new();
    let mut ok = true;
    for item in &items {
        let one = if let Some(t) = item.as_table() {
            generated(ck, cx, &t)
        } else {
            item.str(ck).and_then(|s| match s.value {
                "loopback" => Some(Originate::Loopback),
                _ => network(ck, cx, &s).map(Originate::Prefix),
            })
        };
        match one {
            Some(o) => out.push(o),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

/// `{ generate = N, within = "PREFIX", length = L }`.
fn generated(ck: &mut Checker<'_>, cx: &Context<'_>, t: &Table<'_, '_>) -> Option<Originate> {
    t.reject_unknown(ck, &["generate", "within", "length"], &|_| None);
    let count = t
        .require(ck, "generate", "add `generate = 1000`, how many prefixes")
        .and_then(|v| v.int_in(ck, 1..=MAX_GENERATED, "prefixes"));
    let within_str = t
        .require(
            ck,
            "within",
            "add `within = \"198.19.0.0/16\"`, the block they come from",
        )
        .and_then(|v| v.str(ck));
    let within = within_str.as_ref().and_then(|s| network(ck, cx, s));
    let length = t
        .require(
            ck,
            "length",
            "add `length = 24`, the generated prefixes' length",
        )
        .and_then(|v| v.int_in(ck, 0..=128, "prefix length").map(|l| (l, v)));
    let (count, within, (length, lv)) = (count?, within?, length?);
    let max = if within.addr().is_ipv4() { 32 } else { 128 };
    if length > max || length < i64::from(within.prefix_len()) {
        lv.invalid(
            ck,
            format!("`length = {length}` does not fit inside `{within}`"),
            "bad length",
            Some(format!("a length from {} to {max}", within.prefix_len())),
        );
        return None;
    }
    let room = length - i64::from(within.prefix_len());
    if room < 63 && (1_i64 << room) < count {
        lv.invalid(
            ck,
            format!(
                "`{within}` holds {} prefixes of length {length}, fewer than {count}",
                1_i64 << room
            ),
            "too few",
            Some("use a larger `within` or a longer `length`".to_string()),
        );
        return None;
    }
    Some(Originate::Generated {
        count: u32::try_from(count).ok()?,
        within,
        length: u8::try_from(length).ok()?,
    })
}

/// A link's `ospf` (`true` or a table) and `bfd` (`true` or a table).
pub(super) fn link(
    ck: &mut Checker<'_>,
    cx: &Context<'_>,
    t: &Table<'_, '_>,
) -> Option<(Option<Ospf>, Option<Bfd>)> {
    let ospf = match t.get("ospf") {
        None => Some(None),
        Some(v) => {
            needs_netns(ck, cx, v.span(), "`ospf`")?;
            ospf(ck, &v)
        }
    };
    let bfd = match t.get("bfd") {
        None => Some(None),
        Some(v) => {
            needs_netns(ck, cx, v.span(), "`bfd`")?;
            bfd(ck, &v)
        }
    };
    // `bfd` without OSPF may still serve a BGP session over the link;
    // `cross_check` looks.
    Some((ospf?, bfd?))
}

fn ospf(ck: &mut Checker<'_>, v: &Val<'_, '_>) -> Option<Option<Ospf>> {
    if v.is_bool() {
        return Some(v.boolean(ck)?.then_some(Ospf {
            area: 0,
            hello: OSPF_HELLO,
            dead: OSPF_DEAD,
        }));
    }
    let t = v.table(
        ck,
        "`ospf`",
        "`true` or a table `{ area = 0, hello = \"1s\", dead = \"4s\" }`",
    )?;
    t.reject_unknown(ck, OSPF_KEYS, &|_| None);
    let area = match t.get("area") {
        None => Some(0),
        Some(a) if a.is_integer() => a
            .int_in(ck, 0..=i64::from(u32::MAX), "area")
            .and_then(|n| u32::try_from(n).ok()),
        Some(a) => a
            .str(ck)
            .and_then(|s| match s.value.parse::<std::net::Ipv4Addr>() {
                Ok(ip) => Some(u32::from(ip)),
                Err(_) => {
                    ck.report(
                        Finding::new(
                            s.span,
                            format!("`{}` is not an OSPF area", s.value),
                            "not an area",
                        )
                        .hint("write the area as a number (`0`) or dotted (`\"0.0.0.1\"`)"),
                    );
                    None
                }
            }),
    };
    let hello = t.get("hello").map(|h| positive_duration(ck, &h));
    let dead = t.get("dead").map(|d| (positive_duration(ck, &d), d));
    let hello = match hello {
        None => OSPF_HELLO,
        Some(h) => h?,
    };
    let dead = match dead {
        // Four hellos: 40 s for the default hello, OSPF's own default.
        None => hello * 4,
        Some((d, dv)) => {
            let d = d?;
            if d <= hello {
                dv.invalid(
                    ck,
                    "`dead` must be longer than `hello`".to_string(),
                    "too short",
                    Some("the usual dead interval is four hellos".to_string()),
                );
                return None;
            }
            d
        }
    };
    for (d, key) in [(hello, "hello"), (dead, "dead")] {
        if d.subsec_nanos() != 0 || d.as_secs() > 65_535 {
            let span = t.get(key).map_or(t.span(), |v| v.span());
            ck.report(
                Finding::new(span, format!("OSPF's `{key}` is a whole number of seconds up to 65535"), "not whole seconds")
                    .hint("OSPF carries its timers in seconds; for faster failure detection use `bfd = true` on the link"),
            );
            return None;
        }
    }
    Some(Some(Ospf {
        area: area?,
        hello,
        dead,
    }))
}

fn bfd(ck: &mut Checker<'_>, v: &Val<'_, '_>) -> Option<Option<Bfd>> {
    if v.is_bool() {
        return Some(v.boolean(ck)?.then_some(BFD_DEFAULT));
    }
    let t = v.table(
        ck,
        "`bfd`",
        "`true` or a table `{ interval = \"100ms\", multiplier = 3 }`",
    )?;
    t.reject_unknown(ck, BFD_KEYS, &|_| None);
    let interval = match t.get("interval") {
        None => Some(BFD_DEFAULT.interval),
        Some(i) => i.duration(ck).and_then(|d| {
            if d < Duration::from_millis(10) || d > Duration::from_secs(60) {
                i.invalid(
                    ck,
                    "a BFD `interval` is from 10ms to 60s".to_string(),
                    "out of range",
                    None,
                );
                None
            } else {
                Some(d)
            }
        }),
    };
    let multiplier = match t.get("multiplier") {
        None => Some(BFD_DEFAULT.multiplier),
        Some(m) => m
            .int_in(ck, 1..=255, "packets")
            .and_then(|n| u8::try_from(n).ok()),
    };
    Some(Some(Bfd {
        interval: interval?,
        multiplier: multiplier?,
    }))
}

/// The `[[bgp]]` sessions.
pub(super) fn sessions(
    ck: &mut Checker<'_>,
    cx: &Context<'_>,
    names: &Names,
    tables: &[Table<'_, '_>],
) -> Vec<Option<BgpSession>> {
    tables
        .iter()
        .map(|t| {
            t.reject_unknown(ck, BGP_KEYS, &|key| match key {
                "nodes" | "peers" => Some("did you mean `ends`?".to_string()),
                "import" | "export" => Some(
                    "policies are written per direction: `a_to_b` (what the first end announces to the second) and `b_to_a`".to_string(),
                ),
                _ => None,
            });
            needs_netns(ck, cx, t.span(), "`[[bgp]]`")?;
            let ends = t
                .require(ck, "ends", "add `ends = [\"r1\", \"r2\"]`, the two routers of the session")
                .and_then(|v| {
                    let items = v.strings(ck)?;
                    if items.len() != 2 {
                        v.invalid(ck, format!("`ends` names {} nodes", items.len()), "not two", Some("a session has two ends".into()));
                        return None;
                    }
                    let a = names.resolve_str(ck, &items[0]);
                    let b = names.resolve_str(ck, &items[1]);
                    let (a, b) = (a?, b?);
                    if a == b {
                        v.invalid(ck, format!("a session from `{a}` to itself"), "same node", Some("name two different routers".into()));
                        return None;
                    }
                    Some([a, b])
                });
            let over = match t.get("over") {
                None => Some(None),
                Some(v) => v.str(ck).and_then(|s| match s.value {
                    "link" => Some(Some(BgpTransport::Link)),
                    "loopback" => Some(Some(BgpTransport::Loopback)),
                    other => {
                        ck.report(
                            Finding::new(s.span, format!("unknown `over` `{other}`"), "unknown")
                                .hint("`over = \"link\"` (the addresses of the link or LAN the ends share; eBGP's default) or `\"loopback\"` (iBGP's default)"),
                        );
                        None
                    }
                }),
            };
            let keepalive = t.get("keepalive").map(|v| positive_duration(ck, &v));
            let hold = t.get("hold").map(|v| (v.duration(ck), v));
            let bfd = match t.get("bfd") {
                None => Some(None),
                Some(v) => bfd(ck, &v),
            };
            let a_to_b = policy(ck, cx, t, "a_to_b");
            let b_to_a = policy(ck, cx, t, "b_to_a");
            let keepalive = super::optional(keepalive)?;
            let hold = match hold {
                None => None,
                Some((h, v)) => Some((h?, v)),
            };
            let (keepalive, hold) = match (keepalive, hold) {
                (None, None) => (BGP_KEEPALIVE, BGP_HOLD),
                (Some(k), None) => (k, k * 3),
                // A third of the hold time, in whole seconds as BGP
                // carries it (hold 4s: keepalive 1s).
                (None, Some((h, _))) => (Duration::from_secs(h.as_secs() / 3), h),
                (Some(k), Some((h, _))) if h.is_zero() => (k, h),
                (Some(k), Some((h, v))) => {
                    if k >= h {
                        v.invalid(ck, "`hold` must be longer than `keepalive`".into(), "too short", Some("the usual hold time is three keepalives".into()));
                        return None;
                    }
                    (k, h)
                }
            };
            if !hold.is_zero() && hold < Duration::from_secs(3) || hold.subsec_nanos() != 0 || keepalive.subsec_nanos() != 0 {
                let span = t.get("hold").or_else(|| t.get("keepalive")).map_or(t.span(), |v| v.span());
                ck.report(
                    Finding::new(span, "BGP timers are whole seconds, and a hold time is 0 or at least 3s (RFC 4271 section 4.2)".to_string(), "bad timers")
                        .hint("e.g. `keepalive = \"1s\"`, `hold = \"3s\"`; for faster failure detection add `bfd = true`"),
                );
                return None;
            }
            // `over` unwritten: `cross_check` decides once the ends' AS
            // numbers are known (loopbacks for iBGP).
            Some(BgpSession {
                ends: ends?,
                over: over?.unwrap_or(BgpTransport::Link),
                keepalive,
                hold,
                bfd: bfd?,
                a_to_b: a_to_b?,
                b_to_a: b_to_a?,
                span: t.span(),
            })
        })
        .collect()
}

/// A session's `a_to_b` or `b_to_a`.
pub(super) fn policy(
    ck: &mut Checker<'_>,
    cx: &Context<'_>,
    t: &Table<'_, '_>,
    key: &str,
) -> Option<BgpPolicy> {
    let Some(v) = t.get(key) else {
        return Some(BgpPolicy::default());
    };
    let p = v.table(
        ck,
        format!("`{key}`"),
        "a table such as `{ local_pref = 200, prefixes = [\"198.18.4.0/24\"] }`",
    )?;
    p.reject_unknown(ck, POLICY_KEYS, &|k| match k {
        "localpref" | "local-pref" => Some("did you mean `local_pref`?".into()),
        "as_path_prepend" | "prepend_as" => Some("did you mean `prepend`?".into()),
        _ => None,
    });
    let prefixes = match p.get("prefixes") {
        None => Some(None),
        Some(v) => v.strings(ck).and_then(|items| {
            let nets: Vec<Option<IpNet>> = items.iter().map(|s| network(ck, cx, s)).collect();
            nets.into_iter().collect::<Option<Vec<_>>>().map(Some)
        }),
    };
    let local_pref = p.get("local_pref").map(|v| {
        v.int_in(ck, 0..=i64::from(u32::MAX), "preference")
            .and_then(|n| u32::try_from(n).ok())
    });
    let med = p.get("med").map(|v| {
        v.int_in(ck, 0..=i64::from(u32::MAX), "metric")
            .and_then(|n| u32::try_from(n).ok())
    });
    let prepend = p.get("prepend").map(|v| {
        v.int_in(ck, 0..=10, "times")
            .and_then(|n| u8::try_from(n).ok())
    });
    let communities = p.get("communities").map(|v| {
        v.strings(ck).and_then(|items| {
            items
                .iter()
                .map(|s| community(ck, s))
                .collect::<Option<Vec<_>>>()
        })
    });
    Some(BgpPolicy {
        prefixes: prefixes?,
        local_pref: super::optional(local_pref)?,
        med: super::optional(med)?,
        prepend: super::optional(prepend)?.unwrap_or(0),
        communities: super::optional(communities)?.unwrap_or_default(),
    })
}

/// `ASN:VALUE`, both 16-bit (RFC 1997).
fn community(ck: &mut Checker<'_>, s: &Str<'_>) -> Option<(u16, u16)> {
    let parsed = s
        .value
        .split_once(':')
        .and_then(|(a, b)| Some((a.parse::<u16>().ok()?, b.parse::<u16>().ok()?)));
    if parsed.is_none() {
        ck.report(
            Finding::new(
                s.span,
                format!("`{}` is not a community", s.value),
                "not `ASN:VALUE`",
            )
            .hint("write a standard community as two numbers up to 65535, e.g. `\"65001:100\"`"),
        );
    }
    parsed
}

/// A network prefix inside the lab ranges (unless `--allow-external`).
pub(super) fn network(ck: &mut Checker<'_>, cx: &Context<'_>, s: &Str<'_>) -> Option<IpNet> {
    match prefix::parse_network(s.value) {
        Ok(net) => external_allowed(ck, cx, net.addr(), s.span).then_some(net),
        Err(e) => {
            ck.report(Finding::new(s.span, e.to_string(), e.label()).hint(e.hint()));
            None
        }
    }
}

/// Routing protocols need nodes of their own: the netns backend.
pub(super) fn needs_netns(
    ck: &mut Checker<'_>,
    cx: &Context<'_>,
    span: Span,
    what: &str,
) -> Option<()> {
    if cx.backend == Backend::Netns {
        return Some(());
    }
    ck.report(
        Finding::new(span, format!("{what} needs the netns backend"), "needs the netns backend")
            .hint("on the local backend every node is this host and has no routes of its own; run on netns"),
    );
    None
}

/// What [`cross_check`] reads besides the nodes and sessions it settles.
pub(super) struct Read<'r, 'a, 'i> {
    /// The `[[node]]` tables, to point at a key.
    pub(super) node_tables: &'r [Table<'a, 'i>],
    /// The `[[bgp]]` tables, in the order of the sessions.
    pub(super) bgp_tables: &'r [Table<'a, 'i>],
    /// The links as validated.
    pub(super) links: &'r [Option<Link>],
    /// The LANs as validated.
    pub(super) lans: &'r [Option<Lan>],
}

/// What only the whole plan can tell, and each node's routing resolved:
/// a node that runs a protocol is owned by a daemon.
pub(super) fn cross_check(
    ck: &mut Checker<'_>,
    cx: &Context<'_>,
    read: Read<'_, '_, '_>,
    nodes: &mut [Option<Node>],
    sessions: &mut [Option<BgpSession>],
) {
    let Read {
        node_tables,
        bgp_tables,
        links,
        lans,
    } = read;
    let table_of = |name: &str| {
        node_tables.iter().find(|t| {
            t.get("name")
                .and_then(|v| v.str(&mut Checker::new(ck.text)).map(|s| s.value == name))
                .unwrap_or(false)
        })
    };
    let flat: Vec<&Node> = nodes.iter().flatten().collect();
    let links: Vec<&Link> = links.iter().flatten().collect();
    let lans: Vec<&Lan> = lans.iter().flatten().collect();
    let mut reports = Vec::new();

    // Sessions: both ends have an AS; eBGP over a shared link or LAN;
    // iBGP between loopbacks, which the IGP must carry.
    let ospf_nodes: Vec<&str> = links
        .iter()
        .filter(|l| l.ospf.is_some())
        .flat_map(|l| l.ends.iter().map(String::as_str))
        .collect();
    let mut seen: Vec<([String; 2], Span)> = Vec::new();
    for (i, s) in sessions.iter_mut().enumerate() {
        let Some(s) = s else { continue };
        let over_written = bgp_tables.get(i).is_some_and(|t| t.has("over"));
        // An end whose `[[node]]` has an error of its own (a bad
        // `originate`, say) was reported there; its AS is not missing.
        if s.ends.iter().any(|e| !flat.iter().any(|n| n.name == *e)) {
            continue;
        }
        let asns: Vec<Option<u32>> = s
            .ends
            .iter()
            .map(|e| flat.iter().find(|n| n.name == *e).and_then(|n| n.asn))
            .collect();
        for (end, asn) in s.ends.iter().zip(&asns) {
            if asn.is_none() {
                reports.push(
                    Finding::new(
                        s.span,
                        format!("BGP session with `{end}`, which has no `asn`"),
                        "no AS",
                    )
                    .hint(format!(
                        "give `{end}` an AS number: `asn = 65001` in its `[[node]]`"
                    )),
                );
            }
        }
        let (Some(a), Some(b)) = (asns[0], asns[1]) else {
            continue;
        };
        if a == b && !over_written {
            // iBGP defaults to loopbacks.
            s.over = BgpTransport::Loopback;
        }
        let adjacent = links.iter().any(|l| same_pair(&l.ends, &s.ends))
            || lans
                .iter()
                .any(|m| m.nodes.contains(&s.ends[0]) && m.nodes.contains(&s.ends[1]));
        match s.over {
            BgpTransport::Link if !adjacent => reports.push(
                Finding::new(s.span, format!("BGP session between `{}` and `{}`, which share no link or LAN", s.ends[0], s.ends[1]), "not neighbours")
                    .hint("an eBGP session runs over a link or LAN the two routers share; for iBGP between loopbacks give both the same `asn` (or write `over = \"loopback\"`)"),
            ),
            BgpTransport::Loopback => {
                if a != b {
                    reports.push(
                        Finding::new(s.span, format!("eBGP session between loopbacks of `{}` (AS {a}) and `{}` (AS {b})", s.ends[0], s.ends[1]), "multihop eBGP")
                            .hint("eBGP runs over a shared link here (`over = \"link\"`); sessions between loopbacks are iBGP (the same `asn`)"),
                    );
                }
                for e in &s.ends {
                    if !ospf_nodes.contains(&e.as_str()) {
                        reports.push(
                            Finding::new(s.span, format!("iBGP between loopbacks needs an IGP, but `{e}` runs OSPF on no link"), "no IGP")
                                .hint("run OSPF on the links between them (`ospf = true` on each `[[link]]`), which carries the loopbacks"),
                        );
                    }
                }
                if s.bfd.is_some() {
                    reports.push(
                        Finding::new(s.span, "BFD on a session between loopbacks (multihop BFD) is not supported".to_string(), "multihop BFD")
                            .hint("put `bfd = true` on the links the IGP runs over instead"),
                    );
                }
            }
            BgpTransport::Link => {}
        }
        if let Some((_, first)) = seen.iter().find(|(e, _)| same_pair(e, &s.ends)) {
            reports.push(
                Finding::new(s.span, format!("a second BGP session between `{}` and `{}`", s.ends[0], s.ends[1]), "duplicate")
                    .also(*first, "first here")
                    .hint("one session per pair of routers; put both directions' policies in `a_to_b` and `b_to_a`"),
            );
        }
        seen.push((s.ends.clone(), s.span));
    }

    // BFD on a link needs something on the link to protect.
    for l in &links {
        if l.bfd.is_some()
            && l.ospf.is_none()
            && !sessions
                .iter()
                .flatten()
                .any(|s| s.over == BgpTransport::Link && same_pair(&s.ends, &l.ends))
        {
            reports.push(
                Finding::new(l.span, format!("link `{}--{}` has `bfd` but runs neither OSPF nor a BGP session", l.ends[0], l.ends[1]), "nothing to protect")
                    .hint("add `ospf = true` to the link, a `[[bgp]]` session between its ends, or remove `bfd`"),
            );
        }
    }

    // The nodes every `[[bgp]]` names, read quietly, so a session with an
    // error of its own does not also make its ends look session-less.
    let mut quiet = Checker::new(ck.text);
    let in_sessions: Vec<String> = bgp_tables
        .iter()
        .filter_map(|t| t.get("ends"))
        .filter_map(|v| v.strings(&mut quiet))
        .flatten()
        .map(|s| s.value.to_string())
        .collect();

    // Each node: what it runs decides who owns its routes.
    let mut resolved: Vec<(usize, Routing)> = Vec::new();
    for (i, n) in flat.iter().enumerate() {
        let runs_ospf = ospf_nodes.contains(&n.name.as_str());
        let runs_bgp = in_sessions.contains(&n.name);
        let t = table_of(&n.name);
        let key_span = |key: &str| t.and_then(|t| t.get(key)).map_or(n.span, |v| v.key_span());
        if n.asn.is_some() && !runs_bgp {
            reports.push(
                Finding::new(
                    key_span("asn"),
                    format!("node `{}` has an AS number but no BGP session", n.name),
                    "no session",
                )
                .hint(format!(
                    "add a `[[bgp]]` with `ends = [\"{}\", \"...\"]`, or remove `asn`",
                    n.name
                )),
            );
        }
        if !n.originate.is_empty() && !runs_ospf && !runs_bgp {
            reports.push(
                Finding::new(
                    key_span("originate"),
                    format!(
                        "node `{}` originates prefixes but runs no routing protocol",
                        n.name
                    ),
                    "nothing to announce them",
                )
                .hint("run OSPF on one of its links or a BGP session from it"),
            );
        }
        if let Some(sp) = &n.bgp_speaker {
            if let Some(f) = super::speaker::problem(n, sp, runs_ospf, runs_bgp) {
                reports.push(f);
            }
            // The lab keeps the node's routes; BIRD only speaks BGP.
            resolved.push((i, Routing::Static));
            continue;
        }
        let protocols = runs_ospf || runs_bgp;
        let routing = match (n.routing_span, n.routing, protocols) {
            (Some(span), Routing::Static, true) => {
                reports.push(
                    Finding::new(span, format!("node `{}` runs {} but its routes are `static`", n.name, if runs_ospf { "OSPF" } else { "BGP" }), "static routes")
                        .hint("a routing protocol needs a daemon: `routing = \"bird\"` or `\"frr\"`, or remove `routing` (the default daemon is BIRD)"),
                );
                continue;
            }
            (Some(span), Routing::Daemon(d), false) => {
                reports.push(
                    Finding::new(span, format!("node `{}` runs {} but no routing protocol", n.name, d.as_str()), "nothing to run")
                        .hint("give it OSPF on a link (`ospf = true`) or a `[[bgp]]` session, or remove `routing`"),
                );
                continue;
            }
            (_, _, false) => Routing::Static,
            (_, Routing::Daemon(d), true) => {
                Routing::Daemon(cx.options.routing_daemon.unwrap_or(d))
            }
            (None, Routing::Static, true) => {
                Routing::Daemon(cx.options.routing_daemon.unwrap_or_default())
            }
        };
        resolved.push((i, routing));
    }
    for f in reports {
        ck.report(f);
    }
    let mut flat_mut: Vec<&mut Node> = nodes.iter_mut().flatten().collect();
    for (i, r) in resolved {
        flat_mut[i].routing = r;
    }
}

fn same_pair(a: &[String; 2], b: &[String; 2]) -> bool {
    (a[0] == b[0] && a[1] == b[1]) || (a[0] == b[1] && a[1] == b[0])
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use crate::model::{BgpTransport, Daemon, Originate, Plan, Routing};
    use crate::{Options, parse};

    /// Four routers: r1..r3 in AS 65001 with OSPF between them, r4 in AS
    /// 65002 joined to r3 by eBGP.
    const BASE: &str = r#"
[plan]
name = "routing"
summary = "routing intent"

[[node]]
name = "r1"
role = "router"
asn = 65001
originate = ["loopback", "198.18.100.0/24", { generate = 1000, within = "198.19.0.0/16", length = 32 }]

[[node]]
name = "r2"
role = "router"
routing = "frr"

[[node]]
name = "r3"
role = "router"
asn = 65001

[[node]]
name = "r4"
role = "router"
asn = 65002

[[node]]
name = "h"

[[link]]
ends = ["r1", "r2"]
ospf = true
bfd = true

[[link]]
ends = ["r2", "r3"]
cost = 10
ospf = { area = "0.0.0.0", hello = "1s", dead = "4s" }

[[link]]
ends = ["r3", "r4"]

[[link]]
ends = ["r4", "h"]

[[bgp]]
ends = ["r1", "r3"]

[[bgp]]
ends = ["r3", "r4"]
keepalive = "1s"
hold = "3s"
bfd = { interval = "100ms", multiplier = 5 }
a_to_b = { prefixes = ["198.18.100.0/24"], med = 50, prepend = 2, communities = ["65001:100"] }
b_to_a = { local_pref = 200 }
"#;

    fn plan(extra: &str, options: &Options) -> Result<Plan, Vec<String>> {
        let text = format!("{BASE}{extra}");
        parse(Path::new("r.toml"), &text, options).map_err(|e| {
            e.problems()
                .into_iter()
                .map(|p| format!("{} | {}", p.message, p.hint.unwrap_or_default()))
                .collect()
        })
    }

    fn errors(extra: &str) -> Vec<String> {
        plan(extra, &Options::default()).expect_err("the plan should be refused")
    }

    #[test]
    fn intent_reads_into_the_model() {
        let p = plan("", &Options::default()).unwrap_or_else(|e| panic!("{e:#?}"));
        let routing: Vec<Routing> = p.nodes.iter().map(|n| n.routing).collect();
        assert_eq!(
            routing,
            [
                Routing::Daemon(Daemon::Bird),
                Routing::Daemon(Daemon::Frr),
                Routing::Daemon(Daemon::Bird),
                Routing::Daemon(Daemon::Bird),
                Routing::Static,
            ]
        );
        assert_eq!(p.nodes[0].asn, Some(65001));
        assert_eq!(p.nodes[0].originate.len(), 3);
        assert_eq!(p.nodes[0].originate[0], Originate::Loopback);
        assert!(matches!(
            p.nodes[0].originate[2],
            Originate::Generated {
                count: 1000,
                length: 32,
                ..
            }
        ));
        let ospf = p.links[1].ospf.as_ref().unwrap();
        assert_eq!(
            (ospf.area, ospf.hello, ospf.dead),
            (0, Duration::from_secs(1), Duration::from_secs(4))
        );
        assert_eq!(
            p.links[0].ospf.as_ref().unwrap().hello,
            Duration::from_secs(10)
        );
        assert_eq!(p.links[0].bfd.unwrap().interval, Duration::from_millis(300));
        assert!(p.links[2].ospf.is_none());
        // iBGP goes between loopbacks, eBGP over the shared link.
        assert_eq!(p.bgp[0].over, BgpTransport::Loopback);
        assert_eq!(p.bgp[0].hold, Duration::from_secs(180));
        let e = &p.bgp[1];
        assert_eq!(e.over, BgpTransport::Link);
        assert_eq!(
            (e.keepalive, e.hold),
            (Duration::from_secs(1), Duration::from_secs(3))
        );
        assert_eq!(e.bfd.unwrap().multiplier, 5);
        assert_eq!(e.a_to_b.prepend, 2);
        assert_eq!(e.a_to_b.med, Some(50));
        assert_eq!(e.a_to_b.communities, [(65001, 100)]);
        assert_eq!(
            e.a_to_b.prefixes.as_ref().unwrap()[0].to_string(),
            "198.18.100.0/24"
        );
        assert_eq!(e.b_to_a.local_pref, Some(200));
    }

    #[test]
    fn the_command_line_daemon_wins() {
        let options = Options {
            routing_daemon: Some(Daemon::Frr),
            ..Options::default()
        };
        let p = plan("", &options).unwrap_or_else(|e| panic!("{e:#?}"));
        assert!(
            p.nodes[..4]
                .iter()
                .all(|n| n.routing == Routing::Daemon(Daemon::Frr))
        );
        assert_eq!(p.nodes[4].routing, Routing::Static);
    }

    #[test]
    fn an_as_on_a_node_without_sessions() {
        let e = errors("\n[[node]]\nname = \"r5\"\nrole = \"router\"\nasn = 65009\n");
        assert!(
            e.iter()
                .any(|m| m.contains("node `r5` has an AS number but no BGP session")),
            "{e:#?}"
        );
    }

    #[test]
    fn a_session_to_a_node_that_is_not_a_neighbour() {
        let e = errors("\n[[bgp]]\nends = [\"r1\", \"r4\"]\n");
        assert!(
            e.iter().any(|m| m.contains("share no link or LAN")),
            "{e:#?}"
        );
    }

    #[test]
    fn a_hold_time_alone_gets_a_whole_second_keepalive() {
        let p = plan(
            "\n[[node]]\nname = \"r5\"\nrole = \"router\"\nasn = 65005\n\n[[link]]\nends = [\"r4\", \"r5\"]\n\n[[bgp]]\nends = [\"r4\", \"r5\"]\nhold = \"4s\"\n",
            &Options::default(),
        )
        .unwrap_or_else(|e| panic!("{e:#?}"));
        let s = p.bgp.last().unwrap();
        assert_eq!(
            (s.keepalive, s.hold),
            (Duration::from_secs(1), Duration::from_secs(4))
        );
    }

    #[test]
    fn a_session_to_a_node_without_an_as() {
        let e = errors("\n[[bgp]]\nends = [\"r4\", \"h\"]\n");
        assert!(
            e.iter()
                .any(|m| m.contains("BGP session with `h`, which has no `asn`")),
            "{e:#?}"
        );
    }

    #[test]
    fn a_node_with_an_error_of_its_own_is_not_also_said_to_lack_an_as() {
        let e = errors(
            "\n[[node]]\nname = \"r5\"\nrole = \"router\"\nasn = 65005\noriginate = [{ generate = 100000, within = \"2001:2:0:8000::/49\", length = 64 }]\n\n[[link]]\nends = [\"r4\", \"r5\"]\n\n[[bgp]]\nends = [\"r4\", \"r5\"]\n",
        );
        assert!(e.iter().any(|m| m.contains("fewer than 100000")), "{e:#?}");
        assert!(!e.iter().any(|m| m.contains("no `asn`")), "{e:#?}");
    }

    #[test]
    fn a_policy_naming_a_prefix_outside_the_lab_ranges() {
        let e = errors(
            "\n[[bgp]]\nends = [\"r2\", \"r1\"]\na_to_b = { prefixes = [\"10.0.0.0/8\"] }\n",
        );
        assert!(
            e.iter().any(|m| m.contains("outside the lab ranges")),
            "{e:#?}"
        );
    }

    #[test]
    fn mistakes_in_policies_and_timers() {
        let e = errors(
            "\n[[link]]\nends = [\"r1\", \"r3\"]\n\n[[bgp]]\nends = [\"r1\", \"r2\"]\nhold = \"2s\"\na_to_b = { communities = [\"65001-100\"], localpref = 5 }\n",
        );
        assert!(
            e.iter()
                .any(|m| m.contains("hold time is 0 or at least 3s")),
            "{e:#?}"
        );
        assert!(
            e.iter()
                .any(|m| m.contains("`65001-100` is not a community")),
            "{e:#?}"
        );
        assert!(
            e.iter().any(|m| m.contains("did you mean `local_pref`?")),
            "{e:#?}"
        );
    }

    #[test]
    fn static_routes_on_a_node_that_runs_ospf() {
        let text = BASE.replacen("routing = \"frr\"", "routing = \"static\"", 1);
        let e = parse(Path::new("r.toml"), &text, &Options::default()).unwrap_err();
        assert!(e.to_string().contains("1 problem"), "{e}");
        let m = &e.problems()[0].message;
        assert_eq!(m, "node `r2` runs OSPF but its routes are `static`");
    }

    #[test]
    fn ibgp_between_loopbacks_needs_an_igp() {
        let text = BASE.replace("ospf = true\nbfd = true\n", "");
        let e = parse(Path::new("r.toml"), &text, &Options::default()).unwrap_err();
        let all: Vec<String> = e.problems().into_iter().map(|p| p.message).collect();
        assert!(
            all.iter()
                .any(|m| m == "iBGP between loopbacks needs an IGP, but `r1` runs OSPF on no link"),
            "{all:#?}"
        );
    }

    #[test]
    fn bfd_with_nothing_to_protect_and_generated_prefixes_that_do_not_fit() {
        let e = errors(
            "\n[[link]]\nends = [\"r1\", \"h\"]\nbfd = true\n\n[[node]]\nname = \"r9\"\nrole = \"router\"\noriginate = [{ generate = 256, within = \"198.18.200.0/24\", length = 32 }, { generate = 300, within = \"198.18.201.0/24\", length = 31 }]\n\n[[link]]\nends = [\"r9\", \"r1\"]\nospf = true\n",
        );
        assert!(
            e.iter()
                .any(|m| m.contains("has `bfd` but runs neither OSPF nor a BGP session")),
            "{e:#?}"
        );
        assert!(
            e.iter()
                .any(|m| m.contains("holds 128 prefixes of length 31, fewer than 300")),
            "{e:#?}"
        );
        assert_eq!(
            e.iter().filter(|m| m.contains("fewer than")).count(),
            1,
            "{e:#?}"
        );
    }

    #[test]
    fn routing_needs_the_netns_backend() {
        let options = Options {
            backend: Some(crate::model::Backend::Local),
            ..Options::default()
        };
        let e = plan("", &options).unwrap_err();
        assert!(
            e.iter().any(|m| m.contains("needs the netns backend")),
            "{e:#?}"
        );
    }
}
