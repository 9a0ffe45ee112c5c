//! The HTML report: one self-contained, offline file.
//!
//! Everything is inline: the stylesheet, the topology diagram and every
//! plot are part of the document, there is no script, and nothing refers
//! to another file or host (the only URL in the file is the SVG namespace
//! name, which browsers never fetch). It reads top to bottom as a test
//! report: the header (plan, summary, status and its banner, times, backend,
//! seed and its source, version, command line), the case overview, host
//! facts, the topology, then one section per case (purpose, repetitions,
//! procedure steps, expectations with per-repetition measurements, the
//! median and its confidence interval, statistics and plots per metric,
//! events, artifacts), the run-level events and samples, and the plan text.
//! All text from the store is escaped with [`escape`].

use std::fmt::Write as _;

use netproof_sample::{Unit, stats};
use netproof_store::{RunData, Verdict};

use crate::Report;
use crate::case::CaseGroup;
use crate::markup::escape;
use crate::plot::{self, Marker};
use crate::series::{self, MetricSeries};
use crate::summary::{self, CaseSummary, problems, value_text};
use crate::{MAX_INCLUDED_ARTIFACT, time, topology};

const CSS: &str = include_str!("html.css");
/// Events listed per table; the rest are counted, not shown.
const MAX_EVENT_ROWS: usize = 500;
/// Events drawn as markers on a time series, at most.
const MAX_MARKERS: usize = 40;

pub(crate) fn render(report: &Report) -> String {
    let data = report.data();
    let info = &data.run.info;
    let mut out = String::with_capacity(64 * 1024);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"generator\" content=\"netproof {}\">\n\
         <title>{} — run {} — {}</title>\n<style>\n{CSS}</style>\n</head>\n<body>\n",
        escape(&info.netproof_version),
        escape(&info.plan_name),
        data.run.id.0,
        data.run.status.as_str()
    );
    header(&mut out, report);
    overview(&mut out, report);
    host(&mut out, data);
    topology_section(&mut out, data);
    crate::selfcheck::section(&mut out, report);
    let summary = report.summary_ref();
    for (i, (group, case)) in report.index().cases.iter().zip(&summary.cases).enumerate() {
        case_section(&mut out, report, i, group, case);
    }
    run_level(&mut out, report);
    let _ = write!(
        out,
        "<h2 id=\"plan\">Plan</h2>\n<details><summary>Plan text: <code>{}</code> \
         (sha256 <code>{}</code>)</summary>\n<pre>{}</pre>\n</details>\n",
        escape(&info.plan_path),
        escape(&info.plan_hash),
        escape(&info.plan_text)
    );
    let _ = write!(
        out,
        "<footer>Made by netproof {} from run {}{} alone; it can be made again from \
         there at any time.</footer>\n</body>\n</html>\n",
        escape(&info.netproof_version),
        data.run.id.0,
        report
            .location()
            .map(|l| format!(" as recorded in <code>{}</code>", escape(l)))
            .unwrap_or_else(|| " as recorded in its results database".to_string()),
    );
    out
}

fn badge(v: Option<Verdict>) -> String {
    match v {
        Some(v) => format!("<span class=\"v v-{0}\">{0}</span>", v.as_str()),
        None => "<span class=\"v v-none\">unfinished</span>".to_string(),
    }
}

