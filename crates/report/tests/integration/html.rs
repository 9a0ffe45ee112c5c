//! The HTML report.

use netproof_report::Report;

use crate::fixture;

/// Every `src=`/`href=` value and `url(` in a document.
fn references(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    for attr in ["src=", "href=", "url(", "@import", "xlink:href="] {
        let mut rest = html;
        while let Some(i) = rest.find(attr) {
            let tail = &rest[i + attr.len()..];
            out.push(tail.chars().take(60).collect());
            rest = tail;
        }
    }
    out
}

#[test]
fn html_has_plots_topology_and_expectations() {
    let html = fixture::report().html();
    assert!(html.starts_with("<!DOCTYPE html>"));
    // Topology, then a time series and a CDF per numeric series with more
    // than one value: LAT-01's tcp_connect.latency only (EXEC-01 measured
    // one exit code and one duration; exec.stdout is text).
    assert_eq!(html.matches("<svg").count(), 1 + 2, "svg count");
    assert!(html.contains("tcp_connect.latency (step connect) over time"));
    assert!(html.contains("distribution (CDF)"));
    assert!(
        html.contains(">failed attempt</text>"),
        "legend of the failed attempt"
    );
    assert!(html.contains("<code>p99(tcp_connect.latency) &lt; 5ms</code>"));
    assert!(html.contains("4.20 ms [3.90 ms, 5.60 ms] (75 % CI, 3 reps)"));
    assert!(html.contains("metric `http.latency` was never measured"));
    assert!(html.contains("delay 2ms, loss 0.1%"), "link label");
    assert!(html.contains("[emulator]"), "link mechanism");
    assert!(html.contains("198.18.0.1/31"), "node address");
    assert!(
        html.contains(
            "<td><code>net.ipv4.tcp_congestion_control</code></td><td><code>cubic</code></td>"
        ),
        "host tuning table"
    );
    assert!(html.contains("lab-1"), "host facts");
    assert!(html.contains("(from the plan)"), "seed source");
    assert!(html.contains("netproof run plans/edge-latency.toml --db lab.db"));
    assert!(html.contains("fault.inject"), "event timeline");
    assert!(html.contains("<pre>ok\n</pre>"), "stdout artifact");
    assert!(html.contains("not included (larger than 64 KiB)"));
    assert!(
        html.contains("add 20ms delay on client-a—edge-a at 0.5s for 200ms"),
        "procedure"
    );
    assert!(
        html.contains("Open TCP connections from client-a"),
        "purpose"
    );
    assert!(html.contains("[[link]]"), "plan text");
    assert!(
        !html.contains("class=\"banner"),
        "no banner for a finished run"
    );
}

#[test]
fn html_is_self_contained() {
    let html = fixture::report().html();
    for r in references(&html) {
        assert!(r.starts_with("\"#"), "only in-page links, found {r:?}");
    }
    assert!(!html.contains("<script"), "no scripts");
    assert!(!html.contains("<link"), "no external stylesheets");
    assert!(!html.contains("<img"), "no images to fetch");
    // The only URL is the SVG namespace name, which is never fetched; the
    // step's `http://` URL is escaped prose.
    let without_ns = html.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
    for (i, _) in without_ns.match_indices("http://") {
        let before = &without_ns[i.saturating_sub(20)..i];
        assert!(
            before.ends_with("curl -sf "),
            "unexpected URL after {before:?}"
        );
    }
    assert!(!without_ns.contains("https://"));
}

#[test]
fn html_escapes_hostile_text() {
    let mut data = fixture::run();
    data.run.info.summary = "<script>alert('summary')</script>".to_string();
    data.run.info.plan_name = "\"><img src=x onerror=alert(1)>".to_string();
    data.run.info.topology.nodes[0].name = "<script>node</script>".to_string();
    data.run.info.topology.links[0].ends[0] = "<script>node</script>".to_string();
    let mut artifacts = fixture::artifacts();
    artifacts.insert(1, b"<script>alert('stdout')</script>\x1b[31m".to_vec());
    let html = Report::from_data(data, artifacts).html();
    assert!(!html.contains("<script"), "raw script tag survived");
    assert!(!html.contains("<img"), "raw img tag survived");
    assert!(html.contains("&lt;script&gt;alert(&#39;summary&#39;)&lt;/script&gt;"));
    assert!(html.contains("&lt;script&gt;alert(&#39;stdout&#39;)&lt;/script&gt;\u{241b}[31m"));
}

