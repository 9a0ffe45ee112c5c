//! `udp_echo`: a series of UDP packets to a netproof echo responder.
//!
//! The socket is made on the sending node (inside its namespace on the
//! netns backend) and handed to the probe, which emits one `udp_echo.rtt`
//! per reply as it arrives, one failed `udp_echo.rtt` per lost packet, and
//! the series' jitter, loss, duplicates and reordering at its end (with
//! `convergence = true`, also the `convergence.*` metrics, and loss does
//! not fail the step).

use std::net::SocketAddr;

use netproof_plan::UdpEcho;
use netproof_probe::udp_echo;

use super::{ActionOutcome, StepContext, StepError};

pub(super) async fn run(step: &UdpEcho, ctx: &StepContext) -> Result<ActionOutcome, StepError> {
    let ip = super::resolve(&step.to, ctx)?;
    let target = SocketAddr::new(ip, step.port);
    let socket = ctx.node.udp_socket(target).map_err(|e| {
        StepError(format!(
            "cannot open a UDP socket on `{}`: {e}",
            ctx.node.name
        ))
    })?;
    let cfg = udp_echo::Config {
        target,
        packets: step.packets,
        interval: step.interval,
        size: step.size,
        timeout: step.wait,
        convergence: step.convergence,
    };
    let labels = super::probe_labels(ctx, format!("{}:{}", step.to, step.port));
    let summary = tokio::time::timeout_at(
        ctx.deadline,
        udp_echo::run(socket, &cfg, ctx.sink.as_ref(), &labels),
    )
    .await
    .map_err(|_| {
        StepError(format!(
            "the series to {target} did not finish within the step's timeout"
        ))
    })?
    .map_err(|e| StepError(e.to_string()))?;
    // A convergence stream is sent across a planned failure: its loss is
    // the measurement, judged by the case's expectations.
    if summary.lost > 0 && !step.convergence {
        Ok(ActionOutcome::Failed(format!(
            "{} of {} packets to {target} were lost",
            summary.lost, summary.sent
        )))
    } else {
        Ok(ActionOutcome::Ok)
    }
}
