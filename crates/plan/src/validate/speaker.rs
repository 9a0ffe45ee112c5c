//! A node's `bgp_speaker`: BGP spoken beside static routes.
//!
//! The lab keeps computing and installing such a node's routes; BIRD on
//! the node runs its `[[bgp]]` sessions, announces what it originates
//! (unless `announce = false`) and writes what it learns only into the
//! kernel table `table` names, never the main one. This is how an ISP
//! router of the CDN lab announces its client prefixes to the edges it
//! hosts, and how an edge learns them without its own forwarding changing.
//! What only the whole plan can tell (OSPF on the node, no session, a
//! daemon named besides) is checked by `routing::cross_check` through
//! [`problem`].

use crate::diagnostic::Finding;
use crate::model::{BgpSpeaker, Node, Routing};
use crate::tree::{Checker, Val};

use super::Context;
use super::routing::needs_netns;

/// The keys of a node's `bgp_speaker` table.
const SPEAKER_KEYS: &[&str] = &["table", "announce"];

/// A node's `bgp_speaker`: `true`, or `{ table = 100, announce = false }`.
pub(super) fn parse(ck: &mut Checker<'_>, cx: &Context<'_>, v: &Val<'_, '_>) -> Option<BgpSpeaker> {
    needs_netns(ck, cx, v.span(), "`bgp_speaker`")?;
    if v.is_bool() {
        if !v.boolean(ck)? {
            v.invalid(
                ck,
                "`bgp_speaker = false` says nothing".to_string(),
                "nothing",
                Some("remove `bgp_speaker`, or write `true` or a table `{ table = 100, announce = false }`".to_string()),
            );
            return None;
        }
        return Some(BgpSpeaker {
            table: None,
            announce: true,
            span: v.span(),
        });
    }
    let t = v.table(
        ck,
        "`bgp_speaker`",
        "`true` or a table `{ table = 100, announce = false }`",
    )?;
    t.reject_unknown(ck, SPEAKER_KEYS, &|_| None);
    let table = match t.get("table") {
        None => Some(None),
        Some(tv) => tv
            .int_in(ck, 1..=i64::from(u32::MAX), "table number")
            .and_then(|n| {
                // 253..255 are the kernel's default, main and local tables:
                // a speaker's learned routes must never forward packets.
                if (253..=255).contains(&n) {
                    tv.invalid(
                        ck,
                        format!("table {n} is the kernel's own (`default`, `main`, `local` are 253, 254, 255)"),
                        "a kernel table",
                        Some("pick a table of its own, e.g. `table = 100`: learned routes there forward nothing".to_string()),
                    );
                    return None;
                }
                u32::try_from(n).ok()
            })
            .map(Some),
    };
    let announce = match t.get("announce") {
        None => Some(true),
        Some(a) => a.boolean(ck),
    };
    Some(BgpSpeaker {
        table: table?,
        announce: announce?,
        span: v.span(),
    })
}

