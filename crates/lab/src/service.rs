//! Services: long-running processes the plan starts on its nodes.
//!
//! A supervisor task owns each child. It notices an unexpected exit (and
//! records it as an error event, so the cases that run afterwards fail), and
//! it stops the child on request, keeping its output as artifacts. Each
//! start gets its own sample channel ([`crate::collect::feed`]), named to
//! the service in `NETPROOF_SAMPLES_FD`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use netproof_plan::{Readiness, Service};
use netproof_sample::{Artifact, Event, Severity, Sink};
use tokio::sync::oneshot;

use super::process::{self, SharedCapture};
use super::{LabError, NodeHandle};
use crate::Cancel;
use crate::cdn::CdnFiles;
use crate::collect::feed::{Feed, SamplePipe};

/// A service that exited while the lab was up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceFailure {
    /// The service.
    pub service: String,
    /// Its node.
    pub node: String,
    /// How it ended (`exit status 1`, `signal 9`).
    pub status: String,
}

impl std::fmt::Display for ServiceFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "service `{}` on node `{}` exited unexpectedly ({})",
            self.service, self.node, self.status
        )
    }
}

pub(crate) struct RunningService {
    process: Option<crate::registry::ProcessId>,
    failure: Arc<Mutex<Option<ServiceFailure>>>,
    stop_tx: Option<oneshot::Sender<Duration>>,
    done: Option<tokio::task::JoinHandle<()>>,
    feed: Arc<Feed>,
}

impl RunningService {
    pub(crate) fn process(&self) -> Option<crate::registry::ProcessId> {
        self.process
    }

    /// Its sample channel.
    pub(crate) fn feed(&self) -> Arc<Feed> {
        self.feed.clone()
    }

