//! The statements that record a run in PostgreSQL, and the bulk insert of a
//! batch of samples.
//!
//! Each function runs on a client or transaction the caller holds; none of
//! them commits. Values are encoded exactly as SQLite's are (the shared
//! [`crate::sqlite::codec`]), so both backends store the same column values.
//!
//! Samples are the bulk of a run: up to 10,000 of them go in as *one*
//! statement (`INSERT ... SELECT FROM unnest(arrays) WITH ORDINALITY`), one
//! round trip for all of them, in the order they were recorded (so ids,
//! and with them the order of samples with equal times, follow it).

use ::postgres::GenericClient;
use netproof_sample::{Artifact, Event, Sample, Timestamp};

use super::{PgFail, PgResult};
use crate::records::*;
use crate::sqlite::codec::{encode_value, to_json, u64_to_sql};

fn json<T: serde::Serialize + ?Sized>(v: &T) -> PgResult<String> {
    to_json(v).map_err(|e| PgFail::Data(e.to_string()))
}

/// Inserts a run with the given status and end (a new run is `running`
/// with no end; an imported one keeps its own).
pub fn insert_run(
    c: &mut impl GenericClient,
    run: &NewRun,
    status: RunStatus,
    ended: Option<Timestamp>,
) -> PgResult<RunId> {
    let row = c.query_one(
        "INSERT INTO runs (plan_name, plan_path, plan_text, plan_hash, summary, backend,
             seed, seed_source, netproof_version, command_line, host, topology,
             owner_hostname, owner_pid, owner_start_time, status, started, ended)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
         RETURNING id",
        &[
            &run.plan_name,
            &run.plan_path,
            &run.plan_text,
            &run.plan_hash,
            &run.summary,
            &run.backend,
            &u64_to_sql(run.seed),
            &run.seed_source,
            &run.netproof_version,
            &run.command_line,
            &json(&run.host)?,
            &json(&run.topology)?,
            &run.owner.hostname,
            &i64::from(run.owner.pid),
            &u64_to_sql(run.owner.start_time),
            &status.as_str(),
            &run.started.0,
            &ended.map(|t| t.0),
        ],
    )?;
    Ok(RunId(row.try_get(0)?))
}

/// Sets a run's final status and end; false if there is no such run.
pub fn finish_run(
    c: &mut impl GenericClient,
    run: RunId,
    status: RunStatus,
    ended: Timestamp,
) -> PgResult<bool> {
    let changed = c.execute(
        "UPDATE runs SET status = $2, ended = $3 WHERE id = $1",
        &[&run.0, &status.as_str(), &ended.0],
    )?;
    Ok(changed == 1)
}

/// Inserts a case repetition (with its end, for an imported one).
pub fn insert_case(
    c: &mut impl GenericClient,
    run: RunId,
    case: &NewCaseRun,
    end: Option<&Ending>,
) -> PgResult<CaseRunId> {
    let row = c.query_one(
        "INSERT INTO case_runs (run, case_id, title, purpose, repetition, repetitions, started,
             verdict, ended, error)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
        &[
            &run.0,
            &case.case_id,
            &case.title,
            &case.purpose,
            &i64::from(case.repetition),
            &i64::from(case.repetitions),
            &case.started.0,
            &end.and_then(|e| e.verdict).map(Verdict::as_str),
            &end.and_then(|e| e.ended).map(|t| t.0),
            &end.and_then(|e| e.error.clone()),
        ],
    )?;
    Ok(CaseRunId(row.try_get(0)?))
}

/// How a case repetition or step ended, as far as it did.
#[derive(Debug, Clone, Default)]
pub struct Ending {
    /// Its verdict, if it has one.
    pub verdict: Option<Verdict>,
    /// Its end, if it ended.
    pub ended: Option<Timestamp>,
    /// Its error, if any.
    pub error: Option<String>,
}

/// Records a case repetition's end; an error if there is no such case.
pub fn finish_case(
    c: &mut impl GenericClient,
    case_run: CaseRunId,
    verdict: Verdict,
    ended: Timestamp,
    error: Option<&str>,
) -> PgResult<()> {
    let changed = c.execute(
        "UPDATE case_runs SET verdict = $2, ended = $3, error = $4 WHERE id = $1",
        &[&case_run.0, &verdict.as_str(), &ended.0, &error],
    )?;
    if changed == 0 {
        return Err(PgFail::Data(format!("no case run with id {}", case_run.0)));
    }
    Ok(())
}

/// Inserts a step (with its end, for an imported one).
pub fn insert_step(
    c: &mut impl GenericClient,
    case_run: CaseRunId,
    step: &NewStep,
    end: Option<&Ending>,
) -> PgResult<StepId> {
    let row = c.query_one(
        "INSERT INTO steps (case_run, name, kind, phase, node, description, started,
             verdict, ended, error)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
        &[
            &case_run.0,
            &step.name,
            &step.kind,
            &step.phase,
            &step.node,
            &step.description,
            &step.started.0,
            &end.and_then(|e| e.verdict).map(Verdict::as_str),
            &end.and_then(|e| e.ended).map(|t| t.0),
            &end.and_then(|e| e.error.clone()),
        ],
    )?;
    Ok(StepId(row.try_get(0)?))
}

