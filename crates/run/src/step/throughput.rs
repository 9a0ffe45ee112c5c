//! `throughput`: one iperf3-compatible test from a node to an iperf3
//! server.
//!
//! The sockets (the control connection and every data stream) are made on
//! the sending node, inside its namespace on the netns backend, through
//! [`NodeConnector`]; the probe emits goodput per interval as it goes and
//! the test's figures at its end. A server that refuses, closes mid-test
//! or answers with something that is not iperf3's fails the action with
//! the probe's reason (also recorded as a failed sample).

use std::io;
use std::net::SocketAddr;

use netproof_lab::NodeHandle;
use netproof_plan::{Throughput, Transport};
use netproof_probe::throughput::{self, Connector, Protocol};
use tokio::net::{TcpStream, UdpSocket};

use super::{ActionOutcome, StepContext, StepError};

/// Opens a test's sockets on a lab node.
pub(super) struct NodeConnector<'a>(pub(super) &'a NodeHandle);

impl Connector for NodeConnector<'_> {
    async fn tcp(&self, target: SocketAddr) -> io::Result<TcpStream> {
        self.0.tcp_connect(target).await
    }

    fn udp(&self, target: SocketAddr) -> io::Result<UdpSocket> {
        self.0.udp_socket(target)
    }
}

pub(super) async fn run(step: &Throughput, ctx: &StepContext) -> Result<ActionOutcome, StepError> {
    let ip = super::resolve(&step.to, ctx)?;
    let target = SocketAddr::new(ip, step.port);
    let protocol = match step.protocol {
        Transport::Tcp => Protocol::Tcp,
        Transport::Udp => Protocol::Udp,
    };
    let cfg = throughput::Config {
        streams: step.streams,
        reverse: step.reverse,
        rate: step.rate,
        length: step.length,
        bytes: step.bytes,
        interval: step.interval,
        seed: ctx.seed,
        ..throughput::Config::new(target, protocol, step.duration)
    };
    let labels = super::probe_labels(ctx, format!("{}:{}", step.to, step.port));
    let connector = NodeConnector(&ctx.node);
    let result = tokio::time::timeout_at(
        ctx.deadline,
        throughput::run(&connector, &cfg, ctx.sink.as_ref(), &labels),
    )
    .await
    .map_err(|_| {
        StepError(format!(
            "the throughput test to {target} did not finish within the step's timeout"
        ))
    })?;
    match result {
        Ok(_) => Ok(ActionOutcome::Ok),
        Err(throughput::ProbeError::Config(e)) => Err(StepError(e)),
        Err(e) => Ok(ActionOutcome::Failed(e.to_string())),
    }
}
