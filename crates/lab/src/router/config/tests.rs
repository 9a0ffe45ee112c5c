//! Rendering tests: snapshots of the BIRD and FRR configurations of three
//! small routing designs, the daemons' own parsers over every rendered
//! file, the intent derivation (peer addresses, which policy is whose),
//! and the way back from a daemon's error line to the plan.

use std::net::IpAddr;
use std::path::Path;
use std::process::Command;

use netproof_plan::{BgpTransport, Daemon, Options, Plan};

use super::*;

/// A 4-router OSPF ring, BFD on one link, r1 originating a prefix.
const RING: &str = r#"
[plan]
name = "ospf-ring"
summary = "Four routers in an OSPF ring"
backend = "netns"

[[node]]
name = "r1"
role = "router"
originate = ["198.18.100.0/24", "2001:2:0:100::/64"]
[[node]]
name = "r2"
role = "router"
[[node]]
name = "r3"
role = "router"
[[node]]
name = "r4"
role = "router"
[[node]]
name = "h1"

[[link]]
ends = ["h1", "r1"]
[[link]]
ends = ["r1", "r2"]
ospf = { hello = "1s", dead = "4s" }
bfd = { interval = "100ms", multiplier = 3 }
[[link]]
ends = ["r2", "r3"]
ospf = true
cost = 10
[[link]]
ends = ["r3", "r4"]
ospf = true
[[link]]
ends = ["r4", "r1"]
ospf = true
"#;

/// Two ASes over one link; a policy each way.
const EBGP: &str = r#"
[plan]
name = "ebgp-pair"
summary = "Two ISPs exchange their prefixes under a policy"
backend = "netns"

[[node]]
name = "isp-a"
role = "router"
asn = 65001
originate = ["loopback", "198.18.20.0/24", { generate = 3, within = "198.18.64.0/22", length = 24 }]
[[node]]
name = "isp-b"
role = "router"
asn = 65002
originate = ["loopback", "2001:2:0:200::/64"]

[[link]]
ends = ["isp-a", "isp-b"]
bfd = true

[[bgp]]
ends = ["isp-a", "isp-b"]
keepalive = "1s"
hold = "3s"
a_to_b = { prefixes = ["198.18.20.0/24", "198.18.64.0/24"], local_pref = 200, med = 50, prepend = 2, communities = ["65001:10", "65001:20"] }
b_to_a = { local_pref = 150 }
"#;

/// iBGP between loopbacks over an OSPF core, and an eBGP edge.
const IBGP: &str = r#"
[plan]
name = "ibgp-core"
summary = "iBGP between loopbacks, carried by OSPF, with an eBGP customer"
backend = "netns"

[[node]]
name = "core-1"
role = "router"
asn = 65000
originate = ["loopback"]
[[node]]
name = "core-2"
role = "router"
[[node]]
name = "core-3"
role = "router"
asn = 65000
[[node]]
name = "customer"
role = "router"
asn = 65100
originate = ["198.18.30.0/24"]

[[link]]
ends = ["core-1", "core-2"]
ospf = true
[[link]]
ends = ["core-2", "core-3"]
ospf = { area = 0, hello = "2s", dead = "8s" }
[[link]]
ends = ["core-3", "customer"]

[[bgp]]
ends = ["core-1", "core-3"]
[[bgp]]
ends = ["customer", "core-3"]
"#;

const PLANS: [(&str, &str); 3] = [("ring", RING), ("ebgp", EBGP), ("ibgp", IBGP)];

/// Corners the snapshots leave out, for the daemons' parsers: two OSPF
/// areas, eBGP across a LAN with BFD, hold time 0, an IPv6 generated
/// block, a policy that only filters, different BFD settings on one node.
const CORNERS: &str = r#"
[plan]
name = "corners"
summary = "Rendering corners"
backend = "netns"

[[node]]
name = "a"
role = "router"
asn = 65010
originate = [{ generate = 4, within = "2001:2:0:4000::/56", length = 64 }]
[[node]]
name = "b"
role = "router"
asn = 65020
[[node]]
name = "c"
role = "router"
asn = 65030
originate = ["loopback"]
[[node]]
name = "d"
role = "router"

[[lan]]
name = "ixp"
nodes = ["a", "b", "c"]

[[link]]
ends = ["a", "d"]
ospf = { area = "0.0.0.1" }
bfd = { interval = "50ms", multiplier = 5 }
[[link]]
ends = ["b", "d"]
ospf = true
cost = 100

[[bgp]]
ends = ["a", "b"]
hold = "0s"
keepalive = "10s"
bfd = true
b_to_a = { prefixes = ["198.18.99.0/24", "2001:2:0:99::/64"] }
[[bgp]]
ends = ["c", "a"]
"#;

