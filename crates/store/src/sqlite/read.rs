//! Reading runs back: listings, run references, whole runs, artifacts.
//!
//! Orders are part of the contract: runs newest first (by id, which grows
//! with every `begin_run`, unlike a start time taken from a clock that may
//! step), case repetitions and steps in the order they began (by id),
//! samples and events by time and then by id, so two records with one
//! timestamp keep the order they were recorded in.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::codec::*;
use crate::records::*;
use netproof_sample::{Sample, Timestamp};

/// A run reference as the user types it (`12`, `latest`, `last`, `latest~2`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunRef {
    /// A run id.
    Id(i64),
    /// The run `n` places before the newest (0 is the newest).
    BeforeLatest(u64),
}

impl RunRef {
    /// Parses a reference; `None` if it is none of the accepted forms.
    pub fn parse(reference: &str) -> Option<RunRef> {
        let r = reference.trim();
        if let Some(rest) = r.strip_prefix("latest").or_else(|| r.strip_prefix("last")) {
            if rest.is_empty() {
                return Some(RunRef::BeforeLatest(0));
            }
            let n = rest.strip_prefix('~')?;
            // Digits only: `u64::from_str` would also take a leading `+`.
            if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            return n.parse().ok().map(RunRef::BeforeLatest);
        }
        if r.is_empty() || !r.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        r.parse().ok().map(RunRef::Id)
    }
}

const RUN_COLUMNS: &str = "id, plan_name, plan_path, plan_text, plan_hash, summary, backend,
    seed, seed_source, netproof_version, command_line, host, topology,
    owner_hostname, owner_pid, owner_start_time, status, started, ended";

fn run_row(row: &Row<'_>) -> rusqlite::Result<RunRow> {
    let host: String = row.get("host")?;
    let topology: String = row.get("topology")?;
    let status: String = row.get("status")?;
    Ok(RunRow {
        id: RunId(row.get("id")?),
        info: NewRun {
            plan_name: row.get("plan_name")?,
            plan_path: row.get("plan_path")?,
            plan_text: row.get("plan_text")?,
            plan_hash: row.get("plan_hash")?,
            summary: row.get("summary")?,
            backend: row.get("backend")?,
            seed: u64_from_sql(row.get("seed")?),
            seed_source: row.get("seed_source")?,
            netproof_version: row.get("netproof_version")?,
            command_line: row.get("command_line")?,
            host: from_json("host", &host)?,
            started: Timestamp(row.get("started")?),
            owner: Owner {
                hostname: row.get("owner_hostname")?,
                pid: u32_from_sql("owner_pid", row.get("owner_pid")?)?,
                start_time: u64_from_sql(row.get("owner_start_time")?),
            },
            topology: from_json("topology", &topology)?,
        },
        status: decode_status(&status)?,
        ended: row.get::<_, Option<i64>>("ended")?.map(Timestamp),
    })
}

/// Runs, newest first, at most `limit`.
pub fn runs(conn: &Connection, limit: usize) -> rusqlite::Result<Vec<RunRow>> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {RUN_COLUMNS} FROM runs ORDER BY id DESC LIMIT ?1"
    ))?;
    stmt.query_map([limit], run_row)?.collect()
}

/// Resolves a run reference; `None` if it names no run (or is malformed).
pub fn resolve(conn: &Connection, reference: &str) -> rusqlite::Result<Option<RunId>> {
    let id = match RunRef::parse(reference) {
        None => return Ok(None),
        Some(RunRef::Id(id)) => conn
            .prepare_cached("SELECT id FROM runs WHERE id = ?1")?
            .query_row([id], |r| r.get(0))
            .optional()?,
        Some(RunRef::BeforeLatest(n)) => {
            let Ok(offset) = i64::try_from(n) else {
                return Ok(None);
            };
            conn.prepare_cached("SELECT id FROM runs ORDER BY id DESC LIMIT 1 OFFSET ?1")?
                .query_row([offset], |r| r.get(0))
                .optional()?
        }
    };
    Ok(id.map(RunId))
}

