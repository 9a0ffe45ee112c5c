//! FRR configuration (`frr.conf`, the integrated file that zebra, staticd,
//! ospfd, ospf6d, bgpd and bfdd read) from a [`RouterIntent`].
//!
//! One file per node: `frr defaults traditional`, the hostname, BFD
//! profiles (one per distinct interval and multiplier), blackhole static
//! routes for what the node originates, interface blocks that put OSPFv2
//! and OSPFv3 on the node's OSPF links (point-to-point, cost, timers,
//! BFD) and on `lo` (the loopbacks, as stub networks), `router ospf` and
//! `router ospf6` with the router id, `router bgp` with one neighbour per
//! session and family, each family activated only in its own address
//! family, and a route map in each direction of each neighbour holding
//! the policy (prefix lists, `set local-preference`, `set metric`, `set
//! as-path prepend`, `set community ... additive`). Every neighbour has a
//! route map both ways, so FRR's `bgp ebgp-requires-policy` is satisfied
//! by real policies. Deterministic (plan order); `vtysh -C -f FILE`
//! accepts every file it writes (tests).
//!
//! Blocks end with `!` (a comment), never `exit`: FRR finds the block a
//! line belongs to by walking up from the current one when a command is
//! unknown there, so the file reads the same through `vtysh -b` and
//! through each daemon's own `-f`, where an `exit` after a block that
//! daemon does not know (bgpd reading `bfd`) would leave configuration
//! mode and make it ignore the rest of the file.

use netproof_plan::{Bfd, BgpTransport, Span};

use super::intent::{BgpNeighbour, Family, Policy, RouterIntent};
use super::{ConfigFile, Writer};

/// The file name.
pub const FILE: &str = "frr.conf";

/// Renders `r`'s `frr.conf`.
pub fn render(r: &RouterIntent) -> ConfigFile {
    let mut w = Writer::default();
    let node = r.span;
    w.line(
        node,
        format!(
            "! FRR configuration of node `{}`, rendered by netproof from the plan's routing intent.",
            r.node
        ),
    );
    w.line(node, "frr defaults traditional");
    w.line(node, format!("hostname {}", r.node));
    w.line(node, "!");
    // BFD profiles, named after their values so equal settings share one.
    let mut profiles: Vec<Bfd> = Vec::new();
    for b in r
        .ospf
        .iter()
        .filter_map(|o| o.bfd)
        .chain(r.bgp.iter().filter_map(|n| n.bfd))
    {
        if !profiles.contains(&b) {
            profiles.push(b);
        }
    }
    if !profiles.is_empty() {
        w.line(node, "bfd");
        for b in &profiles {
            let ms = b.interval.as_millis();
            w.line(node, format!(" profile {}", profile(*b)));
            w.line(node, format!("  transmit-interval {ms}"));
            w.line(node, format!("  receive-interval {ms}"));
            w.line(node, format!("  detect-multiplier {}", b.multiplier));
        }
        w.line(node, "!");
    }
    // Originated prefixes: blackhole routes for staticd, which BGP and
    // OSPF then redistribute (the node's only static routes).
    let mut any_static = false;
    for family in Family::BOTH {
        for o in &r.originate {
            if o.what == netproof_plan::Originate::Loopback {
                continue;
            }
            for p in o.prefixes(r, family) {
                let ip = match family {
                    Family::V4 => "ip",
                    Family::V6 => "ipv6",
                };
                w.line(o.span, format!("{ip} route {p} blackhole"));
                any_static = true;
            }
        }
    }
    // Attached nodes' loopbacks, via their address on the link.
    for a in &r.attached {
        for family in Family::BOTH {
            let ip = match family {
                Family::V4 => "ip",
                Family::V6 => "ipv6",
            };
            w.line(
                a.span,
                format!("{ip} route {} {}", a.loopback(family), a.gateway(family)),
            );
            any_static = true;
        }
    }
    if any_static {
        w.line(node, "!");
    }
    if !r.ospf.is_empty() {
        // The loopbacks ride in the first (lowest) area: iBGP between
        // loopbacks needs them. The address pins OSPFv2 to the lab's
        // loopback (never 127.0.0.1); ospf6d skips ::1 itself.
        let area = r.ospf.iter().map(|o| o.area).min().unwrap_or(0);
        w.line(node, "interface lo");
        w.line(node, format!(" ip ospf area {area} {}", r.loopback_v4));
        w.line(node, format!(" ipv6 ospf6 area {area}"));
        // ospf6d's default is 10; 1 is its least, and BIRD is told the same.
        w.line(node, " ipv6 ospf6 cost 1");
        w.line(node, "!");
        for o in &r.ospf {
            let s = o.span;
            w.line(s, format!("interface {}", o.ifname));
            for (ip, proto) in [("ip", "ospf"), ("ipv6", "ospf6")] {
                w.line(s, format!(" {ip} {proto} area {}", o.area));
                w.line(s, format!(" {ip} {proto} network point-to-point"));
                w.line(s, format!(" {ip} {proto} cost {}", o.cost));
                w.line(
                    s,
                    format!(" {ip} {proto} hello-interval {}", o.hello.as_secs()),
                );
                w.line(
                    s,
                    format!(" {ip} {proto} dead-interval {}", o.dead.as_secs()),
                );
                if let Some(b) = o.bfd {
                    w.line(s, format!(" {ip} {proto} bfd"));
                    w.line(s, format!(" {ip} {proto} bfd profile {}", profile(b)));
                }
            }
            w.line(s, "!");
        }
        // The links to attached nodes: passive, announced as stubs (a
        // LAN's interface once, however many hosts it has).
        let mut seen: Vec<&str> = Vec::new();
        for a in &r.attached {
            if seen.contains(&a.ifname.as_str()) {
                continue;
            }
            seen.push(&a.ifname);
            let s = a.span;
            w.line(s, format!("interface {}", a.ifname));
            w.line(s, format!(" ip ospf area {area}"));
            w.line(s, " ip ospf passive");
            w.line(s, format!(" ipv6 ospf6 area {area}"));
            w.line(s, " ipv6 ospf6 passive");
            w.line(s, "!");
        }
        for (router, id_key, family) in [
            ("ospf", "ospf router-id", Family::V4),
            ("ospf6", "ospf6 router-id", Family::V6),
        ] {
            w.line(node, format!("router {router}"));
            w.line(node, format!(" {id_key} {}", r.router_id));
            // Run SPF at once on a change (then 50 ms, backing off to
            // 500 ms) and take a new LSA instance whenever it comes: the
            // `traditional` defaults hold a second between instances, which
            // a lab measuring convergence would see as a second of loss.
            w.line(node, " timers throttle spf 0 50 500");
            w.line(node, " timers lsa min-arrival 0");
            if family == Family::V4 {
                // ospfd also spaces its own LSA instances (ospf6d has no
                // such knob in 8.4).
                w.line(node, " timers throttle lsa all 0");
            }
            if r.originates_static(family) || !r.attached.is_empty() {
                // Type-2 externals of metric 20, as BIRD is told.
                w.line(node, " redistribute static metric 20 metric-type 2");
            }
            w.line(node, "!");
        }
    }
    if let Some(asn) = r.asn.filter(|_| !r.bgp.is_empty()) {
        bgp(&mut w, r, asn);
    }
    w.finish(FILE)
}

