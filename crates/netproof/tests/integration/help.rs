//! What users see first: `--help` stays readable and documents exit codes.

use crate::{bin, show};

#[test]
fn top_level_help() {
    let o = bin().arg("--help").output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    insta::assert_snapshot!(String::from_utf8_lossy(&o.stdout));
}

#[test]
fn run_help() {
    let o = bin().args(["run", "--help"]).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    insta::assert_snapshot!(String::from_utf8_lossy(&o.stdout));
}

#[test]
fn usage_errors_exit_2() {
    let o = bin().args(["run"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    let o = bin().args(["frobnicate"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
}