fn plan(text: &str, daemon: Daemon) -> Plan {
    let options = Options {
        routing_daemon: Some(daemon),
        ..Options::default()
    };
    match netproof_plan::parse(Path::new("plan.toml"), text, &options) {
        Ok(p) => p,
        Err(e) => panic!("test plan is invalid:\n{}", e.render(false, 100)),
    }
}

fn configs(text: &str, daemon: Daemon) -> Vec<NodeConfig> {
    render(&plan(text, daemon)).expect("renders")
}

/// All of a plan's files, one after another, under a `== node ==` line.
fn joined(configs: &[NodeConfig]) -> String {
    let mut out = String::new();
    for c in configs {
        for f in &c.files {
            out.push_str(&format!("== {} / {} ==\n{}", c.node(), f.name, f.text));
        }
    }
    out
}

#[test]
fn bird_configs_match_their_snapshots() {
    for (name, text) in PLANS {
        insta::assert_snapshot!(format!("bird_{name}"), joined(&configs(text, Daemon::Bird)));
    }
}

#[test]
fn frr_configs_match_their_snapshots() {
    for (name, text) in PLANS {
        insta::assert_snapshot!(format!("frr_{name}"), joined(&configs(text, Daemon::Frr)));
    }
}

/// Writes `file` to a fresh directory and runs `program args... PATH`.
fn check_with(program: &str, args: &[&str], file: &ConfigFile) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(file.name);
    std::fs::write(&path, &file.text).unwrap();
    Command::new(program)
        .args(args)
        .arg(&path)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run `{program}`: {e}\nhint: install the routing daemons: scripts/install-peers.sh (Debian packages bird2 and frr)")
        })
}

#[test]
fn bird_parses_every_rendered_config() {
    for (name, text) in PLANS.into_iter().chain([("corners", CORNERS)]) {
        for c in configs(text, Daemon::Bird) {
            let out = check_with("bird", &["-p", "-c"], &c.files[0]);
            assert!(
                out.status.success(),
                "{name}/{}: bird -p refused its configuration:\n{}\n{}",
                c.node(),
                String::from_utf8_lossy(&out.stderr),
                c.files[0].text
            );
        }
    }
}