/// A BFD profile's name: `bfd-300ms-x3`.
fn profile(b: Bfd) -> String {
    format!("bfd-{}ms-x{}", b.interval.as_millis(), b.multiplier)
}

/// A neighbour's route map (and prefix list) name in one direction:
/// `r2-4-in`.
/// The route map (and prefix list) of neighbour `n`'s `dir` (`in` or
/// `out`) policy.
pub(crate) fn map_name(n: &BgpNeighbour, dir: &str) -> String {
    format!("{}-{}-{dir}", n.peer, n.family.digit())
}

fn bgp(w: &mut Writer, r: &RouterIntent, asn: u32) {
    let node = r.span;
    // Route-map changes apply at once, not after bgpd's 5 s delay timer.
    // bgpd also holds every peer until that timer has run out when its
    // configuration ends (`bgp_config_end`), so with the default an FRR
    // BGP session came up 5 s after start, against 1 s on BIRD.
    w.line(node, "bgp route-map delay-timer 0");
    w.line(node, format!("router bgp {asn}"));
    w.line(node, format!(" bgp router-id {}", r.router_id));
    // Each neighbour is activated in its own family only (see `intent`).
    w.line(node, " no bgp default ipv4-unicast");
    for n in &r.bgp {
        let (s, a) = (n.span, n.address);
        w.line(s, format!(" neighbor {a} remote-as {}", n.peer_as));
        w.line(
            s,
            format!(
                " neighbor {a} description {} IPv{} {}",
                n.peer,
                n.family.digit(),
                if n.internal() { "iBGP" } else { "eBGP" }
            ),
        );
        w.line(
            s,
            format!(
                " neighbor {a} timers {} {}",
                n.keepalive.as_secs(),
                n.hold.as_secs()
            ),
        );
        // Retry after 5 s, not 120 s: bring-up must not wait minutes.
        w.line(s, format!(" neighbor {a} timers connect 5"));
        // No minimum route advertisement interval (the `traditional`
        // defaults wait 30 s between updates to an eBGP peer): BIRD has
        // none, and a lab's convergence must be the same on both daemons.
        w.line(s, format!(" neighbor {a} advertisement-interval 0"));
        w.line(s, format!(" neighbor {a} update-source {}", n.source));
        if let Some(b) = n.bfd {
            w.line(s, format!(" neighbor {a} bfd"));
            w.line(s, format!(" neighbor {a} bfd profile {}", profile(b)));
        }
    }
    for family in Family::BOTH {
        let af = match family {
            Family::V4 => "ipv4",
            Family::V6 => "ipv6",
        };
        w.line(node, " !");
        w.line(node, format!(" address-family {af} unicast"));
        if r.originates_loopback() {
            let lo = r.loopback(family);
            w.line(node, format!("  network {lo}"));
        }
        if r.originates_static(family) {
            w.line(node, "  redistribute static");
        }
        if r.bgp.iter().any(|n| n.family == family && !n.internal()) {
            // iBGP peers' loopbacks: bgpd refuses a route whose next hop
            // is inside the route itself (the peer's loopback announced
            // from that loopback), so the node announces them to its eBGP
            // peers from OSPF, which carries them (as with BIRD).
            for lo in r.internal_loopbacks.iter().filter(|p| family.holds(p)) {
                w.line(node, format!("  network {lo}"));
            }
        }
        for n in r.bgp.iter().filter(|n| n.family == family) {
            let (s, a) = (n.span, n.address);
            w.line(s, format!("  neighbor {a} activate"));
            if n.internal() && n.over == BgpTransport::Loopback {
                // iBGP peers cannot resolve another AS's link next hops.
                w.line(s, format!("  neighbor {a} next-hop-self"));
            }
            w.line(
                s,
                format!("  neighbor {a} route-map {} in", map_name(n, "in")),
            );
            w.line(
                s,
                format!("  neighbor {a} route-map {} out", map_name(n, "out")),
            );
        }
        w.line(node, " exit-address-family");
    }
    w.line(node, "!");
    for n in &r.bgp {
        route_map(w, n, "in", &n.import, None);
        route_map(w, n, "out", &n.export, Some(n.local_as));
    }
}

