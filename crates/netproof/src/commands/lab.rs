//! `netproof lab`: an interactive lab, and cleaning up after crashes.

use std::os::unix::process::ExitStatusExt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use netproof_lab::registry::{self, Entry, Registry};
use netproof_lab::{Cancel, Lab};
use netproof_sample::{Artifact, Event, Sample, Severity, Sink};

use super::plan_options;
use crate::cli::{LabCommand, LabDownArgs, LabExecArgs, LabStatusArgs, LabUpArgs};
use crate::error::{CliError, Code};

pub fn run(command: LabCommand) -> Result<Code, CliError> {
    match command {
        LabCommand::Up(a) => up(a),
        LabCommand::Exec(a) => exec(a),
        LabCommand::Status(a) => status(a),
        LabCommand::Down(a) => down(a),
        LabCommand::Gc => gc(),
    }
}

/// Prints the lab's events as they happen; an interactive lab has no store.
struct Console;

impl Sink for Console {
    fn sample(&self, _: Sample) {}
    fn event(&self, e: Event) {
        let mark = match e.severity {
            Severity::Info => "·",
            Severity::Warning => "warning:",
            Severity::Error => "error:",
        };
        eprintln!("{mark} {}", e.message);
    }
    fn artifact(&self, _: Artifact) {}
}

fn up(args: LabUpArgs) -> Result<Code, CliError> {
    let options = plan_options(&args.plan_options)?;
    let plan = super::load_plan(&args.plan, &options, &args.plan_options)?
        .map_err(|e| CliError::Plans(vec![e]))?;
    let backend = netproof_plan::Backend::effective(options.backend, plan.backend);
    // As `run` does: a lab the plan describes but that cannot be built is
    // the plan's fault (exit 2), found before anything is created; failures
    // while building are the machine's (exit 3).
    super::buildable(&plan, backend)?;
    if backend == netproof_plan::Backend::Netns {
        netproof_lab::rootless::enter_if_unprivileged()
            .map_err(|e| CliError::Infra(e.to_string()))?;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)?;
    runtime.block_on(async {
        let cancel = Cancel::new();
        netproof_run::signals::install(cancel.clone()).map_err(CliError::Runtime)?;
        let sink: Arc<dyn Sink> = Arc::new(Console);
        let mut lab = Lab::plan(&plan, backend)?
            .interactive()
            .up(&plan, sink, &cancel)
            .await?;
        outln!(
            "lab {} is up: plan `{}` on the {} backend",
            lab.id(),
            plan.meta.name,
            backend.as_str()
        );
        outln!();
        outln!("{:<16} {:<18} SERVICES", "NODE", "ADDRESS");
        for n in &lab.topology().nodes {
            outln!(
                "{:<16} {:<18} {}",
                n.name,
                n.addresses.join(", "),
                n.services.join(", ")
            );
        }
        outln!();
        if let Some(ca) = lab.lab_ca() {
            outln!("lab CA of the CDN services' certificates: {}", ca.display());
        }
        if let Some(first) = plan.nodes.first() {
            outln!(
                "run a command on a node:  netproof lab exec {} -- sh -c 'echo $NP_NODE $NP_ADDR'",
                first.name
            );
        }
        outln!("stop the lab:             Ctrl-C here, or netproof lab down");
        let mut reported = 0;
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = tokio::time::sleep(Duration::from_millis(500)) => {
                    let failed = lab.failed_services();
                    for f in failed.iter().skip(reported) {
                        eprintln!("warning: {f}");
                    }
                    reported = failed.len();
                }
            }
        }
        eprintln!("taking lab {} down", lab.id());
        lab.down().await;
        Ok::<(), CliError>(())
    })?;
    Ok(Code::Success)
}