fn header(out: &mut String, report: &Report) {
    let data = report.data();
    let run = &data.run;
    let info = &run.info;
    let s = report.summary_ref();
    let _ = writeln!(
        out,
        "<header>\n<h1>{} <span class=\"v v-{1}\">{1}</span></h1>",
        escape(&info.plan_name),
        run.status.as_str()
    );
    if !info.summary.is_empty() {
        let _ = writeln!(out, "<p class=\"summary\">{}</p>", escape(&info.summary));
    }
    if let Some(note) = &s.status_note {
        let class = if run.status == netproof_store::RunStatus::Error {
            "banner banner-error"
        } else {
            "banner"
        };
        let _ = writeln!(
            out,
            "<div class=\"{class}\" role=\"alert\"><strong>Run {}.</strong> {}</div>",
            run.status.as_str(),
            escape(note)
        );
    }
    let c = &s.counts;
    out.push_str("<p class=\"counts\">");
    for (n, what, class) in [
        (c.passed, "passed", "pass"),
        (c.failed, "failed", "fail"),
        (c.errored, "errored", "error"),
        (c.skipped, "skipped", "skipped"),
    ] {
        if n == 0 && what == "skipped" {
            continue;
        }
        // Zero counts stay grey so the eye finds the ones that matter.
        let class = if n == 0 { "none" } else { class };
        let _ = write!(out, "<span class=\"v v-{class}\">{n} {what}</span> ");
    }
    let _ = writeln!(out, "of {}</p>", summary::cases_text(c.cases));

    out.push_str("<table class=\"facts\">\n");
    let mut fact = |k: &str, v: String| {
        let _ = writeln!(out, "<tr><th>{k}</th><td>{v}</td></tr>");
    };
    fact("Run", format!("{} ({})", run.id.0, run.status.as_str()));
    fact("Started", escape(&time::rfc3339(info.started)));
    fact(
        "Ended",
        run.ended
            .map_or_else(|| "—".to_string(), |t| escape(&time::rfc3339(t))),
    );
    fact(
        "Duration",
        summary::run_duration(data).map_or_else(|| "—".to_string(), time::duration_text),
    );
    fact("Backend", format!("<code>{}</code>", escape(&info.backend)));
    fact(
        "Seed",
        format!(
            "<code>{}</code> (from {})",
            info.seed,
            escape(&seed_source(&info.seed_source))
        ),
    );
    fact(
        "Plan",
        format!(
            "<code>{}</code><br><span class=\"muted mono\">sha256 {}</span>",
            escape(&info.plan_path),
            escape(&info.plan_hash)
        ),
    );
    fact("netproof", escape(&info.netproof_version));
    fact(
        "Command line",
        format!("<code>{}</code>", escape(&info.command_line)),
    );
    if let Some(db) = report.location() {
        fact("Results database", format!("<code>{}</code>", escape(db)));
    }
    out.push_str("</table>\n</header>\n");
}

fn seed_source(s: &str) -> String {
    match s {
        "plan" => "the plan".to_string(),
        "flag" => "--seed".to_string(),
        "drawn" => "drawn at random and recorded".to_string(),
        other => other.to_string(),
    }
}

fn overview(out: &mut String, report: &Report) {
    let s = report.summary_ref();
    out.push_str("<h2 id=\"cases\">Cases</h2>\n");
    if s.cases.is_empty() {
        out.push_str("<p class=\"note\">No cases were recorded for this run.</p>\n");
        return;
    }
    out.push_str(
        "<table>\n<tr><th>Case</th><th>Title</th><th>Verdict</th><th>Repetitions</th>\
         <th>Expectations passed</th></tr>\n",
    );
    for (i, c) in s.cases.iter().enumerate() {
        let passed = c
            .expectations
            .iter()
            .filter(|e| e.verdict == Verdict::Pass)
            .count();
        let reps = if c.repetitions < c.planned_repetitions {
            format!("{} of {}", c.repetitions, c.planned_repetitions)
        } else {
            c.repetitions.to_string()
        };
        let _ = writeln!(
            out,
            "<tr><td><a href=\"#case-{i}\"><code>{}</code></a></td><td>{}</td><td>{}</td>\
             <td class=\"num\">{reps}</td><td class=\"num\">{passed} of {}</td></tr>",
            escape(&c.id),
            escape(&c.title),
            badge(Some(c.verdict)),
            c.expectations.len()
        );
    }
    out.push_str("</table>\n");
}

fn host(out: &mut String, data: &RunData) {
    let facts = &data.run.info.host;
    out.push_str("<h2 id=\"host\">Host</h2>\n");
    if facts.is_empty() {
        out.push_str("<p class=\"note\">No host facts were recorded.</p>\n");
        return;
    }
    out.push_str("<table class=\"facts\">\n");
    for (k, v) in facts {
        let _ = writeln!(out, "<tr><th>{}</th><td>{}</td></tr>", escape(k), escape(v));
    }
    out.push_str("</table>\n");
}

