//! Real echo requests to the kernel's own responder on 127.0.0.1 and ::1.
//!
//! `open_socket` succeeds with whichever kind the system allows (a ping
//! socket, or a raw one when `ping_group_range` excludes us). Where it
//! allows neither these tests fail, never skip, and say what to change
//! (the sysctl, or run as root): a test that passes without pinging
//! proves nothing. Loss cannot be provoked on loopback; `ping::series`
//! tests it on a virtual clock.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use netproof_probe::ping::{self, Config, SocketDenied};
use netproof_sample::{Labels, MemorySink, Value};

/// An ICMP socket of the family, or a panic that says how to allow one.
fn socket(v6: bool) -> socket2::Socket {
    ping::open_socket(v6).unwrap_or_else(|e| {
        // A denied socket's message already names the sysctl; the other
        // way out, for a test run, is privilege.
        let denied = e.get_ref().is_some_and(|e| e.is::<SocketDenied>());
        panic!(
            "these tests ping loopback and need an ICMP{} socket: {e}{}",
            if v6 { "v6" } else { "" },
            if denied {
                "\nhint: or run the tests as root (or with CAP_NET_RAW)"
            } else {
                ""
            }
        )
    })
}

async fn clean_series(target: IpAddr) {
    let socket = socket(target.is_ipv6());
    let mut labels = Labels::new();
    labels.insert("step".into(), "ping".into());
    let cfg = Config {
        target,
        count: 20,
        interval: Duration::from_millis(2),
        size: 56,
        timeout: Duration::from_secs(1),
    };
    let sink = MemorySink::new();
    let began = Instant::now();
    let summary = ping::run(socket, &cfg, &sink, &labels).await.unwrap();
    // Every reply is in well before the wait runs out, so the series ends early.
    assert!(
        began.elapsed() < Duration::from_secs(1),
        "{:?}",
        began.elapsed()
    );
    assert_eq!((summary.sent, summary.received, summary.lost), (20, 20, 0));
    assert_eq!(summary.duplicates, 0);

    let samples = sink.contents().samples;
    assert!(samples.iter().all(|s| s.labels["step"] == "ping"));
    let rtts: Vec<_> = samples.iter().filter(|s| s.metric == "ping.rtt").collect();
    assert_eq!(rtts.len(), 20);
    for (i, s) in rtts.iter().enumerate() {
        assert!(s.ok);
        assert!(s.value.as_f64().is_some_and(|v| v > 0.0 && v < 1.0));
        assert_eq!(s.labels["seq"], i.to_string());
    }
    let loss: Vec<_> = samples.iter().filter(|s| s.metric == "ping.loss").collect();
    assert_eq!(loss.len(), 1);
    assert_eq!(loss[0].value, Value::Num(0.0));
    assert_eq!(samples.len(), 21);
}

#[tokio::test]
async fn twenty_echoes_to_ipv4_loopback() {
    clean_series("127.0.0.1".parse().unwrap()).await;
}

#[tokio::test]
async fn twenty_echoes_to_ipv6_loopback() {
    clean_series("::1".parse().unwrap()).await;
}

#[tokio::test]
async fn socket_of_the_other_family_is_refused() {
    let socket = socket(false);
    let cfg = Config {
        target: "::1".parse().unwrap(),
        count: 1,
        interval: Duration::from_millis(1),
        size: 8,
        timeout: Duration::from_millis(10),
    };
    let e = ping::run(socket, &cfg, &MemorySink::new(), &Labels::new())
        .await
        .unwrap_err();
    assert!(matches!(e, ping::PingError::WrongFamily { .. }), "{e}");
}
