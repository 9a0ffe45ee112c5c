//! Routers in the lab: nodes whose routes a routing daemon (BIRD 2 or
//! FRR) owns, started inside the node's namespace, supervised as lab
//! processes, and polled until the routing converged.
//!
//! [`config`] is pure: it renders the plan's routing intent into each
//! daemon-owned node's configuration, keeping for every rendered line the
//! plan span that produced it. The rest is the runtime. Given per node a
//! daemon choice and the configuration text to run ([`RouterSpec`]), [`Routers::start`] writes each configuration
//! into the lab's run directory ([`paths`]), checks it with the daemon
//! itself (a refusal is a [`RouterError::Config`] quoting the daemon and
//! keeping its line number), starts the daemons with per-node sockets and
//! PID files, and supervises them ([`supervise`]): an exit nobody asked
//! for is a service failure, and stopping keeps each daemon's log and
//! configuration as run artifacts. [`ready::wait_converged`] then polls
//! the daemons and the nodes' FIBs until every expected session is up and
//! every expected route installed, within a bound, naming what is missing
//! when it is not.
//!
//! BIRD runs as root in the foreground (`bird -f -c -s -P`). FRR's daemons
//! run as the `frr` user (they refuse root unless root is in `frrvty`),
//! each with `--vty_socket`, `-z` and `-i` in the node's directory and the
//! TCP vty off (`-P 0`); the configuration is one integrated `frr.conf`
//! applied with `vtysh -f` once the daemons listen, as FRR's own boot does.
//! Dropping to `frr` clears `PR_SET_PDEATHSIG` (the kernel resets it on a
//! credential change), so each FRR daemon runs under `unshare --pid
//! --fork --kill-child --mount sh`: the shell is the init of a PID
//! namespace of its own and keeps the death signal, and when it dies the
//! kernel kills the daemon, so an FRR daemon dies with netproof as BIRD
//! does. The private mount namespace puts the node's own `state/` over
//! `/var/run/frr`, where FRR 8.4 keeps state whatever its options say
//! (`ospfd-gr.json`, `ospf6d-gr.json`, `ospf6d-at-seq-no.dat`: graceful
//! restart and sequence numbers), so nodes never read each other's.

pub mod change;
pub mod config;
pub mod control;
mod expect;
pub mod paths;
pub mod query;
pub mod ready;
mod supervise;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use netproof_plan::Daemon;
use netproof_sample::{Artifact, Sink};

use crate::registry::ProcessId;
use crate::{Cancel, NodeHandle, ServiceFailure};
use paths::{NodeDir, RunDir};
use supervise::Supervised;

pub use expect::expectations;
pub use ready::{Expectations, ExpectedRoute, ExpectedSession, Session};

/// Where the daemons' programs are (Debian's `bird2` and `frr`).
pub const BIRD: &str = "/usr/sbin/bird";
/// FRR's daemons' directory.
pub const FRR_DIR: &str = "/usr/lib/frr";
/// FRR's shell.
pub const VTYSH: &str = "/usr/bin/vtysh";

/// The shell each FRR daemon runs below (`$0` is the node's state
/// directory): it mounts that over FRR's run-state directory, then runs
/// the daemon as a child, not with `exec`, so it stays the PID namespace's
/// init.
const FRR_SHELL: &str = "mount --bind \"$0\" /var/run/frr || exit 1; \"$@\"; exit $?";

/// How long a daemon may take to open its control socket.
const SOCKET_WAIT: Duration = Duration::from_secs(10);

/// What to run on one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouterSpec {
    /// The node (plan name).
    pub node: String,
    /// Which daemon.
    pub daemon: Daemon,
    /// The configuration: a `bird.conf` for BIRD, an integrated
    /// `frr.conf` for FRR (which FRR daemons run follows from it: zebra
    /// and staticd always, ospfd, ospf6d, bgpd and bfdd when it configures
    /// them).
    pub config: String,
    /// The intent the configuration was rendered from, when it was (not
    /// for a configuration written by hand): routing faults change it.
    pub intent: Option<config::RouterIntent>,
}

