//! Throughput, iperf3-compatible: TCP (parallel streams, either direction,
//! goodput per interval, retransmits, RTT and congestion window from
//! `TCP_INFO`) and UDP (a target bit rate and datagram size; loss, RFC 3550
//! jitter, out-of-order packets).
//!
//! netproof speaks iperf3's control protocol, so [`client::run`] measures
//! against a real `iperf3 -s` and a real `iperf3 -c` measures against
//! [`server::serve`]. Layers: [`wire`] is the codec (no I/O, never
//! panics), [`reception`] the sans-IO UDP receiver arithmetic, [`control`]
//! the control connection's messages with time limits, `stream` the data
//! movers, and [`client`] and [`server`] the two roles.
//!
//! Bounded: a client test ends at its duration or byte limit, whichever
//! comes first, and every wait for the peer has a limit, so a silent or
//! misbehaving peer costs at most the duration plus a grace period. A
//! server runs one test at a time (others are told `ACCESS_DENIED`, as
//! iperf3 does) and caps each test's length.
//!
//! Not done: iperf3's `--bidir`, `--omit`, SCTP, authentication, and CPU
//! use in the results (sent as zeros).

pub mod client;
pub mod control;
pub mod reception;
pub mod server;
mod stream;
pub mod tcp_info;
pub mod wire;

use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use tokio::net::{TcpStream, UdpSocket};

pub use client::{Config, ProbeError, StreamSummary, Summary, UdpSummary, run};
pub use control::ControlError;
pub use server::{ServeConfig, ServeStats, TestOutcome, serve};
pub use wire::{DEFAULT_PORT, Protocol};

/// Opens the sockets of a test. On the netns backend they must be made
/// inside the sending node's namespace, so the caller (the lab) provides
/// them; [`Direct`] makes them in the current one.
pub trait Connector: Sync {
    /// A TCP connection to `target` (the control connection, and each TCP
    /// data stream).
    fn tcp(&self, target: SocketAddr) -> impl Future<Output = io::Result<TcpStream>> + Send;
    /// An unconnected UDP socket from which `target` can be reached.
    fn udp(&self, target: SocketAddr) -> io::Result<UdpSocket>;
}

/// Sockets made in the current network namespace, on any local address.
#[derive(Debug, Clone, Copy, Default)]
pub struct Direct;

impl Connector for Direct {
    async fn tcp(&self, target: SocketAddr) -> io::Result<TcpStream> {
        let s = TcpStream::connect(target).await?;
        s.set_nodelay(true)?;
        Ok(s)
    }

    fn udp(&self, target: SocketAddr) -> io::Result<UdpSocket> {
        let any = match target {
            SocketAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            SocketAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        };
        let s = std::net::UdpSocket::bind(SocketAddr::new(any, 0))?;
        s.set_nonblocking(true)?;
        UdpSocket::from_std(s)
    }
}

/// `1.5 s`, `0.02 s`: a duration for messages, to the millisecond.
pub(crate) fn fmt_secs(d: Duration) -> String {
    let t = format!("{:.3}", d.as_secs_f64());
    format!("{} s", t.trim_end_matches('0').trim_end_matches('.'))
}
