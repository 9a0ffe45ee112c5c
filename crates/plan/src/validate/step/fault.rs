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
    let fault_keys = ["link", "links", "node", "period", "flaps"];
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
        _ => Fault::Restore,
    };
    ok.then_some(fault)
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
}
