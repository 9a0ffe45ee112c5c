//! The PostgreSQL backend: one database on a server a team shares.
//!
//! Same promises as [`crate::sqlite`], same layout:
//! - [`schema`]: the tables (SQLite's, in PostgreSQL's types), the version
//!   table and the migrations.
//! - `recovery`: on open, marks this host's `running` runs whose owner died
//!   `aborted` (never another host's).
//! - `write` / `read`: the statements.
//! - `url`: URLs, and their form without a password (every message and
//!   [`ResultStore::location`] uses that form).
//!
//! # One connection, and a server that goes away
//!
//! As with SQLite, one connection (rust-postgres' synchronous `Client`)
//! behind one mutex carries every statement; sinks only append to the
//! shared in-memory queue (SQLite's `batch::Queue`) and a writer thread
//! commits it 50 ms (SQLite's `BATCH_INTERVAL`) after its first record, the
//! batch's samples in statements of up to 10,000 rows (`unnest`).
//!
//! rust-postgres' client drives its connection on a tokio runtime of its
//! own and panics when called from inside another one (the runner's), so
//! every call runs on a thread of its own (`off_runtime`).
//!
//! Unlike a file, a server can go away mid-run. Then a batch that could not
//! be written is *held* in memory, up to [`HELD_LIMIT`] records (what
//! arrives beyond it is dropped and counted), and every later commit first
//! reconnects and retries it, so a server that comes back in time loses
//! nothing. Meanwhile the failure (naming the database and how much is held)
//! is reported by the next `flush` / `finish_run`, and every synchronous
//! call fails with [`StoreError::Postgres`] naming the database, which the
//! CLI turns into exit 3. What was committed before stays committed; the
//! run stays `running` until its process has exited, when the next open on
//! this host marks it `aborted`.

pub mod cluster;
pub mod schema;

mod read;
mod recovery;
mod url;
mod write;

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

use ::postgres::{Client, Config, NoTls};
use netproof_sample::{Sink, Timestamp};

use crate::records::*;
use crate::sqlite::batch::{Failure, Pending, Queue};
use crate::{Result, ResultStore, StoreError};

pub use url::{is_postgres_url, redact};

/// How many records a store holds in memory while its server is unreachable
/// (about 200 bytes each: some 100 MB). Past it, new records are dropped and
/// counted rather than letting a long outage exhaust the machine.
pub const HELD_LIMIT: usize = 500_000;

/// The most samples one `INSERT` carries (its arrays stay a few MB).
const SAMPLES_PER_STATEMENT: usize = 10_000;

/// How long connecting may take, unless the URL says otherwise
/// (`connect_timeout=`): bounds every reconnect attempt of a store whose
/// server is gone.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// What went wrong in a statement: the server's (or the connection's) error,
/// or a value that could not be encoded or decoded.
#[derive(Debug)]
pub enum PgFail {
    /// From the client or server.
    Db(::postgres::Error),
    /// A value, naming its column or row.
    Data(String),
}

impl From<::postgres::Error> for PgFail {
    fn from(e: ::postgres::Error) -> Self {
        PgFail::Db(e)
    }
}

impl std::fmt::Display for PgFail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PgFail::Db(e) => write!(f, "{e}"),
            PgFail::Data(m) => f.write_str(m),
        }
    }
}

/// Result of one statement or a few.
pub type PgResult<T> = std::result::Result<T, PgFail>;

/// The PostgreSQL results database. `Send + Sync`; dropping it commits what
/// sinks queued (if the server is there) and stops the writer thread.
pub struct PostgresStore {
    shared: Arc<Shared>,
    writer: Option<JoinHandle<()>>,
}

/// What the store, its writer thread and its sinks share.
struct Shared {
    /// The URL without its password.
    location: String,
    /// How to (re)connect.
    config: Config,
    /// The connection and what it could not write yet.
    conn: Mutex<Conn>,
    /// Records sinks have handed over and nobody has committed yet.
    queue: Queue,
    /// The first background write failure since the last report of one.
    failure: Mutex<Option<Failure>>,
}