fn topology_section(out: &mut String, data: &RunData) {
    let t = &data.run.info.topology;
    out.push_str("<h2 id=\"topology\">Topology</h2>\n");
    if t.nodes.is_empty() {
        out.push_str("<p class=\"note\">No topology was recorded.</p>\n");
        return;
    }
    match topology::diagram(t) {
        Some(svg) => {
            out.push_str("<figure>\n");
            out.push_str(&svg);
            out.push_str(
                "<figcaption class=\"muted\">Solid lines: links shaped by a mechanism; dashed: plain \
                 veth pairs. Labels give each link's properties and [mechanism]. Rows are hops \
                 from the best-connected node.</figcaption>\n</figure>\n",
            );
        }
        None => {
            let _ = writeln!(
                out,
                "<p class=\"note\">{} nodes are more than a drawing shows readably (at most {}); \
                 the tables below list every node and link.</p>",
                t.nodes.len(),
                topology::MAX_DRAWN
            );
            out.push_str(
                "<table>\n<tr><th>Node</th><th>Role</th><th>Services</th><th>Addresses</th></tr>\n",
            );
            for n in &t.nodes {
                let _ = writeln!(
                    out,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
                    escape(&n.name),
                    escape(&n.role),
                    escape(&n.services.join(", ")),
                    escape(&n.addresses.join(" "))
                );
            }
            out.push_str("</table>\n");
        }
    }
    if !t.links.is_empty() {
        out.push_str("<table>\n<tr><th>Link</th><th>Properties</th><th>Mechanism</th></tr>\n");
        for l in &t.links {
            let known = |n: &str| t.nodes.iter().any(|x| x.name == n);
            let warn = if known(&l.ends[0]) && known(&l.ends[1]) {
                ""
            } else {
                " <span class=\"note\">(names a node the topology lacks; not drawn)</span>"
            };
            let _ = writeln!(
                out,
                "<tr><td>{} — {}{warn}</td><td>{}</td><td><code>{}</code></td></tr>",
                escape(&l.ends[0]),
                escape(&l.ends[1]),
                if l.properties.is_empty() {
                    "unimpaired".to_string()
                } else {
                    escape(&l.properties)
                },
                escape(&l.mechanism)
            );
        }
        out.push_str("</table>\n");
    }
    let tuned: Vec<_> = t.nodes.iter().filter(|n| !n.sysctls.is_empty()).collect();
    if !tuned.is_empty() {
        out.push_str(
            "<p>Host tuning the plan applied (per-namespace sysctls):</p>\n<table>\n<tr><th>Node</th><th>Sysctl</th><th>Value</th></tr>\n",
        );
        for n in tuned {
            for (k, v) in &n.sysctls {
                let _ = writeln!(
                    out,
                    "<tr><td>{}</td><td><code>{}</code></td><td><code>{}</code></td></tr>",
                    escape(&n.name),
                    escape(k),
                    escape(v)
                );
            }
        }
        out.push_str("</table>\n");
    }
}

fn case_section(
    out: &mut String,
    report: &Report,
    i: usize,
    group: &CaseGroup,
    case: &CaseSummary,
) {
    let data = report.data();
    let index = report.index();
    let _ = writeln!(
        out,
        "<section class=\"case\" id=\"case-{i}\">\n<h2><code>{}</code> {} {}</h2>",
        escape(&case.id),
        escape(&case.title),
        badge(Some(case.verdict))
    );
    match &case.purpose {
        Some(p) if !p.trim().is_empty() => {
            let _ = writeln!(out, "<p>{}</p>", escape(p).replace('\n', "<br>\n"));
        }
        _ => {}
    }

    // Repetitions.
    if case.reps.len() > 1
        || case
            .reps
            .iter()
            .any(|r| r.verdict.is_none() || r.error.is_some())
    {
        out.push_str("<h3>Repetitions</h3>\n<table>\n<tr><th>Rep</th><th>Started</th><th>Duration</th><th>Verdict</th><th>Error</th></tr>\n");
        for (r, &ci) in case.reps.iter().zip(&group.reps) {
            let _ = writeln!(
                out,
                "<tr><td class=\"num\">{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td></tr>",
                r.repetition,
                escape(&time::rfc3339(data.cases[ci].info.started)),
                r.duration_s
                    .map_or_else(|| "—".to_string(), time::duration_text),
                badge(r.verdict),
                r.error.as_deref().map(escape).unwrap_or_default()
            );
        }
        out.push_str("</table>\n");
    }

    steps(out, report, group);
    expectations(out, case);
    crate::search::html(out, &crate::search::tables(data, index, group));

    let problems = problems(case);
    if !problems.is_empty() {
        out.push_str("<h3>Failures and errors</h3>\n<ul>\n");
        for p in problems {
            let at = p
                .repetition
                .map(|r| format!("rep {r}: "))
                .unwrap_or_default();
            let what = p
                .expectation
                .map(|e| format!("<code>{}</code> ", escape(&e)))
                .unwrap_or_default();
            let _ = writeln!(out, "<li>{at}{what}{}</li>", escape(&p.message));
        }
        out.push_str("</ul>\n");
    }

    let all = series::for_case(data, index, group);
    let markers: Vec<Marker> = group
        .reps
        .iter()
        .enumerate()
        .flat_map(|(r, &ci)| {
            let c = &data.cases[ci];
            index.events(Some(c.id)).iter().map(move |&e| Marker {
                rep: r,
                t: time::seconds_between(c.info.started, data.events[e].time),
            })
        })
        .collect();
    let markers = if markers.len() <= MAX_MARKERS {
        markers
    } else {
        Vec::new()
    };
    metrics(out, &all, "seconds since case start", &markers);
    out.push_str(&crate::procedure::plots(data, index, group));

    events(out, report, group);
    artifacts(out, report, group);
    out.push_str("</section>\n");
}

