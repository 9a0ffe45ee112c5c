//! The iperf3-compatible client against scripted fake servers that break
//! the protocol in each way a real one can (every one a recorded error
//! with its reason), and against netproof's own server over 127.0.0.1.

use std::net::SocketAddr;
use std::time::Duration;

use netproof_probe::throughput::{
    self, Config, ControlError, Direct, ProbeError, Protocol, ServeConfig,
};
use netproof_sample::{Labels, MemorySink, Sample, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const PARAM_EXCHANGE: u8 = 9;
const CREATE_STREAMS: u8 = 10;
const TEST_START: u8 = 1;
const TEST_RUNNING: u8 = 2;
const EXCHANGE_RESULTS: u8 = 13;

fn cfg(target: SocketAddr, protocol: Protocol) -> Config {
    Config {
        grace: Duration::from_secs(2),
        ..Config::new(target, protocol, Duration::from_millis(600))
    }
}

/// What a scripted server does after accepting the control connection.
#[derive(Clone, Copy)]
enum Script {
    /// Closes right after the test starts.
    CloseMidTest,
    /// Sends state 77, which iperf3 does not define.
    BadState,
    /// Announces 100 bytes of parameters' answer, sends 3, and closes.
    TruncatedResults,
    /// Sends results that are not JSON.
    MalformedResults,
    /// Sends JSON results without `sender_has_retransmits`.
    ResultsMissingField,
    /// Answers the cookie with `SERVER_ERROR` and two error numbers.
    ServerError,
    /// Answers the cookie with `ACCESS_DENIED`.
    AccessDenied,
    /// Says nothing at all.
    Silent,
}

async fn read_json(s: &mut TcpStream) {
    let mut h = [0u8; 4];
    s.read_exact(&mut h).await.unwrap();
    let mut body = vec![0u8; u32::from_be_bytes(h) as usize];
    s.read_exact(&mut body).await.unwrap();
}

/// A fake iperf3 server for TCP tests that follows `script`; it drains
/// the data connections so the client never blocks on them.
async fn fake_server(script: Script) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut c, _) = l.accept().await.unwrap();
        let mut cookie = [0u8; 37];
        c.read_exact(&mut cookie).await.unwrap();
        match script {
            Script::ServerError => {
                c.write_all(&[0xfe, 0, 0, 0, 114, 0, 0, 0, 0])
                    .await
                    .unwrap();
                return;
            }
            Script::AccessDenied => {
                c.write_all(&[0xff]).await.unwrap();
                return;
            }
            Script::Silent => {
                tokio::time::sleep(Duration::from_secs(5)).await;
                return;
            }
            _ => {}
        }
        c.write_all(&[PARAM_EXCHANGE]).await.unwrap();
        read_json(&mut c).await;
        if let Script::BadState = script {
            c.write_all(&[77]).await.unwrap();
            tokio::time::sleep(Duration::from_secs(1)).await;
            return;
        }
        c.write_all(&[CREATE_STREAMS]).await.unwrap();
        let (mut d, _) = l.accept().await.unwrap();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 65536];
            while matches!(d.read(&mut buf).await, Ok(n) if n > 0) {}
        });
        c.write_all(&[TEST_START, TEST_RUNNING]).await.unwrap();
        if let Script::CloseMidTest = script {
            tokio::time::sleep(Duration::from_millis(150)).await;
            drop(c);
            return;
        }
        let mut end = [0u8; 1];
        c.read_exact(&mut end).await.unwrap();
        c.write_all(&[EXCHANGE_RESULTS]).await.unwrap();
        read_json(&mut c).await;
        let results: &[u8] = match script {
            Script::TruncatedResults => &[0, 0, 0, 100, b'{', b'"', b'c'],
            Script::MalformedResults => b"\0\0\0\x05hello",
            _ => br#"{"cpu_util_total":0,"cpu_util_user":0,"cpu_util_system":0,"streams":[]}"#,
        };
        if let Script::ResultsMissingField = script {
            c.write_all(&(results.len() as u32).to_be_bytes())
                .await
                .unwrap();
        }
        c.write_all(results).await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
    });
    addr
}

/// The one failed summary sample a broken test leaves, with its reason.
fn failure(samples: &[Sample]) -> &Sample {
    let failed: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.metric == "throughput.test_goodput")
        .collect();
    assert_eq!(failed.len(), 1, "{samples:#?}");
    assert!(!failed[0].ok);
    assert_eq!(failed[0].value, Value::None);
    failed[0]
}

