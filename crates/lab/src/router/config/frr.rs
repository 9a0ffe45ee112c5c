//! FRR configuration (`frr.conf`, the integrated file that zebra, staticd,
//! ospfd, ospf6d, bgpd and bfdd read) from a [`RouterIntent`].
//!
//! One file per node: `frr defaults traditional`, the hostname, BFD
//! profiles (one per distinct interval and multiplier), blackhole static
//! routes for what the node originates (generated blocks it withdrew
//! included, held back by a prefix list: see [`withdrawn_list`]),
//! interface blocks that put OSPFv2
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

use netproof_plan::{Bfd, BgpTransport, IpNet, Originate, Span};

use super::intent::{BgpNeighbour, Family, Origination, Policy, RouterIntent};
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
    // OSPF then redistribute (the node's only static routes), withdrawn
    // generated blocks included: the export maps and OSPF's gate hold
    // those back.
    let mut any_static = false;
    for family in Family::BOTH {
        for o in originations(r) {
            for p in o.prefixes(r, family) {
                w.line(o.span, format!("{} route {p} blackhole", family.ip()));
                any_static = true;
            }
        }
    }
    for family in Family::BOTH {
        if let Some((_, entries)) = withdrawn_list(r, family) {
            w.line(node, "!");
            for line in entries.lines() {
                w.line(node, line);
            }
            any_static = true;
        }
        if ospf_gated(r, family) {
            w.line(node, "!");
            for line in ospf_gate(r, family).lines() {
                w.line(node, line);
            }
            any_static = true;
        }
    }
    // Attached nodes' loopbacks, via their address on the link.
    for a in &r.attached {
        for family in Family::BOTH {
            let ip = family.ip();
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
            if has_statics(r, family) || !r.attached.is_empty() {
                // Type-2 externals of metric 20, as BIRD is told.
                w.line(
                    node,
                    format!(
                        " redistribute static metric 20 metric-type 2{}",
                        ospf_gate_clause(r, family)
                    ),
                );
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
        let af = family.afi();
        w.line(node, " !");
        w.line(node, format!(" address-family {af} unicast"));
        if r.originates_loopback() {
            let lo = r.loopback(family);
            w.line(node, format!("  network {lo}"));
        }
        if has_statics(r, family) {
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
        route_map(w, n, "in", &n.import, None, None);
        let withdrawn = withdrawn_list(r, n.family).map(|(list, _)| list);
        route_map(
            w,
            n,
            "out",
            &n.export,
            Some(n.local_as),
            withdrawn.as_deref(),
        );
    }
}

/// The text of [`route_map`] alone, for a policy changed while the
/// daemon runs.
pub(crate) fn route_map_text(
    n: &BgpNeighbour,
    dir: &str,
    p: &Policy,
    local_as: Option<u32>,
    withdrawn: Option<&str>,
) -> String {
    let mut w = Writer::default();
    route_map(&mut w, n, dir, p, local_as, withdrawn);
    w.finish("change.conf").text
}

/// A route map with its prefix list: `deny` for a policy that passes
/// nothing of this family, else one `permit` entry that matches the
/// prefixes (when listed) and sets what the policy sets. An export map
/// of a node with withdrawn blocks first denies their static routes
/// (`withdrawn`, the list that names them; see [`withdrawn_entry`]).
fn route_map(
    w: &mut Writer,
    n: &BgpNeighbour,
    dir: &str,
    p: &Policy,
    local_as: Option<u32>,
    withdrawn: Option<&str>,
) {
    let s: Span = n.span;
    let name = map_name(n, dir);
    let ip = n.family.ip();
    if let Some(list) = withdrawn {
        for line in withdrawn_entry(&name, n.family, list).lines() {
            w.line(s, line);
        }
    }
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

/// The node's originations that are static routes in FRR: the plan's
/// prefixes and generated blocks it originates now, and the generated
/// blocks it withdrew (whose routes the gate holds back).
pub(crate) fn originations(r: &RouterIntent) -> impl Iterator<Item = &Origination> {
    r.originate
        .iter()
        .filter(|o| o.what != Originate::Loopback)
        .chain(&r.withdrawn)
}

/// Whether the node has static routes of `family` to originate (now or
/// once a withdrawn block is announced again).
fn has_statics(r: &RouterIntent, family: Family) -> bool {
    originations(r).any(|o| o.prefixes(r, family).next().is_some())
}

/// Whether the node has generated blocks of `family`, which
/// `route_withdraw` takes back by naming them in a prefix list rather
/// than by removing their routes: BGP export maps deny what it names
/// (then `clear ... soft out` sends the withdrawals), and OSPF's
/// redistribution passes the gate route map `originate-4`.
fn gated(r: &RouterIntent, family: Family) -> bool {
    originations(r).any(|o| match &o.what {
        Originate::Generated { within, .. } => family.holds(within),
        _ => false,
    })
}

/// Whether OSPF redistributes the node's static routes of `family`
/// through the gate. (ospfd re-runs a redistribution whose route map
/// changed by itself; bgpd, with `bgp route-map delay-timer 0`, does
/// not, hence the export maps.)
fn ospf_gated(r: &RouterIntent, family: Family) -> bool {
    !r.ospf.is_empty() && gated(r, family)
}

/// OSPF's gate route map: `originate-4`.
fn gate_name(family: Family) -> String {
    format!("originate-{}", family.digit())
}

/// ` route-map originate-4` on OSPF's `redistribute static`, when gated.
fn ospf_gate_clause(r: &RouterIntent, family: Family) -> String {
    if ospf_gated(r, family) {
        format!(" route-map {}", gate_name(family))
    } else {
        String::new()
    }
}

/// OSPF's gate of `family`: denies what the withdrawn list names (when
/// anything is withdrawn) and permits the rest.
pub(crate) fn ospf_gate(r: &RouterIntent, family: Family) -> String {
    let mut out = withdrawn_list(r, family)
        .map(|(list, _)| ospf_gate_deny(family, &list))
        .unwrap_or_default();
    out.push_str(&format!("route-map {} permit 20\n", gate_name(family)));
    out
}

/// OSPF's gate entry that denies what `list` names.
fn ospf_gate_deny(family: Family, list: &str) -> String {
    format!(
        "route-map {} deny 10\n match {} address prefix-list {list}\n",
        gate_name(family),
        family.ip()
    )
}

/// The entry an export map `map` starts with while blocks are withdrawn:
/// it denies the node's own static routes that `list` names, and only
/// those (the same prefixes learned from a peer still pass).
fn withdrawn_entry(map: &str, family: Family, list: &str) -> String {
    format!(
        "route-map {map} deny 5\n match {} address prefix-list {list}\n match source-protocol static\n",
        family.ip()
    )
}

/// The FRR commands that move what `family`'s withdrawn blocks hold back
/// from `old` to `new`, and the `clear` commands that send the change to
/// BGP peers. The new prefix list is written whole under a new name
/// before the route maps match it, and the old one removed after, so
/// each daemon goes once, straight to the new state.
pub(crate) fn gate_delta(
    old: &RouterIntent,
    new: &RouterIntent,
    family: Family,
) -> (String, Vec<String>) {
    let (was, will) = (withdrawn_list(old, family), withdrawn_list(new, family));
    let mut clears = Vec::new();
    if was == will {
        return (String::new(), clears);
    }
    let mut out = String::new();
    if let Some((_, entries)) = &will {
        out.push_str(entries);
    }
    for n in new.bgp.iter().filter(|n| n.family == family) {
        let map = map_name(n, "out");
        match &will {
            Some((list, _)) => out.push_str(&withdrawn_entry(&map, family, list)),
            None => out.push_str(&format!("no route-map {map} deny 5\n")),
        }
        clears.push(format!(
            "clear bgp {} unicast {} soft out",
            family.afi(),
            n.address
        ));
    }
    if ospf_gated(new, family) {
        match &will {
            Some((list, _)) => out.push_str(&ospf_gate_deny(family, list)),
            None => out.push_str(&format!("no route-map {} deny 10\n", gate_name(family))),
        }
    }
    if let Some((list, _)) = was {
        out.push_str(&format!("no {} prefix-list {list}\n", family.ip()));
    }
    (out, clears)
}

/// The prefix list that matches exactly the prefixes of `family` the
/// node's withdrawn blocks generated and nothing it still originates
/// (a prefix it lists itself, another block's), with its name, which
/// its content fixes (`withdrawn-4-` and a hash); `None` when nothing is
/// withdrawn. Each run of consecutive prefixes of a block's length is
/// covered by the fewest entries (`198.18.128.0/18 ge 32 le 32`).
pub(crate) fn withdrawn_list(r: &RouterIntent, family: Family) -> Option<(String, String)> {
    let max = family.max_len();
    // Prefix `p`'s number among the prefixes of its length.
    let unit = |p: &IpNet| bits(p.network()).checked_shr(u32::from(max - p.prefix_len()));
    // Runs of prefixes of one length, as [first, last] in units of that
    // length (inclusive: a block may end at the family's last address).
    let run = |o: &Origination| -> Option<(u8, u128, u128)> {
        let Originate::Generated {
            count,
            within,
            length,
        } = &o.what
        else {
            return None;
        };
        if !family.holds(within) || *count == 0 {
            return None;
        }
        let first = bits(within.network())
            .checked_shr(u32::from(max - length))
            .unwrap_or(0);
        Some((*length, first, first.saturating_add(u128::from(*count) - 1)))
    };
    let mut withdrawn: Vec<(u8, u128, u128)> = r.withdrawn.iter().filter_map(run).collect();
    if withdrawn.is_empty() {
        return None;
    }
    // What the node still originates cuts holes in those runs.
    let kept: Vec<(u8, u128, u128)> = r
        .originate
        .iter()
        .filter_map(|o| match &o.what {
            Originate::Prefix(p) if family.holds(p) => {
                let u = unit(p).unwrap_or(0);
                Some((p.prefix_len(), u, u))
            }
            _ => run(o),
        })
        .chain(r.attached.iter().map(|a| {
            let p = a.loopback(family);
            let u = unit(&p).unwrap_or(0);
            (p.prefix_len(), u, u)
        }))
        .collect();
    for &(len, lo, hi) in &kept {
        withdrawn = withdrawn
            .into_iter()
            .flat_map(|(l, a, b)| {
                if l != len || hi < a || b < lo {
                    return vec![(l, a, b)];
                }
                let mut left = Vec::new();
                if a < lo {
                    left.push((l, a, lo - 1));
                }
                if hi < b {
                    left.push((l, hi + 1, b));
                }
                left
            })
            .collect();
    }
    let mut entries = Vec::new();
    for (len, mut lo, hi) in withdrawn {
        // Largest aligned power-of-two blocks, left to right.
        loop {
            let mut k = 0u32;
            while k < u32::from(len)
                && lo.trailing_zeros() > k
                && lo
                    .checked_add((1u128 << (k + 1)) - 1)
                    .is_some_and(|end| end <= hi)
            {
                k += 1;
            }
            let addr = address(family, lo.checked_shl(u32::from(max - len)).unwrap_or(0));
            entries.push(if k == 0 {
                format!("{addr}/{len}")
            } else {
                format!("{addr}/{} ge {len} le {len}", u32::from(len) - k)
            });
            match lo.checked_add(1u128 << k) {
                Some(next) if next <= hi => lo = next,
                _ => break,
            }
        }
    }
    if entries.is_empty() {
        return None;
    }
    let hash = entries.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, e| {
        e.bytes()
            .chain(Some(b'\n'))
            .fold(h, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
    });
    let list = format!("withdrawn-{}-{:08x}", family.digit(), hash as u32);
    let text = entries
        .iter()
        .enumerate()
        .map(|(k, e)| {
            format!(
                "{} prefix-list {list} seq {} permit {e}\n",
                family.ip(),
                (k + 1) * 5
            )
        })
        .collect();
    Some((list, text))
}

/// An address as a number (an IPv4 address in the low 32 bits).
fn bits(a: std::net::IpAddr) -> u128 {
    match a {
        std::net::IpAddr::V4(a) => u128::from(u32::from(a)),
        std::net::IpAddr::V6(a) => u128::from(a),
    }
}

/// The address of `family` that `n` numbers.
fn address(family: Family, n: u128) -> std::net::IpAddr {
    match family {
        Family::V4 => std::net::IpAddr::V4(std::net::Ipv4Addr::from(n as u32)),
        Family::V6 => std::net::IpAddr::V6(std::net::Ipv6Addr::from(n)),
    }
}