fn steps(out: &mut String, report: &Report, group: &CaseGroup) {
    let data = report.data();
    let index = report.index();
    // Rows by (phase, name) in order of first execution; each repetition's
    // verdict and errors in its row.
    let mut rows: Vec<(usize, Vec<(u32, usize)>)> = Vec::new();
    for &ci in &group.reps {
        let rep = data.cases[ci].info.repetition;
        for &si in index.steps(data.cases[ci].id) {
            let s = &data.steps[si].info;
            match rows.iter_mut().find(|(first, _)| {
                let f = &data.steps[*first].info;
                f.name == s.name && f.phase == s.phase
            }) {
                Some((_, reps)) => reps.push((rep, si)),
                None => rows.push((si, vec![(rep, si)])),
            }
        }
    }
    out.push_str("<h3>Procedure</h3>\n");
    if rows.is_empty() {
        out.push_str("<p class=\"note\">No steps were recorded.</p>\n");
        return;
    }
    let multi = group.reps.len() > 1;
    out.push_str(
        "<table>\n<tr><th>#</th><th>Phase</th><th>Step</th><th>Kind</th><th>Node</th>\
         <th>Description</th><th>Verdict</th><th>Errors</th></tr>\n",
    );
    for (n, (first, reps)) in rows.iter().enumerate() {
        let s = &data.steps[*first].info;
        let verdicts: Vec<String> = reps
            .iter()
            .map(|&(rep, si)| {
                let b = badge(data.steps[si].verdict);
                if multi { format!("{rep}: {b}") } else { b }
            })
            .collect();
        let errors: Vec<String> = reps
            .iter()
            .filter_map(|&(rep, si)| {
                data.steps[si].error.as_ref().map(|e| {
                    let at = if multi {
                        format!("rep {rep}: ")
                    } else {
                        String::new()
                    };
                    format!("{at}{}", escape(e))
                })
            })
            .collect();
        let _ = writeln!(
            out,
            "<tr><td class=\"num\">{}</td><td>{}</td><td><code>{}</code></td><td><code>{}</code></td>\
             <td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            n + 1,
            escape(&s.phase),
            escape(&s.name),
            escape(&s.kind),
            escape(&s.node),
            escape(&s.description),
            verdicts.join("<br>"),
            errors.join("<br>")
        );
    }
    out.push_str("</table>\n");
}

