//! Integration tests of the plan language: one binary (STYLE habit 10) with
//! a module per concern.

mod bundled;
mod cdn;
mod diagnostics;
mod docs;
mod fuzz;
mod valid;

use std::path::{Path, PathBuf};

use netproof_plan::{Options, Plan, PlanError};

/// The plan crate's directory.
pub fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The workspace root.
pub fn workspace_dir() -> PathBuf {
    crate_dir().join("../..")
}

/// Parses `text` as if read from `name` with default options.
pub fn parse(name: &str, text: &str) -> Result<Plan, PlanError> {
    netproof_plan::parse(Path::new(name), text, &Options::default())
}

/// Every file with extension `ext` under `dir`, recursively, sorted.
pub fn files_under(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path, ext));
        } else if path.extension().is_some_and(|e| e == ext) {
            out.push(path);
        }
    }
    out.sort();
    out
}
