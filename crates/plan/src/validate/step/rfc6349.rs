//! `kind = "rfc6349"`: RFC 6349's TCP throughput test: a transfer of
//! `bytes` to a receiver netproof opens on another node, judged against the `bottleneck` bandwidth
//! and baseline `rtt` earlier steps measured (usually step references).

use std::time::Duration;

use crate::diagnostic::Finding;
use crate::model::{NodeAction, Rfc6349};
use crate::tree::{Checker, Table};
use crate::validate::{Names, optional, positive_duration};

use super::target::from_node;

/// The keys an `rfc6349` step adds to the common ones.
pub(super) const KEYS: &[&str] = &[
    "from",
    "to",
    "bytes",
    "bottleneck",
    "rtt",
    "mtu",
    "overhead",
];

/// Ethernet's header as the lab's links count a frame (no preamble, FCS
/// or gap).
const DEFAULT_OVERHEAD: u32 = 14;

pub(super) fn rfc6349(
    ck: &mut Checker<'_>,
    names: &Names,
    t: &Table<'_, '_>,
    label: &str,
) -> Option<NodeAction> {
    let from = from_node(ck, names, t, "sends");
    let to = t
        .require(
            ck,
            "to",
            "add `to = \"NODE\"`, the node netproof receives the transfer on",
        )
        .and_then(|v| v.str(ck))
        .and_then(|s| names.resolve_str(ck, &s));
    let required = |ck: &mut Checker<'_>, key: &str, help: &str| -> bool {
        if !t.has(key) && !t.hides(key) {
            ck.report(
                Finding::new(
                    t.span(),
                    format!("`rfc6349` step `{label}` is missing the required key `{key}`"),
                    format!("no `{key}`"),
                )
                .hint(help.to_string()),
            );
            return false;
        }
        true
    };
    let has_bytes = required(
        ck,
        "bytes",
        "add `bytes = \"50MB\"`, the size of the transfer",
    );
    let has_bottleneck = required(
        ck,
        "bottleneck",
        "add `bottleneck = \"{result:bb.max(search.rate)}\"` (a search's result) or a rate such as `\"100Mbit\"`",
    );
    let bytes = t.get("bytes").map(|v| {
        let b = v.size(ck)?;
        if b == 0 {
            v.invalid(
                ck,
                "`bytes` 0 transfers nothing".into(),
                "zero bytes",
                Some("give a size such as `\"50MB\"`".into()),
            );
            return None;
        }
        Some(b)
    });
    let bottleneck = t.get("bottleneck").map(|v| {
        let r = v.rate(ck)?;
        if r == 0 {
            v.invalid(
                ck,
                "`bottleneck` 0 allows nothing".into(),
                "zero rate",
                Some("give the path's bottleneck, e.g. `\"100Mbit\"`".into()),
            );
            return None;
        }
        Some(r)
    });
    let rtt = t.get("rtt").map(|v| positive_duration(ck, &v));
    let mtu = t.get("mtu").map(|v| {
        v.int_in(ck, 68..=65_535, "bytes")
            .and_then(|n| u32::try_from(n).ok())
    });
    let overhead = t.get("overhead").map(|v| {
        v.int_in(ck, 0..=128, "bytes")
            .and_then(|n| u32::try_from(n).ok())
    });
    let to = to?;
    if !(has_bytes && has_bottleneck) {
        return None;
    }
    Some(NodeAction::Rfc6349(Rfc6349 {
        from: from?,
        to,
        // A reference's placeholder until the executor sets it.
        bytes: optional(bytes)?.unwrap_or(1),
        bottleneck: optional(bottleneck)?.unwrap_or(1),
        rtt: optional(rtt)?,
        mtu: optional(mtu)?,
        overhead: optional(overhead)?.unwrap_or(DEFAULT_OVERHEAD),
    }))
}

/// A transfer's bound: it is the step's timeout that stops a slow one.
pub(super) fn default_timeout(_: &Rfc6349) -> Duration {
    Duration::from_secs(120)
}