fn expectations(out: &mut String, case: &CaseSummary) {
    out.push_str("<h3>Expectations</h3>\n");
    if case.expectations.is_empty() {
        out.push_str("<p class=\"note\">This case has no expectations.</p>\n");
        return;
    }
    out.push_str("<table>\n<tr><th>Expectation</th><th>Threshold</th>");
    for r in &case.reps {
        if case.reps.len() > 1 {
            let _ = write!(out, "<th>Rep {}</th>", r.repetition);
        } else {
            out.push_str("<th>Measured</th>");
        }
    }
    if case.reps.len() > 1 {
        out.push_str("<th>Median [confidence interval]</th>");
    }
    out.push_str("<th>Samples</th><th>Verdict</th><th>Detail</th></tr>\n");
    for e in &case.expectations {
        let unit = e.unit();
        let _ = write!(
            out,
            "<tr><td><code>{}</code></td><td class=\"num\">{}</td>",
            escape(&e.text),
            escape(&e.threshold_text())
        );
        for m in &e.measured {
            let class = match m.verdict {
                Some(Verdict::Fail) => " fail-cell",
                Some(Verdict::Error) | None => " error-cell",
                _ => "",
            };
            let v = e.rep_text(m).unwrap_or_else(|| "not measured".to_string());
            let _ = write!(out, "<td class=\"num{class}\">{}</td>", escape(&v));
        }
        if case.reps.len() > 1 {
            let median = match (e.median, &e.ci) {
                (Some(m), Some(ci)) => format!("{} {}", value_text(m, unit), ci.describe(unit)),
                (Some(m), None) => value_text(m, unit),
                (None, _) => "—".to_string(),
            };
            let _ = write!(out, "<td>{}</td>", escape(&median));
        }
        let samples: Vec<String> = e.measured.iter().map(|m| m.samples.to_string()).collect();
        let _ = writeln!(
            out,
            "<td class=\"num\">{}</td><td>{}</td><td>{}</td></tr>",
            samples.join(" / "),
            badge(Some(e.verdict)),
            e.detail.as_deref().map(escape).unwrap_or_default()
        );
    }
    out.push_str("</table>\n");
}

/// The statistics table and the plots of each series.
fn metrics(out: &mut String, all: &[MetricSeries], x_desc: &str, markers: &[Marker]) {
    if all.is_empty() {
        out.push_str("<h3>Measurements</h3>\n<p class=\"note\">No samples were recorded.</p>\n");
        return;
    }
    out.push_str(
        "<h3>Measurements</h3>\n<table>\n<tr><th>Metric</th><th>Step</th><th>Attempts</th>\
         <th>Success</th><th>Values</th><th>Min</th><th>p50</th><th>p90</th><th>p99</th>\
         <th>Max</th></tr>\n",
    );
    for s in all {
        let values = s.values();
        let stat = |p: f64| {
            if s.is_numeric() {
                stats::percentile(&values, p).map_or_else(|| "—".to_string(), |v| s.unit.format(v))
            } else {
                "—".to_string()
            }
        };
        let _ = writeln!(
            out,
            "<tr><td><code>{}</code></td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            escape(&s.metric),
            escape(&s.step),
            s.attempts(),
            s.success_ratio()
                .map_or_else(|| "—".to_string(), |r| Unit::Ratio.format(r)),
            values.len(),
            escape(&stat(0.0)),
            escape(&stat(50.0)),
            escape(&stat(90.0)),
            escape(&stat(99.0)),
            escape(&stat(100.0)),
        );
    }
    out.push_str("</table>\n");
    // A single value makes no curve: the table above says all there is.
    for s in all
        .iter()
        .filter(|s| s.is_numeric() && s.values().len() >= 2)
    {
        let _ = writeln!(
            out,
            "<figure class=\"plots\" aria-label=\"{}\">",
            escape(&s.title())
        );
        out.push_str(&plot::time_series(s, x_desc, markers));
        out.push_str(&plot::cdf(s));
        out.push_str("</figure>\n");
    }
}

fn events(out: &mut String, report: &Report, group: &CaseGroup) {
    let data = report.data();
    let index = report.index();
    let rows: Vec<(u32, f64, usize)> = group
        .reps
        .iter()
        .flat_map(|&ci| {
            let c = &data.cases[ci];
            index.events(Some(c.id)).iter().map(move |&e| {
                (
                    c.info.repetition,
                    time::seconds_between(c.info.started, data.events[e].time),
                    e,
                )
            })
        })
        .collect();
    if rows.is_empty() {
        return;
    }
    out.push_str("<h3>Events</h3>\n");
    event_table(out, data, &rows, group.reps.len() > 1, "since case start");
}