/// The one connection (absent while the server is unreachable) and the
/// records held for it.
struct Conn {
    client: Option<Client>,
    /// Records a lost connection could not write, oldest first.
    held: Vec<Pending>,
    /// Records dropped because [`HELD_LIMIT`] was reached.
    dropped: usize,
}

impl Conn {
    /// The connection, reconnecting if it was lost.
    fn connected(
        &mut self,
        config: &Config,
    ) -> std::result::Result<&mut Client, ::postgres::Error> {
        let client = match self.client.take() {
            Some(c) if !c.is_closed() => c,
            _ => config.connect(NoTls)?,
        };
        Ok(self.client.insert(client))
    }
}

impl PostgresStore {
    /// Connects to the database at `url`, migrates it to
    /// [`schema::SCHEMA_VERSION`] (refusing a newer one with
    /// [`StoreError::SchemaTooNew`] without writing to it), marks this
    /// host's runs whose owner died `aborted`, and starts the writer.
    pub fn open(url: &str) -> Result<Self> {
        off_runtime(|| Self::open_here(url))
    }

    fn open_here(url: &str) -> Result<Self> {
        let location = redact(url);
        let mut config = Config::from_str(url).map_err(|e| StoreError::Postgres {
            location: location.clone(),
            detail: chain(&e),
            source: e,
            hint: "write it as postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE (a Unix socket \
                   directory as a percent-encoded host, e.g. %2Frun%2Fpostgresql)"
                .into(),
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("netproof");
        }
        let fail = |e: PgFail| to_store_error(&location, e);
        let mut client = config.connect(NoTls).map_err(|e| fail(e.into()))?;
        let found = schema::version(&mut client).map_err(fail)?;
        let too_new = |found| StoreError::SchemaTooNew {
            path: location.clone().into(),
            found,
            known: schema::SCHEMA_VERSION,
            version: env!("CARGO_PKG_VERSION"),
        };
        if found > schema::SCHEMA_VERSION {
            return Err(too_new(found));
        }
        if let schema::Migrated::TooNew(found) = schema::migrate(&mut client).map_err(fail)? {
            return Err(too_new(found));
        }
        recovery::abort_orphaned_runs(&mut client).map_err(fail)?;
        let shared = Arc::new(Shared {
            location: location.clone(),
            config,
            conn: Mutex::new(Conn {
                client: Some(client),
                held: Vec::new(),
                dropped: 0,
            }),
            queue: Queue::default(),
            failure: Mutex::new(None),
        });
        let writer = spawn_writer(Arc::clone(&shared)).map_err(|e| StoreError::WriteFailed {
            path: location.clone().into(),
            message: format!("cannot start the background writer thread: {e}"),
        })?;
        Ok(PostgresStore {
            shared,
            writer: Some(writer),
        })
    }

    /// Runs `f` on the connection after committing what sinks queued, so the
    /// caller's statement comes after them.
    fn with_client<T: Send>(&self, f: impl FnOnce(&mut Client) -> PgResult<T> + Send) -> Result<T> {
        let (held, result) = off_runtime(|| {
            let mut conn = lock(&self.shared.conn);
            self.shared.commit_pending(&mut conn);
            let held = conn.held.len();
            let result = conn
                .connected(&self.shared.config)
                .map_err(PgFail::from)
                .and_then(f);
            (held, result)
        });
        result.map_err(|e| {
            let mut err = to_store_error(&self.shared.location, e);
            if held > 0
                && let StoreError::Postgres { hint, .. } = &mut err
            {
                hint.push_str(&format!(
                    "\n{held} samples, events and artifacts of this run are held in memory \
                     until the server is back"
                ));
            }
            err
        })
    }

    /// The background failure, if any, as an error; clears it.
    fn take_failure(&self) -> Result<()> {
        match lock(&self.shared.failure).take() {
            None => Ok(()),
            Some(f) => Err(StoreError::WriteFailed {
                path: self.shared.location.clone().into(),
                message: f.to_string(),
            }),
        }
    }
}

/// An error and its causes on one line: `error connecting to server: No
/// such file or directory (os error 2)`.
fn chain(e: &::postgres::Error) -> String {
    let mut out = e.to_string();
    let mut next = std::error::Error::source(e);
    while let Some(cause) = next {
        let text = cause.to_string();
        // Some versions already print the cause in the outer message.
        if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        next = cause.source();
    }
    out
}

/// The error a caller sees: the database's location, the cause, a hint.
fn to_store_error(location: &str, e: PgFail) -> StoreError {
    match e {
        PgFail::Db(source) => {
            let hint = if source.as_db_error().is_some() {
                "the server refused the statement; was this database written by another \
                 program, or changed by hand?"
            } else {
                "check that the PostgreSQL server is running and reachable at this URL \
                 (host, port, database, user)"
            };
            StoreError::Postgres {
                location: location.to_string(),
                detail: chain(&source),
                source,
                hint: hint.to_string(),
            }
        }
        PgFail::Data(message) => StoreError::BadData {
            location: location.to_string(),
            message,
        },
    }
}

impl Shared {
    /// Commits held and queued records. A batch the server could not take
    /// because the connection is gone is held (see the module docs); one it
    /// refused record by record is reported; either way the failure is
    /// remembered for the next `flush`.
    fn commit_pending(&self, conn: &mut Conn) {
        let mut batch = std::mem::take(&mut conn.held);
        let retried = batch.len();
        batch.extend(self.queue.take());
        if batch.is_empty() {
            return;
        }
        let outcome = match conn.connected(&self.config) {
            Ok(client) => match write_batch(client, &batch) {
                Ok(None) => Ok(()),
                Ok(Some(message)) => {
                    self.remember(message);
                    Ok(())
                }
                Err(e) if client.is_closed() || e.as_db_error().is_none() => Err(e),
                Err(e) => {
                    self.remember(format!(
                        "{} queued records were not written: {e}",
                        batch.len()
                    ));
                    Ok(())
                }
            },
            Err(e) => Err(e),
        };
        match outcome {
            Ok(()) if retried > 0 => tracing::warn!(
                location = %self.location,
                "results database is back; wrote {retried} held records"
            ),
            Ok(()) => {}
            Err(e) => self.hold(conn, batch, &e),
        }
    }

