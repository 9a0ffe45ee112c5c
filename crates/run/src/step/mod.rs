//! Steps: what a case does, dispatched by kind.
//!
//! Each plan step becomes one or more *actions* (one without `every`; one per
//! interval with it). An action gets a [`StepContext`]: the node's handle, a
//! sink already scoped to the step, a deadline, the case's cancellation
//! signal and a seed derived from the run's seed. Dispatch is a `match` over
//! the validated [`Action`] enum; a new step kind (a probe, a fault) adds an
//! arm and a module here, nothing else changes.

mod abr;
mod dns;
mod exec;
mod http;
mod ping;
mod pktgen;
mod rfc6349;
mod rpm;
mod rrul;
pub(crate) mod search;
mod tcp_connect;
mod throughput;
mod udp_echo;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use netproof_plan::{Action, NodeAction, Step};
use netproof_sample::{Event, Severity, Sink};
use tokio::time::Instant;

use netproof_lab::Cancel;
use netproof_lab::NodeHandle;

/// What an action gets to do its work.
#[derive(Clone)]
pub struct StepContext {
    /// The node the step acts on or from.
    pub node: NodeHandle,
    /// Every node's address, for resolving targets and placeholders.
    pub addresses: Arc<BTreeMap<String, IpAddr>>,
    /// Where samples, events and artifacts go (scoped to the step).
    pub sink: Arc<dyn Sink>,
    /// The action must finish by then.
    pub deadline: Instant,
    /// Triggered on Ctrl-C or when the case times out.
    pub cancel: Cancel,
    /// A seed for this action's randomness, derived from the run's seed.
    pub seed: u64,
    /// The step's name, put on every sample as the `step` label.
    pub step_name: String,
    /// The lab CA's certificate, when the lab made one (`ca = "{lab_ca}"`).
    pub lab_ca: Option<std::path::PathBuf>,
    /// The lab's nodes, for steps that act on two (a `pktgen` receiver).
    pub lab: netproof_lab::LabHandles,
}

/// How one action went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionOutcome {
    /// The measured attempt succeeded (exit 0, connection established).
    Ok,
    /// The attempt was measured and failed (non-zero exit, refused); the
    /// failure is a result, recorded in the samples.
    Failed(String),
}

/// The step could not run at all (a missing node, a command that cannot
/// start): an error of the case, not a measurement.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct StepError(pub String);

/// How a whole step went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepOutcome {
    /// Actions run.
    pub actions: u32,
    /// Actions whose attempt failed, with the first reason.
    pub failed: u32,
    /// The first failure's reason.
    pub first_failure: Option<String>,
    /// Set when the step stopped because it was cancelled.
    pub cancelled: bool,
}

/// Runs one action of `action`.
async fn act(action: &NodeAction, ctx: &StepContext) -> Result<ActionOutcome, StepError> {
    match action {
        NodeAction::Exec(e) => exec::run(e, ctx).await,
        NodeAction::TcpConnect(t) => tcp_connect::run(t, ctx).await,
        NodeAction::UdpEcho(u) => udp_echo::run(u, ctx).await,
        NodeAction::Ping(p) => ping::run(p, ctx).await,
        NodeAction::Throughput(t) => throughput::run(t, ctx).await,
        NodeAction::Http(h) => http::run(h, ctx).await,
        NodeAction::Dns(d) => dns::run(d, ctx).await,
        NodeAction::Pktgen(p) => pktgen::run(p, ctx).await,
        NodeAction::Search(s) => search::run(s, ctx).await,
        NodeAction::Rfc6349(r) => rfc6349::run(r, ctx).await,
        NodeAction::Rrul(r) => rrul::run(r, ctx).await,
        NodeAction::Rpm(r) => rpm::run(r, ctx).await,
        NodeAction::Abr(a) => abr::run(a, ctx).await,
    }
}

/// The address of a probe's target: a node's (from the lab) or a literal.
pub(super) fn resolve(to: &netproof_plan::Target, ctx: &StepContext) -> Result<IpAddr, StepError> {
    match to {
        netproof_plan::Target::Addr(a) => Ok(*a),
        // Only an http step has a name (`http::run` looks it up first).
        netproof_plan::Target::Name(n) => Err(StepError(format!(
            "`{n}` is a name; only an http step looks names up"
        ))),
        netproof_plan::Target::Node(n) => ctx
            .addresses
            .get(n)
            .copied()
            .ok_or_else(|| StepError(format!("node `{n}` has no address in this lab"))),
    }
}

