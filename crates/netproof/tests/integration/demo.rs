//! `netproof demo`: the reference Open Connect lab and the CDN plans, run
//! end to end into a results database, a report per run and one index
//! linking them; nothing left behind, also when interrupted.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use netproof_store::RunStatus;

use crate::netns::{assert_back_to, census};
use crate::{Scratch, show};

/// Each `href="..."` of an HTML page that is not a fragment.
fn links(html: &str) -> Vec<String> {
    html.split("href=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .filter(|l| !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

#[test]
fn netns_demo_runs_the_cdn_plans_into_one_index_and_leaves_nothing() {
    let before = census();
    let s = Scratch::new();
    let out = s.path("demo");
    let o = s.netproof(&["demo", "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains(&format!("report: {}", out.join("index.html").display())),
        "{}",
        show(&o)
    );
    // Live progress: a line per case on a non-terminal.
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("OC-01: pass in"), "{}", show(&o));

    // Every plan ran and passed, in the database.
    let store = s.store();
    let runs = store.runs(100).unwrap();
    assert!(!runs.is_empty());
    assert!(
        runs.iter().all(|r| r.status == RunStatus::Passed),
        "{runs:#?}"
    );

    // The index links each run's report, which exists, and the plans it
    // ran are beside it.
    let index = std::fs::read_to_string(out.join("index.html")).unwrap();
    let reports: std::collections::BTreeSet<String> = links(&index)
        .into_iter()
        .filter(|l| l.ends_with(".html"))
        .collect();
    // The plans it ran are linked too, and exist.
    for l in links(&index).iter().filter(|l| l.ends_with(".toml")) {
        assert!(out.join(l).exists(), "{l}");
    }
    assert_eq!(reports.len(), runs.len(), "{index}");
    for l in &reports {
        let page = std::fs::read_to_string(out.join(l)).unwrap_or_else(|e| panic!("{l}: {e}"));
        assert!(page.contains("passed"), "{l}");
    }
    assert!(out.join("plans/labs/open-connect.toml").exists());
    // Every CDN plan that runs on the Open Connect lab is in the demo.
    for entry in std::fs::read_dir(crate::repo().join("plans/cdn")).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let text = std::fs::read_to_string(&p).unwrap();
        if text.contains("lab = \"../labs/open-connect.toml\"") {
            let name = p.file_name().unwrap();
            assert!(
                out.join("plans/cdn").join(name).exists(),
                "{} is not in the demo (crates/netproof/src/commands/demo.rs)",
                p.display()
            );
        }
    }
    assert!(index.contains(&format!("{} of {} plans ran", runs.len(), runs.len())));

    // The same plans check clean where the demo wrote them.
    let o = s.netproof(&[
        "check",
        out.join("plans/labs/open-connect.toml").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    drop(s);
    assert_back_to(&before);
}

#[test]
fn netns_demo_interrupted_takes_the_lab_down_and_leaves_a_report_of_what_ran() {
    let before = census();
    let s = Scratch::new();
    let out = s.path("demo");
    let mut child = s
        .command(&["demo", "--out", out.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for the first case to finish, then press Ctrl-C.
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let line = lines
            .next()
            .expect("demo ended before its first case finished")
            .unwrap();
        if line.contains("OC-01:") {
            break;
        }
        assert!(Instant::now() < deadline, "no case finished in 120 s");
    }
    // SAFETY: signalling the child we spawned, by its pid.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    // Drain stderr so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        assert!(Instant::now() < deadline, "demo did not stop after SIGINT");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(130));
    let store = s.store();
    let run = store.load_run(store.resolve("latest").unwrap()).unwrap();
    assert_eq!(run.run.status, RunStatus::Interrupted);
    let index = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(index.contains("interrupted"), "{index}");
    assert!(index.contains("run-1.html"), "{index}");
    drop(s);
    assert_back_to(&before);
}
