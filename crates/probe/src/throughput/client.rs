//! The iperf3 client: runs one test against an iperf3 server (a real
//! `iperf3 -s` or [`super::serve`]) and records it as samples.
//!
//! The control connection goes through iperf3's states (cookie,
//! `PARAM_EXCHANGE`, `CREATE_STREAMS`, `TEST_START`, `TEST_RUNNING`, our
//! `TEST_END`, `EXCHANGE_RESULTS`, `DISPLAY_RESULTS`, our `IPERF_DONE`);
//! each wait has a limit. Anything the server does outside that path (it
//! closes, sends a state out of turn, sends malformed JSON, reports
//! `SERVER_ERROR`) ends the test with a [`ProbeError`] that says what and
//! when, and a failed `throughput.test_goodput` sample carries the same
//! reason.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use netproof_sample::metric::{
    THROUGHPUT_BYTES, THROUGHPUT_CWND, THROUGHPUT_GOODPUT, THROUGHPUT_RETRANSMITS, THROUGHPUT_RTT,
    THROUGHPUT_TEST_GOODPUT, THROUGHPUT_UDP_JITTER, THROUGHPUT_UDP_LOSS,
    THROUGHPUT_UDP_OUT_OF_ORDER,
};
use netproof_sample::{Labels, Metric, Sample, Sink, Timestamp, Value};
use thiserror::Error;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::control::{self, ControlError};
use super::reception::Reception;
use super::stream::{self, Counter, Run, UdpOut};
use super::tcp_info;
use super::wire::{self, Cookie, Params, Protocol, Results, State, StreamResult};
use super::{Connector, fmt_secs};

/// One test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The server's control address (iperf3's default port is 5201).
    pub target: SocketAddr,
    /// TCP or UDP.
    pub protocol: Protocol,
    /// Parallel streams, `1..=128`.
    pub streams: u16,
    /// How long data flows; greater than zero.
    pub duration: Duration,
    /// The server sends and we receive (iperf3's `-R`).
    pub reverse: bool,
    /// Target bit rate per stream; `None` is unlimited (TCP only: UDP
    /// always needs a rate, iperf3's default is 1 Mbit/s).
    pub rate: Option<u64>,
    /// Block (TCP) or datagram (UDP) size; `None` for iperf3's default.
    pub length: Option<usize>,
    /// Stop after this many bytes over all streams, if reached before
    /// the duration.
    pub bytes: Option<u64>,
    /// 64-bit UDP packet numbers (iperf3's `--udp-counters-64bit`).
    pub udp_counters_64bit: bool,
    /// Time between goodput samples.
    pub interval: Duration,
    /// How long each handshake step and the results may take.
    pub grace: Duration,
    /// Seeds the test cookie.
    pub seed: u64,
}

impl Config {
    /// A TCP test of `duration` with iperf3's defaults.
    pub fn new(target: SocketAddr, protocol: Protocol, duration: Duration) -> Config {
        Config {
            target,
            protocol,
            streams: 1,
            duration,
            reverse: false,
            rate: None,
            length: None,
            bytes: None,
            udp_counters_64bit: true,
            interval: Duration::from_secs(1),
            grace: Duration::from_secs(5),
            seed: 0,
        }
    }

    /// The block or datagram size this test uses.
    pub fn block_len(&self) -> usize {
        self.length.unwrap_or(match self.protocol {
            Protocol::Tcp => wire::DEFAULT_TCP_LEN,
            Protocol::Udp => wire::DEFAULT_UDP_LEN,
        })
    }

    /// The rate per stream this test uses.
    pub fn stream_rate(&self) -> Option<u64> {
        match self.protocol {
            Protocol::Tcp => self.rate,
            Protocol::Udp => Some(self.rate.unwrap_or(1_000_000)),
        }
    }

