//! Link impairments: the keys a `[[link]]` table (and its `a_to_b` and
//! `b_to_a` tables, and a `link_set` fault) may carry, read into an
//! [`Impairment`] with every problem at its file:line:col.

use std::path::Path;
use std::sync::Arc;

use crate::diagnostic::Finding;
use crate::model::{
    Chance, Codel, Distribution, Impairment, LinkImpairments, Loss, PlanTrace, QueueLimit, Reorder,
    Trace,
};
use crate::tree::{Checker, Table, Val};

use super::optional;

/// Every impairment key, in the reference's order.
pub(super) const KEYS: &[&str] = with_impairment_keys!();

/// The per-direction tables.
pub(super) const DIRECTIONS: &[&str] = &["a_to_b", "b_to_a"];

/// Reads the impairments of a link table (or a `link_set` fault): its own
/// keys apply both ways, `a_to_b` and `b_to_a` tables override them per
/// direction. `display` names the link in messages.
pub(super) fn link(
    ck: &mut Checker<'_>,
    plan_dir: &Path,
    t: &Table<'_, '_>,
    display: &str,
) -> Option<LinkImpairments> {
    let both = one(ck, plan_dir, t, display);
    let mut dirs = Vec::new();
    for key in DIRECTIONS {
        let dir = match t.get(key) {
            None => Some(Impairment::default()),
            Some(v) => {
                let what = format!("{display}.{key}");
                match v.table(ck, what.clone(), "a table of impairments") {
                    Some(sub) => {
                        sub.reject_unknown(ck, KEYS, &|k| match k {
                            "mtu" | "cost" | "ends" => {
                                Some(format!("`{k}` is the same both ways: set it on the link"))
                            }
                            _ => None,
                        });
                        one(ck, plan_dir, &sub, &what)
                    }
                    None => None,
                }
            }
        };
        dirs.push(dir);
    }
    // Checked on which keys are written, so a value with its own problem
    // does not hide (or fake) one of these.
    let consistent = consistent(ck, t, display);
    let [a_to_b, b_to_a]: [Option<Impairment>; 2] = dirs.try_into().ok()?;
    let imp = LinkImpairments {
        both: both?,
        a_to_b: a_to_b?,
        b_to_a: b_to_a?,
    };
    consistent.then_some(imp)
}

/// Checks what only makes sense together, per direction, and reports at
/// the key that needs the other (once, when both directions share it).
fn consistent(ck: &mut Checker<'_>, t: &Table<'_, '_>, display: &str) -> bool {
    let mut ok = true;
    for dir in DIRECTIONS {
        let sub = t.get(dir).and_then(|v| v.as_table());
        // Where a key applies this way: its direction table, else the link.
        let at = |key: &str| {
            sub.as_ref()
                .and_then(|s| s.get(key))
                .or_else(|| t.get(key))
                .map(|v| v.entry_span())
        };
        let has = |key: &str| at(key).is_some();
        let mut problems: Vec<(&str, String, &str, String)> = Vec::new();
        if has("rate") && has("trace") {
            problems.push((
                "trace",
                format!("{display} has both `rate` and `trace`"),
                "rate and trace",
                "a trace gives the link its capacity: remove `rate`, or remove `trace`".into(),
            ));
        }
        for key in ["queue", "codel"] {
            if has(key) && !has("rate") && !has("trace") {
                problems.push((
                    key,
                    format!("{display} has `{key}` but no `rate` or `trace`"),
                    "no bottleneck",
                    "a queue builds only behind a bottleneck: add `rate` or `trace`".into(),
                ));
            }
        }
        if has("overhead") && !has("rate") {
            problems.push((
                "overhead",
                format!("{display} has `overhead` but no `rate`"),
                "overhead without rate",
                "`overhead` adds bytes to each packet's serialization time: add `rate`".into(),
            ));
        }
        for key in ["jitter", "reorder", "delay_correlation", "distribution"] {
            if has(key) && !has("delay") {
                problems.push((
                    key,
                    format!("{display} has `{key}` but no `delay`"),
                    "needs a delay",
                    format!("`{key}` shapes the delay: add `delay`, or remove `{key}`"),
                ));
            }
        }
        for (key, message, label, hint) in problems {
            let span = at(key).unwrap_or(t.span());
            if !ck.has_finding_at(span) {
                ck.report(Finding::new(span, message, label).hint(hint));
            }
            ok = false;
        }
    }
    ok
}