/// The text of [`route_map`] alone, for a policy changed while the
/// daemon runs.
pub(crate) fn route_map_text(
    n: &BgpNeighbour,
    dir: &str,
    p: &Policy,
    local_as: Option<u32>,
) -> String {
    let mut w = Writer::default();
    route_map(&mut w, n, dir, p, local_as);
    w.finish("change.conf").text
}

/// A route map with its prefix list: `deny` for a policy that passes
/// nothing of this family, else one `permit` entry that matches the
/// prefixes (when listed) and sets what the policy sets.
fn route_map(w: &mut Writer, n: &BgpNeighbour, dir: &str, p: &Policy, local_as: Option<u32>) {
    let s: Span = n.span;
    let name = map_name(n, dir);
    let ip = match n.family {
        Family::V4 => "ip",
        Family::V6 => "ipv6",
    };
    match &p.prefixes {
        Some(ps) if ps.is_empty() => {
            w.line(s, format!("route-map {name} deny 10"));
            w.line(s, "!");
            return;
        }
        Some(ps) => {
            for (k, prefix) in ps.iter().enumerate() {
                w.line(
                    s,
                    format!(
                        "{ip} prefix-list {name} seq {} permit {prefix}",
                        (k + 1) * 5
                    ),
                );
            }
            w.line(s, "!");
        }
        None => {}
    }
    w.line(s, format!("route-map {name} permit 10"));
    if p.prefixes.is_some() {
        w.line(s, format!(" match {ip} address prefix-list {name}"));
    }
    if let Some(lp) = p.local_pref {
        w.line(s, format!(" set local-preference {lp}"));
    }
    if let Some(med) = p.med {
        w.line(s, format!(" set metric {med}"));
    }
    if let (Some(asn), true) = (local_as, p.prepend > 0) {
        let path: Vec<String> = (0..p.prepend).map(|_| asn.to_string()).collect();
        w.line(s, format!(" set as-path prepend {}", path.join(" ")));
    }
    if !p.communities.is_empty() {
        let cs: Vec<String> = p
            .communities
            .iter()
            .map(|(a, b)| format!("{a}:{b}"))
            .collect();
        w.line(s, format!(" set community {} additive", cs.join(" ")));
    }
    w.line(s, "!");
}
