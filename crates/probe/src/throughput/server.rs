//! The iperf3-compatible server: answers `iperf3 -c` (TCP and UDP, either
//! direction, parallel streams) and [`super::run`], one test at a time.
//!
//! TCP data connections arrive on the control listener and are told
//! apart by their cookie; a connection with another cookie while a test
//! runs is a second client, told `ACCESS_DENIED` as iperf3 does. UDP
//! streams share one socket bound to the listener's address and are told
//! apart by the client's address and port, which also keeps replies
//! coming from the address the client sent to (bind the listener to a
//! specific address, not a wildcard, when the host has several).
//!
//! Bounded: every wait for the client has a limit, a test runs at most
//! [`ServeConfig::max_duration`] however long the client asks for, and
//! nothing the client sends can make the server panic or hang.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::control::{self, ControlError};
use super::fmt_secs;
use super::reception::Reception;
use super::stream::{self, Counter, Run, UdpOut};
use super::tcp_info;
use super::wire::{self, COOKIE_LEN, Cookie, Params, Protocol, Results, State, StreamResult};

/// iperf3's `IERECVPARAMS`: the parameters could not be used.
const IE_RECV_PARAMS: i32 = 114;
/// iperf3's `IESTREAMLISTEN`: the data listener could not be opened.
const IE_STREAM_LISTEN: i32 = 108;

/// How the server bounds each test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeConfig {
    /// The longest a test may run, whatever the client asks for.
    pub max_duration: Duration,
    /// How long each handshake step, and the end of a test past its
    /// duration, may take.
    pub grace: Duration,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            max_duration: Duration::from_secs(60),
            grace: Duration::from_secs(5),
        }
    }
}

/// What a server did before it stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ServeStats {
    /// Tests run to their end.
    pub completed: u64,
    /// Tests that ended in an error.
    pub failed: u64,
    /// Connections refused because a test was running.
    pub denied: u64,
}

/// One test as the server saw it.
#[derive(Debug)]
pub struct TestOutcome {
    /// The client's control address.
    pub peer: SocketAddr,
    /// What it asked for, once known.
    pub params: Option<Params>,
    /// Bytes we received (forward) or sent (reverse) over all streams.
    pub bytes: u64,
    /// How long data flowed.
    pub duration: Duration,
    /// Why the test failed, if it did (worded about the client).
    pub error: Option<String>,
}

impl TestOutcome {
    /// One line for a log: what ran and how it went.
    pub fn describe(&self) -> String {
        let what = match &self.params {
            Some(p) => format!(
                "{} {} stream{}{}",
                p.protocol.as_str(),
                p.parallel,
                if p.parallel == 1 { "" } else { "s" },
                if p.reverse { " reverse" } else { "" }
            ),
            None => "test".to_string(),
        };
        let secs = self.duration.as_secs_f64();
        let rate = if secs > 0.0 {
            self.bytes as f64 * 8.0 / secs
        } else {
            0.0
        };
        match &self.error {
            None => format!(
                "{what} from {}: {} bytes in {} ({:.1} Mbit/s)",
                self.peer,
                self.bytes,
                fmt_secs(self.duration),
                rate / 1e6
            ),
            Some(e) => format!("{what} from {} failed: {e}", self.peer),
        }
    }
}

