//! Steps: `kind = "exec"`, `kind = "tcp_connect"` and `kind = "fault"`, with their timing.
//!
//! A step's `kind` alone decides which keys it takes; a step is never
//! classified by which keys happen to be present, so a misspelt or
//! misplaced key is reported as such instead of silently turning the step
//! into another kind.

use std::net::{IpAddr, Ipv6Addr};
use std::time::Duration;

use crate::diagnostic::Finding;
use crate::model::{Action, Exec, Fault, Ping, Span, Step, Target, TcpConnect, UdpEcho};
use crate::spelling;
use crate::tree::{Checker, Str, Table};
use crate::units::format_duration;

use super::topology::external_allowed;
use super::{Context, Names, check_id, command, optional, positive_duration};

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
            "fault", "link", "links", "node", "period", "flaps", "a_to_b", "b_to_a"
        ),
    ),
    (
        "udp_echo",
        &["from", "to", "packets", "interval", "size", "wait"],
    ),
    (
        "ping",
        &["from", "to", "packets", "interval", "size", "wait"],
    ),
    ("http", super::http::KEYS),
    ("throughput", super::throughput::KEYS),
    ("dns", super::dns::KEYS),
];

/// The faults, with the keys each one needs besides `fault`.
const FAULTS: &[(&str, &[&str])] = &[
    ("link_down", &["link"]),
    ("link_up", &["link"]),
    ("link_blackhole", &["link"]),
    ("partition", &["links"]),
    ("link_flap", &["link", "period", "flaps"]),
    ("link_set", LINK_SET_KEYS),
    ("node_stop", &["node"]),
    ("node_kill", &["node"]),
    ("node_start", &["node"]),
    ("restore", &[]),
];
/// `link_set` takes the link and any of a link's impairment keys.
const LINK_SET_KEYS: &[&str] = with_impairment_keys!("link", "a_to_b", "b_to_a");
const COMMON_KEYS: &[&str] = &["kind", "name", "at", "every", "for", "count", "timeout"];

/// What the case needs to know about a step even when it is invalid.
pub(super) struct StepOut {
    pub step: Option<Step>,
    /// The step's kind, when it is a known one.
    pub kind: Option<&'static str>,
    /// The step's name (written or default), its span, and whether it was
    /// written; `None` when the written name is unreadable.
    pub name: Option<(String, Span, bool)>,
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
    let action = match kind {
        "exec" => exec(ck, names, &t),
        "fault" => fault(ck, cx, names, &t),
        "udp_echo" => udp_echo(ck, cx, names, &t, &label),
        "ping" => ping(ck, cx, names, &t, &label),
        "http" => super::http::http(ck, cx, names, &t, &label),
        "throughput" => super::throughput::throughput(ck, cx, names, &t, &label),
        "dns" => super::dns::dns(ck, cx, names, &t, &label),
        _ => tcp_connect(ck, cx, names, &t),
    };
    let default_timeout = match (kind, &action) {
        ("exec" | "fault", _) => Duration::from_secs(30),
        // A series needs its packets' time plus the wait for the last reply.
        ("udp_echo", Some(Action::UdpEcho(u))) => {
            u.interval.saturating_mul(u.packets) + u.wait + Duration::from_secs(1)
        }
        ("ping", Some(Action::Ping(p))) => {
            p.interval.saturating_mul(p.packets) + p.wait + Duration::from_secs(1)
        }
        ("http", Some(Action::Http(h))) => super::http::default_timeout(h),
        ("throughput", Some(Action::Throughput(t))) => super::throughput::default_timeout(t),
        ("dns", Some(Action::Dns(d))) => super::dns::default_timeout(d),
        _ => Duration::from_secs(3),
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
            span: t.span(),
        })
    })();
    out
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

fn exec(ck: &mut Checker<'_>, names: &Names, t: &Table<'_, '_>) -> Option<Action> {
    let node = t
        .require(
            ck,
            "node",
            "add `node = \"...\"`, the node to run the command on",
        )
        .and_then(|v| v.str(ck))
        .and_then(|s| names.resolve_str(ck, &s));
    let cmd = t
        .require(ck, "command", "add `command = [\"program\", \"arg\"]`")
        .and_then(|v| command(ck, &v, names));
    let env = t.get("env").map(|v| v.string_table(ck));
    Some(Action::Exec(Exec {
        node: node?,
        command: cmd?,
        env: optional(env)?.unwrap_or_default(),
    }))
}

