//! BIRD 2 configuration (`bird.conf`) from a [`RouterIntent`].
//!
//! One file per node: the router id, `device`, `kernel` (the routes OSPF
//! and BGP learned, and the originated blackholes, into each family's
//! FIB, equal-cost paths merged),
//! `ospf v2` and `ospf v3` with the node's areas and interfaces (the
//! loopback as a stub), `bfd` where any adjacency or session asks for it,
//! `static` protocols for what the node originates (blackhole routes: the
//! node announces the prefix and owns it), a `direct` protocol on `lo`
//! when the node announces its loopbacks into BGP, and one `bgp` protocol
//! per session and family with its import and export filters written as
//! BIRD filter code. The rendering is deterministic (plan order), so
//! snapshots pin it; `bird -p -c FILE` accepts every file it writes
//! (tests).

use std::time::Duration;

use netproof_plan::{BgpTransport, IpNet, Span};

use super::intent::{BgpNeighbour, Family, Policy, RouterIntent};
use super::{ConfigFile, Writer};

/// The file name.
pub const FILE: &str = "bird.conf";

/// The route sources the kernel protocols install: what OSPF and BGP
/// learned (and the node's originated blackholes), never `direct` routes
/// (the kernel has the addresses already).
const LEARNED: &str = "[ RTS_OSPF, RTS_OSPF_IA, RTS_OSPF_EXT1, RTS_OSPF_EXT2, RTS_BGP ]";

/// Renders `r`'s `bird.conf`.
pub fn render(r: &RouterIntent) -> ConfigFile {
    let mut w = Writer::default();
    let node = r.span;
    w.line(
        node,
        format!(
            "# BIRD 2 configuration of node `{}`, rendered by netproof from the plan's routing intent.",
            r.node
        ),
    );
    w.line(node, format!("router id {};", r.router_id));
    w.line(node, "");
    w.line(node, "protocol device {");
    w.line(node, "}");
    w.line(node, "");
    if let Some(sp) = r.speaker {
        // Beside static routes: the main table is the lab's; learned
        // routes go to the speaker's own table, if it has one.
        if let Some(table) = sp.table {
            for family in Family::BOTH {
                learned(&mut w, r, family, table, sp.span);
            }
        }
    }
    for family in Family::BOTH.into_iter().filter(|_| r.speaker.is_none()) {
        let d = family.digit();
        w.line(node, format!("protocol kernel kernel{d} {{"));
        w.line(node, format!("  ipv{d} {{"));
        w.line(node, "    import none;");
        // Originated prefixes go into the FIB as blackholes too (as FRR's
        // staticd puts them there): the node owns them. Attached nodes'
        // loopbacks go there via their link address.
        let mut export = format!("    export where source ~ {LEARNED}");
        if r.originates_static(family) {
            export.push_str(&format!(" || proto = \"originate{d}\""));
        }
        if !r.attached.is_empty() {
            export.push_str(&format!(" || proto = \"attached{d}\""));
        }
        export.push(';');
        w.line(node, export);
        w.line(node, "  };");
        // Equal-cost OSPF routes arrive as one multipath route already;
        // this also merges equal BGP paths into one kernel route.
        w.line(node, "  merge paths on;");
        w.line(node, "}");
        w.line(node, "");
    }
    if r.originates_loopback() && !r.bgp.is_empty() {
        // BGP announces what is in the table; `direct` puts the loopbacks
        // there (export filters pick the node's own two, not 127.0.0.1).
        w.line(node, "protocol direct loopback {");
        w.line(node, "  ipv4;");
        w.line(node, "  ipv6;");
        w.line(node, "  interface \"lo\";");
        w.line(node, "}");
        w.line(node, "");
    }
    for family in Family::BOTH {
        statics(&mut w, r, family);
        attached(&mut w, r, family);
    }
    let bfd = r.bfd_interfaces();
    if !bfd.is_empty() {
        w.line(node, "protocol bfd {");
        for (ifname, b) in &bfd {
            let span = span_of_interface(r, ifname).unwrap_or(node);
            w.line(
                span,
                format!(
                    "  interface \"{ifname}\" {{ interval {} ms; multiplier {}; }};",
                    b.interval.as_millis(),
                    b.multiplier
                ),
            );
        }
        w.line(node, "}");
        w.line(node, "");
    }
    if !r.ospf.is_empty() {
        for family in Family::BOTH {
            ospf(&mut w, r, family);
        }
    }
    for n in &r.bgp {
        bgp(&mut w, r, n);
    }
    w.finish(FILE)
}