#[test]
fn frr_vtysh_accepts_every_rendered_config() {
    for (name, text) in PLANS.into_iter().chain([("corners", CORNERS)]) {
        for c in configs(text, Daemon::Frr) {
            let out = check_with("vtysh", &["-C", "-f"], &c.files[0]);
            assert!(
                out.status.success(),
                "{name}/{}: vtysh -C refused its configuration:\n{}{}\n{}",
                c.node(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                c.files[0].text
            );
        }
    }
}

#[test]
fn frr_vtysh_accepts_a_config_rendered_with_blocks_withdrawn() {
    let cs = configs(GATED, Daemon::Frr);
    let mut r = intent_of(&cs, "r1").clone();
    let all = std::mem::take(&mut r.originate);
    (r.originate, r.withdrawn) = all
        .into_iter()
        .partition(|o| !matches!(o.what, netproof_plan::Originate::Generated { .. }));
    let file = frr::render(&r);
    for line in [
        "ip route 198.18.128.0/32 blackhole",
        "route-map originate-4 deny 10",
        "route-map originate-6 deny 10",
        "route-map r2-4-out deny 5",
        " match source-protocol static",
        "  redistribute static",
        " redistribute static metric 20 metric-type 2 route-map originate-4",
        " redistribute static metric 20 metric-type 2 route-map originate-6",
    ] {
        assert!(
            file.text.lines().any(|l| l == line),
            "{line}:\n{}",
            file.text
        );
    }
    let out = check_with("vtysh", &["-C", "-f"], &file);
    assert!(
        out.status.success(),
        "vtysh -C refused it:\n{}{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        file.text
    );
}

/// A router originating generated blocks of both families beside an
/// explicit prefix inside one of them, with an OSPF neighbour and an
/// eBGP peer.
const GATED: &str = r#"
[plan]
name = "gated"
summary = "Generated blocks behind FRR's gate"
backend = "netns"
[[node]]
name = "r1"
role = "router"
asn = 65001
originate = [
  { generate = 1000, within = "198.18.128.0/17", length = 32 },
  "198.18.128.10/32",
  { generate = 5, within = "2001:2:0:100::/56", length = 64 },
]
[[node]]
name = "r2"
role = "router"
asn = 65002
[[node]]
name = "r3"
role = "router"
[[link]]
ends = ["r1", "r2"]
[[link]]
ends = ["r1", "r3"]
ospf = true
[[bgp]]
ends = ["r1", "r2"]
"#;

#[test]
fn the_withdrawn_list_covers_a_blocks_prefixes_exactly_around_what_stays() {
    let cs = configs(GATED, Daemon::Frr);
    let mut r = intent_of(&cs, "r1").clone();
    let entries = |r: &RouterIntent, family| -> Vec<String> {
        frr::withdrawn_list(r, family)
            .map(|(_, text)| {
                text.lines()
                    .filter_map(|l| l.split_once(" permit ").map(|(_, e)| e.to_string()))
                    .collect()
            })
            .unwrap_or_default()
    };
    // Nothing withdrawn: no list, and OSPF's gate passes everything.
    assert_eq!(frr::withdrawn_list(&r, Family::V4), None);
    assert_eq!(
        frr::ospf_gate(&r, Family::V4),
        "route-map originate-4 permit 20\n"
    );
    // Withdraw both blocks: 198.18.128.0 to 198.18.131.231 (1000 /32s)
    // less .128.10, which the node still lists itself.
    let all = std::mem::take(&mut r.originate);
    (r.originate, r.withdrawn) = all
        .into_iter()
        .partition(|o| !matches!(o.what, netproof_plan::Originate::Generated { .. }));
    assert_eq!(
        entries(&r, Family::V4),
        [
            "198.18.128.0/29 ge 32 le 32",
            "198.18.128.8/31 ge 32 le 32",
            "198.18.128.11/32",
            "198.18.128.12/30 ge 32 le 32",
            "198.18.128.16/28 ge 32 le 32",
            "198.18.128.32/27 ge 32 le 32",
            "198.18.128.64/26 ge 32 le 32",
            "198.18.128.128/25 ge 32 le 32",
            "198.18.129.0/24 ge 32 le 32",
            "198.18.130.0/24 ge 32 le 32",
            "198.18.131.0/25 ge 32 le 32",
            "198.18.131.128/26 ge 32 le 32",
            "198.18.131.192/27 ge 32 le 32",
            "198.18.131.224/29 ge 32 le 32",
        ]
    );
    // 1000 - 1 prefixes, each matched once.
    let covered: u32 = entries(&r, Family::V4)
        .iter()
        .map(|e| {
            let len: u32 = e.split(['/', ' ']).nth(1).unwrap().parse().unwrap();
            1 << (32 - len)
        })
        .sum();
    assert_eq!(covered, 999);
    assert_eq!(
        entries(&r, Family::V6),
        ["2001:2:0:100::/62 ge 64 le 64", "2001:2:0:104::/64"]
    );
    // The list's name follows its content: the IPv4 list is the same
    // whether or not the IPv6 block is withdrawn too, and another once
    // the explicit prefix is withdrawn as well.
    let name = |r: &RouterIntent| -> String {
        let (list, _) = frr::withdrawn_list(r, Family::V4).unwrap();
        assert!(list.starts_with("withdrawn-4-"), "{list}");
        list
    };
    let mut v4_only = r.clone();
    v4_only.withdrawn.truncate(1);
    assert_eq!(name(&v4_only), name(&r));
    assert_eq!(entries(&v4_only, Family::V6), Vec::<String>::new());
    let mut all_of_it = r.clone();
    all_of_it.originate.clear();
    assert_ne!(name(&all_of_it), name(&r));
    assert_eq!(
        entries(&all_of_it, Family::V4),
        [
            "198.18.128.0/23 ge 32 le 32",
            "198.18.130.0/24 ge 32 le 32",
            "198.18.131.0/25 ge 32 le 32",
            "198.18.131.128/26 ge 32 le 32",
            "198.18.131.192/27 ge 32 le 32",
            "198.18.131.224/29 ge 32 le 32",
        ]
    );
}

#[test]
fn the_withdrawn_list_covers_blocks_at_the_ends_of_the_address_space() {
    let cs = configs(GATED, Daemon::Frr);
    let mut r = intent_of(&cs, "r1").clone();
    let span = r.originate[0].span;
    let block = |within: &str, count, length| super::intent::Origination {
        what: netproof_plan::Originate::Generated {
            count,
            within: within.parse().unwrap(),
            length,
        },
        span,
    };
    r.originate.clear();
    // The last 256 addresses, and every /1 of the IPv4 space.
    r.withdrawn = vec![
        block("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ff00/120", 256, 128),
        block("0.0.0.0/0", 2, 1),
    ];
    let entries = |family| frr::withdrawn_list(&r, family).unwrap().1;
    assert!(
        entries(Family::V6)
            .ends_with(" permit ffff:ffff:ffff:ffff:ffff:ffff:ffff:ff00/120 ge 128 le 128\n"),
        "{}",
        entries(Family::V6)
    );
    assert_eq!(entries(Family::V6).lines().count(), 1);
    assert!(
        entries(Family::V4).ends_with(" permit 0.0.0.0/0 ge 1 le 1\n"),
        "{}",
        entries(Family::V4)
    );
}

#[test]
fn only_daemon_owned_nodes_get_a_config() {
    let p = plan(
        r#"
[plan]
name = "mixed"
summary = "A host beside two routers"
backend = "netns"
[[node]]
name = "h"
[[node]]
name = "r1"
role = "router"
[[node]]
name = "r2"
role = "router"
[[link]]
ends = ["h", "r1"]
[[link]]
ends = ["r1", "r2"]
ospf = true
"#,
        Daemon::Bird,
    );
    let nodes: Vec<String> = render(&p)
        .unwrap()
        .iter()
        .map(|c| c.node().to_string())
        .collect();
    assert_eq!(nodes, ["r1", "r2"]);
}

fn intent_of<'a>(configs: &'a [NodeConfig], node: &str) -> &'a RouterIntent {
    &configs.iter().find(|c| c.node() == node).unwrap().intent
}