fn fault(
    ck: &mut Checker<'_>,
    cx: &Context<'_>,
    names: &Names,
    t: &Table<'_, '_>,
) -> Option<Action> {
    let list: Vec<&str> = FAULTS.iter().map(|(f, _)| *f).collect();
    let which = t
        .require(
            ck,
            "fault",
            &format!("say which fault with `fault`: {}", spelling::one_of(&list)),
        )
        .and_then(|v| v.str(ck))?;
    let Some(&(name, needs)) = FAULTS.iter().find(|(f, _)| *f == which.value) else {
        let hint = match spelling::closest(which.value, list.iter().copied()) {
            Some(near) => format!("did you mean `{near}`? faults: {}", spelling::one_of(&list)),
            None => format!("faults: {}", spelling::one_of(&list)),
        };
        ck.report(
            Finding::new(
                which.span,
                format!("unknown fault `{}`", which.value),
                "unknown fault",
            )
            .hint(hint),
        );
        return None;
    };
    // Keys of other faults are errors here, so a typo cannot pass silently.
    let fault_keys = ["link", "links", "node", "period", "flaps"];
    let mut ok = true;
    for &key in fault_keys.iter().chain(&LINK_SET_KEYS[1..]) {
        if let Some(v) = t.get(key)
            && !needs.contains(&key)
        {
            ck.report(
                Finding::new(
                    v.key_span(),
                    format!("`{key}` does not apply to fault `{name}`"),
                    "not for this fault",
                )
                .hint(if needs.is_empty() {
                    format!("`{name}` takes no further keys")
                } else if name == "link_set" {
                    format!("`{name}` takes `link` and a link's impairment keys")
                } else {
                    format!("`{name}` takes {}", spelling::one_of(needs))
                }),
            );
            ok = false;
        }
    }
    let link_fault = needs.contains(&"link") || needs.contains(&"links");
    if link_fault && cx.backend != crate::model::Backend::Netns {
        ck.report(
            Finding::new(which.span, format!("fault `{name}` changes a link, which the {} backend does not have", cx.backend.as_str()), "needs the netns backend")
                .hint("link faults need real links: run on the netns backend (`backend = \"netns\"` or `--backend netns`)"),
        );
        ok = false;
    }
    let mut link = || {
        t.require(
            ck,
            "link",
            "add `link = \"a--b\"`, the link the fault acts on",
        )
        .and_then(|v| v.str(ck))
        .and_then(|s| names.resolve_link(ck, &s))
    };
    let fault = match name {
        "link_down" => Fault::LinkDown {
            links: vec![link()?],
        },
        "link_up" => Fault::LinkUp {
            links: vec![link()?],
        },
        "link_blackhole" => Fault::LinkBlackhole { link: link()? },
        "partition" => {
            let v = t.require(
                ck,
                "links",
                "add `links = [\"a--b\", \"c--d\"]`, the links cut at once",
            )?;
            let items = v.strings(ck)?;
            let mut links = Vec::new();
            for s in &items {
                links.push(names.resolve_link(ck, s));
            }
            if items.is_empty() {
                v.invalid(
                    ck,
                    "`links` is empty".to_string(),
                    "no links",
                    Some("name at least one link".to_string()),
                );
                return None;
            }
            Fault::LinkDown {
                links: links.into_iter().collect::<Option<Vec<_>>>()?,
            }
        }
        "link_flap" => {
            let l = link();
            let period = t
                .require(ck, "period", "add `period = \"1s\"`: one down-and-up cycle")
                .and_then(|v| positive_duration(ck, &v));
            let flaps = t
                .require(
                    ck,
                    "flaps",
                    "add `flaps = 3`: how many times the link goes down and up",
                )
                .and_then(|v| v.int_in(ck, 1..=10_000, "flaps"))
                .and_then(|c| u32::try_from(c).ok());
            Fault::LinkFlap {
                link: l?,
                period: period?,
                flaps: flaps?,
            }
        }
        "link_set" => {
            let l = link();
            let display = format!("fault `{name}`");
            let change = super::impair::link(ck, &cx.plan_dir, t, &display);
            if let Some(c) = &change
                && c.is_empty()
            {
                ck.report(
                    Finding::new(which.span, "`link_set` changes nothing".to_string(), "nothing to set")
                        .hint("give the link's new properties, e.g. `delay = \"50ms\"`, `loss = \"1%\"` or `rate = \"10Mbit\"`"),
                );
                return None;
            }
            Fault::LinkSet {
                link: l?,
                change: Box::new(change?),
            }
        }
        "node_stop" | "node_kill" | "node_start" => {
            let node = t
                .require(
                    ck,
                    "node",
                    "add `node = \"...\"`, the node whose services the fault acts on",
                )
                .and_then(|v| v.str(ck))
                .and_then(|s| names.resolve_str(ck, &s))?;
            match name {
                "node_stop" => Fault::NodeStop { node },
                "node_kill" => Fault::NodeKill { node },
                _ => Fault::NodeStart { node },
            }
        }
        _ => Fault::Restore,
    };
    ok.then_some(Action::Fault(fault))
}