fn span_of_interface(r: &RouterIntent, ifname: &str) -> Option<Span> {
    r.ospf
        .iter()
        .find(|o| o.ifname == ifname)
        .map(|o| o.span)
        .or_else(|| {
            r.bgp
                .iter()
                .find(|b| b.ifname.as_deref() == Some(ifname))
                .map(|b| b.span)
        })
}

/// `protocol static originateN` with a blackhole route per originated
/// prefix of `family` (generated blocks expanded here, one line each).
fn statics(w: &mut Writer, r: &RouterIntent, family: Family) {
    if !r.originates_static(family) {
        return;
    }
    let d = family.digit();
    w.line(r.span, format!("protocol static originate{d} {{"));
    w.line(r.span, format!("  ipv{d};"));
    for o in &r.originate {
        for p in o.prefixes(r, family) {
            if o.what != netproof_plan::Originate::Loopback {
                w.line(o.span, format!("  route {p} blackhole;"));
            }
        }
    }
    w.line(r.span, "}");
    w.line(r.span, "");
}

/// `protocol static attachedN`: a route to each attached node's loopback
/// via its address on the link.
fn attached(w: &mut Writer, r: &RouterIntent, family: Family) {
    if r.attached.is_empty() {
        return;
    }
    let d = family.digit();
    w.line(r.span, format!("protocol static attached{d} {{"));
    w.line(r.span, format!("  ipv{d};"));
    for a in &r.attached {
        w.line(
            a.span,
            format!("  route {} via {};", a.loopback(family), a.gateway(family)),
        );
    }
    w.line(r.span, "}");
    w.line(r.span, "");
}

/// `protocol ospf v2 ospf4` or `protocol ospf v3 ospf6`.
fn ospf(w: &mut Writer, r: &RouterIntent, family: Family) {
    let (d, version) = match family {
        Family::V4 => ('4', 2),
        Family::V6 => ('6', 3),
    };
    let node = r.span;
    w.line(node, format!("protocol ospf v{version} ospf{d} {{"));
    w.line(node, "  ecmp yes;");
    w.line(node, format!("  ipv{d} {{"));
    if r.bgp.is_empty() {
        w.line(node, "    import all;");
    } else {
        // Prefixes other routers originate reach a BGP speaker by OSPF (as
        // externals) and by iBGP; BGP must win, or BIRD, which announces
        // only a prefix's best route, would not pass them on to its eBGP
        // peers. OSPF's own routes (loopbacks, links: iBGP's next hops)
        // stay preferred.
        w.line(
            node,
            "    import filter { if source ~ [ RTS_OSPF_EXT1, RTS_OSPF_EXT2 ] then preference = 90; accept; };",
        );
    }
    let mut externals = Vec::new();
    if r.originates_static(family) {
        externals.push(format!("proto = \"originate{d}\""));
    }
    if !r.attached.is_empty() {
        externals.push(format!("proto = \"attached{d}\""));
    }
    if externals.is_empty() {
        w.line(node, "    export none;");
    } else {
        // As type-2 externals of metric 20, FRR's default (BIRD's is
        // 10000), so both daemons announce them alike.
        w.line(
            node,
            format!(
                "    export filter {{ if {} then {{ ospf_metric2 = 20; accept; }} reject; }};",
                externals.join(" || ")
            ),
        );
    }
    w.line(node, "  };");
    let mut areas: Vec<u32> = r.ospf.iter().map(|o| o.area).collect();
    areas.sort_unstable();
    areas.dedup();
    for (k, area) in areas.iter().enumerate() {
        w.line(node, format!("  area {area} {{"));
        if k == 0 {
            // The loopback rides in the first (lowest) area as a stub
            // network: iBGP between loopbacks needs it. Named, not as
            // `interface "lo"`: OSPFv3 runs only on interfaces with a
            // link-local address, which `lo` lacks, so BIRD would never
            // announce the /128 (seen with BIRD 2.0.12).
            let lo = r.loopback(family);
            // Cost as FRR announces a loopback: 0 in OSPFv2, 1 (the least
            // it allows, set on its `lo`) in OSPFv3, so a path's metric is
            // the same whichever daemon a router runs.
            let cost = match family {
                Family::V4 => 0,
                Family::V6 => 1,
            };
            w.line(node, format!("    stubnet {lo} {{ cost {cost}; }};"));
            // The links to attached nodes, whose addresses are the source
            // of what those nodes send.
            // (a LAN once, however many hosts it has).
            let mut seen = Vec::new();
            for a in &r.attached {
                if !seen.contains(&a.link(family)) {
                    seen.push(a.link(family));
                    w.line(a.span, format!("    stubnet {};", a.link(family)));
                }
            }
        }
        for o in r.ospf.iter().filter(|o| o.area == *area) {
            let mut line = format!(
                "    interface \"{}\" {{ type ptp; cost {}; hello {}; dead {};",
                o.ifname,
                o.cost,
                o.hello.as_secs(),
                o.dead.as_secs()
            );
            if o.bfd.is_some() {
                line.push_str(" bfd on;");
            }
            line.push_str(" };");
            w.line(o.span, line);
        }
        w.line(node, "  };");
    }
    w.line(node, "}");
    w.line(node, "");
}

