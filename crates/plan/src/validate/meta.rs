//! The `[plan]` table: metadata, backend and seed.

use crate::diagnostic::Finding;
use crate::model::{Backend, Meta, SeededFault, SelfCheck, Span};
use crate::spelling;
use crate::tree::{Checker, Val};

use super::{matches_pattern, suggest_name};

/// What `[plan]` yields.
pub(super) struct MetaOut {
    pub meta: Meta,
    pub backend: Option<Backend>,
    pub seed: Option<u64>,
    pub self_check: SelfCheck,
    /// Where each of `seeded_fault.fails` and `because` is written.
    pub fault_spans: FaultSpans,
}

/// Where a seeded fault's case ids and expectations are written, to check
/// them against the cases once those are read.
#[derive(Debug, Default)]
pub struct FaultSpans {
    /// One per `fails` entry.
    pub fails: Vec<Span>,
    /// One per `because` entry.
    pub because: Vec<Span>,
}

const KEYS: &[&str] = &[
    "name",
    "summary",
    "owner",
    "tags",
    "description",
    "backend",
    "seed",
    "self_check",
    "lateness_warning",
    "seeded_fault",
    "quick",
    "lab",
];

fn plan_name_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-')
}

pub(super) fn validate(ck: &mut Checker<'_>, val: Option<Val<'_, '_>>) -> Option<MetaOut> {
    let Some(val) = val else {
        ck.report(
            Finding::new(
                Span::new(0, 0),
                "the plan has no `[plan]` table",
                "expected `[plan]`",
            )
            .hint(
                "start the file with `[plan]`, a `name` and a `summary`: \
                 `[plan]` / `name = \"my-plan\"` / `summary = \"what it proves\"`",
            ),
        );
        return None;
    };
    let t = val.table(ck, "`[plan]`", "a table (`[plan]`)")?;
    t.reject_unknown(ck, KEYS, &|key| match key {
        "title" => Some("write the one-line description as `summary`".to_string()),
        _ => None,
    });

    let name = t
        .require(ck, "name", "add `name = \"my-plan\"` (lower-case letters, digits, `.`, `_`, `-`)")
        .and_then(|v| v.text(ck))
        .and_then(|s| {
            if matches_pattern(s.value, |c| c.is_ascii_lowercase() || c.is_ascii_digit(), plan_name_char) {
                Some(s.value.to_string())
            } else {
                let suggestion = suggest_name(s.value, true, plan_name_char);
                let mut hint =
                    "use lower-case letters, digits, `.`, `_` and `-`, starting with a letter or digit".to_string();
                if !suggestion.is_empty() {
                    hint.push_str(&format!(", e.g. `{suggestion}`"));
                }
                ck.report(
                    Finding::new(s.span, format!("plan name `{}` is not a valid name", s.value), "invalid name")
                        .hint(hint),
                );
                None
            }
        });
    let summary = t
        .require(
            ck,
            "summary",
            "add `summary = \"...\"`: one sentence saying what the plan proves",
        )
        .and_then(|v| v.text(ck));
    let owner = t.get("owner").and_then(|v| v.text(ck));
    let description = t.get("description").and_then(|v| v.str(ck));
    let tags = match t.get("tags") {
        None => Some(Vec::new()),
        Some(v) => v.strings(ck).and_then(|tags| {
            let mut ok = true;
            for tag in &tags {
                if tag.value.trim().is_empty() {
                    ck.report(
                        Finding::new(tag.span, "empty tag", "empty")
                            .hint("remove it or give it a name"),
                    );
                    ok = false;
                }
            }
            ok.then(|| tags.iter().map(|s| s.value.to_string()).collect())
        }),
    };
    let backend = t.get("backend").and_then(|v| backend(ck, &v));
    let seed = t.get("seed").and_then(|v| {
        let n = v.integer(ck, "a non-negative seed")?;
        let seed = u64::try_from(n).ok();
        if seed.is_none() {
            v.invalid(
                ck,
                format!("`seed` is {n}; a seed is a non-negative integer"),
                "negative",
                Some(
                    "any integer from 0 up fixes the run's randomness, e.g. `seed = 1`".to_string(),
                ),
            );
        }
        seed
    });

    let mut self_check = SelfCheck::default();
    if let Some(v) = t.get("self_check")
        && let Some(s) = v.str(ck)
    {
        match s.value {
            "before" => {}
            "before-and-after" => self_check.after = true,
            "off" => self_check.before = false,
            other => {
                let hint = spelling::did_you_mean(other, ["before", "before-and-after", "off"])
                    .unwrap_or_else(|| {
                        "write `before` (the default), `before-and-after` or `off`".to_string()
                    });
                ck.report(
                    Finding::new(s.span, format!("unknown self_check `{other}`"), "unknown")
                        .hint(hint),
                );
            }
        }
    }
    if let Some(v) = t.get("lateness_warning")
        && let Some(share) = v.ratio(ck)
    {
        if share > 0.0 {
            self_check.lateness_warning = share;
        } else {
            v.invalid(
                ck,
                "a `lateness_warning` of 0 would warn every case".to_string(),
                "zero",
                Some("write the share of a link's delay, e.g. `0.1` or `\"10%\"`".to_string()),
            );
        }
    }

    // The lab file itself is read before validation (lib.rs); here only
    // its type is checked.
    if let Some(v) = t.get("lab") {
        let _ = v.str(ck);
    }
    let (seeded_fault, fault_spans) = match t.get("seeded_fault").and_then(|v| seeded_fault(ck, &v))
    {
        Some((f, spans)) => (Some(f), spans),
        None => (None, FaultSpans::default()),
    };

    let quick = match t.get("quick") {
        None => Some(Vec::new()),
        Some(v) => v.strings(ck).and_then(|items| {
            let mut ok = true;
            for item in &items {
                let problem = match crate::overrides::Override::parse(item.value) {
                    Err(e) => Some((e.what, e.hint)),
                    Ok(o) if o.touches("expect") => Some((
                        format!("`{}` changes an expectation", item.value),
                        "`quick` shortens durations and counts; thresholds stay as the plan has them".to_string(),
                    )),
                    Ok(_) => None,
                };
                if let Some((what, hint)) = problem {
                    ck.report(Finding::new(item.span, what, "not a quick override").hint(hint));
                    ok = false;
                }
            }
            ok.then(|| items.iter().map(|s| s.value.to_string()).collect())
        }),
    };

    Some(MetaOut {
        meta: Meta {
            name: name?,
            summary: summary?.value.to_string(),
            owner: owner.map(|s| s.value.to_string()),
            tags: tags?,
            description: description.map(|s| s.value.to_string()),
            seeded_fault,
            quick: quick?,
        },
        backend,
        seed,
        self_check,
        fault_spans,
    })
}