fn ping(
    ck: &mut Checker<'_>,
    cx: &Context<'_>,
    names: &Names,
    t: &Table<'_, '_>,
    label: &str,
) -> Option<Action> {
    let from = from_node(ck, names, t, "pings");
    let to = t
        .require(
            ck,
            "to",
            "add `to = \"NODE\"` or an address, e.g. `to = \"server\"`",
        )
        .and_then(|v| v.str(ck))
        .and_then(|s| {
            if s.value.contains(':')
                && !s.value.contains("::")
                && s.value.parse::<IpAddr>().is_err()
            {
                ck.report(
                    Finding::new(
                        s.span,
                        format!("step `{label}`: ping takes no port"),
                        "no port for ping",
                    )
                    .hint("write the node or address alone: `to = \"server\"`"),
                );
                return None;
            }
            match s.value.parse::<IpAddr>() {
                Ok(ip) => external_allowed(ck, cx, ip, s.span).then_some(Target::Addr(ip)),
                Err(_) => names.resolve_str(ck, &s).map(Target::Node),
            }
        });
    let series = series(
        ck,
        t,
        label,
        SeriesDefaults {
            packets: 10,
            interval: Duration::from_millis(100),
            size: 56,
            sizes: 8..=65_000,
        },
    );
    let series = series?;
    Some(Action::Ping(Ping {
        from: from?,
        to: to?,
        packets: series.packets,
        interval: series.interval,
        size: series.size,
        wait: series.wait,
    }))
}

fn udp_echo(
    ck: &mut Checker<'_>,
    cx: &Context<'_>,
    names: &Names,
    t: &Table<'_, '_>,
    label: &str,
) -> Option<Action> {
    let from = from_node(ck, names, t, "sends");
    let to = t
        .require(
            ck,
            "to",
            "add `to = \"NODE:PORT\"`, where a responder listens, e.g. `to = \"server:7007\"`",
        )
        .and_then(|v| v.str(ck))
        .and_then(|s| target(ck, cx, names, &s));
    let series = series(
        ck,
        t,
        label,
        SeriesDefaults {
            packets: 100,
            interval: Duration::from_millis(10),
            size: 64,
            sizes: 24..=65_507,
        },
    );
    let ((to, port), series) = (to?, series?);
    Some(Action::UdpEcho(UdpEcho {
        from: from?,
        to,
        port,
        packets: series.packets,
        interval: series.interval,
        size: series.size,
        wait: series.wait,
    }))
}

/// What a probe that sends a series of packets (`ping`, `udp_echo`) reads.
struct Series {
    packets: u32,
    interval: Duration,
    size: usize,
    wait: Duration,
}

/// A series kind's defaults and payload size range.
struct SeriesDefaults {
    packets: u32,
    interval: Duration,
    size: usize,
    sizes: std::ops::RangeInclusive<i64>,
}

/// Reads `packets`, `interval`, `size` and `wait`, and checks that a
/// written `timeout` leaves the series time to finish.
fn series(
    ck: &mut Checker<'_>,
    t: &Table<'_, '_>,
    label: &str,
    d: SeriesDefaults,
) -> Option<Series> {
    let packets = t.get("packets").map(|v| {
        v.int_in(ck, 1..=1_000_000, "packets")
            .and_then(|n| u32::try_from(n).ok())
    });
    let interval = t.get("interval").map(|v| positive_duration(ck, &v));
    let size = t.get("size").map(|v| {
        v.int_in(ck, d.sizes.clone(), "bytes")
            .and_then(|n| usize::try_from(n).ok())
    });
    let wait = t.get("wait").map(|v| positive_duration(ck, &v));
    let s = Series {
        packets: optional(packets)?.unwrap_or(d.packets),
        interval: optional(interval)?.unwrap_or(d.interval),
        size: optional(size)?.unwrap_or(d.size),
        wait: optional(wait)?.unwrap_or(Duration::from_secs(1)),
    };
    // Read quietly: a malformed `timeout` is reported by the common checks.
    if let Some(v) = t.get("timeout")
        && let Some(timeout) = v.duration(&mut crate::tree::Checker::new(ck.text))
    {
        let needed = s.interval.saturating_mul(s.packets) + s.wait;
        if timeout < needed {
            ck.report(
                Finding::new(v.key_span(), format!("step `{label}` cannot finish its series within its `timeout`"), "too short")
                    .hint(format!(
                        "{} packets every {} plus a wait of {} take {}; raise `timeout` or remove it (the default fits the series)",
                        s.packets,
                        format_duration(s.interval),
                        format_duration(s.wait),
                        format_duration(needed)
                    )),
            );
            return None;
        }
    }
    Some(s)
}