    /// Checks the values a plan or a command line could get wrong.
    pub fn validate(&self) -> Result<(), ProbeError> {
        let bad = |m: String| Err(ProbeError::Config(m));
        if self.streams == 0 || self.streams > wire::MAX_STREAMS {
            return bad(format!("streams `{}` is outside 1..=128", self.streams));
        }
        if self.duration.is_zero() {
            return bad("duration must be greater than zero".into());
        }
        if self.interval.is_zero() {
            return bad("interval must be greater than zero".into());
        }
        if self.rate == Some(0) {
            return bad("rate must be greater than zero".into());
        }
        if self.bytes == Some(0) {
            return bad("bytes must be greater than zero".into());
        }
        let len = self.block_len();
        let (min, max) = match self.protocol {
            Protocol::Tcp => (1, wire::MAX_TCP_LEN),
            Protocol::Udp => (
                wire::UdpHeader::len(self.udp_counters_64bit),
                wire::MAX_UDP_LEN,
            ),
        };
        if !(min..=max).contains(&len) {
            return bad(format!(
                "length `{len}` is outside {min}..={max} bytes for {}",
                self.protocol.as_str()
            ));
        }
        Ok(())
    }
}

/// Why a test could not run to its end.
#[derive(Debug, Error)]
pub enum ProbeError {
    /// A configuration value that cannot run.
    #[error("throughput test: {0}")]
    Config(String),
    /// The control connection could not be opened.
    #[error("cannot connect to the iperf3 server at {target}: {source}")]
    Connect {
        /// The server.
        target: SocketAddr,
        /// The system's reason.
        source: io::Error,
    },
    /// The server broke the control protocol or went away.
    #[error("iperf3 server at {target}: {source}")]
    Control {
        /// The server.
        target: SocketAddr,
        /// What happened.
        source: ControlError,
    },
    /// A data stream could not be opened.
    #[error("cannot open data stream {stream} to {target}: {reason}")]
    Stream {
        /// The stream id.
        stream: u32,
        /// The server.
        target: SocketAddr,
        /// What happened.
        reason: String,
    },
    /// A data stream failed mid-test.
    #[error("data stream {stream} to {target} failed mid-test: {source}")]
    StreamFailed {
        /// The stream id.
        stream: u32,
        /// The server.
        target: SocketAddr,
        /// The system's reason.
        source: io::Error,
    },
    /// The server's results do not describe our streams.
    #[error("iperf3 server at {target} sent results for {got} streams, expected {want}")]
    Results {
        /// The server.
        target: SocketAddr,
        /// Streams in its results.
        got: usize,
        /// Our streams.
        want: usize,
    },
}

impl ProbeError {
    /// A short stable reason for the `error` label.
    pub fn label(&self) -> &'static str {
        match self {
            ProbeError::Config(_) => "config",
            ProbeError::Connect { .. } => "connect",
            ProbeError::Control { source, .. } => match source {
                ControlError::Closed { .. } => "closed",
                ControlError::Io { .. } => "control io",
                ControlError::Timeout { .. } => "timeout",
                ControlError::Malformed { .. } => "malformed",
                ControlError::Unexpected { .. } => "unexpected state",
                ControlError::AccessDenied => "access denied",
                ControlError::ServerError { .. } => "server error",
                ControlError::Terminated { .. } => "terminated",
            },
            ProbeError::Stream { .. } => "stream",
            ProbeError::StreamFailed { .. } => "stream failed",
            ProbeError::Results { .. } => "results",
        }
    }
}

/// One stream's figures.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamSummary {
    /// iperf3's stream id.
    pub id: u32,
    /// Bytes the sending side wrote.
    pub sent_bytes: u64,
    /// Bytes the receiving side got.
    pub received_bytes: u64,
    /// Seconds over which the receiver counted.
    pub receiver_seconds: f64,
    /// Sender-side retransmits (TCP), when known.
    pub retransmits: Option<u64>,
    /// UDP figures.
    pub udp: Option<UdpSummary>,
}

impl StreamSummary {
    /// Received bits per second over the receiver's time.
    pub fn goodput(&self) -> f64 {
        if self.receiver_seconds > 0.0 {
            self.received_bytes as f64 * 8.0 / self.receiver_seconds
        } else {
            0.0
        }
    }
}

/// UDP figures of a stream or a test.
#[derive(Debug, Clone, PartialEq)]
pub struct UdpSummary {
    /// Datagrams sent.
    pub sent: u64,
    /// Datagrams lost (including a tail the receiver never saw).
    pub lost: u64,
    /// Datagrams that arrived after a later one.
    pub out_of_order: u64,
    /// RFC 3550 jitter at the receiver, seconds.
    pub jitter: f64,
}

