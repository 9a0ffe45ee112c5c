//! The terminal summary printed at the end of `netproof run`.
//!
//! A compact table: each case with its verdict and repetitions, under it
//! each expectation with its key figure (the measured value, or the median
//! and its confidence interval when the case repeated) against its
//! threshold; then the failures and errors in detail; then one closing line
//! with the run id, status, counts, seed, backend and where the results
//! are. Colour (ANSI) only when asked: green pass, red fail, yellow error.
//! Columns are padded before colouring so escapes never skew them.

use std::fmt::Write as _;

use netproof_store::{RunStatus, Verdict};

use crate::Report;
use crate::summary::{CaseSummary, cases_text, problems};

const MAX_TEXT_COLUMN: usize = 48;

struct Paint {
    color: bool,
}

impl Paint {
    fn wrap(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\u{1b}[{code}m{s}\u{1b}[0m")
        } else {
            s.to_string()
        }
    }

    fn verdict(&self, v: Verdict, width: usize) -> String {
        let s = format!("{:<width$}", v.as_str());
        match v {
            Verdict::Pass => self.wrap("32", &s),
            Verdict::Fail => self.wrap("31", &s),
            Verdict::Error => self.wrap("33", &s),
            Verdict::Skipped => self.wrap("2", &s),
        }
    }

    fn status(&self, s: RunStatus) -> String {
        let text = s.as_str();
        match s {
            RunStatus::Passed => self.wrap("1;32", text),
            RunStatus::Failed => self.wrap("1;31", text),
            RunStatus::Running => self.wrap("1", text),
            _ => self.wrap("1;33", text),
        }
    }

    fn bold(&self, s: &str) -> String {
        self.wrap("1", s)
    }
}

pub(crate) fn render(report: &Report, color: bool) -> String {
    let p = Paint { color };
    let data = report.data();
    let info = &data.run.info;
    let summary = report.summary_ref();
    let mut out = String::new();

    let _ = writeln!(
        out,
        "{} · run {} · {}",
        p.bold(&info.plan_name),
        data.run.id.0,
        p.status(data.run.status)
    );
    if !info.summary.is_empty() {
        let _ = writeln!(out, "{}", one_line(&info.summary));
    }
    if let Some(note) = &summary.status_note {
        let _ = writeln!(out, "{} {}", p.wrap("1;33", "!"), note);
    }
    out.push('\n');

    if summary.cases.is_empty() {
        out.push_str("No cases were recorded for this run.\n\n");
    } else {
        table(&mut out, &p, &summary.cases);
        failures(&mut out, &p, &summary.cases);
    }

    let c = &summary.counts;
    let mut tail = format!(
        "run {} {} · {} passed, {} failed, {} errored",
        data.run.id.0,
        p.status(data.run.status),
        c.passed,
        c.failed,
        c.errored
    );
    if c.skipped > 0 {
        let _ = write!(tail, ", {} skipped", c.skipped);
    }
    let _ = write!(
        tail,
        " of {} · seed {} ({}) · backend {}",
        cases_text(c.cases),
        info.seed,
        info.seed_source,
        info.backend
    );
    if let Some(db) = report.location() {
        let _ = write!(tail, " · results in {db}");
    }
    out.push_str(&tail);
    out.push('\n');
    out
}

fn table(out: &mut String, p: &Paint, cases: &[CaseSummary]) {
    let id_w = cases
        .iter()
        .map(|c| c.id.chars().count())
        .max()
        .unwrap_or(0)
        .max(4);
    let text_w = cases
        .iter()
        .flat_map(|c| &c.expectations)
        .map(|e| e.text.chars().count())
        .filter(|&n| n <= MAX_TEXT_COLUMN)
        .max()
        .unwrap_or(0);
    let threshold_w = cases
        .iter()
        .flat_map(|c| &c.expectations)
        .map(|e| e.threshold_text().chars().count())
        .max()
        .unwrap_or(0)
        .max(9);
    let reps = |c: &CaseSummary| {
        if c.repetitions < c.planned_repetitions {
            format!("{}/{}", c.repetitions, c.planned_repetitions)
        } else {
            c.repetitions.to_string()
        }
    };
    let _ = writeln!(out, "{:<id_w$}  VERDICT  REPS  TITLE", "CASE");
    let _ = writeln!(
        out,
        "  {}  {}  {}  MEASURED",
        pad("", 7),
        pad("EXPECTATION", text_w),
        pad("THRESHOLD", threshold_w)
    );
    for c in cases {
        let _ = writeln!(
            out,
            "{:<id_w$}  {}  {:<4}  {}",
            c.id,
            p.verdict(c.verdict, 7),
            reps(c),
            one_line(&c.title)
        );
        for e in &c.expectations {
            let _ = writeln!(
                out,
                "  {}  {}  {}  {}",
                p.verdict(e.verdict, 7),
                pad(&e.text, text_w),
                pad(&e.threshold_text(), threshold_w),
                e.figure()
            );
        }
    }
    out.push('\n');
}

fn failures(out: &mut String, p: &Paint, cases: &[CaseSummary]) {
    let mut lines = Vec::new();
    for c in cases {
        for problem in problems(c) {
            let at = match problem.repetition {
                Some(r) => format!("{} rep {r}", c.id),
                None => c.id.clone(),
            };
            let line = match &problem.expectation {
                Some(e) => format!("{at}: `{e}` {}", one_line(&problem.message)),
                None => format!("{at}: {}", one_line(&problem.message)),
            };
            lines.push(line);
        }
    }
    if lines.is_empty() {
        return;
    }
    let _ = writeln!(out, "{}", p.bold("Failures and errors"));
    for l in lines {
        let _ = writeln!(out, "  {l}");
    }
    out.push('\n');
}

/// Pads to `width` characters (not bytes: `µ` is one column).
fn pad(s: &str, width: usize) -> String {
    let n = s.chars().count();
    if n >= width {
        s.to_string()
    } else {
        format!("{s}{}", " ".repeat(width - n))
    }
}

/// Line breaks and control characters would break the table.
fn one_line(s: &str) -> String {
    s.split(['\n', '\r'])
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ⏎ ")
        .chars()
        .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_flattens_and_defuses_escapes() {
        assert_eq!(one_line("a\nhint: b\n"), "a ⏎ hint: b");
        assert_eq!(one_line("\u{1b}[31m"), "\u{FFFD}[31m");
        assert_eq!(pad("µs", 4), "µs  ");
    }
}
