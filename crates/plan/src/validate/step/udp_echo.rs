//! `kind = "udp_echo"`: a series of UDP packets to a netproof echo
//! responder; with `convergence = true`, a steady stream across a failure
//! whose loss is measured as data-plane convergence (RFC 6413).

use std::time::Duration;

use crate::model::{NodeAction, UdpEcho};
use crate::tree::{Checker, Table};
use crate::validate::{Context, Names};

use super::series::{SeriesDefaults, series};
use super::target::{from_node, target};

pub(super) fn udp_echo(
    ck: &mut Checker<'_>,
    cx: &Context<'_>,
    names: &Names,
    t: &Table<'_, '_>,
    label: &str,
) -> Option<NodeAction> {
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
    let convergence = t.get("convergence").map(|v| v.boolean(ck));
    let ((to, port), series) = (to?, series?);
    Some(NodeAction::UdpEcho(UdpEcho {
        from: from?,
        to,
        port,
        packets: series.packets,
        interval: series.interval,
        size: series.size,
        wait: series.wait,
        convergence: crate::validate::optional(convergence)?.unwrap_or(false),
    }))
}
