//! The statements that record a run: runs, case repetitions, steps,
//! expectation results, and the samples, events and artifacts a batch
//! carries.
//!
//! Each function runs one statement on a connection (or a transaction, which
//! dereferences to one) that the caller has locked; none of them commits or
//! orders anything, which is `batch`'s and the store's job. Statements are
//! prepared through rusqlite's statement cache, so a batch of thousands of
//! samples parses its `INSERT` once.

use netproof_sample::{Artifact, Event, Sample, Timestamp};
use rusqlite::{Connection, params};

use super::codec::{encode_value, missing, to_json, u64_to_sql};
use crate::records::*;

/// Inserts a run in state `running`.
pub fn insert_run(conn: &Connection, run: &NewRun) -> rusqlite::Result<RunId> {
    conn.prepare_cached(
        "INSERT INTO runs (plan_name, plan_path, plan_text, plan_hash, summary, backend,
             seed, seed_source, netproof_version, command_line, host, topology,
             owner_hostname, owner_pid, owner_start_time, status, started, ended)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, NULL)",
    )?
    .execute(params![
        run.plan_name,
        run.plan_path,
        run.plan_text,
        run.plan_hash,
        run.summary,
        run.backend,
        u64_to_sql(run.seed),
        run.seed_source,
        run.netproof_version,
        run.command_line,
        to_json(&run.host)?,
        to_json(&run.topology)?,
        run.owner.hostname,
        i64::from(run.owner.pid),
        u64_to_sql(run.owner.start_time),
        RunStatus::Running.as_str(),
        run.started.0,
    ])?;
    Ok(RunId(conn.last_insert_rowid()))
}

/// Sets a run's final status and end; false if there is no such run.
pub fn finish_run(
    conn: &Connection,
    run: RunId,
    status: RunStatus,
    ended: Timestamp,
) -> rusqlite::Result<bool> {
    let changed = conn
        .prepare_cached("UPDATE runs SET status = ?2, ended = ?3 WHERE id = ?1")?
        .execute(params![run.0, status.as_str(), ended.0])?;
    Ok(changed == 1)
}

/// Inserts a case repetition.
pub fn insert_case(
    conn: &Connection,
    run: RunId,
    case: &NewCaseRun,
) -> rusqlite::Result<CaseRunId> {
    conn.prepare_cached(
        "INSERT INTO case_runs (run, case_id, title, purpose, repetition, repetitions, started)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        run.0,
        case.case_id,
        case.title,
        case.purpose,
        i64::from(case.repetition),
        i64::from(case.repetitions),
        case.started.0,
    ])?;
    Ok(CaseRunId(conn.last_insert_rowid()))
}

/// Records a case repetition's end.
pub fn finish_case(
    conn: &Connection,
    case_run: CaseRunId,
    verdict: Verdict,
    ended: Timestamp,
    error: Option<&str>,
) -> rusqlite::Result<()> {
    let changed = conn
        .prepare_cached("UPDATE case_runs SET verdict = ?2, ended = ?3, error = ?4 WHERE id = ?1")?
        .execute(params![case_run.0, verdict.as_str(), ended.0, error])?;
    if changed == 0 {
        return Err(missing("case run", case_run.0));
    }
    Ok(())
}

/// Inserts a step.
pub fn insert_step(
    conn: &Connection,
    case_run: CaseRunId,
    step: &NewStep,
) -> rusqlite::Result<StepId> {
    conn.prepare_cached(
        "INSERT INTO steps (case_run, name, kind, phase, node, description, started)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        case_run.0,
        step.name,
        step.kind,
        step.phase,
        step.node,
        step.description,
        step.started.0,
    ])?;
    Ok(StepId(conn.last_insert_rowid()))
}

/// Records a step's end.
pub fn finish_step(
    conn: &Connection,
    step: StepId,
    verdict: Verdict,
    ended: Timestamp,
    error: Option<&str>,
) -> rusqlite::Result<()> {
    let changed = conn
        .prepare_cached("UPDATE steps SET verdict = ?2, ended = ?3, error = ?4 WHERE id = ?1")?
        .execute(params![step.0, verdict.as_str(), ended.0, error])?;
    if changed == 0 {
        return Err(missing("step", step.0));
    }
    Ok(())
}

/// Inserts an expectation's judgement.
pub fn insert_expectation(
    conn: &Connection,
    case_run: CaseRunId,
    r: &ExpectationResult,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO expectations (case_run, text, metric, aggregate, op, threshold, measured,
             unit, verdict, detail, samples)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?
    .execute(params![
        case_run.0,
        r.text,
        r.metric,
        r.aggregate,
        r.op,
        r.threshold,
        r.measured,
        r.unit,
        r.verdict.as_str(),
        r.detail,
        u64_to_sql(r.samples),
    ])?;
    Ok(())
}

/// Inserts a sample.
pub fn insert_sample(conn: &Connection, scope: &Scope, s: &Sample) -> rusqlite::Result<()> {
    let value = encode_value(&s.value)?;
    conn.prepare_cached(
        "INSERT INTO samples (run, case_run, step, time, metric, value_kind, value_num,
             value_text, unit, ok, labels)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?
    .execute(params![
        scope.run.0,
        scope.case_run.map(|c| c.0),
        scope.step.map(|s| s.0),
        s.time.0,
        s.metric,
        value.kind,
        value.num,
        value.text,
        s.unit.as_str(),
        s.ok,
        to_json(&s.labels)?,
    ])?;
    Ok(())
}

/// Inserts an event.
pub fn insert_event(conn: &Connection, scope: &Scope, e: &Event) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO events (run, case_run, step, time, kind, severity, message, labels)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        scope.run.0,
        scope.case_run.map(|c| c.0),
        scope.step.map(|s| s.0),
        e.time.0,
        e.kind,
        e.severity.as_str(),
        e.message,
        to_json(&e.labels)?,
    ])?;
    Ok(())
}

/// Inserts an artifact with its content.
pub fn insert_artifact(conn: &Connection, scope: &Scope, a: &Artifact) -> rusqlite::Result<()> {
    // usize -> u64 is lossless on every target Rust supports.
    let size = u64_to_sql(a.content.len() as u64);
    conn.prepare_cached(
        "INSERT INTO artifacts (run, case_run, step, name, media_type, size, content)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        scope.run.0,
        scope.case_run.map(|c| c.0),
        scope.step.map(|s| s.0),
        a.name,
        a.media_type,
        size,
        a.content,
    ])?;
    Ok(())
}