/// Why daemons could not be started or did not converge.
#[derive(Debug, thiserror::Error)]
pub enum RouterError {
    /// The daemon refused its configuration.
    #[error(
        "{daemon} on node `{node}` refused its configuration `{}`{}:\n{message}\nhint: the daemon's own words are above; the configuration is kept as a run artifact",
        path.display(),
        line.map(|(l, c)| match c { Some(c) => format!(" at line {l}, column {c}"), None => format!(" at line {l}") }).unwrap_or_default()
    )]
    Config {
        /// The node.
        node: String,
        /// `bird` or `frr`.
        daemon: &'static str,
        /// The configuration file.
        path: PathBuf,
        /// The line (and column) the daemon named, if it did.
        line: Option<(u32, Option<u32>)>,
        /// What the daemon said.
        message: String,
    },
    /// A daemon could not be started at all.
    #[error(
        "node `{node}`: cannot start `{program}`: {source}\nhint: install the routing daemons with scripts/install-peers.sh (Debian packages `bird2` and `frr`)"
    )]
    Spawn {
        /// The node.
        node: String,
        /// The program.
        program: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A daemon exited, or never opened its control socket, while starting.
    #[error("routing daemon `{daemon}` on node `{node}` {what}{}", quote(output))]
    NotStarted {
        /// The node.
        node: String,
        /// The daemon (`bird`, `frr-zebra`).
        daemon: String,
        /// What happened.
        what: String,
        /// Its output.
        output: String,
    },
    /// FRR's daemons need their system user.
    #[error(
        "FRR needs the `frr` user, which this machine does not have\nhint: install Debian's `frr` package (scripts/install-peers.sh)"
    )]
    NoFrrUser,
    /// A node's paths would not fit in a Unix socket address.
    #[error(
        "node `{node}`: its daemons' socket paths under `{}` are longer than a Unix socket allows\nhint: use a shorter node name or a shorter NETPROOF_REGISTRY directory",
        dir.display()
    )]
    PathTooLong {
        /// The node.
        node: String,
        /// Its directory.
        dir: PathBuf,
    },
    /// A spec names a node the lab does not have, or a node twice.
    #[error("routing daemons: {0}")]
    BadSpec(String),
    /// The run directory could not be made or written.
    #[error("cannot write the routing daemons' files in `{}`: {source}", path.display())]
    Files {
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The routing did not converge in time.
    #[error(
        "routing did not converge within {within:?}: {} missing:\n  {}{}\nhint: the daemons' logs and configurations are run artifacts",
        missing.len(),
        missing.iter().take(10).cloned().collect::<Vec<_>>().join("\n  "),
        if missing.len() > 10 { format!("\n  and {} more", missing.len() - 10) } else { String::new() }
    )]
    NotConverged {
        /// The bound.
        within: Duration,
        /// Each session or route still missing, as a sentence.
        missing: Vec<String>,
    },
    /// A daemon died while the lab waited for convergence.
    #[error("{0} while the routing converged")]
    Died(ServiceFailure),
    /// The wait was cancelled.
    #[error("interrupted while the routing converged")]
    Interrupted,
}

fn quote(output: &str) -> String {
    let lines: Vec<&str> = output.lines().collect();
    let start = lines.len().saturating_sub(10);
    lines[start..]
        .iter()
        .map(|l| format!("\n    {l}"))
        .collect()
}

impl RouterError {
    /// The line (and column) of the configuration the daemon named, when
    /// it refused one: the lead maps it back to the plan line that
    /// produced it.
    pub fn config_line(&self) -> Option<(u32, Option<u32>)> {
        match self {
            RouterError::Config { line, .. } => *line,
            _ => None,
        }
    }
}

