//! `pktgen`: one trial of the packet generator, from a node to a receiver
//! netproof opens on the `to` node.
//!
//! Both sockets are made inside their nodes' namespaces (the receiver on
//! the far node's address, the sender bound to the near node's and
//! connected to the receiver); the trial itself runs on a blocking thread
//! (it paces to microseconds, see `netproof_probe::pktgen::trial`). Loss
//! is the measurement, never a step failure: conditions and expectations
//! judge it. A trial that offered under 90 % of its rate (the host could
//! not generate it) fails, with the figures.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use netproof_plan::Pktgen;
use netproof_probe::pktgen;

use netproof_sample::Unit;

use super::{ActionOutcome, StepContext, StepError};

/// Below this share of the rate asked, a trial did not offer the load it
/// names (a sender that ends a tenth of its trial late).
const UNDERRUN: f64 = 0.9;

pub(super) async fn run(step: &Pktgen, ctx: &StepContext) -> Result<ActionOutcome, StepError> {
    let to = ctx
        .lab
        .node(&step.to)
        .ok_or_else(|| StepError(format!("node `{}` is not in the lab", step.to)))?;
    let rx = to
        .udp_socket_at(SocketAddr::new(to.addr, 0), 0)
        .and_then(|s| s.into_std())
        .map_err(|e| {
            StepError(format!(
                "cannot open the pktgen receiver on `{}`: {e}",
                step.to
            ))
        })?;
    let target = rx.local_addr().map_err(|e| {
        StepError(format!(
            "the pktgen receiver on `{}` has no address: {e}",
            step.to
        ))
    })?;
    let tx = ctx
        .node
        .udp_socket(target)
        .and_then(|s| s.into_std())
        .and_then(|s| s.connect(target).map(|()| s))
        .map_err(|e| {
            StepError(format!(
                "cannot open the pktgen sender on `{}` towards {target}: {e}",
                ctx.node.name
            ))
        })?;
    let cfg = pktgen::Config {
        frame: step.frame,
        rate: step.rate,
        burst: step.burst,
        duration: step.duration,
        wait: step.wait,
        seed: ctx.seed,
    };
    let stop = Arc::new(AtomicBool::new(false));
    let worker = {
        let stop = stop.clone();
        tokio::task::spawn_blocking(move || pktgen::run(&cfg, &tx, &rx, &stop))
    };
    tokio::pin!(worker);
    let joined = tokio::select! {
        j = &mut worker => j,
        () = ctx.cancel.cancelled() => {
            stop.store(true, Ordering::SeqCst);
            (&mut worker).await
        }
        () = tokio::time::sleep_until(ctx.deadline) => {
            stop.store(true, Ordering::SeqCst);
            let _ = (&mut worker).await;
            return Err(StepError(format!("the pktgen trial to `{}` did not finish within the step's timeout", step.to)));
        }
    };
    let summary = joined
        .map_err(|e| StepError(format!("the pktgen trial failed: {e}")))?
        .map_err(|e| StepError(e.to_string()))?;
    let mut labels = super::probe_labels(ctx, step.to.clone());
    labels.insert("frame".into(), step.frame.to_string());
    pktgen::trial::emit(&summary, ctx.sink.as_ref(), &labels);
    // A trial the host could not generate did not test the rate it names:
    // a search must not count it as passing there.
    if let (Some(rate), None, Some(offered)) = (step.rate, step.burst, summary.offered)
        && offered < rate as f64 * UNDERRUN
    {
        return Ok(ActionOutcome::Failed(format!(
            "the generator offered {} of the {} asked (it fell {} behind its schedule): this host cannot hold the rate",
            Unit::BitsPerSecond.format(offered),
            Unit::BitsPerSecond.format(rate as f64),
            Unit::Seconds.format(summary.lateness.as_secs_f64())
        )));
    }
    Ok(ActionOutcome::Ok)
}