/// Reads the impairment keys of one table (other keys are the caller's).
pub(super) fn one(
    ck: &mut Checker<'_>,
    plan_dir: &Path,
    t: &Table<'_, '_>,
    display: &str,
) -> Option<Impairment> {
    let delay = t.get("delay").map(|v| v.duration(ck));
    let jitter = t.get("jitter").map(|v| v.duration(ck));
    let distribution = t.get("distribution").map(|v| distribution(ck, &v));
    let delay_correlation = t.get("delay_correlation").map(|v| v.ratio(ck));
    let keep_order = t.get("keep_order").map(|v| v.boolean(ck));
    let loss = t.get("loss").map(|v| loss(ck, &v));
    let duplicate = t.get("duplicate").map(|v| chance(ck, &v));
    let corrupt = t.get("corrupt").map(|v| chance(ck, &v));
    let reorder = t.get("reorder").map(|v| reorder(ck, &v));
    let rate = t.get("rate").map(|v| {
        let r = v.rate(ck)?;
        if r < 8 {
            v.invalid(
                ck,
                format!("{display} has `rate` {r} bit/s, less than one byte a second"),
                "rate too low",
                Some("remove `rate` for an unlimited link, or give at least `8bit`".to_string()),
            );
            return None;
        }
        Some(r)
    });
    let overhead = t
        .get("overhead")
        .map(|v| v.int_in(ck, -64..=256, "bytes").map(|o| o as i32));
    let queue = t.get("queue").map(|v| queue(ck, &v));
    let codel = t.get("codel").map(|v| codel(ck, &v));
    let trace = t.get("trace").map(|v| trace(ck, plan_dir, &v));
    Some(Impairment {
        delay: optional(delay)?,
        jitter: optional(jitter)?,
        distribution: optional(distribution)?,
        delay_correlation: optional(delay_correlation)?,
        keep_order: optional(keep_order)?,
        loss: optional(loss)?,
        duplicate: optional(duplicate)?,
        corrupt: optional(corrupt)?,
        reorder: optional(reorder)?,
        rate: optional(rate)?,
        overhead: optional(overhead)?,
        queue: optional(queue)?,
        codel: optional(codel)?,
        trace: optional(trace)?,
    })
}

fn distribution(ck: &mut Checker<'_>, v: &Val<'_, '_>) -> Option<Distribution> {
    let s = v.str(ck)?;
    match s.value {
        "uniform" => Some(Distribution::Uniform),
        "normal" => Some(Distribution::Normal),
        "pareto" => Some(Distribution::Pareto),
        "paretonormal" => Some(Distribution::ParetoNormal),
        other => {
            v.invalid(
                ck,
                format!("`{}`: unknown distribution `{other}`", v.name()),
                "unknown distribution",
                Some("use `normal` (the default), `uniform`, `pareto` or `paretonormal`".into()),
            );
            None
        }
    }
}

/// A probability, optionally with a correlation: `"1%"` or
/// `{ p = "1%", correlation = "25%" }`.
fn chance(ck: &mut Checker<'_>, v: &Val<'_, '_>) -> Option<Chance> {
    let Some(t) = v.as_table() else {
        return v.ratio(ck).map(|p| Chance {
            p,
            correlation: 0.0,
        });
    };
    t.reject_unknown(ck, &["p", "correlation"], &|_| None);
    let p = t
        .require(ck, "p", "add `p = \"1%\"`, the probability")
        .and_then(|p| p.ratio(ck));
    let correlation = optional(t.get("correlation").map(|c| c.ratio(ck)))?;
    Some(Chance {
        p: p?,
        correlation: correlation.unwrap_or(0.0),
    })
}

