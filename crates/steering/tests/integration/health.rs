//! Health polling against a fake edge admin endpoint: an edge that stops
//! answering is dropped within failures x interval + timeout, a draining
//! edge gets no new clients, recovery brings it back.

use std::time::{Duration, Instant};

use crate::support::{Answer, FakeHealth, Steering, config, report, start};

/// Waits until edge `name`'s polled standing is `want`; how long it took.
async fn until_polled(s: &Steering, name: &str, want: &str, within: Duration) -> Duration {
    let t0 = Instant::now();
    loop {
        let v = s.edges().await;
        let e = v["edges"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["edge"] == name)
            .unwrap()
            .clone();
        if e["polled"] == want {
            return t0.elapsed();
        }
        assert!(
            t0.elapsed() < within,
            "`{name}` still `{}` after {within:?}, want `{want}`",
            e["polled"]
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn with_a2(health: std::net::SocketAddr) -> String {
    format!(
        r#"
        [[edge]]
        name = "a2"
        host = "a2.video.cdn.test"
        addresses = ["198.18.1.3"]
        kind = "embedded"
        cluster = "isp-a"
        url = "https://a2.video.cdn.test"
        health = "http://{health}/health"
        "#
    )
}

/// Whether a2 is among the URLs handed out for ISP A's clients.
async fn a2_handed_out(s: &Steering) -> bool {
    let v = s
        .steer("client=198.18.64.7&title=3&site=video.cdn.test")
        .await;
    v["urls"]
        .as_array()
        .unwrap()
        .iter()
        .any(|u| u.as_str().unwrap().contains("a2."))
}

#[tokio::test]
async fn an_edge_whose_health_endpoint_dies_is_dropped_within_the_bound_and_comes_back() {
    let mut fake = FakeHealth::start("127.0.0.1:0".parse().unwrap()).await;
    let addr = fake.addr;
    let s = start(&config(&with_a2(addr))).await;
    s.report(&report("a1", 1, &[("198.18.64.0/20", 100)], &[]))
        .await;
    s.report(&report("a2", 1, &[("198.18.64.0/20", 100)], &[]))
        .await;
    until_polled(&s, "a2", "up", Duration::from_secs(5)).await;
    assert!(a2_handed_out(&s).await);
    // interval 100ms x failures 3 + timeout 100ms.
    let bound = Duration::from_millis(400);
    fake.stop();
    let took = until_polled(&s, "a2", "down", Duration::from_secs(5)).await;
    // Measured from the stop, which may fall just after a good poll; the
    // slack covers the 10 ms sampling and a busy machine.
    assert!(
        took <= bound + Duration::from_millis(250),
        "dropped after {took:?}, bound {bound:?}"
    );
    assert!(!a2_handed_out(&s).await);
    let v = s
        .steer("client=198.18.64.7&title=3&site=video.cdn.test")
        .await;
    assert_eq!(v["ranked"][0]["edge"], "a1", "{v}");
    // It comes back on the same port: up after `recoveries` good polls.
    let _fake = FakeHealth::start(addr).await;
    let took = until_polled(&s, "a2", "up", Duration::from_secs(5)).await;
    assert!(
        took <= Duration::from_millis(200 + 250),
        "back after {took:?}"
    );
    assert!(a2_handed_out(&s).await);
    let metrics = s.metrics().await;
    assert!(
        metrics.contains("steering_health_transitions_total{edge=\"a2\",to=\"down\"} 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("steering_health_transitions_total{edge=\"a2\",to=\"up\"} 2\n"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_draining_edge_gets_no_new_clients_until_it_says_ok() {
    let fake = FakeHealth::start("127.0.0.1:0".parse().unwrap()).await;
    let s = start(&config(&with_a2(fake.addr))).await;
    s.report(&report("a2", 1, &[("198.18.64.0/20", 100)], &[]))
        .await;
    until_polled(&s, "a2", "up", Duration::from_secs(5)).await;
    fake.set(Answer::Draining);
    until_polled(&s, "a2", "draining", Duration::from_secs(5)).await;
    let v = s.steer("client=198.18.64.7&site=video.cdn.test").await;
    assert!(!a2_handed_out(&s).await, "{v}");
    assert_eq!(v["miss"], "health");
    let last = v["ranked"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["edge"].as_str(), last["usable"].as_bool()),
        (Some("a2"), Some(false))
    );
    assert!(
        last["reason"]
            .as_str()
            .unwrap()
            .starts_with("draining (health endpoint)"),
        "{last}"
    );
    fake.set(Answer::Ok);
    until_polled(&s, "a2", "up", Duration::from_secs(5)).await;
    assert!(a2_handed_out(&s).await);
}