impl UdpSummary {
    /// Lost ÷ sent; `None` when nothing was sent.
    pub fn loss(&self) -> Option<f64> {
        (self.sent > 0).then(|| self.lost as f64 / self.sent as f64)
    }
}

/// A finished test.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// TCP or UDP.
    pub protocol: Protocol,
    /// Whether the server sent.
    pub reverse: bool,
    /// How long data flowed, by our clock.
    pub duration: Duration,
    /// Per stream.
    pub streams: Vec<StreamSummary>,
    /// The server's congestion control, when it said (reverse TCP).
    pub peer_congestion: Option<String>,
}

impl Summary {
    /// Bytes the receiver got over all streams.
    pub fn received_bytes(&self) -> u64 {
        self.streams.iter().map(|s| s.received_bytes).sum()
    }

    /// Bytes the sender wrote over all streams.
    pub fn sent_bytes(&self) -> u64 {
        self.streams.iter().map(|s| s.sent_bytes).sum()
    }

    /// The test's goodput: the sum of the streams'.
    pub fn goodput(&self) -> f64 {
        self.streams.iter().map(StreamSummary::goodput).sum()
    }

    /// Retransmits over all streams, when the sender reported them.
    pub fn retransmits(&self) -> Option<u64> {
        self.streams.iter().map(|s| s.retransmits).sum()
    }

    /// UDP figures over all streams (jitter averaged, as iperf3 does).
    pub fn udp(&self) -> Option<UdpSummary> {
        let all: Vec<&UdpSummary> = self.streams.iter().filter_map(|s| s.udp.as_ref()).collect();
        if all.is_empty() {
            return None;
        }
        Some(UdpSummary {
            sent: all.iter().map(|u| u.sent).sum(),
            lost: all.iter().map(|u| u.lost).sum(),
            out_of_order: all.iter().map(|u| u.out_of_order).sum(),
            jitter: all.iter().map(|u| u.jitter).sum::<f64>() / all.len() as f64,
        })
    }
}

/// A data stream as the client holds it.
enum Data {
    Tcp(Arc<TcpStream>),
    Udp(Arc<UdpSocket>),
}

/// A mover's result.
enum Moved {
    Nothing,
    Received(Reception),
}

/// Runs one test against `cfg.target`, with sockets from `connector`,
/// and records it into `sink` with `labels` added to every sample.
///
/// Emits as the test runs, every `interval`: `throughput.goodput` per
/// stream (label `stream`, iperf3's id) and for all (`stream=all`), with
/// `side` saying where it was measured (`receiver`; or `sender` for UDP
/// we send, whose delivery only the server knows; TCP we send is measured
/// by the bytes the server acknowledged); and for TCP we send,
/// `throughput.rtt` and `throughput.cwnd` per stream. At the end, per
/// stream and for all: `throughput.test_goodput` and `throughput.bytes` as
/// the receiver counted them, `throughput.retransmits` (TCP) and
/// `throughput.udp_loss`, `throughput.udp_jitter`,
/// `throughput.udp_out_of_order` (UDP). On an error, one failed
/// `throughput.test_goodput` sample with the reason in `error`.
pub async fn run<C: Connector>(
    connector: &C,
    cfg: &Config,
    sink: &dyn Sink,
    labels: &Labels,
) -> Result<Summary, ProbeError> {
    let result = match cfg.validate() {
        Ok(()) => test(connector, cfg, sink, labels).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(summary) => {
            emit_summary(&summary, sink, labels);
            Ok(summary)
        }
        Err(e) => {
            let s = Sample {
                value: Value::None,
                ok: false,
                ..Sample::num(&THROUGHPUT_TEST_GOODPUT, 0.0)
            };
            sink.sample(
                with_labels(s, labels)
                    .label("stream", "all")
                    .label("error", e.label())
                    .label("reason", e.to_string()),
            );
            Err(e)
        }
    }
}

