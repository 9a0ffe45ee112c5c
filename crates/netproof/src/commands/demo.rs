//! `netproof demo`: the one command that shows a new user what netproof
//! does. It writes the bundled CDN test plans and the reference Open
//! Connect lab they run against into `--out`, checks them all (and what the
//! machine needs for the lab) before anything starts, runs them one after
//! another with live progress, each on a freshly built lab that is taken
//! down after it, stores every sample in the results database, writes each
//! run's report and an `index.html` linking them, and prints a summary.
//! The index is rewritten after every plan, so a demo stopped with Ctrl-C
//! (which takes the running lab down) still leaves a report of what ran.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use netproof_report::index::IndexEntry;
use netproof_report::{Format, Report};
use netproof_run::{Cancel, CaseOutcome, Observer, Reason, RunError, RunOptions};
use netproof_store::{ResultStore, RunId, Verdict};

use crate::cli::{DemoArgs, PlanOptions};
use crate::error::{CliError, Code};
use crate::progress::Progress;

/// The files the demo writes, by path under `<out>/plans/`: the lab, then
/// the CDN plans that run against it (every plan in plans/cdn/ whose
/// `lab` is the Open Connect lab; a test keeps the two lists equal).
macro_rules! plan_files {
    ($($rel:literal),* $(,)?) => {
        &[$(($rel, include_str!(concat!("../../../../plans/", $rel)))),*]
    };
}
const FILES: &[(&str, &str)] = plan_files![
    "labs/open-connect.toml",
    "cdn/steering-correctness.toml",
    "cdn/steering-failover.toml",
    "cdn/bgp-steering.toml",
    "cdn/multi-host.toml",
    "cdn/range-integrity.toml",
    "cdn/fill-hierarchy.toml",
    "cdn/drain.toml",
];

/// The plans the demo runs, in order: the lab's own cases, then every file
/// after it.
fn demo_plans() -> impl Iterator<Item = &'static str> {
    FILES.iter().map(|(rel, _)| *rel)
}