/// Serves tests arriving on `listener` until `stop` resolves, calling
/// `report` after each one.
///
/// Returns an error only when accepting fails for a reason that is not
/// about one client.
pub async fn serve(
    listener: TcpListener,
    cfg: &ServeConfig,
    stop: impl Future<Output = ()>,
    mut report: impl FnMut(&TestOutcome),
) -> io::Result<ServeStats> {
    let mut stats = ServeStats::default();
    tokio::pin!(stop);
    loop {
        let (ctrl, peer) = tokio::select! {
            biased;
            () = &mut stop => return Ok(stats),
            r = listener.accept() => match r {
                Ok(r) => r,
                Err(e) if is_transient(&e) => {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
                Err(e) => return Err(e),
            },
        };
        let _ = ctrl.set_nodelay(true);
        let mut outcome = TestOutcome {
            peer,
            params: None,
            bytes: 0,
            duration: Duration::ZERO,
            error: None,
        };
        let result = tokio::select! {
            biased;
            () = &mut stop => return Ok(stats),
            r = session(ctrl, &listener, cfg, &mut outcome, &mut stats) => r,
        };
        match result {
            Ok(()) => stats.completed += 1,
            Err(e) => {
                stats.failed += 1;
                outcome.error = Some(e);
            }
        }
        report(&outcome);
    }
}

fn is_transient(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
    ) || matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
}

/// Reads a connection's cookie within `limit`.
async fn read_cookie(s: &mut TcpStream, limit: Duration) -> Option<Cookie> {
    let mut c = [0u8; COOKIE_LEN];
    match tokio::time::timeout(limit, s.read_exact(&mut c)).await {
        Ok(Ok(_)) => Some(Cookie(c)),
        _ => None,
    }
}

/// Turns away a second client while a test runs.
async fn deny(mut s: TcpStream, stats: &mut ServeStats) {
    stats.denied += 1;
    let _ = tokio::time::timeout(
        Duration::from_millis(200),
        s.write_all(&[State::AccessDenied.byte()]),
    )
    .await;
}

fn client(e: ControlError) -> String {
    format!("iperf3 client: {e}")
}

/// The server's side of a data stream.
enum Data {
    Tcp(Arc<TcpStream>),
    Udp(SocketAddr),
}