    /// Keeps a batch the lost connection could not write, up to the bound.
    fn hold(&self, conn: &mut Conn, mut batch: Vec<Pending>, e: &::postgres::Error) {
        conn.client = None;
        let first = conn.held.is_empty();
        let room = HELD_LIMIT.saturating_sub(conn.held.len());
        if batch.len() > room {
            conn.dropped += batch.len() - room;
            batch.truncate(room);
        }
        conn.held.extend(batch);
        let message = format!(
            "the server is unreachable ({e}); {} records held in memory (at most {HELD_LIMIT}), \
             {} dropped beyond that",
            conn.held.len(),
            conn.dropped
        );
        // Said once per outage (and again each time it is reported); the
        // writer retries every batch interval and need not repeat it.
        if first {
            tracing::warn!(location = %self.location, "results database: {message}");
        } else {
            tracing::debug!(location = %self.location, "results database: {message}");
        }
        self.remember(message);
    }

    /// Keeps the first failure, counts the rest.
    fn remember(&self, message: String) {
        let mut failure = lock(&self.failure);
        match failure.as_mut() {
            Some(f) => f.more += 1,
            None => {
                *failure = Some(Failure {
                    first: message,
                    more: 0,
                })
            }
        }
    }
}

/// Writes one batch in one transaction: `Ok(None)` when all of it is
/// committed, `Ok(Some(message))` when some records were refused on their
/// own (a broken foreign key) and the rest committed, `Err` when nothing
/// was (the connection broke).
fn write_batch(
    client: &mut Client,
    batch: &[Pending],
) -> std::result::Result<Option<String>, ::postgres::Error> {
    // The fast path: the samples in a few statements, events and artifacts
    // one each.
    let fast = (|| -> PgResult<()> {
        let mut tx = client.transaction()?;
        let samples: Vec<_> = batch
            .iter()
            .filter_map(|p| match p {
                Pending::Sample(scope, s) => Some((*scope, s)),
                _ => None,
            })
            .collect();
        // Bounded statements: a queue that grew during a stall (or a held
        // backlog) goes in 10,000 samples at a time, still one transaction.
        for chunk in samples.chunks(SAMPLES_PER_STATEMENT) {
            write::insert_samples(&mut tx, chunk)?;
        }
        for record in batch {
            match record {
                Pending::Sample(..) => {}
                Pending::Event(scope, e) => write::insert_event(&mut tx, scope, e)?,
                Pending::Artifact(scope, a) => {
                    write::insert_artifact(&mut tx, scope, a)?;
                }
            }
        }
        tx.commit()?;
        Ok(())
    })();
    match fast {
        Ok(()) => return Ok(None),
        Err(PgFail::Db(e)) if client.is_closed() || e.as_db_error().is_none() => return Err(e),
        Err(_) => {}
    }
    // Some record was refused: PostgreSQL aborted the transaction, so write
    // them one by one, each under a savepoint, to keep the good ones.
    let mut tx = client.transaction()?;
    let mut first_error: Option<String> = None;
    let mut failed = 0usize;
    for record in batch {
        let mut sp = tx.transaction()?;
        let result = match record {
            Pending::Sample(scope, s) => write::insert_sample(&mut sp, scope, s),
            Pending::Event(scope, e) => write::insert_event(&mut sp, scope, e),
            Pending::Artifact(scope, a) => write::insert_artifact(&mut sp, scope, a).map(drop),
        };
        match result {
            Ok(()) => sp.commit()?,
            Err(PgFail::Db(e)) if e.as_db_error().is_none() => return Err(e),
            Err(e) => {
                drop(sp);
                failed += 1;
                first_error.get_or_insert_with(|| format!("{}: {e}", record.describe()));
            }
        }
    }
    tx.commit()?;
    Ok(first_error.map(|first| {
        format!(
            "{failed} of {} queued records were not written; the first: {first}",
            batch.len()
        )
    }))
}

/// Starts the writer thread; it exits after its final drain once the queue
/// closes (when the store is dropped).
fn spawn_writer(shared: Arc<Shared>) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("netproof-store-pg-writer".into())
        .spawn(move || {
            loop {
                let closed = shared.queue.wait_for_batch();
                let mut conn = lock(&shared.conn);
                shared.commit_pending(&mut conn);
                if closed {
                    break;
                }
            }
        })
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        self.shared.queue.close();
        if let Some(writer) = self.writer.take()
            && writer.join().is_err()
        {
            tracing::error!(location = %self.shared.location, "results database writer thread panicked");
        }
        // The last drain, and closing the connection (a `Client` blocks on
        // its runtime when dropped), off any caller's runtime.
        off_runtime(|| {
            let mut conn = lock(&self.shared.conn);
            self.shared.commit_pending(&mut conn);
            drop(conn.client.take());
            if !conn.held.is_empty() || conn.dropped > 0 {
                tracing::error!(
                    location = %self.shared.location,
                    held = conn.held.len(),
                    dropped = conn.dropped,
                    "results database unreachable at exit: records held in memory are lost"
                );
            }
            if let Some(f) = lock(&self.shared.failure).take() {
                tracing::error!(
                    location = %self.shared.location,
                    "results database: a write failed and nobody flushed since: {f}"
                );
            }
        });
    }
}

