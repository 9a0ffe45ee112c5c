//! Steps: the keys every step shares (its `kind`, name and timing), then
//! one module per kind for the keys that kind adds, mirroring the
//! executor's `run/src/step/`: node actions ([`exec`], [`tcp_connect`],
//! [`udp_echo`], [`ping`], [`http`], [`throughput`], [`dns`]) and faults
//! ([`fault`]).
//!
//! A step's `kind` alone decides which keys it takes; a step is never
//! classified by which keys happen to be present, so a misspelt or
//! misplaced key is reported as such instead of silently turning the step
//! into another kind.

use std::time::Duration;

use crate::diagnostic::Finding;
use crate::model::{Action, NodeAction, Span, Step};
use crate::spelling;
use crate::tree::{Checker, Table};
use crate::units::format_duration;

use super::{Context, Names, check_id, optional, positive_duration};

mod abr;
mod dns;
mod exec;
mod fault;
mod http;
mod ping;
mod pktgen;
pub(super) mod reference;
mod rfc6349;
mod rpm;
mod rrul;
mod search;
mod series;
mod target;
mod tcp_connect;
mod throughput;
mod udp_echo;
mod web;

/// Where a step is listed in its case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    Setup,
    Steps,
    Teardown,
}

impl Phase {
    fn key(self) -> &'static str {
        match self {
            Phase::Setup => "setup",
            Phase::Steps => "steps",
            Phase::Teardown => "teardown",
        }
    }
}

/// The step kinds of this build, with the keys each one adds.
const KINDS: &[(&str, &[&str])] = &[
    ("exec", &["node", "command", "env"]),
    ("tcp_connect", &["from", "to"]),
    (
        "fault",
        // `link_set` takes a link's impairment keys.
        with_impairment_keys!(
            "fault", "link", "links", "node", "period", "flaps", "prefix", "session", "a_to_b",
            "b_to_a"
        ),
    ),
    (
        "udp_echo",
        &[
            "from",
            "to",
            "packets",
            "interval",
            "size",
            "wait",
            "convergence",
        ],
    ),
    (
        "ping",
        &["from", "to", "packets", "interval", "size", "wait"],
    ),
    ("http", http::KEYS),
    ("throughput", throughput::KEYS),
    ("dns", dns::KEYS),
    ("pktgen", pktgen::KEYS),
    ("search", search::KEYS),
    ("rfc6349", rfc6349::KEYS),
    ("rrul", rrul::KEYS),
    ("rpm", rpm::KEYS),
    ("abr", abr::KEYS),
];

const COMMON_KEYS: &[&str] = &["kind", "name", "at", "every", "for", "count", "timeout"];

/// What the case needs to know about a step even when it is invalid.
pub(super) struct StepOut {
    pub step: Option<Step>,
    /// The step's kind, when it is a known one.
    pub kind: Option<&'static str>,
    /// The step's name (written or default), its span, and whether it was
    /// written; `None` when the written name is unreadable.
    pub name: Option<(String, Span, bool)>,
    /// Whether the step has `at` (runs alongside the timeline).
    pub timed: bool,
}

