//! Writing a whole run read from another store (see
//! [`ResultStore::import_run`](crate::ResultStore::import_run)): one
//! transaction, new ids, references renumbered, everything else kept.

use std::collections::HashMap;

use netproof_sample::{Artifact, Event};
use rusqlite::{Connection, TransactionBehavior, params};

use super::codec::missing;
use super::write;
use crate::records::*;

/// Inserts `data` as a new run; returns its id.
pub fn import_run(
    conn: &mut Connection,
    data: &RunData,
    contents: &[Vec<u8>],
) -> rusqlite::Result<RunId> {
    if contents.len() != data.artifacts.len() {
        return Err(rusqlite::Error::InvalidParameterCount(
            contents.len(),
            data.artifacts.len(),
        ));
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let run = write::insert_run(&tx, &data.run.info)?;
    // insert_run begins a run; an imported one keeps its own state.
    tx.execute(
        "UPDATE runs SET status = ?2, ended = ?3 WHERE id = ?1",
        params![run.0, data.run.status.as_str(), data.run.ended.map(|t| t.0)],
    )?;
    let mut cases = HashMap::new();
    for c in &data.cases {
        let id = write::insert_case(&tx, run, &c.info)?;
        tx.execute(
            "UPDATE case_runs SET verdict = ?2, ended = ?3, error = ?4 WHERE id = ?1",
            params![
                id.0,
                c.verdict.map(Verdict::as_str),
                c.ended.map(|t| t.0),
                c.error
            ],
        )?;
        cases.insert(c.id, id);
    }
    let case_of = |id: CaseRunId| {
        cases
            .get(&id)
            .copied()
            .ok_or_else(|| missing("case run", id.0))
    };
    let mut steps = HashMap::new();
    for s in &data.steps {
        let id = write::insert_step(&tx, case_of(s.case_run)?, &s.info)?;
        tx.execute(
            "UPDATE steps SET verdict = ?2, ended = ?3, error = ?4 WHERE id = ?1",
            params![
                id.0,
                s.verdict.map(Verdict::as_str),
                s.ended.map(|t| t.0),
                s.error
            ],
        )?;
        steps.insert(s.id, id);
    }
    let scope = |case_run: Option<CaseRunId>, step: Option<StepId>| -> rusqlite::Result<Scope> {
        Ok(Scope {
            run,
            case_run: case_run.map(case_of).transpose()?,
            step: step
                .map(|s| steps.get(&s).copied().ok_or_else(|| missing("step", s.0)))
                .transpose()?,
        })
    };
    for e in &data.expectations {
        write::insert_expectation(&tx, case_of(e.case_run)?, &e.result)?;
    }
    for r in &data.samples {
        write::insert_sample(&tx, &scope(r.case_run, r.step)?, &r.sample)?;
    }
    for e in &data.events {
        let event = Event {
            time: e.time,
            kind: e.kind.clone(),
            severity: e.severity,
            message: e.message.clone(),
            labels: e.labels.clone(),
        };
        write::insert_event(&tx, &scope(e.case_run, e.step)?, &event)?;
    }
    for (a, content) in data.artifacts.iter().zip(contents) {
        let artifact = Artifact {
            name: a.name.clone(),
            media_type: a.media_type.clone(),
            content: content.clone(),
        };
        write::insert_artifact(&tx, &scope(a.case_run, a.step)?, &artifact)?;
    }
    tx.commit()?;
    Ok(run)
}
