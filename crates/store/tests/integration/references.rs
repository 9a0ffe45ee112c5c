//! Run listings and the run references users type (`12`, `latest~1`).

use netproof_store::*;

use crate::backend::Backend;
use crate::new_run;

crate::on_both_backends!(
    references_resolve_to_the_runs_they_name,
    an_empty_database_has_no_latest_run
);

fn references_resolve_to_the_runs_they_name(b: &dyn Backend) {
    let store = b.open();
    let ids: Vec<RunId> = (0..3)
        .map(|i| {
            store
                .begin_run(&new_run(Owner::current(), 1_000 + i))
                .unwrap()
        })
        .collect();
    let [first, second, third] = ids[..] else {
        unreachable!()
    };

    for (reference, want) in [
        ("latest", third),
        ("last", third),
        ("latest~0", third),
        ("latest~1", second),
        ("last~2", first),
        (&first.0.to_string()[..], first),
        (&format!(" {} ", second.0)[..], second),
    ] {
        assert_eq!(store.resolve(reference).unwrap(), want, "{reference:?}");
    }

    for reference in ["latest~3", "4711", "yesterday", "latest~", "-1", ""] {
        match store.resolve(reference) {
            Err(StoreError::NoSuchRun {
                reference: r,
                path: p,
            }) => {
                assert_eq!(r, reference);
                assert_eq!(p, b.location());
            }
            other => panic!("{reference:?}: expected NoSuchRun, got {other:?}"),
        }
    }

    let listed: Vec<RunId> = store.runs(2).unwrap().iter().map(|r| r.id).collect();
    assert_eq!(listed, [third, second], "newest first, at most the limit");
    assert_eq!(store.runs(usize::MAX).unwrap().len(), 3);
}

fn an_empty_database_has_no_latest_run(b: &dyn Backend) {
    let store = b.open();
    let err = store.resolve("latest").unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("no run `latest`") && msg.contains("hint:"),
        "{msg}"
    );
}
