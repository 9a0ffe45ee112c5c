//! `kind = "fault"`: a change to the running lab (links down, up,
//! blackholed, flapped or reshaped; a node's services stopped, killed or
//! started; everything restored). Links and nodes come out as the typed
//! ids the lab acts on.

use crate::diagnostic::Finding;
use crate::model::Fault;
use crate::spelling;
use crate::tree::{Checker, Table};
use crate::validate::{Context, Names, positive_duration};

/// The faults, with the keys each one needs besides `fault`.
pub(super) const FAULTS: &[(&str, &[&str])] = &[
    ("link_down", &["link"]),
    ("link_up", &["link"]),
    ("link_blackhole", &["link"]),
    ("partition", &["links"]),
    ("link_flap", &["link", "period", "flaps"]),
    ("link_set", LINK_SET_KEYS),
    ("node_stop", &["node"]),
    ("node_kill", &["node"]),
    ("node_start", &["node"]),
    ("route_withdraw", &["node", "prefix"]),
    ("route_announce", &["node", "prefix"]),
    ("bgp_policy", &["session", "a_to_b", "b_to_a"]),
    ("restore", &[]),
];
/// `link_set` takes the link and any of a link's impairment keys.
pub(super) const LINK_SET_KEYS: &[&str] = with_impairment_keys!("link", "a_to_b", "b_to_a");
pub(super) fn fault(
    ck: &mut Checker<'_>,
    cx: &Context<'_>,
    names: &Names,
    t: &Table<'_, '_>,
) -> Option<Fault> {
    let list: Vec<&str> = FAULTS.iter().map(|(f, _)| *f).collect();
    let which = t
        .require(
            ck,
            "fault",
            &format!("say which fault with `fault`: {}", spelling::one_of(&list)),
        )
        .and_then(|v| v.str(ck))?;
    let Some(&(name, needs)) = FAULTS.iter().find(|(f, _)| *f == which.value) else {
        let hint = match spelling::closest(which.value, list.iter().copied()) {
            Some(near) => format!("did you mean `{near}`? faults: {}", spelling::one_of(&list)),
            None => format!("faults: {}", spelling::one_of(&list)),
        };
        ck.report(
            Finding::new(
                which.span,
                format!("unknown fault `{}`", which.value),
                "unknown fault",
            )
            .hint(hint),
        );
        return None;
    };
    // Keys of other faults are errors here, so a typo cannot pass silently.
    let fault_keys = [
        "link", "links", "node", "period", "flaps", "prefix", "session",
    ];
    let mut ok = true;
    for &key in fault_keys.iter().chain(&LINK_SET_KEYS[1..]) {
        if let Some(v) = t.get(key)
            && !needs.contains(&key)
        {
            ck.report(
                Finding::new(
                    v.key_span(),
                    format!("`{key}` does not apply to fault `{name}`"),
                    "not for this fault",
                )
                .hint(if needs.is_empty() {
                    format!("`{name}` takes no further keys")
                } else if name == "link_set" {
                    format!("`{name}` takes `link` and a link's impairment keys")
                } else {
                    format!("`{name}` takes {}", spelling::one_of(needs))
                }),
            );
            ok = false;
        }
    }
    let link_fault = needs.contains(&"link") || needs.contains(&"links");
    let routing_fault = matches!(name, "route_withdraw" | "route_announce" | "bgp_policy");
    if routing_fault && cx.backend != crate::model::Backend::Netns {
        ck.report(
            Finding::new(which.span, format!("fault `{name}` changes what a routing daemon does, and routing daemons need the netns backend"), "needs the netns backend")
                .hint("run on the netns backend (`backend = \"netns\"` or `--backend netns`)"),
        );
        ok = false;
    }
    if link_fault && cx.backend != crate::model::Backend::Netns {
        ck.report(
            Finding::new(which.span, format!("fault `{name}` changes a link, which the {} backend does not have", cx.backend.as_str()), "needs the netns backend")
                .hint("link faults need real links: run on the netns backend (`backend = \"netns\"` or `--backend netns`)"),
        );
        ok = false;
    }
    let mut link = || {
        t.require(
            ck,
            "link",
            "add `link = \"a--b\"`, the link the fault acts on",
        )
        .and_then(|v| v.str(ck))
        .and_then(|s| names.resolve_link(ck, &s))
    };
    let fault = match name {
        "link_down" => Fault::LinkDown {
            links: vec![link()?],
        },
        "link_up" => Fault::LinkUp {
            links: vec![link()?],
        },
        "link_blackhole" => Fault::LinkBlackhole { link: link()? },
        "partition" => {
            let v = t.require(
                ck,
                "links",
                "add `links = [\"a--b\", \"c--d\"]`, the links cut at once",
            )?;
            let items = v.strings(ck)?;
            let mut links = Vec::new();
            for s in &items {
                links.push(names.resolve_link(ck, s));
            }
            if items.is_empty() {
                v.invalid(
                    ck,
                    "`links` is empty".to_string(),
                    "no links",
                    Some("name at least one link".to_string()),
                );
                return None;
            }
            Fault::LinkDown {
                links: links.into_iter().collect::<Option<Vec<_>>>()?,
            }
        }
        "link_flap" => {
            let l = link();
            let period = t
                .require(ck, "period", "add `period = \"1s\"`: one down-and-up cycle")
                .and_then(|v| positive_duration(ck, &v));
            let flaps = t
                .require(
                    ck,
                    "flaps",
                    "add `flaps = 3`: how many times the link goes down and up",
                )
                .and_then(|v| v.int_in(ck, 1..=10_000, "flaps"))
                .and_then(|c| u32::try_from(c).ok());
            Fault::LinkFlap {
                link: l?,
                period: period?,
                flaps: flaps?,
            }
        }
        "link_set" => {
            let l = link();
            let display = format!("fault `{name}`");
            let change = crate::validate::impair::link(ck, &cx.plan_dir, t, &display);
            if let Some(c) = &change
                && c.is_empty()
            {
                ck.report(
                    Finding::new(which.span, "`link_set` changes nothing".to_string(), "nothing to set")
                        .hint("give the link's new properties, e.g. `delay = \"50ms\"`, `loss = \"1%\"` or `rate = \"10Mbit\"`"),
                );
                return None;
            }
            Fault::LinkSet {
                link: l?,
                change: Box::new(change?),
            }
        }
        "node_stop" | "node_kill" | "node_start" => {
            let node = t
                .require(
                    ck,
                    "node",
                    "add `node = \"...\"`, the node whose services the fault acts on",
                )
                .and_then(|v| v.str(ck))
                .and_then(|s| names.resolve_id(ck, &s))?;
            match name {
                "node_stop" => Fault::NodeStop { node },
                "node_kill" => Fault::NodeKill { node },
                _ => Fault::NodeStart { node },
            }
        }
        "route_withdraw" | "route_announce" => {
            let node = t
                .require(
                    ck,
                    "node",
                    "add `node = \"...\"`, the router that originates the prefix",
                )
                .and_then(|v| v.str(ck))
                .and_then(|s| names.resolve_id(ck, &s));
            let prefix = t
                .require(
                    ck,
                    "prefix",
                    "add `prefix = \"198.18.20.0/24\"`, one the node's `originate` lists",
                )
                .and_then(|v| v.str(ck));
            let prefix = prefix.and_then(|p| {
                let net = crate::validate::routing::network(ck, cx, &p)?;
                Some((net, p.span))
            });
            let (node, (prefix, span)) = (node?, prefix?);
            originated(ck, names, node.name(), prefix, span)?;
            if name == "route_withdraw" {
                Fault::RouteWithdraw { node, prefix }
            } else {
                Fault::RouteAnnounce { node, prefix }
            }
        }
        "bgp_policy" => {
            let session = t
                .require(
                    ck,
                    "session",
                    "add `session = \"a--b\"`, the `[[bgp]]` session by its ends",
                )
                .and_then(|v| v.str(ck))
                .and_then(|s| session(ck, names, &s));
            let a_to_b = t
                .has("a_to_b")
                .then(|| crate::validate::routing::policy(ck, cx, t, "a_to_b"));
            let b_to_a = t
                .has("b_to_a")
                .then(|| crate::validate::routing::policy(ck, cx, t, "b_to_a"));
            if a_to_b.is_none() && b_to_a.is_none() {
                ck.report(
                    Finding::new(which.span, "`bgp_policy` changes nothing".to_string(), "no policy")
                        .hint("give the new policy of a direction: `a_to_b = { local_pref = 50 }` (what the session's first end announces to the second) or `b_to_a`"),
                );
                return None;
            }
            Fault::BgpPolicy {
                ends: session?,
                a_to_b: crate::validate::optional(a_to_b)?,
                b_to_a: crate::validate::optional(b_to_a)?,
            }
        }
        _ => Fault::Restore,
    };
    ok.then_some(fault)
}

