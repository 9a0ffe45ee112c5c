//! One module per subcommand; each returns the exit code or a [`CliError`].

mod cdn;
mod check;
mod compare;
mod lab;
mod probe;
mod probe_dns;
mod probe_http;
mod probe_serve;
mod report;
mod run;
mod runs;
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

/// Opens the results database named by `--db`.
fn open_store(url: &str) -> Result<Box<dyn netproof_store::ResultStore>, CliError> {
    Ok(netproof_store::open(url)?)
}

/// `path:line:col` of a lab error that points into the plan, else `path`.
fn lab_error_place(plan: &netproof_plan::Plan, e: &netproof_lab::LabError) -> String {
    let path = plan.source.path.display().to_string();
    let Some(span) = e.span() else { return path };
    let before = &plan.source.text[..span.start.min(plan.source.text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!("{path}:{line}:{col}")
}