#[test]
fn link_session_peers_at_the_shared_link_addresses() {
    let cs = configs(EBGP, Daemon::Bird);
    let a = intent_of(&cs, "isp-a");
    let b = intent_of(&cs, "isp-b");
    // The only link: isp-a is end a (198.19.0.0, ::a), isp-b end b.
    let v4 = |n: &RouterIntent| {
        n.bgp
            .iter()
            .find(|x| x.family == Family::V4)
            .unwrap()
            .clone()
    };
    let v6 = |n: &RouterIntent| {
        n.bgp
            .iter()
            .find(|x| x.family == Family::V6)
            .unwrap()
            .clone()
    };
    assert_eq!(v4(a).address, "198.19.0.1".parse::<IpAddr>().unwrap());
    assert_eq!(v4(a).source, "198.19.0.0".parse::<IpAddr>().unwrap());
    assert_eq!(v4(b).address, "198.19.0.0".parse::<IpAddr>().unwrap());
    assert_eq!(v6(a).address, "2001:2::b".parse::<IpAddr>().unwrap());
    assert_eq!(v6(b).address, "2001:2::a".parse::<IpAddr>().unwrap());
    assert_eq!(v4(a).ifname.as_deref(), Some("isp-b"));
    assert_eq!((v4(a).local_as, v4(a).peer_as), (65001, 65002));
    assert_eq!(v4(a).over, BgpTransport::Link);
    assert_eq!(a.bgp.len(), 2, "one session per family");
}

#[test]
fn loopback_session_peers_at_the_peer_loopback_from_the_own_loopback() {
    let cs = configs(IBGP, Daemon::Bird);
    let c1 = intent_of(&cs, "core-1");
    let c3 = intent_of(&cs, "core-3");
    let to_c3 = c1.bgp.iter().find(|n| n.family == Family::V4).unwrap();
    assert_eq!(to_c3.over, BgpTransport::Loopback);
    assert_eq!(to_c3.address, IpAddr::V4(c3.loopback_v4));
    assert_eq!(to_c3.source, IpAddr::V4(c1.loopback_v4));
    assert_eq!(to_c3.ifname, None);
    assert!(to_c3.internal());
    let to_c3_v6 = c1.bgp.iter().find(|n| n.family == Family::V6).unwrap();
    assert_eq!(to_c3_v6.address, IpAddr::V6(c3.loopback_v6));
    assert_eq!(to_c3_v6.source, IpAddr::V6(c1.loopback_v6));
    assert_eq!(c1.router_id, c1.loopback_v4);
}

#[test]
fn a_to_b_is_export_at_a_and_import_at_b() {
    let cs = configs(EBGP, Daemon::Bird);
    let a = intent_of(&cs, "isp-a").bgp[0].clone();
    let b = intent_of(&cs, "isp-b").bgp[0].clone();
    // a_to_b: isp-a sets MED, prepend, communities on export ...
    assert_eq!(a.export.med, Some(50));
    assert_eq!(a.export.prepend, 2);
    assert_eq!(a.export.communities, [(65001, 10), (65001, 20)]);
    assert_eq!(a.export.local_pref, None);
    // ... and isp-b sets its local_pref on import; both filter prefixes.
    assert_eq!(b.import.local_pref, Some(200));
    assert_eq!(b.import.med, None);
    assert_eq!(a.export.prefixes, b.import.prefixes);
    assert_eq!(
        b.import.prefixes.as_ref().map(Vec::len),
        Some(2),
        "the IPv4 session filters the two IPv4 prefixes"
    );
    // b_to_a: isp-a's import takes b's local_pref; isp-b exports as is.
    assert_eq!(a.import.local_pref, Some(150));
    assert!(b.export.is_empty());
}

