//! `kind = "rrul"`: flent's Realtime Response Under Load: TCP flows each
//! way against iperf3 servers, with UDP echo and ICMP latency probes
//! before (idle) and during the load.

use std::time::Duration;

use crate::model::{NodeAction, Rrul};
use crate::tree::{Checker, Table};
use crate::validate::{Context, Names, optional, positive_duration};

use super::target::{from_node, target_with_default};

/// The keys an `rrul` step adds to the common ones.
pub(super) const KEYS: &[&str] = &[
    "from",
    "to",
    "upload_port",
    "download_port",
    "echo_port",
    "flows",
    "idle",
    "duration",
    "interval",
    "ping",
];

/// Time beyond the phases for handshakes and results.
const SLACK: Duration = Duration::from_secs(15);

pub(super) fn rrul(
    ck: &mut Checker<'_>,
    cx: &Context<'_>,
    names: &Names,
    t: &Table<'_, '_>,
) -> Option<NodeAction> {
    let from = from_node(ck, names, t, "runs the flows and probes");
    let to = t
        .require(
            ck,
            "to",
            "add `to = \"NODE\"`: the node where two iperf3 servers (ports 5201 and 5202) and a UDP echo responder (7007) run",
        )
        .and_then(|v| v.str(ck))
        .and_then(|s| target_with_default(ck, cx, names, &s, 0));
    let port = |ck: &mut Checker<'_>, key: &str| {
        t.get(key).map(|v| {
            v.int_in(ck, 1..=65_535, "port")
                .and_then(|p| u16::try_from(p).ok())
        })
    };
    let upload_port = port(ck, "upload_port");
    let download_port = port(ck, "download_port");
    let echo_port = port(ck, "echo_port");
    let flows = t.get("flows").map(|v| {
        v.int_in(ck, 1..=64, "flows")
            .and_then(|n| u16::try_from(n).ok())
    });
    let idle = t.get("idle").map(|v| positive_duration(ck, &v));
    let duration = t.get("duration").map(|v| positive_duration(ck, &v));
    let interval = t.get("interval").map(|v| positive_duration(ck, &v));
    let ping = t.get("ping").map(|v| v.boolean(ck));
    let (to, written_port) = to?;
    let step = Rrul {
        from: from?,
        to,
        upload_port: optional(upload_port)?.unwrap_or(if written_port == 0 {
            5201
        } else {
            written_port
        }),
        download_port: optional(download_port)?.unwrap_or(5202),
        echo_port: optional(echo_port)?.unwrap_or(7007),
        flows: optional(flows)?.unwrap_or(4),
        idle: optional(idle)?.unwrap_or(Duration::from_secs(5)),
        duration: optional(duration)?.unwrap_or(Duration::from_secs(30)),
        interval: optional(interval)?.unwrap_or(Duration::from_millis(100)),
        ping: optional(ping)?.unwrap_or(true),
    };
    if step.upload_port == step.download_port
        && let Some(v) = t.get("download_port").or_else(|| t.get("upload_port"))
    {
        v.invalid(
            ck,
            format!(
                "uploads and downloads both go to port {}, but an iperf3 server runs one test at a time",
                step.upload_port
            ),
            "same port",
            Some("run two iperf3 servers and give each direction its own port".into()),
        );
        return None;
    }
    Some(NodeAction::Rrul(step))
}

/// The phases plus room for the handshakes and the results.
pub(super) fn default_timeout(r: &Rrul) -> Duration {
    r.idle + r.duration + SLACK
}
