//! `abr`: a streaming session from a node: the presentation (the
//! catalogue layout, the plan's list, or a manifest fetched from the
//! servers), then the probe's player over the HTTP probe's connections
//! made inside the node's namespace.
//!
//! A manifest that cannot be fetched or parsed is a step error that says
//! which and why. A session abandoned because every server failed for a
//! segment is a failed action; what it measured up to then is recorded.
//! A session that stalled is a result, judged by the case's expectations.

use std::net::SocketAddr;
use std::time::Duration;

use netproof_plan::{Abr, AbrAlgorithm, AbrCmcd, AbrContent};
use netproof_probe::abr::{
    self, Algorithm, CmcdMode, PlayerConfig, Presentation, Rendition, SegmentRef, Server,
    SessionConfig,
};
use netproof_probe::http::{Config, Sni};

use super::{ActionOutcome, StepContext, StepError};

pub(super) async fn run(step: &Abr, ctx: &StepContext) -> Result<ActionOutcome, StepError> {
    let servers = step
        .servers
        .iter()
        .map(|s| {
            let ip = super::resolve(&s.to, ctx)?;
            Ok(Server {
                url: s.url.clone(),
                connect: Some(SocketAddr::new(ip, s.url.port)),
            })
        })
        .collect::<Result<Vec<_>, StepError>>()?;
    let http = Config {
        host: step.host.clone(),
        sni: match &step.host {
            Some(h) => Sni::Name(h.split(':').next().unwrap_or(h).to_string()),
            None => Sni::FromUrl,
        },
        trust: super::rpm::trust(&step.ca, ctx)?,
        http2: step.http2,
        timeout: step.request_timeout,
        ..Config::new(step.servers[0].url.clone())
    };
    let placeholder = Presentation::catalogue(0, &[1], 1, Duration::from_secs(1))
        .map_err(|e| StepError(e.to_string()))?;
    let mut cfg = SessionConfig {
        servers,
        presentation: placeholder,
        player: PlayerConfig {
            algorithm: match step.algorithm {
                AbrAlgorithm::Throughput => Algorithm::THROUGHPUT,
                AbrAlgorithm::Bba => Algorithm::BBA,
            },
            max_buffer: step.buffer,
            ..PlayerConfig::new(Duration::from_secs(1), vec![1], 1)
        },
        http,
        connector: super::rpm::connector(ctx),
        cmcd: match step.cmcd {
            AbrCmcd::Off => CmcdMode::Off,
            AbrCmcd::Query => CmcdMode::Query,
            AbrCmcd::Headers => CmcdMode::Headers,
        },
        session_id: format!("{}-{:016x}", ctx.step_name, ctx.seed),
        verify: step.verify,
        names: ctx.addresses.iter().map(|(n, a)| (*a, n.clone())).collect(),
    };
    let presentation = match &step.content {
        AbrContent::Catalogue {
            title,
            bitrates,
            segments,
            segment,
        } => Presentation::catalogue(*title, bitrates, *segments, *segment)
            .map_err(|e| StepError(e.to_string()))?,
        AbrContent::List {
            segment,
            renditions,
        } => Presentation::new(
            *segment,
            renditions
                .iter()
                .map(|(kbps, paths)| Rendition {
                    kbps: *kbps,
                    segments: paths
                        .iter()
                        .map(|p| SegmentRef {
                            path: p.clone(),
                            range: None,
                        })
                        .collect(),
                })
                .collect(),
        )
        .map_err(|e| StepError(e.to_string()))?,
        AbrContent::Manifest { path } => {
            let fetched = tokio::time::timeout_at(ctx.deadline, abr::fetch_manifest(&cfg, path))
                .await
                .map_err(|_| {
                    StepError(format!(
                        "fetching the manifest `{path}` did not finish within the step's timeout"
                    ))
                })?;
            fetched.map_err(StepError)?
        }
    };
    cfg.player.startup = step.startup.unwrap_or(presentation.segment_duration);
    cfg.player.resume = presentation.segment_duration;
    cfg.presentation = presentation;
    let labels = super::probe_labels(
        ctx,
        step.servers
            .iter()
            .map(|s| s.to.to_string())
            .collect::<Vec<_>>()
            .join(","),
    );
    let outcome =
        tokio::time::timeout_at(ctx.deadline, abr::play(&cfg, ctx.sink.as_ref(), &labels))
            .await
            .map_err(|_| {
                StepError(format!(
                    "the streaming session did not finish within the step's timeout ({} segments)",
                    cfg.presentation.segments()
                ))
            })?;
    Ok(match outcome.abandoned {
        Some(why) => ActionOutcome::Failed(why),
        None => ActionOutcome::Ok,
    })
}
