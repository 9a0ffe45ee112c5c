//! Snapshots of what a user sees for broken plans
//! (`tests/fixtures/broken/*.toml`), rendered without colour at 100
//! columns, plus checks that every problem in a file is reported at once.

use std::path::Path;

use netproof_plan::{Options, PlanError};

use crate::{crate_dir, files_under};

/// Parses a broken fixture under its path relative to the crate, so
/// snapshots do not depend on where the repository is checked out.
fn broken(name: &str) -> PlanError {
    let relative = format!("tests/fixtures/broken/{name}.toml");
    let text = std::fs::read_to_string(crate_dir().join(&relative)).unwrap();
    match netproof_plan::parse(Path::new(&relative), &text, &Options::default()) {
        Ok(_) => panic!("{relative} parsed, but it is meant to be broken"),
        Err(e) => e,
    }
}

#[test]
fn every_broken_fixture_matches_its_snapshot() {
    let files = files_under(&crate_dir().join("tests/fixtures/broken"), "toml");
    assert!(files.len() >= 12, "fixtures missing: {files:?}");
    for file in files {
        let stem = file.file_stem().unwrap().to_string_lossy().to_string();
        let rendered = broken(&stem).render(false, 100);
        insta::assert_snapshot!(stem, rendered);
    }
}

fn count(name: &str) -> usize {
    broken(name).problems().len()
}

#[test]
fn syntax_error_is_one_problem() {
    let err = broken("syntax_error");
    assert!(matches!(err, PlanError::Syntax(_)));
    let p = err.problems();
    assert_eq!(p.len(), 1);
    assert_eq!((p[0].line, p[0].column), (6, 8));
}

#[test]
fn all_problems_are_reported_at_once() {
    let err = broken("many_problems");
    assert!(matches!(err, PlanError::Invalid(_)));
    let n = err.problems().len();
    assert!(n >= 15, "only {n} problems:\n{}", err.render(false, 100));
    assert_eq!(
        err.to_string(),
        format!("plan `tests/fixtures/broken/many_problems.toml` has {n} problems")
    );
}

#[test]
fn problem_counts() {
    assert_eq!(count("unknown_key"), 3);
    assert_eq!(count("unbounded_every"), 3);
    assert_eq!(count("unknown_metric"), 3);
    assert_eq!(count("local_impairment"), 4);
    assert_eq!(count("external_address"), 3);
}

#[test]
fn problems_are_in_source_order() {
    for name in ["many_problems", "dangling_node", "step_kinds"] {
        let p = broken(name).problems();
        assert!(
            p.windows(2)
                .all(|w| (w[0].line, w[0].column) <= (w[1].line, w[1].column)),
            "{name}"
        );
    }
}

#[test]
fn suggestions_for_misspellings() {
    let hints: Vec<String> = broken("unknown_key")
        .problems()
        .into_iter()
        .filter_map(|p| p.hint)
        .collect();
    assert!(
        hints.iter().any(|h| h.contains("did you mean `name`?")),
        "{hints:?}"
    );
    assert!(
        hints.iter().any(|h| h.contains("did you mean `delay`?")),
        "{hints:?}"
    );
}
