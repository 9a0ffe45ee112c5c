//! A plan using every key parses into the expected model.

use std::net::IpAddr;
use std::time::Duration;

use netproof_plan::{
    Action, Aggregate, Arg, ArgPart, Backend, Comparison, NodeAction, Options, Readiness, Role,
    Target, TcpConnect,
};
use netproof_sample::Unit;

use crate::{crate_dir, parse};

fn full() -> netproof_plan::Plan {
    let path = crate_dir().join("tests/fixtures/valid/full.toml");
    match netproof_plan::load(&path, &Options::default()) {
        Ok(p) => p,
        Err(e) => panic!("{}", e.render(false, 100)),
    }
}

#[test]
fn metadata_and_topology() {
    let plan = full();
    assert_eq!(plan.meta.name, "full-example");
    assert_eq!(plan.meta.tags, ["example", "local"]);
    assert!(
        plan.meta
            .description
            .as_deref()
            .unwrap()
            .starts_with("Starts a tiny")
    );
    assert_eq!(plan.backend, Some(Backend::Local));
    assert_eq!(plan.seed, Some(42));
    assert_eq!(plan.nodes.len(), 2);
    assert_eq!(plan.nodes[0].role, Role::Host);
    assert_eq!(plan.nodes[0].address, None);
    let server = plan.node("server").unwrap();
    assert_eq!(server.role, Role::Router);
    assert_eq!(server.address, Some("127.0.0.2".parse::<IpAddr>().unwrap()));
    assert_eq!(plan.links[0].name(), "client--server");
    assert_eq!(plan.links[0].mtu, Some(1500));
    assert!(plan.links[0].impairment.is_empty());
    // Spans point at the definitions.
    let text = &plan.source.text;
    let s = plan.nodes[1].span;
    assert_eq!(&text[s.start..s.end], "[[node]]");
    assert!(plan.source.path.ends_with("full.toml"));
}

#[test]
fn services() {
    let plan = full();
    let web = &plan.services[0];
    assert_eq!(web.node, "server");
    assert_eq!(web.command[4], Arg(vec![ArgPart::Addr("server".into())]));
    assert_eq!(web.env, [("PYTHONUNBUFFERED".to_string(), "1".to_string())]);
    assert_eq!(web.ready, Some(Readiness::Tcp { port: 8080 }));
    assert_eq!(web.ready_timeout, Duration::from_secs(5));
    assert_eq!(plan.service("web").map(|s| s.node.as_str()), Some("server"));
    assert!(plan.case("WEB-01").is_some() && plan.case("nope").is_none());
    assert_eq!(Backend::from_name("local"), Some(Backend::Local));
    assert_eq!(Backend::from_name("netns"), Some(Backend::Netns));
    assert_eq!(Backend::from_name("mininet"), None);
}

#[test]
fn cases_steps_and_defaults() {
    let plan = full();
    let case = &plan.cases[0];
    assert_eq!(case.id, "WEB-01");
    assert_eq!(case.repeat, 3);
    assert_eq!(case.timeout, Duration::from_secs(60));
    assert_eq!(case.setup.len(), 1);
    assert_eq!(case.steps.len(), 3);
    assert_eq!(case.teardown.len(), 1);
    // Default names count over setup + steps + teardown.
    assert_eq!(case.setup[0].name, "exec-1");
    assert_eq!(case.steps[0].name, "probe");
    assert_eq!(case.steps[1].name, "tcp_connect-3");
    assert_eq!(case.steps[2].name, "exec-4");
    assert_eq!(case.teardown[0].name, "cleanup");
    // Timeouts default per kind.
    assert_eq!(case.setup[0].timeout, Duration::from_secs(30));
    assert_eq!(case.steps[0].timeout, Duration::from_secs(3));
    assert_eq!(case.steps[1].timeout, Duration::from_secs(1));
    let probe = &case.steps[0];
    assert_eq!(probe.every, Some(Duration::from_millis(100)));
    assert_eq!(probe.duration, Some(Duration::from_secs(2)));
    assert_eq!(probe.at, None);
    assert_eq!(
        probe.action,
        Action::Node(NodeAction::TcpConnect(TcpConnect {
            from: "client".into(),
            to: Target::Node("server".into()),
            port: 8080
        }))
    );
    let timed = &case.steps[1];
    assert_eq!(timed.at, Some(Duration::from_secs(1)));
    assert_eq!(timed.count, Some(5));
    assert!(
        matches!(&timed.action, Action::Node(NodeAction::TcpConnect(t)) if t.to == Target::Addr("127.0.0.2".parse().unwrap()))
    );
    let Action::Node(NodeAction::Exec(exec)) = &case.steps[2].action else {
        panic!("expected exec");
    };
    assert_eq!(exec.command[1], Arg::literal("{literal}"));
    assert_eq!(
        exec.env,
        [("LANG".to_string(), netproof_plan::Arg::literal("C"))]
    );
}