fn event_table(
    out: &mut String,
    data: &RunData,
    rows: &[(u32, f64, usize)],
    multi: bool,
    since: &str,
) {
    out.push_str("<table>\n<tr>");
    if multi {
        out.push_str("<th>Rep</th>");
    }
    let _ = writeln!(
        out,
        "<th>Time {since}</th><th>Severity</th><th>Kind</th><th>Message</th><th>Labels</th></tr>"
    );
    for &(rep, t, e) in rows.iter().take(MAX_EVENT_ROWS) {
        let ev = &data.events[e];
        out.push_str("<tr>");
        if multi {
            let _ = write!(out, "<td class=\"num\">{rep}</td>");
        }
        let labels: Vec<String> = ev
            .labels
            .iter()
            .map(|(k, v)| format!("{}={}", escape(k), escape(v)))
            .collect();
        let _ = writeln!(
            out,
            "<td class=\"num\">{:+.3} s</td><td>{}</td><td><code>{}</code></td><td>{}</td><td class=\"mono\">{}</td></tr>",
            if t.is_finite() { t } else { 0.0 },
            ev.severity.as_str(),
            escape(&ev.kind),
            escape(&ev.message),
            labels.join(", ")
        );
    }
    out.push_str("</table>\n");
    if rows.len() > MAX_EVENT_ROWS {
        let _ = writeln!(
            out,
            "<p class=\"note\">{} more events are in the results database.</p>",
            rows.len() - MAX_EVENT_ROWS
        );
    }
}

fn artifacts(out: &mut String, report: &Report, group: &CaseGroup) {
    let data = report.data();
    let index = report.index();
    let list: Vec<(Option<u32>, usize)> = group
        .reps
        .iter()
        .flat_map(|&ci| {
            let c = &data.cases[ci];
            let rep = (group.reps.len() > 1).then_some(c.info.repetition);
            index.artifacts(Some(c.id)).iter().map(move |&a| (rep, a))
        })
        .collect();
    if list.is_empty() {
        return;
    }
    out.push_str("<h3>Artifacts</h3>\n");
    artifact_list(out, report, &list);
}

fn artifact_list(out: &mut String, report: &Report, list: &[(Option<u32>, usize)]) {
    let data = report.data();
    for &(rep, ai) in list {
        let a = &data.artifacts[ai];
        let step = a
            .step
            .and_then(|s| report.index().step_row(s))
            .map(|s| format!("step <code>{}</code> · ", escape(&data.steps[s].info.name)))
            .unwrap_or_default();
        let rep = rep.map(|r| format!("rep {r} · ")).unwrap_or_default();
        let head = format!(
            "{rep}{step}<strong>{}</strong> <span class=\"muted\">({}, {})</span>",
            escape(&a.name),
            escape(&a.media_type),
            size_text(a.size)
        );
        let content = report
            .artifact_content(a.id)
            .filter(|c| c.len() as u64 <= MAX_INCLUDED_ARTIFACT)
            .and_then(|c| std::str::from_utf8(c).ok());
        match content {
            Some("") => {
                let _ = writeln!(out, "<p>{head}: empty</p>");
            }
            Some(text) => {
                let _ = writeln!(
                    out,
                    "<details><summary>{head}</summary>\n<pre>{}</pre>\n</details>",
                    escape(text)
                );
            }
            None => {
                let why = if a.size > MAX_INCLUDED_ARTIFACT {
                    "larger than 64 KiB"
                } else {
                    "not text"
                };
                let _ = writeln!(
                    out,
                    "<p>{head}: not included ({why}); it is kept in the results database as artifact {}.</p>",
                    a.id
                );
            }
        }
    }
}

/// `3 B`, `97.7 KiB`: whole bytes below a KiB.
fn size_text(bytes: u64) -> String {
    if bytes < 1024 {
        format!("{bytes} B")
    } else {
        Unit::Bytes.format(bytes as f64)
    }
}

/// Events, samples and artifacts that belong to no case.
fn run_level(out: &mut String, report: &Report) {
    let data = report.data();
    let index = report.index();
    let events = index.events(None);
    let samples = index.samples(None);
    let artifacts = index.artifacts(None);
    if events.is_empty() && samples.is_empty() && artifacts.is_empty() {
        return;
    }
    out.push_str("<h2 id=\"run-level\">Run-level records</h2>\n");
    if !events.is_empty() {
        out.push_str("<h3>Events</h3>\n");
        let start = data.run.info.started;
        let rows: Vec<(u32, f64, usize)> = events
            .iter()
            .map(|&e| (0, time::seconds_between(start, data.events[e].time), e))
            .collect();
        event_table(out, data, &rows, false, "since run start");
    }
    if !samples.is_empty() {
        let all = series::for_run(data, index);
        metrics(out, &all, "seconds since run start", &[]);
    }
    if !artifacts.is_empty() {
        out.push_str("<h3>Artifacts</h3>\n");
        let list: Vec<(Option<u32>, usize)> = artifacts.iter().map(|&a| (None, a)).collect();
        artifact_list(out, report, &list);
    }
}
