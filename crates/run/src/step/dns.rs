//! `dns`: a series of DNS queries from a node to a server, with an
//! optional EDNS Client Subnet prefix.
//!
//! The UDP socket and any TCP connection are made on the node (inside its
//! namespace on the netns backend) through [`netproof_lab::NodeHandle`];
//! the probe does the exchange on them, so the latency is the node's. A
//! query without a usable answer, or with an rcode other than NOERROR, is
//! a result (failed samples with the reason), not a step error.

use std::net::SocketAddr;
use std::sync::Arc;

use netproof_plan::{Dns, Transport as PlanTransport};
use netproof_probe::dns::{self, Question, Transport};
use netproof_probe::http::Connector;

use super::{ActionOutcome, StepContext, StepError};

pub(super) async fn run(step: &Dns, ctx: &StepContext) -> Result<ActionOutcome, StepError> {
    let ip = super::resolve(&step.server, ctx)?;
    let server = SocketAddr::new(ip, step.port);
    let question = Question {
        subnet: step.subnet,
        ..Question::new(step.name.clone(), step.rtype)
    };
    let transport = match step.transport {
        PlanTransport::Udp => Transport::Udp,
        PlanTransport::Tcp => Transport::Tcp,
    };
    let udp = match transport {
        Transport::Udp => Some(ctx.node.udp_socket(server).map_err(|e| {
            StepError(format!(
                "cannot open a UDP socket on `{}`: {e}",
                ctx.node.name
            ))
        })?),
        Transport::Tcp => None,
    };
    let node = ctx.node.clone();
    let connector: Connector = Arc::new(move |addr| {
        let node = node.clone();
        Box::pin(async move { node.tcp_connect(addr).await })
    });
    let cfg = dns::Config {
        server,
        question,
        transport,
        queries: step.queries,
        interval: step.interval,
        timeout: step.wait,
        tries: step.tries,
        seed: ctx.seed,
    };
    let labels = super::probe_labels(ctx, format!("{}:{}", step.server, step.port));
    let summary = tokio::time::timeout_at(
        ctx.deadline,
        dns::run(&cfg, udp, connector, ctx.sink.as_ref(), &labels),
    )
    .await
    .map_err(|_| {
        StepError(format!(
            "the DNS queries to {server} did not finish within the step's timeout"
        ))
    })?
    .map_err(|e| StepError(e.to_string()))?;
    Ok(match summary.first_problem() {
        None => ActionOutcome::Ok,
        Some(why) => ActionOutcome::Failed(format!(
            "{} {} at {server}: {} of {} queries failed; first: {why}",
            step.rtype,
            step.name,
            summary.failed(),
            summary.queries.len()
        )),
    })
}
