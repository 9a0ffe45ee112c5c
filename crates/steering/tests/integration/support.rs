//! A steering service on loopback, a raw HTTP/1.1 client, a UDP/TCP DNS
//! client, and a fake edge health endpoint that can stop and come back.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use netproof_proto::steering::SteeringConfig;
use netproof_steering::server::{self, Running};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};

/// Every wait in these tests is bounded by this.
pub const BOUND: Duration = Duration::from_secs(20);

/// The config of the tests: ISP A's edge a1 (cluster isp-a), ISP B's b1,
/// an edge `lo` for the loopback clients the DNS face sees without ECS,
/// an exchange edge and the tier. `extra` is appended (more `[[edge]]`s
/// or keys of the last one).
pub fn config(extra: &str) -> SteeringConfig {
    let text = format!(
        r#"
        admin = "127.0.0.1:0"
        decision_log = true
        report_timeout = "30s"
        [listen]
        api = ["127.0.0.1:0"]
        dns = ["127.0.0.1:0"]
        [dns]
        zone = "video.cdn.test"
        steered = ["video.cdn.test"]
        ttl = "10s"
        answers = 1
        ns = [{{ name = "ns.video.cdn.test", address = "198.18.0.9" }}]
        [health]
        interval = "100ms"
        timeout = "100ms"
        failures = 3
        recoveries = 2
        [[edge]]
        name = "a1"
        host = "a1.video.cdn.test"
        addresses = ["198.18.1.2", "2001:2::1:2"]
        kind = "embedded"
        cluster = "isp-a"
        url = "https://a1.video.cdn.test:8443"
        [[edge]]
        name = "b1"
        host = "b1.video.cdn.test"
        addresses = ["198.18.2.2"]
        kind = "embedded"
        cluster = "isp-b"
        url = "https://b1.video.cdn.test:8443"
        [[edge]]
        name = "lo"
        host = "lo.video.cdn.test"
        addresses = ["198.18.4.2"]
        kind = "embedded"
        url = "https://lo.video.cdn.test"
        [[edge]]
        name = "ix"
        host = "ix.video.cdn.test"
        addresses = ["198.18.3.2"]
        kind = "exchange"
        url = "https://ix.video.cdn.test"
        [[edge]]
        name = "tier"
        host = "tier.video.cdn.test"
        addresses = ["198.18.5.2"]
        kind = "tier"
        url = "https://tier.video.cdn.test"
        {extra}
        "#
    );
    let c: SteeringConfig = toml::from_str(&text).expect("the test config parses");
    c.validate().expect("the test config is valid");
    c
}

/// A running service and the decision log lines it wrote.
pub struct Steering {
    pub running: Running,
    pub log: Arc<Mutex<Vec<String>>>,
}

pub async fn start(config: &SteeringConfig) -> Steering {
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = log.clone();
    let running = server::start(
        config,
        Some(Arc::new(move |line: &str| {
            sink.lock().unwrap().push(line.to_string())
        })),
    )
    .await
    .expect("steering starts");
    Steering { running, log }
}

impl Steering {
    pub fn api(&self) -> SocketAddr {
        self.running.api[0]
    }

    pub fn dns(&self) -> SocketAddr {
        self.running.dns[0]
    }

    pub fn admin(&self) -> SocketAddr {
        self.running.admin.expect("an admin listener")
    }

    /// Posts a report as JSON text; the status and body.
    pub async fn report(&self, body: &str) -> (u16, String) {
        http(self.api(), "POST", "/report", body.as_bytes()).await
    }

    /// Steers a client: the JSON answer.
    pub async fn steer(&self, query: &str) -> Value {
        let (status, body) = http(self.api(), "GET", &format!("/steer?{query}"), b"").await;
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).expect("JSON")
    }

    /// The edges' state.
    pub async fn edges(&self) -> Value {
        let (status, body) = http(self.api(), "GET", "/edges", b"").await;
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).expect("JSON")
    }

    /// The admin endpoint's metrics text.
    pub async fn metrics(&self) -> String {
        let (status, body) = http(self.admin(), "GET", "/metrics", b"").await;
        assert_eq!(status, 200, "{body}");
        body
    }
}

