//! JUnit XML.

use netproof_report::Report;

use crate::{fixture, xml};

#[test]
fn junit_is_well_formed_with_the_right_counts() {
    let doc = fixture::report().junit();
    let names = xml::check(&doc).unwrap_or_else(|e| panic!("{e}\n{doc}"));
    let count = |n: &str| names.iter().filter(|x| *x == n).count();
    // LAT-01 as three repetitions, EXEC-01 once.
    assert_eq!(count("testcase"), 4);
    assert_eq!(count("failure"), 1, "LAT-01 rep 2");
    assert_eq!(count("error"), 1, "EXEC-01");
    assert!(doc.contains("tests=\"4\" failures=\"1\" errors=\"1\" skipped=\"0\""));
    assert!(doc.contains("name=\"LAT-01 Connect latency to edge-a stays low [rep 2/3]\""));
    assert!(doc.contains("time=\"3.000\""));
    assert!(doc.contains("<property name=\"seed\" value=\"42\"/>"));
    assert!(doc.contains("<property name=\"backend\" value=\"netns\"/>"));
    assert!(doc.contains("measured 5.60 ms, expected &lt; 5.00 ms"));
    assert!(doc.contains("metric `http.latency` was never measured"));
}

#[test]
fn junit_escapes_hostile_text() {
    let mut data = fixture::run();
    data.run.info.plan_name = "a\"b<c>&d".to_string();
    data.cases[0].info.title = "]]> <x> \u{1b}[31m".to_string();
    data.cases[3].error = Some("bad & <worse>\u{0}".to_string());
    let doc = Report::from_data(data, Default::default()).junit();
    xml::check(&doc).unwrap_or_else(|e| panic!("{e}\n{doc}"));
}

#[test]
fn aborted_run_is_an_error_in_ci() {
    let doc = Report::from_data(fixture::aborted_run(), Default::default()).junit();
    let names = xml::check(&doc).unwrap_or_else(|e| panic!("{e}\n{doc}"));
    // The unfinished rep 3 and the run itself.
    assert_eq!(names.iter().filter(|n| *n == "error").count(), 2, "{doc}");
    assert!(doc.contains("name=\"netproof run\""));
    assert!(doc.contains("did not finish"));
}