fn tcp_connect(
    ck: &mut Checker<'_>,
    cx: &Context<'_>,
    names: &Names,
    t: &Table<'_, '_>,
) -> Option<Action> {
    let from = from_node(ck, names, t, "connects");
    let to = t
        .require(
            ck,
            "to",
            "add `to = \"NODE:PORT\"`, e.g. `to = \"server:80\"`",
        )
        .and_then(|v| v.str(ck))
        .and_then(|s| target(ck, cx, names, &s));
    let (to, port) = to?;
    Some(Action::TcpConnect(TcpConnect {
        from: from?,
        to,
        port,
    }))
}

const TARGET_HINT: &str = "write `NODE:PORT`, `IPv4:PORT` or `[IPv6]:PORT`, e.g. `server:80`";

/// Parses `NODE:PORT`, `IP:PORT` or `[IPv6]:PORT`, reporting at the part
/// that is wrong.
pub(super) fn target(
    ck: &mut Checker<'_>,
    cx: &Context<'_>,
    names: &Names,
    s: &Str<'_>,
) -> Option<(Target, u16)> {
    let text = s.value;
    let (host, host_range, port_text, port_start) = if let Some(rest) = text.strip_prefix('[') {
        let Some(close) = rest.find(']') else {
            ck.report(
                Finding::new(s.span, format!("unclosed `[` in `{text}`"), "unclosed `[`")
                    .hint(TARGET_HINT),
            );
            return None;
        };
        let after = &rest[close + 1..];
        let Some(port) = after.strip_prefix(':') else {
            ck.report(
                Finding::new(
                    s.sub(close + 2..text.len()),
                    format!("`{text}` has no port"),
                    "expected `:PORT`",
                )
                .hint(TARGET_HINT),
            );
            return None;
        };
        (&rest[..close], 1..close + 1, port, close + 3)
    } else {
        let Some((host, port)) = text.rsplit_once(':') else {
            ck.report(
                Finding::new(
                    s.span,
                    format!("`to` is `{text}`, which has no port"),
                    "expected `:PORT`",
                )
                .hint(format!("{TARGET_HINT}; `to = \"{text}:80\"`")),
            );
            return None;
        };
        if host.contains(':') {
            ck.report(
                Finding::new(
                    s.span,
                    format!("IPv6 address without brackets in `{text}`"),
                    "ambiguous port",
                )
                .hint(format!(
                    "write IPv6 addresses in brackets: `[{host}]:{port}`"
                )),
            );
            return None;
        }
        (host, 0..host.len(), port, host.len() + 1)
    };
    let port_span = s.sub(port_start..text.len());
    let port = match port_text.parse::<u16>() {
        Ok(p) if p != 0 && port_text.bytes().all(|b| b.is_ascii_digit()) => Some(p),
        _ => {
            ck.report(
                Finding::new(
                    port_span,
                    format!("`{port_text}` is not a port"),
                    "invalid port",
                )
                .hint("a port is a number from 1 to 65535"),
            );
            None
        }
    };
    let host_span = s.sub(host_range);
    let bracketed = text.starts_with('[');
    let target = if bracketed {
        match host.parse::<Ipv6Addr>() {
            Ok(ip) => external_allowed(ck, cx, IpAddr::V6(ip), host_span)
                .then_some(Target::Addr(IpAddr::V6(ip))),
            Err(_) => {
                ck.report(
                    Finding::new(
                        host_span,
                        format!("`{host}` is not an IPv6 address"),
                        "not an address",
                    )
                    .hint(TARGET_HINT),
                );
                None
            }
        }
    } else if let Ok(ip) = host.parse::<IpAddr>() {
        external_allowed(ck, cx, ip, host_span).then_some(Target::Addr(ip))
    } else if !host.is_empty() && host.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        ck.report(
            Finding::new(
                host_span,
                format!("`{host}` is not an IPv4 address"),
                "not an address",
            )
            .hint(TARGET_HINT),
        );
        None
    } else {
        names.resolve(ck, host, host_span).map(Target::Node)
    };
    Some((target?, port?))
}

/// The step's `from` node, required; `does` says what it does in the hint
/// (`"connects"`, `"pings"`).
pub(super) fn from_node(
    ck: &mut Checker<'_>,
    names: &Names,
    t: &Table<'_, '_>,
    does: &str,
) -> Option<String> {
    t.require(
        ck,
        "from",
        &format!("add `from = \"...\"`, the node that {does}"),
    )
    .and_then(|v| v.str(ck))
    .and_then(|s| names.resolve_str(ck, &s))
}
