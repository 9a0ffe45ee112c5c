//! `netproof probe serve`: netproof's responders, for probes run by hand or
//! by a plan's steps.
//!
//! With neither `--udp` nor `--iperf` it serves both on every address, as
//! `iperf3 -s` does: UDP echo on port 7007 and iperf3 on port 5201, each
//! on one dual-stack socket (`[::]` with `IPV6_V6ONLY` off, so IPv4 clients
//! reach it too, whatever `net.ipv6.bindv6only` says), or on `0.0.0.0`
//! where the host has no IPv6. With either flag it serves only what the
//! flags name, where they name it.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use netproof_probe::{throughput, udp_echo};
use socket2::{Domain, Socket, Type};

use crate::cli::ProbeServeArgs;
use crate::error::{CliError, Code};

/// Where one responder listens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Listen {
    /// The address a flag names.
    At(SocketAddr),
    /// Every address of the host, on this port.
    Everywhere(u16),
}

/// What to serve: either responder may be absent, never both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Endpoints {
    udp: Option<Listen>,
    iperf: Option<Listen>,
}

impl Endpoints {
    /// The flags' endpoints; with neither flag, both responders everywhere.
    fn of(udp: Option<SocketAddr>, iperf: Option<SocketAddr>) -> Endpoints {
        if udp.is_none() && iperf.is_none() {
            return Endpoints {
                udp: Some(Listen::Everywhere(udp_echo::DEFAULT_PORT)),
                iperf: Some(Listen::Everywhere(throughput::DEFAULT_PORT)),
            };
        }
        Endpoints {
            udp: udp.map(Listen::At),
            iperf: iperf.map(Listen::At),
        }
    }
}

pub fn run(args: ProbeServeArgs) -> Result<Code, CliError> {
    let limit = args
        .duration
        .as_deref()
        .map(|d| super::probe::duration("for", d))
        .transpose()?;
    let iperf = args.iperf.as_deref().map(iperf_addr).transpose()?;
    let endpoints = Endpoints::of(args.udp, iperf);
    super::probe::runtime()?.block_on(async {
        let echo = endpoints
            .udp
            .map(|at| {
                let socket = listen(at, Type::DGRAM, "answer UDP echo", "answering UDP echo")?;
                tokio::net::UdpSocket::from_std(socket.into()).map_err(CliError::Runtime)
            })
            .transpose()?;
        let listener = endpoints
            .iperf
            .map(|at| {
                let socket = listen(at, Type::STREAM, "serve iperf3", "serving iperf3")?;
                tokio::net::TcpListener::from_std(socket.into()).map_err(CliError::Runtime)
            })
            .transpose()?;
        let cancel = netproof_run::Cancel::new();
        netproof_run::signals::install(cancel.clone()).map_err(CliError::Runtime)?;
        let stop = || {
            let cancel = cancel.clone();
            async move {
                match limit {
                    Some(d) => {
                        tokio::select! {
                            _ = tokio::time::sleep(d) => {}
                            _ = cancel.cancelled() => {}
                        }
                    }
                    None => cancel.cancelled().await,
                }
            }
        };
        let echo_task = async {
            match echo {
                Some(socket) => udp_echo::serve(socket, stop()).await.map(Some),
                None => Ok(None),
            }
        };
        let iperf_task = async {
            match listener {
                Some(l) => throughput::serve(l, &throughput::ServeConfig::default(), stop(), |o| {
                    eprintln!("iperf3: {}", o.describe());
                })
                .await
                .map(Some),
                None => Ok(None),
            }
        };
        let (echo_stats, iperf_stats) = tokio::join!(echo_task, iperf_task);
        if let Some(stats) = echo_stats.map_err(CliError::Runtime)? {
            eprintln!(
                "answered {} requests, ignored {} malformed datagrams",
                stats.replied, stats.malformed
            );
        }
        if let Some(stats) = iperf_stats.map_err(CliError::Runtime)? {
            eprintln!(
                "iperf3: {} tests completed, {} failed, {} clients turned away",
                stats.completed, stats.failed, stats.denied
            );
        }
        Ok(Code::Success)
    })
}

/// The endpoint as the messages show it.
fn describe(at: Listen) -> String {
    match at {
        Listen::At(addr) => addr.to_string(),
        Listen::Everywhere(port) => format!("port {port} of every address"),
    }
}

