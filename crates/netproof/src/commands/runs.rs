//! `netproof runs`: list past runs.

use netproof_sample::Timestamp;

use super::open_store;
use crate::cli::RunsArgs;
use crate::error::{CliError, Code};

pub fn run(args: RunsArgs) -> Result<Code, CliError> {
    let store = open_store(&args.db.db)?;
    let runs = store.runs(args.limit)?;
    if args.json {
        let v: Vec<serde_json::Value> = runs
            .iter()
            .map(|r| {
                serde_json::json!({
                    "id": r.id.0,
                    "status": r.status.as_str(),
                    "plan": r.info.plan_name,
                    "plan_path": r.info.plan_path,
                    "started": rfc3339(r.info.started),
                    "ended": r.ended.map(rfc3339),
                    "duration_s": r.ended.map(|e| (e.0 - r.info.started.0) as f64 / 1e9),
                    "backend": r.info.backend,
                    "seed": r.info.seed,
                })
            })
            .collect();
        outln!("{}", serde_json::Value::Array(v));
        return Ok(Code::Success);
    }
    if runs.is_empty() {
        outln!(
            "no runs in `{}` yet\nhint: `netproof run PLAN` makes one",
            store.location()
        );
        return Ok(Code::Success);
    }
    outln!(
        "{:>5}  {:<11}  {:<20}  {:>9}  {:<7}  PLAN",
        "ID",
        "STATUS",
        "STARTED (UTC)",
        "DURATION",
        "BACKEND"
    );
    for r in &runs {
        let duration = r
            .ended
            .map(|e| netproof_sample::Unit::Seconds.format((e.0 - r.info.started.0) as f64 / 1e9))
            .unwrap_or_else(|| "-".into());
        outln!(
            "{:>5}  {:<11}  {:<20}  {:>9}  {:<7}  {} ({})",
            r.id.0,
            r.status.as_str(),
            rfc3339(r.info.started),
            duration,
            r.info.backend,
            r.info.plan_name,
            r.info.plan_path
        );
    }
    Ok(Code::Success)
}

fn rfc3339(t: Timestamp) -> String {
    let secs = u64::try_from(t.0 / 1_000_000_000).unwrap_or(0);
    humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs))
        .to_string()
}
