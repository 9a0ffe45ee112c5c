//! The SQLite schema, its migrations, and how a connection is opened.
//!
//! The schema version lives in SQLite's `PRAGMA user_version`. [`MIGRATIONS`]
//! lists every migration in order; migration *i* (counting from 1) takes a
//! database from version *i - 1* to *i*, and runs in its own transaction
//! together with the version bump, so a crash leaves either the old or the
//! new schema, never half of one. Migrations are append-only: a released
//! migration is never edited, a change is a new entry.
//!
//! A database newer than this binary is refused *before* anything is written
//! to it (not even the switch to WAL), so an old netproof can never damage
//! results a newer one recorded.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use crate::{Result, StoreError};

use super::AtPath;

/// Every migration, in order; index 0 takes version 0 (empty) to version 1.
pub const MIGRATIONS: &[&str] = &[V1];

/// The newest schema version this binary knows.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// How long a statement waits for another connection's write lock before
/// failing with "database is locked". A report reading while a run writes
/// never waits (WAL); two writers (two runs on one file) take turns, and
/// each batch commit is a few milliseconds, so 5 s only runs out when
/// something is badly stuck.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Schema version 1.
///
/// Times are integer nanoseconds since the Unix epoch. Everything belongs to
/// a run; deleting a run deletes what belongs to it (`ON DELETE CASCADE`).
/// Samples are the bulk of the data and are indexed for the two ways reports
/// read them: a run's timeline (`run, time`) and one metric of a run or of a
/// case repetition (`run, metric, time`; `case_run, metric`).
const V1: &str = r#"
CREATE TABLE runs (
    id               INTEGER PRIMARY KEY,
    plan_name        TEXT    NOT NULL,
    plan_path        TEXT    NOT NULL,
    plan_text        TEXT    NOT NULL,
    plan_hash        TEXT    NOT NULL,
    summary          TEXT    NOT NULL,
    backend          TEXT    NOT NULL,
    seed             INTEGER NOT NULL,  -- u64 stored as the i64 with the same bits
    seed_source      TEXT    NOT NULL,
    netproof_version TEXT    NOT NULL,
    command_line     TEXT    NOT NULL,
    host             TEXT    NOT NULL,  -- JSON object of host facts
    topology         TEXT    NOT NULL,  -- JSON, records::Topology
    owner_hostname   TEXT    NOT NULL,
    owner_pid        INTEGER NOT NULL,
    owner_start_time INTEGER NOT NULL,  -- clock ticks since boot, /proc/PID/stat field 22
    status           TEXT    NOT NULL CHECK (status IN
                       ('running', 'passed', 'failed', 'error', 'interrupted', 'aborted')),
    started          INTEGER NOT NULL,
    ended            INTEGER
);
-- Opening a store looks for running runs whose owner died.
CREATE INDEX runs_status ON runs (status);

CREATE TABLE case_runs (
    id          INTEGER PRIMARY KEY,
    run         INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    case_id     TEXT    NOT NULL,
    title       TEXT    NOT NULL,
    purpose     TEXT,
    repetition  INTEGER NOT NULL,
    repetitions INTEGER NOT NULL,
    started     INTEGER NOT NULL,
    ended       INTEGER,
    verdict     TEXT CHECK (verdict IN ('pass', 'fail', 'error', 'skipped')),
    error       TEXT
);
CREATE INDEX case_runs_run ON case_runs (run);

CREATE TABLE steps (
    id          INTEGER PRIMARY KEY,
    case_run    INTEGER NOT NULL REFERENCES case_runs (id) ON DELETE CASCADE,
    name        TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    phase       TEXT    NOT NULL,
    node        TEXT    NOT NULL,
    description TEXT    NOT NULL,
    started     INTEGER NOT NULL,
    ended       INTEGER,
    verdict     TEXT CHECK (verdict IN ('pass', 'fail', 'error', 'skipped')),
    error       TEXT
);
CREATE INDEX steps_case_run ON steps (case_run);

CREATE TABLE expectations (
    id        INTEGER PRIMARY KEY,
    case_run  INTEGER NOT NULL REFERENCES case_runs (id) ON DELETE CASCADE,
    text      TEXT    NOT NULL,
    metric    TEXT    NOT NULL,
    aggregate TEXT    NOT NULL,
    op        TEXT    NOT NULL,
    threshold REAL    NOT NULL,
    measured  REAL,
    unit      TEXT    NOT NULL,
    verdict   TEXT    NOT NULL CHECK (verdict IN ('pass', 'fail', 'error', 'skipped')),
    detail    TEXT,
    samples   INTEGER NOT NULL
);
CREATE INDEX expectations_case_run ON expectations (case_run);

CREATE TABLE samples (
    id         INTEGER PRIMARY KEY,
    run        INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    case_run   INTEGER REFERENCES case_runs (id) ON DELETE CASCADE,
    step       INTEGER REFERENCES steps (id) ON DELETE CASCADE,
    time       INTEGER NOT NULL,
    metric     TEXT    NOT NULL,
    value_kind TEXT    NOT NULL CHECK (value_kind IN ('num', 'text', 'set', 'none')),
    value_num  REAL,   -- the number of a `num` (NULL for NaN)
    value_text TEXT,   -- a `text`, a `set` as a JSON array, or a number's exact spelling
    unit       TEXT    NOT NULL,
    ok         INTEGER NOT NULL CHECK (ok IN (0, 1)),
    labels     TEXT    NOT NULL   -- JSON object
);
CREATE INDEX samples_run_time ON samples (run, time);
CREATE INDEX samples_run_metric ON samples (run, metric, time);
CREATE INDEX samples_case_run_metric ON samples (case_run, metric);
CREATE INDEX samples_step ON samples (step);

