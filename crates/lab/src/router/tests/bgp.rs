//! eBGP between BIRD and FRR: readiness reads real BGP sessions from both
//! daemons, and each router's FIB gets the other's originated loopback.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use netproof_plan::{Backend, Daemon, Options, Routing};
use netproof_sample::MemorySink;

use super::datagram_across;
use crate::router::{Expectations, ExpectedRoute, ExpectedSession, RouterSpec, Session};
use crate::{Cancel, Lab, NodeHandle};

const PLAN: &str = r#"
[plan]
name = "ebgp-pair"
summary = "two ASes, one link"
backend = "netns"

[[node]]
name = "a"
role = "router"

[[node]]
name = "b"
role = "router"

[[link]]
ends = ["a", "b"]
"#;

/// The IPv4 address of `node`'s interface `ifname` (a link end).
async fn link_address(node: &NodeHandle, ifname: &str) -> IpAddr {
    let args: Vec<String> = ["-j", "-4", "addr", "show", "dev", ifname]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let out = node
        .command("ip", &args)
        .expect("command")
        .output()
        .await
        .expect("run ip");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("ip -j");
    v[0]["addr_info"][0]["local"]
        .as_str()
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no address on `{ifname}` of `{}`: {v}", node.name))
}

fn bird_config(me: IpAddr, peer: IpAddr) -> String {
    format!(
        "router id {me};\n\
         protocol device {{ }}\n\
         protocol direct {{ ipv4; interface \"lo\"; }}\n\
         protocol kernel {{ ipv4 {{ export where source = RTS_BGP; }}; }}\n\
         protocol bgp to_b {{\n\
         \x20 local as 65001;\n\
         \x20 neighbor {peer} as 65002;\n\
         \x20 hold time 6; connect delay time 1; connect retry time 1; error wait time 1, 2;\n\
         \x20 ipv4 {{ import all; export where source = RTS_DEVICE && net ~ [ 198.18.0.0/15{{32,32}} ]; }};\n\
         }}\n"
    )
}

fn frr_config(me: IpAddr, peer: IpAddr) -> String {
    format!(
        "frr defaults traditional\n\
         hostname b\n\
         !\n\
         router bgp 65002\n\
         \x20bgp router-id {me}\n\
         \x20no bgp ebgp-requires-policy\n\
         \x20neighbor {peer} remote-as 65001\n\
         \x20neighbor {peer} timers 2 6\n\
         \x20neighbor {peer} timers connect 1\n\
         \x20address-family ipv4 unicast\n\
         \x20 network {me}/32\n\
         \x20exit-address-family\n\
         !\n"
    )
}

#[tokio::test]
async fn netns_ebgp_between_bird_and_frr_is_established_and_carries_loopbacks() {
    let namespaces = crate::netns::census::net_namespace_inodes().expect("read /proc");
    let mut plan =
        netproof_plan::parse(Path::new("bgp.toml"), PLAN, &Options::default()).expect("valid plan");
    plan.nodes[0].routing = Routing::Daemon(Daemon::Bird);
    plan.nodes[1].routing = Routing::Daemon(Daemon::Frr);
    let sink = Arc::new(MemorySink::new());
    let cancel = Cancel::new();
    let mut lab = Lab::plan(&plan, Backend::Netns)
        .expect("plan the lab")
        .up(&plan, sink.clone(), &cancel)
        .await
        .expect("build the lab");
    let outcome = exercise(&mut lab, &sink, &cancel).await;
    lab.down().await;
    outcome.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        crate::netns::census::net_namespace_inodes().expect("read /proc"),
        namespaces,
        "the lab left namespaces behind"
    );
}

async fn exercise(lab: &mut Lab, sink: &Arc<MemorySink>, cancel: &Cancel) -> Result<(), String> {
    let a = lab.node("a").ok_or("no a")?.clone();
    let b = lab.node("b").ok_or("no b")?.clone();
    // Interfaces are named after the peer.
    let (a_link, b_link) = (link_address(&a, "b").await, link_address(&b, "a").await);
    let specs = [
        RouterSpec {
            node: "a".into(),
            daemon: Daemon::Bird,
            config: bird_config(a.addr, b_link),
            intent: None,
        },
        RouterSpec {
            node: "b".into(),
            daemon: Daemon::Frr,
            config: frr_config(b.addr, a_link),
            intent: None,
        },
    ];
    let expect = Expectations {
        sessions: vec![
            ExpectedSession {
                node: "a".into(),
                session: Session::Bgp { peer: b_link },
            },
            ExpectedSession {
                node: "b".into(),
                session: Session::Bgp { peer: a_link },
            },
        ],
        routes: vec![
            ExpectedRoute {
                node: "a".into(),
                prefix: b.addr.into(),
            },
            ExpectedRoute {
                node: "b".into(),
                prefix: a.addr.into(),
            },
        ],
        tables: Default::default(),
    };
    lab.start_routers(&specs, sink.clone(), cancel)
        .await
        .map_err(|e| format!("start: {e}"))?;
    let took = lab
        .wait_converged(&expect, Duration::from_secs(30), cancel)
        .await
        .map_err(|e| format!("converge: {e}"))?;
    eprintln!("eBGP BIRD <-> FRR established and routes installed in {took:?}");
    // Loopback to loopback: only the BGP-learned routes carry it.
    datagram_across(&a, &b).await?;
    datagram_across(&b, &a).await
}
