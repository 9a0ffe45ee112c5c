//! Namespace tests with real namespaces, veth pairs and TCP traffic.
//!
//! They need root (CI runs as root) and iproute2's `ip` and `tc`, used only
//! to read back what the kernel holds. Every test names its namespaces
//! `np-test-<pid>-<test>-...`, cleans up through a guard that also runs on
//! panic, and ends by checking the kernel's view: no `/run/netns` entry and
//! no `ip netns list` line with its prefix, and none of its namespace
//! inodes still held by any process, descriptor or mount. Traffic stays
//! inside the namespaces, on 198.18.0.0/15 and 2001:2::/48.
//!
//! nextest runs tests whose names contain `netns` one at a time; a mutex
//! does the same under plain `cargo test`, so inode numbers the kernel
//! recycles after a namespace is freed cannot confuse a neighbour's count.

use std::collections::BTreeSet;
use std::ffi::CString;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::unix::ffi::OsStrExt;
use std::process::Command;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;
use tokio::time::timeout;

use super::*;

static SERIAL: Mutex<()> = Mutex::new(());

const WAIT: Duration = Duration::from_secs(5);

fn ip(s: &str) -> IpAddr {
    s.parse().expect("test address")
}

/// Owns a test's prefix; removes anything left under it, even on panic.
struct Guard {
    prefix: String,
    inodes: BTreeSet<u64>,
    _serial: MutexGuard<'static, ()>,
}

impl Guard {
    fn new(test: &str) -> Guard {
        let serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
        Guard {
            prefix: format!("np-test-{}-{test}-", std::process::id()),
            inodes: BTreeSet::new(),
            _serial: serial,
        }
    }

    fn create(&mut self, short: &str) -> NetNs {
        let ns =
            NetNs::create(&format!("{}{short}", self.prefix)).unwrap_or_else(|e| panic!("{e}"));
        self.inodes.insert(ns.inode());
        ns
    }

    /// Deletes `namespaces` and checks that the kernel holds none of this
    /// test's namespaces any more.
    fn finish(self, namespaces: Vec<NetNs>) {
        for ns in namespaces {
            let name = ns.name().to_string();
            if let Err(e) = ns.delete() {
                panic!("deleting {name}: {e}");
            }
        }
        assert_eq!(self.run_dir_entries(), Vec::<String>::new(), "/run/netns");
        let listed = run_peer("ip", &["netns", "list"]);
        assert!(
            !listed.lines().any(|l| l.starts_with(&self.prefix)),
            "ip netns list still shows {}*:\n{listed}",
            self.prefix
        );
        let alive = census::net_namespace_inodes().expect("read /proc");
        let left: Vec<u64> = self.inodes.intersection(&alive).copied().collect();
        assert!(left.is_empty(), "namespaces still held: {left:?}");
    }