/// One node's daemons.
pub(crate) struct NodeRouter {
    pub(crate) node: String,
    pub(crate) daemon: Daemon,
    pub(crate) dir: NodeDir,
    /// For FRR, which daemons run (`zebra`, `ospfd`, ...).
    pub(crate) frr_daemons: Vec<&'static str>,
    /// The configuration it was started with.
    config: String,
    /// The plan's intent for the node, when the configuration was
    /// rendered from one.
    plan_intent: Option<config::RouterIntent>,
    /// The intent it runs now: the plan's until a routing fault changes
    /// it.
    intent: Mutex<Option<config::RouterIntent>>,
    /// Its running processes; empty while a node fault has it stopped.
    processes: Mutex<Vec<Supervised>>,
    /// How many times it has been started (1 after the lab's start), so
    /// the logs of a restarted daemon are kept beside the first ones.
    starts: AtomicU32,
}

impl NodeRouter {
    fn processes(&self) -> std::sync::MutexGuard<'_, Vec<Supervised>> {
        self.processes.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn intent(&self) -> std::sync::MutexGuard<'_, Option<config::RouterIntent>> {
        self.intent.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn current_intent(&self) -> Option<config::RouterIntent> {
        self.intent().clone()
    }

    /// The configuration to start with: rendered from the current intent
    /// (a routing fault may have changed it before a node fault stopped
    /// the daemons), else the one given.
    fn current_config(&self) -> String {
        match self.current_intent() {
            Some(i) => match self.daemon {
                Daemon::Bird => config::bird::render(&i).text,
                Daemon::Frr => config::frr::render(&i).text,
            },
            None => self.config.clone(),
        }
    }
}

/// The lab's running routing daemons.
///
/// Shared by the lab (readiness, teardown) and its live control (node
/// faults stop and start one node's daemons), so every method takes
/// `&self`; a node's processes sit behind a lock that is never held across
/// an await.
pub struct Routers {
    run: RunDir,
    nodes: Vec<NodeRouter>,
    sink: Arc<dyn Sink>,
    /// Held while a node's intent changes or its daemons start or stop:
    /// two faults at the same instant (a withdrawal of each family) must
    /// not both read the intent, nor write a daemon's files at once.
    changing: tokio::sync::Mutex<()>,
}

/// The FRR daemons a configuration needs, in start order (zebra first:
/// the others connect to it). Each costs tens of milliseconds of CPU to
/// start (it loads its YANG modules), so only what the configuration uses
/// runs.
pub fn frr_daemons(config: &str) -> Vec<&'static str> {
    let mut out = vec!["zebra"];
    let has = |prefix: &str| {
        config.lines().any(|l| {
            let l = l.trim();
            l == prefix || l.starts_with(&format!("{prefix} "))
        })
    };
    if has("ip route") || has("ipv6 route") {
        out.push("staticd");
    }
    if has("router ospf") {
        out.push("ospfd");
    }
    if has("router ospf6") {
        out.push("ospf6d");
    }
    if has("router bgp") {
        out.push("bgpd");
    }
    if has("bfd") || config.contains(" bfd") {
        out.push("bfdd");
    }
    out
}

