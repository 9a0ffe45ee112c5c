//! Step references in a step's keys (`rate = "{result:tput.max(search.rate)}"`):
//! read where they are written, then checked against the case: the step
//! named exists, has finished before this one starts, and emits the metric.
//!
//! Ordering: setup steps run one after another before the timeline, the
//! timeline's sequenced steps (no `at`) one after another, timed steps
//! alongside them, teardown after all. So a step may use a setup step
//! listed before it (or any setup step from the timeline or teardown), a
//! sequenced step listed before it when both are sequenced, and any
//! timeline step from teardown; never itself, a later step, or a timed
//! step from the timeline.

use crate::diagnostic::Finding;
use crate::expect::reference;
use crate::model::{Action, QUANTITY_KEYS, StepRef, emits, quantity_key};
use crate::spelling;
use crate::tree::{Checker, Table};

use super::{Phase, StepOut};

/// Reads the references written in a `kind` step's keys. Returns them and
/// the keys they set, which the kind's validator must treat as absent.
pub(super) fn extract(
    ck: &mut Checker<'_>,
    t: &Table<'_, '_>,
    kind: &str,
) -> (Vec<StepRef>, Vec<String>) {
    let mut refs = Vec::new();
    let mut keys = Vec::new();
    let names: Vec<(String, crate::model::Span)> =
        t.keys().map(|(k, s)| (k.to_string(), s)).collect();
    for (key, _) in names {
        let Some(v) = t.get(&key) else { continue };
        let toml::de::DeValue::String(_) = v.raw() else {
            continue;
        };
        let Some(s) = v.str(&mut Checker::new(ck.text)) else {
            continue;
        };
        if !reference::is_reference(s.value) {
            continue;
        }
        keys.push(key.clone());
        let Some(unit) = quantity_key(kind, &key) else {
            let can: Vec<&str> = QUANTITY_KEYS
                .iter()
                .filter(|(k, _, _)| *k == kind)
                .map(|(_, p, _)| *p)
                .collect();
            let hint = if can.is_empty() {
                format!("no key of a `{kind}` step takes a step result")
            } else {
                format!(
                    "keys of a `{kind}` step that take one: {}",
                    spelling::one_of(&can)
                )
            };
            ck.report(
                Finding::new(
                    s.span,
                    format!("`{key}` of a `{kind}` step cannot take a step result"),
                    "not a quantity key",
                )
                .hint(hint),
            );
            continue;
        };
        match reference::parse(s.value) {
            Err(e) => {
                ck.report(Finding::new(s.sub(e.range), e.message, e.label).maybe_hint(e.hint))
            }
            Ok(r) if r.unit != unit => ck.report(
                Finding::new(
                    s.sub(r.metric_range.clone()),
                    format!(
                        "`{key}` is in {} but `{}({})` is in {}",
                        unit.as_str(),
                        r.aggregate.name(),
                        r.metric,
                        r.unit.as_str()
                    ),
                    "unit does not fit",
                )
                .hint(format!(
                    "use a metric measured in {} for `{key}`",
                    unit.as_str()
                )),
            ),
            Ok(r) => refs.push(StepRef {
                key: key.clone(),
                step: r.step,
                aggregate: r.aggregate,
                metric: r.metric,
                labels: r.labels,
                unit: r.unit,
                factor: r.factor,
                text: s.value.trim().to_string(),
                span: s.span,
            }),
        }
    }
    (refs, keys)
}