fn set(prefixes: &[IpNet]) -> String {
    let items: Vec<String> = prefixes.iter().map(ToString::to_string).collect();
    format!("[ {} ]", items.join(", "))
}

/// The filter's prefix check: `reject` unless the route is one of
/// `prefixes`. Returns `false` when nothing passes (the filter ends there:
/// `reject;` and nothing after it).
fn prefix_filter(w: &mut Writer, span: Span, policy: &Policy) -> bool {
    match &policy.prefixes {
        None => true,
        Some(ps) if ps.is_empty() => {
            w.line(span, "  reject;");
            w.line(span, "}");
            w.line(span, "");
            false
        }
        Some(ps) => {
            w.line(span, format!("  if net !~ {} then reject;", set(ps)));
            true
        }
    }
}

fn bgp(w: &mut Writer, r: &RouterIntent, n: &BgpNeighbour) {
    let s = n.span;
    let name = n.protocol();
    let d = n.family.digit();
    // Import: the receiving end's half of the peer's policy.
    w.line(s, format!("filter {name}_in {{"));
    if prefix_filter(w, s, &n.import) {
        if let Some(lp) = n.import.local_pref {
            w.line(s, format!("  bgp_local_pref = {lp};"));
        }
        w.line(s, "  accept;");
        w.line(s, "}");
        w.line(s, "");
    }
    // Export: what the node announces (its own originated routes and what
    // BGP learned; BIRD keeps iBGP routes from iBGP peers itself), then
    // the announcing end's half of its policy.
    let mut own = vec!["source = RTS_BGP".to_string()];
    if r.originates_static(n.family) {
        own.push(format!("proto = \"originate{d}\""));
    }
    if r.originates_loopback() {
        let lo = r.loopback(n.family);
        own.push(format!("(proto = \"loopback\" && net = {lo})"));
    }
    let internal: Vec<IpNet> = r
        .internal_loopbacks
        .iter()
        .copied()
        .filter(|p| n.family.holds(p))
        .collect();
    if !n.internal() && !internal.is_empty() {
        // iBGP peers' loopbacks: best by OSPF here (see `RouterIntent`).
        own.push(format!("(source = RTS_OSPF && net ~ {})", set(&internal)));
    }
    w.line(s, format!("filter {name}_out {{"));
    if r.speaker.is_some_and(|sp| !sp.announce) {
        // Receive-only: the session exports nothing at all.
        w.line(s, "  reject;");
        w.line(s, "}");
        w.line(s, "");
    } else {
        w.line(s, format!("  if !({}) then reject;", own.join(" || ")));
        export_policy(w, s, n);
    }
    w.line(s, format!("protocol bgp {name} {{"));

    w.line(
        s,
        format!(
            "  description \"{} -- {} (IPv{d} unicast, {})\";",
            r.node,
            n.peer,
            if n.internal() { "iBGP" } else { "eBGP" }
        ),
    );
    w.line(s, format!("  local as {};", n.local_as));
    w.line(s, format!("  neighbor {} as {};", n.address, n.peer_as));
    w.line(s, format!("  source address {};", n.source));
    match n.over {
        // Over a link the peer is one hop away, iBGP or not.
        BgpTransport::Link => w.line(s, "  direct;"),
        BgpTransport::Loopback => w.line(s, "  multihop;"),
    }
    timers(w, s, n.hold, n.keepalive);
    // Connect 1 s after start (BIRD waits 5 s) and retry a refused
    // connection after 5 s (not 120 s): peers start at about the same
    // time, and bring-up must take seconds, not minutes.
    w.line(s, "  connect delay time 1;");
    w.line(s, "  connect retry time 5;");
    // After a session fails (a cut link, a hold timer or BFD), BIRD waits
    // `error wait time` before it tries again: 60 s at least by default,
    // so a restored link's session came back after 55 s. FRR retries at
    // its connect timer; this makes BIRD do the same.
    w.line(s, "  error wait time 1, 5;");
    if n.bfd.is_some() {
        w.line(s, "  bfd on;");
    }
    w.line(s, format!("  ipv{d} {{"));
    w.line(s, format!("    import filter {name}_in;"));
    w.line(s, format!("    export filter {name}_out;"));
    if n.internal() && n.over == BgpTransport::Loopback {
        // iBGP peers cannot resolve the eBGP next hops of another AS's
        // link, which OSPF does not carry.
        w.line(s, "    next hop self;");
    }
    w.line(s, "  };");
    w.line(s, "}");
    w.line(s, "");
}

