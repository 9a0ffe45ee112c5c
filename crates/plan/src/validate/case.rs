//! `[[case]]`: test cases, their steps and expectations.

use std::time::Duration;

use crate::diagnostic::Finding;
use crate::expect;
use crate::model::{Action, Case, Expectation, NodeAction, Span, Step};
use crate::spelling;
use crate::tree::{Checker, Str, Table, Val};

use super::step::{self, Phase, StepOut};
use super::{Context, Names, Unique, check_id, optional, positive_duration};

const KEYS: &[&str] = &[
    "id",
    "title",
    "purpose",
    "repeat",
    "timeout",
    "setup",
    "steps",
    "teardown",
    "expect",
    "monitor_routes",
];

/// How long a case may take when the plan does not say.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// Step kinds that are also metric prefixes (`tcp_connect.latency`).
const STEP_KINDS: &[&str] = &["exec", "tcp_connect"];

pub(super) fn validate(
    ck: &mut Checker<'_>,
    cx: &Context<'_>,
    names: &Names,
    tables: &[Table<'_, '_>],
) -> Vec<Option<Case>> {
    let mut ids = Unique::new("case id");
    tables
        .iter()
        .map(|t| case(ck, cx, names, t, &mut ids))
        .collect()
}

fn case(
    ck: &mut Checker<'_>,
    cx: &Context<'_>,
    names: &Names,
    t: &Table<'_, '_>,
    ids: &mut Unique,
) -> Option<Case> {
    t.reject_unknown(ck, KEYS, &|key| match key {
        "name" => Some("a case is named by `id` and `title`".to_string()),
        "expectations" | "expects" | "pass" => Some("did you mean `expect`?".to_string()),
        "step" => Some("did you mean `steps`?".to_string()),
        _ => None,
    });
    let id = t
        .require(ck, "id", "add `id = \"XX-01\"`, a short unique id")
        .and_then(|v| v.text(ck))
        .and_then(|s| {
            let ok = check_id(ck, &s, "case id") & ids.check(ck, s.value, s.span);
            ok.then(|| s.value.to_string())
        });
    // Messages name the case by the id as written, even an invalid one.
    let label = t
        .get("id")
        .and_then(|v| v.str(&mut Checker::new(ck.text)))
        .map_or_else(|| "case".to_string(), |s| s.value.to_string());
    let title = t
        .require(
            ck,
            "title",
            "add `title = \"...\"`, one line saying what the case checks",
        )
        .and_then(|v| v.text(ck));
    let purpose = t.get("purpose").map(|v| v.str(ck));
    let repeat = t.get("repeat").map(|v| {
        v.int_in(ck, 1..=10_000, "repetitions")
            .and_then(|r| u32::try_from(r).ok())
    });
    let timeout = t.get("timeout").map(|v| positive_duration(ck, &v));
    // An unreadable timeout is already reported; timing checks then have
    // nothing to compare with.
    let case_timeout = match timeout {
        None => Some(DEFAULT_TIMEOUT),
        Some(t) => t,
    };

    let mut position = 0;
    let mut outs: Vec<(Phase, StepOut)> = Vec::new();
    for phase in [Phase::Setup, Phase::Steps, Phase::Teardown] {
        let key = match phase {
            Phase::Setup => "setup",
            Phase::Steps => "steps",
            Phase::Teardown => "teardown",
        };
        let val = if phase == Phase::Steps {
            t.require(
                ck,
                "steps",
                "add `steps = [ { kind = \"exec\", node = \"...\", command = [\"...\"] } ]`",
            )
        } else {
            t.get(key)
        };
        let Some(val) = val else {
            continue;
        };
        let Some(items) = val.array(ck, "an array of step tables") else {
            continue;
        };
        if phase == Phase::Steps && items.is_empty() {
            val.invalid(
                ck,
                format!("case `{label}` has no steps"),
                "empty",
                Some("a case needs at least one step in `steps`".to_string()),
            );
        }
        for item in items {
            position += 1;
            let Some(st) = item.table(
                ck,
                "step",
                "a step table such as `{ kind = \"exec\", ... }`",
            ) else {
                continue;
            };
            outs.push((
                phase,
                step::validate(ck, cx, names, &st, phase, position, case_timeout),
            ));
        }
    }
    check_step_names(ck, &label, &outs);
    step::reference::check(ck, &label, &outs);
    let monitor_routes = t.get("monitor_routes").map(|v| monitored(ck, &v, names));
    // An unreadable `monitor_routes` is already reported: do not also
    // report the expectations that depend on it.
    let monitoring = match &monitor_routes {
        None => false,
        Some(Some(nodes)) => !nodes.is_empty(),
        Some(None) => true,
    };

    let expect = t
        .get("expect")
        .map(|v| expectations(ck, &v, names, &label, &outs, monitoring));

    let mut phases: [Vec<Step>; 3] = [Vec::new(), Vec::new(), Vec::new()];
    let mut steps_ok = true;
    for (phase, out) in outs {
        match out.step {
            Some(s) => phases[phase as usize].push(s),
            None => steps_ok = false,
        }
    }
    let [setup, steps, teardown] = phases;
    if !steps_ok {
        return None;
    }
    Some(Case {
        id: id?,
        title: title?.value.to_string(),
        purpose: optional(purpose)?.map(|s| s.value.to_string()),
        repeat: optional(repeat)?.unwrap_or(1),
        timeout: optional(timeout)?.unwrap_or(DEFAULT_TIMEOUT),
        setup,
        steps,
        teardown,
        expect: optional(expect)?.unwrap_or_default(),
        monitor_routes: optional(monitor_routes)?.unwrap_or_default(),
        span: t.span(),
    })
}

