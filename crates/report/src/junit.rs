//! JUnit XML for CI systems.
//!
//! One `<testsuite>` for the plan inside `<testsuites>`; one `<testcase>`
//! per case, or per case repetition when the case repeats (named
//! `ID title [rep k/n]`), with `<failure>` when an expectation failed,
//! `<error>` when something could not run or be measured (or the repetition
//! never finished) and `<skipped/>` when it was skipped. Times are in
//! seconds. The suite's properties carry the run id, seed, backend and plan
//! hash. A run that did not finish in order (aborted, interrupted, still
//! running, or failed in its infrastructure) adds a `netproof run` test case
//! with an error, so CI never reads such a run as green. Every text is
//! escaped, control characters included, so the document is well-formed.

use std::fmt::Write as _;

use netproof_store::{RunStatus, Verdict};

use crate::Report;
use crate::markup::escape;
use crate::summary::{CaseSummary, Problem, problems, status_note};

struct TestCase {
    name: String,
    time: f64,
    verdict: Verdict,
    problems: Vec<Problem>,
}

pub(crate) fn render(report: &Report) -> String {
    let data = report.data();
    let run = &data.run;
    let info = &run.info;
    let s = report.summary_ref();

    let mut cases: Vec<TestCase> = Vec::new();
    for case in &s.cases {
        cases.extend(test_cases(case));
    }
    if !matches!(run.status, RunStatus::Passed | RunStatus::Failed) {
        let note = status_note(run.status).unwrap_or("the run did not finish in order");
        cases.push(TestCase {
            name: "netproof run".to_string(),
            time: 0.0,
            verdict: Verdict::Error,
            problems: vec![Problem {
                repetition: None,
                expectation: None,
                verdict: Verdict::Error,
                message: format!("run {}: {note}", run.status.as_str()),
            }],
        });
    }
    let count = |v: Verdict| cases.iter().filter(|c| c.verdict == v).count();
    let (failures, errors, skipped) = (
        count(Verdict::Fail),
        count(Verdict::Error),
        count(Verdict::Skipped),
    );
    let total_time: f64 = crate::summary::run_duration(data).unwrap_or(0.0);

    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"netproof\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\" time=\"{:.3}\">",
        cases.len(),
        total_time
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\" time=\"{:.3}\" timestamp=\"{}\" hostname=\"{}\">",
        escape(&info.plan_name),
        cases.len(),
        total_time,
        escape(&crate::time::rfc3339(info.started)),
        escape(info.host.get("hostname").map_or("", String::as_str))
    );
    out.push_str("    <properties>\n");
    let props: [(&str, String); 9] = [
        ("run", run.id.0.to_string()),
        ("status", run.status.as_str().to_string()),
        ("seed", info.seed.to_string()),
        ("seed_source", info.seed_source.clone()),
        ("backend", info.backend.clone()),
        ("plan_path", info.plan_path.clone()),
        ("plan_hash", info.plan_hash.clone()),
        ("netproof_version", info.netproof_version.clone()),
        ("command_line", info.command_line.clone()),
    ];
    for (k, v) in props {
        let _ = writeln!(
            out,
            "      <property name=\"{k}\" value=\"{}\"/>",
            escape(&v)
        );
    }
    out.push_str("    </properties>\n");
    for c in &cases {
        let _ = write!(
            out,
            "    <testcase name=\"{}\" classname=\"{}\" time=\"{:.3}\"",
            escape(&c.name),
            escape(&info.plan_name),
            c.time
        );
        match c.verdict {
            Verdict::Pass => out.push_str("/>\n"),
            Verdict::Skipped => out.push_str(">\n      <skipped/>\n    </testcase>\n"),
            Verdict::Fail | Verdict::Error => {
                out.push_str(">\n");
                let (tag, kind) = if c.verdict == Verdict::Fail {
                    ("failure", "expectation")
                } else {
                    ("error", "error")
                };
                let lines: Vec<String> = c
                    .problems
                    .iter()
                    .map(|p| match &p.expectation {
                        Some(e) => format!("{e}: {}", p.message),
                        None => p.message.clone(),
                    })
                    .collect();
                let message = lines.first().cloned().unwrap_or_else(|| {
                    format!("the case ended with verdict {}", c.verdict.as_str())
                });
                let _ = writeln!(
                    out,
                    "      <{tag} message=\"{}\" type=\"{kind}\">{}</{tag}>",
                    escape(&message),
                    escape(&lines.join("\n"))
                );
                out.push_str("    </testcase>\n");
            }
        }
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

/// One test case per case, or per repetition when the case repeats.
fn test_cases(case: &CaseSummary) -> Vec<TestCase> {
    let all = problems(case);
    let title = if case.title.is_empty() {
        case.id.clone()
    } else {
        format!("{} {}", case.id, case.title)
    };
    if case.reps.len() <= 1 {
        return vec![TestCase {
            name: title,
            time: case.reps.iter().filter_map(|r| r.duration_s).sum(),
            verdict: case.verdict,
            problems: all,
        }];
    }
    case.reps
        .iter()
        .map(|r| {
            let problems: Vec<Problem> = all
                .iter()
                .filter(|p| p.repetition == Some(r.repetition))
                .cloned()
                .collect();
            // The repetition's own verdict; unfinished counts as an error.
            let verdict = r.verdict.unwrap_or(Verdict::Error);
            TestCase {
                name: format!(
                    "{title} [rep {}/{}]",
                    r.repetition, case.planned_repetitions
                ),
                time: r.duration_s.unwrap_or(0.0),
                verdict,
                problems,
            }
        })
        .collect()
}
