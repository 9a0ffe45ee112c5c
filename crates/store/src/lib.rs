//! netproof's results database.
//!
//! The store is the source of truth: the runner writes runs, cases, steps,
//! samples, events, expectation results and artifacts into it as they
//! happen, and every report is rebuilt from it alone. [`ResultStore`] is the
//! interface; [`sqlite::SqliteStore`] (the default, a file `netproof.db`) and
//! [`postgres::PostgresStore`] (a server a team shares, `postgres://...`)
//! implement it with the same schema semantics. [`open`] picks one from a
//! `--db` value; [`copy`] moves runs between any two. [`owner`] identifies
//! the process that owns a run ([`Owner::current`]) and tells whether it is
//! still alive.
//!
//! Guarantees:
//! - Samples, events and artifacts sent to a [`Sink`] from [`ResultStore::sink`]
//!   are committed in batches at least every 100 ms, so a SIGKILL loses at most
//!   the last 100 ms of measurements.
//! - Opening a store marks every `running` run whose owner process is gone
//!   (same host, pid dead or reused) as `aborted`; a live run is never touched.
//! - A database whose schema is newer than this binary knows is refused, never
//!   rewritten.

pub mod copy;
pub mod owner;
pub mod postgres;
pub mod records;
pub mod sqlite;

use std::path::PathBuf;
use std::sync::Arc;

use netproof_sample::{Sink, Timestamp};

pub use records::*;

/// Errors from the results database.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be opened or written.
    #[error("results database `{path}`: {source}")]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: rusqlite::Error,
    },
    /// The database was written by a newer netproof.
    #[error(
        "results database `{path}` has schema version {found}, but this netproof ({version}) knows only up to {known}\nhint: use a newer netproof, or point --db at another database"
    )]
    SchemaTooNew {
        /// The database file (or, for PostgreSQL, its URL without password).
        path: PathBuf,
        /// The version found.
        found: i64,
        /// The newest version this binary knows.
        known: i64,
        /// This binary's version.
        version: &'static str,
    },
    /// The URL names a backend this build does not have.
    #[error("unsupported results database `{url}`\nhint: {hint}")]
    UnsupportedUrl {
        /// The URL given.
        url: String,
        /// What to do instead.
        hint: String,
    },
    /// No run matched a run reference.
    #[error("no run `{reference}` in `{path}`\nhint: `netproof runs` lists the runs it holds")]
    NoSuchRun {
        /// What the user typed.
        reference: String,
        /// The database.
        path: String,
    },
    /// A PostgreSQL database could not be reached, read or written.
    #[error("results database `{location}`: {detail}\nhint: {hint}")]
    Postgres {
        /// The URL, without its password.
        location: String,
        /// The error and its causes, as one line (rust-postgres shows only
        /// the outermost, e.g. "error connecting to server", by itself).
        detail: String,
        /// The underlying error.
        #[source]
        source: ::postgres::Error,
        /// What to check.
        hint: String,
    },
    /// A row held a value this binary cannot turn back into its type, or a
    /// value could not be encoded for a column.
    #[error("results database `{location}`: {message}")]
    BadData {
        /// The database (file path, or URL without password).
        location: String,
        /// What was wrong, naming the column or row.
        message: String,
    },
    /// This store cannot do what was asked (a store without `import_run`).
    #[error("results database `{location}`: {what} is not supported by this store")]
    Unsupported {
        /// The database.
        location: String,
        /// The operation.
        what: &'static str,
    },
    /// A background write failed earlier (reported at the next call).
    #[error("results database `{path}`: an earlier write failed: {message}")]
    WriteFailed {
        /// The database (file path, or URL without password).
        path: PathBuf,
        /// The first failure.
        message: String,
    },
}

/// Result alias for store operations.
pub type Result<T> = std::result::Result<T, StoreError>;

/// The results database interface, implemented by SQLite and PostgreSQL. All methods take `&self`; implementations synchronise
/// internally so a store can be shared between the runner's tasks.
pub trait ResultStore: Send + Sync {
    /// A human-readable location (a file path or URL without password).
    fn location(&self) -> String;

    /// Records a new run in state `running` and returns its id.
    fn begin_run(&self, run: &NewRun) -> Result<RunId>;
    /// Marks a run finished with `status` at `ended`. Flushes pending samples first.
    fn finish_run(&self, run: RunId, status: RunStatus, ended: Timestamp) -> Result<()>;

    /// Records the start of a case repetition.
    fn begin_case(&self, run: RunId, case: &NewCaseRun) -> Result<CaseRunId>;
    /// Records the end of a case repetition.
    fn finish_case(
        &self,
        case_run: CaseRunId,
        verdict: Verdict,
        ended: Timestamp,
        error: Option<&str>,
    ) -> Result<()>;

    /// Records the start of a step.
    fn begin_step(&self, case_run: CaseRunId, step: &NewStep) -> Result<StepId>;
    /// Records the end of a step.
    fn finish_step(
        &self,
        step: StepId,
        verdict: Verdict,
        ended: Timestamp,
        error: Option<&str>,
    ) -> Result<()>;

    /// Records an expectation's judgement for a case repetition.
    fn record_expectation(&self, case_run: CaseRunId, result: &ExpectationResult) -> Result<()>;

    /// A sink whose samples, events and artifacts belong to `scope`.
    fn sink(&self, scope: Scope) -> Arc<dyn Sink>;

    /// Commits everything pending now; reports the first background write
    /// failure, if any happened since the last call.
    fn flush(&self) -> Result<()>;

    /// Runs, newest first, at most `limit`.
    fn runs(&self, limit: usize) -> Result<Vec<RunRow>>;
    /// Resolves a run reference: a run id (`12`), `latest` (also `last`),
    /// or `latest~N` for the N-th run before the latest.
    fn resolve(&self, reference: &str) -> Result<RunId>;
    /// Everything about one run.
    fn load_run(&self, run: RunId) -> Result<RunData>;
    /// An artifact's content.
    fn artifact_content(&self, id: i64) -> Result<Vec<u8>>;

    /// Writes a whole run as [`ResultStore::load_run`] returned it (from
    /// this store or another), in one transaction, with `contents[i]` the
    /// content of `data.artifacts[i]`. Everything is kept (status, owner,
    /// times, verdicts, order of samples and events) except ids, which are
    /// this store's: the run, its cases, steps and artifacts get new ones,
    /// and references between them are renumbered to match. Returns the new
    /// run id. Used by [`copy`].
    fn import_run(&self, data: &RunData, contents: &[Vec<u8>]) -> Result<RunId> {
        let _ = (data, contents);
        Err(StoreError::Unsupported {
            location: self.location(),
            what: "importing a run",
        })
    }
}

/// Opens a results database from a `--db` value: a file path,
/// `sqlite://PATH`, or a PostgreSQL URL (`postgres://USER:PASSWORD@HOST/DB`
/// or `postgresql://...`, a Unix socket directory as a percent-encoded host).
pub fn open(url: &str) -> Result<Box<dyn ResultStore>> {
    if postgres::is_postgres_url(url) {
        return Ok(Box::new(postgres::PostgresStore::open(url)?));
    }
    let path = url.strip_prefix("sqlite://").unwrap_or(url);
    Ok(Box::new(sqlite::SqliteStore::open(path)?))
}
