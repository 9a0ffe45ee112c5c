//! The SQLite backend: one database file (by default `netproof.db`).
//!
//! Layout:
//! - [`schema`]: the tables, their migrations, and how the file is opened
//!   (WAL, `synchronous=NORMAL`, foreign keys, busy timeout).
//! - `recovery`: on open, marks `running` runs whose owner died `aborted`.
//! - `write`: the statements that record runs, cases, steps and results.
//! - `batch`: the queue behind [`ResultStore::sink`] and the background
//!   writer thread that commits it.
//! - `read`: run listings, run references and whole-run loads.
//! - `import`: a whole run read from another store, in one transaction.
//! - [`codec`]: how values map onto columns, exactly.
//!
//! # One connection
//!
//! Every statement, from the writer thread and from the synchronous calls
//! alike, goes through one `Mutex<rusqlite::Connection>`. SQLite allows one
//! writer per file at a time anyway, so a second connection would buy only
//! reads that run *while* this process writes, and the runner does not read
//! while it writes (reports read after a run, usually from another process,
//! which WAL already lets through). One connection also makes ordering
//! trivial: a synchronous call drains the sink queue under the same lock
//! before its own statement, so a case's samples are committed before the
//! case's end is.
//!
//! Producers never wait for that lock: sinks only append to an in-memory
//! queue (see `batch`).

pub mod codec;
pub mod schema;

pub(crate) mod batch;
mod import;
pub(crate) mod read;
mod recovery;
mod write;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

use netproof_sample::{Sink, Timestamp};
use rusqlite::Connection;

use crate::records::*;
use crate::{Result, ResultStore, StoreError};

use batch::{Queue, StoreSink};

/// The SQLite results database.
///
/// `Send + Sync`; share it behind an `Arc` or a `Box<dyn ResultStore>`.
/// Dropping it commits whatever sinks queued and stops the writer thread.
pub struct SqliteStore {
    shared: Arc<Shared>,
    writer: Option<JoinHandle<()>>,
}