/// Checks that `node` is daemon-owned and its `originate` lists `prefix`
/// (a generated block by its `within`).
fn originated(
    ck: &mut Checker<'_>,
    names: &Names,
    node: &str,
    prefix: crate::model::IpNet,
    span: crate::model::Span,
) -> Option<()> {
    use crate::model::Originate;
    // With errors elsewhere in the routing, those are what to fix first.
    let facts = names.routing.as_ref()?;
    let Some((_, list)) = facts.originates.iter().find(|(n, _)| n == node) else {
        ck.report(
            Finding::new(span, format!("node `{node}` runs no routing daemon, so it originates nothing to withdraw or announce"), "no routing daemon")
                .hint(format!("give `{node}` a routing daemon (`routing = \"bird\"` or `\"frr\"`) and list the prefix in its `originate`")),
        );
        return None;
    };
    let listed = list.iter().any(|o| match o {
        Originate::Prefix(p) => *p == prefix,
        Originate::Generated { within, .. } => *within == prefix,
        Originate::Loopback => false,
    });
    if !listed {
        let have: Vec<String> = list
            .iter()
            .filter_map(|o| match o {
                Originate::Prefix(p) => Some(format!("`{p}`")),
                Originate::Generated { within, .. } => Some(format!("`{within}`")),
                Originate::Loopback => None,
            })
            .collect();
        ck.report(
            Finding::new(
                span,
                format!("node `{node}` does not originate `{prefix}`"),
                "not in its `originate`",
            )
            .hint(if have.is_empty() {
                format!("`{node}` originates no prefix; add it to the node's `originate`")
            } else {
                format!("`{node}` originates {}", have.join(", "))
            }),
        );
        return None;
    }
    Some(())
}

