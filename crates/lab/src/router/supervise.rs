//! One routing daemon process under the lab's supervision.
//!
//! Like a service ([`crate::service`]): its own process group, started in
//! its node's namespace with `PR_SET_PDEATHSIG`, its output captured into
//! bounded buffers, an exit the lab did not ask for recorded as a
//! [`ServiceFailure`] and an error event, and its output kept as an
//! artifact when it stops. Unlike a service it has no readiness of its
//! own: the daemon's control socket and [`super::ready`] say when it is
//! useful.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use netproof_sample::{Artifact, Event, Severity, Sink};
use tokio::sync::{oneshot, watch};

use super::RouterError;
use crate::process::{self, SharedCapture};
use crate::registry::ProcessId;
use crate::{NodeHandle, ServiceFailure};

/// A running daemon.
pub(crate) struct Supervised {
    /// Its node.
    pub(crate) node: String,
    /// Its name as failures and artifacts show it (`bird`, `frr-ospfd`).
    pub(crate) name: String,
    /// The process we started (for the registry).
    pub(crate) process: Option<ProcessId>,
    failure: Arc<Mutex<Option<ServiceFailure>>>,
    exited: watch::Receiver<Option<String>>,
    out: SharedCapture,
    err: SharedCapture,
    stop_tx: Option<oneshot::Sender<Duration>>,
    done: Option<tokio::task::JoinHandle<()>>,
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

/// Starts `program ARGS` on `node` and supervises it.
///
/// `generation` counts the node's starts: the log of a daemon a node fault
/// restarted is kept as `NAME.2.log` beside the first start's `NAME.log`.
pub(crate) fn spawn(
    node: &NodeHandle,
    name: &str,
    generation: u32,
    program: &str,
    args: &[String],
    sink: Arc<dyn Sink>,
) -> Result<Supervised, RouterError> {
    let spawn_error = |source| RouterError::Spawn {
        node: node.name.clone(),
        program: program.to_string(),
        source,
    };
    let mut cmd = node.command(program, args).map_err(spawn_error)?;
    let mut child = cmd.spawn().map_err(spawn_error)?;
    let (out, err) = process::capture(&mut child);
    let pid = child.id().unwrap_or(0);
    sink.event(
        Event::new(
            "router.start",
            Severity::Info,
            format!(
                "started routing daemon `{name}` on `{}`: {program} {}",
                node.name,
                args.join(" ")
            ),
        )
        .label("node", &node.name)
        .label("daemon", name)
        .label("pid", pid.to_string()),
    );
    let failure = Arc::new(Mutex::new(None));
    let (stop_tx, stop_rx) = oneshot::channel::<Duration>();
    let (exited_tx, exited) = watch::channel(None::<String>);
    let done = {
        let failure = failure.clone();
        let (node_name, name) = (node.name.clone(), name.to_string());
        let log_name = if generation > 1 {
            format!("router/{node_name}/{name}.{generation}.log")
        } else {
            format!("router/{node_name}/{name}.log")
        };
        let (out, err) = (out.clone(), err.clone());
        tokio::spawn(async move {
            let mut stop_rx = stop_rx;
            tokio::select! {
                status = child.wait() => {
                    let what = describe(status.ok());
                    let f = ServiceFailure { service: name.clone(), node: node_name.clone(), status: what.clone() };
                    sink.event(
                        Event::new("router.exit", Severity::Error, format!("routing daemon: {f}"))
                            .label("node", &node_name)
                            .label("daemon", &name),
                    );
                    *failure.lock().unwrap_or_else(|e| e.into_inner()) = Some(f);
                    process::drained(&out, &err, Duration::from_millis(500)).await;
                    let _ = exited_tx.send(Some(what));
                    let _ = stop_rx.await;
                    process::stop(&mut child, Duration::from_millis(100)).await;
                }
                grace = &mut stop_rx => {
                    process::stop(&mut child, grace.unwrap_or(Duration::from_secs(2))).await;
                }
            }
            process::drained(&out, &err, Duration::from_millis(500)).await;
            let mut log = Vec::new();
            for cap in [&out, &err] {
                log.extend(cap.lock().unwrap_or_else(|e| e.into_inner()).content());
            }
            if !log.is_empty() {
                sink.artifact(Artifact {
                    name: log_name,
                    media_type: "text/plain".into(),
                    content: log,
                });
            }
        })
    };
    Ok(Supervised {
        node: node.name.clone(),
        name: name.to_string(),
        process: ProcessId::of(pid),
        failure,
        exited,
        out,
        err,
        stop_tx: Some(stop_tx),
        done: Some(done),
    })
}

impl Supervised {
    /// How it ended, if it has.
    pub(crate) fn exited(&self) -> Option<String> {
        self.exited.borrow().clone()
    }

    /// Its exit as a failure, if it exited on its own.
    pub(crate) fn failure(&self) -> Option<ServiceFailure> {
        self.failure
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Its output so far (stderr, then stdout), for an error message.
    pub(crate) fn output(&self) -> String {
        let mut text = String::new();
        for cap in [&self.err, &self.out] {
            let c = cap.lock().unwrap_or_else(|e| e.into_inner());
            text.push_str(&String::from_utf8_lossy(&c.bytes));
        }
        text
    }

    /// Stops it (SIGTERM to its group, SIGKILL after `grace`) and keeps
    /// its output as an artifact.
    pub(crate) async fn stop(mut self, grace: Duration) {
        if let Some(tx) = self.stop_tx.take() {
            let _ = tx.send(grace);
        }
        if let Some(done) = self.done.take() {
            // The task bounds its own waits; this is a backstop.
            let _ = tokio::time::timeout(grace + Duration::from_secs(10), done).await;
        }
    }
}
