//! Every bundled example plan runs, passes, and leaves a complete record.

use netproof_store::{RunStatus, Verdict};

use crate::{Scratch, repo, show};

#[test]
fn every_example_plan_runs_and_passes() {
    let s = Scratch::new();
    let examples = repo().join("plans/examples");
    let mut ran = 0;
    for entry in std::fs::read_dir(&examples).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let o = s.netproof(&["run", p.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(0), "{}: {}", p.display(), show(&o));
        let store = s.store();
        let id = store.resolve("latest").unwrap();
        let data = store.load_run(id).unwrap();
        assert_eq!(data.run.status, RunStatus::Passed);
        assert!(!data.samples.is_empty(), "{}: no samples", p.display());
        assert!(data.cases.iter().all(|c| c.verdict == Some(Verdict::Pass)));
        assert!(
            data.expectations
                .iter()
                .all(|e| e.result.verdict == Verdict::Pass)
        );
        ran += 1;
    }
    assert!(ran >= 2, "expected the bundled examples, found {ran}");
}
