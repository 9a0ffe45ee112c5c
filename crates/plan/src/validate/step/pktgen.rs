//! `kind = "pktgen"`: UDP frames at an exact rate, or one burst, from one
//! node to a receiver netproof opens on another.

use std::time::Duration;

use crate::diagnostic::Finding;
use crate::model::{NodeAction, Pktgen};
use crate::tree::{Checker, Table};
use crate::validate::{Names, optional, positive_duration};

use super::target::from_node;

/// The keys a `pktgen` step adds to the common ones.
pub(super) const KEYS: &[&str] = &["from", "to", "frame", "rate", "burst", "duration", "wait"];

/// RFC 2544's smallest Ethernet frame.
const DEFAULT_FRAME: u32 = 64;
/// Time a trial may take beyond its sending: the wait and the set-up.
const SLACK: Duration = Duration::from_secs(5);

pub(super) fn pktgen(
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
            "add `to = \"NODE\"`, the node netproof receives the frames on",
        )
        .and_then(|v| v.str(ck))
        .and_then(|s| names.resolve_str(ck, &s));
    let frame = t.get("frame").map(|v| {
        v.int_in(ck, 64..=9216, "bytes (an Ethernet frame with FCS)")
            .and_then(|n| u32::try_from(n).ok())
    });
    let rate = t.get("rate").map(|v| {
        let r = v.rate(ck)?;
        if r == 0 {
            v.invalid(
                ck,
                "`rate` 0 sends nothing".into(),
                "zero rate",
                Some("give a rate above 0, e.g. `rate = \"10Mbit\"`".into()),
            );
            return None;
        }
        Some(r)
    });
    let burst = t.get("burst").map(|v| {
        v.int_in(ck, 1..=100_000_000, "frames")
            .and_then(|n| u32::try_from(n).ok())
    });
    let duration = t.get("duration").map(|v| positive_duration(ck, &v));
    let wait = t.get("wait").map(|v| positive_duration(ck, &v));
    let (rate, burst) = (optional(rate)?, optional(burst)?);
    if rate.is_none() && burst.is_none() && !t.hides("rate") && !t.hides("burst") {
        ck.report(
            Finding::new(t.span(), format!("`pktgen` step `{label}` has neither `rate` nor `burst`"), "no load")
                .hint("add `rate = \"10Mbit\"` for a constant rate over `duration`, or `burst = 1000` for frames back to back"),
        );
        return None;
    }
    if let (Some(_), Some(v)) = (burst, t.get("duration")) {
        ck.report(
            Finding::new(
                v.key_span(),
                format!("`pktgen` step `{label}` has both `burst` and `duration`"),
                "not with `burst`",
            )
            .hint("a burst ends when its frames are sent; remove `duration`"),
        );
        return None;
    }
    Some(NodeAction::Pktgen(Pktgen {
        from: from?,
        to: to?,
        frame: optional(frame)?.unwrap_or(DEFAULT_FRAME),
        rate,
        burst,
        duration: optional(duration)?.unwrap_or(Duration::from_secs(2)),
        wait: optional(wait)?.unwrap_or(Duration::from_millis(500)),
    }))
}

/// The sending time plus the wait and room to set up.
pub(super) fn default_timeout(p: &Pktgen) -> Duration {
    let sending = match (p.burst, p.rate) {
        (Some(_), None) => Duration::from_secs(5),
        (Some(n), Some(r)) => Duration::from_secs_f64(
            (f64::from(n) * f64::from(p.frame) * 8.0 / r as f64).min(3600.0),
        ),
        (None, _) => p.duration,
    };
    sending + p.wait + SLACK
}
