//! A real client and responder over 127.0.0.1: a clean series, then the
//! same target with the responder gone.

use std::time::{Duration, Instant};

use netproof_probe::udp_echo::{self, Config};
use netproof_sample::{Labels, MemorySink, Value};
use tokio::net::UdpSocket;

fn metric_samples<'a>(
    samples: &'a [netproof_sample::Sample],
    name: &'a str,
) -> impl Iterator<Item = &'a netproof_sample::Sample> {
    samples.iter().filter(move |s| s.metric == name)
}

#[tokio::test]
async fn series_against_a_live_then_a_stopped_responder() {
    let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let target = server.local_addr().unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let responder = tokio::spawn(udp_echo::serve(server, async {
        let _ = stop_rx.await;
    }));

    let mut labels = Labels::new();
    labels.insert("step".into(), "echo".into());

    // A clean series: every request answered.
    let cfg = Config {
        target,
        packets: 50,
        interval: Duration::from_millis(2),
        size: 200,
        timeout: Duration::from_secs(1),
        convergence: false,
    };
    let sink = MemorySink::new();
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let summary = udp_echo::run(client, &cfg, &sink, &labels).await.unwrap();
    assert_eq!((summary.sent, summary.received, summary.lost), (50, 50, 0));
    assert_eq!(summary.duplicates, 0);
    assert!(summary.rtt_min.unwrap() <= summary.rtt_max.unwrap());

    let samples = sink.contents().samples;
    assert!(
        samples
            .iter()
            .all(|s| s.labels.get("step").map(String::as_str) == Some("echo"))
    );
    let rtts: Vec<_> = metric_samples(&samples, "udp_echo.rtt").collect();
    assert_eq!(rtts.len(), 50);
    assert!(
        rtts.iter()
            .all(|s| s.ok && s.value.as_f64().is_some_and(|v| v > 0.0))
    );
    let loss: Vec<_> = metric_samples(&samples, "udp_echo.loss").collect();
    assert_eq!(loss.len(), 1);
    assert_eq!(loss[0].value, Value::Num(0.0));
    let dups: Vec<_> = metric_samples(&samples, "udp_echo.duplicates").collect();
    assert_eq!(dups[0].value, Value::Num(0.0));
    assert_eq!(metric_samples(&samples, "udp_echo.jitter").count(), 1);
    assert_eq!(metric_samples(&samples, "udp_echo.reordered").count(), 1);

    stop_tx.send(()).unwrap();
    let stats = responder.await.unwrap().unwrap();
    assert_eq!(stats.replied, 50);
    assert_eq!(stats.malformed, 0);

    // The responder is gone: loopback answers with port unreachable, which
    // the connected socket reports as ECONNREFUSED. Every request is lost,
    // none aborts the series, and the call ends soon after the timeout.
    let cfg = Config {
        packets: 5,
        interval: Duration::from_millis(5),
        timeout: Duration::from_millis(200),
        convergence: true,
        ..cfg
    };
    let sink = MemorySink::new();
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let began = Instant::now();
    let summary = udp_echo::run(client, &cfg, &sink, &labels).await.unwrap();
    let took = began.elapsed();
    assert!(
        took >= Duration::from_millis(200),
        "returned before the timeout: {took:?}"
    );
    assert!(took < Duration::from_secs(2), "took {took:?}");
    assert_eq!((summary.sent, summary.received, summary.lost), (5, 0, 5));

    let samples = sink.contents().samples;
    let lost: Vec<_> = metric_samples(&samples, "udp_echo.rtt").collect();
    assert_eq!(lost.len(), 5);
    for (i, s) in lost.iter().enumerate() {
        assert!(!s.ok);
        assert_eq!(s.value, Value::None);
        assert_eq!(s.labels["error"], "lost");
        assert_eq!(s.labels["seq"], i.to_string());
        assert_eq!(s.labels["step"], "echo");
    }
    let loss: Vec<_> = metric_samples(&samples, "udp_echo.loss").collect();
    assert_eq!(loss[0].value, Value::Num(1.0));
    // As a convergence stream: 5 lost at 5 ms is 25 ms, in one episode.
    let one = |name: &str| {
        let v: Vec<_> = metric_samples(&samples, name).collect();
        assert_eq!(v.len(), 1, "{name}");
        assert_eq!(v[0].labels["step"], "echo");
        v[0].value.clone()
    };
    assert_eq!(one("convergence.lost"), Value::Num(5.0));
    assert_eq!(one("convergence.loss_time"), Value::Num(0.025));
    // The period is measured on real send times, a little off the grid.
    let Value::Num(period) = one("convergence.loss_period") else {
        panic!("no period");
    };
    assert!((0.024..0.035).contains(&period), "period {period}");
    assert_eq!(one("convergence.episodes"), Value::Num(1.0));
}

/// A convergence stream needs a steady rate: at 1 ms (1000 packets/s) the
/// client keeps the schedule over loopback and loses nothing, so
/// `convergence.loss_time` has 1 ms resolution.
#[tokio::test]
async fn convergence_stream_holds_1000_packets_per_second() {
    let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let target = server.local_addr().unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let responder = tokio::spawn(udp_echo::serve(server, async {
        let _ = stop_rx.await;
    }));
    let cfg = Config {
        target,
        packets: 2000,
        interval: Duration::from_millis(1),
        size: 64,
        timeout: Duration::from_millis(200),
        convergence: true,
    };
    let sink = MemorySink::new();
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let began = Instant::now();
    let summary = udp_echo::run(client, &cfg, &sink, &Labels::new())
        .await
        .unwrap();
    let took = began.elapsed();
    assert_eq!((summary.sent, summary.lost), (2000, 0), "{summary:?}");
    // 2000 sends on a 1 ms grid take 2 s; a client that fell behind would
    // skip slots (fewer sends in the same time) or run late.
    assert!(took < Duration::from_millis(2600), "took {took:?}");
    let samples = sink.contents().samples;
    let lost: Vec<_> = metric_samples(&samples, "convergence.lost").collect();
    assert_eq!(lost[0].value, Value::Num(0.0));
    stop_tx.send(()).unwrap();
    responder.await.unwrap().unwrap();
}