/// Step names (written or default) must be unique within the case.
fn check_step_names(ck: &mut Checker<'_>, case: &str, outs: &[(Phase, StepOut)]) {
    let mut seen: Vec<(&str, Span)> = Vec::new();
    for (_, out) in outs {
        let Some((name, span, written)) = &out.name else {
            continue;
        };
        if let Some((_, first)) = seen.iter().find(|(n, _)| n == name) {
            let hint = if *written {
                "each step name must be unique in its case; rename one of them".to_string()
            } else {
                format!(
                    "`{name}` is this step's default name (kind and position); give it a `name`"
                )
            };
            ck.report(
                Finding::new(
                    *span,
                    format!("duplicate step name `{name}` in case `{case}`"),
                    format!("second `{name}`"),
                )
                .also(*first, "first used here")
                .hint(hint),
            );
        } else {
            seen.push((name, *span));
        }
    }
}

/// `monitor_routes = ["r1", "r4"]`: plan nodes, each once.
fn monitored(ck: &mut Checker<'_>, v: &Val<'_, '_>, names: &Names) -> Option<Vec<String>> {
    let items = v.strings(ck)?;
    let mut seen = Unique::new("monitored node");
    let mut out = Vec::with_capacity(items.len());
    let mut ok = true;
    for s in &items {
        match names.resolve_str(ck, s) {
            Some(n) if seen.check(ck, &n, s.span) => out.push(n),
            _ => ok = false,
        }
    }
    ok.then_some(out)
}

fn expectations(
    ck: &mut Checker<'_>,
    v: &Val<'_, '_>,
    names: &Names,
    case: &str,
    steps: &[(Phase, StepOut)],
    monitoring: bool,
) -> Option<Vec<Expectation>> {
    let texts = v.strings(ck)?;
    let mut out = Vec::with_capacity(texts.len());
    let mut ok = true;
    for s in &texts {
        match expect::parse_with_refs(s.value) {
            Ok((mut e, refs)) => {
                e.span = s.span;
                // `{addr:NODE}` in a `contains` text names a plan node.
                for r in refs {
                    ok &= names.resolve(ck, &r.name, s.sub(r.range)).is_some();
                }
                ok &= cross_check(ck, s, &e, case, steps);
                ok &= service_check(ck, s, &e, names);
                ok &= source_check(ck, s, &e, case, steps, monitoring);
                out.push(e);
            }
            Err(errors) => {
                ok = false;
                for e in errors {
                    ck.report(Finding::new(s.sub(e.range), e.message, e.label).maybe_hint(e.hint));
                }
            }
        }
    }
    ok.then_some(out)
}

