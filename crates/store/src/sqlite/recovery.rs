//! Finding runs whose owner died, and marking them `aborted`.
//!
//! A process that is SIGKILLed (or loses power) never calls `finish_run`, so
//! its run stays `running` forever unless someone notices. Every open of the
//! store checks each `running` run's owner (see [`crate::owner`]) and marks
//! the run `aborted` only when the owner is known to be gone: on this host,
//! with its pid absent or reused by a process that started at another time.
//! A run owned by another host, or by any live process (this one, or another
//! netproof running beside us), is left alone.
//!
//! An aborted run's `ended` is the time of the last sample or event it
//! recorded (the last moment it is known to have been alive), or its start
//! when it recorded nothing.

use std::path::Path;

use rusqlite::{Connection, TransactionBehavior, params};

use super::AtPath;
use super::codec::{u32_from_sql, u64_from_sql};
use crate::Result;
use crate::owner::{Liveness, hostname};
use crate::records::{Owner, RunId, RunStatus};

/// Marks every `running` run whose owner is gone as `aborted`; returns the
/// runs it marked.
pub fn abort_orphaned_runs(conn: &mut Connection, path: &Path) -> Result<Vec<RunId>> {
    let here = hostname();
    // IMMEDIATE: two processes opening at once must not both judge and
    // write; the second sees the first's result.
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .at(path)?;
    let running: Vec<(RunId, Owner)> = {
        let mut stmt = tx
            .prepare(
                "SELECT id, owner_hostname, owner_pid, owner_start_time
                 FROM runs WHERE status = ?1",
            )
            .at(path)?;
        stmt.query_map([RunStatus::Running.as_str()], |r| {
            Ok((
                RunId(r.get(0)?),
                Owner {
                    hostname: r.get(1)?,
                    pid: u32_from_sql("owner_pid", r.get(2)?)?,
                    start_time: u64_from_sql(r.get(3)?),
                },
            ))
        })
        .at(path)?
        .collect::<rusqlite::Result<_>>()
        .at(path)?
    };

    let mut aborted = Vec::new();
    for (run, owner) in running {
        match owner.liveness(&here) {
            Liveness::Gone => {}
            Liveness::Alive | Liveness::ElsewhereHost => continue,
            Liveness::Unknown => {
                tracing::debug!(
                    run = run.0,
                    "cannot tell whether run's owner is alive; left running"
                );
                continue;
            }
        }
        tx.execute(
            "UPDATE runs SET status = ?2, ended = COALESCE(
                 (SELECT MAX(t) FROM (
                     SELECT MAX(time) AS t FROM samples WHERE run = ?1
                     UNION ALL
                     SELECT MAX(time) FROM events WHERE run = ?1)),
                 started)
             WHERE id = ?1",
            params![run.0, RunStatus::Aborted.as_str()],
        )
        .at(path)?;
        tracing::info!(
            run = run.0,
            pid = owner.pid,
            "run's owner is gone; marked aborted"
        );
        aborted.push(run);
    }
    tx.commit().at(path)?;
    Ok(aborted)
}
