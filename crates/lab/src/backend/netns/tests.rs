//! Route ownership on a real lab: a node whose routes a routing daemon
//! owns gets none from the fabric, and a link fault and the restore after
//! it leave its routes exactly as they were.
//!
//! Needs root, like every netns test (nextest runs tests named `netns`
//! one at a time); the lab is torn down even when an assertion fails.

use std::path::Path;
use std::sync::Arc;

use netproof_plan::{Backend, Daemon, Fault, Options, Routing};
use netproof_sample::MemorySink;

use crate::{Cancel, Lab, NodeHandle};

/// `h0 -- r1 -- r2 -- h3`, routers in the middle.
const PLAN: &str = r#"
[plan]
name = "daemon-owned"
summary = "r1's routes belong to a daemon"
backend = "netns"

[[node]]
name = "h0"

[[node]]
name = "r1"
role = "router"

[[node]]
name = "r2"
role = "router"

[[node]]
name = "h3"

[[link]]
ends = ["h0", "r1"]

[[link]]
ends = ["r1", "r2"]

[[link]]
ends = ["r2", "h3"]

# The faults the test applies by hand, validated as a plan's are.
[[case]]
id = "F"
title = "link faults next to the daemon-owned node"
steps = [
  { kind = "fault", at = "1s", fault = "link_down", link = "h0--r1" },
  { kind = "fault", at = "2s", fault = "link_up", link = "h0--r1" },
]
"#;

/// The plan's faults, in order.
fn faults(plan: &netproof_plan::Plan) -> Vec<Fault> {
    plan.cases[0]
        .steps
        .iter()
        .map(|s| match &s.action {
            netproof_plan::Action::Fault(f) => f.clone(),
            other => panic!("not a fault: {other:?}"),
        })
        .collect()
}

