//! netproof's executor.
//!
//! [`execute`] takes a validated plan and a results store, builds the lab
//! once, runs every selected case for its repetitions (setup, a timeline of
//! steps, teardown that always runs), judges expectations, and records all of
//! it in the store as it happens. The lab always comes down: on success,
//! failure, a store error, or cancellation (Ctrl-C / SIGTERM via
//! [`signals`]).
//!
//! What it does not do: print anything (callers observe progress through
//! [`Observer`]) or build reports (they read the store).

mod case;
mod collect;
pub mod host;
pub mod judge;
mod reference;
mod selfcheck;
pub mod signals;
pub mod step;

use std::sync::Arc;

use netproof_plan::{Backend, Plan};
use netproof_sample::{Event, Severity, Timestamp};
use netproof_store::{
    CaseRunId, NewCaseRun, NewRun, Owner, ResultStore, RunId, RunStatus, Scope, StoreError, Verdict,
};
use sha2::Digest;

pub use case::CaseOutcome;
use netproof_lab as lab;
pub use netproof_lab::{Cancel, Reason};

/// Choices made on the command line for one run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// `--backend`, overriding the plan's.
    pub backend: Option<Backend>,
    /// `--seed`, overriding the plan's.
    pub seed: Option<u64>,
    /// `--repeat`, overriding every case's `repeat`.
    pub repeat: Option<u32>,
    /// `--case`: run only these case ids (all when empty).
    pub cases: Vec<String>,
    /// The command line, recorded with the run.
    pub command_line: String,
    /// `--ip-netns`: name the lab's namespaces under `/run/netns` while
    /// the run lasts, for `ip netns exec`.
    pub ip_netns: bool,
}

/// Errors that stop a run before or while it executes.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// `--case` named a case the plan does not have.
    #[error("plan `{plan}` has no case `{case}`\nhint: its cases are {known}")]
    UnknownCase {
        /// The plan's name.
        plan: String,
        /// The id given.
        case: String,
        /// The ids it has.
        known: String,
    },
    /// The results database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOutcome {
    /// The run's id in the store.
    pub run: RunId,
    /// Its final status.
    pub status: RunStatus,
    /// Why the lab or infrastructure failed, when `status` is `Error`.
    pub error: Option<String>,
}

/// Progress callbacks for a user interface. Every method has a no-op default.
pub trait Observer: Send + Sync {
    /// The run was recorded and the lab is being built.
    fn run_started(&self, _run: RunId, _total_repetitions: u64) {}
    /// A case repetition started.
    fn case_started(&self, _case: &str, _repetition: u32, _repetitions: u32) {}
    /// A case repetition finished.
    fn case_finished(&self, _case: &str, _repetition: u32, _outcome: &CaseOutcome) {}
}

/// An observer that ignores everything.
pub struct Quiet;
impl Observer for Quiet {}

/// What every case of a run shares.
#[derive(Clone)]
pub(crate) struct Shared {
    pub(crate) store: Arc<dyn ResultStore>,
    pub(crate) run: RunId,
    pub(crate) seed: u64,
    /// The share of a link's delay its emulator may run late by (p99)
    /// before a case is warned.
    pub(crate) lateness_warning: f64,
}

/// The backend a run uses: the flag's, else the plan's, else the default.
pub fn effective_backend(plan: &Plan, options: &RunOptions) -> Backend {
    Backend::effective(options.backend, plan.backend)
}

/// Draws a seed from the OS, for runs whose plan and flags fix none.
fn draw_seed() -> u64 {
    let mut b = [0u8; 8];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        use std::io::Read;
        if f.read_exact(&mut b).is_ok() {
            return u64::from_le_bytes(b);
        }
    }
    let t = Timestamp::now().0 as u64;
    netproof_proto::seed::derive_named(t, "seed", u64::from(std::process::id()))
}