/// The interactive labs whose owner is alive, or the one `--lab` names.
fn live_lab(id: Option<&str>) -> Result<Entry, CliError> {
    let registry = Registry::default_location();
    let (entries, _) = registry.list();
    if let Some(stale) = id.and_then(|id| {
        entries
            .iter()
            .find(|e| e.id == id && e.interactive && !e.owner.is_alive())
    }) {
        return Err(CliError::Usage(format!(
            "lab {} is stale: its owner (pid {}) has exited and its nodes are gone\nhint: `netproof lab gc` removes what it left; `netproof lab up PLAN` starts a new one",
            stale.id, stale.owner.pid
        )));
    }
    let live: Vec<Entry> = entries
        .into_iter()
        .filter(|e| e.interactive && e.owner.is_alive())
        .collect();
    if let Some(id) = id {
        return live.into_iter().find(|e| e.id == id).ok_or_else(|| {
            CliError::Usage(format!(
                "no interactive lab `{id}` is up\nhint: `netproof lab status` lists the labs on this host"
            ))
        });
    }
    match live.len() {
        0 => Err(CliError::Usage(
            "no interactive lab is up\nhint: start one with `netproof lab up PLAN`".into(),
        )),
        1 => Ok(live.into_iter().next().expect("one lab")),
        _ => Err(CliError::Usage(format!(
            "{} labs are up: {}\nhint: choose one with `--lab ID`",
            live.len(),
            live.iter()
                .map(|e| e.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

fn exec(args: LabExecArgs) -> Result<Code, CliError> {
    let entry = live_lab(args.lab.as_deref())?;
    let Some(node) = entry.nodes.iter().find(|n| n.name == args.node) else {
        return Err(CliError::Usage(format!(
            "lab {} has no node `{}`\nhint: its nodes are {}",
            entry.id,
            args.node,
            entry
                .nodes
                .iter()
                .map(|n| format!("`{}`", n.name))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    };
    let (program, rest) = args
        .command
        .split_first()
        .ok_or_else(|| CliError::Usage("no command given after `--`".into()))?;
    let mut cmd = std::process::Command::new(program);
    cmd.args(rest);
    // The same environment as a step on that node: NP_ADDR from the first
    // address, NP_ADDR6 from the second (netns nodes have both).
    for n in &entry.nodes {
        let name = netproof_lab::env_name(&n.name);
        if let Some(a) = n.addresses.first() {
            cmd.env(format!("NP_ADDR_{name}"), a);
        }
        if let Some(a6) = n.addresses.get(1) {
            cmd.env(format!("NP_ADDR6_{name}"), a6);
        }
    }
    cmd.env("NP_NODE", &node.name);
    if let Some(a) = node.addresses.first() {
        cmd.env("NP_ADDR", a);
    }
    if let Some(a6) = node.addresses.get(1) {
        cmd.env("NP_ADDR6", a6);
    }
    if entry.backend == "netns" {
        let (user, net) = open_namespaces(&entry, node)?;
        netproof_lab::enter_before_exec(&mut cmd, user, net);
        // The node's resolvers, as the lab's own processes there see them.
        if let Some(file) = &node.resolv_conf {
            netproof_lab::netns::resolv::bind_before_exec(&mut cmd, file).map_err(|e| {
                CliError::Infra(format!("cannot give `{}` its resolvers: {e}", node.name))
            })?;
        }
    }
    let status = cmd.status().map_err(|e| {
        let hint = if entry.user_namespace.is_some() && e.raw_os_error() == Some(libc::EPERM) {
            format!(
                "\nhint: lab {} was built without root; only the user who ran `netproof lab up` (or root) may enter its nodes",
                entry.id
            )
        } else {
            String::new()
        };
        let text = format!("cannot run `{program}` on `{}`: {e}{hint}", node.name);
        // A program that is not there is a typo in the command line; any
        // other failure (entering the namespace, fork) is the machine's.
        if e.kind() == std::io::ErrorKind::NotFound {
            CliError::Usage(text)
        } else {
            CliError::Infra(text)
        }
    })?;
    Ok(Code::Child(match (status.code(), status.signal()) {
        (Some(c), _) => u8::try_from(c).unwrap_or(1),
        (None, Some(sig)) => 128u8.saturating_add(u8::try_from(sig).unwrap_or(0)),
        _ => 1,
    }))
}

/// Opens what `lab exec` enters to reach `node`: the owner's user
/// namespace when the lab was built without root, and the node's network
/// namespace (its `/run/netns` mount, or the owner's descriptor of it).
fn open_namespaces(
    entry: &Entry,
    node: &registry::NodeEntry,
) -> Result<(Option<std::fs::File>, std::fs::File), CliError> {
    let Some(ns) = &node.namespace else {
        return Err(CliError::Infra(format!(
            "lab {} records no namespace for node `{}` (an entry written by an older netproof?)\nhint: take it down with `netproof lab down --lab {}` and bring it up again",
            entry.id, node.name, entry.id
        )));
    };
    let rootless = entry.user_namespace.is_some();
    let open = |path: &std::path::Path, what: &str| {
        std::fs::File::open(path).map_err(|e| {
            let hint = if rootless {
                format!(
                    "lab {} was built without root, so its namespaces are reached through its owner, pid {}: only the user who ran `netproof lab up` (or root) may open them, and only while that process runs",
                    entry.id, entry.owner.pid
                )
            } else {
                "is the lab still up? `netproof lab status` lists the labs on this host; entering a namespace needs root".to_string()
            };
            CliError::Infra(format!(
                "cannot enter node `{}` of lab {}: cannot open {what} `{}`: {e}\nhint: {hint}",
                node.name,
                entry.id,
                path.display()
            ))
        })
    };
    let user = entry
        .user_namespace
        .as_deref()
        .map(|p| open(p, "its owner's user namespace"))
        .transpose()?;
    let net = open(ns, "its network namespace")?;
    // The /proc paths name the owner by pid alone: had it exited between
    // the registry check and the opens, the pid could name another
    // process. Still the same process (pid and start time) now means the
    // files are the lab's.
    if rootless && !entry.owner.is_alive() {
        return Err(CliError::Infra(format!(
            "lab {} went down (its owner, pid {}, exited) while `lab exec` was entering it\nhint: `netproof lab status` lists the labs on this host",
            entry.id, entry.owner.pid
        )));
    }
    Ok((user, net))
}

fn status(args: LabStatusArgs) -> Result<Code, CliError> {
    let registry = Registry::default_location();
    let (entries, bad) = registry.list();
    if args.json {
        let v: Vec<serde_json::Value> = entries
            .iter()
            .map(|e| {
                serde_json::json!({
                    "id": e.id,
                    "plan": e.plan,
                    "backend": e.backend,
                    "owner_pid": e.owner.pid,
                    "state": if e.owner.is_alive() { "up" } else { "stale" },
                    "interactive": e.interactive,
                    "nodes": e.nodes.iter().map(|n| serde_json::json!({"name": n.name, "addresses": n.addresses})).collect::<Vec<_>>(),
                    "namespaces": e.namespaces.len(),
                    "processes": e.processes.len(),
                })
            })
            .collect();
        outln!("{}", serde_json::Value::Array(v));
        return Ok(Code::Success);
    }
    if entries.is_empty() {
        outln!(
            "no labs on this host (registry: {})",
            registry.dir().display()
        );
    } else {
        outln!(
            "{:<10} {:<6} {:<12} {:<8} {:>5} {:>9}  PLAN",
            "LAB",
            "STATE",
            "MODE",
            "BACKEND",
            "NODES",
            "OWNER"
        );
        let mut stale = 0;
        for e in &entries {
            let alive = e.owner.is_alive();
            stale += usize::from(!alive);
            outln!(
                "{:<10} {:<6} {:<12} {:<8} {:>5} {:>9}  {}",
                e.id,
                if alive { "up" } else { "stale" },
                if e.interactive { "interactive" } else { "run" },
                e.backend,
                e.nodes.len(),
                e.owner.pid,
                e.plan
            );
        }
        if stale > 0 {
            outln!(
                "\n{stale} stale lab(s) left by a process that died; `netproof lab gc` removes them"
            );
        }
    }
    for p in bad {
        eprintln!("warning: unreadable registry entry `{}`", p.display());
    }
    Ok(Code::Success)
}

fn down(args: LabDownArgs) -> Result<Code, CliError> {
    let entry = live_lab(args.lab.as_deref())?;
    // The owner is the process that holds the lab; it tears down in order
    // on SIGTERM. Checked by pid *and* start time just above.
    if let Ok(pid) = libc::pid_t::try_from(entry.owner.pid) {
        // SAFETY: kill has no memory-safety preconditions.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
    }
    let registry = Registry::default_location();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let (entries, _) = registry.list();
        if !entries.iter().any(|e| e.id == entry.id) || !entry.owner.is_alive() {
            outln!("lab {} is down", entry.id);
            return Ok(Code::Success);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(CliError::Infra(format!(
        "lab {} did not come down within 30 s\nhint: its owner is pid {}; `netproof lab gc` cleans up once it has exited",
        entry.id, entry.owner.pid
    )))
}

fn gc() -> Result<Code, CliError> {
    let registry = Registry::default_location();
    let report = registry::gc(&registry);
    if report.labs.is_empty() {
        outln!("nothing to clean up");
    } else {
        let dirs = match report.run_dirs {
            0 => String::new(),
            n => format!(
                ", {n} routing run director{}",
                if n == 1 { "y" } else { "ies" }
            ),
        };
        outln!(
            "removed {} stale lab(s) ({}): {} namespace(s), {} process(es){dirs}",
            report.labs.len(),
            report.labs.join(", "),
            report.namespaces,
            report.processes
        );
    }
    for p in &report.problems {
        eprintln!("error: {p}");
    }
    Ok(if report.problems.is_empty() {
        Code::Success
    } else {
        Code::Infra
    })
}