pub fn run(args: DemoArgs, color: bool) -> Result<Code, CliError> {
    let started = Instant::now();
    let plans_dir = args.out.join("plans");
    for (rel, text) in FILES {
        let path = plans_dir.join(rel);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| CliError::Write {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        std::fs::write(&path, text).map_err(|source| CliError::Write {
            path: path.clone(),
            source,
        })?;
    }
    let plan_flags = PlanOptions {
        backend: None,
        allow_external: false,
        routing_daemon: None,
        set: Vec::new(),
        seeded_fault: false,
        quick: args.quick,
    };
    let options = super::plan_options(&plan_flags)?;
    // Everything is checked, and the machine too, before anything starts.
    let mut plans = Vec::new();
    let mut invalid = Vec::new();
    for rel in demo_plans() {
        match super::load_plan(&plans_dir.join(rel), &options, &plan_flags)? {
            Ok(p) => plans.push((rel, p)),
            Err(e) => invalid.push(e),
        }
    }
    if !invalid.is_empty() {
        return Err(CliError::Plans(invalid));
    }
    for (_, plan) in &plans {
        let backend = netproof_plan::Backend::effective(None, plan.backend);
        super::buildable(plan, backend)?;
    }
    netproof_lab::rootless::enter_if_unprivileged().map_err(|e| CliError::Infra(e.to_string()))?;
    let store: Arc<dyn ResultStore> = Arc::from(netproof_store::open(&args.db.db)?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)?;
    let run_options = RunOptions {
        backend: None,
        seed: None,
        repeat: None,
        cases: Vec::new(),
        command_line: std::env::args().collect::<Vec<_>>().join(" "),
        ip_netns: false,
    };
    let terminal = !args.json && std::io::stderr().is_terminal();
    if !args.json {
        eprintln!(
            "netproof demo: {} plan(s) against the reference Open Connect lab, each on a lab of its own; results in {}, reports in {}",
            plans.len(),
            store.location(),
            args.out.display()
        );
    }

    let mut done: Vec<(Report, String, Option<String>)> = Vec::new();
    let mut worst = Code::Success;
    let index = args.out.join("index.html");
    runtime.block_on(async {
        let cancel = Cancel::new();
        netproof_run::signals::install(cancel.clone()).map_err(CliError::Runtime)?;
        for (i, (rel, plan)) in plans.iter().enumerate() {
            let observer = Live::new(terminal, !args.json, &plan.meta.name, i + 1, plans.len());
            let outcome =
                netproof_run::execute(plan, store.clone(), &run_options, &cancel, &observer).await;
            observer.finish();
            let outcome = match outcome {
                Ok(o) => o,
                Err(RunError::UnknownCase { .. }) => unreachable!("the demo names no case"),
                Err(RunError::Store(e)) => return Err(CliError::Store(e)),
            };
            let report = Report::load(store.as_ref(), outcome.run)?.with_location(store.location());
            let dir = args.out.join(&plan.meta.name);
            report.write(&dir, &[Format::Html, Format::Markdown, Format::Json])?;
            let href = format!("{}/{}", plan.meta.name, Format::Html.file_name(outcome.run));
            worst = worst.max(super::run_code(outcome.status));
            if args.json {
                outln!("{}", report.json());
            } else {
                eprintln!("{}", plan_line(&report, rel, outcome.error.as_deref()));
            }
            done.push((report, href, outcome.error));
            write_index(&index, &plans, &done, cancel.reason())?;
            if cancel.reason() == Some(Reason::Interrupted) {
                break;
            }
        }
        Ok::<(), CliError>(())
    })?;
    write_index(&index, &plans, &done, None)?;
    let elapsed = started.elapsed().as_secs_f64();
    let (passed, cases) = done.iter().fold((0, 0), |(p, c), (r, _, _)| {
        let n = r.summary().counts;
        (p + n.passed, c + n.cases)
    });
    if args.json {
        outln!(
            "{}",
            serde_json::json!({
                "demo": {
                    "plans": plans.len(),
                    "ran": done.len(),
                    "cases": cases,
                    "passed": passed,
                    "duration_s": elapsed,
                    "index": index.display().to_string(),
                    "runs": done.iter().map(|(r, _, _)| r.run_id().0).collect::<Vec<_>>(),
                }
            })
        );
    } else {
        outln!();
        for (report, _, _) in &done {
            out!("{}", summary(report, color));
        }
        outln!(
            "netproof demo: {} of {} plans ran, {passed} of {cases} cases passed, in {:.0} s",
            done.len(),
            plans.len(),
            elapsed
        );
        outln!("report: {}", index.display());
        outln!(
            "every sample is in {}: `netproof runs`, `netproof report RUN`, `netproof compare A B`",
            store.location()
        );
    }
    Ok(worst)
}

/// A plan's cases, a line each, with the expectations that did not pass.
fn summary(report: &Report, color: bool) -> String {
    let paint = |verdict: &str| {
        let code = match verdict {
            "pass" | "passed" => "32",
            "fail" | "failed" => "31",
            _ => "33",
        };
        if color {
            format!("\x1b[{code}m{verdict:<7}\x1b[0m")
        } else {
            format!("{verdict:<7}")
        }
    };
    let s = report.summary();
    let mut out = format!(
        "{} {} (run {}): {} of {} cases passed\n",
        paint(s.status.as_str()),
        s.plan,
        s.run,
        s.counts.passed,
        s.counts.cases
    );
    for c in &s.cases {
        out += &format!("  {} {:<12} {}\n", paint(c.verdict.as_str()), c.id, c.title);
        for e in c.expectations.iter().filter(|e| e.verdict != Verdict::Pass) {
            out += &format!("            {} {}\n", e.verdict.as_str(), e.text);
        }
    }
    out
}

/// One line per finished plan.
fn plan_line(report: &Report, rel: &str, error: Option<&str>) -> String {
    let s = report.summary();
    let mut line = format!(
        "  {} {} ({rel}): {} of {} cases passed",
        s.status.as_str(),
        s.plan,
        s.counts.passed,
        s.counts.cases
    );
    if let Some(e) = error {
        line += &format!("; {e}");
    }
    line
}

fn write_index(
    path: &Path,
    plans: &[(&str, netproof_plan::Plan)],
    done: &[(Report, String, Option<String>)],
    stopped: Option<Reason>,
) -> Result<(), CliError> {
    let entries: Vec<IndexEntry<'_>> = plans
        .iter()
        .enumerate()
        .map(|(i, (rel, plan))| IndexEntry {
            plan_path: format!("plans/{rel}"),
            plan_name: plan.meta.name.clone(),
            run: done.get(i).map(|(r, href, _)| (r, href.clone())),
            note: match done.get(i) {
                Some((_, _, e)) => e.clone(),
                None if stopped.is_some() => Some("the demo was interrupted first".into()),
                None => Some("not reached".into()),
            },
        })
        .collect();
    let html = netproof_report::index::html(
        "netproof demo: the reference Open Connect CDN",
        "The CDN test plans run against the reference Open Connect lab (embedded and exchange-point edges, a fill tier, an origin, BGP to the ISPs, steering by API and DNS), each on a lab of its own, built and taken down by netproof.",
        &entries,
    );
    std::fs::write(path, html).map_err(|source| CliError::Write {
        path: PathBuf::from(path),
        source,
    })
}

/// Live progress: a bar on a terminal; otherwise a line per case, so a CI
/// log shows the demo moving.
struct Live {
    bar: Progress,
    lines: bool,
    plan: String,
    case_started: Mutex<Instant>,
}

impl Live {
    fn new(terminal: bool, lines: bool, plan: &str, n: usize, of: usize) -> Live {
        let label = format!("[{n}/{of}] {plan}");
        if lines && !terminal {
            eprintln!("{label}: bringing the lab up");
        }
        Live {
            bar: Progress::new(terminal, &label),
            lines: lines && !terminal,
            plan: plan.to_string(),
            case_started: Mutex::new(Instant::now()),
        }
    }

    fn finish(&self) {
        self.bar.finish();
    }
}

impl Observer for Live {
    fn run_started(&self, run: RunId, total: u64) {
        self.bar.run_started(run, total);
    }

    fn case_started(&self, case: &str, repetition: u32, repetitions: u32) {
        *self.case_started.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
        self.bar.case_started(case, repetition, repetitions);
    }

    fn case_finished(&self, case: &str, repetition: u32, outcome: &CaseOutcome) {
        self.bar.case_finished(case, repetition, outcome);
        if self.lines {
            let took = self
                .case_started
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .elapsed()
                .as_secs_f64();
            eprintln!(
                "  {}: {case}: {} in {took:.1} s{}",
                self.plan,
                outcome.verdict.as_str(),
                outcome
                    .error
                    .as_deref()
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default()
            );
        }
    }
}
