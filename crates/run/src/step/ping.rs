//! `ping`: a series of ICMP echo requests from a node.
//!
//! The socket (an unprivileged datagram ICMP socket; raw when that is not
//! allowed and we are root) is made inside the node's namespace, bound to
//! the node's address, and handed to the probe, which emits one `ping.rtt`
//! per reply, one failed `ping.rtt` per lost request, and `ping.loss` at
//! the end of the series.

use std::net::SocketAddr;

use netproof_plan::Ping;
use netproof_probe::ping;

use super::{ActionOutcome, StepContext, StepError};

pub(super) async fn run(step: &Ping, ctx: &StepContext) -> Result<ActionOutcome, StepError> {
    let target = super::resolve(&step.to, ctx)?;
    let source = ctx.node.source_for(target);
    let socket = ctx
        .node
        .in_node(move || -> std::io::Result<_> {
            let s = ping::open_socket(target.is_ipv6())?;
            if let Some(src) = source {
                s.bind(&SocketAddr::new(src, 0).into())?;
            }
            Ok(s)
        })
        .and_then(|r| r)
        .map_err(|e| {
            StepError(format!(
                "cannot open an ICMP socket on `{}`: {e}",
                ctx.node.name
            ))
        })?;
    let cfg = ping::Config {
        target,
        count: step.packets,
        interval: step.interval,
        size: step.size,
        timeout: step.wait,
    };
    let labels = super::probe_labels(ctx, step.to.to_string());
    let summary = tokio::time::timeout_at(
        ctx.deadline,
        ping::run(socket, &cfg, ctx.sink.as_ref(), &labels),
    )
    .await
    .map_err(|_| {
        StepError(format!(
            "pinging {target} did not finish within the step's timeout"
        ))
    })?
    .map_err(|e| StepError(e.to_string()))?;
    if summary.lost > 0 {
        Ok(ActionOutcome::Failed(format!(
            "{} of {} echo requests to {target} were lost",
            summary.lost, summary.sent
        )))
    } else {
        Ok(ActionOutcome::Ok)
    }
}