#[test]
fn aborted_run_has_a_banner() {
    let html = Report::from_data(fixture::aborted_run(), Default::default()).html();
    assert!(html.contains("<div class=\"banner\" role=\"alert\"><strong>Run aborted.</strong>"));
    assert!(html.contains("Everything measured up to the crash is kept"));
    assert!(html.contains("last 100 ms"));
    assert!(html.contains("unfinished"), "rep 3 has no verdict");
}

#[test]
fn interrupted_run_has_a_banner() {
    let mut data = fixture::run();
    data.run.status = netproof_store::RunStatus::Interrupted;
    let html = Report::from_data(data, Default::default()).html();
    assert!(html.contains("<strong>Run interrupted.</strong>"));
    assert!(html.contains("Ctrl-C"));
}

/// A sample of the first case run, `secs` after T0, labelled.
fn procedure_sample(
    data: &netproof_store::RunData,
    secs: f64,
    metric: &str,
    value: f64,
    unit: netproof_sample::Unit,
    labels: &[(&str, &str)],
) -> netproof_store::SampleRow {
    let mut s = netproof_sample::Sample {
        time: fixture::at(secs),
        metric: metric.to_string(),
        value: netproof_sample::Value::Num(value),
        unit,
        ok: true,
        labels: Default::default(),
    };
    for (k, v) in labels {
        s.labels.insert(k.to_string(), v.to_string());
    }
    netproof_store::SampleRow {
        case_run: Some(data.cases[0].id),
        step: None,
        sample: s,
    }
}

#[test]
fn procedures_get_their_own_plots_rrul_a_streaming_session_and_a_search() {
    use netproof_sample::Unit::{BitsPerSecond, Ratio, Seconds};
    let mut data = fixture::run();
    let mut add = |secs: f64, metric: &str, value: f64, unit, labels: &[(&str, &str)]| {
        let row = procedure_sample(&data, secs, metric, value, unit, labels);
        data.samples.push(row);
    };
    for (i, t) in [1.0, 1.2, 1.4].into_iter().enumerate() {
        let v = 5e6 + i as f64;
        add(
            t,
            "throughput.goodput",
            v,
            BitsPerSecond,
            &[("step", "load"), ("direction", "upload"), ("stream", "1")],
        );
        add(
            t,
            "throughput.goodput",
            v,
            BitsPerSecond,
            &[
                ("step", "load"),
                ("direction", "download"),
                ("stream", "all"),
            ],
        );
        add(
            t,
            "udp_echo.rtt",
            0.01 * (i + 1) as f64,
            Seconds,
            &[("step", "load"), ("phase", "load")],
        );
    }
    add(
        2.0,
        "rrul.latency_increase",
        0.02,
        Seconds,
        &[("step", "load"), ("probe", "udp")],
    );
    for (t, b) in [(0.0, 0.0), (0.5, 2.0), (1.0, 1.5), (3.0, 0.0)] {
        add(
            t,
            "abr.buffer",
            b,
            Seconds,
            &[("step", "play"), ("at", "done")],
        );
        add(t, "abr.bitrate", 5e5, BitsPerSecond, &[("step", "play")]);
    }
    add(2.5, "abr.stall", 0.5, Seconds, &[("step", "play")]);
    for (trial, value, loss) in [("1", "1000000", 0.0), ("2", "2000000", 0.1)] {
        let l = [("step", "tput"), ("trial", trial), ("value", value)];
        add(
            1.0,
            "search.trial_rate",
            value.parse().unwrap(),
            BitsPerSecond,
            &l,
        );
        add(1.0, "pktgen.loss", loss, Ratio, &l);
    }
    let html = Report::from_data(data, Default::default()).html();
    for label in [
        "aria-label=\"RRUL `load`: throughput per flow and latency over time\"",
        "aria-label=\"stream `play`: buffer and bitrate over time\"",
        "aria-label=\"search `tput`: pktgen.loss against the value tried\"",
    ] {
        assert!(html.contains(label), "no {label}");
    }
    assert!(html.contains("value tried (bit/s)"));
}