/// Executes `plan` and records it in `store`.
///
/// Returns `Err` only when nothing could be recorded (an unknown `--case`,
/// or the store refusing the run). Everything after the run row exists ends
/// in a [`RunOutcome`] whose status says how it went.
pub async fn execute(
    plan: &Plan,
    store: Arc<dyn ResultStore>,
    options: &RunOptions,
    cancel: &Cancel,
    observer: &dyn Observer,
) -> Result<RunOutcome, RunError> {
    for id in &options.cases {
        if !plan.cases.iter().any(|c| &c.id == id) {
            return Err(RunError::UnknownCase {
                plan: plan.meta.name.clone(),
                case: id.clone(),
                known: plan
                    .cases
                    .iter()
                    .map(|c| format!("`{}`", c.id))
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
    }
    let backend = effective_backend(plan, options);
    let (seed, seed_source) = match (options.seed, plan.seed) {
        (Some(s), _) => (s, "flag"),
        (None, Some(s)) => (s, "plan"),
        (None, None) => (draw_seed(), "drawn"),
    };
    let planned = lab::Lab::plan(plan, backend).map(|p| p.seed(seed).ip_netns(options.ip_netns));
    let topology = planned
        .as_ref()
        .map(|p| record_topology(p.topology()))
        .unwrap_or_default();
    // A plan with a lab file is recorded with the lab's text after its
    // own, so the run says everything it ran.
    let plan_text = match &plan.lab {
        None => plan.source.text.clone(),
        Some(lab) => format!(
            "{}\n# ---- the lab file, {} ----\n{}",
            plan.source.text,
            lab.path.display(),
            lab.text
        ),
    };
    let run = store.begin_run(&NewRun {
        plan_name: plan.meta.name.clone(),
        plan_path: plan.source.path.display().to_string(),
        plan_hash: hex(&sha2::Sha256::digest(plan_text.as_bytes())),
        plan_text,
        summary: plan.meta.summary.clone(),
        backend: backend.as_str().to_string(),
        seed,
        seed_source: seed_source.to_string(),
        netproof_version: env!("CARGO_PKG_VERSION").to_string(),
        command_line: options.command_line.clone(),
        host: host::facts(),
        started: Timestamp::now(),
        owner: Owner::current(),
        topology,
    })?;
    let shared = Shared {
        store: store.clone(),
        lateness_warning: plan.self_check.lateness_warning,
        run,
        seed,
    };
    let run_sink = store.sink(Scope {
        run,
        case_run: None,
        step: None,
    });
    let selected: Vec<&netproof_plan::Case> = plan
        .cases
        .iter()
        .filter(|c| options.cases.is_empty() || options.cases.contains(&c.id))
        .collect();
    let reps = |c: &netproof_plan::Case| options.repeat.unwrap_or(c.repeat).max(1);
    observer.run_started(run, selected.iter().map(|c| u64::from(reps(c))).sum());

    let finish = |status: RunStatus, error: Option<String>| -> Result<RunOutcome, RunError> {
        store.finish_run(run, status, Timestamp::now())?;
        Ok(RunOutcome { run, status, error })
    };

    let lab_result = match planned {
        Ok(p) => p.up(plan, run_sink.clone(), cancel).await,
        Err(e) => Err(e),
    };
    let mut lab = match lab_result {
        Ok(lab) => lab,
        Err(lab::LabError::Interrupted) => {
            return finish(RunStatus::Interrupted, None);
        }
        Err(e) => {
            let msg = e.to_string();
            run_sink.event(Event::new("lab.error", Severity::Error, &msg));
            return finish(RunStatus::Error, Some(msg));
        }
    };
    run_sink.event(Event::new(
        "lab.up",
        Severity::Info,
        format!(
            "lab up on the {} backend: {} nodes, {} services",
            backend.as_str(),
            plan.nodes.len(),
            plan.services.len()
        ),
    ));

    // Measure what the emulated links apply before trusting any result
    // taken across them (and after, if asked).
    if plan.self_check.before && !cancel.is_cancelled() {
        selfcheck::probe(&lab, &run_sink, "before").await;
    }
    // Run the cases; whatever happens, take the lab down afterwards.
    let result = run_cases(&shared, &lab, &selected, &reps, cancel, observer).await;
    if plan.self_check.after && !cancel.is_cancelled() {
        selfcheck::probe(&lab, &run_sink, "after").await;
    }
    let service_failures: Vec<String> = lab
        .failed_services()
        .iter()
        .map(ToString::to_string)
        .collect();
    lab.down().await;
    run_sink.event(Event::new("lab.down", Severity::Info, "lab down"));

    match result {
        Err(e) => {
            // The store failed mid-run: try to say so, then report it.
            let _ = store.finish_run(run, RunStatus::Error, Timestamp::now());
            Err(e)
        }
        Ok(worst) => {
            let status = if cancel.reason() == Some(Reason::Interrupted) {
                RunStatus::Interrupted
            } else {
                match worst {
                    Verdict::Pass | Verdict::Skipped => RunStatus::Passed,
                    Verdict::Fail | Verdict::Error => RunStatus::Failed,
                }
            };
            if !service_failures.is_empty() && status != RunStatus::Interrupted {
                return finish(RunStatus::Error, Some(service_failures.join("; ")));
            }
            finish(status, None)
        }
    }
}

async fn run_cases(
    shared: &Shared,
    lab: &lab::Lab,
    selected: &[&netproof_plan::Case],
    reps: &dyn Fn(&netproof_plan::Case) -> u32,
    cancel: &Cancel,
    observer: &dyn Observer,
) -> Result<Verdict, RunError> {
    let mut worst = Verdict::Pass;
    'cases: for case in selected {
        let n = reps(case);
        for rep in 1..=n {
            if cancel.is_cancelled() {
                break 'cases;
            }
            observer.case_started(&case.id, rep, n);
            let case_run: CaseRunId = shared.store.begin_case(
                shared.run,
                &NewCaseRun {
                    case_id: case.id.clone(),
                    title: case.title.clone(),
                    purpose: case.purpose.clone(),
                    repetition: rep,
                    repetitions: n,
                    started: Timestamp::now(),
                },
            )?;
            let outcome = case::run(shared, lab, case, case_run, cancel).await?;
            shared.store.finish_case(
                case_run,
                outcome.verdict,
                Timestamp::now(),
                outcome.error.as_deref(),
            )?;
            observer.case_finished(&case.id, rep, &outcome);
            worst = worst.max(outcome.verdict);
        }
    }
    Ok(worst)
}

/// The lab's topology in the store's terms.
fn record_topology(t: &lab::Topology) -> netproof_store::Topology {
    netproof_store::Topology {
        nodes: t
            .nodes
            .iter()
            .map(|n| netproof_store::TopologyNode {
                name: n.name.clone(),
                role: n.role.clone(),
                addresses: n.addresses.clone(),
                services: n.services.clone(),
                sysctls: n.sysctls.clone(),
            })
            .collect(),
        links: t
            .links
            .iter()
            .map(|l| netproof_store::TopologyLink {
                ends: l.ends.clone(),
                mechanism: l.mechanism.clone(),
                properties: l.properties.clone(),
            })
            .collect(),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
