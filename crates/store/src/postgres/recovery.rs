//! Finding runs whose owner died, and marking them `aborted`: SQLite's rule
//! (see [`crate::sqlite`]'s `recovery`) on PostgreSQL.
//!
//! A database shared by a team holds runs of many hosts. Only runs owned by
//! *this* host are judged, and only an owner known to be gone (pid absent, or
//! reused by a process that started at another time) is aborted; a run of
//! another host is never touched from here, whatever its state. The
//! `running` rows are locked (`FOR UPDATE`) while they are judged, so two
//! netproofs opening the database at once do not both write.

use ::postgres::Client;

use super::{PgFail, PgResult};
use crate::owner::{Liveness, hostname};
use crate::records::{Owner, RunId, RunStatus};
use crate::sqlite::codec::{u32_from_sql, u64_from_sql};

/// Marks every `running` run of this host whose owner is gone as `aborted`;
/// returns the runs it marked.
pub fn abort_orphaned_runs(client: &mut Client) -> PgResult<Vec<RunId>> {
    let here = hostname();
    let mut tx = client.transaction()?;
    let rows = tx.query(
        "SELECT id, owner_hostname, owner_pid, owner_start_time
         FROM runs WHERE status = $1 AND owner_hostname = $2 ORDER BY id FOR UPDATE",
        &[&RunStatus::Running.as_str(), &here],
    )?;
    let mut aborted = Vec::new();
    for r in rows {
        let run = RunId(r.try_get(0)?);
        let owner = Owner {
            hostname: r.try_get(1)?,
            pid: u32_from_sql("owner_pid", r.try_get(2)?)
                .map_err(|e| PgFail::Data(e.to_string()))?,
            start_time: u64_from_sql(r.try_get(3)?),
        };
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
        // Ended at its last sign of life: the latest sample or event, or
        // its start if it recorded nothing (GREATEST ignores NULLs).
        tx.execute(
            "UPDATE runs SET status = $2, ended = COALESCE(GREATEST(
                 (SELECT MAX(time) FROM samples WHERE run = $1),
                 (SELECT MAX(time) FROM events WHERE run = $1)), started)
             WHERE id = $1",
            &[&run.0, &RunStatus::Aborted.as_str()],
        )?;
        tracing::info!(
            run = run.0,
            pid = owner.pid,
            "run's owner is gone; marked aborted"
        );
        aborted.push(run);
    }
    tx.commit()?;
    Ok(aborted)
}