    fn run_dir_entries(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(RUN_DIR) else {
            return Vec::new();
        };
        entries
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(&self.prefix))
            .collect()
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        // Only reached with entries left when a test panicked before its
        // namespaces were dropped (they clean up after themselves).
        for name in self.run_dir_entries() {
            let path = std::path::Path::new(RUN_DIR).join(name);
            if let Ok(c) = CString::new(path.as_os_str().as_bytes()) {
                // SAFETY: a valid NUL-terminated path that outlives the call.
                unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
            }
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Runs an iproute2 command (the test's peer) and returns its stdout.
fn run_peer(program: &str, args: &[&str]) -> String {
    let out = Command::new(program).args(args).output();
    peer_output(program, args, out)
}

fn peer_output(program: &str, args: &[&str], out: io::Result<std::process::Output>) -> String {
    match out {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).into_owned(),
        Ok(out) => panic!(
            "`{program} {}` failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) if e.kind() == io::ErrorKind::NotFound => panic!(
            "`{program}` is missing: install it with \
             `apt-get install --no-install-recommends iproute2` (scripts/install-peers.sh)"
        ),
        Err(e) => panic!("cannot run `{program}`: {e}"),
    }
}

/// Opens a TCP connection from a socket created inside `from` (bound to
/// `src` if given) to a listener created inside `to` at `dst`, exchanges a
/// few bytes, and returns the address the server saw.
async fn tcp_round_trip(
    from: &NetNs,
    src: Option<IpAddr>,
    to: &NetNs,
    dst: SocketAddr,
) -> io::Result<SocketAddr> {
    let listener = to
        .run(|| std::net::TcpListener::bind(dst))
        .map_err(io::Error::other)??;
    listener.set_nonblocking(true)?;
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let socket = from
        .run(|| {
            if dst.is_ipv4() {
                TcpSocket::new_v4()
            } else {
                TcpSocket::new_v6()
            }
        })
        .map_err(io::Error::other)??;
    if let Some(src) = src {
        socket.bind(SocketAddr::new(src, 0))?;
    }
    let timed_out = |what: &str| io::Error::new(io::ErrorKind::TimedOut, what.to_string());
    let mut client = timeout(WAIT, socket.connect(dst))
        .await
        .map_err(|_| timed_out("connect"))??;
    let (mut server, peer) = timeout(WAIT, listener.accept())
        .await
        .map_err(|_| timed_out("accept"))??;
    client.write_all(b"ping").await?;
    let mut buf = [0u8; 4];
    timeout(WAIT, server.read_exact(&mut buf))
        .await
        .map_err(|_| timed_out("read"))??;
    assert_eq!(&buf, b"ping");
    Ok(peer)
}

/// Retransmission timeouts TCP has had in `ns` (`TcpExt: TCPTimeouts`),
/// read from inside, since /proc/thread-self/net is the reading thread's
/// namespace. A first connect that stalls on a lost neighbour solicitation
/// shows up here as a SYN timeout, without timing anything. (Not
/// `RetransSegs`: a SYN still held in the neighbour queue when its timer
/// fires is not counted as retransmitted.)
fn tcp_timeouts(ns: &NetNs) -> u64 {
    let netstat = ns
        .run(|| std::fs::read_to_string("/proc/thread-self/net/netstat"))
        .unwrap_or_else(|e| panic!("{e}"))
        .expect("read netstat");
    let mut tcp = netstat.lines().filter(|l| l.starts_with("TcpExt:"));
    let (Some(names), Some(values)) = (tcp.next(), tcp.next()) else {
        panic!("no TcpExt lines in /proc/net/netstat:\n{netstat}");
    };
    let at = names
        .split_whitespace()
        .position(|n| n == "TCPTimeouts")
        .expect("TCPTimeouts column");
    values
        .split_whitespace()
        .nth(at)
        .and_then(|v| v.parse().ok())
        .expect("TCPTimeouts value")
}

async fn up_all(nl: &Netlink, ifnames: &[&str]) {
    for ifname in ifnames {
        nl.set_up(ifname).await.unwrap_or_else(|e| panic!("{e}"));
    }
}

/// Waits until every listed interface carries traffic (see
/// [`Netlink::wait_ready`] for the kernel quirk this avoids).
async fn ready_all(nl: &Netlink, ifnames: &[&str]) {
    for ifname in ifnames {
        nl.wait_ready(ifname, WAIT)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
}

/// Waits (bounded) until each of `ifnames` in `ns` has a link-local
/// address that is no longer tentative (see [`super::addrconf`]).
fn link_local_all(ns: &NetNs, ifnames: &[&str]) {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let ll = super::addrconf::link_locals(ns).unwrap_or_else(|e| panic!("{e}"));
        let ready = |ifname: &str| ll.iter().any(|l| l.ifname == ifname && !l.tentative);
        if ifnames.iter().all(|i| ready(i)) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no usable IPv6 link-local address on {ifnames:?} after {WAIT:?}: {ll:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

async fn addr(nl: &Netlink, ifname: &str, a: &str, len: u8) {
    nl.add_address(ifname, ip(a), len)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}

/// Two namespaces joined by an in-place veth pair with /31 and /127
/// addresses: TCP works, the MTU sets, and taking one end down makes a
/// connect fail.
#[tokio::test]
async fn netns_veth_pair_carries_tcp_until_set_down() {
    let mut guard = Guard::new("pair");
    let a = guard.create("a");
    let b = guard.create("b");
    let na = Netlink::new(&a).unwrap_or_else(|e| panic!("{e}"));
    let nb = Netlink::new(&b).unwrap_or_else(|e| panic!("{e}"));

    na.add_veth("to-b", &b, "to-a")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(na.index("to-b").await.is_ok());
    assert!(nb.index("to-a").await.is_ok());
    // The peer end was created in b, not here.
    assert!(matches!(
        na.index("to-a").await,
        Err(NetnsError::NoSuchInterface { .. })
    ));
    // One queue each way on both ends, made so rather than trimmed to.
    for (ns, end) in [(&a, "to-b"), (&b, "to-a")] {
        let details = run_peer("ip", &["-n", ns.name(), "-d", "link", "show", end]);
        assert!(details.contains("numtxqueues 1 numrxqueues 1"), "{details}");
    }

    addr(&na, "to-b", "198.18.0.0", 31).await;
    addr(&nb, "to-a", "198.18.0.1", 31).await;
    addr(&na, "to-b", "2001:2::2", 127).await;
    addr(&nb, "to-a", "2001:2::3", 127).await;
    na.set_mtu("to-b", 9000)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    up_all(&na, &["lo", "to-b"]).await;
    up_all(&nb, &["lo", "to-a"]).await;
    ready_all(&na, &["lo", "to-b"]).await;
    ready_all(&nb, &["lo", "to-a"]).await;

    let link = run_peer("ip", &["-n", a.name(), "-o", "link", "show", "to-b"]);
    assert!(link.contains("mtu 9000"), "{link}");

    let peer = tcp_round_trip(&a, None, &b, "198.18.0.1:7001".parse().expect("addr"))
        .await
        .unwrap_or_else(|e| panic!("IPv4 over the pair: {e}"));
    assert_eq!(peer.ip(), ip("198.18.0.0"));
    let peer = tcp_round_trip(&a, None, &b, "[2001:2::3]:7001".parse().expect("addr"))
        .await
        .unwrap_or_else(|e| panic!("IPv6 over the pair: {e}"));
    assert_eq!(peer.ip(), ip("2001:2::2"));
    // Regression: without `wait_ready`, the first connect after set-up
    // stalled for a SYN timeout in most runs (see Netlink::wait_ready).
    assert_eq!((tcp_timeouts(&a), tcp_timeouts(&b)), (0, 0));

    na.set_down("to-b").await.unwrap_or_else(|e| panic!("{e}"));
    let cut = tcp_round_trip(&a, None, &b, "198.18.0.1:7002".parse().expect("addr")).await;
    assert!(cut.is_err(), "connect over a downed link succeeded");

    // Errors name the namespace and the interface.
    let missing = na.set_up("nope").await.err().map(|e| e.to_string());
    assert_eq!(
        missing.as_deref(),
        Some(
            format!(
                "in namespace `{}`, cannot bring interface `nope` up: there is no interface `nope` there",
                a.name()
            )
            .as_str()
        )
    );

    na.delete_link("to-b")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        nb.index("to-a").await.is_err(),
        "deleting one end deletes both"
    );
    drop((na, nb));
    guard.finish(vec![a, b]);
}

/// a -- r -- b with forwarding on r and static routes between the
/// loopbacks: TCP connects end to end over IPv4 and IPv6.
#[tokio::test]
async fn netns_line_through_a_router_routes_v4_and_v6() {
    let mut guard = Guard::new("line");
    let a = guard.create("a");
    let r = guard.create("r");
    let b = guard.create("b");
    let na = Netlink::new(&a).unwrap_or_else(|e| panic!("{e}"));
    let nr = Netlink::new(&r).unwrap_or_else(|e| panic!("{e}"));
    let nb = Netlink::new(&b).unwrap_or_else(|e| panic!("{e}"));

    // Kernel quirk: a router forwarding a packet that is not its own must
    // solicit the next hop from its link-local address, and sends no
    // solicitation at all while that address is still in duplicate address
    // detection (about 1-2 s after link-up), so each hop would stall a
    // first IPv6 connect by a SYN retransmit. Lab addresses are unique by
    // construction: turn DAD off before the interfaces exist.
    for ns in [&a, &r, &b] {
        for key in [
            "net.ipv6.conf.all.accept_dad",
            "net.ipv6.conf.default.accept_dad",
        ] {
            sysctl_write(ns, key, "0").unwrap_or_else(|e| panic!("{e}"));
        }
    }
    na.add_veth("to-r", &r, "to-a")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    nr.add_veth("to-b", &b, "to-r")
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    for key in ["net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding"] {
        assert_eq!(sysctl_read(&r, key).ok().as_deref(), Some("0"), "{key}");
        sysctl_write(&r, key, "1").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(sysctl_read(&r, key).ok().as_deref(), Some("1"), "{key}");
    }
    // The host's own setting is untouched (read from this thread's
    // namespace, which the writes above never entered).
    let host_forwarding = std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward");
    assert!(host_forwarding.is_ok());

    addr(&na, "to-r", "198.18.0.0", 31).await;
    addr(&nr, "to-a", "198.18.0.1", 31).await;
    addr(&nr, "to-b", "198.18.0.2", 31).await;
    addr(&nb, "to-r", "198.18.0.3", 31).await;
    addr(&na, "to-r", "2001:2::2", 127).await;
    addr(&nr, "to-a", "2001:2::3", 127).await;
    addr(&nr, "to-b", "2001:2::4", 127).await;
    addr(&nb, "to-r", "2001:2::5", 127).await;
    addr(&na, "lo", "198.18.1.1", 32).await;
    addr(&nb, "lo", "198.18.1.2", 32).await;
    addr(&na, "lo", "2001:2:0:1::1", 128).await;
    addr(&nb, "lo", "2001:2:0:1::2", 128).await;
    up_all(&na, &["lo", "to-r"]).await;
    up_all(&nr, &["lo", "to-a", "to-b"]).await;
    up_all(&nb, &["lo", "to-r"]).await;
    ready_all(&na, &["lo", "to-r"]).await;
    ready_all(&nr, &["lo", "to-a", "to-b"]).await;
    ready_all(&nb, &["lo", "to-r"]).await;
    link_local_all(&a, &["to-r"]);
    link_local_all(&r, &["to-a", "to-b"]);
    link_local_all(&b, &["to-r"]);

    let routes: [(&Netlink, &str, u8, &str, &str); 8] = [
        (&na, "198.18.1.2", 32, "198.18.0.1", "to-r"),
        (&nb, "198.18.1.1", 32, "198.18.0.2", "to-r"),
        (&nr, "198.18.1.1", 32, "198.18.0.0", "to-a"),
        (&nr, "198.18.1.2", 32, "198.18.0.3", "to-b"),
        (&na, "2001:2:0:1::2", 128, "2001:2::3", "to-r"),
        (&nb, "2001:2:0:1::1", 128, "2001:2::4", "to-r"),
        (&nr, "2001:2:0:1::1", 128, "2001:2::2", "to-a"),
        (&nr, "2001:2:0:1::2", 128, "2001:2::5", "to-b"),
    ];
    for (nl, dest, len, gw, dev) in routes {
        nl.add_route(ip(dest), len, &[(ip(gw), dev)])
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }

    let peer = tcp_round_trip(
        &a,
        Some(ip("198.18.1.1")),
        &b,
        "198.18.1.2:7003".parse().expect("addr"),
    )
    .await
    .unwrap_or_else(|e| panic!("IPv4 through the router: {e}"));
    assert_eq!(peer.ip(), ip("198.18.1.1"));
    let peer = tcp_round_trip(
        &a,
        Some(ip("2001:2:0:1::1")),
        &b,
        "[2001:2:0:1::2]:7003".parse().expect("addr"),
    )
    .await
    .unwrap_or_else(|e| panic!("IPv6 through the router: {e}"));
    assert_eq!(peer.ip(), ip("2001:2:0:1::1"));
    // Regression: with DAD on, the router stalled each first IPv6 connect
    // by one SYN timeout per hop.
    assert_eq!((tcp_timeouts(&a), tcp_timeouts(&b)), (0, 0));

    // A destination with host bits set is refused before the kernel.
    let bad = na
        .add_route(ip("198.18.1.1"), 24, &[(ip("198.18.0.1"), "to-r")])
        .await;
    assert!(
        matches!(bad, Err(NetnsError::InvalidArgument { .. })),
        "{bad:?}"
    );

    drop((na, nr, nb));
    guard.finish(vec![a, r, b]);
}

/// Two parallel links from a to b and one route over both: the kernel
/// holds a single multipath route with two next hops, IPv4 and IPv6.
#[tokio::test]
async fn netns_multipath_route_has_two_nexthops() {
    let mut guard = Guard::new("ecmp");
    let a = guard.create("a");
    let b = guard.create("b");
    let na = Netlink::new(&a).unwrap_or_else(|e| panic!("{e}"));
    let nb = Netlink::new(&b).unwrap_or_else(|e| panic!("{e}"));
    for link in ["p1", "p2"] {
        na.add_veth(link, &b, link)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    // Spread flows between two hosts over both paths (the default hashes on
    // addresses only).
    for key in [
        "net.ipv4.fib_multipath_hash_policy",
        "net.ipv6.fib_multipath_hash_policy",
    ] {
        sysctl_write(&a, key, "1").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(sysctl_read(&a, key).ok().as_deref(), Some("1"));
    }
    addr(&na, "p1", "198.18.0.0", 31).await;
    addr(&nb, "p1", "198.18.0.1", 31).await;
    addr(&na, "p2", "198.18.0.2", 31).await;
    addr(&nb, "p2", "198.18.0.3", 31).await;
    addr(&na, "p1", "2001:2::2", 127).await;
    addr(&nb, "p1", "2001:2::3", 127).await;
    addr(&na, "p2", "2001:2::4", 127).await;
    addr(&nb, "p2", "2001:2::5", 127).await;
    addr(&nb, "lo", "198.18.1.2", 32).await;
    addr(&nb, "lo", "2001:2:0:1::2", 128).await;
    up_all(&na, &["lo", "p1", "p2"]).await;
    up_all(&nb, &["lo", "p1", "p2"]).await;
    ready_all(&na, &["lo", "p1", "p2"]).await;
    ready_all(&nb, &["lo", "p1", "p2"]).await;

    na.add_route(
        ip("198.18.1.2"),
        32,
        &[(ip("198.18.0.1"), "p1"), (ip("198.18.0.3"), "p2")],
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    na.add_route(
        ip("2001:2:0:1::2"),
        128,
        &[(ip("2001:2::3"), "p1"), (ip("2001:2::5"), "p2")],
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));

    let v4 = run_peer(
        "ip",
        &["-n", a.name(), "-4", "route", "show", "198.18.1.2/32"],
    );
    assert!(v4.contains("nexthop via 198.18.0.1 dev p1"), "{v4}");
    assert!(v4.contains("nexthop via 198.18.0.3 dev p2"), "{v4}");
    let v6 = run_peer(
        "ip",
        &["-n", a.name(), "-6", "route", "show", "2001:2:0:1::2/128"],
    );
    assert!(v6.contains("nexthop via 2001:2::3 dev p1"), "{v6}");
    assert!(v6.contains("nexthop via 2001:2::5 dev p2"), "{v6}");

    // And traffic flows over it.
    tcp_round_trip(&a, None, &b, "198.18.1.2:7004".parse().expect("addr"))
        .await
        .unwrap_or_else(|e| panic!("IPv4 over ECMP: {e}"));
    tcp_round_trip(&a, None, &b, "[2001:2:0:1::2]:7004".parse().expect("addr"))
        .await
        .unwrap_or_else(|e| panic!("IPv6 over ECMP: {e}"));
    assert_eq!((tcp_timeouts(&a), tcp_timeouts(&b)), (0, 0));

    drop((na, nb));
    guard.finish(vec![a, b]);
}

/// A tbf rate installs, shows in `tc qdisc show`, slows a transfer down,
/// and clears (twice: clearing is idempotent).
#[tokio::test]
async fn netns_tbf_rate_installs_holds_and_clears() {
    let mut guard = Guard::new("tbf");
    let a = guard.create("a");
    let b = guard.create("b");
    let na = Netlink::new(&a).unwrap_or_else(|e| panic!("{e}"));
    let nb = Netlink::new(&b).unwrap_or_else(|e| panic!("{e}"));
    na.add_veth("to-b", &b, "to-a")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    addr(&na, "to-b", "198.18.0.0", 31).await;
    addr(&nb, "to-a", "198.18.0.1", 31).await;
    up_all(&na, &["lo", "to-b"]).await;
    up_all(&nb, &["lo", "to-a"]).await;
    ready_all(&na, &["lo", "to-b"]).await;
    ready_all(&nb, &["lo", "to-a"]).await;

    // Replace works over an existing tbf too.
    na.set_rate("to-b", 100_000_000, None, Duration::from_millis(20))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    na.set_rate("to-b", 8_000_000, Some(15_140), Duration::from_millis(50))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let shown = run_peer("tc", &["-n", a.name(), "qdisc", "show", "dev", "to-b"]);
    assert!(shown.contains("qdisc tbf"), "{shown}");
    assert!(shown.contains("rate 8Mbit"), "{shown}");
    assert!(shown.contains("lat 50"), "{shown}");

    // 1 MB at 8 Mbit/s (1 MB/s) takes about a second; without the rate a
    // veth moves it in about a millisecond. Loose bounds: this checks that
    // the rate acts, not how exactly (the lab's tests do that).
    let elapsed = transfer(&a, &b, "198.18.0.1:7005", 1_000_000)
        .await
        .unwrap_or_else(|e| panic!("transfer: {e}"));
    eprintln!(
        "netns tbf: 1 MB at 8 Mbit/s took {elapsed:?}; {}",
        shown.trim()
    );
    assert!(
        elapsed >= Duration::from_millis(600),
        "1 MB at 8 Mbit/s took only {elapsed:?}"
    );

    na.clear_rate("to-b")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    na.clear_rate("to-b")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let shown = run_peer("tc", &["-n", a.name(), "qdisc", "show", "dev", "to-b"]);
    assert!(!shown.contains("tbf"), "{shown}");

    let zero = na.set_rate("to-b", 0, None, Duration::from_millis(1)).await;
    assert!(matches!(zero, Err(NetnsError::InvalidArgument { .. })));

    drop((na, nb));
    guard.finish(vec![a, b]);
}

/// Sends `bytes` from a socket made in `from` to a sink made in `to` and
/// returns how long the sender took until the receiver had everything.
async fn transfer(from: &NetNs, to: &NetNs, dst: &str, bytes: usize) -> io::Result<Duration> {
    let dst: SocketAddr = dst.parse().map_err(io::Error::other)?;
    let listener = to
        .run(|| std::net::TcpListener::bind(dst))
        .map_err(io::Error::other)??;
    listener.set_nonblocking(true)?;
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let socket = from.run(TcpSocket::new_v4).map_err(io::Error::other)??;
    let mut client = timeout(WAIT, socket.connect(dst))
        .await
        .map_err(io::Error::other)??;
    let (mut server, _) = timeout(WAIT, listener.accept())
        .await
        .map_err(io::Error::other)??;
    let start = Instant::now();
    let send = async move {
        client.write_all(&vec![7u8; bytes]).await?;
        client.shutdown().await
    };
    let receive = async move {
        let mut sink = Vec::with_capacity(bytes);
        server.read_to_end(&mut sink).await.map(|_| sink.len())
    };
    let limit = Duration::from_secs(20);
    let (sent, received) = timeout(limit, async { tokio::join!(send, receive) })
        .await
        .map_err(io::Error::other)?;
    sent?;
    assert_eq!(received?, bytes);
    Ok(start.elapsed())
}

/// A process started with `prepare_exec` runs inside the namespace: it
/// sees the namespace's links and its /proc/self/ns/net is ours. Both
/// std's and tokio's commands.
#[tokio::test]
async fn netns_prepare_exec_runs_children_inside() {
    let mut guard = Guard::new("exec");
    let a = guard.create("a");
    let b = guard.create("b");
    let na = Netlink::new(&a).unwrap_or_else(|e| panic!("{e}"));
    na.add_veth("exec0", &b, "exec1")
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    let links = {
        let mut cmd = Command::new("ip");
        cmd.args(["-o", "link"]);
        prepare_exec(&mut cmd, &a).unwrap_or_else(|e| panic!("{e}"));
        peer_output("ip", &["-o", "link"], cmd.output())
    };
    assert!(links.contains("exec0"), "{links}");
    assert!(!links.contains("exec1"), "{links}");

    let ns_link = {
        let mut cmd = tokio::process::Command::new("readlink");
        cmd.arg("/proc/self/ns/net");
        prepare_exec(cmd.as_std_mut(), &b).unwrap_or_else(|e| panic!("{e}"));
        let out = cmd.output().await;
        peer_output("readlink", &["/proc/self/ns/net"], out)
    };
    assert_eq!(ns_link.trim(), format!("net:[{}]", b.inode()));

    // run() enters too, and leaves the calling thread where it was.
    let before = std::fs::read_link("/proc/thread-self/ns/net").expect("own ns");
    let inside = a
        .run(|| std::fs::read_link("/proc/thread-self/ns/net"))
        .unwrap_or_else(|e| panic!("{e}"))
        .expect("ns link");
    assert_eq!(inside.to_string_lossy(), format!("net:[{}]", a.inode()));
    let after = std::fs::read_link("/proc/thread-self/ns/net").expect("own ns");
    assert_eq!(before, after);

    drop(na);
    guard.finish(vec![a, b]);
}

/// Creation refuses a taken name; deletion is idempotent (also after `ip
/// netns del` behind our back); dropping cleans up like deleting; and the
/// kernel's view confirms it.
#[tokio::test]
async fn netns_teardown_leaves_nothing() {
    let mut guard = Guard::new("down");
    let a = guard.create("a");
    assert_eq!(
        a.path().map(|p| p.to_path_buf()),
        Some(std::path::Path::new(RUN_DIR).join(a.name()))
    );
    let listed = run_peer("ip", &["netns", "list"]);
    assert!(listed.contains(a.name()), "{listed}");
    assert!(
        census::net_namespace_inodes()
            .expect("census")
            .contains(&a.inode())
    );

    let clash = NetNs::create(a.name());
    assert_eq!(
        clash.as_ref().err().and_then(NetnsError::os_error),
        Some(libc::EEXIST),
        "{clash:?}"
    );
    assert!(
        clash
            .err()
            .map(|e| e.to_string())
            .is_some_and(|t| t.contains("hint:")),
    );

    // Someone runs `ip netns del` first: our delete still succeeds.
    let b = guard.create("b");
    run_peer("ip", &["netns", "del", b.name()]);

    // Dropping without delete cleans up as well.
    {
        let _c = guard.create("c");
        let nc = Netlink::new(&_c).unwrap_or_else(|e| panic!("{e}"));
        nc.set_up("lo").await.unwrap_or_else(|e| panic!("{e}"));
    }
    guard.finish(vec![a, b]);
}

/// 100 namespaces in a line joined by 99 in-place veth pairs, up and down,
/// timed (printed, not asserted: `cargo test -- --nocapture` shows it).
#[tokio::test]
async fn netns_hundred_namespaces_in_a_line() {
    const N: usize = 100;
    let mut guard = Guard::new("line100");
    let t = Instant::now();
    let namespaces: Vec<NetNs> = (0..N).map(|i| guard.create(&format!("n{i}"))).collect();
    let t_ns = t.elapsed();

    let t = Instant::now();
    let handles: Vec<Netlink> = namespaces
        .iter()
        .map(|ns| Netlink::new(ns).unwrap_or_else(|e| panic!("{e}")))
        .collect();
    let t_nl = t.elapsed();

    let t = Instant::now();
    for i in 0..N - 1 {
        handles[i]
            .add_veth("e", &namespaces[i + 1], "w")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let t_veth = t.elapsed();

    let t = Instant::now();
    for h in &handles {
        h.set_up("lo").await.unwrap_or_else(|e| panic!("{e}"));
    }
    let t_lo = t.elapsed();

    assert!(handles[N - 1].index("w").await.is_ok());
    assert!(handles[0].index("e").await.is_ok());

    let t = Instant::now();
    drop(handles);
    let inodes: Vec<u64> = namespaces.iter().map(NetNs::inode).collect();
    for ns in namespaces {
        ns.delete().unwrap_or_else(|e| panic!("{e}"));
    }
    let t_down = t.elapsed();
    eprintln!(
        "netns timings, {N} namespaces: create {t_ns:?}, netlink handles {t_nl:?}, \
         {} in-place veth pairs {t_veth:?}, lo up {t_lo:?}, delete {t_down:?}",
        N - 1
    );
    assert_eq!(inodes.len(), N);
    guard.finish(Vec::new());
}

/// A builder thread's sysctl writes land in the namespace it is in, both
/// through a private procfs instance and through the host's `/proc`, and
/// never in the host's own namespace; a namespace made without a mount has
/// no `/run/netns` entry.
#[test]
fn netns_sysctls_written_from_inside_land_in_that_namespace() {
    let mut guard = Guard::new("sysctls");
    let host_before =
        std::fs::read_to_string("/proc/sys/net/ipv6/conf/all/accept_dad").expect("host sysctl");
    let mut namespaces = Vec::new();
    for (short, private) in [("p", true), ("h", false)] {
        let name = format!("{}{short}", guard.prefix);
        // The thread enters the namespace it creates, as a lab's builder
        // threads do.
        let made = std::thread::spawn(move || {
            // One namespace named under /run/netns, one held by its
            // descriptor alone.
            NetNs::create_here(&name, private, || {
                let proc = private.then(|| PrivateProc::new().expect("fsopen proc as root"));
                let mut net = NetSysctls::open_here(proc.as_ref())?;
                net.write("ipv6/conf/all/accept_dad", "0")?;
                net.write("ipv4/ip_forward", "1")?;
                net.write("ipv4/tcp_rmem", "4096 131072 8388608")?;
                // A missing key is an error, not a silent no-op.
                assert!(net.write("ipv4/no_such_key", "1").is_err());
                Ok::<(), io::Error>(())
            })
        })
        .join()
        .expect("builder thread");
        let ns = match made {
            Ok((ns, Ok(()))) => ns,
            Ok((ns, Err(e))) => panic!("writing sysctls in {}: {e}", ns.name()),
            Err(e) => panic!("{e}"),
        };
        guard.inodes.insert(ns.inode());
        assert_eq!(ns.path().is_some(), private, "{}", ns.name());
        assert_eq!(
            guard.run_dir_entries().contains(&ns.name().to_string()),
            private,
            "/run/netns entry of {}",
            ns.name()
        );
        for (key, want) in [
            ("net.ipv6.conf.all.accept_dad", "0"),
            ("net.ipv4.ip_forward", "1"),
            ("net.ipv4.tcp_rmem", "4096\t131072\t8388608"),
        ] {
            let got = sysctl_read(&ns, key).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(got, want, "{key} in {}", ns.name());
        }
        namespaces.push(ns);
    }
    let host_after =
        std::fs::read_to_string("/proc/sys/net/ipv6/conf/all/accept_dad").expect("host sysctl");
    assert_eq!(
        host_before, host_after,
        "the host's own setting is untouched"
    );
    guard.finish(namespaces);
}

/// `ensure_connected_route` puts back a connected route the kernel lost,
/// so traffic to the neighbour flows again, and leaves one that is there.
#[tokio::test]
async fn netns_a_lost_connected_route_is_put_back() {
    let mut guard = Guard::new("connected");
    let a = guard.create("a");
    let b = guard.create("b");
    let na = Netlink::new(&a).unwrap_or_else(|e| panic!("{e}"));
    let nb = Netlink::new(&b).unwrap_or_else(|e| panic!("{e}"));
    na.add_veth("to-b", &b, "to-a")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    up_all(&na, &["lo", "to-b"]).await;
    up_all(&nb, &["lo", "to-a"]).await;
    addr(&na, "to-b", "2001:2::2", 127).await;
    addr(&nb, "to-a", "2001:2::3", 127).await;
    ready_all(&na, &["to-b"]).await;
    ready_all(&nb, &["to-a"]).await;
    let route = || {
        run_peer(
            "ip",
            &["-n", a.name(), "-6", "route", "show", "dev", "to-b"],
        )
    };
    assert!(route().contains("2001:2::2/127"), "{}", route());
    // Present: nothing to do.
    let added = na
        .ensure_connected_route("to-b", ip("2001:2::2"), 127)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!added);
    // Lost, as the kernel loses it when an allocation fails at link-up.
    run_peer(
        "ip",
        &[
            "-n",
            a.name(),
            "-6",
            "route",
            "del",
            "2001:2::2/127",
            "dev",
            "to-b",
        ],
    );
    assert!(!route().contains("2001:2::2/127"), "{}", route());
    assert!(
        tcp_round_trip(&a, None, &b, "[2001:2::3]:7001".parse().expect("addr"))
            .await
            .is_err(),
        "IPv6 to the neighbour without a connected route"
    );
    let added = na
        .ensure_connected_route("to-b", ip("2001:2::2"), 127)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(added);
    let shown = route();
    assert!(
        shown.contains("2001:2::2/127 proto kernel metric 256"),
        "{shown}"
    );
    tcp_round_trip(&a, None, &b, "[2001:2::3]:7002".parse().expect("addr"))
        .await
        .unwrap_or_else(|e| panic!("IPv6 once the route is back: {e}"));
    drop((na, nb));
    guard.finish(vec![a, b]);
}

/// A batch installs thousands of routes over several datagrams, all of
/// them there afterwards, and a route the kernel refuses comes back as
/// an error naming that route, with the kernel's reason.
#[tokio::test]
async fn netns_batch_installs_many_routes_and_names_a_refused_one() {
    use rtnetlink::packet_route::RouteNetlinkMessage;
    let mut guard = Guard::new("batch");
    let a = guard.create("a");
    let b = guard.create("b");
    let na = Netlink::new(&a).unwrap_or_else(|e| panic!("{e}"));
    na.add_veth("to-b", &b, "to-a")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    up_all(&na, &["lo", "to-b"]).await;
    addr(&na, "to-b", "198.19.0.0", 31).await;
    addr(&na, "to-b", "2001:2::a", 127).await;
    let dev = na
        .cached_index("to-b")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // 2000 IPv4 and 2000 IPv6 /32 and /128 routes through the neighbour:
    // about 250 KB of requests, so several datagrams.
    let mut routes: Vec<(IpAddr, u8, IpAddr)> = Vec::new();
    for i in 0..2000u32 {
        let v4 = std::net::Ipv4Addr::from(u32::from(std::net::Ipv4Addr::new(198, 18, 0, 0)) + i);
        routes.push((IpAddr::V4(v4), 32, ip("198.19.0.1")));
        let v6 = std::net::Ipv6Addr::from(
            u128::from("2001:2:0:ffff::".parse::<std::net::Ipv6Addr>().expect("v6"))
                + u128::from(i),
        );
        routes.push((IpAddr::V6(v6), 128, ip("2001:2::b")));
    }
    let requests = |rs: &[(IpAddr, u8, IpAddr)]| -> Vec<RouteNetlinkMessage> {
        rs.iter()
            .map(|(d, l, g)| {
                RouteNetlinkMessage::NewRoute(
                    super::route_request(*d, *l, &[(*g, dev)]).unwrap_or_else(|e| panic!("{e}")),
                )
            })
            .collect()
    };
    let batch = Batch::open(&a).unwrap_or_else(|e| panic!("{e}"));
    batch
        .send(requests(&routes), |i| format!("route {i}"))
        .unwrap_or_else(|e| panic!("request {}: {}", e.index, e.error));
    let count = |family: &str| {
        run_peer(
            "ip",
            &["-n", a.name(), family, "route", "show", "proto", "static"],
        )
        .lines()
        .count()
    };
    assert_eq!((count("-4"), count("-6")), (2000, 2000));
    // Again: every one exists now, more answers than the socket's
    // buffer holds, and the first is the error reported.
    let e = batch
        .send(requests(&routes), |i| format!("route {i}"))
        .expect_err("routes that exist are refused");
    assert_eq!(e.index, 0);
    assert_eq!(e.error.os_error(), Some(libc::EEXIST), "{}", e.error);
    // A gateway on no connected network, after two good routes.
    let bad = [
        (ip("198.18.100.0"), 24, ip("198.19.0.1")),
        (ip("2001:2:0:100::"), 64, ip("2001:2::b")),
        (ip("198.18.101.0"), 24, ip("198.18.250.1")),
    ];
    let e = batch
        .send(requests(&bad), |i| format!("add route {}", bad[i].0))
        .expect_err("an unreachable gateway is refused");
    assert_eq!(e.index, 2);
    let text = e.error.to_string();
    assert!(
        text.contains("add route 198.18.101.0") && text.contains(a.name()),
        "{text}"
    );
    assert_eq!(e.error.os_error(), Some(libc::ENETUNREACH), "{text}");
    assert_eq!((count("-4"), count("-6")), (2001, 2001));
}