/// [`bind`], said on stderr, or the error that says where and why not.
/// `what` and `doing` name the job: "serve iperf3", "serving iperf3".
fn listen(at: Listen, kind: Type, what: &'static str, doing: &str) -> Result<Socket, CliError> {
    let socket = bind(at, kind).map_err(|source| CliError::Listen {
        what,
        at: describe(at),
        source,
    })?;
    eprintln!("{doing} on {}", describe(at));
    Ok(socket)
}

/// A non-blocking socket of `kind` bound (and, for a stream, listening)
/// where `at` says.
fn bind(at: Listen, kind: Type) -> io::Result<Socket> {
    match at {
        Listen::At(addr) => bind_at(addr, kind, false),
        Listen::Everywhere(port) => {
            let any6 = SocketAddr::from((Ipv6Addr::UNSPECIFIED, port));
            match bind_at(any6, kind, true) {
                // No IPv6 on this host or in this namespace (a kernel
                // without it, or `disable_ipv6`): every address is IPv4's.
                Err(e) if no_ipv6(&e) => {
                    bind_at(SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)), kind, false)
                }
                other => other,
            }
        }
    }
}

fn bind_at(addr: SocketAddr, kind: Type, dual_stack: bool) -> io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), kind, None)?;
    if dual_stack {
        socket.set_only_v6(false)?;
    }
    if kind == Type::STREAM {
        // As std's and iperf3's listeners do: a restart right after a test
        // must not wait out the last connections' TIME_WAIT.
        socket.set_reuse_address(true)?;
    }
    socket.bind(&addr.into())?;
    if kind == Type::STREAM {
        socket.listen(128)?;
    }
    socket.set_nonblocking(true)?;
    Ok(socket)
}

/// Whether an IPv6 socket failed because the host has no IPv6 to give.
fn no_ipv6(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EAFNOSUPPORT | libc::EADDRNOTAVAIL | libc::EPROTONOSUPPORT)
    )
}

/// `ADDR`, `ADDR:PORT`, `[IPv6]:PORT` or a bare IPv6 address; port 5201
/// unless given.
fn iperf_addr(text: &str) -> Result<SocketAddr, CliError> {
    if let Ok(a) = text.parse::<SocketAddr>() {
        return Ok(a);
    }
    text.parse::<std::net::IpAddr>()
        .map(|ip| SocketAddr::new(ip, throughput::DEFAULT_PORT))
        .map_err(|_| {
            CliError::Usage(format!(
                "--iperf `{text}` is not an address\nhint: write `198.18.0.4`, `198.18.0.4:5201` or `[2001:2::4]:5201`; or give neither --udp nor --iperf to serve both on every address"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_flags_serve_both_everywhere_and_either_flag_only_itself() {
        assert_eq!(
            Endpoints::of(None, None),
            Endpoints {
                udp: Some(Listen::Everywhere(7007)),
                iperf: Some(Listen::Everywhere(5201)),
            }
        );
        let a: SocketAddr = "127.0.0.1:9".parse().unwrap();
        assert_eq!(
            Endpoints::of(Some(a), None),
            Endpoints {
                udp: Some(Listen::At(a)),
                iperf: None
            }
        );
        assert_eq!(
            Endpoints::of(None, Some(a)),
            Endpoints {
                udp: None,
                iperf: Some(Listen::At(a))
            }
        );
    }

    #[test]
    fn iperf_addresses_take_port_5201_unless_given() {
        assert_eq!(
            iperf_addr("198.18.0.4").unwrap(),
            "198.18.0.4:5201".parse().unwrap()
        );
        assert_eq!(
            iperf_addr("2001:2::4").unwrap(),
            "[2001:2::4]:5201".parse().unwrap()
        );
        assert_eq!(
            iperf_addr("[::1]:6000").unwrap(),
            "[::1]:6000".parse().unwrap()
        );
        let e = iperf_addr("edge-a").unwrap_err().to_string();
        assert!(e.contains("--udp") && e.contains("--iperf"), "{e}");
    }

    #[test]
    fn a_dual_stack_socket_answers_ipv4() {
        // Port 0: the kernel picks a free one, so tests never collide.
        let socket = bind(Listen::Everywhere(0), Type::DGRAM).unwrap();
        let port = socket.local_addr().unwrap().as_socket().unwrap().port();
        let server: std::net::UdpSocket = socket.into();
        server.set_nonblocking(false).unwrap();
        let client = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        client.send_to(b"x", ("127.0.0.1", port)).unwrap();
        server
            .set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        let mut buf = [0u8; 4];
        let (n, from) = server.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"x");
        assert_eq!(from.ip().to_canonical(), client.local_addr().unwrap().ip());
    }
}
