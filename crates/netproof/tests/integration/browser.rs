//! The HTML report as a person sees it: real runs' reports rendered in
//! headless Chromium (Debian's `chromium`, installed by
//! scripts/install-peers.sh), with a script added to a copy of the page
//! that measures what the browser laid out (case sections, every plot's
//! drawn series, the page's width against the window's, the topology's
//! rendered size and its smallest text) and writes it into the DOM, which
//! `--dump-dom` prints.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::{Scratch, show};

const CHECK: &str = include_str!("browser/check.js");

fn chromium() -> PathBuf {
    let path = PathBuf::from("/usr/bin/chromium");
    assert!(
        path.exists(),
        "no /usr/bin/chromium\nhint: scripts/install-peers.sh installs it (apt-get install chromium)"
    );
    path
}

/// What Chromium laid out for `html` in a window `width` pixels wide.
fn look(s: &Scratch, html: &Path, width: u32) -> Value {
    let page = std::fs::read_to_string(html).expect("the report");
    let checked = s.path(&format!("checked-{width}.html"));
    std::fs::write(
        &checked,
        page.replace("</body>", &format!("<script>{CHECK}</script></body>")),
    )
    .unwrap();
    let profile = s.path(&format!("chromium-{width}"));
    // `timeout` bounds a browser that hangs; `--virtual-time-budget` lets
    // the page's script run before the DOM is printed.
    let out = Command::new("timeout")
        .arg("120")
        .arg(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--virtual-time-budget=5000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--window-size={width},900"))
        .arg("--dump-dom")
        .arg(format!("file://{}", checked.display()))
        .output()
        .expect("run chromium");
    let dom = String::from_utf8_lossy(&out.stdout);
    let start = dom
        .find("<pre id=\"np-check\">")
        .unwrap_or_else(|| panic!("the check did not run: {}", show(&out)))
        + "<pre id=\"np-check\">".len();
    let end = start + dom[start..].find("</pre>").expect("the check's end");
    let json = dom[start..end]
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"))
}

fn run(s: &Scratch, plan: &str) -> PathBuf {
    let p = s.plan("p.toml", plan);
    let out = s.path("out");
    let o = s.netproof(&["run", "--out", out.to_str().unwrap(), p.to_str().unwrap()]);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", show(&o));
    out.join("run-1.html")
}

const TWO_CASES: &str = r#"[plan]
name = "browser"
summary = "two cases, one failing, for the browser"
backend = "local"

[[node]]
name = "a"

[[case]]
id = "NAP"
title = "a short sleep"
steps = [ { kind = "exec", name = "nap", node = "a", command = ["sleep", "0.01"], every = "1ms", count = 12 } ]
expect = [ "max(exec.exit_code) == 0" ]

[[case]]
id = "FAST"
title = "true, expected faster than it can be"
steps = [ { kind = "exec", name = "t", node = "a", command = ["true"], every = "1ms", count = 20 } ]
expect = [ "p99(exec.duration) < 1us" ]
"#;

#[test]
fn a_real_runs_report_shows_every_case_and_plot_without_sideways_scrolling() {
    let s = Scratch::new();
    let html = run(&s, TWO_CASES);
    for width in [1280, 800] {
        let v = look(&s, &html, width);
        assert_eq!(v["width"], width, "{v}");
        assert!(
            v["scrollWidth"].as_u64().unwrap() <= u64::from(width),
            "the page scrolls sideways at {width} px: {} px wide; widest elements: {}",
            v["scrollWidth"],
            v["wide"]
        );
        assert_eq!(v["cases"], serde_json::json!(["case-0", "case-1"]), "{v}");
        let svgs = v["svgs"].as_array().unwrap();
        let plots: Vec<&Value> = svgs.iter().filter(|p| p["topology"] == false).collect();
        // Three exec metrics per step, each over time and as a CDF.
        assert_eq!(plots.len(), 12, "{v}");
        for p in &plots {
            assert!(
                p["series"].as_u64().unwrap() > 0,
                "a plot with nothing drawn: {p}"
            );
            let w = p["width"].as_f64().unwrap();
            assert!(w > 100.0 && w <= f64::from(width), "{p}");
        }
        let topology: Vec<&Value> = svgs.iter().filter(|p| p["topology"] == true).collect();
        assert_eq!(topology.len(), 1, "{v}");
        assert!(topology[0]["boxes"].as_u64().unwrap() >= 1);
    }
}

#[test]
fn a_fifty_node_labs_topology_fits_the_window_and_its_text_stays_readable() {
    let s = Scratch::new();
    let mut plan = String::from(
        "[plan]\nname = \"fifty\"\nsummary = \"a fifty-node topology\"\nbackend = \"local\"\n",
    );
    // Two spines, each leaf on one of them.
    for i in 0..50 {
        plan.push_str(&format!("[[node]]\nname = \"n{i}\"\n"));
    }
    plan.push_str("[[link]]\nends = [\"n0\", \"n1\"]\n");
    for i in 2..50 {
        plan.push_str(&format!("[[link]]\nends = [\"n{}\", \"n{i}\"]\n", i % 2));
    }
    plan.push_str(
        "[[case]]\nid = \"C1\"\ntitle = \"one command\"\nsteps = [ { kind = \"exec\", name = \"t\", node = \"n0\", command = [\"true\"] } ]\nexpect = [ \"max(exec.exit_code) == 0\" ]\n",
    );
    let html = run(&s, &plan);
    let v = look(&s, &html, 1280);
    assert!(
        v["scrollWidth"].as_u64().unwrap() <= 1280,
        "the page scrolls sideways: {v}"
    );
    let topology = v["svgs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["topology"] == true)
        .cloned()
        .unwrap_or_else(|| panic!("no topology drawing: {v}"));
    assert_eq!(topology["paths"], 49, "every link drawn: {topology}");
    assert_eq!(topology["boxes"].as_u64().unwrap(), 50, "{topology}");
    // Drawn at (nearly) its own size: its smallest text, 10 px in the
    // drawing, stays at least 9 px on screen.
    let text = topology["text_px"].as_f64().unwrap();
    assert!(
        text >= 9.0,
        "the topology's text shrank to {text} px: {topology}"
    );
    assert!(topology["width"].as_f64().unwrap() <= 1280.0, "{topology}");
}
