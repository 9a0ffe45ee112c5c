//! `Report::load` through the `ResultStore` trait, on a fake store (the
//! SQLite store is written elsewhere): it reads the run and only the small
//! text artifacts, and passes store errors on.

use std::sync::{Arc, Mutex};

use netproof_report::{Report, ReportError};
use netproof_sample::{MemorySink, Sink, Timestamp};
use netproof_store::{
    CaseRunId, ExpectationResult, NewCaseRun, NewRun, NewStep, ResultStore, RunData, RunId, RunRow,
    RunStatus, Scope, StepId, StoreError, Verdict,
};

use crate::fixture;

struct FakeStore {
    data: RunData,
    reads: Mutex<Vec<i64>>,
}

fn refused() -> StoreError {
    StoreError::UnsupportedUrl {
        url: "fake://".to_string(),
        hint: "this fake store only reads".to_string(),
    }
}

impl ResultStore for FakeStore {
    fn location(&self) -> String {
        "fake.db".to_string()
    }
    fn begin_run(&self, _: &NewRun) -> netproof_store::Result<RunId> {
        Err(refused())
    }
    fn finish_run(&self, _: RunId, _: RunStatus, _: Timestamp) -> netproof_store::Result<()> {
        Err(refused())
    }
    fn begin_case(&self, _: RunId, _: &NewCaseRun) -> netproof_store::Result<CaseRunId> {
        Err(refused())
    }
    fn finish_case(
        &self,
        _: CaseRunId,
        _: Verdict,
        _: Timestamp,
        _: Option<&str>,
    ) -> netproof_store::Result<()> {
        Err(refused())
    }
    fn begin_step(&self, _: CaseRunId, _: &NewStep) -> netproof_store::Result<StepId> {
        Err(refused())
    }
    fn finish_step(
        &self,
        _: StepId,
        _: Verdict,
        _: Timestamp,
        _: Option<&str>,
    ) -> netproof_store::Result<()> {
        Err(refused())
    }
    fn record_expectation(
        &self,
        _: CaseRunId,
        _: &ExpectationResult,
    ) -> netproof_store::Result<()> {
        Err(refused())
    }
    fn sink(&self, _: Scope) -> Arc<dyn Sink> {
        Arc::new(MemorySink::new())
    }
    fn flush(&self) -> netproof_store::Result<()> {
        Ok(())
    }
    fn runs(&self, _: usize) -> netproof_store::Result<Vec<RunRow>> {
        Ok(vec![self.data.run.clone()])
    }
    fn resolve(&self, _: &str) -> netproof_store::Result<RunId> {
        Ok(self.data.run.id)
    }
    fn load_run(&self, run: RunId) -> netproof_store::Result<RunData> {
        if run == self.data.run.id {
            Ok(self.data.clone())
        } else {
            Err(StoreError::NoSuchRun {
                reference: run.0.to_string(),
                path: self.location(),
            })
        }
    }
    fn artifact_content(&self, id: i64) -> netproof_store::Result<Vec<u8>> {
        self.reads.lock().unwrap().push(id);
        Ok(fixture::artifacts().remove(&id).unwrap_or_default())
    }
}

#[test]
fn load_reads_the_run_and_only_small_text_artifacts() {
    let store = FakeStore {
        data: fixture::run(),
        reads: Mutex::new(Vec::new()),
    };
    let r = Report::load(&store, RunId(7)).unwrap();
    // stdout and stderr, not the 100 kB pcap.
    assert_eq!(*store.reads.lock().unwrap(), [1, 2]);
    assert_eq!(r.run_id(), RunId(7));
    assert!(r.html().contains("<pre>ok\n</pre>"));
    assert!(r.terminal(false).ends_with("results in fake.db\n"));
}

#[test]
fn load_passes_store_errors_on() {
    let store = FakeStore {
        data: fixture::run(),
        reads: Mutex::new(Vec::new()),
    };
    let err = Report::load(&store, RunId(99)).unwrap_err();
    assert!(matches!(
        err,
        ReportError::Store(StoreError::NoSuchRun { .. })
    ));
    assert!(err.to_string().contains("no run `99`"), "{err}");
}
