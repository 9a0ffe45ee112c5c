//! netproof's reports, rebuilt from the results store alone.
//!
//! A [`Report`] is made from one run's [`RunData`] (plus the content of its
//! small text artifacts) as read back from a [`ResultStore`], never from the
//! runner's memory, so any past run can be reported again and a report of a
//! crashed run shows exactly what the store kept. From it come:
//!
//! - [`Report::summary`]: verdicts, per-repetition measurements, medians and
//!   their confidence intervals, as a serialisable value;
//! - [`Report::terminal`]: a compact table for the end of `netproof run`;
//! - [`Report::html`]: one self-contained offline file with inline CSS and
//!   SVG (topology diagram, time series and CDF plots), no scripts, no
//!   external fetches;
//! - [`Report::markdown`], [`Report::junit`] and [`Report::json`] for wikis,
//!   CI systems and scripts;
//! - [`compare()`]: two runs side by side, with Mann-Whitney tests that flag
//!   regressions and improvements.
//!
//! Nothing here writes to the store, and nothing panics on odd data: an
//! empty run, a run without samples, or an aborted run with unfinished
//! cases all render, saying what is missing.

mod case;
pub mod compare;
mod format;
mod html;
pub mod index;
mod junit;
mod markdown;
mod markup;
mod plot;
mod procedure;
mod search;
mod selfcheck;
mod series;
pub mod summary;
mod terminal;
mod time;
mod topology;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use netproof_store::{ResultStore, RunData, RunId, RunStatus, StoreError};

pub use compare::{Comparison, compare};
pub use format::{Format, UnknownFormat};
pub use summary::Summary;

use case::Index;

/// Artifacts larger than this are listed in reports but not included.
pub const MAX_INCLUDED_ARTIFACT: u64 = 64 * 1024;

/// Errors from building or writing reports.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The results database could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A report file could not be written.
    #[error(
        "cannot write report `{path}`: {source}\nhint: check that the directory exists and is writable, or pass another --out"
    )]
    Write {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// One run, ready to be rendered in every format.
#[derive(Debug, Clone)]
pub struct Report {
    data: RunData,
    artifacts: BTreeMap<i64, Vec<u8>>,
    location: Option<String>,
    index: Index,
    summary: Summary,
}

impl Report {
    /// Reads run `run` from `store`, with the content of its small text
    /// artifacts (at most [`MAX_INCLUDED_ARTIFACT`] bytes each).
    pub fn load(store: &dyn ResultStore, run: RunId) -> Result<Report, ReportError> {
        let data = store.load_run(run)?;
        let mut artifacts = BTreeMap::new();
        for a in &data.artifacts {
            if a.size <= MAX_INCLUDED_ARTIFACT && markup::is_text_media(&a.media_type) {
                artifacts.insert(a.id, store.artifact_content(a.id)?);
            }
        }
        Ok(Report::from_data(data, artifacts).with_location(store.location()))
    }

    /// Builds a report from rows already read; `artifacts` maps artifact ids
    /// to their content (missing ones are listed without content).
    pub fn from_data(data: RunData, artifacts: BTreeMap<i64, Vec<u8>>) -> Report {
        let index = Index::new(&data);
        let summary = summary::build(&data, &index);
        Report {
            data,
            artifacts,
            location: None,
            index,
            summary,
        }
    }

    /// Sets where the results database is, for the reports to say.
    pub fn with_location(mut self, location: impl Into<String>) -> Report {
        self.location = Some(location.into());
        self
    }

    /// The rows the report was built from.
    pub fn data(&self) -> &RunData {
        &self.data
    }

    /// The run's id.
    pub fn run_id(&self) -> RunId {
        self.data.run.id
    }

    /// The run's status.
    pub fn status(&self) -> RunStatus {
        self.data.run.status
    }

    /// Verdicts, measurements, medians and confidence intervals.
    pub fn summary(&self) -> Summary {
        self.summary.clone()
    }

    /// A compact table of cases, verdicts and key figures for a terminal;
    /// ANSI colours only when `color`.
    pub fn terminal(&self, color: bool) -> String {
        terminal::render(self, color)
    }

    /// One self-contained HTML file (inline CSS and SVG, no scripts, no
    /// external resources).
    pub fn html(&self) -> String {
        html::render(self)
    }

    /// Markdown for a wiki page.
    pub fn markdown(&self) -> String {
        markdown::render(self)
    }

    /// JUnit XML: one test suite for the plan, one test case per case (and
    /// per repetition when a case repeats).
    pub fn junit(&self) -> String {
        junit::render(self)
    }

    /// The run's facts and its summary, for `--json`.
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "run": summary::RunFacts::new(&self.data, self.location.as_deref()),
            "summary": &self.summary,
        })
    }

    /// Writes `run-<id>.<ext>` in `dir` (created if missing) for each of
    /// `formats`, returning the paths written.
    pub fn write(&self, dir: &Path, formats: &[Format]) -> Result<Vec<PathBuf>, ReportError> {
        std::fs::create_dir_all(dir).map_err(|source| ReportError::Write {
            path: dir.to_path_buf(),
            source,
        })?;
        let mut written = Vec::new();
        for &format in formats {
            let path = dir.join(format.file_name(self.run_id()));
            let text = match format {
                Format::Html => self.html(),
                Format::Markdown => self.markdown(),
                Format::Junit => self.junit(),
                Format::Json => {
                    let mut s = serde_json::to_string_pretty(&self.json())
                        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
                    s.push('\n');
                    s
                }
            };
            std::fs::write(&path, text).map_err(|source| ReportError::Write {
                path: path.clone(),
                source,
            })?;
            written.push(path);
        }
        Ok(written)
    }

    pub(crate) fn index(&self) -> &Index {
        &self.index
    }

    pub(crate) fn summary_ref(&self) -> &Summary {
        &self.summary
    }

    pub(crate) fn location(&self) -> Option<&str> {
        self.location.as_deref()
    }

    pub(crate) fn artifact_content(&self, id: i64) -> Option<&[u8]> {
        self.artifacts.get(&id).map(Vec::as_slice)
    }
}
