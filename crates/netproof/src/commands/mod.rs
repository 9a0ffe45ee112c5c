//! One module per subcommand; each returns the exit code or a [`CliError`].

mod cdn;
mod check;
mod compare;
mod demo;
mod lab;
mod probe;
mod probe_dns;
mod probe_http;
mod probe_serve;
mod report;
mod run;
mod runs;
mod seeded;
pub(crate) mod store;

use std::io::IsTerminal;

use netproof_plan::{Backend, Options};

use crate::cli::{Cli, ColorChoice, Command, PlanOptions};
use crate::error::{CliError, Code};

/// Runs the chosen subcommand.
pub fn dispatch(cli: Cli) -> Result<Code, CliError> {
    let color = match cli.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
        }
    };
    match cli.command {
        Command::Check(a) => check::run(a),
        Command::Run(a) => run::run(a, color),
        Command::Runs(a) => runs::run(a),
        Command::Report(a) => report::run(a, color),
        Command::Compare(a) => compare::run(a, color),
        Command::Lab(c) => lab::run(c),
        Command::Probe(c) => probe::run(c),
        Command::Cdn(c) => cdn::run(c),
        Command::Store(c) => store::run(c),
        Command::Demo(a) => demo::run(a, color),
    }
}

/// Turns the shared plan flags into validation options.
fn plan_options(p: &PlanOptions) -> Result<Options, CliError> {
    let backend = match p.backend.as_deref() {
        None => None,
        Some(name) => Some(Backend::from_name(name).ok_or_else(|| {
            CliError::Usage(format!(
                "unknown backend `{name}`\nhint: the backends are: netns, local"
            ))
        })?),
    };
    Ok(Options {
        backend,
        allow_external: p.allow_external,
        routing_daemon: p.routing_daemon.as_deref().map(|d| match d {
            "frr" => netproof_plan::Daemon::Frr,
            _ => netproof_plan::Daemon::Bird,
        }),
    })
}

/// Reads and validates a plan with the `--set` overrides and, before
/// them, the plan's own `quick` overrides (`--quick`) and seeded fault
/// (`--seeded-fault`). The outer
/// error is the command line's (an override that does not parse or does
/// not fit the plan); the inner one the plan's, to be reported with the
/// others.
fn load_plan(
    path: &std::path::Path,
    options: &Options,
    p: &PlanOptions,
) -> Result<Result<netproof_plan::Plan, netproof_plan::PlanError>, CliError> {
    use netproof_plan::overrides::{self, Override};
    if p.set.is_empty() && !p.seeded_fault && !p.quick {
        return Ok(netproof_plan::load(path, options));
    }
    let mut sets: Vec<String> = Vec::new();
    if p.seeded_fault || p.quick {
        let plan = match netproof_plan::load(path, options) {
            Ok(plan) => plan,
            Err(e) => return Ok(Err(e)),
        };
        if p.quick {
            sets.extend(plan.meta.quick);
        }
        match plan.meta.seeded_fault {
            _ if !p.seeded_fault => {}
            Some(fault) => sets.extend(fault.set),
            None => {
                return Err(CliError::Usage(format!(
                    "{}: --seeded-fault, but the plan names no seeded fault\nhint: add `seeded_fault = {{ summary = \"...\", set = [\"PATH=VALUE\"], fails = [\"CASE\"] }}` to its `[plan]`",
                    path.display()
                )));
            }
        }
    }
    sets.extend(p.set.iter().cloned());
    let parsed = sets
        .iter()
        .map(|s| Override::parse(s))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| CliError::Usage(format!("{}: {e}", path.display())))?;
    let text = std::fs::read_to_string(path).map_err(|source| {
        CliError::Plans(vec![netproof_plan::PlanError::Io {
            path: path.to_path_buf(),
            source,
        }])
    })?;
    // With a lab file, what the lab holds (nodes, links, services, ...) is
    // changed there; the rest in the plan itself.
    const LAB_KEYS: &[&str] = &["node", "link", "lan", "route", "bgp", "service"];
    let lab = netproof_plan::lab_of(path, &text);
    let (to_lab, to_plan): (Vec<Override>, Vec<Override>) = parsed
        .into_iter()
        .partition(|o| lab.is_some() && LAB_KEYS.contains(&o.root()));
    let edited = overrides::apply(&text, &to_plan)
        .map_err(|e| CliError::Usage(format!("{}: {e}", path.display())))?;
    let lab_text = match (&lab, to_lab.is_empty()) {
        (Some(lab), false) => {
            let text = std::fs::read_to_string(lab).map_err(|source| {
                CliError::Plans(vec![netproof_plan::PlanError::Io {
                    path: lab.clone(),
                    source,
                }])
            })?;
            Some(
                overrides::apply(&text, &to_lab)
                    .map_err(|e| CliError::Usage(format!("{}: {e}", lab.display())))?,
            )
        }
        _ => None,
    };
    Ok(netproof_plan::parse_with(
        path,
        &edited,
        options,
        lab_text.as_deref(),
    ))
}

/// Opens the results database named by `--db`.
fn open_store(url: &str) -> Result<Box<dyn netproof_store::ResultStore>, CliError> {
    Ok(netproof_store::open(url)?)
}

/// `path:line:col` of a lab error that points into the plan, else `path`.
fn lab_error_place(plan: &netproof_plan::Plan, e: &netproof_lab::LabError) -> String {
    // The lab's problems are the topology's: in the lab file, if any.
    let source = plan.lab.as_ref().unwrap_or(&plan.source);
    let path = source.path.display().to_string();
    let Some(span) = e.span() else { return path };
    let mut at = span.start.min(source.text.len());
    while !source.text.is_char_boundary(at) {
        at -= 1;
    }
    let before = &source.text[..at];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!("{path}:{line}:{col}")
}

/// Whether `plan`'s lab can be built, before anything starts: a lab the
/// plan describes but that cannot be built is the plan's fault (exit 2);
/// then what this machine lacks for it (privileges, /dev/net/tun, routing
/// daemons), all at once, is the machine's (exit 3). `check`'s warnings
/// (nodes that cannot reach each other) are printed, as `check` prints
/// them: the lab still goes up, but a case whose hosts cannot reach each
/// other is better understood up front.
fn buildable(plan: &netproof_plan::Plan, backend: netproof_plan::Backend) -> Result<(), CliError> {
    let warnings = netproof_lab::check(plan, backend).map_err(|e| {
        CliError::Usage(format!(
            "{}: the lab cannot be built: {e}",
            lab_error_place(plan, &e)
        ))
    })?;
    for w in &warnings {
        eprintln!("warning: {}: {w}", plan.source.path.display());
    }
    let missing = netproof_lab::preflight::check(plan, backend, &netproof_lab::preflight::Host);
    if missing.is_empty() {
        return Ok(());
    }
    let mut msg = format!(
        "{}: the lab cannot be built on this machine; nothing was started:",
        plan.source.path.display()
    );
    for m in &missing {
        msg += &format!("\n  - {}\n    hint: {}", m.what, m.hint);
    }
    Err(CliError::Infra(msg))
}

/// The exit code a run's final status gives (`run` and `demo`).
fn run_code(status: netproof_store::RunStatus) -> Code {
    use netproof_store::RunStatus;
    match status {
        RunStatus::Passed => Code::Success,
        RunStatus::Failed => Code::Failed,
        RunStatus::Interrupted => Code::Interrupted,
        RunStatus::Error | RunStatus::Aborted | RunStatus::Running => Code::Infra,
    }
}
