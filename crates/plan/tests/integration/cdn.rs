//! CDN services (`cdn = "origin"|"edge"` with a `config` table): the
//! reference CDN's own config rules, every problem at the plan's
//! line:column, placeholders resolved against the plan's nodes, and what
//! the lab is left to fill in (certificates, the CA, addresses).

use netproof_plan::{Arg, ArgPart, CaFile, CdnRole, CdnValue, Plan, PlanError, Problem};

use crate::parse;

const HEAD: &str = r#"[plan]
name = "cdn"
summary = "an origin, a tier and an edge"

[[node]]
name = "origin"
[[node]]
name = "tier"
[[node]]
name = "edge"
[[node]]
name = "client"

[[link]]
ends = ["origin", "tier"]
[[link]]
ends = ["tier", "edge"]
[[link]]
ends = ["edge", "client"]
"#;

const ORIGIN: &str = r#"
[[service]]
name = "origin"
node = "origin"
cdn = "origin"
[service.config]
admin = "{addr:origin}:9100"
listen = { https = ["{addr:origin}:8443"] }
[[service.config.site]]
name = "video.cdn.test"
names = ["*.video.cdn.test"]
[service.config.catalogue]
seed = 42
titles = 10
bitrates_kbps = [500, 1500]
segments = 4
"#;

const EDGE: &str = r#"
[[service]]
name = "edge"
node = "edge"
cdn = "edge"
[service.config]
listen = { https = ["0.0.0.0:8443"], http = ["{addr:edge}:8080"] }
[[service.config.site]]
name = "video.cdn.test"
[service.config.fill]
sources = [{ name = "tier", url = "https://{addr:tier}:8443", kind = "tier" }]
cache = { memory = "64MiB" }
"#;

const CASE: &str = r#"
[[case]]
id = "C-01"
title = "a file through the edge"
steps = [
  { kind = "http", from = "client", url = "https://video.cdn.test:8443/t/1/500k/0000.m4s", to = "edge", ca = "{lab_ca}", verify = { seed = 42 } },
]
"#;

fn plan(services: &str) -> Result<Plan, PlanError> {
    parse("plans/cdn.toml", &format!("{HEAD}{services}{CASE}"))
}

fn problems(services: &str) -> (String, Vec<Problem>) {
    let text = format!("{HEAD}{services}{CASE}");
    let e = parse("plans/cdn.toml", &text).expect_err("the plan must fail");
    (e.render(false, 120), e.problems())
}

/// The 1-based line and column of the first `needle` after the line that
/// holds `anchor`, in the whole plan text.
fn at(services: &str, anchor: &str, needle: &str) -> (usize, usize) {
    let text = format!("{HEAD}{services}{CASE}");
    let from = text.find(anchor).expect("anchor");
    let offset = from + text[from..].find(needle).expect("needle");
    let line = text[..offset].matches('\n').count() + 1;
    let col = offset - text[..offset].rfind('\n').map_or(0, |n| n + 1) + 1;
    (line, col)
}

fn find<'a>(entries: &'a [(String, CdnValue)], key: &str) -> Option<&'a CdnValue> {
    entries.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

#[test]
fn a_cdn_plan_validates_into_configs_the_lab_completes() {
    let p = plan(&format!("{ORIGIN}{EDGE}")).unwrap_or_else(|e| panic!("{}", e.render(false, 120)));
    let origin = p.service("origin").unwrap();
    assert!(origin.command.is_empty());
    let o = origin.cdn.as_ref().expect("a CDN service");
    assert_eq!(o.role, CdnRole::Origin);
    assert_eq!(o.sites.len(), 1);
    assert!(o.sites[0].lab_cert, "https site without cert: the lab's");
    assert_eq!(o.sites[0].names, ["*.video.cdn.test"]);
    assert!(o.listener.https);
    assert_eq!(
        o.listener.addr,
        Arg(vec![
            ArgPart::Addr("origin".into()),
            ArgPart::Text(":8443".into())
        ])
    );
    let e = p.service("edge").unwrap().cdn.as_ref().unwrap();
    assert_eq!(e.role, CdnRole::Edge);
    assert!(e.lab_ca, "an https fill source without `ca`: the lab CA");
    let Some(CdnValue::Table(fill)) = find(&e.config, "fill") else {
        panic!("{:?}", e.config)
    };
    assert!(find(fill, "sources").is_some());

    // What the lab writes reads back as the CDN's own config.
    let text = e.render(
        |n| format!("198.18.0.{}", n.len()),
        Some(std::path::Path::new("/run/lab/certs")),
        std::path::Path::new("/"),
    );
    let back: toml::Table = toml::from_str(&text).unwrap();
    assert_eq!(
        back["fill"]["sources"][0]["url"].as_str(),
        Some("https://198.18.0.4:8443")
    );
    assert_eq!(back["fill"]["ca"].as_str(), Some("/run/lab/certs/ca.pem"));
    assert_eq!(
        back["site"][0]["cert"].as_str(),
        Some("/run/lab/certs/video.cdn.test.pem")
    );
    assert_eq!(back["listen"]["http"][0].as_str(), Some("198.18.0.4:8080"));

    let http = match &p.cases[0].steps[0].action {
        netproof_plan::Action::Node(netproof_plan::NodeAction::Http(h)) => h,
        other => panic!("{other:?}"),
    };
    assert_eq!(http.ca, Some(CaFile::Lab));
}

