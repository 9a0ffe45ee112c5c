//! Odd data renders without panics: empty runs, orphan rows, non-finite
//! numbers, huge series; and files are written per format.

use netproof_report::{Format, Report};
use netproof_sample::{Sample, Timestamp, Unit, Value};
use netproof_store::{CaseRunId, RunStatus, SampleRow, StepId};

use crate::{fixture, xml};

fn render_all(r: &Report) {
    let _ = r.terminal(true);
    let html = r.html();
    assert!(html.ends_with("</html>\n"));
    let _ = r.markdown();
    xml::check(&r.junit()).unwrap_or_else(|e| panic!("{e}"));
    serde_json::to_string(&r.json()).expect("json");
}

#[test]
fn empty_run_renders_everywhere() {
    let mut data = fixture::empty_run();
    data.run.status = RunStatus::Running;
    data.run.ended = None;
    let r = Report::from_data(data, Default::default());
    render_all(&r);
    assert!(r.terminal(false).contains("No cases were recorded"));
    assert!(r.html().contains("No topology was recorded"));
    assert!(r.markdown().contains("No cases were recorded"));
    assert_eq!(r.summary().counts.cases, 0);
}

#[test]
fn orphans_and_non_finite_values_are_tolerated() {
    let mut data = fixture::run();
    // Samples for a case run and a step that do not exist, NaN and infinity.
    for (case_run, value) in [
        (Some(CaseRunId(99)), Value::Num(f64::NAN)),
        (Some(CaseRunId(1)), Value::Num(f64::INFINITY)),
        (None, Value::Num(1.0e6)),
        (None, Value::Set(vec!["198.18.0.1".to_string()])),
    ] {
        data.samples.push(SampleRow {
            case_run,
            step: Some(StepId(999)),
            sample: Sample {
                time: Timestamp(fixture::T0 + 2_000_000_000),
                metric: "link.tx_bytes".to_string(),
                value,
                unit: Unit::Bytes,
                ok: true,
                labels: Default::default(),
            },
        });
    }
    data.expectations[0].result.measured = Some(f64::NAN);
    data.steps[0].case_run = CaseRunId(1234);
    data.artifacts[0].case_run = Some(CaseRunId(77));
    let r = Report::from_data(data, fixture::artifacts());
    render_all(&r);
    let s = r.summary();
    // The NaN measurement is treated as not measured.
    assert_eq!(s.cases[0].expectations[0].measured[0].value, None);
    assert!(!serde_json::to_string(&r.json()).unwrap().contains("NaN"));
    // Run-level samples get their own section.
    assert!(r.html().contains("Run-level records"));
}

#[test]
fn long_series_are_thinned() {
    let mut data = fixture::run();
    let base = data.samples[0].clone();
    for k in 0..20_000i64 {
        let mut s = base.clone();
        s.sample.time = Timestamp(fixture::T0 + 1_000_000_000 + k * 1_000_000);
        s.sample.value = Value::Num(0.003 + (k % 97) as f64 * 1e-5);
        data.samples.push(s);
    }
    let html = Report::from_data(data, Default::default()).html();
    assert!(html.len() < 2_000_000, "html is {} bytes", html.len());
}

#[test]
fn files_are_written_per_format() {
    let dir = tempfile::tempdir().unwrap();
    let r = fixture::report();
    let out = dir.path().join("reports");
    let paths = r.write(&out, &Format::ALL).unwrap();
    let names: Vec<String> = paths
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        ["run-7.html", "run-7.md", "run-7.junit.xml", "run-7.json"]
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&paths[3]).unwrap()).unwrap();
    assert_eq!(json["run"]["id"], 7);
    assert_eq!("md".parse::<Format>().unwrap(), Format::Markdown);
    // A file where the directory should be.
    let blocked = dir.path().join("file");
    std::fs::write(&blocked, "x").unwrap();
    let err = r.write(&blocked, &[Format::Html]).unwrap_err();
    assert!(err.to_string().contains("hint:"), "{err}");
}
