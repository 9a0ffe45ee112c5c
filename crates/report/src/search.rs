//! A `search` step's trials as a table: each trial's number, the value it
//! tried, whether it passed, and what its generator measured (sent, lost,
//! loss rate), then the answer, per repetition.
//!
//! Read from the samples alone (`search.trial_*` with labels `trial` and
//! `pass`, the trial's own samples with label `trial`, and the answer
//! `search.<unit>`), so the table is rebuilt for any stored run.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use netproof_sample::{Sample, Unit};
use netproof_store::RunData;

use crate::case::{CaseGroup, Index};
use crate::markup::escape;

/// One trial of a search.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Trial {
    /// Its number, from 1.
    pub n: u32,
    /// The value tried.
    pub value: f64,
    /// Whether the search's condition held.
    pub pass: bool,
    /// Frames (packets) sent, when the trial counted them.
    pub sent: Option<f64>,
    /// Frames lost.
    pub lost: Option<f64>,
    /// The loss rate.
    pub loss: Option<f64>,
}

/// One search of one repetition.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SearchTable {
    /// The search step's name.
    pub step: String,
    /// The repetition (1, 2, ...).
    pub rep: usize,
    /// The key searched.
    pub param: String,
    /// The key's unit.
    pub unit: Unit,
    /// Trials in order.
    pub trials: Vec<Trial>,
    /// The answer, when one passed.
    pub answer: Option<f64>,
}

/// The searches of a case's repetitions, in order of their first trial.
pub(crate) fn tables(data: &RunData, index: &Index, group: &CaseGroup) -> Vec<SearchTable> {
    let mut out: Vec<SearchTable> = Vec::new();
    for (rep, &ci) in group.reps.iter().enumerate() {
        let rows: Vec<&Sample> = index
            .samples(Some(data.cases[ci].id))
            .iter()
            .map(|&i| &data.samples[i].sample)
            .collect();
        collect(rep + 1, &rows, &mut out);
    }
    out.retain(|t| !t.trials.is_empty());
    out
}

/// Adds repetition `rep`'s searches, read from its samples, to `out`.
fn collect(rep: usize, samples: &[&Sample], out: &mut Vec<SearchTable>) {
    // Per step and trial: (sent, lost, loss rate).
    type Figures = (Option<f64>, Option<f64>, Option<f64>);
    let mut figures: BTreeMap<(String, u32), Figures> = BTreeMap::new();
    for s in samples {
        let (Some(step), Some(n)) = (
            s.labels.get("step"),
            s.labels.get("trial").and_then(|t| t.parse::<u32>().ok()),
        ) else {
            continue;
        };
        let v = s.value.as_f64();
        let f = figures.entry((step.clone(), n)).or_default();
        match s.metric.rsplit('.').next() {
            Some("sent") => f.0 = v,
            Some("lost") => f.1 = v,
            Some("loss" | "udp_loss") => f.2 = v,
            _ => {}
        }
    }
    for s in samples {
        let Some(step) = s.labels.get("step") else {
            continue;
        };
        let trial = s.metric.starts_with("search.trial_");
        let answer = matches!(
            s.metric.as_str(),
            "search.rate" | "search.size" | "search.count" | "search.duration"
        );
        if !trial && !answer {
            continue;
        }
        let t = match out.iter().position(|t| t.step == *step && t.rep == rep) {
            Some(p) => p,
            None => {
                out.push(SearchTable {
                    step: step.clone(),
                    rep,
                    param: s.labels.get("param").cloned().unwrap_or_default(),
                    unit: s.unit,
                    trials: Vec::new(),
                    answer: None,
                });
                out.len() - 1
            }
        };
        if answer {
            out[t].answer = s.value.as_f64();
            continue;
        }
        let (Some(n), Some(value)) = (
            s.labels.get("trial").and_then(|t| t.parse::<u32>().ok()),
            s.value.as_f64(),
        ) else {
            continue;
        };
        let (sent, lost, loss) = figures.get(&(step.clone(), n)).copied().unwrap_or_default();
        out[t].trials.push(Trial {
            n,
            value,
            pass: s.labels.get("pass").is_some_and(|p| p == "true"),
            sent,
            lost,
            loss,
        });
    }
}

/// Writes each search's trials as an HTML table.
pub(crate) fn html(out: &mut String, tables: &[SearchTable]) {
    for t in tables {
        let _ = writeln!(
            out,
            "<h3>Search <code>{}</code> (rep {}): <code>{}</code> {}</h3>\n<table>\n<tr><th>Trial</th><th>{}</th><th>Condition</th><th>Sent</th><th>Lost</th><th>Loss</th></tr>",
            escape(&t.step),
            t.rep,
            escape(&t.param),
            match t.answer {
                Some(a) => format!("= {}", escape(&t.unit.format(a))),
                None => "not found".to_string(),
            },
            escape(&t.param)
        );
        let num =
            |v: Option<f64>, u: Unit| v.map_or_else(|| "—".to_string(), |v| escape(&u.format(v)));
        for r in &t.trials {
            let _ = writeln!(
                out,
                "<tr><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                r.n,
                escape(&t.unit.format(r.value)),
                if r.pass { "pass" } else { "fail" },
                num(r.sent, Unit::Count),
                num(r.lost, Unit::Count),
                num(r.loss, Unit::Ratio)
            );
        }
        out.push_str("</table>\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use netproof_sample::metric::{PKTGEN_LOSS, PKTGEN_SENT, SEARCH_RATE, SEARCH_TRIAL_RATE};

    #[test]
    fn a_searchs_trials_and_answer_make_one_table() {
        let trial = |n: u32, v: f64, pass: bool| {
            Sample::num(&SEARCH_TRIAL_RATE, v)
                .label("step", "thr")
                .label("param", "rate")
                .label("trial", n.to_string())
                .label("pass", pass.to_string())
        };
        let samples = [
            Sample::num(&PKTGEN_SENT, 1000.0)
                .label("step", "thr")
                .label("trial", "1"),
            Sample::num(&PKTGEN_LOSS, 0.25)
                .label("step", "thr")
                .label("trial", "1"),
            trial(1, 40e6, false),
            Sample::num(&PKTGEN_SENT, 500.0)
                .label("step", "thr")
                .label("trial", "2"),
            Sample::num(&PKTGEN_LOSS, 0.0)
                .label("step", "thr")
                .label("trial", "2"),
            trial(2, 20e6, true),
            Sample::num(&SEARCH_RATE, 20e6)
                .label("step", "thr")
                .label("param", "rate"),
        ];
        let refs: Vec<&Sample> = samples.iter().collect();
        let mut t = Vec::new();
        collect(1, &refs, &mut t);
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].answer, Some(20e6));
        assert_eq!(t[0].trials.len(), 2);
        assert_eq!(
            t[0].trials[0],
            Trial {
                n: 1,
                value: 40e6,
                pass: false,
                sent: Some(1000.0),
                lost: None,
                loss: Some(0.25)
            }
        );
        let mut html_out = String::new();
        html(&mut html_out, &t);
        assert!(
            html_out.contains("<code>rate</code> = 20.0 Mbit/s"),
            "{html_out}"
        );
        assert!(
            html_out.contains(
                "<td class=\"num\">40.0 Mbit/s</td><td>fail</td><td class=\"num\">1000</td>"
            ),
            "{html_out}"
        );
    }
}