/// Records a step's end; an error if there is no such step.
pub fn finish_step(
    c: &mut impl GenericClient,
    step: StepId,
    verdict: Verdict,
    ended: Timestamp,
    error: Option<&str>,
) -> PgResult<()> {
    let changed = c.execute(
        "UPDATE steps SET verdict = $2, ended = $3, error = $4 WHERE id = $1",
        &[&step.0, &verdict.as_str(), &ended.0, &error],
    )?;
    if changed == 0 {
        return Err(PgFail::Data(format!("no step with id {}", step.0)));
    }
    Ok(())
}

/// Inserts an expectation's judgement.
pub fn insert_expectation(
    c: &mut impl GenericClient,
    case_run: CaseRunId,
    r: &ExpectationResult,
) -> PgResult<()> {
    c.execute(
        "INSERT INTO expectations (case_run, text, metric, aggregate, op, threshold, measured,
             unit, verdict, detail, samples)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        &[
            &case_run.0,
            &r.text,
            &r.metric,
            &r.aggregate,
            &r.op,
            &r.threshold,
            &r.measured,
            &r.unit,
            &r.verdict.as_str(),
            &r.detail,
            &u64_to_sql(r.samples),
        ],
    )?;
    Ok(())
}

/// Inserts one sample (the fallback path; batches use [`insert_samples`]).
pub fn insert_sample(c: &mut impl GenericClient, scope: &Scope, s: &Sample) -> PgResult<()> {
    insert_samples(c, &[(*scope, s)])
}

/// Inserts samples in one statement, in the order given.
pub fn insert_samples(c: &mut impl GenericClient, rows: &[(Scope, &Sample)]) -> PgResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let n = rows.len();
    let mut run = Vec::with_capacity(n);
    let mut case_run = Vec::with_capacity(n);
    let mut step = Vec::with_capacity(n);
    let mut time = Vec::with_capacity(n);
    let mut metric = Vec::with_capacity(n);
    let mut kind = Vec::with_capacity(n);
    let mut num = Vec::with_capacity(n);
    let mut text = Vec::with_capacity(n);
    let mut unit = Vec::with_capacity(n);
    let mut ok = Vec::with_capacity(n);
    let mut labels = Vec::with_capacity(n);
    for (scope, s) in rows {
        let v = encode_value(&s.value).map_err(|e| PgFail::Data(e.to_string()))?;
        run.push(scope.run.0);
        case_run.push(scope.case_run.map(|c| c.0));
        step.push(scope.step.map(|s| s.0));
        time.push(s.time.0);
        metric.push(s.metric.as_str());
        kind.push(v.kind);
        num.push(v.num);
        text.push(v.text);
        unit.push(s.unit.as_str());
        ok.push(s.ok);
        labels.push(json(&s.labels)?);
    }
    c.execute(
        "INSERT INTO samples (run, case_run, step, time, metric, value_kind, value_num,
             value_text, unit, ok, labels)
         SELECT run, case_run, step, time, metric, value_kind, value_num, value_text, unit,
             ok, labels
         FROM unnest($1::BIGINT[], $2::BIGINT[], $3::BIGINT[], $4::BIGINT[], $5::TEXT[],
             $6::TEXT[], $7::DOUBLE PRECISION[], $8::TEXT[], $9::TEXT[], $10::BOOLEAN[],
             $11::TEXT[])
             WITH ORDINALITY AS t (run, case_run, step, time, metric, value_kind, value_num,
                 value_text, unit, ok, labels, ord)
         ORDER BY ord",
        &[
            &run, &case_run, &step, &time, &metric, &kind, &num, &text, &unit, &ok, &labels,
        ],
    )?;
    Ok(())
}

/// Inserts an event.
pub fn insert_event(c: &mut impl GenericClient, scope: &Scope, e: &Event) -> PgResult<()> {
    c.execute(
        "INSERT INTO events (run, case_run, step, time, kind, severity, message, labels)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &[
            &scope.run.0,
            &scope.case_run.map(|c| c.0),
            &scope.step.map(|s| s.0),
            &e.time.0,
            &e.kind,
            &e.severity.as_str(),
            &e.message,
            &json(&e.labels)?,
        ],
    )?;
    Ok(())
}

/// Inserts an artifact with its content; returns its id.
pub fn insert_artifact(c: &mut impl GenericClient, scope: &Scope, a: &Artifact) -> PgResult<i64> {
    // usize -> u64 is lossless on every target Rust supports.
    let size = u64_to_sql(a.content.len() as u64);
    let row = c.query_one(
        "INSERT INTO artifacts (run, case_run, step, name, media_type, size, content)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        &[
            &scope.run.0,
            &scope.case_run.map(|c| c.0),
            &scope.step.map(|s| s.0),
            &a.name,
            &a.media_type,
            &size,
            &a.content,
        ],
    )?;
    Ok(row.try_get(0)?)
}
