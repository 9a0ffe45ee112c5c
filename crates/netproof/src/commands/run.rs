//! `netproof run`: validate every plan, then run them one by one.

use std::io::IsTerminal;
use std::sync::Arc;

use netproof_report::{Format, Report};
use netproof_run::{Cancel, Reason, RunError, RunOptions};
use netproof_store::ResultStore;

use super::{plan_options, seeded};
use crate::cli::RunArgs;
use crate::error::{CliError, Code};
use crate::progress::Progress;

pub fn run(args: RunArgs, color: bool) -> Result<Code, CliError> {
    let options = plan_options(&args.plan)?;
    let formats = args
        .formats
        .iter()
        .map(|f| f.parse::<Format>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| CliError::Usage(e.to_string()))?;

    // Every plan must be valid before anything runs.
    let mut plans = Vec::new();
    let mut invalid = Vec::new();
    for path in &args.plans {
        match super::load_plan(path, &options, &args.plan)? {
            Ok(p) => plans.push(p),
            Err(e) => invalid.push(e),
        }
    }
    if !invalid.is_empty() {
        return Err(CliError::Plans(invalid));
    }
    for plan in &plans {
        let backend = netproof_plan::Backend::effective(options.backend, plan.backend);
        super::buildable(plan, backend)?;
    }
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir).map_err(|source| CliError::Write {
            path: dir.clone(),
            source,
        })?;
    }

    // Without root, the netns backend builds labs inside a user namespace
    // of our own; the switch must happen before any thread starts.
    let uses_netns = plans.iter().any(|p| {
        netproof_plan::Backend::effective(options.backend, p.backend)
            == netproof_plan::Backend::Netns
    });
    if uses_netns {
        netproof_lab::rootless::enter_if_unprivileged()
            .map_err(|e| CliError::Infra(e.to_string()))?;
    }
    let stale = netproof_lab::registry::Registry::default_location().stale();
    if !stale.is_empty() {
        eprintln!(
            "warning: {} lab(s) left behind by a netproof that died ({}); `netproof lab gc` removes them",
            stale.len(),
            stale
                .iter()
                .map(|e| e.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let store: Arc<dyn ResultStore> = Arc::from(netproof_store::open(&args.db.db)?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)?;
    let run_options = RunOptions {
        backend: options.backend,
        seed: args.seed,
        repeat: args.repeat,
        cases: args.cases.clone(),
        command_line: std::env::args().collect::<Vec<_>>().join(" "),
        ip_netns: args.ip_netns,
    };
    let show_progress = !args.json && std::io::stderr().is_terminal();

    let mut worst = Code::Success;
    runtime.block_on(async {
        let cancel = Cancel::new();
        netproof_run::signals::install(cancel.clone()).map_err(CliError::Runtime)?;
        for plan in &plans {
            let progress = Progress::new(show_progress, &plan.meta.name);
            let outcome =
                netproof_run::execute(plan, store.clone(), &run_options, &cancel, &progress).await;
            progress.finish();
            let outcome = match outcome {
                Ok(o) => o,
                Err(RunError::UnknownCase { plan, case, known }) => {
                    return Err(CliError::Usage(format!(
                        "plan `{plan}` has no case `{case}`\nhint: its cases are {known}"
                    )));
                }
                Err(RunError::Store(e)) => return Err(CliError::Store(e)),
            };
            let report = Report::load(store.as_ref(), outcome.run)?.with_location(store.location());
            if args.json {
                outln!("{}", report.json());
            } else {
                out!("{}", report.terminal(color));
            }
            if let Some(err) = &outcome.error {
                eprintln!("error: run {} could not complete: {err}", outcome.run.0);
            }
            if let Some(dir) = &args.out {
                let written = report.write(dir, &formats)?;
                if !args.json {
                    for p in written {
                        outln!("wrote {}", p.display());
                    }
                }
            }
            let mut code = super::run_code(outcome.status);
            // With its seeded fault, a plan is judged on catching it: the
            // cases it names fail, on the expectations it names.
            if let (true, Some(fault), Code::Success | Code::Failed) =
                (args.plan.seeded_fault, &plan.meta.seeded_fault, code)
            {
                let judged = seeded::judge(fault, &store.load_run(outcome.run)?);
                if args.json {
                    outln!("{}", judged.json(fault));
                } else {
                    outln!("{}", judged.line(fault));
                }
                code = if judged.caught() {
                    Code::Success
                } else {
                    Code::Failed
                };
            }
            worst = worst.max(code);
            if cancel.reason() == Some(Reason::Interrupted) {
                break;
            }
        }
        Ok::<(), CliError>(())
    })?;
    // Code::Interrupted (130) outranks everything else, as shells expect.
    Ok(worst)
}