async fn session(
    mut ctrl: TcpStream,
    listener: &TcpListener,
    cfg: &ServeConfig,
    outcome: &mut TestOutcome,
    stats: &mut ServeStats,
) -> Result<(), String> {
    let grace = cfg.grace;
    let cookie = read_cookie(&mut ctrl, grace)
        .await
        .ok_or_else(|| "iperf3 client: sent no cookie".to_string())?;
    control::write_state(&mut ctrl, State::ParamExchange)
        .await
        .map_err(client)?;
    let raw = control::read_json(&mut ctrl, "test parameters", grace)
        .await
        .map_err(client)?;
    let params = match Params::from_json(&raw) {
        Ok(p) => p,
        Err(e) => {
            let _ = control::write_server_error(&mut ctrl, IE_RECV_PARAMS, 0).await;
            return Err(format!("iperf3 client: unusable test parameters: {e}"));
        }
    };
    outcome.params = Some(params.clone());
    let wide = params.udp_counters_64bit;
    let udp = match params.protocol {
        Protocol::Udp => {
            let local = listener.local_addr().map_err(|e| e.to_string())?;
            match UdpSocket::bind(local).await {
                Ok(s) => Some(Arc::new(s)),
                Err(e) => {
                    let code = e.raw_os_error().unwrap_or(0);
                    let _ = control::write_server_error(&mut ctrl, IE_STREAM_LISTEN, code).await;
                    return Err(format!("cannot open the UDP data socket on {local}: {e}"));
                }
            }
        }
        Protocol::Tcp => None,
    };
    control::write_state(&mut ctrl, State::CreateStreams)
        .await
        .map_err(client)?;

    // Streams, each within the grace period.
    let n = usize::from(params.parallel);
    let mut data: Vec<Data> = Vec::with_capacity(n);
    let deadline = Instant::now() + grace;
    let mut buf = [0u8; 64];
    while data.len() < n {
        let timeout = || {
            format!(
                "iperf3 client: opened {} of {n} data streams within {}",
                data.len(),
                fmt_secs(grace)
            )
        };
        match &udp {
            None => {
                let (mut s, _) = tokio::time::timeout_at(deadline, listener.accept())
                    .await
                    .map_err(|_| timeout())?
                    .map_err(|e| e.to_string())?;
                match read_cookie(&mut s, grace).await {
                    Some(c) if c == cookie => {
                        let _ = s.set_nodelay(true);
                        data.push(Data::Tcp(Arc::new(s)));
                    }
                    _ => deny(s, stats).await,
                }
            }
            Some(u) => {
                let (len, from) = tokio::time::timeout_at(deadline, u.recv_from(&mut buf))
                    .await
                    .map_err(|_| timeout())?
                    .map_err(|e| e.to_string())?;
                let known = data.iter().any(|d| matches!(d, Data::Udp(a) if *a == from));
                if wire::is_udp_connect_msg(&buf[..len]) && !known {
                    u.send_to(&wire::udp_connect_reply(), from)
                        .await
                        .map_err(|e| e.to_string())?;
                    data.push(Data::Udp(from));
                }
            }
        }
    }
    control::write_state(&mut ctrl, State::TestStart)
        .await
        .map_err(client)?;
    control::write_state(&mut ctrl, State::TestRunning)
        .await
        .map_err(client)?;

    let (run, mut errors) = Run::new(if params.reverse { params.bytes } else { None });
    run.set_counting(true);
    let counters: Vec<Arc<Counter>> = data.iter().map(|_| Arc::default()).collect();
    let mut movers: Vec<JoinHandle<()>> = Vec::new();
    let mut udp_rx: Option<JoinHandle<(Vec<Reception>, u64)>> = None;
    match (&udp, params.reverse) {
        (Some(u), false) => {
            let peers: HashMap<SocketAddr, usize> = data
                .iter()
                .enumerate()
                .filter_map(|(i, d)| match d {
                    Data::Udp(a) => Some((*a, i)),
                    Data::Tcp(_) => None,
                })
                .collect();
            let (run, u, c) = (run.clone(), u.clone(), counters.clone());
            udp_rx = Some(tokio::spawn(async move {
                stream::udp_receive(
                    run,
                    u,
                    c,
                    move |from, d| {
                        // A late repeat of the connect message is not data.
                        (!wire::is_udp_connect_msg(d))
                            .then(|| peers.get(&from).copied())
                            .flatten()
                    },
                    wide,
                )
                .await
            }));
        }
        (Some(u), true) => {
            for (i, d) in data.iter().enumerate() {
                if let Data::Udp(peer) = d {
                    let (run, c) = (run.clone(), counters[i].clone());
                    let out = UdpOut::To(u.clone(), *peer);
                    let (len, rate) = (params.len, params.bandwidth.or(Some(1_000_000)));
                    movers.push(tokio::spawn(async move {
                        stream::udp_send(run, i, out, c, len, rate, wide).await;
                    }));
                }
            }
        }
        (None, reverse) => {
            for (i, d) in data.iter().enumerate() {
                if let Data::Tcp(s) = d {
                    let (run, c, s) = (run.clone(), counters[i].clone(), s.clone());
                    let (len, rate) = (params.len, params.bandwidth);
                    movers.push(tokio::spawn(async move {
                        if reverse {
                            stream::tcp_send(run, i, s, c, len, rate).await;
                        } else {
                            stream::tcp_receive(run, i, s, c).await;
                        }
                    }));
                }
            }
        }
    }

    let asked = match params.time {
        0 => cfg.max_duration,
        t => Duration::from_secs(u64::from(t)).min(cfg.max_duration),
    };
    let start = Instant::now();
    let hard_end = start + asked + grace;
    let mut byte = [0u8; 1];
    let ended: Result<(), String> = loop {
        tokio::select! {
            r = ctrl.read(&mut byte) => break match r {
                Ok(0) => Err(client(ControlError::Closed { during: "during the test".into() })),
                Ok(_) => match control::decode_state(&mut ctrl, byte[0], "during the test", grace).await {
                    Ok(State::TestEnd) => Ok(()),
                    Ok(got) => Err(client(ControlError::Unexpected { got, during: "during the test".into() })),
                    Err(e) => Err(client(e)),
                },
                Err(e) => Err(client(ControlError::Io { during: "during the test".into(), source: e })),
            },
            () = tokio::time::sleep_until(hard_end) => break Err(format!(
                "iperf3 client: did not end the test within {} of its start",
                fmt_secs(asked + grace)
            )),
            Some((i, e)) = errors.recv() => break Err(format!(
                "data stream {} failed mid-test: {e}", wire::stream_id(i)
            )),
            r = listener.accept() => if let Ok((s, _)) = r {
                deny(s, stats).await;
            },
        }
    };
    let elapsed = start.elapsed();
    if udp_rx.is_some() && ended.is_ok() {
        // What the client sent just before TEST_END may still be queued
        // here, or behind it on a path that reorders: record it, or it
        // would read as lost.
        run.set_tail();
        let rtt = tcp_info::read(&ctrl).ok().map(|i| i.rtt);
        tokio::time::sleep(stream::tail_window(rtt)).await;
    }
    run.set_counting(false);
    outcome.duration = elapsed;
    outcome.bytes = run.total();
    let retransmits: Vec<i64> = data
        .iter()
        .map(|d| match d {
            Data::Tcp(s) if params.reverse => tcp_info::read(s.as_ref())
                .map(|i| i.retransmits as i64)
                .unwrap_or(-1),
            _ => -1,
        })
        .collect();
    // Receivers have counted; stop everything before the results.
    run.stop();
    for m in movers.drain(..) {
        let _ = m.await;
    }
    let receptions = match udp_rx.take() {
        Some(h) => h.await.map(|(r, _)| r).unwrap_or_default(),
        None => Vec::new(),
    };
    // Close the data streams now, as iperf3's server does on TEST_END:
    // `iperf3 -R` drains them with blocking reads of whole blocks, so
    // a block we stopped sending partway would keep it waiting (and
    // silent on the control connection) until it sees their end.
    let stream_count = data.len();
    drop(data);
    ended?;

    control::write_state(&mut ctrl, State::ExchangeResults)
        .await
        .map_err(client)?;
    let theirs = control::read_json(&mut ctrl, "results", grace)
        .await
        .map_err(client)?;
    Results::from_json(&theirs)
        .map_err(|e| format!("iperf3 client: sent malformed results: {e}"))?;
    let streams = (0..stream_count)
        .map(|i| {
            let rx = receptions.get(i);
            StreamResult {
                id: wire::stream_id(i),
                bytes: counters[i].bytes.load(Ordering::Relaxed),
                retransmits: retransmits[i],
                jitter: rx.map_or(0.0, |r| r.jitter),
                errors: rx.map_or(0, |r| r.lost),
                packets: rx.map_or(counters[i].packets.load(Ordering::Relaxed), |r| r.highest),
                start_time: Some(0.0),
                end_time: Some(elapsed.as_secs_f64()),
            }
        })
        .collect();
    let ours = Results {
        sender_has_retransmits: match (params.reverse, params.protocol) {
            (false, _) => -1,
            (true, Protocol::Tcp) => 1,
            (true, Protocol::Udp) => 0,
        },
        congestion_used: None,
        streams,
    };
    control::write_json(&mut ctrl, "results", &ours.to_json())
        .await
        .map_err(client)?;
    control::write_state(&mut ctrl, State::DisplayResults)
        .await
        .map_err(client)?;
    // iperf3 answers IPERF_DONE; a client that just closes is done too.
    match control::read_state(&mut ctrl, "while waiting for IPERF_DONE", grace).await {
        Ok(State::IperfDone) | Err(ControlError::Closed { .. }) => Ok(()),
        Ok(got) => Err(client(ControlError::Unexpected {
            got,
            during: "while waiting for IPERF_DONE".into(),
        })),
        Err(e) => Err(client(e)),
    }
}
