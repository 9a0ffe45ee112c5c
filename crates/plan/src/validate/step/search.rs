//! `kind = "search"`: a trial step repeated while a binary search moves
//! one of its keys (`param`) between `min` and `max`, for the highest
//! value at which every `condition` holds over the trial's samples.
//!
//! Checked here: the trial is a node action of a known kind other than
//! `search`, `param` is one of its quantity keys and not also written in
//! the trial, the bounds are in the key's unit and not inverted, and each
//! condition is an expectation on a metric the trial measures.

use std::time::Duration;

use netproof_sample::Unit;

use crate::diagnostic::Finding;
use crate::expect;
use crate::model::{Expectation, NodeAction, QUANTITY_KEYS, Search, emits};
use crate::spelling;
use crate::tree::{Checker, Table, Val};
use crate::units::format_duration;
use crate::validate::{Context, Names, optional};

use super::KINDS;

/// The keys a `search` step adds to the common ones.
pub(super) const KEYS: &[&str] = &[
    "trial",
    "param",
    "min",
    "max",
    "resolution",
    "max_trials",
    "condition",
    "throughput",
];

/// Trials a search runs at most unless it says.
const DEFAULT_MAX_TRIALS: u32 = 20;

pub(super) fn search(
    ck: &mut Checker<'_>,
    cx: &Context<'_>,
    names: &Names,
    t: &Table<'_, '_>,
    label: &str,
) -> Option<NodeAction> {
    let trial_t = t
        .require(
            ck,
            "trial",
            "add `trial = { kind = \"pktgen\", from = \"a\", to = \"b\", duration = \"2s\" }`, the step each trial runs",
        )?
        .table(ck, "`trial`", "a step table such as `{ kind = \"pktgen\", ... }`")?;
    let kind_val = trial_t.require(ck, "kind", "the trial says what it runs with `kind`")?;
    let kind_str = kind_val.str(ck)?;
    let searchable: Vec<&str> = {
        let mut k: Vec<&str> = QUANTITY_KEYS
            .iter()
            .map(|(k, _, _)| *k)
            .filter(|k| !matches!(*k, "search" | "rfc6349"))
            .collect();
        k.dedup();
        k
    };
    let Some(&(kind, kind_keys)) = KINDS
        .iter()
        .find(|(k, _)| *k == kind_str.value && searchable.contains(k))
    else {
        ck.report(
            Finding::new(
                kind_str.span,
                format!("a search cannot run `{}` trials", kind_str.value),
                "not a trial kind",
            )
            .hint(format!(
                "a trial is a step with a key to search: {}",
                spelling::one_of(&searchable)
            )),
        );
        return None;
    };
    let trial_t = Table::new_like(&trial_t, format!("`{kind}` trial"));
    let mut allowed = vec!["kind"];
    allowed.extend(kind_keys.iter().copied());
    trial_t.reject_unknown(ck, &allowed, &|key| {
        matches!(key, "name" | "at" | "every" | "for" | "count" | "timeout")
            .then(|| format!("`{key}` belongs to the search step, not its trial"))
    });

    let params: Vec<&str> = QUANTITY_KEYS
        .iter()
        .filter(|(k, _, _)| *k == kind)
        .map(|(_, p, _)| *p)
        .collect();
    let param_val = t.require(
        ck,
        "param",
        &format!(
            "add `param = \"KEY\"`, the trial key to search: {}",
            spelling::one_of(&params)
        ),
    )?;
    let param_str = param_val.str(ck)?;
    let Some((_, param, unit)) = QUANTITY_KEYS
        .iter()
        .find(|(k, p, _)| *k == kind && *p == param_str.value)
    else {
        let hint =
            spelling::did_you_mean(param_str.value, params.iter().copied()).unwrap_or_else(|| {
                format!(
                    "a `{kind}` trial's searchable keys: {}",
                    spelling::one_of(&params)
                )
            });
        ck.report(
            Finding::new(
                param_str.span,
                format!(
                    "a `{kind}` trial has no searchable key `{}`",
                    param_str.value
                ),
                "not searchable",
            )
            .hint(hint),
        );
        return None;
    };
    if let Some(v) = trial_t.get(param) {
        ck.report(
            Finding::new(
                v.key_span(),
                format!("the search sets the trial's `{param}`; it cannot also be written here"),
                "set by the search",
            )
            .hint(format!(
                "remove `{param}` from `trial`; `min` and `max` bound it"
            )),
        );
    }
    let trial = super::node_action(
        ck,
        cx,
        names,
        &trial_t.hiding(&[param.to_string()]),
        kind,
        label,
    );

    let min = t
        .require(
            ck,
            "min",
            &format!("add `min`, the lowest `{param}` to try"),
        )
        .and_then(|v| quantity(ck, &v, *unit));
    let max = t
        .require(
            ck,
            "max",
            &format!("add `max`, the highest `{param}` to try"),
        )
        .and_then(|v| quantity(ck, &v, *unit));
    if let (Some(lo), Some(hi), Some(vmin), Some(vmax)) = (min, max, t.get("min"), t.get("max"))
        && lo >= hi
    {
        ck.report(
            Finding::new(
                vmin.span(),
                format!(
                    "search `{label}` has inverted bounds: `min` {} is not below `max` {}",
                    show(lo, *unit),
                    show(hi, *unit)
                ),
                "not below `max`",
            )
            .also(vmax.span(), "`max`")
            .hint("the search looks between `min` and `max`; swap them, or widen the range"),
        );
        return None;
    }
    let resolution = t.get("resolution").map(|v| resolution(ck, &v, *unit, max));
    let max_trials = t.get("max_trials").map(|v| {
        v.int_in(ck, 1..=1000, "trials")
            .and_then(|n| u32::try_from(n).ok())
    });
    let throughput = t.get("throughput").map(|v| v.rate(ck));
    if let Some(v) = t.get_any("throughput")
        && !(kind == "pktgen" && *param == "burst")
    {
        ck.report(
            Finding::new(v.key_span(), format!("`throughput` is for a search over a `pktgen` trial's `burst` (RFC 9004), not over `{param}`"), "not used")
                .hint("remove `throughput`"),
        );
        return None;
    }

    let condition = t
        .require(ck, "condition", "add `condition = \"max(pktgen.loss) == 0\"`, what a trial must satisfy")
        .and_then(|v| {
            let items: Vec<_> = match v.raw() {
                toml::de::DeValue::Array(_) => v.strings(ck)?,
                _ => vec![v.str(ck)?],
            };
            let mut out: Vec<Expectation> = Vec::new();
            let mut ok = true;
            for s in &items {
                match expect::parse(s.value) {
                    Ok(mut e) => {
                        e.span = s.span;
                        if let Some(trial) = &trial
                            && !emits(trial, &e.metric)
                        {
                            let range = s.value.find(&e.metric).map_or(0..s.value.len(), |i| i..i + e.metric.len());
                            ck.report(
                                Finding::new(s.sub(range), format!("a `{kind}` trial does not measure `{}`", e.metric), "never measured")
                                    .hint(format!("a search's condition judges its trial's samples: `{kind}.*` metrics")),
                            );
                            ok = false;
                        }
                        out.push(e);
                    }
                    Err(errors) => {
                        ok = false;
                        for e in errors {
                            ck.report(Finding::new(s.sub(e.range), e.message, e.label).maybe_hint(e.hint));
                        }
                    }
                }
            }
            if items.is_empty() {
                v.invalid(ck, "a search needs at least one condition".into(), "empty", None);
                ok = false;
            }
            ok.then_some(out)
        });

    let (min, max) = (min?, max?);
    Some(NodeAction::Search(Search {
        trial: Box::new(trial?),
        param,
        unit: *unit,
        min,
        max,
        resolution: optional(resolution)?.unwrap_or_else(|| default_resolution(*unit, max)),
        max_trials: optional(max_trials)?.unwrap_or(DEFAULT_MAX_TRIALS),
        condition: condition?,
        throughput: optional(throughput)?,
    }))
}

