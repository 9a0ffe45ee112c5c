//! `tcp_connect`: time a TCP handshake from one node to a port.
//!
//! Sample: `tcp_connect.latency` in seconds, from `connect()` to an
//! established connection; a refused, unreachable or timed-out attempt is a
//! sample with no value, `ok = false` and the reason in the `error` label,
//! so `success_ratio` counts it and the latency percentiles do not.

use std::net::SocketAddr;

use netproof_plan::TcpConnect;
use netproof_sample::{Sample, Timestamp, metric};

use super::{ActionOutcome, StepContext, StepError};

pub(super) async fn run(step: &TcpConnect, ctx: &StepContext) -> Result<ActionOutcome, StepError> {
    let ip = super::resolve(&step.to, ctx)?;
    let target = SocketAddr::new(ip, step.port);
    let to = format!("{}:{}", step.to, step.port);
    let time = Timestamp::now();
    let started = tokio::time::Instant::now();
    let result = tokio::time::timeout_at(ctx.deadline, ctx.node.tcp_connect(target)).await;
    let elapsed = started.elapsed().as_secs_f64();
    let sample = match &result {
        Ok(Ok(_stream)) => Sample::num(&metric::TCP_CONNECT_LATENCY, elapsed),
        Ok(Err(e)) => Sample::failed(&metric::TCP_CONNECT_LATENCY, error_name(e)),
        Err(_) => Sample::failed(&metric::TCP_CONNECT_LATENCY, "timeout"),
    };
    let ok = sample.ok;
    let error = sample.labels.get("error").cloned();
    ctx.sink.sample(
        sample
            .at(time)
            .label("step", &ctx.step_name)
            .label("from", &ctx.node.name)
            .label("to", &to),
    );
    // Dropping the stream closes the connection right away.
    drop(result);
    if ok {
        Ok(ActionOutcome::Ok)
    } else {
        Ok(ActionOutcome::Failed(format!(
            "connect from `{}` to {to} ({target}): {}",
            ctx.node.name,
            error.unwrap_or_default()
        )))
    }
}

/// A short, stable name for a connect error, used as the `error` label.
fn error_name(e: &std::io::Error) -> String {
    use std::io::ErrorKind::*;
    match e.kind() {
        ConnectionRefused => "refused".into(),
        TimedOut => "timeout".into(),
        HostUnreachable => "host unreachable".into(),
        NetworkUnreachable => "network unreachable".into(),
        AddrNotAvailable => "address not available".into(),
        ConnectionReset => "reset".into(),
        _ => e.to_string(),
    }
}