/// An expectation about what services report (`svc.*`, `service.*`) in a
/// plan without services, or filtered by a `service` the plan does not
/// have, could never pass either.
fn service_check(ck: &mut Checker<'_>, s: &Str<'_>, e: &Expectation, names: &Names) -> bool {
    let Some(services) = names.services() else {
        return true;
    };
    let about_services = e.metric.starts_with("service.")
        || e.metric
            .starts_with(netproof_sample::metric::SERVICE_NAMESPACE);
    let filter = e
        .labels
        .iter()
        .find(|(k, _)| k == "service")
        .map(|(_, v)| v);
    if about_services && services.is_empty() {
        let range = s
            .value
            .find(&e.metric)
            .map_or(0..s.value.len(), |i| i..i + e.metric.len());
        ck.report(
            Finding::new(
                s.sub(range),
                format!(
                    "the plan has no `[[service]]`, so nothing emits `{}`",
                    e.metric
                ),
                "never measured",
            )
            .hint("add the `[[service]]` that reports it, or remove this expectation"),
        );
        return false;
    }
    if let Some(name) = filter
        && about_services
        && !services.iter().any(|x| x == name)
    {
        let range = [format!("\"{name}\""), format!("'{name}'")]
            .iter()
            .find_map(|q| s.value.find(q.as_str()).map(|i| i + 1..i + 1 + name.len()))
            .unwrap_or(0..s.value.len());
        let hint = spelling::did_you_mean(name, services.iter().map(String::as_str))
            .unwrap_or_else(|| {
                let all: Vec<&str> = services.iter().map(String::as_str).collect();
                format!("the plan's services: {}", spelling::one_of(&all))
            });
        ck.report(
            Finding::new(
                s.sub(range),
                format!("the plan has no service named `{name}`"),
                "no such service",
            )
            .hint(hint),
        );
        return false;
    }
    true
}

/// An expectation on `convergence.*` needs a `udp_echo` step with
/// `convergence = true`, and one on `route.change` a `monitor_routes`:
/// without them nothing emits the metric.
fn source_check(
    ck: &mut Checker<'_>,
    s: &Str<'_>,
    e: &Expectation,
    case: &str,
    steps: &[(Phase, StepOut)],
    monitoring: bool,
) -> bool {
    let (missing, hint) = if e.metric.starts_with("convergence.") {
        // Only when every step is valid: an invalid one may be the stream.
        let all_valid = steps.iter().all(|(_, o)| o.step.is_some());
        let streams = steps.iter().any(|(_, o)| {
            matches!(
                &o.step,
                Some(Step { action: Action::Node(NodeAction::UdpEcho(u)), .. }) if u.convergence
            )
        });
        (
            all_valid && !streams,
            "add `convergence = true` to a `udp_echo` step that runs across the failure",
        )
    } else if e.metric.starts_with("route.") {
        (
            !monitoring,
            "add `monitor_routes = [\"NODE\", ...]` to the case, naming the routers to watch",
        )
    } else {
        return true;
    };
    if !missing {
        return true;
    }
    let range = s
        .value
        .find(&e.metric)
        .map_or(0..s.value.len(), |i| i..i + e.metric.len());
    ck.report(
        Finding::new(
            s.sub(range),
            format!("nothing in case `{case}` emits `{}`", e.metric),
            "never measured",
        )
        .hint(hint),
    );
    false
}