/// The labels every probe sample carries: `step`, `from` and `to`.
pub(super) fn probe_labels(ctx: &StepContext, to: String) -> netproof_sample::Labels {
    let mut labels = netproof_sample::Labels::new();
    labels.insert("step".into(), ctx.step_name.clone());
    labels.insert("from".into(), ctx.node.name.clone());
    labels.insert("to".into(), to);
    labels
}

/// Runs a step's actions: once, or every `every` until `for` has elapsed or
/// `count` actions have run. Actions keep to a fixed schedule from the
/// step's start; an action that overruns its slot delays the next one
/// (slots are skipped, never run in a burst) and the skip is an event.
/// `action` is the step's node action (a fault step is the case's to run,
/// on the lab).
pub async fn run(
    step: &Step,
    action: &NodeAction,
    mut ctx: StepContext,
) -> Result<StepOutcome, StepError> {
    let start = Instant::now();
    let mut outcome = StepOutcome {
        actions: 0,
        failed: 0,
        first_failure: None,
        cancelled: false,
    };
    let max_actions = match (step.every, step.count) {
        (None, _) => 1,
        (Some(_), Some(c)) => c,
        (Some(_), None) => u32::MAX,
    };
    let base_seed = ctx.seed;
    let mut slot: u64 = 0;
    let mut skipped: u64 = 0;
    while outcome.actions < max_actions {
        if ctx.cancel.is_cancelled() {
            outcome.cancelled = true;
            break;
        }
        ctx.deadline = Instant::now() + step.timeout;
        ctx.seed = netproof_proto::seed::derive_named(base_seed, &step.name, slot);
        let result = tokio::select! {
            r = act(action, &ctx) => Some(r),
            _ = ctx.cancel.cancelled() => None,
        };
        match result {
            None => {
                outcome.cancelled = true;
                break;
            }
            Some(Err(e)) => return Err(e),
            Some(Ok(ActionOutcome::Ok)) => outcome.actions += 1,
            Some(Ok(ActionOutcome::Failed(why))) => {
                outcome.actions += 1;
                outcome.failed += 1;
                outcome.first_failure.get_or_insert(why);
            }
        }
        let Some(every) = step.every else { break };
        // The next slot on the fixed schedule that has not yet begun.
        let elapsed = start.elapsed();
        let mut next = slot + 1;
        let due = |k: u64| every.saturating_mul(u32::try_from(k).unwrap_or(u32::MAX));
        while due(next) < elapsed {
            next += 1;
        }
        skipped += next - slot - 1;
        slot = next;
        let at = due(slot);
        if let Some(limit) = step.duration
            && at >= limit
        {
            break;
        }
        tokio::select! {
            _ = tokio::time::sleep_until(start + at) => {}
            _ = ctx.cancel.cancelled() => {
                outcome.cancelled = true;
                break;
            }
        }
    }
    if skipped > 0 {
        ctx.sink.event(
            Event::new(
                "step.overrun",
                Severity::Warning,
                format!(
                    "step `{}` skipped {skipped} of its {:?} slots because actions overran them",
                    step.name,
                    step.every.unwrap_or(Duration::ZERO)
                ),
            )
            .label("step", &step.name),
        );
    }
    Ok(outcome)
}

/// A one-line description of a step, for the procedure in reports.
pub fn describe(step: &Step) -> String {
    let mut what = match &step.action {
        Action::Fault(f) => describe_fault(f),
        Action::Node(a) => describe_action(a),
    };
    // The values references give are known only at run time (each is a
    // `step.reference` event then); say where they come from.
    if !step.refs.is_empty() {
        let refs: Vec<String> = step
            .refs
            .iter()
            .map(|r| format!("`{}` = `{}`", r.key, r.text))
            .collect();
        what.push_str(&format!(", with {}", refs.join(", ")));
    }
    describe_timing(step, what)
}