/// What is wrong with a node's `bgp_speaker`, if anything.
pub(super) fn problem(
    n: &Node,
    sp: &BgpSpeaker,
    runs_ospf: bool,
    runs_bgp: bool,
) -> Option<Finding> {
    if let Some(span) = n.routing_span
        && n.routing != Routing::Static
    {
        return Some(
            Finding::new(span, format!("node `{}` is a `bgp_speaker` but names the daemon `{}`", n.name, n.routing.as_str()), "a speaker's routes are static")
                .also(sp.span, "speaker here")
                .hint("a BGP speaker keeps the lab's static routes and always runs BIRD (`--routing-daemon` does not change it): remove `routing`, or remove `bgp_speaker` to let the daemon own the routes"),
        );
    }
    if runs_ospf {
        return Some(
            Finding::new(sp.span, format!("node `{}` is a `bgp_speaker` but runs OSPF", n.name), "speaker with OSPF")
                .hint("a speaker only speaks BGP beside static routes; remove `ospf` from its links, or remove `bgp_speaker`"),
        );
    }
    if !runs_bgp {
        return Some(
            Finding::new(
                sp.span,
                format!(
                    "node `{}` is a `bgp_speaker` but has no BGP session",
                    n.name
                ),
                "no session",
            )
            .hint(format!(
                "add a `[[bgp]]` with `ends = [\"{}\", \"...\"]`, or remove `bgp_speaker`",
                n.name
            )),
        );
    }
    if !sp.announce && !n.originate.is_empty() {
        return Some(
            Finding::new(
                sp.span,
                format!(
                    "node `{}` announces nothing (`announce = false`) but has `originate`",
                    n.name
                ),
                "receive-only",
            )
            .hint("remove `originate`, or `announce = false`"),
        );
    }
    None
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::model::{Plan, Routing};
    use crate::{Options, parse};

    /// An ISP router announcing two prefixes to an edge that learns them
    /// into table 100, both beside static routes.
    const BASE: &str = r#"
[plan]
name = "speaker"
summary = "a BGP speaker beside static routes"

[[node]]
name = "isp"
role = "router"
asn = 65010
originate = ["198.18.200.0/24", "2001:2:0:200::/56"]
bgp_speaker = true

[[node]]
name = "edge"
asn = 65100
bgp_speaker = { table = 100, announce = false }

[[link]]
ends = ["isp", "edge"]

[[bgp]]
ends = ["isp", "edge"]
a_to_b = { local_pref = 200, med = 10 }
"#;

    fn plan(text: &str) -> Result<Plan, Vec<String>> {
        parse(Path::new("s.toml"), text, &Options::default()).map_err(|e| {
            e.problems()
                .into_iter()
                .map(|p| format!("{} | {}", p.message, p.hint.unwrap_or_default()))
                .collect()
        })
    }

    #[test]
    fn speakers_keep_static_routes_and_read_their_table() {
        let p = plan(BASE).unwrap_or_else(|e| panic!("{e:#?}"));
        assert!(p.nodes.iter().all(|n| n.routing == Routing::Static));
        let isp = p.nodes[0].bgp_speaker.unwrap();
        assert_eq!((isp.table, isp.announce), (None, true));
        let edge = p.nodes[1].bgp_speaker.unwrap();
        assert_eq!((edge.table, edge.announce), (Some(100), false));
    }

    #[test]
    fn every_misuse_is_refused_with_a_hint() {
        let text = BASE
            .replace(
                "bgp_speaker = true",
                "bgp_speaker = true\nrouting = \"frr\"",
            )
            .replace(
                "table = 100, announce = false",
                "table = 254, announce = false, learn = 1",
            );
        let errors = plan(&text).unwrap_err();
        assert!(
            errors.iter().any(
                |e| e.contains("is a `bgp_speaker` but names the daemon `frr`")
                    && e.contains("always runs BIRD")
            ),
            "{errors:#?}"
        );
        assert!(
            errors
                .iter()
                .any(|e| e.contains("table 254 is the kernel's own")),
            "{errors:#?}"
        );
        assert!(errors.iter().any(|e| e.contains("learn")), "{errors:#?}");
    }

    #[test]
    fn a_receive_only_speaker_originates_nothing_and_needs_a_session() {
        let text = BASE.replace(
            "bgp_speaker = { table = 100, announce = false }",
            "bgp_speaker = { table = 100, announce = false }\noriginate = [\"198.18.201.0/24\"]",
        ) + "\n[[node]]\nname = \"lonely\"\nbgp_speaker = true\n[[link]]\nends = [\"lonely\", \"edge\"]\n";
        let errors = plan(&text).unwrap_err();
        assert!(
            errors
                .iter()
                .any(|e| e.contains("announces nothing (`announce = false`) but has `originate`")),
            "{errors:#?}"
        );
        assert!(
            errors
                .iter()
                .any(|e| e.contains("`lonely` is a `bgp_speaker` but has no BGP session")),
            "{errors:#?}"
        );
    }

    #[test]
    fn a_resolver_is_one_to_three_lab_addresses() {
        let ok = BASE.replace(
            "name = \"edge\"",
            "name = \"edge\"\nresolver = [\"198.18.0.9\", \"2001:2::53\"]",
        );
        let p = plan(&ok).unwrap_or_else(|e| panic!("{e:#?}"));
        assert_eq!(p.nodes[1].resolver.len(), 2);
        assert!(p.nodes[0].resolver.is_empty());
        let bad = BASE
            .replace(
                "name = \"edge\"",
                "name = \"edge\"\nresolver = [\"8.8.8.8\"]",
            )
            .replace("name = \"isp\"", "name = \"isp\"\nresolver = []");
        let errors = plan(&bad).unwrap_err();
        assert!(
            errors
                .iter()
                .any(|e| e.contains("resolver `8.8.8.8` is outside the lab ranges")),
            "{errors:#?}"
        );
        assert!(
            errors
                .iter()
                .any(|e| e.contains("`resolver` lists 0 addresses")),
            "{errors:#?}"
        );
    }

    #[test]
    fn an_http_step_names_a_host_only_from_a_node_with_a_resolver() {
        let text = BASE.replace(
            "name = \"edge\"",
            "name = \"edge\"\nresolver = [\"198.18.0.9\"]",
        ) + r#"
[[case]]
id = "C"
title = "by name"
steps = [{ kind = "http", name = "by-name", from = "edge", url = "http://video.cdn.test/t/1/100k/0000.m4s" }]
"#;
        let p = plan(&text).unwrap_or_else(|e| panic!("{e:#?}"));
        let step = format!("{:?}", p.cases[0].steps[0].action);
        assert!(step.contains("to: Name(\"video.cdn.test\")"), "{step}");
        let errors = plan(&text.replace("from = \"edge\"", "from = \"isp\"")).unwrap_err();
        assert!(
            errors
                .iter()
                .any(|e| e.contains("neither a node nor an address")
                    && e.contains("give the step's node a `resolver`")),
            "{errors:#?}"
        );
    }
}