#[test]
fn a_bad_cdn_config_key_is_reported_at_its_line_and_column() {
    let bad = ORIGIN.replace("segments = 4", "segmnets = 4");
    let (shown, p) = problems(&bad);
    assert_eq!(p.len(), 1, "{shown}");
    assert_eq!(
        (p[0].line, p[0].column),
        at(&bad, "[service.config.catalogue]", "segmnets"),
        "{shown}"
    );
    assert!(
        p[0].message.contains("unknown field `segmnets`")
            && p[0].message.contains("`catalogue.segmnets`"),
        "{shown}"
    );
    assert_eq!(
        p[0].hint.as_deref(),
        Some("did you mean `segments`?"),
        "{shown}"
    );
}

#[test]
fn every_bad_key_and_value_is_reported_at_once() {
    let bad = EDGE
        .replace(
            "memory = \"64MiB\"",
            "memory = \"12 parsecs\", polcy = \"lru\"",
        )
        .replace("kind = \"tier\"", "kind = \"cousin\"")
        .replace(
            "name = \"video.cdn.test\"",
            "name = \"video.cdn.test\"\nweight = 3",
        );
    let (shown, p) = problems(&format!("{ORIGIN}{bad}"));
    let found: Vec<(usize, usize)> = p.iter().map(|p| (p.line, p.column)).collect();
    let want = vec![
        at(&bad, "[[service.config.site]]", "weight"),
        at(&bad, "sources = ", "\"cousin\""),
        at(&bad, "cache = ", "\"12 parsecs\""),
        at(&bad, "cache = ", "polcy"),
    ];
    // Shift the edge's positions past the origin in the whole text.
    let shift = ORIGIN.matches('\n').count();
    let want: Vec<(usize, usize)> = want.into_iter().map(|(l, c)| (l + shift, c)).collect();
    assert_eq!(found, want, "{shown}");
    assert!(shown.contains("is not a size"), "{shown}");
    assert!(
        !shown.contains("missing"),
        "a dropped key is not reported again as missing:\n{shown}"
    );
}

#[test]
fn cross_key_problems_of_the_cdn_rules_are_at_their_keys() {
    // Two listeners on one address, and a default site nobody has: the
    // proto types' `validate`, found at the plan's keys, with the
    // placeholder written back in the message.
    let bad = ORIGIN.replace(
        "admin = \"{addr:origin}:9100\"",
        "admin = \"{addr:origin}:8443\"\ntls = { default_site = \"nope.test\" }",
    );
    let (shown, p) = problems(&bad);
    assert_eq!(p.len(), 2, "{shown}");
    assert_eq!(
        (p[0].line, p[0].column),
        at(&bad, "admin", "\"{addr:origin}:8443\""),
        "{shown}"
    );
    assert!(
        p[0].message
            .contains("`{addr:origin}:8443` is already `listen.https[0]`"),
        "{shown}"
    );
    assert_eq!(
        (p[1].line, p[1].column),
        at(&bad, "tls = ", "\"nope.test\""),
        "{shown}"
    );
}

#[test]
fn a_fill_source_naming_an_unknown_node_is_reported_at_the_name() {
    let bad = EDGE.replace("{addr:tier}", "{addr:teir}");
    let (shown, p) = problems(&format!("{ORIGIN}{bad}"));
    assert_eq!(p.len(), 1, "{shown}");
    assert!(p[0].message.contains("unknown node `teir`"), "{shown}");
    let shift = ORIGIN.matches('\n').count();
    let (l, c) = at(&bad, "sources =", "teir");
    assert_eq!((p[0].line, p[0].column), (l + shift, c), "{shown}");
    assert_eq!(
        p[0].hint.as_deref(),
        Some("did you mean `tier`?"),
        "{shown}"
    );
}

#[test]
fn lab_rules_listeners_on_the_own_node_at_fixed_ports_and_sources_by_address() {
    let bad = EDGE
        .replace("\"0.0.0.0:8443\"", "\"{addr:tier}:8443\"")
        .replace("\"{addr:edge}:8080\"", "\"{addr:edge}:0\"")
        .replace("https://{addr:tier}:8443", "https://tier.cdn.test:8443");
    let (shown, p) = problems(&format!("{ORIGIN}{bad}"));
    let messages: Vec<&str> = p.iter().map(|p| p.message.as_str()).collect();
    assert_eq!(p.len(), 3, "{shown}");
    assert!(messages[0].contains("node `tier`'s address"), "{shown}");
    assert!(messages[1].contains("port 0"), "{shown}");
    assert!(messages[2].contains("a lab has no DNS"), "{shown}");
}

