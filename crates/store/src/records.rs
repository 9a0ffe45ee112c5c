//! The rows of the results database, as plain values.
//!
//! Writers hand the store `New*` values; readers (reports, `runs`,
//! `compare`) get the `*Row` values back. These types are the contract
//! between the store and everything above it: a PostgreSQL backend returns
//! the same rows.

use std::collections::BTreeMap;

use netproof_sample::{Labels, Sample, Severity, Timestamp};
use serde::{Deserialize, Serialize};

/// A run's database id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RunId(pub i64);

/// A case repetition's database id (one row per case and repetition).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct CaseRunId(pub i64);

/// A step's database id (one row per step of a case repetition).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct StepId(pub i64);

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Its owner is executing it.
    Running,
    /// Finished; every expectation passed.
    Passed,
    /// Finished; some expectation failed.
    Failed,
    /// The lab or infrastructure failed (a service did not start, a step
    /// could not run, the store could not write).
    Error,
    /// Stopped by Ctrl-C or SIGTERM after an orderly teardown.
    Interrupted,
    /// Its owner died without finishing it (found on a later open).
    Aborted,
}

impl RunStatus {
    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Passed => "passed",
            RunStatus::Failed => "failed",
            RunStatus::Error => "error",
            RunStatus::Interrupted => "interrupted",
            RunStatus::Aborted => "aborted",
        }
    }

    /// Parses [`RunStatus::as_str`]'s output.
    pub fn from_name(s: &str) -> Option<Self> {
        Some(match s {
            "running" => RunStatus::Running,
            "passed" => RunStatus::Passed,
            "failed" => RunStatus::Failed,
            "error" => RunStatus::Error,
            "interrupted" => RunStatus::Interrupted,
            "aborted" => RunStatus::Aborted,
            _ => return None,
        })
    }
}

/// The verdict of a case repetition, a step or an expectation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Everything held.
    Pass,
    /// An expectation did not hold.
    Fail,
    /// Something could not be measured or run (never a pass).
    Error,
    /// Not run (filtered out, or skipped after a setup failure).
    Skipped,
}

impl Verdict {
    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Error => "error",
            Verdict::Skipped => "skipped",
        }
    }

    /// Parses [`Verdict::as_str`]'s output.
    pub fn from_name(s: &str) -> Option<Self> {
        Some(match s {
            "pass" => Verdict::Pass,
            "fail" => Verdict::Fail,
            "error" => Verdict::Error,
            "skipped" => Verdict::Skipped,
            _ => return None,
        })
    }
}

/// Facts about the host a run ran on (kernel, CPU count, hostname, ...).
pub type HostFacts = BTreeMap<String, String>;

/// What the runner knows when a run starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewRun {
    /// The plan's `name`.
    pub plan_name: String,
    /// The plan's path as given.
    pub plan_path: String,
    /// The plan's full text.
    pub plan_text: String,
    /// Hex SHA-256 of the plan's text.
    pub plan_hash: String,
    /// The plan's summary line.
    pub summary: String,
    /// The backend used (`local`, ...).
    pub backend: String,
    /// The seed used (from the plan, `--seed`, or drawn).
    pub seed: u64,
    /// Where the seed came from: `plan`, `flag` or `drawn`.
    pub seed_source: String,
    /// This netproof's version.
    pub netproof_version: String,
    /// The command line, for the report.
    pub command_line: String,
    /// Host facts.
    pub host: HostFacts,
    /// When the run started.
    pub started: Timestamp,
    /// The owning process, so a later open can tell a dead run from a live one.
    pub owner: Owner,
    /// The topology as built, for the report's diagram.
    pub topology: Topology,
}

/// The topology a run built, as the report draws it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Topology {
    /// Nodes in plan order.
    pub nodes: Vec<TopologyNode>,
    /// Links in plan order.
    pub links: Vec<TopologyLink>,
}

/// A node as built.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopologyNode {
    /// The node's name.
    pub name: String,
    /// `host` or `router`.
    pub role: String,
    /// Its addresses as built.
    pub addresses: Vec<String>,
    /// Services running on it.
    pub services: Vec<String>,
    /// Sysctls the plan set in its namespace, as applied (host tuning).
    #[serde(default)]
    pub sysctls: Vec<(String, String)>,
}

/// A link as built.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopologyLink {
    /// The two node names.
    pub ends: [String; 2],
    /// What shapes the link (`none`, `tbf`, `emulator`), so the report says
    /// which mechanism applied each property.
    pub mechanism: String,
    /// The link's properties as text (`delay 8ms, loss 0.1%`), empty if none.
    pub properties: String,
}

/// The process that owns a running run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    /// Host name of the owner's machine.
    pub hostname: String,
    /// The owner's pid.
    pub pid: u32,
    /// The owner's start time in clock ticks since boot (field 22 of
    /// `/proc/PID/stat`), so a reused pid is not mistaken for the owner.
    pub start_time: u64,
}