async fn broken(script: Script) -> (ProbeError, Sample) {
    let addr = fake_server(script).await;
    let sink = MemorySink::new();
    let e = throughput::run(&Direct, &cfg(addr, Protocol::Tcp), &sink, &Labels::new())
        .await
        .unwrap_err();
    let s = failure(&sink.contents().samples).clone();
    assert_eq!(s.labels["reason"], e.to_string());
    (e, s)
}

#[tokio::test]
async fn a_server_that_closes_mid_test_is_an_error() {
    let (e, s) = broken(Script::CloseMidTest).await;
    assert!(
        e.to_string()
            .ends_with("closed the control connection during the test"),
        "{e}"
    );
    assert_eq!(s.labels["error"], "closed");
}

#[tokio::test]
async fn an_unknown_state_byte_is_an_error() {
    let (e, s) = broken(Script::BadState).await;
    assert!(
        e.to_string().ends_with(
            "sent a malformed message while waiting for CREATE_STREAMS: unknown control state 77"
        ),
        "{e}"
    );
    assert_eq!(s.labels["error"], "malformed");
}

#[tokio::test]
async fn truncated_results_are_an_error() {
    let (e, _) = broken(Script::TruncatedResults).await;
    assert!(
        e.to_string()
            .ends_with("closed the control connection while sending its results"),
        "{e}"
    );
}

#[tokio::test]
async fn results_that_are_not_json_are_an_error() {
    let (e, s) = broken(Script::MalformedResults).await;
    assert!(
        e.to_string().contains(
            "sent a malformed message while sending its results: the results are not valid JSON"
        ),
        "{e}"
    );
    assert_eq!(s.labels["error"], "malformed");
}

#[tokio::test]
async fn results_without_a_required_field_are_an_error() {
    let (e, _) = broken(Script::ResultsMissingField).await;
    assert!(
        e.to_string()
            .ends_with("the results have no valid `sender_has_retransmits`"),
        "{e}"
    );
}

#[tokio::test]
async fn server_error_and_access_denied_are_errors() {
    let (e, _) = broken(Script::ServerError).await;
    assert!(matches!(
        e,
        ProbeError::Control {
            source: ControlError::ServerError {
                code: 114,
                errno: 0
            },
            ..
        }
    ));
    let (e, s) = broken(Script::AccessDenied).await;
    assert!(
        e.to_string()
            .ends_with("is busy with another test (ACCESS_DENIED)")
    );
    assert_eq!(s.labels["error"], "access denied");
}

#[tokio::test]
async fn a_silent_server_times_out_within_the_grace() {
    let started = std::time::Instant::now();
    let (e, _) = broken(Script::Silent).await;
    assert!(
        e.to_string()
            .ends_with("sent nothing while waiting for PARAM_EXCHANGE for 2 s"),
        "{e}"
    );
    assert!(started.elapsed() < Duration::from_secs(4));
}

#[tokio::test]
async fn nothing_listening_is_a_connect_error() {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    let sink = MemorySink::new();
    let e = throughput::run(&Direct, &cfg(addr, Protocol::Tcp), &sink, &Labels::new())
        .await
        .unwrap_err();
    assert!(matches!(e, ProbeError::Connect { .. }), "{e}");
    assert_eq!(failure(&sink.contents().samples).labels["error"], "connect");
}