fn loss(ck: &mut Checker<'_>, v: &Val<'_, '_>) -> Option<Loss> {
    let Some(t) = v.as_table() else {
        return v.ratio(ck).map(|p| Loss::Random {
            p,
            correlation: 0.0,
        });
    };
    let model = t
        .require(
            ck,
            "model",
            "add `model = \"random\"`, `\"gilbert-elliott\"` or `\"4-state\"`",
        )
        .and_then(|m| m.str(ck).map(|s| (m, s.value)));
    let (mv, model) = model?;
    let ratio = |ck: &mut Checker<'_>, key: &str, default: Option<f64>| -> Option<f64> {
        match t.get(key) {
            Some(v) => v.ratio(ck),
            None => match default {
                Some(d) => Some(d),
                None => {
                    ck.report(
                        Finding::new(
                            t.span(),
                            format!("`{}` ({model}) needs `{key}`", v.name()),
                            "missing key",
                        )
                        .hint(format!("add `{key} = \"...%\"`")),
                    );
                    None
                }
            },
        }
    };
    match model {
        "random" => {
            t.reject_unknown(ck, &["model", "p", "correlation"], &|_| None);
            let p = ratio(ck, "p", None);
            let c = ratio(ck, "correlation", Some(0.0));
            Some(Loss::Random {
                p: p?,
                correlation: c?,
            })
        }
        "gilbert-elliott" => {
            t.reject_unknown(ck, &["model", "p", "r", "loss_bad", "loss_good"], &|_| None);
            let p = ratio(ck, "p", None);
            let r = ratio(ck, "r", None);
            let bad = ratio(ck, "loss_bad", Some(1.0));
            let good = ratio(ck, "loss_good", Some(0.0));
            let (p, r) = (p?, r?);
            if r == 0.0 && p > 0.0 {
                t.get("r")?.invalid(
                    ck,
                    "`r` 0 never leaves the bad state: every packet after the first burst starts is lost"
                        .into(),
                    "stuck in the bad state",
                    Some("give `r` above 0 (the mean burst length is 1/r)".into()),
                );
                return None;
            }
            Some(Loss::GilbertElliott {
                p,
                r,
                loss_bad: bad?,
                loss_good: good?,
            })
        }
        "4-state" => {
            t.reject_unknown(ck, &["model", "p13", "p31", "p32", "p23", "p14"], &|_| None);
            let p13 = ratio(ck, "p13", None);
            let p31 = ratio(ck, "p31", Some(1.0));
            let p32 = ratio(ck, "p32", Some(0.0));
            let p23 = ratio(ck, "p23", Some(1.0));
            let p14 = ratio(ck, "p14", Some(0.0));
            let (p13, p31, p32, p23, p14) = (p13?, p31?, p32?, p23?, p14?);
            if p13 + p14 > 1.0 || p31 + p32 > 1.0 {
                ck.report(
                    Finding::new(
                        t.span(),
                        format!(
                            "`{}`: the probabilities leaving a state add up to more than 100%",
                            v.name()
                        ),
                        "impossible model",
                    )
                    .hint("p13 + p14 and p31 + p32 must each be at most 100%"),
                );
                return None;
            }
            Some(Loss::FourState {
                p13,
                p31,
                p32,
                p23,
                p14,
            })
        }
        other => {
            mv.invalid(
                ck,
                format!("`{}`: unknown loss model `{other}`", mv.name()),
                "unknown model",
                Some("use `random`, `gilbert-elliott` or `4-state`".into()),
            );
            None
        }
    }
}

