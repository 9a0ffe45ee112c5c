//! The Markdown report.

use crate::fixture;

#[test]
fn markdown_snapshot() {
    insta::assert_snapshot!(fixture::report().markdown());
}

#[test]
fn markdown_escapes_plan_text() {
    let mut data = fixture::run();
    data.run.info.summary = "<script>alert(1)</script> | *bold*".to_string();
    let md = netproof_report::Report::from_data(data, Default::default()).markdown();
    assert!(!md.contains("<script>"), "{md}");
    assert!(md.contains("\\<script\\>"));
    assert!(md.contains("\\| \\*bold\\*"));
}

#[test]
fn aborted_run_is_called_out() {
    let md =
        netproof_report::Report::from_data(fixture::aborted_run(), Default::default()).markdown();
    assert!(md.contains("> **Aborted.**"), "{md}");
    assert!(md.contains("last 100 ms"));
    assert!(md.contains("**LAT-01** rep 3: did not finish"), "{md}");
}