    pub(crate) fn failure(&self) -> Option<ServiceFailure> {
        self.failure
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub(crate) async fn stop(mut self, grace: Duration) {
        if let Some(tx) = self.stop_tx.take() {
            let _ = tx.send(grace);
        }
        if let Some(done) = self.done.take() {
            // The supervisor bounds its own waits; this is a backstop.
            let _ = tokio::time::timeout(grace + Duration::from_secs(10), done).await;
        }
        // The group is gone, so its ends of the channel are closed, unless
        // a child that left the group holds one: do not wait for that.
        self.feed.stop(Duration::from_millis(500)).await;
    }
}

fn describe(status: Option<std::process::ExitStatus>) -> String {
    use std::os::unix::process::ExitStatusExt;
    match status {
        Some(s) => match (s.code(), s.signal()) {
            (Some(c), _) => format!("exit status {c}"),
            (None, Some(sig)) => format!("killed by signal {sig}"),
            _ => "unknown status".to_string(),
        },
        None => "status unknown".to_string(),
    }
}

fn tail(c: &SharedCapture, label: &str) -> String {
    let c = c.lock().unwrap_or_else(|e| e.into_inner());
    if c.bytes.is_empty() {
        return String::new();
    }
    let text = String::from_utf8_lossy(&c.bytes);
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(10);
    let mut out = format!("\n  last lines of its {label}:");
    for l in &lines[start..] {
        out.push_str("\n    ");
        out.push_str(l);
    }
    out
}

/// How a service is seen to be ready.
enum Ready<'a> {
    /// An address accepts TCP connections.
    Tcp(SocketAddr),
    /// A command run on the node exits 0.
    Command(&'a [netproof_plan::Arg]),
}

pub(crate) async fn start(
    svc: &Service,
    node: &NodeHandle,
    nodes: &BTreeMap<String, NodeHandle>,
    cdn: Option<&CdnFiles>,
    sink: Arc<dyn Sink>,
    cancel: &Cancel,
) -> Result<RunningService, LabError> {
    let addr_of = |n: &str| nodes.get(n).map(|h| h.addr.to_string()).unwrap_or_default();
    // A CDN service's command is the lab's: its config written to a file
    // (the lab's `CdnFiles` exist whenever the plan has a CDN service).
    let (argv, cdn_listener) = match (&svc.cdn, cdn) {
        (Some(c), Some(files)) => (
            files.command(svc, c, nodes, sink.as_ref())?,
            crate::cdn::listener(c, node, nodes),
        ),
        (Some(_), None) => {
            return Err(LabError::NotReady {
                service: svc.name.clone(),
                node: svc.node.clone(),
                what: "is a CDN service, but the lab prepared no CDN files".into(),
                output: String::new(),
            });
        }
        (None, _) => (
            svc.command.iter().map(|a| a.expand(addr_of)).collect(),
            None,
        ),
    };
    let ready = match (&svc.ready, cdn_listener) {
        (Some(Readiness::Tcp { port }), _) => Some(Ready::Tcp(SocketAddr::new(node.addr, *port))),
        (Some(Readiness::Command { command }), _) => Some(Ready::Command(command)),
        (None, Some(addr)) => Some(Ready::Tcp(addr)),
        (None, None) => None,
    };
    let Some((program, args)) = argv.split_first() else {
        return Err(LabError::NotReady {
            service: svc.name.clone(),
            node: svc.node.clone(),
            what: "has an empty command".into(),
            output: String::new(),
        });
    };
    // A port that already answers would make the readiness check pass for
    // someone else's server.
    if let Some(Ready::Tcp(target)) = &ready {
        let target = *target;
        if let Ok(Ok(_)) =
            tokio::time::timeout(Duration::from_millis(500), node.tcp_connect(target)).await
        {
            return Err(LabError::NotReady {
                service: svc.name.clone(),
                node: svc.node.clone(),
                what: format!(
                    "cannot be checked: {target} already accepts connections before the service started"
                ),
                output: "\n  hint: another process listens there; stop it or give the node another `address`".into(),
            });
        }
    }
    let mut cmd = node
        .command(program, args)
        .map_err(|source| LabError::Spawn {
            service: svc.name.clone(),
            node: svc.node.clone(),
            program: program.clone(),
            source,
        })?;
    for (k, v) in &svc.env {
        cmd.env(k, v);
    }
    let channel_error = |source| LabError::SampleChannel {
        service: svc.name.clone(),
        node: svc.node.clone(),
        source,
    };
    let pipe = SamplePipe::new().map_err(channel_error)?;
    pipe.attach(&mut cmd);
    let mut child = cmd.spawn().map_err(|source| LabError::Spawn {
        service: svc.name.clone(),
        node: svc.node.clone(),
        program: program.clone(),
        source,
    })?;
    let feed = match pipe.start(&svc.name, &svc.node) {
        Ok(f) => f,
        Err(e) => {
            process::stop(&mut child, Duration::ZERO).await;
            return Err(channel_error(e));
        }
    };
    let (out, err) = process::capture(&mut child);
    let process_id = child.id().and_then(crate::registry::ProcessId::of);
    sink.event(
        Event::new(
            "service.start",
            Severity::Info,
            format!(
                "started service `{}` on `{}`: {}",
                svc.name,
                svc.node,
                argv.join(" ")
            ),
        )
        .label("service", &svc.name)
        .label("node", &svc.node)
        .label("pid", child.id().unwrap_or(0).to_string()),
    );

    let failure = Arc::new(Mutex::new(None));
    let (stop_tx, mut stop_rx) = oneshot::channel::<Duration>();
    let (exited_tx, mut exited_rx) = tokio::sync::watch::channel(None::<String>);
    let done = {
        let failure = failure.clone();
        let sink = sink.clone();
        let name = svc.name.clone();
        let node_name = svc.node.clone();
        let (out, err) = (out.clone(), err.clone());
        tokio::spawn(async move {
            tokio::select! {
                status = child.wait() => {
                    let what = describe(status.ok());
                    let f = ServiceFailure { service: name.clone(), node: node_name.clone(), status: what.clone() };
                    sink.event(
                        Event::new("service.exit", Severity::Error, f.to_string())
                            .label("service", &name)
                            .label("node", &node_name),
                    );
                    *failure.lock().unwrap_or_else(|e| e.into_inner()) = Some(f);
                    // Its last words explain the exit: read them before
                    // anyone reports it.
                    process::drained(&out, &err, Duration::from_millis(500)).await;
                    let _ = exited_tx.send(Some(what));
                    // Wait for the stop request so output is kept at the end.
                    let _ = stop_rx.await;
                    // Its group may still hold children it started.
                    process::stop(&mut child, Duration::from_millis(100)).await;
                }
                grace = &mut stop_rx => {
                    let status = process::stop(&mut child, grace.unwrap_or(Duration::from_secs(3))).await;
                    sink.event(
                        Event::new(
                            "service.stop",
                            Severity::Info,
                            format!("stopped service `{name}` on `{node_name}` ({})", describe(status)),
                        )
                        .label("service", &name)
                        .label("node", &node_name),
                    );
                }
            }
            process::drained(&out, &err, Duration::from_millis(500)).await;
            for (stream, cap) in [("stdout", &out), ("stderr", &err)] {
                let c = cap.lock().unwrap_or_else(|e| e.into_inner());
                if c.total > 0 {
                    sink.artifact(Artifact {
                        name: format!("service/{name}/{stream}"),
                        media_type: "text/plain".into(),
                        content: c.content(),
                    });
                }
            }
        })
    };
    let running = RunningService {
        process: process_id,
        failure,
        stop_tx: Some(stop_tx),
        done: Some(done),
        feed,
    };

    let Some(ready) = &ready else {
        return Ok(running);
    };
    let deadline = Instant::now() + svc.ready_timeout;
    let what_ready = match ready {
        Ready::Tcp(target) => format!("tcp {target}"),
        Ready::Command(_) => "ready command".to_string(),
    };
    loop {
        // Clone out of the guard first: it must not live across an await.
        let exited = exited_rx.borrow_and_update().clone();
        if let Some(status) = exited {
            let output = format!("{}{}", tail(&err, "stderr"), tail(&out, "stdout"));
            running.stop(Duration::from_millis(100)).await;
            return Err(LabError::NotReady {
                service: svc.name.clone(),
                node: svc.node.clone(),
                what: format!("exited before it was ready ({status})"),
                output,
            });
        }
        let is_ready = match ready {
            Ready::Tcp(target) => {
                let target = *target;
                matches!(
                    tokio::time::timeout(Duration::from_millis(500), node.tcp_connect(target))
                        .await,
                    Ok(Ok(_))
                )
            }
            Ready::Command(command) => {
                let argv: Vec<String> = command.iter().map(|a| a.expand(addr_of)).collect();
                match argv.split_first() {
                    Some((p, a)) => {
                        let spawned = node.command(p, a).and_then(|mut c| {
                            c.stdout(std::process::Stdio::null())
                                .stderr(std::process::Stdio::null());
                            c.spawn()
                        });
                        match spawned {
                            Ok(mut ch) => matches!(
                                tokio::time::timeout(Duration::from_secs(5), ch.wait()).await,
                                Ok(Ok(s)) if s.success()
                            ),
                            Err(_) => false,
                        }
                    }
                    None => false,
                }
            }
        };
        if is_ready {
            sink.event(
                Event::new(
                    "service.ready",
                    Severity::Info,
                    format!("service `{}` is ready ({what_ready})", svc.name),
                )
                .label("service", &svc.name)
                .label("node", &svc.node),
            );
            return Ok(running);
        }
        if Instant::now() >= deadline {
            let output = format!("{}{}", tail(&err, "stderr"), tail(&out, "stdout"));
            running.stop(Duration::from_secs(1)).await;
            return Err(LabError::NotReady {
                service: svc.name.clone(),
                node: svc.node.clone(),
                what: format!(
                    "was not ready within {:?} (waited for {what_ready})",
                    svc.ready_timeout
                ),
                output,
            });
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(50)) => {}
            _ = exited_rx.changed() => {}
            _ = cancel.cancelled() => {
                running.stop(Duration::from_secs(1)).await;
                return Err(LabError::Interrupted);
            }
        }
    }
}
