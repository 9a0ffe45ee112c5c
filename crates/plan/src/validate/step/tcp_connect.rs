//! `kind = "tcp_connect"`: TCP handshakes timed from a node to a port.

use crate::model::{NodeAction, TcpConnect};
use crate::tree::{Checker, Table};
use crate::validate::{Context, Names};

use super::target::{from_node, target};

pub(super) fn tcp_connect(
    ck: &mut Checker<'_>,
    cx: &Context<'_>,
    names: &Names,
    t: &Table<'_, '_>,
) -> Option<NodeAction> {
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
    Some(NodeAction::TcpConnect(TcpConnect {
        from: from?,
        to,
        port,
    }))
}
