//! One repetition of a case: setup, the timeline, teardown, verdicts.
//!
//! Setup steps run one after another; if one cannot run or its attempt
//! fails, the timeline is skipped. The timeline runs sequenced steps (no
//! `at`) one after another from t = 0 and each timed step (with `at`) at its
//! offset, all concurrently. Teardown always runs, with its own cancellation
//! so neither a case timeout nor Ctrl-C skips it (each of its actions is
//! still bounded by its own timeout). Expectations are judged over the
//! samples this repetition produced.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use netproof_plan::{Case, Step};
use netproof_sample::{Event, Sample, Severity, Sink, Timestamp};
use netproof_store::{CaseRunId, NewStep, ResultStore, Scope, Verdict};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::collect::Collection;
use crate::judge::{NodeAddresses, Tee, judge};
use crate::step::{self, StepContext, StepOutcome};
use crate::{RunError, Shared};
use netproof_lab::{Cancel, Reason};
use netproof_lab::{Lab, LabHandles};

/// How a case repetition ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseOutcome {
    /// Its verdict.
    pub verdict: Verdict,
    /// Why it errored, if it did.
    pub error: Option<String>,
}

struct Phase {
    name: &'static str,
}

/// Runs one repetition of `case` and records everything about it.
pub(crate) async fn run(
    shared: &Shared,
    lab: &Lab,
    case: &Case,
    case_run: CaseRunId,
    run_cancel: &Cancel,
) -> Result<CaseOutcome, RunError> {
    let store = shared.store.clone();
    let case_scope = Scope {
        run: shared.run,
        case_run: Some(case_run),
        step: None,
    };
    let case_sink = store.sink(case_scope);
    let kept: Arc<Mutex<Vec<Sample>>> = Arc::default();
    let mut errors: Vec<String> = Vec::new();

    let failed = lab.failed_services();
    let failed_links = lab.failed_links();
    if !failed.is_empty() || !failed_links.is_empty() {
        let why: Vec<String> = failed
            .iter()
            .map(ToString::to_string)
            .chain(failed_links)
            .collect();
        return Ok(CaseOutcome {
            verdict: Verdict::Error,
            error: Some(why.join("; ")),
        });
    }

    let handles = lab.handles();
    // What the lab measures by itself (emulated links' counters, services'
    // samples and resources, the watched nodes' route changes), every 100 ms while the case runs; kept for
    // judging like the steps' samples.
    let collection = Collection::start(
        lab,
        Arc::new(Tee::new(case_sink.clone(), kept.clone())),
        &case.monitor_routes,
    );
    let cancel = run_cancel.child();
    let timer = {
        let cancel = cancel.clone();
        let timeout = case.timeout;
        tokio::spawn(async move {
            tokio::time::sleep(timeout).await;
            cancel.trigger(Reason::CaseTimeout);
        })
    };

    // Setup: in order; the first failure stops it.
    let mut setup_ok = true;
    for s in &case.setup {
        let (outcome, _) = run_one(
            shared,
            &handles,
            case_run,
            s,
            &Phase { name: "setup" },
            &cancel,
            &kept,
        )
        .await?;
        match outcome {
            Err(e) => {
                errors.push(format!("setup step `{}` could not run: {e}", s.name));
                setup_ok = false;
            }
            Ok(o) if o.failed > 0 => {
                errors.push(format!(
                    "setup step `{}` failed: {}",
                    s.name,
                    o.first_failure.unwrap_or_default()
                ));
                setup_ok = false;
            }
            Ok(o) if o.cancelled => setup_ok = false,
            Ok(_) => {}
        }
        if !setup_ok {
            break;
        }
    }

    // Timeline.
    let mut timeline_secs = 0.0;
    if setup_ok && !cancel.is_cancelled() {
        let start = Instant::now();
        let mut set: JoinSet<Result<Vec<String>, RunError>> = JoinSet::new();
        let sequence: Vec<Step> = case
            .steps
            .iter()
            .filter(|s| s.at.is_none())
            .cloned()
            .collect();
        let timed: Vec<Step> = case
            .steps
            .iter()
            .filter(|s| s.at.is_some())
            .cloned()
            .collect();
        if !sequence.is_empty() {
            let (shared, lab_ref, cancel, kept) =
                (shared.clone(), lab.handles(), cancel.clone(), kept.clone());
            set.spawn(async move {
                let mut errs = Vec::new();
                for s in &sequence {
                    if cancel.is_cancelled() {
                        break;
                    }
                    let (o, _) = run_one(
                        &shared,
                        &lab_ref,
                        case_run,
                        s,
                        &Phase { name: "timeline" },
                        &cancel,
                        &kept,
                    )
                    .await?;
                    if let Err(e) = o {
                        errs.push(format!("step `{}` could not run: {e}", s.name));
                    }
                }
                Ok(errs)
            });
        }
        for s in timed {
            let (shared, lab_ref, cancel, kept) =
                (shared.clone(), lab.handles(), cancel.clone(), kept.clone());
            set.spawn(async move {
                let at = s.at.unwrap_or(Duration::ZERO);
                tokio::select! {
                    _ = tokio::time::sleep_until(start + at) => {}
                    _ = cancel.cancelled() => return Ok(Vec::new()),
                }
                let (o, _) = run_one(
                    &shared,
                    &lab_ref,
                    case_run,
                    &s,
                    &Phase { name: "timeline" },
                    &cancel,
                    &kept,
                )
                .await?;
                Ok(match o {
                    Err(e) => vec![format!("step `{}` could not run: {e}", s.name)],
                    Ok(_) => Vec::new(),
                })
            });
        }
        while let Some(joined) = set.join_next().await {
            match joined {
                Ok(Ok(errs)) => errors.extend(errs),
                Ok(Err(e)) => {
                    set.abort_all();
                    return Err(e);
                }
                Err(e) => errors.push(format!("a step task failed: {e}")),
            }
        }
        timeline_secs = start.elapsed().as_secs_f64();
    }
    timer.abort();
    let reason = cancel.reason();

    // Teardown: always, with its own signal.
    let teardown_cancel = Cancel::new();
    for s in &case.teardown {
        let (o, _) = run_one(
            shared,
            &handles,
            case_run,
            s,
            &Phase { name: "teardown" },
            &teardown_cancel,
            &kept,
        )
        .await?;
        let problem = match o {
            Err(e) => Some(format!("could not run: {e}")),
            Ok(o) if o.failed > 0 => {
                Some(format!("failed: {}", o.first_failure.unwrap_or_default()))
            }
            Ok(_) => None,
        };
        if let Some(p) = problem {
            case_sink.event(
                Event::new(
                    "teardown.failed",
                    Severity::Warning,
                    format!("teardown step `{}` {p}", s.name),
                )
                .label("step", &s.name),
            );
        }
    }

    if let Some(c) = collection {
        c.finish().await;
    }
    crate::selfcheck::judge_lateness(lab, case_sink.as_ref(), shared.lateness_warning);

    // The next case starts from the plan's state, whatever faults did.
    if let Err(e) = lab.restore(case_sink.as_ref()).await {
        errors.push(format!("the lab could not be restored after the case: {e}"));
    }

    match reason {
        Some(Reason::CaseTimeout) => errors.push(format!(
            "the case did not finish within its timeout of {}",
            step::fmt_duration(case.timeout)
        )),
        Some(Reason::Interrupted) => errors.push("interrupted".to_string()),
        None => {}
    }
    for f in lab.failed_services() {
        errors.push(f.to_string());
    }
    errors.extend(lab.failed_links());

    // Judge, unless setup never let the timeline run.
    let mut verdict = Verdict::Pass;
    if setup_ok {
        let samples = kept.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let addresses = node_addresses(lab);
        for exp in &case.expect {
            let result = judge(exp, &samples, timeline_secs, &addresses);
            verdict = verdict.max(result.verdict);
            store.record_expectation(case_run, &result)?;
        }
    }
    if !errors.is_empty() {
        verdict = Verdict::Error;
    }
    Ok(CaseOutcome {
        verdict,
        error: (!errors.is_empty()).then(|| errors.join("; ")),
    })
}

