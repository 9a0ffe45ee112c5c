//! Copying runs between two stores (`netproof store copy FROM TO`), of any
//! backends: SQLite to PostgreSQL when a team starts sharing results, back
//! again to hand one run to someone without a server.
//!
//! A run is read whole with [`ResultStore::load_run`] (and its artifacts'
//! contents) and written with [`ResultStore::import_run`] in one transaction,
//! so a copy that fails half-way leaves no half run behind. Everything
//! `load_run` returns is kept except ids, which the destination assigns.

use crate::records::RunId;
use crate::{Result, ResultStore};

/// One run copied: its id in the source and in the destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Copied {
    /// The run's id in the source.
    pub from: RunId,
    /// The run's new id in the destination.
    pub to: RunId,
}

/// Copies `runs` (every run of `from` when empty, oldest first so the
/// destination numbers them in the same order) from `from` into `to`.
pub fn copy_runs(
    from: &dyn ResultStore,
    to: &dyn ResultStore,
    runs: &[RunId],
) -> Result<Vec<Copied>> {
    let ids: Vec<RunId> = if runs.is_empty() {
        let mut all: Vec<RunId> = from.runs(usize::MAX)?.iter().map(|r| r.id).collect();
        all.reverse();
        all
    } else {
        runs.to_vec()
    };
    let mut copied = Vec::with_capacity(ids.len());
    for id in ids {
        let data = from.load_run(id)?;
        let contents = data
            .artifacts
            .iter()
            .map(|a| from.artifact_content(a.id))
            .collect::<Result<Vec<_>>>()?;
        let new = to.import_run(&data, &contents)?;
        tracing::info!(from = id.0, to = new.0, "copied run");
        copied.push(Copied { from: id, to: new });
    }
    Ok(copied)
}