/// Everything about one run; `None` if there is no such run.
///
/// Read in one transaction, so a run being written by another process is
/// seen at one instant (samples never newer than the case rows, say).
pub fn load_run(conn: &Connection, run: RunId) -> rusqlite::Result<Option<RunData>> {
    let tx = conn.unchecked_transaction()?;
    let Some(row) = tx
        .prepare_cached(&format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1"))?
        .query_row([run.0], run_row)
        .optional()?
    else {
        return Ok(None);
    };
    let data = RunData {
        run: row,
        cases: cases(&tx, run)?,
        steps: steps(&tx, run)?,
        expectations: expectations(&tx, run)?,
        samples: samples(&tx, run)?,
        events: events(&tx, run)?,
        artifacts: artifacts(&tx, run)?,
    };
    // Read-only: ending it either way is the same; commit is the cheap one.
    tx.commit()?;
    Ok(Some(data))
}

fn cases(conn: &Connection, run: RunId) -> rusqlite::Result<Vec<CaseRunRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, run, case_id, title, purpose, repetition, repetitions, started, ended,
             verdict, error
         FROM case_runs WHERE run = ?1 ORDER BY id",
    )?;
    stmt.query_map([run.0], |r| {
        Ok(CaseRunRow {
            id: CaseRunId(r.get("id")?),
            run: RunId(r.get("run")?),
            info: NewCaseRun {
                case_id: r.get("case_id")?,
                title: r.get("title")?,
                purpose: r.get("purpose")?,
                repetition: u32_from_sql("repetition", r.get("repetition")?)?,
                repetitions: u32_from_sql("repetitions", r.get("repetitions")?)?,
                started: Timestamp(r.get("started")?),
            },
            verdict: decode_verdict(r.get("verdict")?)?,
            ended: r.get::<_, Option<i64>>("ended")?.map(Timestamp),
            error: r.get("error")?,
        })
    })?
    .collect()
}

fn steps(conn: &Connection, run: RunId) -> rusqlite::Result<Vec<StepRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT s.id, s.case_run, s.name, s.kind, s.phase, s.node, s.description, s.started,
             s.ended, s.verdict, s.error
         FROM steps s JOIN case_runs c ON c.id = s.case_run
         WHERE c.run = ?1 ORDER BY s.id",
    )?;
    stmt.query_map([run.0], |r| {
        Ok(StepRow {
            id: StepId(r.get("id")?),
            case_run: CaseRunId(r.get("case_run")?),
            info: NewStep {
                name: r.get("name")?,
                kind: r.get("kind")?,
                phase: r.get("phase")?,
                node: r.get("node")?,
                description: r.get("description")?,
                started: Timestamp(r.get("started")?),
            },
            verdict: decode_verdict(r.get("verdict")?)?,
            ended: r.get::<_, Option<i64>>("ended")?.map(Timestamp),
            error: r.get("error")?,
        })
    })?
    .collect()
}

fn expectations(conn: &Connection, run: RunId) -> rusqlite::Result<Vec<ExpectationRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT e.case_run, e.text, e.metric, e.aggregate, e.op, e.threshold, e.measured,
             e.unit, e.verdict, e.detail, e.samples
         FROM expectations e JOIN case_runs c ON c.id = e.case_run
         WHERE c.run = ?1 ORDER BY e.id",
    )?;
    stmt.query_map([run.0], |r| {
        let verdict: String = r.get("verdict")?;
        Ok(ExpectationRow {
            case_run: CaseRunId(r.get("case_run")?),
            result: ExpectationResult {
                text: r.get("text")?,
                metric: r.get("metric")?,
                aggregate: r.get("aggregate")?,
                op: r.get("op")?,
                threshold: r.get("threshold")?,
                measured: r.get("measured")?,
                unit: r.get("unit")?,
                verdict: decode_verdict(Some(verdict))?.ok_or_else(|| bad("verdict", "missing"))?,
                detail: r.get("detail")?,
                samples: u64_from_sql(r.get("samples")?),
            },
        })
    })?
    .collect()
}