impl Routers {
    /// Starts every spec's daemons on its node, all nodes at once (specs
    /// are checked first, so a bad one starts nothing); on failure stops
    /// what did start, removes the run directory and returns the first
    /// failure in spec order.
    pub(crate) async fn start(
        run: RunDir,
        specs: &[RouterSpec],
        nodes: &BTreeMap<String, NodeHandle>,
        sink: Arc<dyn Sink>,
        cancel: &Cancel,
    ) -> Result<Routers, RouterError> {
        let mut routers = Routers {
            run,
            nodes: Vec::new(),
            sink,
            changing: tokio::sync::Mutex::new(()),
        };
        let files = |path: &Path| {
            let path = path.to_path_buf();
            move |source| RouterError::Files { path, source }
        };
        let result = async {
            routers.run.create().map_err(files(routers.run.path()))?;
            // Checked before anything starts, so a bad spec starts nothing.
            let mut planned = Vec::new();
            for spec in specs {
                let node = nodes.get(&spec.node).ok_or_else(|| {
                    RouterError::BadSpec(format!("no node `{}` in the lab", spec.node))
                })?;
                if planned
                    .iter()
                    .any(|(_, r): &(_, NodeRouter)| r.node == spec.node)
                {
                    return Err(RouterError::BadSpec(format!(
                        "node `{}` is given daemons twice",
                        spec.node
                    )));
                }
                let dir = routers.run.node(&spec.node);
                if !dir.sockets_fit() {
                    return Err(RouterError::PathTooLong {
                        node: spec.node.clone(),
                        dir: dir.path().to_path_buf(),
                    });
                }
                let file = match spec.daemon {
                    Daemon::Bird => "bird.conf",
                    Daemon::Frr => "frr.conf",
                };
                routers.sink.artifact(Artifact {
                    name: format!("router/{}/{file}", spec.node),
                    media_type: "text/plain".into(),
                    content: spec.config.clone().into_bytes(),
                });
                planned.push((
                    (node, spec),
                    NodeRouter {
                        node: spec.node.clone(),
                        daemon: spec.daemon,
                        dir,
                        frr_daemons: match spec.daemon {
                            Daemon::Bird => Vec::new(),
                            Daemon::Frr => frr_daemons(&spec.config),
                        },
                        config: spec.config.clone(),
                        plan_intent: spec.intent.clone(),
                        intent: Mutex::new(spec.intent.clone()),
                        processes: Mutex::default(),
                        starts: AtomicU32::new(0),
                    },
                ));
            }
            if cancel.is_cancelled() {
                return Err(RouterError::Interrupted);
            }
            // All nodes at once: a daemon spends its start-up loading and
            // waiting for its sockets, and the nodes are independent (each
            // start is bounded by SOCKET_WAIT and the tools' timeouts).
            let sink = &routers.sink;
            let starts = planned.into_iter().map(|((node, _), r)| async move {
                let outcome = start_node(&r, node, sink).await;
                (r, outcome)
            });
            let mut first_error = None;
            for (r, outcome) in futures::future::join_all(starts).await {
                // Kept even when it failed, so stopping stops what did start.
                routers.nodes.push(r);
                if let Err(e) = outcome {
                    first_error.get_or_insert(e);
                }
            }
            first_error.map_or(Ok(()), Err)
        }
        .await;
        match result {
            Ok(()) => Ok(routers),
            Err(e) => {
                routers.stop().await;
                Err(e)
            }
        }
    }

