//! `kind = "ping"`: a series of ICMP echo requests from a node.

use std::net::IpAddr;
use std::time::Duration;

use crate::diagnostic::Finding;
use crate::model::{NodeAction, Ping, Target};
use crate::tree::{Checker, Table};
use crate::validate::topology::external_allowed;
use crate::validate::{Context, Names};

use super::series::{SeriesDefaults, series};
use super::target::from_node;

pub(super) fn ping(
    ck: &mut Checker<'_>,
    cx: &Context<'_>,
    names: &Names,
    t: &Table<'_, '_>,
    label: &str,
) -> Option<NodeAction> {
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
    Some(NodeAction::Ping(Ping {
        from: from?,
        to: to?,
        packets: series.packets,
        interval: series.interval,
        size: series.size,
        wait: series.wait,
    }))
}