/// Checks every reference of the case against the steps it names.
pub(in crate::validate) fn check(ck: &mut Checker<'_>, case: &str, outs: &[(Phase, StepOut)]) {
    let names_known = outs.iter().all(|(_, o)| o.name.is_some());
    for (i, (phase, out)) in outs.iter().enumerate() {
        let Some(step) = &out.step else { continue };
        for r in &step.refs {
            let found = outs
                .iter()
                .enumerate()
                .find(|(_, (_, o))| o.name.as_ref().is_some_and(|(n, _, _)| *n == r.step));
            let Some((j, (their_phase, theirs))) = found else {
                if !names_known {
                    continue;
                }
                let all: Vec<&str> = outs
                    .iter()
                    .filter_map(|(_, o)| o.name.as_ref().map(|(n, _, _)| n.as_str()))
                    .collect();
                let hint =
                    spelling::did_you_mean(&r.step, all.iter().copied()).unwrap_or_else(|| {
                        format!("steps of case `{case}`: {}", spelling::one_of(&all))
                    });
                ck.report(
                    Finding::new(
                        r.span,
                        format!("case `{case}` has no step named `{}`", r.step),
                        "no such step",
                    )
                    .hint(hint),
                );
                continue;
            };
            let before = match (their_phase, phase) {
                _ if j >= i => false,
                (Phase::Setup, _) => true,
                (Phase::Steps, Phase::Teardown) => true,
                (Phase::Steps, Phase::Steps) => !theirs.timed && !out.timed,
                _ => false,
            };
            if !before {
                let why = if j == i {
                    "a step cannot use its own result".to_string()
                } else if j > i {
                    format!("step `{}` comes later in the case", r.step)
                } else {
                    format!(
                        "step `{}` runs alongside this one (a step with `at` runs concurrently with the timeline)",
                        r.step
                    )
                };
                let (_, their_span, _) = theirs.name.clone().unwrap_or_default();
                ck.report(
                    Finding::new(r.span, format!("`{}` needs the result of step `{}`, which has not finished when this step starts: {why}", r.key, r.step), "not measured yet")
                        .also(their_span, format!("step `{}`", r.step))
                        .hint("a step can use the results of setup steps and of sequenced steps (no `at`) listed before it"),
                );
                continue;
            }
            match theirs.step.as_ref().map(|s| &s.action) {
                Some(Action::Node(a)) if !emits(a, &r.metric) => ck.report(
                    Finding::new(
                        r.span,
                        format!(
                            "step `{}` is a `{}` step and does not measure `{}`",
                            r.step,
                            a.kind(),
                            r.metric
                        ),
                        "never measured",
                    )
                    .hint(format!(
                        "a `{}` step measures `{}.*` metrics",
                        a.kind(),
                        a.kind()
                    )),
                ),
                Some(Action::Fault(_)) => ck.report(
                    Finding::new(
                        r.span,
                        format!("step `{}` is a fault and measures nothing", r.step),
                        "never measured",
                    )
                    .hint("refer to a probe step's result"),
                ),
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use netproof_sample::Unit;

    use crate::model::{Action, Aggregate, NodeAction};
    use crate::{Options, Plan, parse};

    fn plan(steps: &str) -> Result<Plan, String> {
        let text = format!(
            r#"[plan]
name = "refs"
summary = "step references"

[[node]]
name = "a"
[[node]]
name = "b"

[[link]]
ends = ["a", "b"]

[[case]]
id = "R-01"
title = "refs"
{steps}
"#
        );
        parse(Path::new("p.toml"), &text, &Options::default()).map_err(|e| e.render(false, 200))
    }

    const SEARCH: &str = r#"{ kind = "search", name = "tput", param = "rate", min = "1Mbit", max = "100Mbit", condition = "max(pktgen.loss) == 0", trial = { kind = "pktgen", from = "a", to = "b", frame = 1518, duration = "1s" } }"#;

    #[test]
    fn a_later_step_takes_an_earlier_result() {
        let p = plan(&format!(
            "steps = [\n  {SEARCH},\n  {{ kind = \"pktgen\", name = \"lat\", from = \"a\", to = \"b\", rate = \"{{result:tput.max(search.rate)}} * 0.5\" }},\n]"
        ))
        .unwrap_or_else(|e| panic!("{e}"));
        let step = &p.cases[0].steps[1];
        assert_eq!(step.refs.len(), 1);
        let r = &step.refs[0];
        assert_eq!((r.key.as_str(), r.step.as_str()), ("rate", "tput"));
        assert_eq!(
            (r.aggregate, r.unit, r.factor),
            (Aggregate::Max, Unit::BitsPerSecond, 0.5)
        );
        let Action::Node(NodeAction::Search(s)) = &p.cases[0].steps[0].action else {
            panic!()
        };
        assert_eq!(
            (s.param, s.min, s.max, s.max_trials),
            ("rate", 1e6, 1e8, 20)
        );
        assert!((s.resolution - 1e6).abs() < 1e-6);
    }

    #[test]
    fn references_to_missing_later_or_concurrent_steps_are_errors_at_their_place() {
        let e = plan(
            "steps = [\n  { kind = \"pktgen\", name = \"x\", from = \"a\", to = \"b\", rate = \"{result:tpt.max(search.rate)}\" },\n  { kind = \"pktgen\", name = \"y\", from = \"a\", to = \"b\", rate = \"{result:z.max(pktgen.offered)}\" },\n  { kind = \"pktgen\", name = \"z\", from = \"a\", to = \"b\", rate = \"1Mbit\" },\n  { kind = \"pktgen\", name = \"t\", at = \"1s\", from = \"a\", to = \"b\", rate = \"1Mbit\" },\n  { kind = \"pktgen\", name = \"u\", from = \"a\", to = \"b\", rate = \"{result:t.max(pktgen.offered)}\" },\n]",
        )
        .unwrap_err();
        assert!(e.contains("case `R-01` has no step named `tpt`"), "{e}");
        assert!(e.contains("p.toml:17:63"), "{e}");
        assert!(e.contains("step `z` comes later in the case"), "{e}");
        assert!(e.contains("step `t` runs alongside this one"), "{e}");
    }

    #[test]
    fn a_reference_must_name_a_metric_the_step_measures_in_the_keys_unit() {
        let e = plan(&format!(
            "steps = [\n  {SEARCH},\n  {{ kind = \"pktgen\", from = \"a\", to = \"b\", rate = \"{{result:tput.p50(ping.rtt)}}\" }},\n  {{ kind = \"pktgen\", from = \"a\", to = \"b\", rate = \"{{result:tput.max(udp_echo.loss)}}\" }},\n  {{ kind = \"pktgen\", from = \"a\", to = \"b\", rate = \"1Mbit\", wait = \"{{result:tput.max(search.rate)}}\" }},\n]"
        ))
        .unwrap_err();
        assert!(
            e.contains("`rate` is in bit/s but `p50(ping.rtt)` is in s"),
            "{e}"
        );
        assert!(
            e.contains("`rate` is in bit/s but `max(udp_echo.loss)` is in ratio"),
            "{e}"
        );
        assert!(
            e.contains("`wait` of a `pktgen` step cannot take a step result"),
            "{e}"
        );
        let e = plan(&format!(
            "steps = [\n  {SEARCH},\n  {{ kind = \"pktgen\", from = \"a\", to = \"b\", rate = \"{{result:tput.max(throughput.goodput)}}\" }},\n]"
        ))
        .unwrap_err();
        assert!(
            e.contains("step `tput` is a `search` step and does not measure `throughput.goodput`"),
            "{e}"
        );
    }

    #[test]
    fn search_bounds_params_and_conditions_are_checked() {
        let e = plan(r#"steps = [ { kind = "search", param = "rate", min = "100Mbit", max = "10Mbit", condition = "max(pktgen.loss) == 0", trial = { kind = "pktgen", from = "a", to = "b" } } ]"#).unwrap_err();
        assert!(
            e.contains("inverted bounds: `min` 100 Mbit/s is not below `max` 10.0 Mbit/s"),
            "{e}"
        );
        let e = plan(r#"steps = [ { kind = "search", param = "rate", min = "1Mbit", max = "10Mbit", condition = "p99(ping.rtt) < 5ms", trial = { kind = "pktgen", from = "a", to = "b" } } ]"#).unwrap_err();
        assert!(
            e.contains("a `pktgen` trial does not measure `ping.rtt`"),
            "{e}"
        );
        let e = plan(r#"steps = [ { kind = "search", param = "rat", min = "1Mbit", max = "10Mbit", condition = "max(pktgen.loss) == 0", trial = { kind = "pktgen", from = "a", to = "b" } } ]"#).unwrap_err();
        assert!(e.contains("has no searchable key `rat`"), "{e}");
        assert!(e.contains("did you mean `rate`?"), "{e}");
        let e = plan(r#"steps = [ { kind = "search", param = "rate", min = "1Mbit", max = "10Mbit", condition = "max(pktgen.loss) == 0", trial = { kind = "pktgen", from = "a", to = "b", rate = "5Mbit" } } ]"#).unwrap_err();
        assert!(e.contains("the search sets the trial's `rate`"), "{e}");
        let e = plan(r#"steps = [ { kind = "search", param = "rate", min = "1Mbit", max = "10Mbit", condition = "max(pktgen.loss) == 0", trial = { kind = "exec", node = "a", command = ["true"] } } ]"#).unwrap_err();
        assert!(e.contains("a search cannot run `exec` trials"), "{e}");
    }

    #[test]
    fn a_burst_search_takes_the_throughput_for_rfc_9004() {
        let p = plan(&format!(
            "steps = [\n  {SEARCH},\n  {{ kind = \"search\", name = \"b2b\", param = \"burst\", min = 1, max = 10000, throughput = \"{{result:tput.max(search.rate)}}\", condition = \"max(pktgen.lost) == 0\", trial = {{ kind = \"pktgen\", from = \"a\", to = \"b\", frame = 1518 }} }},\n]"
        ))
        .unwrap_or_else(|e| panic!("{e}"));
        let s = &p.cases[0].steps[1];
        assert_eq!(s.refs[0].key, "throughput");
        let Action::Node(NodeAction::Search(b)) = &s.action else {
            panic!()
        };
        assert_eq!((b.param, b.resolution), ("burst", 1.0));
    }
}
