//! The index of several runs (`netproof demo`): one offline HTML file with
//! a row per plan (status, cases by verdict, duration, a link to the run's
//! own report) and, under it, each plan's cases with their verdicts, so a
//! reader sees at a glance what ran and where to look. Plans that never ran
//! (an interrupted demo) are listed as such, never left out.

use std::fmt::Write as _;

use crate::Report;
use crate::markup::escape;

const CSS: &str = include_str!("html.css");

/// One plan of the index.
pub struct IndexEntry<'a> {
    /// The plan file, as the reader would open it (relative to the index).
    pub plan_path: String,
    /// The plan's name, for plans that did not run.
    pub plan_name: String,
    /// The run's report and the path of its HTML file relative to the
    /// index, when the plan ran.
    pub run: Option<(&'a Report, String)>,
    /// Why it did not run or did not finish, if so.
    pub note: Option<String>,
}

/// Renders the index: `title`, a paragraph of `intro` (plain text), and the
/// entries in order.
pub fn html(title: &str, intro: &str, entries: &[IndexEntry<'_>]) -> String {
    let mut out = String::with_capacity(16 * 1024);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>\n{CSS}</style>\n</head>\n<body>\n<h1>{}</h1>\n<p class=\"summary\">{}</p>\n",
        escape(title),
        escape(title),
        escape(intro)
    );
    let (mut passed, mut cases) = (0, 0);
    for e in entries {
        if let Some((r, _)) = &e.run {
            let c = r.summary().counts;
            passed += c.passed;
            cases += c.cases;
        }
    }
    let ran = entries.iter().filter(|e| e.run.is_some()).count();
    let _ = write!(
        out,
        "<p class=\"counts\">{ran} of {} plans ran; {passed} of {cases} cases passed.</p>\n\
         <table>\n<thead><tr><th>Plan</th><th>Summary</th><th>Status</th><th>Cases</th><th>Duration</th><th>Report</th></tr></thead>\n<tbody>\n",
        entries.len()
    );
    for e in entries {
        match &e.run {
            Some((report, href)) => {
                let s = report.summary();
                let info = &report.data().run;
                let duration = info
                    .ended
                    .map(|end| format!("{:.1} s", (end.0 - info.info.started.0) as f64 / 1e9))
                    .unwrap_or_else(|| "—".into());
                let status = s.status.as_str();
                let _ = writeln!(
                    out,
                    "<tr><td><a href=\"#{}\">{}</a><br><a class=\"muted mono\" href=\"{}\">{}</a></td><td>{}</td><td><span class=\"v v-{status}\">{status}</span>{}</td><td class=\"num\">{} / {} passed{}</td><td class=\"num\">{duration}</td><td><a href=\"{}\">run {}</a></td></tr>",
                    escape(&s.plan),
                    escape(&s.plan),
                    escape(&e.plan_path),
                    escape(&e.plan_path),
                    escape(&info.info.summary),
                    e.note
                        .as_deref()
                        .map(|n| format!("<br><span class=\"note\">{}</span>", escape(n)))
                        .unwrap_or_default(),
                    s.counts.passed,
                    s.counts.cases,
                    match (s.counts.failed, s.counts.errored) {
                        (0, 0) => String::new(),
                        (f, 0) => format!(", {f} failed"),
                        (0, x) => format!(", {x} errored"),
                        (f, x) => format!(", {f} failed, {x} errored"),
                    },
                    escape(href),
                    s.run
                );
            }
            None => {
                let _ = writeln!(
                    out,
                    "<tr><td>{}<br><span class=\"muted mono\">{}</span></td><td></td><td><span class=\"v v-none\">not run</span>{}</td><td></td><td></td><td></td></tr>",
                    escape(&e.plan_name),
                    escape(&e.plan_path),
                    e.note
                        .as_deref()
                        .map(|n| format!("<br><span class=\"note\">{}</span>", escape(n)))
                        .unwrap_or_default(),
                );
            }
        }
    }
    out.push_str("</tbody>\n</table>\n");
    for e in entries {
        let Some((report, href)) = &e.run else {
            continue;
        };
        let s = report.summary();
        let _ = writeln!(
            out,
            "<h2 id=\"{}\">{} <span class=\"v v-{}\">{}</span></h2>\n<p><a href=\"{}\">The full report of run {}</a>: every expectation, measurement, plot and event.</p>\n<table>\n<thead><tr><th>Case</th><th>Title</th><th>Verdict</th></tr></thead>\n<tbody>",
            escape(&s.plan),
            escape(&s.plan),
            s.status.as_str(),
            s.status.as_str(),
            escape(href),
            s.run
        );
        for c in &s.cases {
            let _ = writeln!(
                out,
                "<tr><td class=\"mono\">{}</td><td>{}</td><td><span class=\"v v-{}\">{}</span></td></tr>",
                escape(&c.id),
                escape(&c.title),
                c.verdict.as_str(),
                c.verdict.as_str()
            );
        }
        out.push_str("</tbody>\n</table>\n");
    }
    let _ = write!(
        out,
        "<footer>Written by netproof {}. Each run's data stays in the results database: <code>netproof runs</code>, <code>netproof report RUN</code>.</footer>\n</body>\n</html>\n",
        env!("CARGO_PKG_VERSION")
    );
    out
}