#[test]
fn service_keys_command_cdn_and_config_exclude_each_other() {
    let cases = [
        (
            ORIGIN.replace("cdn = \"origin\"", "cdn = \"origin\"\ncommand = [\"true\"]"),
            "either `command` or `cdn`",
        ),
        (
            ORIGIN.replace("cdn = \"origin\"", "cdn = \"orign\""),
            "not a CDN component",
        ),
        (
            ORIGIN.replace("cdn = \"origin\"", "command = [\"true\"]"),
            "`config` is for CDN services",
        ),
        (
            "\n[[service]]\nname = \"x\"\nnode = \"edge\"\ncdn = \"edge\"\n".to_string(),
            "has no `config`",
        ),
        (
            ORIGIN.replace("name = \"video.cdn.test\"", "name = \"{netproof}\""),
            "`{netproof}` has no place",
        ),
    ];
    for (services, want) in cases {
        let (shown, _) = problems(&services);
        assert!(shown.contains(want), "want `{want}`:\n{shown}");
    }
}

#[test]
fn lab_ca_needs_a_service_the_lab_makes_certificates_for() {
    // Every site has its own certificate: the lab makes no CA.
    let own = ORIGIN.replace(
        "names = [\"*.video.cdn.test\"]",
        "names = [\"*.video.cdn.test\"]\ncert = \"v.pem\"\nkey = \"v.key\"",
    );
    let (shown, p) = problems(&own);
    assert_eq!(p.len(), 1, "{shown}");
    assert!(p[0].message.contains("the lab makes no CA"), "{shown}");
    let ok = plan(&own.replace("cert = \"v.pem\"\nkey = \"v.key\"", ""));
    assert!(ok.is_ok());
}

const STEERING: &str = r#"
[[service]]
name = "steering"
node = "client"
cdn = "steering"
[service.config]
admin = "{addr:client}:9101"
listen = { api = ["{addr:client}:8080"], dns = ["{addr:client}:53"] }
[service.config.dns]
zone = "video.cdn.test"
steered = ["video.cdn.test"]
ns = [{ name = "ns.video.cdn.test", address = "{addr:client}" }]
[[service.config.edge]]
name = "edge"
host = "edge.video.cdn.test"
addresses = ["{addr:edge}"]
kind = "embedded"
health = "http://{addr:edge}:9100/health"
url = "https://edge.video.cdn.test:8443"
"#;

#[test]
fn a_steering_service_validates_with_its_api_as_the_readiness_listener() {
    let p = plan(&format!("{ORIGIN}{EDGE}{STEERING}"))
        .unwrap_or_else(|e| panic!("{}", e.render(false, 120)));
    let s = p.service("steering").unwrap().cdn.as_ref().unwrap();
    assert_eq!(s.role, CdnRole::Steering);
    assert_eq!(s.role.as_str(), "steering");
    assert!(!s.listener.https && s.sites.is_empty() && !s.lab_ca);
    assert_eq!(
        s.listener.addr,
        Arg(vec![
            ArgPart::Addr("client".into()),
            ArgPart::Text(":8080".into())
        ])
    );
    let text = s.render(
        |n| format!("198.18.0.{}", n.len()),
        None,
        std::path::Path::new("/"),
    );
    let back: netproof_proto::steering::SteeringConfig = toml::from_str(&text).unwrap();
    assert_eq!(back.validate(), Ok(()));
    assert_eq!(
        back.edges[0].addresses,
        ["198.18.0.4".parse::<std::net::IpAddr>().unwrap()]
    );
}

#[test]
fn steering_config_problems_are_at_their_plan_keys() {
    let bad = STEERING
        .replace("kind = \"embedded\"", "kind = \"embeded\"")
        .replace(
            "steered = [\"video.cdn.test\"]",
            "steered = [\"video.other.test\"]",
        )
        .replace(
            "http://{addr:edge}:9100/health",
            "http://edge.lab:9100/health",
        )
        .replace("{addr:client}:53", "{addr:client}:0");
    let (shown, p) = problems(&format!("{ORIGIN}{EDGE}{bad}"));
    let shift = ORIGIN.matches('\n').count() + EDGE.matches('\n').count();
    let found: Vec<(usize, usize)> = p.iter().map(|p| (p.line - shift, p.column)).collect();
    let want = vec![
        at(&bad, "listen = ", "\"{addr:client}:0\""),
        at(&bad, "steered = ", "\"video.other.test\""),
        at(&bad, "kind = ", "\"embeded\""),
        at(&bad, "health = ", "\"http://edge.lab"),
    ];
    assert_eq!(found, want, "{shown}");
    assert!(shown.contains("port 0"), "{shown}");
    assert!(
        shown.contains("`edge[0].health` names the host `edge.lab`"),
        "{shown}"
    );
    assert!(shown.contains("is not in the zone"), "{shown}");
    let (shown, p) = problems(&STEERING.replace("cdn = \"steering\"", "cdn = \"steerng\""));
    assert_eq!(
        p[0].hint.as_deref(),
        Some("did you mean `steering`?"),
        "{shown}"
    );
}