/// The rest of an export filter after its source check: the announcing
/// end's half of the session's policy.
fn export_policy(w: &mut Writer, s: Span, n: &BgpNeighbour) {
    if prefix_filter(w, s, &n.export) {
        if let Some(med) = n.export.med {
            w.line(s, format!("  bgp_med = {med};"));
        }
        for _ in 0..n.export.prepend {
            w.line(s, format!("  bgp_path.prepend({});", n.local_as));
        }
        for (a, b) in &n.export.communities {
            w.line(s, format!("  bgp_community.add(({a},{b}));"));
        }
        w.line(s, "  accept;");
        w.line(s, "}");
        w.line(s, "");
    }
}

/// `protocol kernel learnedN`: a speaker's BGP routes into kernel table
/// `table`, with the attributes the kernel has no field for encoded as
/// `netproof_proto::steering::encoding` defines (docs/cdn.md, "Routes
/// learned over BGP"): RTA_PRIORITY holds a marker plus ORIGIN and iBGP,
/// RTAX_WINDOW LOCAL_PREF, RTAX_SSTHRESH MED, RTAX_REORDERING the AS path
/// length. The table has no `ip rule`, so nothing forwards by it.
fn learned(w: &mut Writer, r: &RouterIntent, family: Family, table: u32, span: Span) {
    use netproof_proto::steering::encoding::{IBGP, MARK, ORIGIN_EGP, ORIGIN_INCOMPLETE};
    let d = family.digit();
    w.line(span, format!("protocol kernel learned{d} {{"));
    w.line(span, format!("  kernel table {table};"));
    // `metric 0` lets each route's `krt_metric` through (any other value
    // is used for every route, whatever the filter sets).
    w.line(span, "  metric 0;");
    w.line(span, format!("  ipv{d} {{"));
    w.line(span, "    import none;");
    w.line(span, "    export filter {");
    w.line(span, "      if source != RTS_BGP then reject;");
    w.line(span, format!("      krt_metric = {MARK};"));
    w.line(
        span,
        format!(
            "      if bgp_origin = ORIGIN_EGP then krt_metric = {};",
            MARK + ORIGIN_EGP
        ),
    );
    w.line(
        span,
        format!(
            "      if bgp_origin = ORIGIN_INCOMPLETE then krt_metric = {};",
            MARK + ORIGIN_INCOMPLETE
        ),
    );
    let internal: Vec<String> = r
        .bgp
        .iter()
        .filter(|n| n.internal() && n.family == family)
        .map(|n| format!("proto = \"{}\"", n.protocol()))
        .collect();
    if !internal.is_empty() {
        w.line(
            span,
            format!(
                "      if {} then krt_metric = krt_metric + {IBGP};",
                internal.join(" || ")
            ),
        );
    }
    w.line(span, "      krt_window = bgp_local_pref;");
    w.line(
        span,
        "      if defined(bgp_med) then krt_sstresh = bgp_med;",
    );
    w.line(span, "      krt_reordering = bgp_path.len;");
    w.line(span, "      accept;");
    w.line(span, "    };");
    w.line(span, "  };");
    w.line(span, "}");
    w.line(span, "");
}

fn timers(w: &mut Writer, s: Span, hold: Duration, keepalive: Duration) {
    w.line(s, format!("  hold time {};", hold.as_secs()));
    if !hold.is_zero() {
        w.line(s, format!("  keepalive time {};", keepalive.as_secs()));
    }
}
