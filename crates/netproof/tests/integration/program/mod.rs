//! The test program (plans/<family>/*.toml): every plan passes `check`,
//! passes when run shortened by its own `--quick`, and, run with its seeded
//! fault (`--quick --seeded-fault`), fails the cases its `seeded_fault`
//! names, on the expectations it names (`because`), and nothing is left
//! behind. One test per plan, named `netns_program_<family>_<plan>`, so
//! each runs alone among the namespace tests (.config/nextest.toml);
//! those whose figures are timed against the emulator end in `_timed` and
//! take every test thread.

use netproof_store::{RunStatus, Verdict};

use crate::netns::{assert_back_to, census};
use crate::{Scratch, repo, show};

/// Proves one plan of the program, by its path under plans/.
pub fn prove(rel: &str) {
    let path = repo().join("plans").join(rel);
    let plan = netproof_plan::load(&path, &netproof_plan::Options::default())
        .unwrap_or_else(|e| panic!("{rel} does not load: {e}"));
    let fault = plan
        .meta
        .seeded_fault
        .clone()
        .unwrap_or_else(|| panic!("{rel} names no seeded fault"));
    assert!(
        !fault.because.is_empty(),
        "{rel}: its seeded fault names no expectation it breaks (`because`)"
    );
    assert!(
        !plan.meta.quick.is_empty(),
        "{rel}: no `quick` overrides; the suite runs every plan shortened"
    );
    let p = path.to_str().unwrap();
    let before = census();
    let s = Scratch::new();

    let o = s.netproof(&["check", p]);
    assert_eq!(o.status.code(), Some(0), "check {rel}: {}", show(&o));

    // As written, shortened: every case passes.
    let o = s.netproof(&["run", "--quick", p]);
    assert_eq!(o.status.code(), Some(0), "run --quick {rel}: {}", show(&o));
    let store = s.store();
    let data = store.load_run(store.resolve("latest").unwrap()).unwrap();
    assert_eq!(data.run.status, RunStatus::Passed, "{rel}");
    assert!(!data.samples.is_empty(), "{rel}: no samples");
    for c in &data.cases {
        assert_eq!(
            c.verdict,
            Some(Verdict::Pass),
            "{rel}: case {} did not pass: {}",
            c.info.case_id,
            show(&o)
        );
    }

    // With the seeded fault: the cases it names fail, on the expectations
    // it names; `run --seeded-fault` says so and exits 0 ("caught").
    let o = s.netproof(&["run", "--quick", "--seeded-fault", p]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "run --quick --seeded-fault {rel} ({}): {}",
        fault.summary,
        show(&o)
    );
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("seeded fault caught"),
        "{rel}: {}",
        show(&o)
    );
    let data = store.load_run(store.resolve("latest").unwrap()).unwrap();
    for id in &fault.fails {
        let runs: Vec<_> = data
            .cases
            .iter()
            .filter(|c| &c.info.case_id == id)
            .collect();
        assert!(!runs.is_empty(), "{rel}: case {id} did not run");
        assert!(
            runs.iter().any(|c| c.verdict == Some(Verdict::Fail)),
            "{rel}: with `{}`, case {id} did not fail",
            fault.summary
        );
    }
    for text in &fault.because {
        let failed = data.expectations.iter().any(|e| {
            e.result.text.trim() == text.trim()
                && e.result.verdict == Verdict::Fail
                && data
                    .cases
                    .iter()
                    .any(|c| c.id == e.case_run && fault.fails.contains(&c.info.case_id))
        });
        assert!(
            failed,
            "{rel}: with `{}`, `{text}` did not fail: {}",
            fault.summary,
            show(&o)
        );
    }
    drop(s);
    assert_back_to(&before);
}

/// Every plan under plans/<family>/ (not the engine's examples, labs or
/// traces) is proven by a test in this module.
#[test]
fn every_program_plan_has_a_test() {
    let mut src = String::new();
    for f in std::fs::read_dir(repo().join("crates/netproof/tests/integration/program")).unwrap() {
        src += &std::fs::read_to_string(f.unwrap().path()).unwrap();
    }
    let mut missing = Vec::new();
    let mut undocumented = Vec::new();
    let index =
        std::fs::read_to_string(repo().join("docs/test-program/README.md")).unwrap_or_default();
    let mut count = 0;
    for family in std::fs::read_dir(repo().join("plans")).unwrap() {
        let family = family.unwrap().path();
        let name = family.file_name().unwrap().to_string_lossy().into_owned();
        if !family.is_dir() || ["examples", "labs", "traces"].contains(&name.as_str()) {
            continue;
        }
        for plan in std::fs::read_dir(&family).unwrap() {
            let plan = plan.unwrap().path();
            if plan.extension().is_none_or(|e| e != "toml") {
                continue;
            }
            count += 1;
            let file = plan.file_name().unwrap().to_string_lossy().into_owned();
            let rel = format!("\"{name}/{file}\"");
            if !src.contains(&rel) {
                missing.push(rel);
            }
            // Documented: listed in the program's index and on its
            // family's page.
            let page = repo().join(format!("docs/test-program/{name}.md"));
            let page = std::fs::read_to_string(&page).unwrap_or_default();
            if !page.contains(&format!("plans/{name}/{file}")) {
                undocumented.push(format!("docs/test-program/{name}.md: plans/{name}/{file}"));
            }
            if !index.contains(&format!("plans/{name}/{file}")) {
                undocumented.push(format!("docs/test-program/README.md: plans/{name}/{file}"));
            }
        }
    }
    assert!(missing.is_empty(), "plans without a test here: {missing:?}");
    assert!(
        undocumented.is_empty(),
        "plans not documented: {undocumented:#?}"
    );
    assert!(
        count >= 25,
        "the program has {count} plans, wants at least 25"
    );
}

/// `prove!(name, "family/plan.toml")` declares the test of one plan.
macro_rules! prove {
    ($name:ident, $rel:literal) => {
        #[test]
        fn $name() {
            super::prove($rel);
        }
    };
}

// One module per family, one line per plan:
// `prove!(netns_program_<plan>, "<family>/<plan>.toml");` (a name ending
// in `_timed` takes every test thread).
mod backbone;
mod cdn;
mod cdn_content;
mod datacenter;
mod methodology;
mod office;
mod workflows;
