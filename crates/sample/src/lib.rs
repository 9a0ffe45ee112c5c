//! What every netproof measurement is.
//!
//! A [`Sample`] is one observation: a time, a metric name, a [`Value`] in the
//! metric's canonical [`Unit`], whether the attempt it measures succeeded, and
//! labels. Producers (steps, probes, the link emulator's counters, lab events)
//! know only the [`Sink`] trait; the store implements it and the executor wires
//! the two together, so nothing below the executor depends on the store.
//!
//! The [`metric`] module is the catalogue of metric names and their canonical
//! units, shared by producers (which emit them) and the plan language (which
//! checks expectations against them before a run starts). The [`stats`] module
//! holds the order statistics every consumer agrees on.
//!
//! This crate does no I/O.

pub mod metric;
pub mod stats;

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

pub use metric::{Better, Metric, Unit};

/// Nanoseconds since the Unix epoch, the time base of every sample and event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// The current wall-clock time.
    pub fn now() -> Self {
        Self::from_system_time(SystemTime::now())
    }

    /// Converts a [`SystemTime`]; times before the epoch clamp to zero.
    pub fn from_system_time(t: SystemTime) -> Self {
        match t.duration_since(UNIX_EPOCH) {
            Ok(d) => Timestamp(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)),
            Err(_) => Timestamp(0),
        }
    }

    /// Seconds since the epoch as a float (for plots and rates).
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }
}

/// The value of a sample.
///
/// Numbers are always in the metric's canonical unit (seconds, bytes, bits
/// per second, ...). Text and sets carry answers that are not numbers: an
/// error reason, a DNS answer set, a certificate's names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Value {
    /// A number in the metric's canonical unit.
    Num(f64),
    /// A text value.
    Text(String),
    /// A set of text values, kept sorted.
    Set(Vec<String>),
    /// No value: the attempt failed before it could measure anything
    /// (a refused connection has no connect latency). Counted by `count` and
    /// `success_ratio`, skipped by every numeric aggregation.
    None,
}

impl Value {
    /// The number, if this is a numeric value.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Num(v) => Some(*v),
            _ => None,
        }
    }

    /// Builds a set value, sorting and de-duplicating its members.
    pub fn set<I: IntoIterator<Item = S>, S: Into<String>>(items: I) -> Self {
        let mut v: Vec<String> = items.into_iter().map(Into::into).collect();
        v.sort();
        v.dedup();
        Value::Set(v)
    }
}

/// Labels that qualify a sample (`step`, `to`, `error`, ...).
pub type Labels = BTreeMap<String, String>;

/// One observation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// When the observation was made (for a latency: when the attempt started).
    pub time: Timestamp,
    /// The metric's name, e.g. `tcp_connect.latency`; see [`metric::CATALOG`].
    pub metric: String,
    /// The value, in the metric's canonical unit.
    pub value: Value,
    /// The canonical unit of `value`, recorded with it.
    pub unit: Unit,
    /// Whether the attempt this sample measures succeeded.
    pub ok: bool,
    /// Qualifiers such as the step name, the target or an error reason.
    pub labels: Labels,
}

impl Sample {
    /// A successful numeric sample of a catalogued metric, stamped now.
    pub fn num(metric: &Metric, value: f64) -> Self {
        Sample {
            time: Timestamp::now(),
            metric: metric.name.to_string(),
            value: Value::Num(value),
            unit: metric.unit,
            ok: true,
            labels: Labels::new(),
        }
    }

    /// A failed attempt of a catalogued metric: no value, an `error` label.
    pub fn failed(metric: &Metric, error: impl Into<String>) -> Self {
        let mut labels = Labels::new();
        labels.insert("error".to_string(), error.into());
        Sample {
            time: Timestamp::now(),
            metric: metric.name.to_string(),
            value: Value::None,
            unit: metric.unit,
            ok: false,
            labels,
        }
    }

    /// Sets the time.
    pub fn at(mut self, time: Timestamp) -> Self {
        self.time = time;
        self
    }

    /// Sets whether the attempt succeeded.
    pub fn with_ok(mut self, ok: bool) -> Self {
        self.ok = ok;
        self
    }

    /// Adds a label.
    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.insert(key.into(), value.into());
        self
    }
}

/// How serious an event is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Something happened as planned (a step started, a fault was injected).
    Info,
    /// Something unexpected that did not stop the run.
    Warning,
    /// Something failed.
    Error,
}

impl Severity {
    /// The lower-case name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// Something that happened at a point in time: a step started, a service
/// died, a fault was injected. Events appear on the report's timelines.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// When it happened.
    pub time: Timestamp,
    /// A short machine-readable kind, e.g. `step.start`, `service.exit`.
    pub kind: String,
    /// How serious it is.
    pub severity: Severity,
    /// A sentence for people.
    pub message: String,
    /// Qualifiers (node, step, link, ...).
    pub labels: Labels,
}

impl Event {
    /// An event stamped now.
    pub fn new(kind: impl Into<String>, severity: Severity, message: impl Into<String>) -> Self {
        Event {
            time: Timestamp::now(),
            kind: kind.into(),
            severity,
            message: message.into(),
            labels: Labels::new(),
        }
    }

    /// Adds a label.
    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.insert(key.into(), value.into());
        self
    }
}

/// A file-like result kept with the run: a command's stdout, a service log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Artifact {
    /// A name unique within its step, e.g. `stdout`.
    pub name: String,
    /// A media type, e.g. `text/plain`.
    pub media_type: String,
    /// The bytes.
    pub content: Vec<u8>,
}

/// Where producers put what they observe.
///
/// A sink is already scoped (to a run, case, repetition and step) by whoever
/// made it, so producers say only what they saw. Recording never fails from
/// the producer's point of view: a sink that cannot write remembers the error
/// and its owner reports it, so a probe's loop is never cut short by the
/// database.
pub trait Sink: Send + Sync {
    /// Records one sample.
    fn sample(&self, sample: Sample);
    /// Records one event.
    fn event(&self, event: Event);
    /// Keeps one artifact.
    fn artifact(&self, artifact: Artifact);
}

/// A sink that keeps everything in memory; for tests and ad-hoc commands.
#[derive(Debug, Default)]
pub struct MemorySink {
    inner: std::sync::Mutex<MemoryContents>,
}

/// What a [`MemorySink`] holds.
#[derive(Debug, Default, Clone)]
pub struct MemoryContents {
    /// Samples in arrival order.
    pub samples: Vec<Sample>,
    /// Events in arrival order.
    pub events: Vec<Event>,
    /// Artifacts in arrival order.
    pub artifacts: Vec<Artifact>,
}

impl MemorySink {
    /// An empty sink.
    pub fn new() -> Self {
        Self::default()
    }

    /// A copy of everything recorded so far.
    pub fn contents(&self) -> MemoryContents {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Sink for MemorySink {
    fn sample(&self, sample: Sample) {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .samples
            .push(sample);
    }
    fn event(&self, event: Event) {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .events
            .push(event);
    }
    fn artifact(&self, artifact: Artifact) {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .artifacts
            .push(artifact);
    }
}