/// Runs `ip ARGS` on `node` and returns its output, failing the test on an
/// error.
async fn ip(node: &NodeHandle, args: &[&str]) -> String {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let out = node
        .command("ip", &args)
        .expect("command")
        .output()
        .await
        .expect("run ip (iproute2 is installed by the project's setup script)");
    assert!(
        out.status.success(),
        "ip {args:?} on `{}`: {}",
        node.name,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A node's IPv4 and IPv6 routes of the main table, one per line, sorted.
async fn routes(node: &NodeHandle) -> Vec<String> {
    let mut all: Vec<String> = ip(node, &["-4", "route", "show"])
        .await
        .lines()
        .chain(ip(node, &["-6", "route", "show"]).await.lines())
        .map(|l| l.trim().to_string())
        .collect();
    all.sort();
    all
}

#[tokio::test]
async fn netns_daemon_owned_node_keeps_its_own_routes_through_a_fault_and_restore() {
    let mut plan = netproof_plan::parse(Path::new("daemon.toml"), PLAN, &Options::default())
        .expect("valid plan");
    // Set in the model: `check` refuses daemons until netproof runs them.
    plan.nodes[1].routing = Routing::Daemon(Daemon::Bird);
    let sink = Arc::new(MemorySink::new());
    let cancel = Cancel::new();
    let namespaces = crate::netns::census::net_namespace_inodes().expect("read /proc");
    let mut lab = Lab::plan(&plan, Backend::Netns)
        .expect("plan the lab")
        .up(&plan, sink.clone(), &cancel)
        .await
        .expect("build the lab");
    let outcome = check(&lab, &sink, &faults(&plan)).await;
    lab.down().await;
    outcome.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        crate::netns::census::net_namespace_inodes().expect("read /proc"),
        namespaces,
        "the lab left namespaces behind"
    );
}

async fn check(lab: &Lab, sink: &MemorySink, faults: &[Fault]) -> Result<(), String> {
    let r1 = lab.node("r1").ok_or("no r1")?.clone();
    let r2 = lab.node("r2").ok_or("no r2")?.clone();
    let fabric_routes = |rs: &[String]| -> Vec<String> {
        rs.iter().filter(|r| r.contains(" via ")).cloned().collect()
    };
    // The fabric gave r1 only its connected routes; r2 got its static ones.
    let own = routes(&r1).await;
    if !fabric_routes(&own).is_empty() {
        return Err(format!("r1 got static routes: {own:#?}"));
    }
    if fabric_routes(&routes(&r2).await).is_empty() {
        return Err("r2, a static node, got no static routes".into());
    }
    // A route of the daemon's, installed on the link that stays up.
    ip(
        &r1,
        &[
            "-4",
            "route",
            "add",
            "198.18.250.0/24",
            "dev",
            "r2",
            "proto",
            "12",
        ],
    )
    .await;
    ip(
        &r1,
        &[
            "-6",
            "route",
            "add",
            "2001:2:0:7777::/64",
            "dev",
            "r2",
            "proto",
            "12",
        ],
    )
    .await;
    let before = routes(&r1).await;
    if !before.iter().any(|r| r.starts_with("198.18.250.0/24")) {
        return Err(format!("the daemon's route is missing: {before:#?}"));
    }
    let [down, up] = faults else {
        return Err(format!("expected two faults, got {faults:?}"));
    };
    let control = &lab.handles().control;
    let cancel = Cancel::new();
    control
        .apply(down, sink, &cancel)
        .await
        .map_err(|e| format!("link_down: {e}"))?;
    control
        .apply(up, sink, &cancel)
        .await
        .map_err(|e| format!("link_up: {e}"))?;
    control
        .apply(down, sink, &cancel)
        .await
        .map_err(|e| format!("link_down: {e}"))?;
    lab.restore(sink)
        .await
        .map_err(|e| format!("restore: {e}"))?;
    let after = routes(&r1).await;
    if after != before {
        return Err(format!(
            "r1's routes changed across the fault and restore:\nbefore {before:#?}\nafter {after:#?}"
        ));
    }
    Ok(())
}

/// Two equal-cost paths, `h0 -- r1 == (r2 | r3) == r4 -- h5`.
const DIAMOND: &str = r#"
[plan]
name = "diamond"
summary = "two equal-cost paths"
backend = "netns"

[[node]]
name = "h0"
[[node]]
name = "r1"
role = "router"
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
name = "h5"

[[link]]
ends = ["h0", "r1"]
[[link]]
ends = ["r1", "r2"]
[[link]]
ends = ["r1", "r3"]
[[link]]
ends = ["r2", "r4"]
[[link]]
ends = ["r3", "r4"]
[[link]]
ends = ["r4", "h5"]

[[case]]
id = "F"
title = "both of r1's paths cut"
steps = [
  { kind = "fault", at = "1s", fault = "partition", links = ["r1--r2", "r1--r3"] },
]
"#;

/// Regression: `restore` brings a partition's links up one after another;
/// the first used to put r1's ECMP routes back with its own next hop only,
/// and the second's add answered EEXIST, leaving them single paths (a later
/// cut of that path then lost all traffic).
#[tokio::test]
async fn netns_restore_after_a_partition_puts_ecmp_routes_back_whole() {
    let plan = netproof_plan::parse(Path::new("diamond.toml"), DIAMOND, &Options::default())
        .expect("valid plan");
    let sink = Arc::new(MemorySink::new());
    let cancel = Cancel::new();
    let mut lab = Lab::plan(&plan, Backend::Netns)
        .expect("plan the lab")
        .up(&plan, sink.clone(), &cancel)
        .await
        .expect("build the lab");
    let outcome = async {
        let r1 = lab.node("r1").ok_or("no r1")?.clone();
        let before = ip(&r1, &["-4", "route", "show"]).await;
        // `ip route show` puts ECMP members on lines of their own.
        if !before.contains("nexthop") {
            return Err(format!("r1 has no ECMP route to begin with: {before}"));
        }
        let faults = faults(&plan);
        let [cut] = &faults[..] else {
            return Err("expected one fault".to_string());
        };
        lab.handles()
            .control
            .apply(cut, sink.as_ref(), &cancel)
            .await
            .map_err(|e| format!("partition: {e}"))?;
        lab.restore(sink.as_ref())
            .await
            .map_err(|e| format!("restore: {e}"))?;
        let after = ip(&r1, &["-4", "route", "show"]).await;
        if after != before {
            return Err(format!(
                "r1's routes differ after restore:\nbefore\n{before}\nafter\n{after}"
            ));
        }
        Ok(())
    }
    .await;
    lab.down().await;
    outcome.unwrap_or_else(|e: String| panic!("{e}"));
}

/// `client` names two resolvers; `other` names none.
const RESOLVER_PLAN: &str = r#"
[plan]
name = "resolvers"
summary = "a node's processes see its resolvers"
backend = "netns"

[[node]]
name = "client"
resolver = ["198.18.0.53", "2001:2::53"]

[[node]]
name = "other"

[[link]]
ends = ["client", "other"]
"#;

/// What `program args...` prints on `node`.
async fn output_on(node: &NodeHandle, program: &str, args: &[&str]) -> Result<String, String> {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let out = node
        .command(program, &args)
        .map_err(|e| e.to_string())?
        .output()
        .await
        .map_err(|e| format!("run `{program}` on `{}`: {e}", node.name))?;
    if !out.status.success() {
        return Err(format!(
            "`{program}` on `{}` failed: {}",
            node.name,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[tokio::test]
async fn netns_a_nodes_processes_see_its_resolvers_and_the_hosts_file_is_untouched() {
    let host_before =
        std::fs::read(crate::netns::resolv::RESOLV_CONF).expect("the host's resolv.conf");
    let plan = netproof_plan::parse(
        Path::new("resolvers.toml"),
        RESOLVER_PLAN,
        &Options::default(),
    )
    .unwrap_or_else(|e| panic!("{}", e.render(false, 100)));
    let sink = Arc::new(MemorySink::new());
    let cancel = Cancel::new();
    let mut lab = Lab::plan(&plan, Backend::Netns)
        .expect("plan the lab")
        .up(&plan, sink, &cancel)
        .await
        .expect("build the lab");
    let client = lab.node("client").expect("client").clone();
    let other = lab.node("other").expect("other").clone();
    let seen = output_on(&client, "cat", &["/etc/resolv.conf"]).await;
    let seen_other = output_on(&other, "cat", &["/etc/resolv.conf"]).await;
    let file = client.resolv_conf.as_deref().cloned();
    // Handles hold their namespaces: a lab whose namespace is still held
    // at `down` keeps its registry entry for `lab gc`.
    drop((client, other));
    let entry = crate::registry::Registry::default_location()
        .dir()
        .join(format!("{}.json", lab.id()));
    lab.down().await;
    assert!(!entry.exists(), "{} left behind", entry.display());
    let seen = seen.expect("cat on client");
    let nameservers: Vec<&str> = seen
        .lines()
        .filter(|l| l.starts_with("nameserver"))
        .collect();
    assert_eq!(
        nameservers,
        ["nameserver 198.18.0.53", "nameserver 2001:2::53"],
        "{seen}"
    );
    // A node without `resolver` sees the host's file.
    assert_eq!(
        seen_other.expect("cat on other").as_bytes(),
        host_before.as_slice()
    );
    assert_eq!(
        std::fs::read(crate::netns::resolv::RESOLV_CONF).expect("the host's resolv.conf"),
        host_before,
        "the host's /etc/resolv.conf changed"
    );
    // The lab's file went with it.
    let file = file.expect("client has a resolv.conf of its own");
    assert!(!file.exists(), "{} left behind", file.display());
}