/// The lab's addresses, for placeholders in `contains` expectations.
fn node_addresses(lab: &Lab) -> NodeAddresses {
    let addr = lab.addresses();
    let addr6 = addr
        .keys()
        .filter_map(|n| Some((n.clone(), lab.node(n)?.addr6?)))
        .collect();
    NodeAddresses { addr, addr6 }
}

/// Records and runs one step. The outer `Result` is an infrastructure
/// failure (the store); the inner one says whether the step could run.
async fn run_one(
    shared: &Shared,
    lab: &LabHandles,
    case_run: CaseRunId,
    s: &Step,
    phase: &Phase,
    cancel: &Cancel,
    kept: &Arc<Mutex<Vec<Sample>>>,
) -> Result<(Result<StepOutcome, step::StepError>, Verdict), RunError> {
    let store: &Arc<dyn ResultStore> = &shared.store;
    let node_name = s.action.node().to_string();
    let step_id = store.begin_step(
        case_run,
        &NewStep {
            name: s.name.clone(),
            kind: s.action.kind().to_string(),
            phase: phase.name.to_string(),
            node: node_name.clone(),
            description: step::describe(s),
            started: Timestamp::now(),
        },
    )?;
    let sink: Arc<dyn Sink> = Arc::new(Tee::new(
        store.sink(Scope {
            run: shared.run,
            case_run: Some(case_run),
            step: Some(step_id),
        }),
        kept.clone(),
    ));
    let action = match &s.action {
        netproof_plan::Action::Node(action) => action,
        netproof_plan::Action::Fault(fault) => {
            let outcome = run_fault(fault, s, lab, sink.as_ref(), cancel).await;
            let (verdict, error) = match &outcome {
                Ok(_) => (Verdict::Pass, None),
                Err(e) => (Verdict::Error, Some(e.0.clone())),
            };
            store.finish_step(step_id, verdict, Timestamp::now(), error.as_deref())?;
            return Ok((outcome, verdict));
        }
    };
    let outcome = match lab.node(&node_name) {
        None => Err(step::StepError(format!(
            "node `{node_name}` is not in the lab"
        ))),
        Some(node) => {
            let ctx = StepContext {
                node,
                addresses: lab.addresses.clone(),
                sink,
                deadline: Instant::now() + s.timeout,
                cancel: cancel.clone(),
                seed: netproof_proto::seed::derive_named(shared.seed, &s.name, 0),
                step_name: s.name.clone(),
                lab_ca: lab.lab_ca.clone(),
                lab: lab.clone(),
            };
            // Keys an earlier step's result gives, filled in now.
            let resolved = {
                let samples = kept.lock().unwrap_or_else(|e| e.into_inner());
                crate::reference::resolve(s, action, &samples, ctx.sink.as_ref())
            };
            match resolved {
                Ok(action) => step::run(s, &action, ctx).await,
                Err(e) => Err(e),
            }
        }
    };
    let (verdict, error) = match &outcome {
        Err(e) => (Verdict::Error, Some(e.0.clone())),
        Ok(o) if o.failed > 0 => (
            Verdict::Fail,
            Some(format!(
                "{} of {} attempts failed; first: {}",
                o.failed,
                o.actions,
                o.first_failure.clone().unwrap_or_default()
            )),
        ),
        Ok(o) if o.cancelled => (Verdict::Error, Some("cancelled".to_string())),
        Ok(_) => (Verdict::Pass, None),
    };
    store.finish_step(step_id, verdict, Timestamp::now(), error.as_deref())?;
    Ok((outcome, verdict))
}

/// Applies a fault step; bounded by its timeout (a flap by its own length
/// plus the timeout).
async fn run_fault(
    fault: &netproof_plan::Fault,
    s: &Step,
    lab: &LabHandles,
    sink: &dyn Sink,
    cancel: &Cancel,
) -> Result<StepOutcome, step::StepError> {
    let mut limit = s.timeout;
    if let netproof_plan::Fault::LinkFlap { period, flaps, .. } = fault {
        limit += period.saturating_mul(*flaps);
    }
    match tokio::time::timeout(limit, lab.control.apply(fault, sink, cancel)).await {
        Ok(Ok(())) => Ok(StepOutcome {
            actions: 1,
            failed: 0,
            first_failure: None,
            cancelled: false,
        }),
        Ok(Err(e)) => Err(step::StepError(format!(
            "fault `{}` failed: {e}",
            fault.name()
        ))),
        Err(_) => Err(step::StepError(format!(
            "fault `{}` did not complete within {}",
            fault.name(),
            step::fmt_duration(limit)
        ))),
    }
}