#[test]
fn a_policy_listing_only_ipv4_prefixes_passes_nothing_over_ipv6() {
    let cs = configs(EBGP, Daemon::Bird);
    let a6 = intent_of(&cs, "isp-a")
        .bgp
        .iter()
        .find(|n| n.family == Family::V6)
        .unwrap()
        .clone();
    assert_eq!(a6.export.prefixes, Some(Vec::new()));
    let bird = &configs(EBGP, Daemon::Bird)[0].files[0].text;
    assert!(bird.contains("filter bgp_isp_b_6_out {\n  if !(source = RTS_BGP || (proto = \"loopback\" && net = 2001:2:0:ffff::1/128)) then reject;\n  reject;\n}\n"), "{bird}");
}

#[test]
fn generated_blocks_expand_to_their_first_prefixes() {
    let cs = configs(EBGP, Daemon::Frr);
    let text = &cs[0].files[0].text;
    for p in ["198.18.64.0/24", "198.18.65.0/24", "198.18.66.0/24"] {
        assert!(
            text.contains(&format!("ip route {p} blackhole")),
            "{p} missing:\n{text}"
        );
    }
    assert!(!text.contains("198.18.67.0/24"));
}

#[test]
fn attached_hosts_are_reached_via_their_link_address_and_announced() {
    let cs = configs(RING, Daemon::Bird);
    let r1 = intent_of(&cs, "r1");
    assert_eq!(r1.attached.len(), 1);
    let a = &r1.attached[0];
    assert_eq!(a.peer, "h1");
    // h1 is the link's first end: the lower address of its /31.
    assert_eq!(a.link(Family::V4).prefix_len(), 31);
    assert!(a.link(Family::V4).contains(&a.gateway(Family::V4)));
    assert_eq!(a.loopback(Family::V4).prefix_len(), 32);
    assert!(intent_of(&cs, "r2").attached.is_empty());
    let bird = &cs.iter().find(|c| c.node() == "r1").unwrap().files[0].text;
    assert!(
        bird.contains(&format!(
            "route {} via {};",
            a.loopback(Family::V4),
            a.gateway(Family::V4)
        )),
        "{bird}"
    );
    assert!(
        bird.contains(&format!("stubnet {};", a.link(Family::V6))),
        "{bird}"
    );
    let frr = configs(RING, Daemon::Frr);
    let frr = &frr.iter().find(|c| c.node() == "r1").unwrap().files[0].text;
    assert!(
        frr.contains(&format!(
            "ip route {} {}",
            a.loopback(Family::V4),
            a.gateway(Family::V4)
        )),
        "{frr}"
    );
    assert!(frr.contains(" ip ospf passive"), "{frr}");
}

#[test]
fn ospf_interfaces_carry_cost_timers_and_bfd_of_their_link() {
    let cs = configs(RING, Daemon::Bird);
    let r2 = intent_of(&cs, "r2");
    let names: Vec<&str> = r2.ospf.iter().map(|o| o.ifname.as_str()).collect();
    assert_eq!(names, ["r1", "r3"]);
    let to_r1 = &r2.ospf[0];
    assert_eq!(to_r1.hello.as_secs(), 1);
    assert_eq!(to_r1.dead.as_secs(), 4);
    assert_eq!(to_r1.bfd.map(|b| b.interval.as_millis()), Some(100));
    let to_r3 = &r2.ospf[1];
    assert_eq!((to_r3.cost, to_r3.bfd), (10, None));
    assert_eq!(to_r3.hello.as_secs(), 10);
}

#[test]
fn every_line_maps_back_to_the_plan_item_that_made_it() {
    let p = plan(EBGP, Daemon::Bird);
    let cs = render(&p).unwrap();
    let file = &cs[0].files[0];
    let session = p.bgp[0].span;
    let at = |needle: &str| {
        file.text
            .lines()
            .position(|l| l.contains(needle))
            .map(|i| i + 1)
            .unwrap()
    };
    assert_eq!(
        file.span_at(at("neighbor 198.19.0.1 as 65002")),
        Some(session)
    );
    assert_eq!(file.span_at(at("router id")), Some(p.nodes[0].span));
    assert_eq!(
        file.span_at(at("route 198.18.20.0/24 blackhole")),
        Some(p.nodes[0].span)
    );
    assert_eq!(file.span_at(0), None);
    assert_eq!(file.span_at(file.text.lines().count() + 1), None);
    assert_eq!(file.line(at("router id")), Some("router id 198.18.0.1;"));
}

