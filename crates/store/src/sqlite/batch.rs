//! The queue behind every store sink, and the thread that commits it.
//!
//! Producers (probe loops, the link emulator's counters) call
//! [`Sink::sample`] at whatever rate they measure; they must never wait for
//! the disk. So a sink only appends to an in-memory [`Queue`] (one short
//! mutex, never held during I/O), and a background writer thread commits the
//! queue in one transaction per batch.
//!
//! A batch is committed [`BATCH_INTERVAL`] after its first record arrived.
//! That is half the 100 ms the store promises ("a SIGKILL loses at most the
//! last 100 ms"), leaving the other half for the commit itself on a busy
//! machine. Batching matters: one transaction per sample would cost a WAL
//! append and lock round trip each, a batch costs one per interval. An idle
//! store's writer sleeps on a condition variable and does not wake at all.
//!
//! Synchronous calls (`begin_*`, `finish_*`, `flush`) drain the queue
//! themselves under the connection lock before their own statement, so what
//! a sink recorded is always committed before what came after it.
//!
//! A failed write never reaches the producer (the [`Sink`] contract): it is
//! remembered as a [`Failure`] and returned by the next `flush()` or
//! `finish_run()`. The queue is unbounded: if the disk stalls, memory grows
//! rather than a probe's timing being disturbed.

use std::fmt;
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use netproof_sample::{Artifact, Event, Sample, Sink};
use rusqlite::{Connection, TransactionBehavior};

use super::{Shared, lock, write};
use crate::records::Scope;

/// How long the first record of a batch waits for company before the batch
/// is committed. See the module docs for why 50 ms.
pub const BATCH_INTERVAL: Duration = Duration::from_millis(50);

/// One record a sink handed over.
#[derive(Debug)]
pub enum Pending {
    /// A sample and where it belongs.
    Sample(Scope, Sample),
    /// An event and where it belongs.
    Event(Scope, Event),
    /// An artifact and where it belongs.
    Artifact(Scope, Artifact),
}

impl Pending {
    /// A short description for error messages.
    pub(crate) fn describe(&self) -> String {
        match self {
            Pending::Sample(s, x) => format!("sample `{}` of run {}", x.metric, s.run.0),
            Pending::Event(s, x) => format!("event `{}` of run {}", x.kind, s.run.0),
            Pending::Artifact(s, x) => format!("artifact `{}` of run {}", x.name, s.run.0),
        }
    }
}

/// Records waiting for the writer, and whether the store is closing.
#[derive(Debug, Default)]
pub struct Queue {
    state: Mutex<QueueState>,
    /// Wakes the writer: a record arrived in an empty queue, or the store closes.
    wake: Condvar,
}

#[derive(Debug, Default)]
struct QueueState {
    records: Vec<Pending>,
    /// When the oldest queued record arrived.
    oldest: Option<Instant>,
    /// The store is being dropped: refuse new records, writer exits.
    closed: bool,
}

impl Queue {
    /// Appends a record; false if the store is closed (the record is dropped).
    pub(crate) fn push(&self, record: Pending) -> bool {
        let mut state = lock(&self.state);
        if state.closed {
            return false;
        }
        if state.records.is_empty() {
            state.oldest = Some(Instant::now());
            // Only the empty -> non-empty edge needs the writer: later
            // records join the batch it is already timing.
            self.wake.notify_one();
        }
        state.records.push(record);
        true
    }

    /// Takes everything queued.
    pub(crate) fn take(&self) -> Vec<Pending> {
        let mut state = lock(&self.state);
        state.oldest = None;
        std::mem::take(&mut state.records)
    }

    /// Refuses further records and tells the writer to finish.
    pub fn close(&self) {
        lock(&self.state).closed = true;
        self.wake.notify_all();
    }

    /// Blocks until a batch is due (its oldest record is [`BATCH_INTERVAL`]
    /// old) or the queue closes; returns whether it closed.
    pub(crate) fn wait_for_batch(&self) -> bool {
        let mut state = lock(&self.state);
        loop {
            if state.closed {
                return true;
            }
            match state.oldest {
                None => {
                    state = self.wake.wait(state).unwrap_or_else(|e| e.into_inner());
                }
                Some(oldest) => {
                    let due = oldest + BATCH_INTERVAL;
                    let now = Instant::now();
                    if now >= due {
                        return false;
                    }
                    state = self
                        .wake
                        .wait_timeout(state, due - now)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
            }
        }
    }
}

/// The first background write failure, and how many more followed it.
#[derive(Debug)]
pub struct Failure {
    pub(crate) first: String,
    pub(crate) more: usize,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.first)?;
        if self.more > 0 {
            write!(f, " (and {} more failed writes since)", self.more)?;
        }
        Ok(())
    }
}