impl ResultStore for PostgresStore {
    fn location(&self) -> String {
        self.shared.location.clone()
    }

    fn begin_run(&self, run: &NewRun) -> Result<RunId> {
        self.with_client(|c| write::insert_run(c, run, RunStatus::Running, None))
    }

    fn finish_run(&self, run: RunId, status: RunStatus, ended: Timestamp) -> Result<()> {
        let changed = self.with_client(|c| write::finish_run(c, run, status, ended))?;
        if !changed {
            return Err(StoreError::NoSuchRun {
                reference: run.0.to_string(),
                path: self.location(),
            });
        }
        self.take_failure()
    }

    fn begin_case(&self, run: RunId, case: &NewCaseRun) -> Result<CaseRunId> {
        self.with_client(|c| write::insert_case(c, run, case, None))
    }

    fn finish_case(
        &self,
        case_run: CaseRunId,
        verdict: Verdict,
        ended: Timestamp,
        error: Option<&str>,
    ) -> Result<()> {
        self.with_client(|c| write::finish_case(c, case_run, verdict, ended, error))
    }

    fn begin_step(&self, case_run: CaseRunId, step: &NewStep) -> Result<StepId> {
        self.with_client(|c| write::insert_step(c, case_run, step, None))
    }

    fn finish_step(
        &self,
        step: StepId,
        verdict: Verdict,
        ended: Timestamp,
        error: Option<&str>,
    ) -> Result<()> {
        self.with_client(|c| write::finish_step(c, step, verdict, ended, error))
    }