/// 1 % of `max` for rates and durations, one unit for sizes and counts.
fn default_resolution(unit: Unit, max: f64) -> f64 {
    match unit {
        Unit::Bytes | Unit::Count => 1.0,
        _ => max / 100.0,
    }
}

/// A value of `unit` as the plan writes it: a rate string, a size (an
/// integer of bytes or a size string), a count, a duration.
fn quantity(ck: &mut Checker<'_>, v: &Val<'_, '_>, unit: Unit) -> Option<f64> {
    match unit {
        Unit::BitsPerSecond => v.rate(ck).map(|r| r as f64),
        Unit::Bytes if v.is_integer() => v.int_in(ck, 0..=i64::MAX, "bytes").map(|n| n as f64),
        Unit::Bytes => v.size(ck).map(|b| b as f64),
        Unit::Seconds => v.duration(ck).map(|d| d.as_secs_f64()),
        _ => v.int_in(ck, 0..=i64::from(u32::MAX), "").map(|n| n as f64),
    }
}

/// `resolution`: a quantity of the key's unit, or a percentage of `max`.
fn resolution(ck: &mut Checker<'_>, v: &Val<'_, '_>, unit: Unit, max: Option<f64>) -> Option<f64> {
    let r = match v.raw() {
        toml::de::DeValue::String(s) if s.trim_end().ends_with('%') => {
            let ratio = crate::units::parse_ratio(s).ok();
            match (ratio, max) {
                (Some(r), Some(m)) => Some(r * m),
                (None, _) => {
                    v.invalid(
                        ck,
                        format!("`resolution` `{s}` is not a percentage"),
                        "not a percentage",
                        Some("write e.g. `\"0.5%\"` (of `max`)".into()),
                    );
                    return None;
                }
                (_, None) => return None,
            }
        }
        _ => quantity(ck, v, unit),
    }?;
    if r <= 0.0 {
        v.invalid(
            ck,
            "`resolution` must be above zero".into(),
            "zero",
            Some("a search needs a step to stop at, e.g. `\"0.5%\"` of `max`".into()),
        );
        return None;
    }
    Some(r)
}

fn show(v: f64, unit: Unit) -> String {
    match unit {
        Unit::Seconds => format_duration(Duration::from_secs_f64(v.max(0.0))),
        u => u.format(v),
    }
}

/// Every trial's time plus room to judge: the bound the step's default
/// `timeout` gives each trial.
pub(super) fn default_timeout(s: &Search) -> Duration {
    let per_trial = super::default_timeout(&s.trial);
    per_trial.saturating_mul(s.max_trials)
}