/// Starts the writer thread. It exits after its final drain once the queue
/// closes (when the store is dropped).
pub(super) fn spawn_writer(shared: Arc<Shared>) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("netproof-store-writer".into())
        .spawn(move || {
            loop {
                let closed = shared.queue.wait_for_batch();
                let mut conn = lock(&shared.conn);
                shared.commit_pending(&mut conn);
                if closed {
                    break;
                }
            }
        })
}

impl Shared {
    /// Commits everything queued, in one transaction, on the locked
    /// connection. Failures are remembered, never returned: they belong to
    /// records whose producers have long moved on.
    ///
    /// Taking the queue only after the connection is locked is what keeps
    /// order: two drainers cannot interleave their batches.
    pub(super) fn commit_pending(&self, conn: &mut Connection) {
        let batch = self.queue.take();
        if batch.is_empty() {
            return;
        }
        if let Err(message) = write_batch(conn, &batch) {
            tracing::warn!(path = %self.path.display(), "results database write failed: {message}");
            self.remember(message);
        }
    }

    /// Keeps the first failure, counts the rest.
    fn remember(&self, message: String) {
        let mut failure = lock(&self.failure);
        match failure.as_mut() {
            Some(f) => f.more += 1,
            None => {
                *failure = Some(Failure {
                    first: message,
                    more: 0,
                })
            }
        }
    }
}

/// Writes one batch in one transaction.
///
/// A record that fails on its own (a sink scoped to a step that does not
/// exist breaks a foreign key) is skipped and reported, and the rest of the
/// batch is still committed: SQLite undoes only the failed statement. If
/// SQLite had to roll back the whole transaction (disk full, I/O error), the
/// batch is lost and reported as such.
fn write_batch(conn: &mut Connection, batch: &[Pending]) -> Result<(), String> {
    let lost_all =
        |e: rusqlite::Error| format!("{} queued records were not written: {e}", batch.len());
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(lost_all)?;
    let mut first_error: Option<String> = None;
    let mut failed = 0usize;
    for record in batch {
        let result = match record {
            Pending::Sample(scope, s) => write::insert_sample(&tx, scope, s),
            Pending::Event(scope, e) => write::insert_event(&tx, scope, e),
            Pending::Artifact(scope, a) => write::insert_artifact(&tx, scope, a),
        };
        if let Err(e) = result {
            if tx.is_autocommit() {
                // SQLite rolled the transaction back: nothing of this batch
                // is written, and carrying on would commit piecemeal.
                return Err(lost_all(e));
            }
            failed += 1;
            first_error.get_or_insert_with(|| format!("{}: {e}", record.describe()));
        }
    }
    tx.commit().map_err(lost_all)?;
    match first_error {
        None => Ok(()),
        Some(first) => Err(format!(
            "{failed} of {} queued records were not written; the first: {first}",
            batch.len()
        )),
    }
}

/// A sink scoped to one run, case repetition and step.
///
/// Holds the store weakly: a sink that outlives its store drops what it is
/// given (with a warning) instead of keeping the database open.
pub struct StoreSink {
    shared: Weak<Shared>,
    scope: Scope,
}

impl StoreSink {
    /// A sink whose records go to `shared`'s queue under `scope`.
    pub(super) fn new(shared: Weak<Shared>, scope: Scope) -> Self {
        StoreSink { shared, scope }
    }

    fn push(&self, record: Pending) {
        let accepted = self
            .shared
            .upgrade()
            .is_some_and(|shared| shared.queue.push(record));
        if !accepted {
            tracing::warn!(
                run = self.scope.run.0,
                "a record arrived after the results database was closed; dropped"
            );
        }
    }
}

impl Sink for StoreSink {
    fn sample(&self, sample: Sample) {
        self.push(Pending::Sample(self.scope, sample));
    }

    fn event(&self, event: Event) {
        self.push(Pending::Event(self.scope, event));
    }

    fn artifact(&self, artifact: Artifact) {
        self.push(Pending::Artifact(self.scope, artifact));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Pending {
        Pending::Sample(
            Scope {
                run: crate::RunId(1),
                case_run: None,
                step: None,
            },
            Sample::num(&netproof_sample::metric::EXEC_DURATION, 1.0),
        )
    }

    #[test]
    fn closed_queue_refuses_records_and_wakes_the_writer() {
        let q = Queue::default();
        assert!(q.push(sample()));
        q.close();
        assert!(!q.push(sample()));
        assert!(q.wait_for_batch(), "a closed queue returns at once");
        assert_eq!(q.take().len(), 1);
    }

    #[test]
    fn take_resets_the_batch_clock() {
        let q = Queue::default();
        assert!(q.push(sample()));
        assert!(lock(&q.state).oldest.is_some());
        assert_eq!(q.take().len(), 1);
        assert!(lock(&q.state).oldest.is_none());
        assert!(q.take().is_empty());
    }

    #[test]
    fn failure_counts_what_followed() {
        let f = Failure {
            first: "disk full".into(),
            more: 2,
        };
        assert_eq!(f.to_string(), "disk full (and 2 more failed writes since)");
    }
}
