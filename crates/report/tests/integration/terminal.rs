//! The terminal summary.

use crate::fixture;

#[test]
fn terminal_summary_snapshot() {
    insta::assert_snapshot!(fixture::report().terminal(false));
}

#[test]
fn colour_only_when_asked() {
    let r = fixture::report();
    assert!(!r.terminal(false).contains('\u{1b}'));
    let coloured = r.terminal(true);
    assert!(coloured.contains("\u{1b}[32mpass"), "green pass");
    assert!(coloured.contains("\u{1b}[31mfail"), "red fail");
    assert!(coloured.contains("\u{1b}[33merror"), "yellow error");
}

#[test]
fn aborted_run_says_what_may_be_lost() {
    let r = netproof_report::Report::from_data(fixture::aborted_run(), Default::default());
    let t = r.terminal(false);
    assert!(t.contains("aborted"), "{t}");
    assert!(t.contains("last 100 ms"), "{t}");
    assert!(t.contains("LAT-01 rep 3: did not finish"), "{t}");
}
