//! `rfc6349`: RFC 6349's TCP throughput test from a node to a receiver
//! netproof opens on another node: the baseline RTT (the step's `rtt`, or
//! the smallest of five TCP handshakes), the path MTU (the step's `mtu`,
//! or the connection's), the bottleneck the step names (usually a
//! search's result), then one transfer of `bytes` and the RFC's metrics.

use std::net::SocketAddr;
use std::time::Duration;

use netproof_plan::Rfc6349;
use netproof_probe::rfc6349::{self, Inputs};
use netproof_sample::Sample;
use netproof_sample::metric::{
    RFC6349_BASELINE_RTT, RFC6349_BOTTLENECK, RFC6349_BUFFER_DELAY, RFC6349_EFFICIENCY,
    RFC6349_IDEAL_TIME, RFC6349_MAX_THROUGHPUT, RFC6349_MTU, RFC6349_TRANSFER_RTT,
    RFC6349_TRANSFER_TIME, RFC6349_TRANSFER_TIME_RATIO,
};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use tokio::time::Instant;

use super::{ActionOutcome, StepContext, StepError};

/// Handshakes timed for the baseline RTT when the step gives none.
const HANDSHAKES: usize = 5;

pub(super) async fn run(step: &Rfc6349, ctx: &StepContext) -> Result<ActionOutcome, StepError> {
    let to = ctx
        .lab
        .node(&step.to)
        .ok_or_else(|| StepError(format!("node `{}` is not in the lab", step.to)))?;
    let addr = to.addr;
    let listener = to
        .in_node(move || -> std::io::Result<std::net::TcpListener> {
            let l = std::net::TcpListener::bind(SocketAddr::new(addr, 0))?;
            l.set_nonblocking(true)?;
            Ok(l)
        })
        .and_then(|r| r)
        .and_then(TcpListener::from_std)
        .map_err(|e| {
            StepError(format!(
                "cannot listen on `{}` for the RFC 6349 transfer: {e}",
                step.to
            ))
        })?;
    let target = listener.local_addr().map_err(|e| {
        StepError(format!(
            "the RFC 6349 receiver on `{}` has no address: {e}",
            step.to
        ))
    })?;
    // The receiver: accept every connection, read each to its end.
    let receiver = tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = vec![0u8; 256 * 1024];
                while let Ok(n) = s.read(&mut buf).await {
                    if n == 0 {
                        return;
                    }
                }
            });
        }
    });
    let result = measure(step, ctx, target).await;
    receiver.abort();
    result
}

async fn measure(
    step: &Rfc6349,
    ctx: &StepContext,
    target: SocketAddr,
) -> Result<ActionOutcome, StepError> {
    let labels = super::probe_labels(ctx, step.to.clone());
    let emit = |metric, value: f64| {
        let mut s = Sample::num(metric, value);
        s.labels = labels.clone();
        ctx.sink.sample(s);
    };
    let connect_err = |e: std::io::Error| {
        StepError(format!(
            "cannot connect from `{}` to the RFC 6349 receiver at {target}: {e}",
            ctx.node.name
        ))
    };
    let baseline = match step.rtt {
        Some(r) => r,
        None => {
            let mut best = Duration::MAX;
            for _ in 0..HANDSHAKES {
                let t = Instant::now();
                let s = tokio::time::timeout_at(ctx.deadline, ctx.node.tcp_connect(target))
                    .await
                    .map_err(|_| {
                        StepError(
                            "the baseline handshakes did not finish within the step's timeout"
                                .into(),
                        )
                    })?
                    .map_err(connect_err)?;
                best = best.min(t.elapsed());
                drop(s);
            }
            best
        }
    };
    emit(&RFC6349_BASELINE_RTT, baseline.as_secs_f64());
    emit(&RFC6349_BOTTLENECK, step.bottleneck as f64);
    let stream = ctx.node.tcp_connect(target).await.map_err(connect_err)?;
    let out = rfc6349::send(stream, step.bytes, ctx.deadline)
        .await
        .map_err(|e| {
            StepError(format!(
                "the RFC 6349 transfer to `{}` failed: {e}",
                step.to
            ))
        })?;
    let mtu = step.mtu.unwrap_or(out.pmtu);
    emit(&RFC6349_MTU, f64::from(mtu));
    let m = rfc6349::metrics::compute(&Inputs {
        bytes: step.bytes,
        bottleneck: step.bottleneck as f64,
        mtu,
        overhead: step.overhead,
        baseline_rtt: baseline.as_secs_f64(),
        transfer_time: out.transfer_time.as_secs_f64(),
        transmitted: out.transmitted,
        retransmitted: out.retransmitted,
        rtts: out.rtts.iter().map(Duration::as_secs_f64).collect(),
    });
    emit(&RFC6349_MAX_THROUGHPUT, m.max_throughput);
    emit(&RFC6349_TRANSFER_TIME, out.transfer_time.as_secs_f64());
    emit(&RFC6349_IDEAL_TIME, m.ideal_time);
    emit(&RFC6349_TRANSFER_TIME_RATIO, m.transfer_time_ratio);
    if let Some(e) = m.efficiency {
        emit(&RFC6349_EFFICIENCY, e);
    }
    if let Some(r) = m.transfer_rtt {
        emit(&RFC6349_TRANSFER_RTT, r);
    }
    if let Some(b) = m.buffer_delay {
        emit(&RFC6349_BUFFER_DELAY, b);
    }
    Ok(ActionOutcome::Ok)
}