/// Resolves `a--b` to a `[[bgp]]` session's ends, in the order the
/// session writes them (so `a_to_b` means what it means there).
fn session(ck: &mut Checker<'_>, names: &Names, s: &crate::tree::Str<'_>) -> Option<[String; 2]> {
    let Some((a, b)) = s.value.split_once("--") else {
        ck.report(
            Finding::new(s.span, format!("`{}` is not a session", s.value), "not `a--b`")
                .hint("name a BGP session by its two ends, as its `[[bgp]]` table writes them: `\"isp-a--edge\"`"),
        );
        return None;
    };
    let facts = names.routing.as_ref()?;
    if facts.sessions.iter().any(|e| e[0] == a && e[1] == b) {
        return Some([a.to_string(), b.to_string()]);
    }
    let hint = if facts.sessions.iter().any(|e| e[0] == b && e[1] == a) {
        format!(
            "the session is written `ends = [\"{b}\", \"{a}\"]`: name it `{b}--{a}`, so `a_to_b` is what `{b}` announces to `{a}`"
        )
    } else if facts.sessions.is_empty() {
        "the plan has no `[[bgp]]` session".to_string()
    } else {
        let all: Vec<String> = facts
            .sessions
            .iter()
            .map(|e| format!("`{}--{}`", e[0], e[1]))
            .collect();
        format!("sessions: {}", all.join(", "))
    };
    ck.report(
        Finding::new(
            s.span,
            format!("no BGP session `{}`", s.value),
            "no such session",
        )
        .hint(hint),
    );
    None
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::model::{Action, Fault};
    use crate::{Options, parse};

    fn faults(steps: &str) -> Vec<Fault> {
        let text = format!(
            r#"
[plan]
name = "faults"
summary = "fault steps name links and nodes by id"

[[node]]
name = "a"
[[node]]
name = "b"
[[node]]
name = "c"

[[link]]
ends = ["a", "b"]
[[link]]
ends = ["b", "c"]

[[case]]
id = "F-01"
title = "faults"
steps = [ {steps} ]
"#
        );
        let p = parse(Path::new("p.toml"), &text, &Options::default())
            .unwrap_or_else(|e| panic!("{}", e.render(false, 100)));
        p.cases[0]
            .steps
            .iter()
            .map(|s| match &s.action {
                Action::Fault(f) => f.clone(),
                other => panic!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn links_and_nodes_come_out_as_ids_of_the_plan() {
        let f = faults(
            r#"{ kind = "fault", at = "1s", fault = "link_down", link = "c--b" },
               { kind = "fault", at = "2s", fault = "partition", links = ["a--b", "b--c"] },
               { kind = "fault", at = "3s", fault = "node_kill", node = "c" }"#,
        );
        // Named in either order, a link is the plan's link, its ends as the
        // plan wrote them.
        let Fault::LinkDown { links } = &f[0] else {
            panic!("{:?}", f[0]);
        };
        assert_eq!(
            (links[0].index(), links[0].ends()),
            (1, &["b".into(), "c".into()])
        );
        assert_eq!(links[0].to_string(), "b--c");
        let Fault::LinkDown { links } = &f[1] else {
            panic!("{:?}", f[1]);
        };
        let idx: Vec<usize> = links.iter().map(|l| l.index()).collect();
        assert_eq!(idx, [0, 1]);
        let Fault::NodeKill { node } = &f[2] else {
            panic!("{:?}", f[2]);
        };
        assert_eq!((node.index(), node.name()), (2, "c"));
        assert_eq!(f[2].node(), "c");
    }

    const ROUTERS: &str = r#"
[plan]
name = "routing-faults"
summary = "routing faults name originated prefixes and sessions"
backend = "netns"

[[node]]
name = "isp"
role = "router"
asn = 65002
originate = ["198.18.20.0/24", { generate = 10, within = "198.19.0.0/16", length = 24 }]
[[node]]
name = "edge"
role = "router"
asn = 65001
[[node]]
name = "host"

[[link]]
ends = ["isp", "edge"]
[[link]]
ends = ["edge", "host"]

[[bgp]]
ends = ["isp", "edge"]
"#;

    fn routing_case(steps: &str) -> Result<Vec<Fault>, String> {
        let text =
            format!("{ROUTERS}\n[[case]]\nid = \"R-01\"\ntitle = \"t\"\nsteps = [ {steps} ]\n");
        let p = parse(Path::new("p.toml"), &text, &Options::default())
            .map_err(|e| e.render(false, 200))?;
        Ok(p.cases[0]
            .steps
            .iter()
            .map(|s| match &s.action {
                Action::Fault(f) => f.clone(),
                other => panic!("{other:?}"),
            })
            .collect())
    }

    #[test]
    fn routing_faults_name_what_the_plan_originates_and_its_sessions() {
        let f = routing_case(
            r#"{ kind = "fault", fault = "route_withdraw", node = "isp", prefix = "198.18.20.0/24" },
               { kind = "fault", fault = "route_announce", node = "isp", prefix = "198.19.0.0/16" },
               { kind = "fault", fault = "bgp_policy", session = "isp--edge", a_to_b = { local_pref = 50 } }"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let Fault::RouteWithdraw { node, prefix } = &f[0] else {
            panic!("{:?}", f[0]);
        };
        assert_eq!(
            (node.name(), prefix.to_string().as_str()),
            ("isp", "198.18.20.0/24")
        );
        assert!(
            matches!(&f[1], Fault::RouteAnnounce { prefix, .. } if prefix.to_string() == "198.19.0.0/16")
        );
        let Fault::BgpPolicy {
            ends,
            a_to_b,
            b_to_a,
        } = &f[2]
        else {
            panic!("{:?}", f[2]);
        };
        assert_eq!(ends, &["isp".to_string(), "edge".to_string()]);
        assert_eq!(a_to_b.as_ref().and_then(|p| p.local_pref), Some(50));
        assert!(b_to_a.is_none());
        assert_eq!(f[2].name(), "bgp_policy");
    }

    #[test]
    fn a_routing_fault_on_something_the_plan_does_not_have_is_an_error_with_a_hint() {
        let cases = [
            (
                r#"{ kind = "fault", fault = "route_withdraw", node = "isp", prefix = "198.18.30.0/24" }"#,
                "does not originate `198.18.30.0/24`",
                "`isp` originates `198.18.20.0/24`, `198.19.0.0/16`",
            ),
            (
                r#"{ kind = "fault", fault = "route_withdraw", node = "host", prefix = "198.18.20.0/24" }"#,
                "node `host` runs no routing daemon",
                "give `host` a routing daemon",
            ),
            (
                r#"{ kind = "fault", fault = "bgp_policy", session = "edge--isp", b_to_a = { med = 5 } }"#,
                "no BGP session `edge--isp`",
                "name it `isp--edge`",
            ),
            (
                r#"{ kind = "fault", fault = "bgp_policy", session = "isp--edge" }"#,
                "`bgp_policy` changes nothing",
                "a_to_b = { local_pref = 50 }",
            ),
            (
                r#"{ kind = "fault", fault = "node_kill", node = "isp", prefix = "198.18.20.0/24" }"#,
                "`prefix` does not apply to fault `node_kill`",
                "`node_kill` takes `node`",
            ),
        ];
        for (step, error, hint) in cases {
            let e = routing_case(step).expect_err(step);
            assert!(e.contains(error) && e.contains(hint), "{step}:\n{e}");
        }
    }
}