fn samples(conn: &Connection, run: RunId) -> rusqlite::Result<Vec<SampleRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT case_run, step, time, metric, value_kind, value_num, value_text, unit, ok, labels
         FROM samples WHERE run = ?1 ORDER BY time, id",
    )?;
    stmt.query_map([run.0], |r| {
        let kind: String = r.get("value_kind")?;
        let unit: String = r.get("unit")?;
        let labels: String = r.get("labels")?;
        Ok(SampleRow {
            case_run: r.get::<_, Option<i64>>("case_run")?.map(CaseRunId),
            step: r.get::<_, Option<i64>>("step")?.map(StepId),
            sample: Sample {
                time: Timestamp(r.get("time")?),
                metric: r.get("metric")?,
                value: decode_value(&kind, r.get("value_num")?, r.get("value_text")?)?,
                unit: decode_unit(&unit)?,
                ok: r.get("ok")?,
                labels: decode_labels(&labels)?,
            },
        })
    })?
    .collect()
}

fn events(conn: &Connection, run: RunId) -> rusqlite::Result<Vec<EventRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT case_run, step, time, kind, severity, message, labels
         FROM events WHERE run = ?1 ORDER BY time, id",
    )?;
    stmt.query_map([run.0], |r| {
        let severity: String = r.get("severity")?;
        let labels: String = r.get("labels")?;
        Ok(EventRow {
            case_run: r.get::<_, Option<i64>>("case_run")?.map(CaseRunId),
            step: r.get::<_, Option<i64>>("step")?.map(StepId),
            time: Timestamp(r.get("time")?),
            kind: r.get("kind")?,
            severity: decode_severity(&severity)?,
            message: r.get("message")?,
            labels: decode_labels(&labels)?,
        })
    })?
    .collect()
}

fn artifacts(conn: &Connection, run: RunId) -> rusqlite::Result<Vec<ArtifactRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, case_run, step, name, media_type, size
         FROM artifacts WHERE run = ?1 ORDER BY id",
    )?;
    stmt.query_map([run.0], |r| {
        Ok(ArtifactRow {
            id: r.get("id")?,
            case_run: r.get::<_, Option<i64>>("case_run")?.map(CaseRunId),
            step: r.get::<_, Option<i64>>("step")?.map(StepId),
            name: r.get("name")?,
            media_type: r.get("media_type")?,
            size: u64_from_sql(r.get("size")?),
        })
    })?
    .collect()
}

/// An artifact's content; `None` if there is no such artifact.
pub fn artifact_content(conn: &Connection, id: i64) -> rusqlite::Result<Option<Vec<u8>>> {
    conn.prepare_cached("SELECT content FROM artifacts WHERE id = ?1")?
        .query_row(params![id], |r| r.get(0))
        .optional()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_references_parse() {
        assert_eq!(RunRef::parse("12"), Some(RunRef::Id(12)));
        assert_eq!(RunRef::parse(" 7 "), Some(RunRef::Id(7)));
        assert_eq!(RunRef::parse("latest"), Some(RunRef::BeforeLatest(0)));
        assert_eq!(RunRef::parse("last"), Some(RunRef::BeforeLatest(0)));
        assert_eq!(RunRef::parse("latest~0"), Some(RunRef::BeforeLatest(0)));
        assert_eq!(RunRef::parse("latest~3"), Some(RunRef::BeforeLatest(3)));
        assert_eq!(RunRef::parse("last~1"), Some(RunRef::BeforeLatest(1)));
    }

    #[test]
    fn malformed_run_references_are_rejected() {
        for r in [
            "",
            "latest~",
            "latest~x",
            "latest~-1",
            "latest~+1",
            "latest-1",
            "-3",
            "+3",
            "3.0",
            "lastest",
            "99999999999999999999",
            "0x10",
        ] {
            assert_eq!(RunRef::parse(r), None, "{r:?}");
        }
    }
}