    fn record_expectation(&self, case_run: CaseRunId, result: &ExpectationResult) -> Result<()> {
        self.with_client(|c| write::insert_expectation(c, case_run, result))
    }

    fn sink(&self, scope: Scope) -> Arc<dyn Sink> {
        Arc::new(PgSink {
            shared: Arc::downgrade(&self.shared),
            scope,
        })
    }

    fn flush(&self) -> Result<()> {
        off_runtime(|| self.shared.commit_pending(&mut lock(&self.shared.conn)));
        self.take_failure()
    }

    fn runs(&self, limit: usize) -> Result<Vec<RunRow>> {
        self.with_client(|c| read::runs(c, limit))
    }

    fn resolve(&self, reference: &str) -> Result<RunId> {
        let found = self.with_client(|c| read::resolve(c, reference))?;
        found.ok_or_else(|| StoreError::NoSuchRun {
            reference: reference.to_string(),
            path: self.location(),
        })
    }

    fn load_run(&self, run: RunId) -> Result<RunData> {
        let data = self.with_client(|c| read::load_run(c, run))?;
        data.ok_or_else(|| StoreError::NoSuchRun {
            reference: run.0.to_string(),
            path: self.location(),
        })
    }

    fn artifact_content(&self, id: i64) -> Result<Vec<u8>> {
        self.with_client(|c| {
            read::artifact_content(c, id)?
                .ok_or_else(|| PgFail::Data(format!("no artifact with id {id}")))
        })
    }

    fn import_run(&self, data: &RunData, contents: &[Vec<u8>]) -> Result<RunId> {
        self.with_client(|c| import(c, data, contents))
    }
}

/// Writes a whole run in one transaction, renumbering its ids.
fn import(client: &mut Client, data: &RunData, contents: &[Vec<u8>]) -> PgResult<RunId> {
    if contents.len() != data.artifacts.len() {
        return Err(PgFail::Data(format!(
            "{} artifact contents given for {} artifacts",
            contents.len(),
            data.artifacts.len()
        )));
    }
    let mut tx = client.transaction()?;
    let run = write::insert_run(&mut tx, &data.run.info, data.run.status, data.run.ended)?;
    let mut cases = HashMap::new();
    for c in &data.cases {
        let end = write::Ending {
            verdict: c.verdict,
            ended: c.ended,
            error: c.error.clone(),
        };
        cases.insert(c.id, write::insert_case(&mut tx, run, &c.info, Some(&end))?);
    }
    let case_of = |id: CaseRunId| {
        cases
            .get(&id)
            .copied()
            .ok_or_else(|| PgFail::Data(format!("no case run with id {} in the run", id.0)))
    };
    let mut steps = HashMap::new();
    for s in &data.steps {
        let end = write::Ending {
            verdict: s.verdict,
            ended: s.ended,
            error: s.error.clone(),
        };
        let case = case_of(s.case_run)?;
        steps.insert(
            s.id,
            write::insert_step(&mut tx, case, &s.info, Some(&end))?,
        );
    }
    let scope = |case_run: Option<CaseRunId>, step: Option<StepId>| -> PgResult<Scope> {
        Ok(Scope {
            run,
            case_run: case_run.map(case_of).transpose()?,
            step: step
                .map(|s| {
                    steps
                        .get(&s)
                        .copied()
                        .ok_or_else(|| PgFail::Data(format!("no step with id {} in the run", s.0)))
                })
                .transpose()?,
        })
    };
    for e in &data.expectations {
        write::insert_expectation(&mut tx, case_of(e.case_run)?, &e.result)?;
    }
    // Bounded statements, as in a batch.
    for chunk in data.samples.chunks(SAMPLES_PER_STATEMENT) {
        let rows = chunk
            .iter()
            .map(|r| Ok((scope(r.case_run, r.step)?, &r.sample)))
            .collect::<PgResult<Vec<_>>>()?;
        write::insert_samples(&mut tx, &rows)?;
    }
    for e in &data.events {
        let event = netproof_sample::Event {
            time: e.time,
            kind: e.kind.clone(),
            severity: e.severity,
            message: e.message.clone(),
            labels: e.labels.clone(),
        };
        write::insert_event(&mut tx, &scope(e.case_run, e.step)?, &event)?;
    }
    for (a, content) in data.artifacts.iter().zip(contents) {
        let artifact = netproof_sample::Artifact {
            name: a.name.clone(),
            media_type: a.media_type.clone(),
            content: content.clone(),
        };
        write::insert_artifact(&mut tx, &scope(a.case_run, a.step)?, &artifact)?;
    }
    tx.commit()?;
    Ok(run)
}