pub(super) fn validate(
    ck: &mut Checker<'_>,
    cx: &Context<'_>,
    names: &Names,
    t: &Table<'_, '_>,
    phase: Phase,
    position: usize,
    case_timeout: Option<Duration>,
) -> StepOut {
    let mut out = StepOut {
        step: None,
        kind: None,
        name: None,
        timed: t.has("at"),
    };
    let kinds: Vec<&str> = KINDS.iter().map(|(k, _)| *k).collect();
    if !t.has("kind") {
        // Without a kind the allowed keys are unknown; still report keys
        // no kind takes (a misspelt `kind` among them, which `require`
        // leaves to this check).
        let any: Vec<&str> = COMMON_KEYS
            .iter()
            .chain(KINDS.iter().flat_map(|(_, k)| k.iter()))
            .copied()
            .collect();
        t.reject_unknown(ck, &any, &|_| None);
    }
    let Some(kind_val) = t.require(
        ck,
        "kind",
        &format!(
            "every step says what it does with `kind`: {}",
            spelling::one_of(&kinds)
        ),
    ) else {
        return out;
    };
    let Some(kind_str) = kind_val.str(ck) else {
        return out;
    };
    let Some(&(kind, kind_keys)) = KINDS.iter().find(|(k, _)| *k == kind_str.value) else {
        let hint = match spelling::closest(kind_str.value, kinds.iter().copied()) {
            Some(near) => format!(
                "did you mean `{near}`? step kinds in this build: {}",
                spelling::one_of(&kinds)
            ),
            None => format!("step kinds in this build: {}", spelling::one_of(&kinds)),
        };
        ck.report(
            Finding::new(
                kind_str.span,
                format!("unknown step kind `{}`", kind_str.value),
                "unknown kind",
            )
            .hint(hint),
        );
        return out;
    };
    out.kind = Some(kind);
    let t = Table::new_like(t, format!("`{kind}` step"));

    let allowed: Vec<&str> = COMMON_KEYS
        .iter()
        .chain(kind_keys.iter())
        .copied()
        .collect();
    t.reject_unknown(ck, &allowed, &|key| {
        if key == "port" && kind == "tcp_connect" {
            return Some("write the port in `to`: `to = \"server:80\"`".to_string());
        }
        if key == "duration" {
            return Some("did you mean `for`?".to_string());
        }
        KINDS
            .iter()
            .find(|(other, keys)| *other != kind && keys.contains(&key))
            .map(|(other, _)| {
                format!(
                    "`{key}` belongs to `{other}` steps; this step is `{kind}` ({})",
                    allowed_list(&allowed)
                )
            })
    });

    let default_name = format!("{kind}-{position}");
    let name = match t.get("name") {
        None => Some(default_name.clone()),
        Some(v) => v.text(ck).and_then(|s| {
            out.name = Some((s.value.to_string(), s.span, true));
            check_id(ck, &s, "step name").then(|| s.value.to_string())
        }),
    };
    if t.get("name").is_none() {
        out.name = Some((default_name, t.span(), false));
    }
    // Messages name the step as written, even when the name is invalid.
    let label = out
        .name
        .as_ref()
        .map_or_else(|| format!("{kind}-{position}"), |(n, _, _)| n.clone());

    let at = t.get("at").map(|v| {
        if phase == Phase::Steps {
            return v.duration(ck);
        }
        ck.report(
            Finding::new(
                v.key_span(),
                format!("`at` is only allowed in `steps`, not in `{}`", phase.key()),
                "not allowed here",
            )
            .hint(format!(
                "{} steps run one after another; move the step to `steps` to time it, or remove `at`",
                phase.key()
            )),
        );
        // Reported; the step is invalid, and timing checks ignore `at`.
        None
    });
    let every = t.get("every").map(|v| positive_duration(ck, &v));
    let duration = t.get("for").map(|v| positive_duration(ck, &v));
    let count = t.get("count").map(|v| {
        v.int_in(ck, 1..=i64::from(u32::MAX), "actions")
            .and_then(|c| u32::try_from(c).ok())
    });
    let timeout = t.get("timeout").map(|v| positive_duration(ck, &v));

    for key in ["for", "count"] {
        if let (Some(v), None) = (t.get(key), t.get("every")) {
            ck.report(
                Finding::new(v.key_span(), format!("step `{label}` has `{key}` but no `every`"), "needs `every`").hint(
                    format!("`{key}` bounds a repeating step: add `every = \"1s\"` to repeat it, or remove `{key}`"),
                ),
            );
        }
    }
    if let Some(v) = t.get("every")
        && !t.has("for")
        && !t.has("count")
    {
        ck.report(
            Finding::new(
                v.key_span(),
                format!("step `{label}` repeats forever: `every` needs `for` or `count`"),
                "unbounded",
            )
            .hint("bound the loop with `for = \"10s\"` or `count = 10`"),
        );
    }
    if let Some(case_timeout) = case_timeout {
        check_timing(
            ck,
            &t,
            &label,
            case_timeout,
            [&at, &every, &duration],
            &count,
        );
    }

    if kind == "fault" {
        for key in ["every", "for", "count"] {
            if let Some(v) = t.get(key) {
                ck.report(
                    Finding::new(v.key_span(), format!("fault step `{label}` cannot repeat with `{key}`"), "not for faults")
                        .hint("a fault happens once, at its `at`; use `fault = \"link_flap\"` with `period` and `flaps` for a link that goes down and up repeatedly"),
                );
            }
        }
    }
    // Keys a step reference sets are read at run time, not here.
    let (refs, set_later) = reference::extract(ck, &t, kind);
    let t = t.hiding(&set_later);
    let action = match kind {
        "fault" => fault::fault(ck, cx, names, &t).map(Action::Fault),
        _ => node_action(ck, cx, names, &t, kind, &label).map(Action::Node),
    };
    let refs_ok = refs.len() == set_later.len();
    let default_timeout = match &action {
        Some(Action::Node(a)) => default_timeout(a),
        Some(Action::Fault(_)) => Duration::from_secs(30),
        None => Duration::from_secs(3),
    };

    out.step = (|| {
        Some(Step {
            name: name?,
            at: optional(at)?,
            every: optional(every)?,
            duration: optional(duration)?,
            count: optional(count)?,
            timeout: optional(timeout)?.unwrap_or(default_timeout),
            action: action?,
            refs: refs_ok.then_some(refs)?,
            span: t.span(),
        })
    })();
    out
}