/// Our client against our server, each mode: the client's summary and
/// the server's count agree, and the samples are there.
#[tokio::test]
async fn client_and_server_agree_in_every_mode() {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let (out_tx, mut out_rx) = tokio::sync::mpsc::unbounded_channel();
    let server = tokio::spawn(async move {
        throughput::serve(
            l,
            &ServeConfig::default(),
            async {
                let _ = stop_rx.await;
            },
            move |o| {
                let _ = out_tx.send((o.bytes, o.error.clone()));
            },
        )
        .await
    });
    for (protocol, reverse, streams) in [
        (Protocol::Tcp, false, 2),
        (Protocol::Tcp, true, 1),
        (Protocol::Udp, false, 2),
        (Protocol::Udp, true, 1),
    ] {
        let c = Config {
            reverse,
            streams,
            rate: Some(50_000_000),
            interval: Duration::from_millis(200),
            ..cfg(addr, protocol)
        };
        let sink = MemorySink::new();
        let s = throughput::run(&Direct, &c, &sink, &Labels::new())
            .await
            .unwrap_or_else(|e| panic!("{protocol:?} reverse={reverse}: {e}"));
        let (server_bytes, err) = out_rx.recv().await.unwrap();
        assert_eq!(err, None);
        let (ours, theirs) = if reverse {
            (s.received_bytes(), server_bytes)
        } else {
            (s.sent_bytes(), server_bytes)
        };
        let ratio = ours as f64 / theirs as f64;
        assert!(
            (0.9..=1.1).contains(&ratio),
            "{protocol:?} reverse={reverse}: ours {ours}, server {theirs}"
        );
        // 50 Mbit/s per stream for 0.6 s.
        let expect = 50e6 * f64::from(streams);
        assert!(
            (s.goodput() / expect - 1.0).abs() < 0.25,
            "{protocol:?} reverse={reverse}: goodput {}",
            s.goodput()
        );
        let samples = sink.contents().samples;
        let intervals = samples
            .iter()
            .filter(|x| x.metric == "throughput.goodput" && x.labels["stream"] == "all")
            .count();
        assert!(intervals >= 2, "{samples:#?}");
        if protocol == Protocol::Udp {
            let u = s.udp().unwrap();
            assert!(u.sent > 0);
            assert!(u.loss().unwrap() < 0.05, "{u:?}");
            assert!(samples.iter().any(|x| x.metric == "throughput.udp_jitter"));
        } else if !reverse {
            assert!(samples.iter().any(|x| x.metric == "throughput.rtt"));
            assert!(samples.iter().any(|x| x.metric == "throughput.cwnd"));
        }
    }
    stop_tx.send(()).unwrap();
    let stats = server.await.unwrap().unwrap();
    assert_eq!((stats.completed, stats.failed), (4, 0));
}

/// Once its test ends, `iperf3 -R` drains its data streams in blocking
/// reads of whole blocks, so a server that stops partway through a block
/// and keeps the stream open leaves it deaf to `EXCHANGE_RESULTS`. Our
/// server closes them at `TEST_END`, as iperf3's does.
#[tokio::test]
async fn the_server_closes_reverse_streams_at_test_end() {
    const TEST_END: u8 = 4;
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        throughput::serve(
            l,
            &ServeConfig::default(),
            async {
                let _ = stop_rx.await;
            },
            |_| {},
        )
        .await
    });
    let cookie = [b'c'; 37];
    let mut c = TcpStream::connect(addr).await.unwrap();
    c.write_all(&cookie).await.unwrap();
    let mut state = [0u8; 1];
    c.read_exact(&mut state).await.unwrap();
    assert_eq!(state[0], PARAM_EXCHANGE);
    let params =
        br#"{"tcp":true,"time":5,"parallel":1,"reverse":true,"len":131072,"bandwidth":400000000}"#;
    c.write_all(&(params.len() as u32).to_be_bytes())
        .await
        .unwrap();
    c.write_all(params).await.unwrap();
    c.read_exact(&mut state).await.unwrap();
    assert_eq!(state[0], CREATE_STREAMS);
    let mut d = TcpStream::connect(addr).await.unwrap();
    d.write_all(&cookie).await.unwrap();
    let mut two = [0u8; 2];
    c.read_exact(&mut two).await.unwrap();
    assert_eq!(two, [TEST_START, TEST_RUNNING]);
    let mut buf = vec![0u8; 1 << 16];
    let mut got = 0usize;
    let until = tokio::time::Instant::now() + Duration::from_millis(300);
    while tokio::time::Instant::now() < until {
        got += d.read(&mut buf).await.unwrap();
    }
    assert!(got > 0);
    c.write_all(&[TEST_END]).await.unwrap();
    // Drain to the end of the stream, as iperf3 does, within a bound far
    // below the server's 5 s wait for our results.
    let drained = tokio::time::timeout(Duration::from_secs(2), async {
        loop {
            match d.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got += n,
            }
        }
    })
    .await;
    assert!(
        drained.is_ok(),
        "the data stream stayed open after TEST_END ({got} bytes so far)"
    );
    c.read_exact(&mut state).await.unwrap();
    assert_eq!(state[0], EXCHANGE_RESULTS);
    stop_tx.send(()).unwrap();
    server.await.unwrap().unwrap();
}
