//! `rpm`: responsiveness under working conditions from a node
//! (draft-ietf-ippm-responsiveness), over the HTTP probe's connections
//! made inside the node's namespace. The probe records every probe and
//! the figures; a test with too few answered probes to compute RPM fails
//! the action (a measurement), a server that takes no load connection at
//! all is the probe's error, also a failed action.

use std::net::SocketAddr;
use std::sync::Arc;

use netproof_plan::{CaFile, Rpm};
use netproof_probe::http::{Config, Connector, Endpoint, Sni, Trust};
use netproof_probe::rpm;

use super::{ActionOutcome, StepContext, StepError};

/// The trust an https step asks for.
pub(super) fn trust(ca: &Option<CaFile>, ctx: &StepContext) -> Result<Trust, StepError> {
    Ok(match ca {
        Some(CaFile::Path(path)) => Trust::CaFile(path.clone()),
        Some(CaFile::Lab) => Trust::CaFile(ctx.lab_ca.clone().ok_or_else(|| {
            StepError("`ca = \"{lab_ca}\"`, but the lab made no CA (no CDN service has an https site without `cert`)".into())
        })?),
        None => Trust::Insecure,
    })
}

/// Connections made on the step's node.
pub(super) fn connector(ctx: &StepContext) -> Connector {
    let node = ctx.node.clone();
    Arc::new(move |addr| {
        let node = node.clone();
        Box::pin(async move { node.tcp_connect(addr).await })
    })
}

pub(super) async fn run(step: &Rpm, ctx: &StepContext) -> Result<ActionOutcome, StepError> {
    let ip = super::resolve(&step.to, ctx)?;
    let target = SocketAddr::new(ip, step.port);
    let base = |url: &netproof_plan::Url| -> Result<Config, StepError> {
        Ok(Config {
            connect: Some(Endpoint::Addr(target)),
            host: step.host.clone(),
            sni: match &step.host {
                Some(h) => Sni::Name(h.split(':').next().unwrap_or(h).to_string()),
                None => Sni::FromUrl,
            },
            trust: trust(&step.ca, ctx)?,
            http2: true,
            ..Config::new(url.clone())
        })
    };
    let cfg = rpm::Config {
        load: base(&step.load_url)?,
        probe: base(&step.probe_url)?,
        connections: step.connections,
        idle: step.idle,
        duration: step.duration,
        interval: step.interval,
    };
    let labels = super::probe_labels(ctx, format!("{}:{}", step.to, step.port));
    let summary = tokio::time::timeout_at(
        ctx.deadline,
        rpm::run(&cfg, connector(ctx), ctx.sink.as_ref(), &labels),
    )
    .await
    .map_err(|_| {
        StepError(format!(
            "the responsiveness test to {target} did not finish within the step's timeout"
        ))
    })?;
    match summary {
        Ok(s) if s.rpm.is_some() => Ok(ActionOutcome::Ok),
        Ok(_) => Ok(ActionOutcome::Failed(format!(
            "too few probes to {target} were answered under load to compute RPM"
        ))),
        Err(rpm::RpmError::Setup(e)) => Err(StepError(e.to_string())),
        Err(e) => Ok(ActionOutcome::Failed(e.to_string())),
    }
}