fn reorder(ck: &mut Checker<'_>, v: &Val<'_, '_>) -> Option<Reorder> {
    let Some(t) = v.as_table() else {
        return v.ratio(ck).map(|p| Reorder {
            chance: Chance {
                p,
                correlation: 0.0,
            },
            gap: 0,
        });
    };
    t.reject_unknown(ck, &["p", "correlation", "gap"], &|_| None);
    let p = t
        .require(
            ck,
            "p",
            "add `p = \"25%\"`, the share of packets sent ahead",
        )
        .and_then(|p| p.ratio(ck));
    let correlation = optional(t.get("correlation").map(|c| c.ratio(ck)))?;
    let gap = optional(
        t.get("gap")
            .map(|g| g.int_in(ck, 1..=1_000_000, "packets").map(|g| g as u32)),
    )?;
    Some(Reorder {
        chance: Chance {
            p: p?,
            correlation: correlation.unwrap_or(0.0),
        },
        gap: gap.unwrap_or(0),
    })
}

/// `queue = 100` (packets) or `queue = "64KiB"` (bytes).
fn queue(ck: &mut Checker<'_>, v: &Val<'_, '_>) -> Option<QueueLimit> {
    if v.is_integer() {
        return v
            .int_in(ck, 1..=1_000_000, "packets")
            .map(|n| QueueLimit::Packets(n as u32));
    }
    let bytes = v.size(ck)?;
    if bytes < 64 {
        v.invalid(
            ck,
            format!("`{}` of {bytes} bytes holds no packet", v.name()),
            "queue too small",
            Some("give a limit in packets (`queue = 100`) or at least one packet's bytes (`\"1500B\"`)".into()),
        );
        return None;
    }
    Some(QueueLimit::Bytes(bytes))
}

/// `codel = true`, `codel = false` (off: `Some(None)`) or
/// `codel = { target = "5ms", interval = "100ms", ecn = true }`; `None`
/// after a problem.
fn codel(ck: &mut Checker<'_>, v: &Val<'_, '_>) -> Option<Option<Codel>> {
    if v.is_bool() {
        return v
            .boolean(ck)
            .map(|on| if on { Some(Codel::default()) } else { None });
    }
    let t = v.table(
        ck,
        v.name(),
        "`true` or a table such as `{ target = \"5ms\" }`",
    )?;
    t.reject_unknown(ck, &["target", "interval", "ecn"], &|_| None);
    let d = Codel::default();
    let target = optional(t.get("target").map(|x| x.duration(ck)))?;
    let interval = optional(t.get("interval").map(|x| x.duration(ck)))?;
    let ecn = optional(t.get("ecn").map(|x| x.boolean(ck)))?;
    let c = Codel {
        target: target.unwrap_or(d.target),
        interval: interval.unwrap_or(d.interval),
        ecn: ecn.unwrap_or(d.ecn),
    };
    if c.target.is_zero() || c.interval <= c.target {
        ck.report(
            Finding::new(
                t.span(),
                format!(
                    "`{}`: `target` must be above 0 and below `interval`",
                    v.name()
                ),
                "impossible CoDel",
            )
            .hint("RFC 8289's defaults are target 5ms, interval 100ms"),
        );
        return None;
    }
    Some(Some(c))
}

/// A trace file, relative to the plan's directory, read and parsed now so
/// a bad file is a plan error.
fn trace(ck: &mut Checker<'_>, plan_dir: &Path, v: &Val<'_, '_>) -> Option<PlanTrace> {
    let s = v.text(ck)?;
    let path = plan_dir.join(s.value);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            v.invalid(
                ck,
                format!("`{}`: cannot read `{}`: {e}", v.name(), path.display()),
                "unreadable trace",
                Some("give a Mahimahi trace file, relative to the plan's directory".into()),
            );
            return None;
        }
    };
    match Trace::parse(&text) {
        Ok(trace) => Some(PlanTrace {
            path,
            trace: Arc::new(trace),
        }),
        Err(e) => {
            v.invalid(
                ck,
                format!("`{}`: `{}` line {}: {}", v.name(), path.display(), e.line, e.message),
                "malformed trace",
                Some("a Mahimahi trace has one whole number of milliseconds per line, never decreasing".into()),
            );
            None
        }
    }
}