async fn test<C: Connector>(
    connector: &C,
    cfg: &Config,
    sink: &dyn Sink,
    labels: &Labels,
) -> Result<Summary, ProbeError> {
    let target = cfg.target;
    let grace = cfg.grace;
    let ctl = |source| ProbeError::Control { target, source };
    let mut ctrl = match tokio::time::timeout(grace, connector.tcp(target)).await {
        Ok(Ok(s)) => s,
        Ok(Err(source)) => return Err(ProbeError::Connect { target, source }),
        Err(_) => {
            return Err(ProbeError::Connect {
                target,
                source: io::Error::new(io::ErrorKind::TimedOut, "connect timed out"),
            });
        }
    };
    let cookie = Cookie::from_seed(cfg.seed);
    ctrl.write_all(&cookie.0).await.map_err(|source| {
        ctl(ControlError::Io {
            during: "while sending the cookie".into(),
            source,
        })
    })?;
    control::expect_state(&mut ctrl, State::ParamExchange, grace)
        .await
        .map_err(ctl)?;
    let wide = cfg.udp_counters_64bit;
    let params = Params {
        protocol: cfg.protocol,
        time: cfg.duration.as_secs_f64().ceil() as u32,
        bytes: cfg.bytes,
        parallel: cfg.streams,
        reverse: cfg.reverse,
        len: cfg.block_len(),
        bandwidth: cfg.stream_rate(),
        udp_counters_64bit: wide && cfg.protocol == Protocol::Udp,
        client_version: Some(concat!("netproof ", env!("CARGO_PKG_VERSION")).into()),
    };
    control::write_json(&mut ctrl, "test parameters", &params.to_json())
        .await
        .map_err(ctl)?;
    control::expect_state(&mut ctrl, State::CreateStreams, grace)
        .await
        .map_err(ctl)?;

    let ids: Vec<u32> = (0..usize::from(cfg.streams)).map(wire::stream_id).collect();
    let mut data = Vec::with_capacity(ids.len());
    for &id in &ids {
        let d = match cfg.protocol {
            Protocol::Tcp => open_tcp(connector, target, &cookie, grace).await,
            Protocol::Udp => open_udp(connector, target, grace).await,
        };
        data.push(d.map_err(|reason| ProbeError::Stream {
            stream: id,
            target,
            reason,
        })?);
    }
    control::expect_state(&mut ctrl, State::TestStart, grace)
        .await
        .map_err(ctl)?;
    control::expect_state(&mut ctrl, State::TestRunning, grace)
        .await
        .map_err(ctl)?;

    // Data flows.
    let (run, mut errors) = Run::new(cfg.bytes);
    run.set_counting(true);
    let counters: Vec<Arc<Counter>> = ids.iter().map(|_| Arc::default()).collect();
    let mut movers: Vec<JoinHandle<Moved>> = Vec::new();
    let len = cfg.block_len();
    let rate = cfg.stream_rate();
    for (i, d) in data.iter().enumerate() {
        let (run, c) = (run.clone(), counters[i].clone());
        movers.push(match (d, cfg.reverse) {
            (Data::Tcp(s), false) => {
                let s = s.clone();
                tokio::spawn(async move {
                    stream::tcp_send(run, i, s, c, len, rate).await;
                    Moved::Nothing
                })
            }
            (Data::Tcp(s), true) => {
                let s = s.clone();
                tokio::spawn(async move {
                    stream::tcp_receive(run, i, s, c).await;
                    Moved::Nothing
                })
            }
            (Data::Udp(s), false) => {
                let out = UdpOut::Connected(s.clone());
                tokio::spawn(async move {
                    stream::udp_send(run, i, out, c, len, rate, wide).await;
                    Moved::Nothing
                })
            }
            (Data::Udp(s), true) => {
                let s = s.clone();
                tokio::spawn(async move {
                    let (mut r, _) =
                        stream::udp_receive(run, s, vec![c], |_, _| Some(0), wide).await;
                    Moved::Received(r.pop().unwrap_or_default())
                })
            }
        });
    }

    let wall_start = Timestamp::now();
    let start = Instant::now();
    let end = start + cfg.duration;
    let mut meter = Meter::new(&ids, cfg, wall_start);
    let mut ticks = tokio::time::interval_at(start + cfg.interval, cfg.interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut byte = [0u8; 1];
    let outcome: Result<(), ProbeError> = loop {
        tokio::select! {
            _ = ticks.tick() => meter.tick(start.elapsed(), &counters, &data, sink, labels),
            () = tokio::time::sleep_until(end) => break Ok(()),
            () = run.limit_reached.notified() => break Ok(()),
            Some((i, source)) = errors.recv() => break Err(ProbeError::StreamFailed {
                stream: ids.get(i).copied().unwrap_or(0),
                target,
                source,
            }),
            r = ctrl.read(&mut byte) => {
                let during = "during the test";
                break Err(ctl(match r {
                    Ok(0) => ControlError::Closed { during: during.into() },
                    Ok(_) => match control::decode_state(&mut ctrl, byte[0], during, grace).await {
                        Ok(got) => ControlError::Unexpected { got, during: during.into() },
                        Err(e) => e,
                    },
                    Err(source) => ControlError::Io { during: during.into(), source },
                }));
            }
        }
        if run.limit_hit() {
            break Ok(());
        }
    };
    // Receiving UDP, the datagrams the server sends until it has our
    // TEST_END, and those the path still holds, are recorded (not
    // counted) until the end of the tail below.
    let udp_receiver = cfg.reverse && cfg.protocol == Protocol::Udp;
    if udp_receiver {
        run.set_tail();
    } else {
        run.set_counting(false);
    }
    let elapsed = start.elapsed();
    if let Err(e) = outcome {
        run.stop();
        return Err(e);
    }
    meter.finish(elapsed, &counters, &data, sink, labels);
    // Ours, read now, while the connections are open.
    let retransmits: Vec<Option<u64>> = data
        .iter()
        .map(|d| match d {
            Data::Tcp(s) if !cfg.reverse => tcp_info::read(s.as_ref()).ok().map(|i| i.retransmits),
            _ => None,
        })
        .collect();

    let finish = async {
        control::write_state(&mut ctrl, State::TestEnd).await?;
        control::expect_state(&mut ctrl, State::ExchangeResults, grace).await?;
        if udp_receiver {
            // The server stopped sending when it read our TEST_END, before
            // it answered; what it sent is here, or a reordering path's
            // margin away.
            let rtt = tcp_info::read(&ctrl).ok().map(|i| i.rtt);
            tokio::time::sleep(stream::tail_window(rtt) / 2).await;
        }
        // Receivers drain until the server has our TEST_END; then they
        // stop, so our receiver figures are final.
        run.stop();
        let mut moved = Vec::new();
        for m in movers.drain(..) {
            moved.push(m.await.unwrap_or(Moved::Nothing));
        }
        let ours = our_results(cfg, &ids, &counters, &moved, &retransmits, elapsed);
        control::write_json(&mut ctrl, "results", &ours.to_json()).await?;
        let theirs = control::read_json(&mut ctrl, "results", grace).await?;
        let theirs = Results::from_json(&theirs).map_err(|source| ControlError::Malformed {
            during: "while sending its results".into(),
            source,
        })?;
        control::expect_state(&mut ctrl, State::DisplayResults, grace).await?;
        control::write_state(&mut ctrl, State::IperfDone).await?;
        Ok::<_, ControlError>((theirs, moved))
    };
    let (theirs, moved) = match finish.await {
        Ok(r) => r,
        Err(e) => {
            run.stop();
            return Err(ctl(e));
        }
    };
    let _ = ctrl.shutdown().await;
    summarize(cfg, &ids, &counters, &moved, &retransmits, elapsed, theirs)
}

async fn open_tcp<C: Connector>(
    connector: &C,
    target: SocketAddr,
    cookie: &Cookie,
    limit: Duration,
) -> Result<Data, String> {
    let mut s = match tokio::time::timeout(limit, connector.tcp(target)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return Err(e.to_string()),
        Err(_) => return Err(format!("no connection within {}", fmt_secs(limit))),
    };
    s.write_all(&cookie.0).await.map_err(|e| e.to_string())?;
    Ok(Data::Tcp(Arc::new(s)))
}

async fn open_udp<C: Connector>(
    connector: &C,
    target: SocketAddr,
    limit: Duration,
) -> Result<Data, String> {
    let s = connector.udp(target).map_err(|e| e.to_string())?;
    s.connect(target).await.map_err(|e| e.to_string())?;
    s.send(&wire::udp_connect_msg())
        .await
        .map_err(|e| e.to_string())?;
    let mut buf = [0u8; 64];
    match tokio::time::timeout(limit, s.recv(&mut buf)).await {
        Ok(Ok(n)) if wire::is_udp_connect_reply(&buf[..n]) => Ok(Data::Udp(Arc::new(s))),
        Ok(Ok(n)) => Err(format!(
            "the server answered the UDP connect message with {n} bytes that are not its reply"
        )),
        Ok(Err(e)) => Err(format!("no UDP connect reply: {e}")),
        Err(_) => Err(format!("no UDP connect reply within {}", fmt_secs(limit))),
    }
}

/// Our side's results, as iperf3 writes them.
fn our_results(
    cfg: &Config,
    ids: &[u32],
    counters: &[Arc<Counter>],
    moved: &[Moved],
    retransmits: &[Option<u64>],
    elapsed: Duration,
) -> Results {
    let sender = !cfg.reverse;
    let tcp = cfg.protocol == Protocol::Tcp;
    let streams = ids
        .iter()
        .enumerate()
        .map(|(i, &id)| {
            let bytes = counters[i].bytes.load(Ordering::Relaxed);
            let rx = match moved.get(i) {
                Some(Moved::Received(r)) => Some(r),
                _ => None,
            };
            StreamResult {
                id,
                bytes: rx.map_or(bytes, |r| r.bytes.max(bytes)),
                retransmits: match retransmits.get(i) {
                    Some(Some(r)) if sender && tcp => *r as i64,
                    _ => -1,
                },
                jitter: rx.map_or(0.0, |r| r.jitter),
                errors: rx.map_or(0, |r| r.lost),
                packets: rx.map_or(counters[i].packets.load(Ordering::Relaxed), |r| r.highest),
                start_time: Some(0.0),
                end_time: Some(elapsed.as_secs_f64()),
            }
        })
        .collect();
    Results {
        sender_has_retransmits: if !sender {
            -1
        } else if tcp {
            1
        } else {
            0
        },
        congestion_used: None,
        streams,
    }
}

fn summarize(
    cfg: &Config,
    ids: &[u32],
    counters: &[Arc<Counter>],
    moved: &[Moved],
    retransmits: &[Option<u64>],
    elapsed: Duration,
    theirs: Results,
) -> Result<Summary, ProbeError> {
    if theirs.streams.len() != ids.len() {
        return Err(ProbeError::Results {
            target: cfg.target,
            got: theirs.streams.len(),
            want: ids.len(),
        });
    }
    let mut streams = Vec::with_capacity(ids.len());
    for (i, &id) in ids.iter().enumerate() {
        // Matched by id, as iperf3 does; a server that numbers streams
        // otherwise is matched by position.
        let peer = theirs
            .streams
            .iter()
            .find(|s| s.id == id)
            .unwrap_or(&theirs.streams[i]);
        let ours = counters[i].bytes.load(Ordering::Relaxed);
        let secs = elapsed.as_secs_f64();
        let s = if cfg.reverse {
            let rx = match moved.get(i) {
                Some(Moved::Received(r)) => Some(r),
                _ => None,
            };
            StreamSummary {
                id,
                sent_bytes: peer.bytes,
                received_bytes: ours,
                receiver_seconds: secs,
                retransmits: (cfg.protocol == Protocol::Tcp && peer.retransmits >= 0)
                    .then_some(peer.retransmits as u64),
                udp: rx
                    .filter(|_| cfg.protocol == Protocol::Udp)
                    .map(|r| UdpSummary {
                        sent: peer.packets,
                        lost: r.lost_of(peer.packets),
                        out_of_order: r.out_of_order,
                        jitter: r.jitter,
                    }),
            }
        } else {
            let sent_packets = counters[i].packets.load(Ordering::Relaxed);
            let lost = u64::try_from(peer.errors.max(0)).unwrap_or(0)
                + sent_packets.saturating_sub(peer.packets);
            StreamSummary {
                id,
                sent_bytes: ours,
                received_bytes: peer.bytes,
                receiver_seconds: peer.duration().unwrap_or(secs),
                retransmits: retransmits.get(i).copied().flatten(),
                udp: (cfg.protocol == Protocol::Udp).then(|| UdpSummary {
                    sent: sent_packets,
                    lost: lost.min(sent_packets),
                    out_of_order: 0,
                    jitter: peer.jitter,
                }),
            }
        };
        streams.push(s);
    }
    Ok(Summary {
        protocol: cfg.protocol,
        reverse: cfg.reverse,
        duration: elapsed,
        streams,
        peer_congestion: theirs.congestion_used,
    })
}

/// Per-interval goodput, RTT and congestion window.
struct Meter {
    ids: Vec<u32>,
    wall_start: Timestamp,
    interval: Duration,
    last_at: Duration,
    last: Vec<u64>,
    /// TCP we send: goodput from bytes the server acknowledged.
    acked: bool,
    side: &'static str,
}

impl Meter {
    fn new(ids: &[u32], cfg: &Config, wall_start: Timestamp) -> Meter {
        let tcp_sender = cfg.protocol == Protocol::Tcp && !cfg.reverse;
        Meter {
            ids: ids.to_vec(),
            wall_start,
            interval: cfg.interval,
            last_at: Duration::ZERO,
            last: vec![0; ids.len()],
            acked: tcp_sender,
            side: if cfg.reverse || tcp_sender {
                "receiver"
            } else {
                "sender"
            },
        }
    }

    fn position(&self, i: usize, counters: &[Arc<Counter>], data: &[Data]) -> u64 {
        if self.acked
            && let Some(Data::Tcp(s)) = data.get(i)
            && let Ok(info) = tcp_info::read(s.as_ref())
        {
            return info.bytes_acked;
        }
        counters[i].bytes.load(Ordering::Relaxed)
    }

    fn tick(
        &mut self,
        at: Duration,
        counters: &[Arc<Counter>],
        data: &[Data],
        sink: &dyn Sink,
        labels: &Labels,
    ) {
        let secs = (at - self.last_at).as_secs_f64();
        if secs <= 0.0 {
            return;
        }
        let stamp = Timestamp(
            self.wall_start
                .0
                .saturating_add(i64::try_from(self.last_at.as_nanos()).unwrap_or(i64::MAX)),
        );
        let mut total = 0.0;
        for i in 0..self.ids.len() {
            let now = self.position(i, counters, data);
            let rate = now.saturating_sub(self.last[i]) as f64 * 8.0 / secs;
            self.last[i] = now;
            total += rate;
            let id = self.ids[i].to_string();
            sink.sample(
                with_labels(Sample::num(&THROUGHPUT_GOODPUT, rate).at(stamp), labels)
                    .label("stream", &id)
                    .label("side", self.side),
            );
            if self.acked
                && let Some(Data::Tcp(s)) = data.get(i)
                && let Ok(info) = tcp_info::read(s.as_ref())
            {
                let now = Timestamp::now();
                sink.sample(
                    with_labels(
                        Sample::num(&THROUGHPUT_RTT, info.rtt.as_secs_f64()).at(now),
                        labels,
                    )
                    .label("stream", &id),
                );
                sink.sample(
                    with_labels(
                        Sample::num(&THROUGHPUT_CWND, info.cwnd_bytes as f64).at(now),
                        labels,
                    )
                    .label("stream", &id),
                );
            }
        }
        sink.sample(
            with_labels(Sample::num(&THROUGHPUT_GOODPUT, total).at(stamp), labels)
                .label("stream", "all")
                .label("side", self.side),
        );
        self.last_at = at;
    }

    /// The last, partial interval, unless it is too short to mean much.
    fn finish(
        &mut self,
        at: Duration,
        counters: &[Arc<Counter>],
        data: &[Data],
        sink: &dyn Sink,
        labels: &Labels,
    ) {
        if at.saturating_sub(self.last_at) >= self.interval / 4 {
            self.tick(at, counters, data, sink, labels);
        }
    }
}

fn with_labels(mut s: Sample, labels: &Labels) -> Sample {
    for (k, v) in labels {
        s.labels.entry(k.clone()).or_insert_with(|| v.clone());
    }
    s
}

fn emit_summary(summary: &Summary, sink: &dyn Sink, labels: &Labels) {
    let put = |m: &Metric, v: f64, stream: &str| {
        sink.sample(with_labels(Sample::num(m, v), labels).label("stream", stream));
    };
    for s in &summary.streams {
        let id = s.id.to_string();
        put(&THROUGHPUT_TEST_GOODPUT, s.goodput(), &id);
        put(&THROUGHPUT_BYTES, s.received_bytes as f64, &id);
        if let Some(r) = s.retransmits {
            put(&THROUGHPUT_RETRANSMITS, r as f64, &id);
        }
        if let Some(u) = &s.udp {
            udp_samples(u, &id, sink, labels);
        }
    }
    put(&THROUGHPUT_TEST_GOODPUT, summary.goodput(), "all");
    put(&THROUGHPUT_BYTES, summary.received_bytes() as f64, "all");
    if summary.protocol == Protocol::Tcp {
        match summary.retransmits() {
            Some(r) => put(&THROUGHPUT_RETRANSMITS, r as f64, "all"),
            None => {
                let s = Sample::failed(&THROUGHPUT_RETRANSMITS, "not reported by the sender");
                sink.sample(with_labels(s, labels).label("stream", "all"));
            }
        }
    }
    if let Some(u) = summary.udp() {
        udp_samples(&u, "all", sink, labels);
    }
}

fn udp_samples(u: &UdpSummary, stream: &str, sink: &dyn Sink, labels: &Labels) {
    let put = |s: Sample| sink.sample(with_labels(s, labels).label("stream", stream));
    put(match u.loss() {
        Some(l) => Sample::num(&THROUGHPUT_UDP_LOSS, l),
        None => Sample::failed(&THROUGHPUT_UDP_LOSS, "nothing sent"),
    });
    put(Sample::num(&THROUGHPUT_UDP_JITTER, u.jitter));
    put(Sample::num(
        &THROUGHPUT_UDP_OUT_OF_ORDER,
        u.out_of_order as f64,
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> Config {
        Config::new(
            "127.0.0.1:5201".parse().unwrap(),
            Protocol::Udp,
            Duration::from_secs(1),
        )
    }

    #[test]
    fn config_rejects_what_cannot_run() {
        assert!(cfg().validate().is_ok());
        let e = Config {
            length: Some(8),
            ..cfg()
        }
        .validate()
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "throughput test: length `8` is outside 16..=65507 bytes for udp"
        );
        assert!(
            Config {
                streams: 0,
                ..cfg()
            }
            .validate()
            .is_err()
        );
        assert!(
            Config {
                streams: 129,
                ..cfg()
            }
            .validate()
            .is_err()
        );
        assert!(
            Config {
                duration: Duration::ZERO,
                ..cfg()
            }
            .validate()
            .is_err()
        );
        assert!(
            Config {
                rate: Some(0),
                ..cfg()
            }
            .validate()
            .is_err()
        );
        assert!(
            Config {
                bytes: Some(0),
                ..cfg()
            }
            .validate()
            .is_err()
        );
    }

    #[test]
    fn udp_defaults_to_iperf3s_rate_and_tcp_is_unlimited() {
        assert_eq!(cfg().stream_rate(), Some(1_000_000));
        assert_eq!(cfg().block_len(), 1460);
        let tcp = Config {
            protocol: Protocol::Tcp,
            ..cfg()
        };
        assert_eq!(tcp.stream_rate(), None);
        assert_eq!(tcp.block_len(), 128 * 1024);
    }

    #[test]
    fn summary_sums_streams_and_averages_jitter() {
        let stream = |id, bytes, jitter| StreamSummary {
            id,
            sent_bytes: bytes,
            received_bytes: bytes,
            receiver_seconds: 2.0,
            retransmits: None,
            udp: Some(UdpSummary {
                sent: 100,
                lost: 5,
                out_of_order: 1,
                jitter,
            }),
        };
        let s = Summary {
            protocol: Protocol::Udp,
            reverse: false,
            duration: Duration::from_secs(2),
            streams: vec![stream(1, 1000, 0.001), stream(3, 3000, 0.003)],
            peer_congestion: None,
        };
        assert_eq!(s.received_bytes(), 4000);
        assert!((s.goodput() - 16_000.0).abs() < 1e-9);
        let u = s.udp().unwrap();
        assert_eq!((u.sent, u.lost, u.out_of_order), (200, 10, 2));
        assert!((u.jitter - 0.002).abs() < 1e-12);
        assert_eq!(u.loss(), Some(0.05));
        assert_eq!(s.retransmits(), None);
    }
}
