//! The HTTP API: /steer, /report, /edges, and garbage on the report
//! channel.

use crate::support::{config, http, report, start};

#[tokio::test]
async fn steer_ranks_the_on_net_edge_first_with_manifest_urls_and_reasons() {
    let s = start(&config("")).await;
    assert_eq!(
        s.report(&report("a1", 1, &[("198.18.64.0/20", 100)], &[7]))
            .await
            .0,
        204
    );
    assert_eq!(
        s.report(&report("b1", 1, &[("198.18.96.0/20", 100)], &[7]))
            .await
            .0,
        204
    );
    let v = s
        .steer("client=198.18.64.7&title=7&site=video.cdn.test")
        .await;
    assert_eq!(v["client"], "198.18.64.7");
    assert_eq!(v["title"], 7);
    assert_eq!(v["urls"][0], "https://a1.video.cdn.test:8443/t/7/");
    assert_eq!(
        v["urls"].as_array().unwrap().len(),
        3,
        "a1, the exchange and the tier: {v}"
    );
    assert_eq!(v["ranked"][0]["edge"], "a1");
    assert_eq!(v["ranked"][0]["kind"], "embedded");
    assert!(
        v["ranked"][0]["reason"]
            .as_str()
            .unwrap()
            .starts_with("on-net via 198.18.64.0/20"),
        "{v}"
    );
    assert_eq!(v["ranked"][1]["edge"], "ix");
    assert_eq!(v["miss"], serde_json::Value::Null);
    assert_eq!(v["scope"], 20);
    // ISP B's client goes to b1; a client no ISP announces to the exchange.
    let v = s
        .steer("client=198.18.97.1&title=7&site=video.cdn.test")
        .await;
    assert_eq!(v["ranked"][0]["edge"], "b1");
    let v = s.steer("client=198.18.200.1&title=7").await;
    assert_eq!(v["ranked"][0]["edge"], "ix");
    assert_eq!(v["miss"], "route");
    // A title a1 lacks: a content miss, a1 still first (it fills).
    let v = s
        .steer("client=198.18.64.7&title=8&site=video.cdn.test")
        .await;
    assert_eq!(
        (v["ranked"][0]["edge"].as_str(), v["miss"].as_str()),
        (Some("a1"), Some("content"))
    );
    // Every decision was logged with its candidates.
    let log = s.log.lock().unwrap().clone();
    assert_eq!(log.len(), 4);
    let first: serde_json::Value = serde_json::from_str(&log[0]).unwrap();
    assert_eq!(first["face"], "api");
    assert_eq!(first["candidates"][0]["edge"], "a1");
    let metrics = s.metrics().await;
    assert!(
        metrics
            .contains("steering_decisions_total{face=\"api\",miss=\"route\",top=\"exchange\"} 1\n"),
        "{metrics}"
    );
}

#[tokio::test]
async fn bad_steer_queries_say_what_to_fix() {
    let s = start(&config("")).await;
    for (q, what) in [
        ("title=7", "no `client`"),
        ("client=nope", "`client=nope` is not an address"),
        (
            "client=198.18.0.1&title=x",
            "`title=x` is not a title number",
        ),
        ("client=198.18.0.1&colour=red", "unknown parameter `colour`"),
    ] {
        let (status, body) = http(s.api(), "GET", &format!("/steer?{q}"), b"").await;
        assert_eq!(status, 400, "{q}: {body}");
        assert!(body.contains(what) && body.contains("hint"), "{q}: {body}");
    }
    assert_eq!(http(s.api(), "DELETE", "/steer", b"").await.0, 405);
    assert_eq!(http(s.api(), "GET", "/nowhere", b"").await.0, 404);
}

#[tokio::test]
async fn garbage_on_the_report_channel_is_refused_counted_and_good_reports_still_land() {
    let s = start(&config("")).await;
    let (status, body) = s.report("{ not json").await;
    assert_eq!(status, 400);
    assert!(body.contains("not an edge report"), "{body}");
    let (status, body) = s.report(r#"{"edge":"a1","seq":1}"#).await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = s.report(&report("zz", 1, &[], &[])).await;
    assert_eq!(status, 404);
    assert!(body.contains("no edge `zz`"), "{body}");
    assert_eq!(
        s.report(&report("a1", 5, &[("198.18.64.0/20", 100)], &[]))
            .await
            .0,
        204
    );
    let (status, body) = s.report(&report("a1", 4, &[], &[])).await;
    assert_eq!(status, 409, "an older seq: {body}");
    let (status, body) = s
        .report(&report("a1", 6, &[("198.18.64.1/20", 100)], &[]))
        .await;
    assert_eq!(status, 400);
    assert!(body.contains("bits set past its length"), "{body}");
    // The good report still stands.
    let v = s.steer("client=198.18.64.7").await;
    assert_eq!(v["ranked"][0]["edge"], "a1");
    let metrics = s.metrics().await;
    for want in [
        "steering_reports_total{result=\"accepted\"} 1\n",
        "steering_reports_total{result=\"bad_json\"} 2\n",
        "steering_reports_total{result=\"unknown_edge\"} 1\n",
        "steering_reports_total{result=\"stale\"} 1\n",
        "steering_reports_total{result=\"invalid\"} 1\n",
    ] {
        assert!(metrics.contains(want), "no `{want}` in\n{metrics}");
    }
}

#[tokio::test]
async fn edges_shows_each_edges_health_routes_and_report_age() {
    let s = start(&config("")).await;
    s.report(&report(
        "a1",
        1,
        &[("198.18.64.0/20", 100), ("198.18.80.0/20", 100)],
        &[1, 2],
    ))
    .await;
    let v = s.edges().await;
    let a1 = &v["edges"][0];
    assert_eq!(a1["edge"], "a1");
    assert_eq!(a1["polled"], "unknown");
    assert_eq!(a1["usable"], true);
    assert_eq!(a1["report"]["routes"], 2);
    assert_eq!(a1["report"]["titles"], 2);
    assert_eq!(a1["report"]["fresh"], true);
    assert!(a1["report"]["age"].as_f64().unwrap() < 5.0);
    assert_eq!(v["edges"][1]["report"], serde_json::Value::Null);
    let (status, body) = http(s.admin(), "GET", "/health", b"").await;
    assert_eq!((status, body.as_str()), (200, "ok\n"));
}

#[tokio::test]
async fn an_oversized_report_is_413_and_counted() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let s = start(&config("")).await;
    // A report announced larger than the limit is refused from its head,
    // before its body is read.
    let size = netproof_steering::api::MAX_REPORT_BYTES + 1;
    let mut stream = tokio::net::TcpStream::connect(s.api()).await.unwrap();
    let head = format!("POST /report HTTP/1.1\r\nHost: s\r\nContent-Length: {size}\r\n\r\n{{");
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(crate::support::BOUND, stream.read_to_end(&mut answer))
        .await
        .expect("an answer within the bound")
        .unwrap();
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    assert!(text.contains("over 33554432 bytes"), "{text}");
    assert!(
        s.metrics()
            .await
            .contains("steering_reports_total{result=\"too_large\"} 1\n")
    );
    // Steering still takes a good report.
    assert_eq!(
        s.report(&report("a1", 1, &[("198.18.64.0/20", 100)], &[]))
            .await
            .0,
        204
    );
}
