//! `kind = "rpm"`: responsiveness under working conditions
//! (draft-ietf-ippm-responsiveness): HTTP/2 load-generating connections
//! and latency probes on them and on connections of their own.

use std::time::Duration;

use crate::diagnostic::Finding;
use crate::model::{NodeAction, Rpm};
use crate::tree::{Checker, Table};
use crate::validate::{Context, Names, optional, positive_duration};

use super::target::from_node;
use super::web::{host, node_url, trust};

/// The keys an `rpm` step adds to the common ones.
pub(super) const KEYS: &[&str] = &[
    "from",
    "load_url",
    "probe_url",
    "host",
    "ca",
    "insecure",
    "connections",
    "idle",
    "duration",
    "interval",
];

/// Time beyond the phases for the connections' setup and the last probes.
const SLACK: Duration = Duration::from_secs(15);

pub(super) fn rpm(
    ck: &mut Checker<'_>,
    cx: &Context<'_>,
    names: &Names,
    t: &Table<'_, '_>,
    label: &str,
) -> Option<NodeAction> {
    let from = from_node(ck, names, t, "runs the test");
    let url = |ck: &mut Checker<'_>, key: &str, what: &str| {
        t.require(
            ck,
            key,
            &format!("add `{key} = \"https://server:8443/PATH\"`, {what}"),
        )
        .and_then(|v| v.text(ck).map(|s| (v, s)))
        .and_then(|(v, s)| node_url(ck, cx, names, &s).map(|u| (u, v)))
    };
    let load = url(
        ck,
        "load_url",
        "a large object the load connections download over and over",
    );
    let probe = url(ck, "probe_url", "a small object the latency probes ask for");
    let host = t.get("host").map(|v| host(ck, &v));
    let connections = t.get("connections").map(|v| {
        v.int_in(ck, 1..=64, "connections")
            .and_then(|n| u32::try_from(n).ok())
    });
    let idle = t.get("idle").map(|v| positive_duration(ck, &v));
    let duration = t.get("duration").map(|v| positive_duration(ck, &v));
    let interval = t.get("interval").map(|v| positive_duration(ck, &v));
    let ((load_url, to), load_val) = load?;
    let ((probe_url, probe_to), probe_val) = probe?;
    if probe_to != to || probe_url.port != load_url.port || probe_url.scheme != load_url.scheme {
        ck.report(
            Finding::new(probe_val.span(), format!("step `{label}` probes another server than it loads"), "another server")
                .hint("self probes ride on the load connections, so `probe_url` needs the scheme, host and port of `load_url`"),
        );
        return None;
    }
    let (ca, insecure) = trust(ck, cx, t, load_url.is_https(), label, load_val.span())?;
    Some(NodeAction::Rpm(Rpm {
        from: from?,
        to,
        port: load_url.port,
        load_url,
        probe_url,
        host: optional(host)?,
        ca,
        insecure,
        connections: optional(connections)?.unwrap_or(4),
        idle: optional(idle)?.unwrap_or(Duration::from_secs(2)),
        duration: optional(duration)?.unwrap_or(Duration::from_secs(10)),
        interval: optional(interval)?.unwrap_or(Duration::from_millis(100)),
    }))
}

/// The phases plus room for setup and the last probes.
pub(super) fn default_timeout(r: &Rpm) -> Duration {
    r.idle + r.duration + SLACK
}