#[test]
fn expectations() {
    let plan = full();
    let e = &plan.cases[0].expect;
    assert_eq!(e.len(), 5);
    assert_eq!(e[0].aggregate, Aggregate::Percentile(99.0));
    assert_eq!(e[0].labels, [("step".to_string(), "probe".to_string())]);
    assert_eq!(e[0].op, Comparison::Lt);
    assert!((e[0].threshold - 0.005).abs() < 1e-12);
    assert_eq!(e[0].unit, Unit::Seconds);
    assert_eq!((e[1].unit, e[1].threshold), (Unit::Ratio, 0.99));
    assert_eq!((e[3].aggregate, e[3].unit), (Aggregate::Rate, Unit::Count));
    let text = &plan.source.text;
    let s = e[4].span;
    assert_eq!(&text[s.start..s.end], "\"max(exec.exit_code) == 0\"");
}

#[test]
fn minimal_plan() {
    let plan = parse("min.toml", "[plan]\nname = \"m\"\nsummary = \"s\"\n").unwrap();
    assert!(plan.nodes.is_empty() && plan.cases.is_empty());
    assert_eq!(plan.backend, None);
}

#[test]
fn allow_external_accepts_outside_targets() {
    let text = r#"
[plan]
name = "ext"
summary = "s"
[[node]]
name = "a"
[[case]]
id = "C"
title = "t"
steps = [{ kind = "tcp_connect", from = "a", to = "192.0.2.1:80" }]
"#;
    assert!(parse("ext.toml", text).is_err());
    let options = Options {
        allow_external: true,
        ..Options::default()
    };
    assert!(netproof_plan::parse("ext.toml".as_ref(), text, &options).is_ok());
}

#[test]
fn command_line_backend_overrides_the_plan() {
    // The plan names no backend; the default (local) rejects impairments,
    // and so does an explicit `--backend local`.
    let text = "[plan]\nname = \"b\"\nsummary = \"s\"\n[[node]]\nname = \"a\"\n[[node]]\nname = \"b\"\n[[link]]\nends = [\"a\", \"b\"]\ndelay = \"5ms\"\n";
    let options = Options {
        backend: Some(Backend::Local),
        ..Options::default()
    };
    let err = netproof_plan::parse("b.toml".as_ref(), text, &options).unwrap_err();
    assert!(err.to_string().contains("1 problem"), "{err}");
}

#[test]
fn problems_carry_line_and_column() {
    let text = "[plan]\nname = \"x\"\nsummary = \"s\"\nbogus = 1\n";
    let err = parse("p.toml", text).unwrap_err();
    let problems = err.problems();
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].path, "p.toml");
    assert_eq!((problems[0].line, problems[0].column), (4, 1));
    assert_eq!(problems[0].snippet, "bogus = 1");
    assert!(problems[0].message.contains("`bogus`"));
    assert!(problems[0].hint.is_some());
}

#[test]
fn unreadable_file_is_an_io_error() {
    let err =
        netproof_plan::load("/nonexistent/plan.toml".as_ref(), &Options::default()).unwrap_err();
    assert!(matches!(err, netproof_plan::PlanError::Io { .. }));
    let problems = err.problems();
    assert_eq!((problems[0].line, problems[0].column), (0, 0));
    assert!(err.render(false, 100).contains("/nonexistent/plan.toml"));
}

#[test]
fn codel_false_is_off_and_a_link_set_turns_codel_off() {
    let text = r#"
[plan]
name = "codel-off"
summary = "s"
backend = "netns"

[[node]]
name = "a"
[[node]]
name = "b"

[[link]]
ends = ["a", "b"]
rate = "20Mbit"
codel = { interval = "20ms" }

[[case]]
id = "C"
title = "t"
steps = [ { kind = "fault", fault = "link_set", link = "a--b", rate = "20Mbit", codel = false } ]
"#;
    let plan = parse("codel.toml", text).unwrap();
    let link = &plan.links[0].impairment;
    let on = link.direction(netproof_plan::Direction::AtoB).params();
    assert_eq!(on.codel.unwrap().interval, Duration::from_millis(20));
    let Action::Fault(netproof_plan::Fault::LinkSet { change, .. }) =
        &plan.cases[0].steps[0].action
    else {
        panic!("not a link_set: {:?}", plan.cases[0].steps[0].action)
    };
    let set = link.overlay(change);
    for d in [
        netproof_plan::Direction::AtoB,
        netproof_plan::Direction::BtoA,
    ] {
        assert_eq!(set.direction(d).params().codel, None, "{d:?}");
    }
    assert!(set.describe().contains("codel off"), "{}", set.describe());

    // The same off as a plan's own setting (what `--set link[0].codel=false` writes).
    let plan = parse(
        "codel.toml",
        &text.replace("codel = { interval = \"20ms\" }", "codel = false"),
    )
    .unwrap();
    let off = plan.links[0]
        .impairment
        .direction(netproof_plan::Direction::AtoB)
        .params();
    assert_eq!(off.codel, None);
}
