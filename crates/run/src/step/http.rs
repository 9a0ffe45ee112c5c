//! `http`: HTTP(S) requests from a node, or an open-loop load.
//!
//! The TCP connection is made on the node (inside its namespace on the
//! netns backend) through [`netproof_lab::NodeHandle::tcp_connect`]; the
//! probe runs TLS and HTTP over it with the step's Host header and SNI,
//! each set independently of the address. A failed request is a result
//! (failed samples with the phase and reason), not a step error; only a
//! setup that cannot run (an unreadable CA file) is.

use std::net::SocketAddr;
use std::sync::Arc;

use netproof_plan::{CaFile, Http};
use netproof_probe::http::{Client, Config, Connector, Endpoint, LoadConfig, Sni, Trust};
use netproof_proto::content::ContentKey;

use super::{ActionOutcome, StepContext, StepError};

/// How long one resolver has to answer a lookup of the URL's name.
const LOOKUP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

pub(super) async fn run(step: &Http, ctx: &StepContext) -> Result<ActionOutcome, StepError> {
    let ip = match &step.to {
        // A name: looked up through the node's own resolvers, as a
        // process on it would (`[[node]] resolver`).
        netproof_plan::Target::Name(name) => {
            let node = ctx.node.clone();
            let lookup = netproof_probe::dns::lookup::lookup(
                name,
                ctx.node.resolvers(),
                move |server| node.udp_socket(server),
                LOOKUP_TIMEOUT,
            );
            tokio::time::timeout_at(ctx.deadline, lookup)
                .await
                .map_err(|_| {
                    StepError(format!(
                        "looking up `{name}` did not finish within the step's timeout"
                    ))
                })?
                .map_err(|e| StepError(e.to_string()))?
        }
        to => super::resolve(to, ctx)?,
    };
    let target = SocketAddr::new(ip, step.port);
    let cfg = Config {
        connect: Some(Endpoint::Addr(target)),
        host: Some(step.host.clone()),
        sni: match &step.sni {
            Some(n) => Sni::Name(n.clone()),
            None => Sni::Off,
        },
        trust: match &step.ca {
            Some(CaFile::Path(path)) => Trust::CaFile(path.clone()),
            // `check` refuses `{lab_ca}` in a plan whose lab makes no CA.
            Some(CaFile::Lab) => Trust::CaFile(ctx.lab_ca.clone().ok_or_else(|| {
                StepError("`ca = \"{lab_ca}\"`, but the lab made no CA (no CDN service has an https site without `cert`)".into())
            })?),
            None => Trust::Insecure,
        },
        http2: step.http2,
        range: step.range,
        requests: step.requests,
        timeout: step.request_timeout,
        ..Config::new(step.url.clone())
    };
    let node = ctx.node.clone();
    let connector: Connector = Arc::new(move |addr| {
        let node = node.clone();
        Box::pin(async move { node.tcp_connect(addr).await })
    });
    let mut client = Client::new(cfg, connector).map_err(|e| StepError(e.to_string()))?;
    if let Some(seed) = step.verify {
        // `check` made sure the path names a catalogue file.
        let key = ContentKey::for_path(seed, &step.url.path)
            .ok_or_else(|| StepError(format!("`{}` is not a catalogue path", step.url.path)))?;
        client = client.with_body_check(Arc::new(move |offset: u64, chunk: &[u8]| {
            match key.first_mismatch(offset, chunk) {
                None => Ok(()),
                Some(at) => Err(format!(
                    "byte {at} of the body is not the catalogue's (seed {seed})"
                )),
            }
        }));
    }
    let labels = super::probe_labels(ctx, format!("{}:{}", step.to, step.port));
    let late = || {
        StepError(format!(
            "the HTTP probe of {} did not finish within the step's timeout",
            step.url
        ))
    };
    match &step.load {
        None => {
            let summary =
                tokio::time::timeout_at(ctx.deadline, client.run(ctx.sink.as_ref(), &labels))
                    .await
                    .map_err(|_| late())?;
            let first = summary
                .requests
                .iter()
                .find_map(|r| match (&r.failure, r.status) {
                    (Some(f), _) => Some(f.to_string()),
                    (None, Some(s)) if s >= 400 => Some(format!("status {s}")),
                    _ => None,
                });
            Ok(match first {
                None => ActionOutcome::Ok,
                Some(why) => ActionOutcome::Failed(format!(
                    "GET {} via {target} (Host `{}`): {why}",
                    step.url, step.host
                )),
            })
        }
        Some(l) => {
            let load = LoadConfig {
                connections: l.connections,
                rate: f64::from(l.rate),
                requests: u64::from(step.requests),
                duration: l.duration,
            };
            let summary = tokio::time::timeout_at(
                ctx.deadline,
                client.load(&load, ctx.sink.as_ref(), &labels),
            )
            .await
            .map_err(|_| late())?
            .map_err(|e| StepError(e.to_string()))?;
            Ok(if summary.failed == 0 {
                ActionOutcome::Ok
            } else {
                ActionOutcome::Failed(format!(
                    "{} of {} requests to {} failed; first: {}",
                    summary.failed,
                    summary.sent,
                    step.url,
                    summary.first_failure.unwrap_or_default()
                ))
            })
        }
    }
}
