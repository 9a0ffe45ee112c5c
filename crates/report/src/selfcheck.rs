//! The emulation self-check section: per emulated link and phase, what the
//! plan set beside what the self-check measured between the link's ends
//! (round trip, its spread, loss, rate), and per case the emulator's
//! release lateness. Read from the run-level `selfcheck.*` samples and the
//! cases' `link.lateness` samples; absent when there are none (no
//! emulated links, or the plan turned the check off).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use netproof_sample::Value;
use netproof_sample::metric::Unit;

use crate::Report;
use crate::markup::escape;

/// One link in one phase: the figures by metric.
#[derive(Default)]
struct Row {
    rtt: Vec<f64>,
    single: BTreeMap<String, f64>,
}

pub(crate) fn section(out: &mut String, report: &Report) {
    let data = report.data();
    let mut rows: BTreeMap<(String, String), Row> = BTreeMap::new();
    for &i in report.index().samples(None) {
        let s = &data.samples[i].sample;
        let Some(metric) = s.metric.strip_prefix("selfcheck.") else {
            continue;
        };
        let (Some(link), Some(phase)) = (s.labels.get("link"), s.labels.get("phase")) else {
            continue;
        };
        let Value::Num(v) = s.value else {
            continue;
        };
        let row = rows.entry((phase.clone(), link.clone())).or_default();
        if metric == "rtt" {
            row.rtt.push(v);
        } else {
            row.single.insert(metric.to_string(), v);
        }
    }
    let late = lateness(report);
    if rows.is_empty() && late.is_empty() {
        return;
    }
    out.push_str("<h2 id=\"self-check\">Emulation self-check</h2>\n");
    if !rows.is_empty() {
        out.push_str(
            "<p>Each emulated link measured between its two ends: 50 ICMP echoes \
             (round trip against both directions' <code>delay</code>, lost echoes \
             against both directions' <code>loss</code>) and, for a link with a \
             <code>rate</code>, a UDP burst above it.</p>\n<table>\n<tr><th>Phase</th>\
             <th>Link</th><th>Round trip, plan</th><th>Measured p50</th>\
             <th>p10 – p90</th><th>Loss, plan</th><th>Measured</th>\
             <th>Rate, plan</th><th>Measured</th></tr>\n",
        );
        let s = |v: Option<f64>| v.map_or("–".to_string(), |v| Unit::Seconds.format(v));
        let r = |v: Option<f64>| v.map_or("–".to_string(), |v| Unit::Ratio.format(v));
        let b = |v: Option<f64>| v.map_or("–".to_string(), |v| Unit::BitsPerSecond.format(v));
        for ((phase, link), row) in &rows {
            let mut rtt = row.rtt.clone();
            rtt.sort_by(f64::total_cmp);
            let q = |p: f64| {
                (!rtt.is_empty()).then(|| rtt[((rtt.len() - 1) as f64 * p).round() as usize])
            };
            let get = |k: &str| row.single.get(k).copied();
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
                 <td class=\"num\">{} – {}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
                 <td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                escape(phase),
                escape(link),
                s(get("plan_rtt")),
                s(q(0.5)),
                s(q(0.1)),
                s(q(0.9)),
                r(get("plan_loss")),
                r(get("loss")),
                b(get("plan_rate")),
                b(get("rate")),
            );
        }
        out.push_str("</table>\n");
    }
    if !late.is_empty() {
        out.push_str(
            "<p>How late each emulator released packets after their due time, per \
             case (a case whose p99 passed the plan's <code>lateness_warning</code> \
             share of the link's delay carries a warning):</p>\n<table>\n<tr><th>Case</th>\
             <th>Link</th><th>p50</th><th>p99</th><th>Max</th></tr>\n",
        );
        for ((case, link), q) in &late {
            let f = |k: &str| {
                q.get(k)
                    .map_or("–".to_string(), |v| Unit::Seconds.format(*v))
            };
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                escape(case),
                escape(link),
                f("p50"),
                f("p99"),
                f("max")
            );
        }
        out.push_str("</table>\n");
    }
}

/// `link.lateness` by (case label, link): quantile -> seconds.
fn lateness(report: &Report) -> BTreeMap<(String, String), BTreeMap<String, f64>> {
    let data = report.data();
    let mut out: BTreeMap<(String, String), BTreeMap<String, f64>> = BTreeMap::new();
    for c in &data.cases {
        let name = if c.info.repetitions > 1 {
            format!("{} #{}", c.info.case_id, c.info.repetition)
        } else {
            c.info.case_id.clone()
        };
        for &i in report.index().samples(Some(c.id)) {
            let s = &data.samples[i].sample;
            if s.metric != "link.lateness" {
                continue;
            }
            let (Some(link), Some(q), Value::Num(v)) =
                (s.labels.get("link"), s.labels.get("quantile"), &s.value)
            else {
                continue;
            };
            out.entry((name.clone(), link.clone()))
                .or_default()
                .insert(q.clone(), *v);
        }
    }
    out
}
