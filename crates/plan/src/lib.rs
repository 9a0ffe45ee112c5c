//! netproof's plan language.
//!
//! A plan is a TOML file: metadata, nodes, links, services and test cases
//! with timed steps and expectations. [`load`] and [`parse`] turn text into a
//! validated [`Plan`] or into every problem found, each with file:line:col,
//! the offending text and a hint. The language reference is
//! `docs/plan-language.md`.

pub mod model;

pub use model::*;

use std::path::Path;

/// Choices that change how a plan validates.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// The backend chosen on the command line (`--backend`), overriding the
    /// plan's. With neither, the default backend applies.
    pub backend: Option<Backend>,
    /// Accept addresses outside the lab ranges and loopback (`--allow-external`).
    pub allow_external: bool,
}

/// Reads and validates a plan file.
pub fn load(path: &Path, options: &Options) -> Result<Plan, PlanError> {
    let _ = (path, options);
    unimplemented!("plan parser")
}

/// Validates plan text read from `path`.
pub fn parse(path: &Path, text: &str, options: &Options) -> Result<Plan, PlanError> {
    let _ = (path, text, options);
    unimplemented!("plan parser")
}

/// A plan that could not be loaded.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum PlanError {
    /// The file could not be read.
    #[error("cannot read plan `{path}`: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}
