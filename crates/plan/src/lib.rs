//! netproof's plan language.
//!
//! A plan is a TOML file: metadata, nodes, links, services and test cases
//! with timed steps and expectations. [`load`] and [`parse`] turn text into a
//! validated [`Plan`] or into every problem found, each with file:line:col,
//! the offending text and a hint. The language reference is
//! `docs/plan-language.md`.
//!
//! Layers, bottom up: [`units`] and [`expect`] read the small languages
//! inside strings (`"8ms"`, `"p99(tcp_connect.latency) < 5ms"`); `tree`
//! gives typed, span-keeping access to `toml`'s spanned document; `validate`
//! walks it table by table into the [`model`]; `diagnostic` presents what
//! went wrong. Parsing does no I/O except [`load`] reading the file, and no
//! input makes it panic.

mod arg;
mod diagnostic;
pub mod expect;
pub mod model;
pub mod overrides;
mod spelling;
mod tree;
pub mod units;
mod validate;

pub use diagnostic::{Finding, InvalidPlan, PlanError, Problem};
pub use model::*;

use std::path::Path;

use toml::de::DeTable;

/// Choices that change how a plan validates.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// The backend chosen on the command line (`--backend`), overriding the
    /// plan's. With neither, the default backend applies.
    pub backend: Option<Backend>,
    /// Accept addresses outside the lab ranges and loopback (`--allow-external`).
    pub allow_external: bool,
    /// The routing daemon for every node that runs a routing protocol
    /// (`--routing-daemon`), overriding the plan's `routing`.
    pub routing_daemon: Option<Daemon>,
}

/// Reads and validates a plan file.
pub fn load(path: &Path, options: &Options) -> Result<Plan, PlanError> {
    let text = std::fs::read_to_string(path).map_err(|source| PlanError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse(path, &text, options)
}

/// Validates plan text read from `path`.
///
/// A TOML syntax error stops at once ([`PlanError::Syntax`], one finding);
/// otherwise every problem in the plan is reported together
/// ([`PlanError::Invalid`]).
pub fn parse(path: &Path, text: &str, options: &Options) -> Result<Plan, PlanError> {
    parse_with(path, text, options, None)
}

/// As [`parse`], with the text of the plan's lab file (`[plan] lab`)
/// given rather than read (edited by `--set`, say).
pub fn parse_with(
    path: &Path,
    text: &str,
    options: &Options,
    lab_text: Option<&str>,
) -> Result<Plan, PlanError> {
    let root = match DeTable::parse(text) {
        Ok(root) => root,
        Err(e) => {
            let finding = syntax_finding(text, &e);
            return Err(PlanError::Syntax(Box::new(InvalidPlan::new(
                path,
                text,
                vec![finding],
            ))));
        }
    };
    // A plan may take its topology and services from a lab file: that is
    // validated first, on its own text, so its problems point into it.
    let lab = match lab_path(path, root.get_ref()) {
        None => None,
        Some(lab_path) => {
            let lab_text = match lab_text {
                Some(t) => t.to_string(),
                None => std::fs::read_to_string(&lab_path).map_err(|source| PlanError::Io {
                    path: lab_path.clone(),
                    source,
                })?,
            };
            Some(parse(&lab_path, &lab_text, options)?)
        }
    };
    let mut ck = tree::Checker::new(text);
    let source = Source {
        path: path.to_path_buf(),
        text: text.to_string(),
    };
    match validate::plan(&mut ck, root.get_ref(), options, source, lab) {
        Some(plan) if ck.clean() => Ok(plan),
        _ => Err(PlanError::Invalid(Box::new(InvalidPlan::new(
            path,
            text,
            ck.into_findings(),
        )))),
    }
}

/// The lab file a plan names in `[plan] lab`, relative to the plan's
/// directory (a wrong type is reported by validation).
fn lab_path(path: &Path, root: &DeTable<'_>) -> Option<std::path::PathBuf> {
    let plan = root.get("plan")?.get_ref().as_table()?;
    let lab = plan.get("lab")?.get_ref().as_str()?;
    let dir = path.parent().unwrap_or(Path::new("."));
    Some(dir.join(lab))
}

/// The lab file the plan at `path` with `text` names, if any (`None` too
/// for text that is not TOML: parsing reports that).
pub fn lab_of(path: &Path, text: &str) -> Option<std::path::PathBuf> {
    let root = DeTable::parse(text).ok()?;
    lab_path(path, root.get_ref())
}

/// Turns the TOML parser's error into a finding at its span.
fn syntax_finding(text: &str, e: &toml::de::Error) -> Finding {
    let range = e.span().unwrap_or(0..0);
    let start = range.start.min(text.len());
    let end = range.end.clamp(start, text.len());
    let message = e.message().trim().to_string();
    let hint = syntax_hint(&message);
    Finding::new(
        Span::new(start, end),
        format!("invalid TOML: {message}"),
        "here",
    )
    .maybe_hint(hint)
}

/// Hints for the syntax errors people make most in plans.
fn syntax_hint(message: &str) -> Option<String> {
    if message.contains("string values must be quoted") {
        Some("quote text and quantities: `delay = \"8ms\"`, `name = \"client\"`".to_string())
    } else if message.contains("duplicate key") {
        Some("each key appears once per table; use `[[...]]` for a list of tables".to_string())
    } else if message.contains("unclosed") {
        Some("close the bracket, brace or quote that opens here".to_string())
    } else {
        None
    }
}