/// A report of `edge` with `routes` (prefix, local_pref) and `titles`.
pub fn report(edge: &str, seq: u64, routes: &[(&str, u32)], titles: &[u32]) -> String {
    let routes: Vec<Value> = routes
        .iter()
        .map(|(p, lp)| {
            serde_json::json!({"prefix": p, "local_pref": lp, "as_path_len": 1, "origin": "igp", "med": 0, "ebgp": true})
        })
        .collect();
    serde_json::json!({
        "edge": edge, "seq": seq, "health": "ok", "load": 0.1, "routes": routes,
        "contents": {"titles": [{"site": "video.cdn.test", "titles": titles}], "fills": true},
    })
    .to_string()
}

/// One HTTP/1.1 request on a fresh connection: the status and the body.
pub async fn http(addr: SocketAddr, method: &str, target: &str, body: &[u8]) -> (u16, String) {
    let go = async {
        let mut s = TcpStream::connect(addr).await.expect("connect");
        let head = format!(
            "{method} {target} HTTP/1.1\r\nHost: steering\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        s.write_all(head.as_bytes()).await.expect("write");
        s.write_all(body).await.expect("write");
        let mut out = Vec::new();
        s.read_to_end(&mut out).await.expect("read");
        let text = String::from_utf8_lossy(&out).to_string();
        let status = text[9..12].parse().expect("a status");
        let body = text
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        (status, body)
    };
    tokio::time::timeout(BOUND, go)
        .await
        .expect("HTTP within the bound")
}

/// Sends `packet` over UDP; the answer, or None when none comes in 500 ms.
pub async fn udp(server: SocketAddr, packet: &[u8]) -> Option<Vec<u8>> {
    let sock = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    sock.send_to(packet, server).await.expect("send");
    let mut buf = vec![0u8; 65536];
    let n = tokio::time::timeout(Duration::from_millis(500), sock.recv(&mut buf))
        .await
        .ok()?
        .expect("recv");
    Some(buf[..n].to_vec())
}

/// Sends `packet` over TCP with its length prefix; the answer.
pub async fn tcp(server: SocketAddr, packet: &[u8]) -> Vec<u8> {
    let go = async {
        let mut s = TcpStream::connect(server).await.expect("connect");
        s.write_all(&(packet.len() as u16).to_be_bytes())
            .await
            .unwrap();
        s.write_all(packet).await.unwrap();
        let mut len = [0u8; 2];
        s.read_exact(&mut len).await.unwrap();
        let mut out = vec![0u8; u16::from_be_bytes(len) as usize];
        s.read_exact(&mut out).await.unwrap();
        out
    };
    tokio::time::timeout(BOUND, go)
        .await
        .expect("TCP answer within the bound")
}

/// What a fake edge's health endpoint answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Ok,
    Draining,
}

/// A fake edge admin endpoint: `GET /health` answered as crates/cdn's
/// admin endpoint does, until stopped.
pub struct FakeHealth {
    pub addr: SocketAddr,
    answer: Arc<Mutex<Answer>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl FakeHealth {
    pub async fn start(addr: SocketAddr) -> FakeHealth {
        let listener = TcpListener::bind(addr)
            .await
            .expect("bind the fake health endpoint");
        let addr = listener.local_addr().unwrap();
        let answer = Arc::new(Mutex::new(Answer::Ok));
        let a = answer.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut s, _)) = listener.accept().await else {
                    continue;
                };
                let a = *a.lock().unwrap();
                tokio::spawn(async move {
                    let mut buf = [0u8; 1024];
                    let _ = s.read(&mut buf).await;
                    let text = match a {
                        Answer::Ok => {
                            "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n"
                        }
                        Answer::Draining => {
                            "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 9\r\nConnection: close\r\n\r\ndraining\n"
                        }
                    };
                    let _ = s.write_all(text.as_bytes()).await;
                });
            }
        });
        FakeHealth {
            addr,
            answer,
            task: Some(task),
        }
    }

    pub fn set(&self, a: Answer) {
        *self.answer.lock().unwrap() = a;
    }

    /// Stops answering: the listener closes, so polls are refused.
    pub fn stop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

impl Drop for FakeHealth {
    fn drop(&mut self) {
        self.stop();
    }
}