/// An expectation about a metric no step of the case emits, or about a
/// step the case does not have, could never pass: report it now rather
/// than as "never measured" after a long run.
fn cross_check(
    ck: &mut Checker<'_>,
    s: &Str<'_>,
    e: &Expectation,
    case: &str,
    steps: &[(Phase, StepOut)],
) -> bool {
    let mut ok = true;
    let kind = e.metric.split('.').next().unwrap_or("");
    // Only when every step's kind is known, or a step with a misspelt kind
    // would make this a second error for one mistake.
    let kinds_known = steps.iter().all(|(_, o)| o.kind.is_some());
    if STEP_KINDS.contains(&kind) && kinds_known && !steps.iter().any(|(_, o)| o.kind == Some(kind))
    {
        let range = s
            .value
            .find(&e.metric)
            .map_or(0..s.value.len(), |i| i..i + e.metric.len());
        ck.report(
            Finding::new(
                s.sub(range),
                format!(
                    "case `{case}` has no `{kind}` step, so nothing emits `{}`",
                    e.metric
                ),
                "never measured",
            )
            .hint(format!(
                "add a step with `kind = \"{kind}\"` to the case, or remove this expectation"
            )),
        );
        ok = false;
    }
    let names_known = steps.iter().all(|(_, o)| o.name.is_some());
    if let Some((_, step)) = e.labels.iter().find(|(k, _)| k == "step")
        && names_known
    {
        let step_names: Vec<&str> = steps
            .iter()
            .filter_map(|(_, o)| o.name.as_ref().map(|(n, _, _)| n.as_str()))
            .collect();
        if !step_names.contains(&step.as_str()) {
            let range = [format!("\"{step}\""), format!("'{step}'")]
                .iter()
                .find_map(|q| s.value.find(q.as_str()).map(|i| i + 1..i + 1 + step.len()))
                .unwrap_or(0..s.value.len());
            let hint =
                spelling::did_you_mean(step, step_names.iter().copied()).unwrap_or_else(|| {
                    format!("steps of case `{case}`: {}", spelling::one_of(&step_names))
                });
            ck.report(
                Finding::new(
                    s.sub(range),
                    format!("case `{case}` has no step named `{step}`"),
                    "no such step",
                )
                .hint(hint),
            );
            ok = false;
        }
    }
    ok
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::model::{Action, NodeAction};
    use crate::{Options, Plan, parse};

    fn plan(case: &str) -> Result<Plan, String> {
        let text = format!(
            r#"
[plan]
name = "conv"
summary = "convergence streams and route monitors"

[[node]]
name = "a"
[[node]]
name = "r1"
role = "router"
[[node]]
name = "b"

[[link]]
ends = ["a", "r1"]
[[link]]
ends = ["r1", "b"]

[[case]]
id = "C-01"
title = "conv"
{case}
"#
        );
        parse(Path::new("p.toml"), &text, &Options::default()).map_err(|e| e.render(false, 200))
    }

    const STREAM: &str = r#"{ kind = "udp_echo", from = "a", to = "b:7007", interval = "1ms", packets = 100, convergence = true }"#;

    #[test]
    fn monitor_routes_and_a_convergence_stream_are_read() {
        let p = plan(&format!(
            "monitor_routes = [\"r1\", \"b\"]\nsteps = [ {STREAM} ]\nexpect = [\"max(convergence.loss_time) < 1s\", \"count(route.change) >= 1\"]"
        ))
        .unwrap_or_else(|e| panic!("{e}"));
        let case = &p.cases[0];
        assert_eq!(case.monitor_routes, ["r1", "b"]);
        let Action::Node(NodeAction::UdpEcho(u)) = &case.steps[0].action else {
            panic!("{:?}", case.steps[0]);
        };
        assert!(u.convergence);
        assert_eq!(case.expect.len(), 2);
    }

    #[test]
    fn convergence_defaults_to_off() {
        let p = plan(r#"steps = [ { kind = "udp_echo", from = "a", to = "b:7007" } ]"#)
            .unwrap_or_else(|e| panic!("{e}"));
        let Action::Node(NodeAction::UdpEcho(u)) = &p.cases[0].steps[0].action else {
            panic!();
        };
        assert!(!u.convergence);
        assert!(p.cases[0].monitor_routes.is_empty());
    }

    #[test]
    fn unknown_and_repeated_monitored_nodes_are_errors_at_their_place() {
        let e = plan(&format!(
            "monitor_routes = [\"r2\", \"b\", \"b\"]\nsteps = [ {STREAM} ]"
        ))
        .unwrap_err();
        assert!(e.contains("unknown node `r2`"), "{e}");
        assert!(e.contains("did you mean `r1`?"), "{e}");
        assert!(e.contains("duplicate monitored node `b`"), "{e}");
        assert!(e.contains("p.toml:22:20"), "{e}");
    }

    #[test]
    fn expectations_nothing_emits_are_errors() {
        let e = plan(
            r#"steps = [ { kind = "udp_echo", from = "a", to = "b:7007" } ]
expect = ["max(convergence.loss_time) < 1s", "count(route.change) >= 1"]"#,
        )
        .unwrap_err();
        assert!(
            e.contains("nothing in case `C-01` emits `convergence.loss_time`"),
            "{e}"
        );
        assert!(e.contains("add `convergence = true`"), "{e}");
        assert!(
            e.contains("nothing in case `C-01` emits `route.change`"),
            "{e}"
        );
        assert!(e.contains("add `monitor_routes"), "{e}");
    }

    #[test]
    fn convergence_must_be_a_boolean() {
        let e = plan(
            r#"steps = [ { kind = "udp_echo", from = "a", to = "b:7007", convergence = "yes" } ]"#,
        )
        .unwrap_err();
        assert!(e.contains("`true` or `false`"), "{e}");
    }
}
