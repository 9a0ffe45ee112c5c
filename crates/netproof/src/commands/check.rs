//! `netproof check`: validate plans, report every problem at once.

use serde_json::json;

use super::plan_options;
use crate::cli::CheckArgs;
use crate::error::{CliError, Code};

pub fn run(args: CheckArgs) -> Result<Code, CliError> {
    let options = plan_options(&args.plan)?;
    let mut failures = Vec::new();
    let mut report = Vec::new();
    let mut lab_failures = 0;
    for path in &args.plans {
        match super::load_plan(path, &options, &args.plan)? {
            Ok(plan) => {
                // The plan is valid; can its lab be built (addresses, routes)?
                let backend = netproof_plan::Backend::effective(options.backend, plan.backend);
                let warnings = match netproof_lab::check(&plan, backend) {
                    Ok(warnings) => warnings,
                    Err(e) => {
                        if args.json {
                            report.push(json!({
                                "path": path.display().to_string(),
                                "ok": false,
                                "problems": [{"path": path.display().to_string(), "line": 0, "column": 0, "message": e.to_string()}],
                            }));
                        } else {
                            eprintln!(
                                "error: {}: the lab cannot be built: {e}",
                                super::lab_error_place(&plan, &e)
                            );
                        }
                        lab_failures += 1;
                        continue;
                    }
                };
                let steps: usize = plan
                    .cases
                    .iter()
                    .map(|c| c.setup.len() + c.steps.len() + c.teardown.len())
                    .sum();
                if args.json {
                    report.push(json!({
                        "path": path.display().to_string(),
                        "ok": true,
                        "plan": plan.meta.name,
                        "nodes": plan.nodes.len(),
                        "links": plan.links.len(),
                        "services": plan.services.len(),
                        "cases": plan.cases.len(),
                        "steps": steps,
                        "warnings": warnings
                            .iter()
                            .map(|w| json!({"message": w.message, "hint": w.hint}))
                            .collect::<Vec<_>>(),
                    }));
                } else {
                    outln!(
                        "ok: {}: plan `{}`: {} nodes, {} links, {} services, {} cases, {} steps",
                        path.display(),
                        plan.meta.name,
                        plan.nodes.len(),
                        plan.links.len(),
                        plan.services.len(),
                        plan.cases.len(),
                        steps
                    );
                    // Warnings never change the exit code: the lab can be
                    // built, it may just not be what the author meant.
                    for w in &warnings {
                        eprintln!("warning: {}: {w}", path.display());
                    }
                }
            }
            Err(e) => {
                if args.json {
                    report.push(json!({
                        "path": path.display().to_string(),
                        "ok": false,
                        "problems": e.problems(),
                    }));
                }
                failures.push(e);
            }
        }
    }
    if args.json {
        outln!("{}", serde_json::Value::Array(report));
        return Ok(if failures.is_empty() {
            Code::Success
        } else {
            Code::Usage
        });
    }
    if !failures.is_empty() {
        return Err(CliError::Plans(failures));
    }
    Ok(if lab_failures == 0 {
        Code::Success
    } else {
        Code::Usage
    })
}