/// A run as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRow {
    /// The run's id.
    pub id: RunId,
    /// Everything known at start.
    pub info: NewRun,
    /// Where the run stands.
    pub status: RunStatus,
    /// When it ended, if it did.
    pub ended: Option<Timestamp>,
}

/// A case repetition about to start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewCaseRun {
    /// The case id from the plan.
    pub case_id: String,
    /// The case title.
    pub title: String,
    /// The case purpose (procedure prose), if any.
    pub purpose: Option<String>,
    /// The repetition, counting from 1.
    pub repetition: u32,
    /// How many repetitions the case has in this run.
    pub repetitions: u32,
    /// When it started.
    pub started: Timestamp,
}

/// A case repetition as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseRunRow {
    /// Its id.
    pub id: CaseRunId,
    /// The run it belongs to.
    pub run: RunId,
    /// What was known at start.
    pub info: NewCaseRun,
    /// Its verdict, once finished.
    pub verdict: Option<Verdict>,
    /// When it ended, if it did.
    pub ended: Option<Timestamp>,
    /// Why it errored, if it did.
    pub error: Option<String>,
}

/// A step about to start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewStep {
    /// The step's name (unique in its case).
    pub name: String,
    /// The step's kind (`exec`, `tcp_connect`, ...).
    pub kind: String,
    /// The phase: `setup`, `timeline` or `teardown`.
    pub phase: String,
    /// The node it acts on or from.
    pub node: String,
    /// A one-line description of what it does (the procedure text).
    pub description: String,
    /// When it started.
    pub started: Timestamp,
}

/// A step as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRow {
    /// Its id.
    pub id: StepId,
    /// The case repetition it belongs to.
    pub case_run: CaseRunId,
    /// What was known at start.
    pub info: NewStep,
    /// Its verdict, once finished.
    pub verdict: Option<Verdict>,
    /// When it ended, if it did.
    pub ended: Option<Timestamp>,
    /// Why it errored, if it did.
    pub error: Option<String>,
}

/// The judgement of one expectation in one case repetition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExpectationResult {
    /// The expectation as written.
    pub text: String,
    /// The metric it is about.
    pub metric: String,
    /// The aggregate's name (`p99`, `success_ratio`, ...).
    pub aggregate: String,
    /// The comparison operator (`<`, `>=`, ...).
    pub op: String,
    /// The threshold, in `unit`.
    pub threshold: f64,
    /// The measured aggregate, in `unit`; `None` when nothing was measured.
    pub measured: Option<f64>,
    /// The canonical unit name of threshold and measured value.
    pub unit: String,
    /// The verdict.
    pub verdict: Verdict,
    /// Why, when the verdict is not a plain comparison (e.g. "metric
    /// `tcp_connect.latency` was never measured").
    pub detail: Option<String>,
    /// How many samples the aggregate was computed over.
    pub samples: u64,
}

/// An expectation result as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExpectationRow {
    /// The case repetition it judges.
    pub case_run: CaseRunId,
    /// The result.
    pub result: ExpectationResult,
}

/// A sample as stored, with where it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleRow {
    /// The case repetition it belongs to, if any (lab-level samples have none).
    pub case_run: Option<CaseRunId>,
    /// The step that produced it, if any.
    pub step: Option<StepId>,
    /// The sample.
    pub sample: Sample,
}

/// An event as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventRow {
    /// The case repetition, if any.
    pub case_run: Option<CaseRunId>,
    /// The step, if any.
    pub step: Option<StepId>,
    /// When it happened.
    pub time: Timestamp,
    /// Its kind.
    pub kind: String,
    /// Its severity.
    pub severity: Severity,
    /// Its message.
    pub message: String,
    /// Its labels.
    pub labels: Labels,
}

/// An artifact's metadata (its content is read separately).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArtifactRow {
    /// Its id.
    pub id: i64,
    /// The case repetition, if any.
    pub case_run: Option<CaseRunId>,
    /// The step, if any.
    pub step: Option<StepId>,
    /// Its name.
    pub name: String,
    /// Its media type.
    pub media_type: String,
    /// Its size in bytes.
    pub size: u64,
}

/// Where a sink's records belong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Scope {
    /// The run.
    pub run: RunId,
    /// The case repetition, if any.
    pub case_run: Option<CaseRunId>,
    /// The step, if any.
    pub step: Option<StepId>,
}

/// Everything a report needs about one run, read back from the store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunData {
    /// The run.
    pub run: RunRow,
    /// Its case repetitions in execution order.
    pub cases: Vec<CaseRunRow>,
    /// Its steps in execution order.
    pub steps: Vec<StepRow>,
    /// Its expectation results.
    pub expectations: Vec<ExpectationRow>,
    /// Its samples in time order.
    pub samples: Vec<SampleRow>,
    /// Its events in time order.
    pub events: Vec<EventRow>,
    /// Its artifacts' metadata.
    pub artifacts: Vec<ArtifactRow>,
}