/// A node action of a known `kind` other than `fault`.
fn node_action(
    ck: &mut Checker<'_>,
    cx: &Context<'_>,
    names: &Names,
    t: &Table<'_, '_>,
    kind: &str,
    label: &str,
) -> Option<NodeAction> {
    match kind {
        "exec" => exec::exec(ck, names, t),
        "udp_echo" => udp_echo::udp_echo(ck, cx, names, t, label),
        "ping" => ping::ping(ck, cx, names, t, label),
        "http" => http::http(ck, cx, names, t, label),
        "throughput" => throughput::throughput(ck, cx, names, t, label),
        "dns" => dns::dns(ck, cx, names, t, label),
        "pktgen" => pktgen::pktgen(ck, names, t, label),
        "search" => search::search(ck, cx, names, t, label),
        "rfc6349" => rfc6349::rfc6349(ck, names, t, label),
        "rrul" => rrul::rrul(ck, cx, names, t),
        "rpm" => rpm::rpm(ck, cx, names, t, label),
        "abr" => abr::abr(ck, cx, names, t, label),
        _ => tcp_connect::tcp_connect(ck, cx, names, t),
    }
}

/// A step's `timeout` when it writes none: what its action needs.
fn default_timeout(action: &NodeAction) -> Duration {
    match action {
        NodeAction::Exec(_) => Duration::from_secs(30),
        // A series needs its packets' time plus the wait for the last reply.
        NodeAction::UdpEcho(u) => {
            u.interval.saturating_mul(u.packets) + u.wait + Duration::from_secs(1)
        }
        NodeAction::Ping(p) => {
            p.interval.saturating_mul(p.packets) + p.wait + Duration::from_secs(1)
        }
        NodeAction::Http(h) => http::default_timeout(h),
        NodeAction::Throughput(t) => throughput::default_timeout(t),
        NodeAction::Dns(d) => dns::default_timeout(d),
        NodeAction::Rrul(r) => rrul::default_timeout(r),
        NodeAction::Rpm(r) => rpm::default_timeout(r),
        NodeAction::Abr(a) => abr::default_timeout(a),
        NodeAction::TcpConnect(_) => Duration::from_secs(3),
        NodeAction::Pktgen(p) => pktgen::default_timeout(p),
        NodeAction::Search(s) => search::default_timeout(s),
        NodeAction::Rfc6349(r) => rfc6349::default_timeout(r),
    }
}

fn allowed_list(keys: &[&str]) -> String {
    format!("it takes {}", spelling::one_of(keys))
}

/// Reports a step that starts or runs past the case's timeout. Values are
/// `[at, every, for]`, each absent, unreadable or read.
fn check_timing(
    ck: &mut Checker<'_>,
    t: &Table<'_, '_>,
    label: &str,
    case_timeout: Duration,
    [at, every, duration]: [&Option<Option<Duration>>; 3],
    count: &Option<Option<u32>>,
) {
    let at_d = at.flatten().unwrap_or(Duration::ZERO);
    if let (Some(v), Some(Some(a))) = (t.get("at"), at)
        && *a > case_timeout
    {
        ck.report(
            Finding::new(
                v.span(),
                format!(
                    "step `{label}` starts at {}, after the case's `timeout` of {}",
                    format_duration(*a),
                    format_duration(case_timeout)
                ),
                "impossible timing",
            )
            .hint("move `at` earlier or raise the case's `timeout`"),
        );
        return;
    }
    let Some(Some(every)) = every else {
        return;
    };
    // The loop ends when `for` has elapsed or `count` actions have been
    // spaced `every` apart, whichever comes first.
    let by_count = count
        .flatten()
        .map(|c| every.checked_mul(c).unwrap_or(Duration::MAX));
    let bound = match (duration.flatten(), by_count) {
        (Some(f), Some(c)) if c < f => Some(("count", c)),
        (Some(f), _) => Some(("for", f)),
        (None, Some(c)) => Some(("count", c)),
        (None, None) => None,
    };
    let Some((key, length)) = bound else {
        return;
    };
    let end = at_d.checked_add(length).unwrap_or(Duration::MAX);
    if end <= case_timeout {
        return;
    }
    let Some(v) = t.get(if key == "for" { "for" } else { "count" }) else {
        return;
    };
    let how = if key == "for" {
        format!("`for` {}", format_duration(length))
    } else {
        format!(
            "`count` {} × `every` {}",
            count.flatten().unwrap_or(0),
            format_duration(*every)
        )
    };
    let start = if at_d.is_zero() {
        String::new()
    } else {
        format!("`at` {} + ", format_duration(at_d))
    };
    ck.report(
        Finding::new(
            v.span(),
            format!(
                "step `{label}` runs until {} ({start}{how}), beyond the case's `timeout` of {}",
                if end == Duration::MAX {
                    "forever".to_string()
                } else {
                    format_duration(end)
                },
                format_duration(case_timeout)
            ),
            "impossible timing",
        )
        .hint(format!(
            "shorten `{key}`, or raise the case's `timeout` (default 300s)"
        )),
    );
}
