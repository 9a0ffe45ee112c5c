//! `kind = "throughput"`: an iperf3-compatible TCP or UDP test from one
//! node to an iperf3 server (a real `iperf3 -s` or `netproof probe serve
//! --iperf`).

use std::net::IpAddr;
use std::time::Duration;

use crate::diagnostic::Finding;
use crate::model::{NodeAction, Target, Throughput, Transport};
use crate::tree::{Checker, Table};
use crate::units::format_duration;

use crate::validate::{Context, Names, optional, positive_duration};

use super::target::{from_node, target_with_default};

/// The keys a `throughput` step adds to the common ones.
pub(super) const KEYS: &[&str] = &[
    "from", "to", "protocol", "streams", "duration", "reverse", "rate", "length", "bytes",
    "interval",
];

/// iperf3's port.
const DEFAULT_PORT: u16 = 5201;
/// Time a test may take beyond its duration: the handshake, the results
/// exchange, and a slow peer's grace.
const SLACK: Duration = Duration::from_secs(10);

pub(super) fn throughput(
    ck: &mut Checker<'_>,
    cx: &Context<'_>,
    names: &Names,
    t: &Table<'_, '_>,
    label: &str,
) -> Option<NodeAction> {
    let from = from_node(ck, names, t, "runs the client");
    let to = t
        .require(
            ck,
            "to",
            "add `to = \"NODE\"` (port 5201) or `to = \"NODE:PORT\"`, where an iperf3 server listens",
        )
        .and_then(|v| v.str(ck))
        .and_then(|s| target_with_default(ck, cx, names, &s, DEFAULT_PORT));
    let protocol = t.get("protocol").map(|v| {
        let s = v.str(ck)?;
        match s.value {
            "tcp" => Some(Transport::Tcp),
            "udp" => Some(Transport::Udp),
            other => {
                ck.report(
                    Finding::new(
                        s.span,
                        format!("unknown protocol `{other}`"),
                        "not a protocol",
                    )
                    .hint("write `protocol = \"tcp\"` or `protocol = \"udp\"`"),
                );
                None
            }
        }
    });
    let streams = t.get("streams").map(|v| {
        v.int_in(ck, 1..=128, "streams")
            .and_then(|n| u16::try_from(n).ok())
    });
    let duration = t.get("duration").map(|v| positive_duration(ck, &v));
    let reverse = t.get("reverse").map(|v| v.boolean(ck));
    let rate = t.get("rate").map(|v| {
        let r = v.rate(ck)?;
        if r == 0 {
            v.invalid(
                ck,
                "`rate` 0 sends nothing".to_string(),
                "zero rate",
                Some(
                    "give a rate above 0, or remove `rate` (TCP: unlimited; UDP: 1Mbit)"
                        .to_string(),
                ),
            );
            return None;
        }
        Some(r)
    });
    let length = t.get("length").map(|v| {
        v.int_in(ck, 16..=16 * 1024 * 1024, "bytes")
            .and_then(|n| usize::try_from(n).ok())
    });
    let bytes = t.get("bytes").map(|v| {
        let b = v.size(ck)?;
        if b == 0 {
            v.invalid(
                ck,
                "`bytes` 0 moves nothing".to_string(),
                "zero bytes",
                Some("give a size such as `100MB`, or remove `bytes` to bound the test by `duration` alone".to_string()),
            );
            return None;
        }
        Some(b)
    });
    let interval = t.get("interval").map(|v| positive_duration(ck, &v));

    let protocol = optional(protocol)?.unwrap_or(Transport::Tcp);
    let length = optional(length)?;
    if let (Transport::Udp, Some(l), Some(v)) = (protocol, length, t.get("length"))
        && l > 65_507
    {
        v.invalid(
            ck,
            format!("`length` {l} does not fit in a UDP datagram"),
            "too long for UDP",
            Some("UDP datagrams carry at most 65507 bytes".to_string()),
        );
        return None;
    }
    let step = Throughput {
        from: from?,
        to: Target::Addr(IpAddr::from([0, 0, 0, 0])),
        port: 0,
        protocol,
        streams: optional(streams)?.unwrap_or(1),
        duration: optional(duration)?.unwrap_or(Duration::from_secs(10)),
        reverse: optional(reverse)?.unwrap_or(false),
        rate: optional(rate)?,
        length,
        bytes: optional(bytes)?,
        interval: optional(interval)?.unwrap_or(Duration::from_secs(1)),
    };
    let (to, port) = to?;
    // A written `timeout` must leave the test its duration.
    if let Some(v) = t.get("timeout")
        && let Some(timeout) = v.duration(&mut Checker::new(ck.text))
        && timeout < step.duration
    {
        ck.report(
            Finding::new(
                v.key_span(),
                format!("step `{label}` cannot run its test within its `timeout`"),
                "too short",
            )
            .hint(format!(
                "the test runs {}; raise `timeout` or remove it (the default is the duration plus {})",
                format_duration(step.duration),
                format_duration(SLACK)
            )),
        );
        return None;
    }
    Some(NodeAction::Throughput(Throughput { to, port, ..step }))
}

/// The duration plus room for the handshake and the results.
pub(super) fn default_timeout(t: &Throughput) -> Duration {
    t.duration + SLACK
}