#[test]
fn a_bird_parse_error_points_at_the_plan_line_that_made_it() {
    let p = plan(EBGP, Daemon::Bird);
    let cs = render(&p).unwrap();
    let mut file = cs[0].files[0].clone();
    // Break the session's line as a daemon would see a bad value.
    file.text = file
        .text
        .replace("neighbor 198.19.0.1 as 65002", "neighbor 198.19.0.1 as");
    let out = check_with("bird", &["-p", "-c"], &file);
    assert!(!out.status.success());
    let message = String::from_utf8_lossy(&out.stderr);
    let line = error_line(Daemon::Bird, &message).unwrap_or_else(|| panic!("no line in {message}"));
    assert_eq!(file.span_at(line), Some(p.bgp[0].span), "{message}");
    let refused = cs[0].refused(&file, &message);
    assert_eq!(refused.span, p.bgp[0].span);
    assert_eq!(refused.quoted.as_deref(), Some("neighbor 198.19.0.1 as;"));
    let shown = refused.to_string();
    assert!(
        shown.starts_with(&format!(
            "node `isp-a`: bird refused its generated `bird.conf` at line {line} (`neighbor 198.19.0.1 as;`): bird: "
        )),
        "{shown}"
    );
    assert!(shown.contains("\nhint: "), "{shown}");
}

#[test]
fn a_refusal_without_a_line_points_at_the_node() {
    let p = plan(RING, Daemon::Frr);
    let cs = render(&p).unwrap();
    let refused = cs[1].refused(&cs[1].files[0], "  ospfd: out of memory\n");
    assert_eq!((refused.line, refused.quoted.as_deref()), (None, None));
    assert_eq!(refused.span, p.nodes[1].span);
    assert!(
        refused.to_string().starts_with(
            "node `r2`: frr refused its generated `frr.conf`: ospfd: out of memory\nhint: "
        ),
        "{refused}"
    );
}

#[test]
fn an_frr_parse_error_points_at_the_plan_line_that_made_it() {
    let p = plan(RING, Daemon::Frr);
    let cs = render(&p).unwrap();
    let mut file = cs[0].files[0].clone();
    file.text = file
        .text
        .replacen(" ip ospf cost 1\n", " ip ospf cost many\n", 1);
    let out = check_with("vtysh", &["-C", "-f"], &file);
    assert!(!out.status.success());
    let message =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    let line = error_line(Daemon::Frr, &message).unwrap_or_else(|| panic!("no line in {message}"));
    // The first OSPF interface is r1's on r1--r2 (h1--r1 runs no OSPF).
    assert_eq!(file.span_at(line), Some(p.links[1].span), "{message}");
}

#[test]
fn error_line_reads_each_daemons_format() {
    assert_eq!(
        error_line(
            Daemon::Bird,
            "bird: /tmp/x/bird.conf:12:7 syntax error, unexpected ';'"
        ),
        Some(12)
    );
    assert_eq!(
        error_line(
            Daemon::Frr,
            "line 9: % Unknown command[41]:  ip ospf cost many"
        ),
        Some(9)
    );
    assert_eq!(
        error_line(
            Daemon::Frr,
            "2026/12/05 BGP: [SHWNK-NWT5S][EC 100663304] No such command on config line 4:  x"
        ),
        Some(4)
    );
    assert_eq!(error_line(Daemon::Bird, "bird: out of memory"), None);
}

#[test]
fn ibgp_peers_originated_loopbacks_are_passed_on_to_ebgp_peers() {
    let cs = configs(IBGP, Daemon::Bird);
    let c1 = intent_of(&cs, "core-1");
    let c3 = intent_of(&cs, "core-3");
    // core-1 originates its loopback into iBGP; core-3 has the eBGP edge.
    assert_eq!(
        c3.internal_loopbacks,
        [c1.loopback(Family::V4), c1.loopback(Family::V6)]
    );
    assert!(
        c1.internal_loopbacks.is_empty(),
        "core-3 originates nothing"
    );
    let bird = &cs[2].files[0].text;
    assert!(
        bird.contains("(source = RTS_OSPF && net ~ [ 198.18.0.1/32 ])"),
        "{bird}"
    );
    let frr = &configs(IBGP, Daemon::Frr)[2].files[0].text;
    assert!(frr.contains("  network 198.18.0.1/32\n"), "{frr}");
}