/// What a node action does, in a phrase.
fn describe_action(action: &NodeAction) -> String {
    match action {
        NodeAction::Exec(e) => {
            let cmd: Vec<String> = e
                .command
                .iter()
                .map(|a| a.expand(|n| format!("{{addr:{n}}}")))
                .collect();
            format!("on `{}` run `{}`", e.node, cmd.join(" "))
        }
        NodeAction::TcpConnect(t) => {
            format!(
                "time TCP connects from `{}` to `{}:{}`",
                t.from, t.to, t.port
            )
        }
        NodeAction::Ping(p) => format!(
            "ping `{}` from `{}`: {} requests of {} B every {}",
            p.to,
            p.from,
            p.packets,
            p.size,
            fmt_duration(p.interval)
        ),
        NodeAction::Http(h) => {
            let mut what = format!(
                "GET `{}` from `{}` via `{}:{}`, Host `{}`, SNI {}{}",
                h.url,
                h.from,
                h.to,
                h.port,
                h.host,
                h.sni
                    .as_deref()
                    .map_or("none".to_string(), |s| format!("`{s}`")),
                if h.http2 { ", HTTP/2" } else { "" }
            );
            if let Some(l) = &h.load {
                what.push_str(&format!(
                    ": load of {} req/s over {} connections for {} (at most {} requests)",
                    l.rate,
                    l.connections,
                    fmt_duration(l.duration),
                    h.requests
                ));
            } else if h.requests > 1 {
                what.push_str(&format!(", {} requests", h.requests));
            }
            what
        }
        NodeAction::Throughput(t) => format!(
            "iperf3 {}{} test from `{}` to `{}:{}`: {} stream{} for {}{}",
            match t.protocol {
                netproof_plan::Transport::Tcp => "TCP",
                netproof_plan::Transport::Udp => "UDP",
            },
            if t.reverse { " reverse" } else { "" },
            t.from,
            t.to,
            t.port,
            t.streams,
            if t.streams == 1 { "" } else { "s" },
            fmt_duration(t.duration),
            t.rate.map_or(String::new(), |r| format!(
                " at {} per stream",
                netproof_sample::Unit::BitsPerSecond.format(r as f64)
            ))
        ),
        NodeAction::Dns(d) => format!(
            "ask `{}:{}` from `{}` for {} `{}`{} over {}{}",
            d.server,
            d.port,
            d.from,
            d.rtype,
            d.name,
            d.subnet
                .map_or(String::new(), |n| format!(" as a client in {n}")),
            match d.transport {
                netproof_plan::Transport::Udp => "UDP",
                netproof_plan::Transport::Tcp => "TCP",
            },
            if d.queries > 1 {
                format!(", {} queries every {}", d.queries, fmt_duration(d.interval))
            } else {
                String::new()
            }
        ),
        NodeAction::Rrul(r) => format!(
            "RRUL from `{}` to `{}`: {} TCP flows each way (iperf3 ports {} up, {} down) for {} after {} idle, UDP echo (port {}){} latency every {}",
            r.from,
            r.to,
            r.flows,
            r.upload_port,
            r.download_port,
            fmt_duration(r.duration),
            fmt_duration(r.idle),
            r.echo_port,
            if r.ping { " and ICMP" } else { "" },
            fmt_duration(r.interval)
        ),
        NodeAction::Rpm(r) => format!(
            "responsiveness (RPM) from `{}`: {} HTTP/2 load connections downloading `{}` for {} after {} idle, probing `{}` every {}",
            r.from,
            r.connections,
            r.load_url,
            fmt_duration(r.duration),
            fmt_duration(r.idle),
            r.probe_url.path,
            fmt_duration(r.interval)
        ),
        NodeAction::Abr(a) => format!(
            "stream from `{}` ({} adaptation, {} buffer): {} from {}",
            a.from,
            match a.algorithm {
                netproof_plan::AbrAlgorithm::Throughput => "throughput",
                netproof_plan::AbrAlgorithm::Bba => "BBA",
            },
            fmt_duration(a.buffer),
            match &a.content {
                netproof_plan::AbrContent::Catalogue {
                    title,
                    bitrates,
                    segments,
                    ..
                } => format!(
                    "title {title} ({segments} segments at {} kbit/s)",
                    bitrates
                        .iter()
                        .map(u32::to_string)
                        .collect::<Vec<_>>()
                        .join("/")
                ),
                netproof_plan::AbrContent::Manifest { path } => format!("the manifest `{path}`"),
                netproof_plan::AbrContent::List { renditions, .. } =>
                    format!("{} listed renditions", renditions.len()),
            },
            a.servers
                .iter()
                .map(|s| format!("`{}`", s.url))
                .collect::<Vec<_>>()
                .join(", then ")
        ),
        NodeAction::UdpEcho(u) => format!(
            "send {} UDP echo packets of {} B every {} from `{}` to `{}:{}`",
            u.packets,
            u.size,
            fmt_duration(u.interval),
            u.from,
            u.to,
            u.port
        ),
        NodeAction::Pktgen(p) => describe_pktgen(p),
        NodeAction::Search(s) => format!(
            "search `{}` of [{}] between {} and {} (resolution {}, at most {} trials) for the highest value where {}",
            s.param,
            describe_action(&s.trial),
            s.unit.format(s.min),
            s.unit.format(s.max),
            s.unit.format(s.resolution),
            s.max_trials,
            s.condition
                .iter()
                .map(|c| format!("`{}`", c.text))
                .collect::<Vec<_>>()
                .join(" and ")
        ),
        NodeAction::Rfc6349(r) => format!(
            "RFC 6349 TCP test from `{}` to `{}`: {} against a bottleneck of {}",
            r.from,
            r.to,
            netproof_sample::Unit::Bytes.format(r.bytes as f64),
            netproof_sample::Unit::BitsPerSecond.format(r.bottleneck as f64)
        ),
    }
}

