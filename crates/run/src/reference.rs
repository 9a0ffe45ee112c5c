//! Step references resolved at run time: a key written
//! `{result:STEP.AGG(METRIC)}` takes the summary of what step `STEP`
//! measured in this repetition, just before the step that uses it starts.
//!
//! The summary is the expectation judge's (same aggregates, same
//! percentiles), over the repetition's samples labelled `step = STEP`.
//! What was substituted is recorded as a `step.reference` event, so a
//! report shows the value a step ran with. A reference whose step
//! measured nothing usable is a step error naming it; nothing measured
//! before is lost.

use std::borrow::Cow;

use netproof_plan::{Comparison, Expectation, NodeAction, Step};
use netproof_sample::{Event, Sample, Severity, Sink};

use crate::judge::{NodeAddresses, judge};
use crate::step::StepError;

/// `action` with every reference of `step` filled in from `samples`.
pub(crate) fn resolve<'a>(
    step: &Step,
    action: &'a NodeAction,
    samples: &[Sample],
    sink: &dyn Sink,
) -> Result<Cow<'a, NodeAction>, StepError> {
    if step.refs.is_empty() {
        return Ok(Cow::Borrowed(action));
    }
    let mut out = action.clone();
    for r in &step.refs {
        let mut labels = r.labels.clone();
        labels.push(("step".to_string(), r.step.clone()));
        let exp = Expectation {
            text: r.text.clone(),
            aggregate: r.aggregate,
            metric: r.metric.clone(),
            labels,
            op: Comparison::Ge,
            threshold: f64::NEG_INFINITY,
            unit: r.unit,
            span: r.span,
            contains: None,
        };
        let summary = judge(&exp, samples, 0.0, &NodeAddresses::default());
        let Some(measured) = summary.measured else {
            return Err(StepError(format!(
                "`{}` = `{}`: step `{}` gave no value ({}); hint: check that step's samples and errors",
                r.key,
                r.text,
                r.step,
                summary.detail.unwrap_or_else(|| "nothing measured".into())
            )));
        };
        let value = measured * r.factor;
        out.set_quantity(&r.key, value).map_err(|e| {
            StepError(format!(
                "`{}` = `{}` gave {}: {e}",
                r.key,
                r.text,
                r.unit.format(value)
            ))
        })?;
        sink.event(
            Event::new(
                "step.reference",
                Severity::Info,
                format!(
                    "step `{}` runs with `{}` = {} from `{}`",
                    step.name,
                    r.key,
                    r.unit.format(value),
                    r.text
                ),
            )
            .label("step", &step.name)
            .label("key", &r.key),
        );
    }
    Ok(Cow::Owned(out))
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Mutex;

    use netproof_plan::{Action, Options, parse};
    use netproof_sample::metric::SEARCH_RATE;
    use netproof_sample::{Artifact, Event};

    use super::*;

    #[derive(Default)]
    struct Events(Mutex<Vec<Event>>);
    impl Sink for Events {
        fn sample(&self, _: Sample) {}
        fn event(&self, e: Event) {
            self.0.lock().unwrap().push(e);
        }
        fn artifact(&self, _: Artifact) {}
    }

    fn plan() -> netproof_plan::Plan {
        let text = r#"[plan]
name = "r"
summary = "references"
[[node]]
name = "a"
[[node]]
name = "b"
[[link]]
ends = ["a", "b"]
[[case]]
id = "R"
title = "r"
steps = [
  { kind = "search", name = "tput", param = "rate", min = "1Mbit", max = "100Mbit", condition = "max(pktgen.loss) == 0", trial = { kind = "pktgen", from = "a", to = "b" } },
  { kind = "pktgen", name = "lat", from = "a", to = "b", rate = "{result:tput.max(search.rate)} * 0.5" },
]
"#;
        parse(Path::new("r.toml"), text, &Options::default())
            .unwrap_or_else(|e| panic!("{}", e.render(false, 100)))
    }

    #[test]
    fn a_reference_takes_the_named_steps_summary_times_its_factor() {
        let p = plan();
        let step = &p.cases[0].steps[1];
        let Action::Node(action) = &step.action else {
            panic!()
        };
        let samples = vec![
            Sample::num(&SEARCH_RATE, 40e6).label("step", "tput"),
            // Another step's answer is not this one's.
            Sample::num(&SEARCH_RATE, 90e6).label("step", "other"),
        ];
        let events = Events::default();
        let out = resolve(step, action, &samples, &events).unwrap();
        let NodeAction::Pktgen(g) = out.as_ref() else {
            panic!()
        };
        assert_eq!(g.rate, Some(20_000_000));
        let e = events.0.lock().unwrap();
        assert!(
            e[0].message.contains("`rate` = 20.0 Mbit/s"),
            "{}",
            e[0].message
        );
    }

    #[test]
    fn a_step_that_measured_nothing_is_a_clear_step_error() {
        let p = plan();
        let step = &p.cases[0].steps[1];
        let Action::Node(action) = &step.action else {
            panic!()
        };
        let failed = vec![Sample::failed(&SEARCH_RATE, "no rate worked").label("step", "tput")];
        let e = resolve(step, action, &failed, &Events::default()).unwrap_err();
        assert!(e.0.contains("step `tput` gave no value"), "{}", e.0);
        let e = resolve(step, action, &[], &Events::default()).unwrap_err();
        assert!(e.0.contains("never measured"), "{}", e.0);
    }
}