CREATE TABLE events (
    id       INTEGER PRIMARY KEY,
    run      INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    case_run INTEGER REFERENCES case_runs (id) ON DELETE CASCADE,
    step     INTEGER REFERENCES steps (id) ON DELETE CASCADE,
    time     INTEGER NOT NULL,
    kind     TEXT    NOT NULL,
    severity TEXT    NOT NULL CHECK (severity IN ('info', 'warning', 'error')),
    message  TEXT    NOT NULL,
    labels   TEXT    NOT NULL   -- JSON object
);
CREATE INDEX events_run_time ON events (run, time);
CREATE INDEX events_case_run ON events (case_run);
CREATE INDEX events_step ON events (step);

CREATE TABLE artifacts (
    id         INTEGER PRIMARY KEY,
    run        INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    case_run   INTEGER REFERENCES case_runs (id) ON DELETE CASCADE,
    step       INTEGER REFERENCES steps (id) ON DELETE CASCADE,
    name       TEXT    NOT NULL,
    media_type TEXT    NOT NULL,
    size       INTEGER NOT NULL,
    content    BLOB    NOT NULL
);
CREATE INDEX artifacts_run ON artifacts (run);
CREATE INDEX artifacts_case_run ON artifacts (case_run);
CREATE INDEX artifacts_step ON artifacts (step);
"#;

/// Opens (creating if needed) the database at `path`, configured and
/// migrated to [`SCHEMA_VERSION`].
pub fn open(path: &Path) -> Result<Connection> {
    refuse_if_too_new(path)?;

    let conn = Connection::open(path).at(path)?;
    conn.busy_timeout(BUSY_TIMEOUT).at(path)?;
    // WAL lets a report (or `netproof runs` in another shell) read while a
    // run writes, and makes each 100 ms batch commit an append to one file
    // instead of a rollback journal's write-then-delete.
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "wal", |row| row.get(0))
        .at(path)?;
    if !mode.eq_ignore_ascii_case("wal") {
        // Some file systems (network mounts) cannot hold WAL's shared
        // memory; the store still works, only readers block writers.
        tracing::warn!(path = %path.display(), mode, "results database is not in WAL mode");
    }
    // In WAL mode NORMAL syncs only at checkpoints: a committed batch
    // survives a crash or SIGKILL of netproof (the guarantee we make), and
    // only a power loss can take back the last commits. FULL would fsync
    // every 100 ms batch for no gain in that promise.
    conn.pragma_update(None, "synchronous", "NORMAL").at(path)?;
    conn.pragma_update(None, "foreign_keys", true).at(path)?;

    let mut conn = conn;
    migrate(&mut conn, path)?;
    Ok(conn)
}

/// Checks a file that already exists through a read-only connection, which
/// never writes to it, before the read-write open changes its journal mode.
fn refuse_if_too_new(path: &Path) -> Result<()> {
    let has_content = std::fs::metadata(path)
        .map(|m| m.len() > 0)
        .unwrap_or(false);
    if !has_content {
        return Ok(());
    }
    let ro = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .at(path)?;
    let found = user_version(&ro).at(path)?;
    check_version(path, found)
}

fn user_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.pragma_query_value(None, "user_version", |row| row.get(0))
}

fn check_version(path: &Path, found: i64) -> Result<()> {
    if found > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            path: path.to_path_buf(),
            found,
            known: SCHEMA_VERSION,
            version: env!("CARGO_PKG_VERSION"),
        });
    }
    Ok(())
}

/// Applies every migration the database lacks, one transaction each.
fn migrate(conn: &mut Connection, path: &Path) -> Result<()> {
    for (index, sql) in MIGRATIONS.iter().enumerate() {
        let target = index as i64 + 1;
        // IMMEDIATE takes the write lock before reading the version, so two
        // processes opening a fresh file at once cannot both migrate it.
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .at(path)?;
        let found = user_version(&tx).at(path)?;
        // Re-checked under the lock: another binary may have upgraded the
        // file since the read-only check. Dropping `tx` rolls back.
        check_version(path, found)?;
        if found >= target {
            continue;
        }
        tx.execute_batch(sql).at(path)?;
        tx.pragma_update(None, "user_version", target).at(path)?;
        tx.commit().at(path)?;
        tracing::debug!(path = %path.display(), version = target, "migrated results database");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_database_reaches_the_newest_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("np.db");
        let conn = open(&path).unwrap();
        assert_eq!(user_version(&conn).unwrap(), SCHEMA_VERSION);
        let mode: String = conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let fk: i64 = conn
            .pragma_query_value(None, "foreign_keys", |r| r.get(0))
            .unwrap();
        assert_eq!(fk, 1);
    }

    #[test]
    fn reopening_is_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("np.db");
        drop(open(&path).unwrap());
        let conn = open(&path).unwrap();
        assert_eq!(user_version(&conn).unwrap(), SCHEMA_VERSION);
    }

    #[test]
    fn a_file_that_is_not_a_database_is_an_error_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notes.txt");
        std::fs::write(&path, b"these are not the tables you are looking for, no no no ...........................................").unwrap();
        let err = open(&path).unwrap_err();
        assert!(err.to_string().contains("notes.txt"), "{err}");
    }
}