/// A `pktgen` trial in a phrase.
fn describe_pktgen(p: &netproof_plan::Pktgen) -> String {
    let rate = match (p.rate, p.burst) {
        (Some(r), _) => format!(
            "at {}",
            netproof_sample::Unit::BitsPerSecond.format(r as f64)
        ),
        (None, Some(_)) => "as fast as possible".to_string(),
        // A step reference sets it at run time.
        (None, None) => "at a rate set at run time".to_string(),
    };
    match p.burst {
        Some(n) => format!(
            "pktgen burst of {n} frames of {} B {rate} from `{}` to `{}`",
            p.frame, p.from, p.to
        ),
        None => format!(
            "pktgen {} B frames {rate} for {} from `{}` to `{}`",
            p.frame,
            fmt_duration(p.duration),
            p.from,
            p.to
        ),
    }
}

/// A step's description with its timing in parentheses.
fn describe_timing(step: &Step, what: String) -> String {
    let mut timing = Vec::new();
    if let Some(at) = step.at {
        timing.push(format!("at {}", fmt_duration(at)));
    }
    if let Some(every) = step.every {
        timing.push(format!("every {}", fmt_duration(every)));
    }
    if let Some(d) = step.duration {
        timing.push(format!("for {}", fmt_duration(d)));
    }
    if let Some(c) = step.count {
        timing.push(format!("at most {c} times"));
    }
    timing.push(format!("timeout {}", fmt_duration(step.timeout)));
    format!("{what} ({})", timing.join(", "))
}

fn describe_fault(f: &netproof_plan::Fault) -> String {
    use netproof_plan::Fault;
    let link = |l: &netproof_plan::LinkId| format!("`{l}`");
    match f {
        Fault::LinkDown { links } if links.len() > 1 => format!(
            "fault: partition, links {} down at once",
            links.iter().map(link).collect::<Vec<_>>().join(", ")
        ),
        Fault::LinkDown { links } => format!("fault: link {} down (both ends)", link(&links[0])),
        Fault::LinkUp { links } => format!("fault: link {} up", link(&links[0])),
        Fault::LinkBlackhole { link: l } => format!(
            "fault: link {} drops every frame, carrier up (routing does not see it)",
            link(l)
        ),
        Fault::LinkFlap {
            link: l,
            period,
            flaps,
        } => format!(
            "fault: link {} flaps {flaps} times, period {}",
            link(l),
            fmt_duration(*period)
        ),
        Fault::LinkSet { link: l, change } => {
            format!("fault: link {} set: {}", link(l), change.describe())
        }
        Fault::NodeStop { node } => format!("fault: stop the services of `{node}`"),
        Fault::NodeKill { node } => format!("fault: kill the services of `{node}` (SIGKILL)"),
        Fault::NodeStart { node } => format!("fault: start the services of `{node}` again"),
        Fault::RouteWithdraw { node, prefix } => {
            format!("fault: `{node}` withdraws {prefix}")
        }
        Fault::RouteAnnounce { node, prefix } => {
            format!("fault: `{node}` announces {prefix} again")
        }
        Fault::BgpPolicy { ends, .. } => {
            format!("fault: new policy on BGP session {}--{}", ends[0], ends[1])
        }
        Fault::Restore => "fault: restore the lab to the plan's state".into(),
    }
}

/// `1.5s`, `250ms`, `40µs`: a duration as people write it.
pub fn fmt_duration(d: Duration) -> String {
    netproof_sample::Unit::Seconds
        .format(d.as_secs_f64())
        .replace(' ', "")
}
