//! Reading runs back from PostgreSQL: listings, run references, whole runs,
//! artifacts. The orders are SQLite's (see [`crate::sqlite`]'s `read`): runs
//! newest first by id, cases and steps by id, samples and events by time
//! then id. Every value is decoded by the shared codec, and a value it
//! cannot decode is an error naming the column, never a default.

use ::postgres::types::FromSql;
use ::postgres::{GenericClient, IsolationLevel, Row};
use netproof_sample::{Sample, Timestamp};

use super::{PgFail, PgResult};
use crate::records::*;
use crate::sqlite::codec::*;
use crate::sqlite::read::RunRef;

fn col<'a, T: FromSql<'a>>(row: &'a Row, name: &str) -> PgResult<T> {
    Ok(row.try_get(name)?)
}

fn data<T>(r: Result<T, rusqlite::Error>) -> PgResult<T> {
    r.map_err(|e| PgFail::Data(e.to_string()))
}

fn u32_col(row: &Row, name: &'static str) -> PgResult<u32> {
    data(u32_from_sql(name, col(row, name)?))
}

const RUN_COLUMNS: &str = "id, plan_name, plan_path, plan_text, plan_hash, summary, backend,
    seed, seed_source, netproof_version, command_line, host, topology,
    owner_hostname, owner_pid, owner_start_time, status, started, ended";

fn run_row(row: &Row) -> PgResult<RunRow> {
    let host: String = col(row, "host")?;
    let topology: String = col(row, "topology")?;
    let status: String = col(row, "status")?;
    Ok(RunRow {
        id: RunId(col(row, "id")?),
        info: NewRun {
            plan_name: col(row, "plan_name")?,
            plan_path: col(row, "plan_path")?,
            plan_text: col(row, "plan_text")?,
            plan_hash: col(row, "plan_hash")?,
            summary: col(row, "summary")?,
            backend: col(row, "backend")?,
            seed: u64_from_sql(col(row, "seed")?),
            seed_source: col(row, "seed_source")?,
            netproof_version: col(row, "netproof_version")?,
            command_line: col(row, "command_line")?,
            host: data(from_json("host", &host))?,
            started: Timestamp(col(row, "started")?),
            owner: Owner {
                hostname: col(row, "owner_hostname")?,
                pid: u32_col(row, "owner_pid")?,
                start_time: u64_from_sql(col(row, "owner_start_time")?),
            },
            topology: data(from_json("topology", &topology))?,
        },
        status: data(decode_status(&status))?,
        ended: col::<Option<i64>>(row, "ended")?.map(Timestamp),
    })
}

/// Runs, newest first, at most `limit`.
pub fn runs(c: &mut impl GenericClient, limit: usize) -> PgResult<Vec<RunRow>> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    c.query(
        &format!("SELECT {RUN_COLUMNS} FROM runs ORDER BY id DESC LIMIT $1"),
        &[&limit],
    )?
    .iter()
    .map(run_row)
    .collect()
}

/// Resolves a run reference; `None` if it names no run (or is malformed).
pub fn resolve(c: &mut impl GenericClient, reference: &str) -> PgResult<Option<RunId>> {
    let row = match RunRef::parse(reference) {
        None => return Ok(None),
        Some(RunRef::Id(id)) => c.query_opt("SELECT id FROM runs WHERE id = $1", &[&id])?,
        Some(RunRef::BeforeLatest(n)) => {
            let Ok(offset) = i64::try_from(n) else {
                return Ok(None);
            };
            c.query_opt(
                "SELECT id FROM runs ORDER BY id DESC LIMIT 1 OFFSET $1",
                &[&offset],
            )?
        }
    };
    row.map(|r| Ok(RunId(r.try_get(0)?))).transpose()
}

/// Everything about one run; `None` if there is no such run. Read in one
/// repeatable-read transaction: one snapshot, as SQLite's one transaction.
pub fn load_run(client: &mut ::postgres::Client, run: RunId) -> PgResult<Option<RunData>> {
    let mut tx = client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()?;
    let Some(row) = tx.query_opt(
        &format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = $1"),
        &[&run.0],
    )?
    else {
        return Ok(None);
    };
    let data = RunData {
        run: run_row(&row)?,
        cases: cases(&mut tx, run)?,
        steps: steps(&mut tx, run)?,
        expectations: expectations(&mut tx, run)?,
        samples: samples(&mut tx, run)?,
        events: events(&mut tx, run)?,
        artifacts: artifacts(&mut tx, run)?,
    };
    tx.commit()?;
    Ok(Some(data))
}

fn ending(r: &Row) -> PgResult<(Option<Verdict>, Option<Timestamp>, Option<String>)> {
    Ok((
        data(decode_verdict(col(r, "verdict")?))?,
        col::<Option<i64>>(r, "ended")?.map(Timestamp),
        col(r, "error")?,
    ))
}

fn cases(c: &mut impl GenericClient, run: RunId) -> PgResult<Vec<CaseRunRow>> {
    c.query(
        "SELECT id, run, case_id, title, purpose, repetition, repetitions, started, ended,
             verdict, error
         FROM case_runs WHERE run = $1 ORDER BY id",
        &[&run.0],
    )?
    .iter()
    .map(|r| {
        let (verdict, ended, error) = ending(r)?;
        Ok(CaseRunRow {
            id: CaseRunId(col(r, "id")?),
            run: RunId(col(r, "run")?),
            info: NewCaseRun {
                case_id: col(r, "case_id")?,
                title: col(r, "title")?,
                purpose: col(r, "purpose")?,
                repetition: u32_col(r, "repetition")?,
                repetitions: u32_col(r, "repetitions")?,
                started: Timestamp(col(r, "started")?),
            },
            verdict,
            ended,
            error,
        })
    })
    .collect()
}