fn backend(ck: &mut Checker<'_>, v: &Val<'_, '_>) -> Option<Backend> {
    let s = v.str(ck)?;
    if let Some(backend) = Backend::from_name(s.value) {
        return Some(backend);
    }
    let other = s.value;
    let hint = spelling::did_you_mean(other, ["local", "netns"])
        .unwrap_or_else(|| "the backends are `netns` and `local`".to_string());
    ck.report(
        Finding::new(
            s.span,
            format!("unknown backend `{other}`"),
            "unknown backend",
        )
        .hint(hint),
    );
    None
}

/// `seeded_fault = { summary = "...", set = ["PATH=VALUE", ...], fails = ["CASE", ...] }`;
/// that the cases exist is checked once the cases are read.
fn seeded_fault(ck: &mut Checker<'_>, v: &Val<'_, '_>) -> Option<(SeededFault, FaultSpans)> {
    let t = v.table(
        ck,
        "`seeded_fault`",
        "a table: `{ summary = \"...\", set = [...], fails = [...] }`",
    )?;
    t.reject_unknown(ck, &["summary", "set", "fails", "because"], &|_| None);
    let summary = t
        .require(
            ck,
            "summary",
            "say what the fault is, e.g. `summary = \"a queue without CoDel\"`",
        )
        .and_then(|v| v.text(ck));
    let set = t
        .require(
            ck,
            "set",
            "list the overrides that make the fault, e.g. `set = [\"link[0].codel=false\"]`",
        )
        .and_then(|v| {
            let items = v.strings(ck)?;
            let mut ok = !items.is_empty();
            if items.is_empty() {
                v.invalid(
                    ck,
                    "a seeded fault that changes nothing".to_string(),
                    "empty",
                    Some("list at least one `PATH=VALUE` override".to_string()),
                );
            }
            for item in &items {
                if let Err(e) = crate::overrides::Override::parse(item.value) {
                    ck.report(
                        Finding::new(item.span, e.what.clone(), "not an override").hint(e.hint),
                    );
                    ok = false;
                }
            }
            ok.then(|| items.iter().map(|s| s.value.to_string()).collect())
        });
    let fails = t
        .require(
            ck,
            "fails",
            "name the cases the fault must fail, e.g. `fails = [\"RPM-01\"]`",
        )
        .and_then(|v| {
            let items = v.strings(ck)?;
            if items.is_empty() {
                v.invalid(
                    ck,
                    "no case to fail".to_string(),
                    "empty",
                    Some("name at least one case id".to_string()),
                );
                return None;
            }
            Some(
                items
                    .iter()
                    .map(|s| (s.value.to_string(), s.span))
                    .collect::<Vec<_>>(),
            )
        });
    let because = match t.get("because") {
        None => Some(Vec::new()),
        Some(v) => v.strings(ck).map(|items| {
            items
                .iter()
                .map(|s| (s.value.to_string(), s.span))
                .collect::<Vec<_>>()
        }),
    };
    let fails = fails?;
    let because = because?;
    Some((
        SeededFault {
            summary: summary?.value.to_string(),
            set: set?,
            fails: fails.iter().map(|(s, _)| s.clone()).collect(),
            because: because.iter().map(|(s, _)| s.clone()).collect(),
        },
        FaultSpans {
            fails: fails.iter().map(|(_, span)| *span).collect(),
            because: because.iter().map(|(_, span)| *span).collect(),
        },
    ))
}