    /// Every daemon process, for the lab registry (so `lab gc` kills what
    /// a killed netproof left).
    pub fn processes(&self) -> Vec<(ProcessId, String)> {
        self.nodes
            .iter()
            .flat_map(|n| {
                n.processes()
                    .iter()
                    .filter_map(|p| {
                        Some((
                            p.process?,
                            format!("routing daemon {} on {}", p.name, p.node),
                        ))
                    })
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// Daemons that have exited on their own, as service failures.
    pub fn failures(&self) -> Vec<ServiceFailure> {
        self.nodes
            .iter()
            .flat_map(|n| {
                n.processes()
                    .iter()
                    .filter_map(Supervised::failure)
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// The run directory.
    pub fn run_dir(&self) -> &Path {
        self.run.path()
    }

    /// The nodes with daemons and their directories.
    pub(crate) fn nodes(&self) -> &[NodeRouter] {
        &self.nodes
    }

    /// Stops every daemon, all at once (each is its own process group and
    /// none needs another to shut down; one at a time, twenty FRR nodes
    /// took seconds), keeps their logs as artifacts, and removes the run
    /// directory. Returns what could not be removed, as sentences.
    pub async fn stop(&self) -> Vec<String> {
        let all: Vec<Supervised> = self
            .nodes
            .iter()
            .flat_map(|n| std::mem::take(&mut *n.processes()))
            .collect();
        futures::future::join_all(all.into_iter().map(|p| p.stop(Duration::from_secs(2)))).await;
        match self.run.remove() {
            Ok(()) => Vec::new(),
            Err(e) => vec![format!(
                "cannot remove the routing daemons' directory `{}`: {e}",
                self.run.path().display()
            )],
        }
    }
}

impl Routers {
    /// Whether `node` runs routing daemons.
    pub fn has_node(&self, node: &str) -> bool {
        self.nodes.iter().any(|n| n.node == node)
    }

    /// Stops `node`'s daemons (SIGTERM to each, SIGKILL after `grace`; a
    /// zero grace kills them at once, as a crash would): the routes they
    /// installed go with them, as a router's do when it dies. Returns how
    /// many daemons it stopped (0 if they were stopped already). Their
    /// logs so far are kept as artifacts.
    pub async fn stop_node(&self, node: &str, grace: Duration) -> usize {
        let Some(r) = self.nodes.iter().find(|n| n.node == node) else {
            return 0;
        };
        let _changing = self.changing.lock().await;
        let taken = std::mem::take(&mut *r.processes());
        let n = taken.len();
        futures::future::join_all(taken.into_iter().map(|p| p.stop(grace))).await;
        n
    }

    /// Starts `node`'s daemons again with the configuration they ran,
    /// if a node fault stopped them; returns how many it started (0 if
    /// they were running). Sockets and PID files a killed daemon left are
    /// removed first, so a stale socket is never taken for a new one.
    pub async fn start_node(&self, handle: &NodeHandle) -> Result<usize, RouterError> {
        let Some(r) = self.nodes.iter().find(|n| n.node == handle.name) else {
            return Ok(0);
        };
        let _changing = self.changing.lock().await;
        if !r.processes().is_empty() {
            return Ok(0);
        }
        remove_stale_sockets(r);
        start_node(r, handle, &self.sink).await?;
        Ok(r.processes().len())
    }

    /// The nodes whose daemons a node fault stopped.
    pub fn stopped_nodes(&self) -> Vec<String> {
        self.nodes
            .iter()
            .filter(|n| n.processes().is_empty())
            .map(|n| n.node.clone())
            .collect()
    }
}

/// Removes the sockets and PID files of `r`'s daemons (all stopped).
fn remove_stale_sockets(r: &NodeRouter) {
    let mut files = vec![r.dir.bird_socket(), r.dir.zserv_socket()];
    for d in &r.frr_daemons {
        files.push(r.dir.vty_socket(d));
        files.push(r.dir.pid_file(d));
    }
    files.push(r.dir.pid_file("bird"));
    for f in files {
        // Missing is fine: a daemon stopped politely removes its own.
        let _ = std::fs::remove_file(f);
    }
}

/// Starts `r`'s daemons; what it started is in `r.processes` even when a
/// later step failed, so stopping stops it.
async fn start_node(
    r: &NodeRouter,
    node: &NodeHandle,
    sink: &Arc<dyn Sink>,
) -> Result<(), RouterError> {
    let generation = r.starts.fetch_add(1, Ordering::Relaxed) + 1;
    match r.daemon {
        Daemon::Bird => start_bird(r, node, generation, sink).await,
        Daemon::Frr => start_frr(r, node, generation, sink).await,
    }
}

/// Waits until `path` exists, the process exits, or the bound passes.
async fn wait_for_socket(p: &Supervised, path: &Path) -> Result<(), RouterError> {
    let deadline = Instant::now() + SOCKET_WAIT;
    loop {
        if path.exists() {
            return Ok(());
        }
        if let Some(status) = p.exited() {
            return Err(RouterError::NotStarted {
                node: p.node.clone(),
                daemon: p.name.clone(),
                what: format!("exited while starting ({status})"),
                output: p.output(),
            });
        }
        if Instant::now() >= deadline {
            return Err(RouterError::NotStarted {
                node: p.node.clone(),
                daemon: p.name.clone(),
                what: format!(
                    "did not open its socket `{}` within {SOCKET_WAIT:?}",
                    path.display()
                ),
                output: p.output(),
            });
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Runs a program in this (the owner's) namespace and returns whether it
/// succeeded and what it printed (stderr then stdout).
///
/// It may take 10 s, and `lines` ms more: what it reads (a configuration
/// of `lines` lines) sets how long it takes: vtysh applied about 2 000
/// lines a second here (a generated block of 100 000 prefixes is 100 000
/// `ip route` lines, 53 s), so the bound leaves twice that.
async fn run_tool(
    program: &str,
    args: &[&str],
    node: &str,
    lines: usize,
) -> Result<(bool, String), RouterError> {
    let bound = Duration::from_secs(10) + Duration::from_millis(lines as u64);
    let out = tokio::time::timeout(
        bound,
        tokio::process::Command::new(program)
            .args(args)
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .map_err(|_| RouterError::NotStarted {
        node: node.to_string(),
        daemon: program.to_string(),
        what: format!("did not finish within {bound:?}"),
        output: String::new(),
    })?
    .map_err(|source| RouterError::Spawn {
        node: node.to_string(),
        program: program.to_string(),
        source,
    })?;
    let mut text = String::from_utf8_lossy(&out.stderr).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stdout));
    Ok((out.status.success(), text))
}

fn config_error(node: &str, daemon: &'static str, path: &Path, message: String) -> RouterError {
    RouterError::Config {
        node: node.to_string(),
        daemon,
        path: path.to_path_buf(),
        line: query::config_position(&message),
        message: message.trim_end().to_string(),
    }
}

async fn start_bird(
    r: &NodeRouter,
    node: &NodeHandle,
    generation: u32,
    sink: &Arc<dyn Sink>,
) -> Result<(), RouterError> {
    let files = |path: &Path| {
        let path = path.to_path_buf();
        move |source| RouterError::Files { path, source }
    };
    r.dir.create(None).map_err(files(r.dir.path()))?;
    // The log line is appended, so the lines the daemon names are the
    // renderer's lines: with `-f` BIRD logs to syslog unless told
    // otherwise, and its log belongs with the run.
    let conf = change::write_bird_config(r, &r.current_config())?;
    let conf_s = conf.display().to_string();
    // `bird -p` parses and exits: a refusal is found before anything runs.
    let (ok, message) = run_tool(BIRD, &["-p", "-c", &conf_s], &r.node, 0).await?;
    if !ok {
        return Err(config_error(&r.node, "bird", &conf, message));
    }
    let socket = r.dir.bird_socket();
    let args: Vec<String> = vec![
        "-f".into(),
        "-c".into(),
        conf_s,
        "-s".into(),
        socket.display().to_string(),
        "-P".into(),
        r.dir.pid_file("bird").display().to_string(),
    ];
    let p = supervise::spawn(node, "bird", generation, BIRD, &args, sink.clone())?;
    let ready = wait_for_socket(&p, &socket).await;
    r.processes().push(p);
    ready
}

async fn start_frr(
    r: &NodeRouter,
    node: &NodeHandle,
    generation: u32,
    sink: &Arc<dyn Sink>,
) -> Result<(), RouterError> {
    let config = &r.current_config();
    let files = |path: &Path| {
        let path = path.to_path_buf();
        move |source| RouterError::Files { path, source }
    };
    let owner = paths::user_ids("frr").ok_or(RouterError::NoFrrUser)?;
    r.dir.create(Some(owner)).map_err(files(r.dir.path()))?;
    let state = r.dir.frr_state();
    std::fs::create_dir_all(&state)
        .and_then(|()| std::os::unix::fs::chown(&state, Some(owner.0), Some(owner.1)))
        .map_err(files(&state))?;
    let state = state.display().to_string();
    let conf = r.dir.config("frr.conf");
    std::fs::write(&conf, config).map_err(files(&conf))?;
    let dir = r.dir.path().display().to_string();
    let zserv = r.dir.zserv_socket().display().to_string();
    let pid_files: Vec<String> = r
        .frr_daemons
        .iter()
        .map(|d| r.dir.pid_file(d).display().to_string())
        .collect();
    let argv = |daemon: &str, pid_file: &str| -> Vec<String> {
        // See the module docs for why a shell in PID and mount namespaces
        // of its own; `$0` is the node's state directory.
        let mut args: Vec<String> = [
            "--pid",
            "--fork",
            "--kill-child",
            "--mount",
            "--",
            "/bin/sh",
            "-c",
            FRR_SHELL,
            &state,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.push(format!("{FRR_DIR}/{daemon}"));
        for a in [
            "-u",
            "frr",
            "-g",
            "frr",
            "--vty_socket",
            &dir,
            "-z",
            &zserv,
            "-i",
            pid_file,
            "-f",
            "/dev/null",
            "-P",
            "0",
            "--log",
            "stdout",
        ] {
            args.push(a.to_string());
        }
        args
    };
    let daemons = r.frr_daemons.clone();
    // zebra first: the others connect to its API socket when they start.
    let zebra = supervise::spawn(
        node,
        "frr-zebra",
        generation,
        "unshare",
        &argv("zebra", &pid_files[0]),
        sink.clone(),
    )?;
    let ready = wait_for_socket(&zebra, &r.dir.vty_socket("zebra")).await;
    let ready = match ready {
        Ok(()) => wait_for_socket(&zebra, &r.dir.zserv_socket()).await,
        e => e,
    };
    r.processes().push(zebra);
    ready?;
    let mut started = Vec::new();
    for (daemon, pid_file) in daemons.iter().zip(&pid_files).skip(1) {
        let p = supervise::spawn(
            node,
            &format!("frr-{daemon}"),
            generation,
            "unshare",
            &argv(daemon, pid_file),
            sink.clone(),
        );
        match p {
            Ok(p) => started.push(p),
            Err(e) => {
                r.processes().extend(started);
                return Err(e);
            }
        }
    }
    let mut ready = Ok(());
    for (p, daemon) in started.iter().zip(daemons.iter().skip(1)) {
        ready = wait_for_socket(p, &r.dir.vty_socket(daemon)).await;
        if ready.is_err() {
            break;
        }
    }
    r.processes().extend(started);
    ready?;
    let conf_s = conf.display().to_string();
    let (ok, message) = run_tool(
        VTYSH,
        &["--vty_socket", &dir, "-f", &conf_s],
        &r.node,
        config.lines().count(),
    )
    .await?;
    if !ok {
        return Err(config_error(&r.node, "frr", &conf, message));
    }
    Ok(())
}

#[cfg(test)]
mod frr_daemon_tests {
    use super::frr_daemons;

    #[test]
    fn frr_runs_zebra_and_only_the_daemons_its_configuration_uses() {
        assert_eq!(frr_daemons("hostname r1\n"), vec!["zebra"]);
        assert_eq!(
            frr_daemons("router ospf\n network 198.18.0.0/15 area 0\n!\nrouter ospf6\n!\n"),
            vec!["zebra", "ospfd", "ospf6d"]
        );
        assert_eq!(
            frr_daemons(
                "ip route 198.18.9.0/24 198.18.0.1\nrouter bgp 65001\n neighbor 198.18.0.1 bfd\n"
            ),
            vec!["zebra", "staticd", "bgpd", "bfdd"]
        );
    }
}