/// What the store, its writer thread and its sinks share.
struct Shared {
    /// The database file, for error messages.
    path: PathBuf,
    /// The one connection (see the module docs for why only one).
    conn: Mutex<Connection>,
    /// Records sinks have handed over and nobody has committed yet.
    queue: Queue,
    /// The first background write failure since the last report of one.
    failure: Mutex<Option<batch::Failure>>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`: configures it,
    /// migrates it to [`schema::SCHEMA_VERSION`] (refusing a newer one with
    /// [`StoreError::SchemaTooNew`] without writing to it), marks runs whose
    /// owner died `aborted`, and starts the background writer.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let mut conn = schema::open(path)?;
        recovery::abort_orphaned_runs(&mut conn, path)?;
        let shared = Arc::new(Shared {
            path: path.to_path_buf(),
            conn: Mutex::new(conn),
            queue: Queue::default(),
            failure: Mutex::new(None),
        });
        let writer =
            batch::spawn_writer(Arc::clone(&shared)).map_err(|e| StoreError::WriteFailed {
                path: path.to_path_buf(),
                message: format!("cannot start the background writer thread: {e}"),
            })?;
        Ok(SqliteStore {
            shared,
            writer: Some(writer),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    /// Locks the connection and commits everything the sinks queued, so the
    /// caller's statement comes after them.
    fn conn_after_pending(&self) -> MutexGuard<'_, Connection> {
        let mut conn = lock(&self.shared.conn);
        self.shared.commit_pending(&mut conn);
        conn
    }

    /// The background failure, if any, as an error; clears it.
    fn take_failure(&self) -> Result<()> {
        match lock(&self.shared.failure).take() {
            None => Ok(()),
            Some(f) => Err(StoreError::WriteFailed {
                path: self.shared.path.clone(),
                message: f.to_string(),
            }),
        }
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        self.shared.queue.close();
        if let Some(writer) = self.writer.take()
            && writer.join().is_err()
        {
            tracing::error!(path = %self.shared.path.display(), "results database writer thread panicked");
        }
        // The writer's last drain already ran; this catches the records of a
        // writer that panicked, and costs nothing otherwise.
        let mut conn = lock(&self.shared.conn);
        self.shared.commit_pending(&mut conn);
        if let Some(f) = lock(&self.shared.failure).take() {
            tracing::error!(
                path = %self.shared.path.display(),
                "results database: a write failed and nobody flushed since: {f}"
            );
        }
    }
}

impl ResultStore for SqliteStore {
    fn location(&self) -> String {
        self.shared.path.display().to_string()
    }

    fn begin_run(&self, run: &NewRun) -> Result<RunId> {
        let conn = self.conn_after_pending();
        write::insert_run(&conn, run).at(&self.shared.path)
    }

    fn finish_run(&self, run: RunId, status: RunStatus, ended: Timestamp) -> Result<()> {
        let conn = self.conn_after_pending();
        let changed = write::finish_run(&conn, run, status, ended).at(&self.shared.path)?;
        drop(conn);
        if !changed {
            return Err(StoreError::NoSuchRun {
                reference: run.0.to_string(),
                path: self.location(),
            });
        }
        self.take_failure()
    }

    fn begin_case(&self, run: RunId, case: &NewCaseRun) -> Result<CaseRunId> {
        let conn = self.conn_after_pending();
        write::insert_case(&conn, run, case).at(&self.shared.path)
    }

    fn finish_case(
        &self,
        case_run: CaseRunId,
        verdict: Verdict,
        ended: Timestamp,
        error: Option<&str>,
    ) -> Result<()> {
        let conn = self.conn_after_pending();
        write::finish_case(&conn, case_run, verdict, ended, error).at(&self.shared.path)
    }

    fn begin_step(&self, case_run: CaseRunId, step: &NewStep) -> Result<StepId> {
        let conn = self.conn_after_pending();
        write::insert_step(&conn, case_run, step).at(&self.shared.path)
    }

    fn finish_step(
        &self,
        step: StepId,
        verdict: Verdict,
        ended: Timestamp,
        error: Option<&str>,
    ) -> Result<()> {
        let conn = self.conn_after_pending();
        write::finish_step(&conn, step, verdict, ended, error).at(&self.shared.path)
    }

    fn record_expectation(&self, case_run: CaseRunId, result: &ExpectationResult) -> Result<()> {
        let conn = self.conn_after_pending();
        write::insert_expectation(&conn, case_run, result).at(&self.shared.path)
    }

    fn sink(&self, scope: Scope) -> Arc<dyn Sink> {
        Arc::new(StoreSink::new(Arc::downgrade(&self.shared), scope))
    }

    fn flush(&self) -> Result<()> {
        drop(self.conn_after_pending());
        self.take_failure()
    }

    fn runs(&self, limit: usize) -> Result<Vec<RunRow>> {
        read::runs(&lock(&self.shared.conn), limit).at(&self.shared.path)
    }

    fn resolve(&self, reference: &str) -> Result<RunId> {
        let found = read::resolve(&lock(&self.shared.conn), reference).at(&self.shared.path)?;
        found.ok_or_else(|| StoreError::NoSuchRun {
            reference: reference.to_string(),
            path: self.location(),
        })
    }

    fn load_run(&self, run: RunId) -> Result<RunData> {
        // Commit first, so a process reading its own run sees all it wrote.
        let conn = self.conn_after_pending();
        let data = read::load_run(&conn, run).at(&self.shared.path)?;
        data.ok_or_else(|| StoreError::NoSuchRun {
            reference: run.0.to_string(),
            path: self.location(),
        })
    }

    fn artifact_content(&self, id: i64) -> Result<Vec<u8>> {
        let conn = lock(&self.shared.conn);
        read::artifact_content(&conn, id)
            .at(&self.shared.path)?
            .ok_or_else(|| codec::missing("artifact", id))
            .at(&self.shared.path)
    }

    fn import_run(&self, data: &RunData, contents: &[Vec<u8>]) -> Result<RunId> {
        let mut conn = self.conn_after_pending();
        import::import_run(&mut conn, data, contents).at(&self.shared.path)
    }
}

/// Locks a mutex, recovering it if a thread panicked while holding it: every
/// critical section here either completes or leaves SQLite to roll back an
/// unfinished transaction, so the data behind a poisoned lock is consistent.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Attaches the database path to a rusqlite error.
trait AtPath<T> {
    /// Converts to a [`StoreError::Sqlite`] naming `path`.
    fn at(self, path: &Path) -> Result<T>;
}

impl<T> AtPath<T> for rusqlite::Result<T> {
    fn at(self, path: &Path) -> Result<T> {
        self.map_err(|source| StoreError::Sqlite {
            path: path.to_path_buf(),
            source,
        })
    }
}