/// A sink scoped to one run, case repetition and step; holds the store
/// weakly, as SQLite's does.
struct PgSink {
    shared: Weak<Shared>,
    scope: Scope,
}

impl PgSink {
    fn push(&self, record: Pending) {
        let accepted = self
            .shared
            .upgrade()
            .is_some_and(|shared| shared.queue.push(record));
        if !accepted {
            tracing::warn!(
                run = self.scope.run.0,
                "a record arrived after the results database was closed; dropped"
            );
        }
    }
}

impl Sink for PgSink {
    fn sample(&self, sample: netproof_sample::Sample) {
        self.push(Pending::Sample(self.scope, sample));
    }

    fn event(&self, event: netproof_sample::Event) {
        self.push(Pending::Event(self.scope, event));
    }

    fn artifact(&self, artifact: netproof_sample::Artifact) {
        self.push(Pending::Artifact(self.scope, artifact));
    }
}

/// Runs `f` on a thread of its own and returns what it returns.
///
/// rust-postgres' synchronous client drives its connection on a tokio
/// runtime of its own, and panics ("Cannot start a runtime from within a
/// runtime") when called, or dropped, on a thread that is inside another
/// runtime, which is where the runner calls the store from. A scoped thread
/// per call (tens of microseconds, once per case or step, never per sample:
/// samples go through the writer thread) keeps every caller safe.
fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| {
        s.spawn(f)
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// Locks a mutex, recovering it if a thread panicked while holding it (a
/// transaction left open by a panic is rolled back when dropped).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use netproof_sample::{Sample, metric};

    use super::*;

    fn pending(n: usize) -> Vec<Pending> {
        let scope = Scope {
            run: RunId(1),
            case_run: None,
            step: None,
        };
        (0..n)
            .map(|i| {
                Pending::Sample(
                    scope,
                    Sample::num(&metric::EXEC_DURATION, i as f64).at(Timestamp(i as i64)),
                )
            })
            .collect()
    }

    #[test]
    fn held_records_stop_at_the_bound_and_the_rest_are_counted() {
        let url = "postgresql://lab@%2Fno%2Fsuch%2Fdir/np";
        let config = Config::from_str(url).unwrap();
        // A real "cannot connect" error, as an outage gives.
        let lost = config.connect(NoTls).err().expect("nothing listens there");
        let shared = Shared {
            location: redact(url),
            config,
            conn: Mutex::new(Conn {
                client: None,
                held: Vec::new(),
                dropped: 0,
            }),
            queue: Queue::default(),
            failure: Mutex::new(None),
        };
        let mut conn = lock(&shared.conn);
        shared.hold(&mut conn, pending(HELD_LIMIT - 2), &lost);
        shared.hold(&mut conn, pending(5), &lost);
        assert_eq!(conn.held.len(), HELD_LIMIT);
        assert_eq!(conn.dropped, 3);
        // The oldest are kept: what arrived last is what is dropped.
        let Some(Pending::Sample(_, last)) = conn.held.last() else {
            panic!("a sample")
        };
        assert_eq!(last.time, Timestamp(1));
        let failure = lock(&shared.failure)
            .take()
            .expect("the outage is remembered");
        assert!(failure.first.contains("unreachable"), "{failure}");
        assert_eq!(failure.more, 1, "the second hold counts as one more");
    }
}
