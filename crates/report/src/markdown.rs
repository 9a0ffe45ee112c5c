//! The Markdown report, for a wiki page or a merge request.
//!
//! GitHub-flavoured Markdown: a header with the run's facts, a table of
//! cases, an expectations table per case (per-repetition measurements, the
//! median and its confidence interval), and the failures. Prose from plans
//! and commands is escaped so a wiki never renders it as markup or raw
//! HTML; expressions and names go in code spans. No plots: the HTML report
//! has them.

use std::fmt::Write as _;

use netproof_store::Verdict;

use crate::Report;
use crate::markup::{md_code, md_text};
use crate::summary::{self, CaseSummary, problems, value_text};
use crate::time;

pub(crate) fn render(report: &Report) -> String {
    let data = report.data();
    let run = &data.run;
    let info = &run.info;
    let s = report.summary_ref();
    let mut out = String::new();

    let _ = writeln!(
        out,
        "# {} — run {}: {}\n",
        md_text(&info.plan_name),
        run.id.0,
        run.status.as_str()
    );
    if !info.summary.is_empty() {
        let _ = writeln!(out, "{}\n", md_text(&info.summary));
    }
    if let Some(note) = &s.status_note {
        let _ = writeln!(
            out,
            "> **{}.** {}\n",
            title_case(run.status.as_str()),
            md_text(note)
        );
    }

    out.push_str("| | |\n|---|---|\n");
    let mut fact = |k: &str, v: String| {
        let _ = writeln!(out, "| {k} | {v} |");
    };
    fact("Status", md_text(run.status.as_str()));
    fact("Started", time::rfc3339(info.started));
    fact(
        "Ended",
        run.ended.map_or_else(|| "—".to_string(), time::rfc3339),
    );
    fact(
        "Duration",
        summary::run_duration(data).map_or_else(|| "—".to_string(), time::duration_text),
    );
    fact("Backend", md_code(&info.backend));
    fact(
        "Seed",
        format!("{} ({})", info.seed, md_text(&info.seed_source)),
    );
    fact(
        "Plan",
        format!(
            "{} (sha256 {})",
            md_code(&info.plan_path),
            md_code(&info.plan_hash)
        ),
    );
    fact("netproof", md_text(&info.netproof_version));
    fact("Command", md_code(&info.command_line));
    if let Some(db) = report.location() {
        fact("Results", md_code(db));
    }
    let c = &s.counts;
    let _ = writeln!(
        out,
        "\n**{} passed, {} failed, {} errored{} of {}.**\n",
        c.passed,
        c.failed,
        c.errored,
        if c.skipped > 0 {
            format!(", {} skipped", c.skipped)
        } else {
            String::new()
        },
        summary::cases_text(c.cases)
    );

    if s.cases.is_empty() {
        out.push_str("No cases were recorded for this run.\n");
        return out;
    }

    out.push_str("## Cases\n\n| Case | Title | Verdict | Repetitions |\n|---|---|---|---|\n");
    for case in &s.cases {
        let reps = if case.repetitions < case.planned_repetitions {
            format!("{} of {}", case.repetitions, case.planned_repetitions)
        } else {
            case.repetitions.to_string()
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {reps} |",
            md_code(&case.id),
            md_text(&case.title),
            verdict(case.verdict)
        );
    }
    out.push('\n');

    for case in &s.cases {
        case_section(&mut out, case);
    }

    let mut any = false;
    for case in &s.cases {
        for p in problems(case) {
            if !any {
                out.push_str("## Failures and errors\n\n");
                any = true;
            }
            let at = match p.repetition {
                Some(r) => format!("**{}** rep {r}", md_text(&case.id)),
                None => format!("**{}**", md_text(&case.id)),
            };
            let what = match &p.expectation {
                Some(e) => format!("{} {}", md_code(e), md_text(&p.message)),
                None => md_text(&p.message),
            };
            let _ = writeln!(out, "- {at}: {what}");
        }
    }
    if any {
        out.push('\n');
    }
    out
}

fn case_section(out: &mut String, case: &CaseSummary) {
    let _ = writeln!(
        out,
        "## {}: {} — {}\n",
        md_text(&case.id),
        md_text(&case.title),
        verdict(case.verdict)
    );
    if let Some(p) = &case.purpose {
        let _ = writeln!(out, "{}\n", md_text(p));
    }
    if case.expectations.is_empty() {
        out.push_str("This case has no expectations.\n\n");
        return;
    }
    let multi = case.reps.len() > 1;
    if multi {
        out.push_str("| Expectation | Threshold |");
        for r in &case.reps {
            let _ = write!(out, " rep {} |", r.repetition);
        }
        out.push_str(" Median [CI] | Verdict |\n|---|---|");
        out.push_str(&"---|".repeat(case.reps.len()));
        out.push_str("---|---|\n");
    } else {
        out.push_str(
            "| Expectation | Measured | Threshold | Samples | Verdict |\n|---|---|---|---|---|\n",
        );
    }
    for e in &case.expectations {
        let unit = e.unit();
        if multi {
            let _ = write!(
                out,
                "| {} | {} |",
                md_code(&e.text),
                md_text(&e.threshold_text())
            );
            for m in &e.measured {
                let mark = match m.verdict {
                    Some(Verdict::Pass) | Some(Verdict::Skipped) => "",
                    Some(Verdict::Fail) => " ✗",
                    Some(Verdict::Error) | None => " ⚠",
                };
                let v = e.rep_text(m).unwrap_or_else(|| "—".to_string());
                let _ = write!(out, " {}{mark} |", md_text(&v));
            }
            let median = match (e.median, &e.ci) {
                (Some(m), Some(ci)) => format!("{} {}", value_text(m, unit), ci.describe(unit)),
                (Some(m), None) => value_text(m, unit),
                (None, _) => "—".to_string(),
            };
            let _ = writeln!(out, " {} | {} |", md_text(&median), verdict(e.verdict));
        } else {
            let m = e.measured.first();
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                md_code(&e.text),
                md_text(
                    &m.and_then(|m| e.rep_text(m))
                        .unwrap_or_else(|| "—".to_string())
                ),
                md_text(&e.threshold_text()),
                m.map_or(0, |m| m.samples),
                verdict(e.verdict)
            );
        }
    }
    out.push('\n');
    for e in &case.expectations {
        if let Some(d) = &e.detail {
            let _ = writeln!(out, "- {}: {}", md_code(&e.text), md_text(d));
        }
    }
    if case.expectations.iter().any(|e| e.detail.is_some()) {
        out.push('\n');
    }
}

fn verdict(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "✅ pass",
        Verdict::Fail => "❌ fail",
        Verdict::Error => "⚠️ error",
        Verdict::Skipped => "⏭️ skipped",
    }
}

fn title_case(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}