fn steps(c: &mut impl GenericClient, run: RunId) -> PgResult<Vec<StepRow>> {
    c.query(
        "SELECT s.id, s.case_run, s.name, s.kind, s.phase, s.node, s.description, s.started,
             s.ended, s.verdict, s.error
         FROM steps s JOIN case_runs c ON c.id = s.case_run
         WHERE c.run = $1 ORDER BY s.id",
        &[&run.0],
    )?
    .iter()
    .map(|r| {
        let (verdict, ended, error) = ending(r)?;
        Ok(StepRow {
            id: StepId(col(r, "id")?),
            case_run: CaseRunId(col(r, "case_run")?),
            info: NewStep {
                name: col(r, "name")?,
                kind: col(r, "kind")?,
                phase: col(r, "phase")?,
                node: col(r, "node")?,
                description: col(r, "description")?,
                started: Timestamp(col(r, "started")?),
            },
            verdict,
            ended,
            error,
        })
    })
    .collect()
}

fn expectations(c: &mut impl GenericClient, run: RunId) -> PgResult<Vec<ExpectationRow>> {
    c.query(
        "SELECT e.case_run, e.text, e.metric, e.aggregate, e.op, e.threshold, e.measured,
             e.unit, e.verdict, e.detail, e.samples
         FROM expectations e JOIN case_runs c ON c.id = e.case_run
         WHERE c.run = $1 ORDER BY e.id",
        &[&run.0],
    )?
    .iter()
    .map(|r| {
        let verdict: String = col(r, "verdict")?;
        Ok(ExpectationRow {
            case_run: CaseRunId(col(r, "case_run")?),
            result: ExpectationResult {
                text: col(r, "text")?,
                metric: col(r, "metric")?,
                aggregate: col(r, "aggregate")?,
                op: col(r, "op")?,
                threshold: col(r, "threshold")?,
                measured: col(r, "measured")?,
                unit: col(r, "unit")?,
                verdict: data(decode_verdict(Some(verdict)))?
                    .ok_or_else(|| PgFail::Data("column `verdict`: missing".into()))?,
                detail: col(r, "detail")?,
                samples: u64_from_sql(col(r, "samples")?),
            },
        })
    })
    .collect()
}

fn samples(c: &mut impl GenericClient, run: RunId) -> PgResult<Vec<SampleRow>> {
    c.query(
        "SELECT case_run, step, time, metric, value_kind, value_num, value_text, unit, ok, labels
         FROM samples WHERE run = $1 ORDER BY time, id",
        &[&run.0],
    )?
    .iter()
    .map(|r| {
        let kind: &str = col(r, "value_kind")?;
        let unit: &str = col(r, "unit")?;
        let labels: &str = col(r, "labels")?;
        Ok(SampleRow {
            case_run: col::<Option<i64>>(r, "case_run")?.map(CaseRunId),
            step: col::<Option<i64>>(r, "step")?.map(StepId),
            sample: Sample {
                time: Timestamp(col(r, "time")?),
                metric: col(r, "metric")?,
                value: data(decode_value(
                    kind,
                    col(r, "value_num")?,
                    col(r, "value_text")?,
                ))?,
                unit: data(decode_unit(unit))?,
                ok: col(r, "ok")?,
                labels: data(decode_labels(labels))?,
            },
        })
    })
    .collect()
}

fn events(c: &mut impl GenericClient, run: RunId) -> PgResult<Vec<EventRow>> {
    c.query(
        "SELECT case_run, step, time, kind, severity, message, labels
         FROM events WHERE run = $1 ORDER BY time, id",
        &[&run.0],
    )?
    .iter()
    .map(|r| {
        let severity: &str = col(r, "severity")?;
        let labels: &str = col(r, "labels")?;
        Ok(EventRow {
            case_run: col::<Option<i64>>(r, "case_run")?.map(CaseRunId),
            step: col::<Option<i64>>(r, "step")?.map(StepId),
            time: Timestamp(col(r, "time")?),
            kind: col(r, "kind")?,
            severity: data(decode_severity(severity))?,
            message: col(r, "message")?,
            labels: data(decode_labels(labels))?,
        })
    })
    .collect()
}

fn artifacts(c: &mut impl GenericClient, run: RunId) -> PgResult<Vec<ArtifactRow>> {
    c.query(
        "SELECT id, case_run, step, name, media_type, size
         FROM artifacts WHERE run = $1 ORDER BY id",
        &[&run.0],
    )?
    .iter()
    .map(|r| {
        Ok(ArtifactRow {
            id: col(r, "id")?,
            case_run: col::<Option<i64>>(r, "case_run")?.map(CaseRunId),
            step: col::<Option<i64>>(r, "step")?.map(StepId),
            name: col(r, "name")?,
            media_type: col(r, "media_type")?,
            size: u64_from_sql(col(r, "size")?),
        })
    })
    .collect()
}

/// An artifact's content; `None` if there is no such artifact.
pub fn artifact_content(c: &mut impl GenericClient, id: i64) -> PgResult<Option<Vec<u8>>> {
    c.query_opt("SELECT content FROM artifacts WHERE id = $1", &[&id])?
        .map(|r| Ok(r.try_get(0)?))
        .transpose()
}