#[test]
fn a_session_across_a_lan_peers_at_the_lan_addresses() {
    let cs = configs(CORNERS, Daemon::Frr);
    let a = intent_of(&cs, "a");
    let to_b = a
        .bgp
        .iter()
        .find(|n| n.peer == "b" && n.family == Family::V4)
        .unwrap();
    // LAN `ixp` is the first LAN: 198.19.128.0/30 (three members need a
    // /29 with network and broadcast), members from .1 in `nodes` order.
    assert_eq!(to_b.address, "198.19.128.2".parse::<IpAddr>().unwrap());
    assert_eq!(to_b.source, "198.19.128.1".parse::<IpAddr>().unwrap());
    assert_eq!(to_b.ifname.as_deref(), Some("ixp"));
    assert!(to_b.bfd.is_some());
    assert!(to_b.hold.is_zero());
}

#[test]
fn a_generated_block_of_100000_prefixes_renders_one_route_each() {
    // More /32s than the IPv4 lab range has room for beside the lab's
    // own blocks, so /128s.
    let text = EBGP.replace(
        "{ generate = 3, within = \"198.18.64.0/22\", length = 24 }",
        "{ generate = 100000, within = \"2001:2:0:4000::/64\", length = 128 }",
    );
    let cs = configs(&text, Daemon::Bird);
    let file = &cs[0].files[0];
    let routes = file
        .text
        .lines()
        .filter(|l| l.ends_with("/128 blackhole;"))
        .count();
    assert_eq!(routes, 100_000);
    let out = check_with("bird", &["-p", "-c"], file);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// What FRR is told for routing faults: only the difference, in FRR's
/// own commands, and a soft clear of each neighbour whose policy changed.
#[test]
fn frr_delta_withdraws_prefixes_and_replaces_changed_route_maps_only() {
    use crate::router::change::frr_delta;
    let cs = configs(EBGP, Daemon::Frr);
    let a = intent_of(&cs, "isp-a").clone();
    // Nothing changed: nothing to say.
    assert_eq!(frr_delta(&a, &a), (String::new(), Vec::new()));

    // The generated block withdrawn (as `Routers::withdraw` does it): its
    // three prefixes named in a new prefix list, which isp-a's export
    // maps then deny (its own static routes only), and a soft clear out
    // of each IPv4 neighbour sends the withdrawals; the routes stay.
    let mut fewer = a.clone();
    let (gone, kept) = fewer
        .originate
        .into_iter()
        .partition(|o| matches!(o.what, netproof_plan::Originate::Generated { .. }));
    (fewer.originate, fewer.withdrawn) = (kept, gone);
    let (cmds, clears) = frr_delta(&a, &fewer);
    let list = cmds
        .split_whitespace()
        .nth(2)
        .filter(|l| l.starts_with("withdrawn-4-"))
        .unwrap_or_else(|| panic!("no list first: {cmds}"));
    let mut v4 = a.bgp.iter().filter(|n| n.family == Family::V4);
    let n = v4.next().unwrap();
    assert!(v4.next().is_none(), "isp-a has one IPv4 neighbour");
    let map = frr::map_name(n, "out");
    assert_eq!(
        cmds,
        format!(
            "ip prefix-list {list} seq 5 permit 198.18.64.0/23 ge 24 le 24\n\
             ip prefix-list {list} seq 10 permit 198.18.66.0/24\n\
             route-map {map} deny 5\n match ip address prefix-list {list}\n match source-protocol static\n"
        )
    );
    assert_eq!(
        clears,
        [format!("clear bgp ipv4 unicast {} soft out", n.address)]
    );
    // And announced again: the deny entry and the list go.
    let (cmds, clears_again) = frr_delta(&fewer, &a);
    assert_eq!(
        cmds,
        format!("no route-map {map} deny 5\nno ip prefix-list {list}\n")
    );
    assert_eq!(clears_again, clears);
    // A policy change while the block is withdrawn keeps the deny entry
    // at the head of the export map it replaces.
    let mut prepended = fewer.clone();
    for n in &mut prepended.bgp {
        n.export = super::Policy::export(
            &netproof_plan::BgpPolicy {
                prepend: 2,
                ..Default::default()
            },
            n.family,
        );
    }
    let (cmds, _) = frr_delta(&fewer, &prepended);
    let removed = cmds.find(&format!("no route-map {map}\n"));
    let denied = cmds.find(&format!(
        "route-map {map} deny 5\n match ip address prefix-list {list}\n match source-protocol static\n"
    ));
    assert!(
        removed.is_some() && denied > removed,
        "the deny entry must follow the map's removal: {cmds}"
    );
    // The explicit prefix withdrawn: its static route goes, one command.
    let mut explicit = a.clone();
    explicit
        .originate
        .retain(|o| !matches!(o.what, netproof_plan::Originate::Prefix(_)));
    let (cmds, _) = frr_delta(&a, &explicit);
    assert_eq!(cmds, "no ip route 198.18.20.0/24 blackhole\n");

    // isp-b's import of what isp-a announces gets local preference 50:
    // its IPv4 and IPv6 `in` maps are replaced, prefix lists included,
    // and those neighbours cleared inbound.
    let b = intent_of(&cs, "isp-b").clone();
    let mut lower = b.clone();
    let policy = netproof_plan::BgpPolicy {
        local_pref: Some(50),
        ..Default::default()
    };
    for n in &mut lower.bgp {
        n.import = super::Policy::import(&policy, n.family);
    }
    let (cmds, clears) = frr_delta(&b, &lower);
    assert!(cmds.contains("no route-map isp-a-4-in\n"), "{cmds}");
    assert!(cmds.contains("no ip prefix-list isp-a-4-in\n"), "{cmds}");
    assert!(
        cmds.contains("route-map isp-a-4-in permit 10\n set local-preference 50\n"),
        "{cmds}"
    );
    assert!(!cmds.contains("-out"), "export maps untouched: {cmds}");
    assert_eq!(clears.len(), 2, "{clears:?}");
    assert!(
        clears
            .iter()
            .all(|c| c.starts_with("clear bgp ") && c.ends_with(" soft in"))
    );
}

/// An ISP router announcing its client prefixes beside static routes to
/// two edges that learn them into table 100 (receive-only), one over
/// iBGP, with a policy each: the CDN lab's shape.
const SPEAKERS: &str = r#"
[plan]
name = "speakers"
summary = "An ISP announces client prefixes to its edges"
backend = "netns"

[[node]]
name = "isp"
role = "router"
asn = 65010
originate = ["198.18.200.0/24", "2001:2:0:200::/56"]
bgp_speaker = true
[[node]]
name = "oca1"
asn = 65100
bgp_speaker = { table = 100, announce = false }
[[node]]
name = "oca2"
asn = 65010
bgp_speaker = { table = 4000000000, announce = false }
[[node]]
name = "client"

[[link]]
ends = ["isp", "oca1"]
[[link]]
ends = ["isp", "oca2"]
[[link]]
ends = ["isp", "client"]

[[bgp]]
ends = ["isp", "oca1"]
a_to_b = { local_pref = 200 }
[[bgp]]
ends = ["isp", "oca2"]
over = "link"
a_to_b = { med = 50 }
"#;

#[test]
fn speakers_write_no_main_table_and_learn_into_their_own_with_attributes() {
    // `--routing-daemon frr` does not move a speaker off BIRD.
    let configs = configs(SPEAKERS, Daemon::Frr);
    let names: Vec<&str> = configs.iter().map(|c| c.node()).collect();
    assert_eq!(names, ["isp", "oca1", "oca2"]);
    insta::assert_snapshot!("bird_speakers", joined(&configs));
    for c in &configs {
        assert_eq!(c.intent.daemon, Daemon::Bird);
        let text = &c.files[0].text;
        assert!(!text.contains("protocol kernel kernel"), "{text}");
        let out = check_with("bird", &["-p", "-c"], &c.files[0]);
        assert!(
            out.status.success(),
            "{}: bird -p refused its configuration:\n{}\n{text}",
            c.node(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let oca2 = &configs[2].files[0].text;
    assert!(oca2.contains("kernel table 4000000000;"), "{oca2}");
    // Learned over iBGP: flagged in the priority.
    assert!(
        oca2.contains("if proto = \"bgp_isp_4\" then krt_metric = krt_metric + 4;"),
        "{oca2}"
    );
    // Receive-only: both sessions' export filters reject everything.
    assert!(
        oca2.contains("filter bgp_isp_4_out {\n  reject;\n}"),
        "{oca2}"
    );
    let isp = &configs[0].files[0].text;
    assert!(!isp.contains("kernel table"), "{isp}");
}

#[test]
fn speakers_converge_on_sessions_and_the_routes_in_their_table() {
    let configs = configs(SPEAKERS, Daemon::Bird);
    let e = crate::router::expect::expectations(&configs);
    assert_eq!(e.tables.get("oca1"), Some(&100));
    assert!(!e.tables.contains_key("isp"));
    let routes: Vec<String> = e
        .routes
        .iter()
        .map(|r| format!("{} {}", r.node, r.prefix))
        .collect();
    // oca2's session is iBGP: only eBGP routes are awaited.
    assert_eq!(routes, ["oca1 198.18.200.0/24", "oca1 2001:2:0:200::/56"]);
    assert_eq!(e.sessions.len(), 8, "{:#?}", e.sessions);
}
