//! Real traffic through an emulated link between two network namespaces
//! (needs root, as CI runs). Each test makes its own pair of namespaces
//! from threads that unshare, so nothing is named and nothing outlives the
//! test: the namespaces go when their sockets and TAP devices close.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use netproof_link::LinkParams;
use netproof_link::emulator::{Config, Emulator};
use netproof_link::tap::Tap;

/// One end: a TAP device in a fresh namespace with `addr/24`, and sockets
/// made there.
struct End {
    tap: Option<Tap>,
    listener: TcpListener,
    client: socket2::Socket,
    icmp: socket2::Socket,
    /// Runs a command inside the namespace (through its pid file).
    ns_path: std::path::PathBuf,
    _keep: mpsc::Sender<()>,
}

fn run(cmd: &mut Command) {
    let out = cmd
        .output()
        .expect("iproute2 is installed (scripts/install-peers.sh)");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn end(dev: &str, addr: &str) -> End {
    let (tx, rx) = mpsc::channel();
    let dev = dev.to_owned();
    let addr = addr.to_owned();
    let (keep_tx, keep_rx) = mpsc::channel::<()>();
    std::thread::spawn(move || {
        // SAFETY: unshare on this thread only (CLONE_NEWNET affects the
        // calling thread); no pointers.
        let rc = unsafe { libc::unshare(libc::CLONE_NEWNET) };
        assert_eq!(
            rc,
            0,
            "unshare(CLONE_NEWNET) needs root: {}",
            std::io::Error::last_os_error()
        );
        // IPv4 only: no neighbour discovery or multicast reports crossing
        // the link and muddying the counts.
        run(Command::new("sysctl").args(["-qw", "net.ipv6.conf.all.disable_ipv6=1"]));
        run(Command::new("sysctl").args(["-qw", "net.ipv6.conf.default.disable_ipv6=1"]));
        let tap = Tap::create(&dev).unwrap();
        run(Command::new("ip").args(["link", "set", "lo", "up"]));
        run(Command::new("ip").args(["addr", "add", &format!("{addr}/24"), "dev", &dev]));
        run(Command::new("ip").args(["link", "set", &dev, "up"]));
        let ip: std::net::IpAddr = addr.parse().unwrap();
        let listener = TcpListener::bind(SocketAddr::new(ip, 7001)).unwrap();
        let client =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        run(Command::new("sysctl").args(["-qw", "net.ipv4.ping_group_range=0 2147483647"]));
        let icmp = socket2::Socket::new(
            socket2::Domain::IPV4,
            socket2::Type::DGRAM,
            Some(socket2::Protocol::ICMPV4),
        )
        .unwrap();
        let on: libc::c_int = 1;
        // SAFETY: SO_TIMESTAMPNS reads an int through the pointer.
        let rc = unsafe {
            libc::setsockopt(
                std::os::fd::AsRawFd::as_raw_fd(&icmp),
                libc::SOL_SOCKET,
                libc::SO_TIMESTAMPNS,
                (&on as *const libc::c_int).cast(),
                4,
            )
        };
        assert_eq!(rc, 0);
        // SAFETY: gettid has no preconditions.
        let tid = unsafe { libc::gettid() };
        let ns_path =
            std::path::PathBuf::from(format!("/proc/{}/task/{tid}/ns/net", std::process::id()));
        tx.send((tap, listener, client, icmp, ns_path)).unwrap();
        // Hold the thread (and its namespace path) until the test ends.
        let _ = keep_rx.recv();
    });
    let (tap, listener, client, icmp, ns_path) = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    End {
        tap: Some(tap),
        listener,
        client,
        icmp,
        ns_path,
        _keep: keep_tx,
    }
}

fn pair(params: LinkParams, name: &str) -> (End, End, Emulator) {
    pair2([params.clone(), params], name)
}

/// A link whose two directions differ: `[a to b, b to a]`.
fn pair2(params: [LinkParams; 2], name: &str) -> (End, End, Emulator) {
    let mut a = end("npt-a", "198.18.250.1");
    let mut b = end("npt-b", "198.18.250.2");
    let emu = Emulator::start(
        Config {
            name: name.into(),
            mtu: 1500,
            params,
            seed: 7,
        },
        a.tap.take().unwrap(),
        b.tap.take().unwrap(),
    )
    .unwrap();
    (a, b, emu)
}

/// Round trips of `n` ICMP echoes from b to a, in seconds, measured as ping
/// does: from the send to the kernel's receive timestamp of the reply (so
/// the test's own wake-up is not counted).
fn ping_rtts(b: &End, n: usize, gap: Duration) -> Vec<f64> {
    use std::os::fd::AsRawFd;
    let fd = b.icmp.as_raw_fd();
    b.icmp
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    let to: SocketAddr = "198.18.250.1:0".parse().unwrap();
    let mut rtts = Vec::new();
    for seq in 0..n as u16 {
        let mut req = [8u8, 0, 0, 0, 0, 0, 0, 0];
        req[6..8].copy_from_slice(&seq.to_be_bytes());
        let sent = std::time::SystemTime::now();
        b.icmp.send_to(&req, &to.into()).unwrap();
        loop {
            let mut buf = [0u8; 64];
            let mut cmsg = [0u64; 16];
            let mut iov = libc::iovec {
                iov_base: buf.as_mut_ptr().cast(),
                iov_len: buf.len(),
            };
            // SAFETY: a zeroed msghdr is valid; the pointers set below
            // outlive the call.
            let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
            msg.msg_iov = &mut iov;
            msg.msg_iovlen = 1;
            msg.msg_control = cmsg.as_mut_ptr().cast();
            msg.msg_controllen = std::mem::size_of_val(&cmsg);
            // SAFETY: msg points at live buffers.
            let len = unsafe { libc::recvmsg(fd, &mut msg, 0) };
            assert!(
                len >= 8,
                "no echo reply: {}",
                std::io::Error::last_os_error()
            );
            if u16::from_be_bytes([buf[6], buf[7]]) != seq {
                continue;
            }
            // SAFETY: walking the control buffer the kernel filled.
            let ts = unsafe {
                let c = libc::CMSG_FIRSTHDR(&msg);
                assert!(!c.is_null() && (*c).cmsg_type == libc::SCM_TIMESTAMPNS);
                *(libc::CMSG_DATA(c) as *const libc::timespec)
            };
            let rx = std::time::UNIX_EPOCH + Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32);
            rtts.push(rx.duration_since(sent).unwrap_or_default().as_secs_f64());
            break;
        }
        std::thread::sleep(gap);
    }
    rtts
}

fn ns_run(ns: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new("nsenter")
        .arg(format!("--net={}", ns.display()))
        .args(args)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn netns_link_delay_gives_the_round_trip_it_promises() {
    let params = LinkParams {
        delay: Duration::from_millis(20),
        ..LinkParams::default()
    };
    let (a, b, emu) = pair(params, "a -- b");
    let mut rtts = ping_rtts(&b, 50, Duration::from_millis(5));
    rtts.sort_by(f64::total_cmp);
    eprintln!(
        "min {:.1} us median {:.1} us max {:.1}",
        rtts[0] * 1e6,
        rtts[25] * 1e6,
        rtts[49] * 1e6
    );
    let min = rtts[0];
    let median = rtts[rtts.len() / 2];
    assert!(
        min >= 0.040,
        "a round trip of {min} s beat the 40 ms the link promises"
    );
    assert!(
        (median - 0.040).abs() < 0.0002,
        "median round trip {median} s is not within 0.2 ms of 40 ms"
    );
    let stats = emu.stop().unwrap();
    assert!(stats.dir[0].segments_out >= 50 && stats.dir[1].segments_out >= 50);
    drop((a, b));
}

#[test]
fn netns_link_carries_tcp_super_frames_without_checksum_errors() {
    let (a, b, emu) = pair(LinkParams::default(), "a -- b");
    let listener = a.listener.try_clone().unwrap();
    let total: u64 = 1 << 30;
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = vec![0u8; 1 << 20];
        let mut got = 0u64;
        loop {
            let n = s.read(&mut buf).unwrap();
            if n == 0 {
                return got;
            }
            got += n as u64;
        }
    });
    let addr: SocketAddr = "198.18.250.1:7001".parse().unwrap();
    b.client
        .connect_timeout(&addr.into(), Duration::from_secs(5))
        .unwrap();
    let mut s: TcpStream = b.client.try_clone().unwrap().into();
    let chunk = vec![0x5au8; 1 << 20];
    let start = Instant::now();
    let mut sent = 0u64;
    while sent < total && start.elapsed() < Duration::from_secs(20) {
        s.write_all(&chunk).unwrap();
        sent += chunk.len() as u64;
    }
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let got = server.join().unwrap();
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(got, sent);
    let stats = emu.stop().unwrap();
    eprintln!(
        "{:.2} Gbit/s; frames in {} carrying {} segments",
        got as f64 * 8.0 / secs / 1e9,
        stats.dir[1].frames_in,
        stats.dir[1].segments_in
    );
    assert!(
        stats.dir[1].segments_in > stats.dir[1].frames_in * 2,
        "TCP should hand the emulator super-frames"
    );
    assert_eq!(
        nstat(
            &a.ns_path,
            &["TcpInCsumErrors", "IpInHdrErrors", "IpExtInCsumErrors"]
        ),
        [0, 0, 0],
        "the receiver counted errors"
    );
    drop((a, b));
}

/// Reads the named counters of `nstat -az` in a namespace.
fn nstat(ns: &std::path::Path, names: &[&str]) -> Vec<u64> {
    let out = ns_run(ns, &["nstat", "-az"]);
    names
        .iter()
        .map(|n| {
            out.lines()
                .find_map(|l| {
                    let v: Vec<&str> = l.split_whitespace().collect();
                    (v.first() == Some(n)).then(|| v[1].parse().unwrap())
                })
                .unwrap_or_else(|| panic!("nstat shows no `{n}`:\n{out}"))
        })
        .collect()
}

#[test]
fn netns_link_jitter_reproduces_its_standard_deviation() {
    // Jitter on the replies' way only (a to b), so the round trips vary by
    // exactly the configured distribution.
    let jittery = LinkParams {
        delay: Duration::from_millis(5),
        jitter: Duration::from_millis(1),
        ..LinkParams::default()
    };
    let (_a, b, emu) = pair2([jittery, LinkParams::default()], "a -- b");
    let mut rtts = ping_rtts(&b, 500, Duration::from_millis(2));
    rtts.remove(0); // the first may wait for address resolution
    rtts.sort_by(f64::total_cmp);
    // Estimated from the quartiles (for a normal distribution the
    // interquartile range is 1.349 standard deviations), so a reply the
    // busy host delayed now and then does not swing the figure.
    let q = |p: f64| rtts[((rtts.len() - 1) as f64 * p).round() as usize];
    let sd = (q(0.75) - q(0.25)) / 1.349;
    let median = q(0.5);
    assert!(
        (sd - 0.001).abs() < 0.0001,
        "round-trip sd {:.3} ms for a 1 ms jitter",
        sd * 1e3
    );
    assert!(
        (median - 0.005).abs() < 0.0002,
        "median {:.3} ms",
        median * 1e3
    );
    drop(emu);
}

#[test]
fn netns_link_loses_wire_segments_of_split_super_frames_exactly() {
    // 1 % loss a to b (the data's way); the receiver is a.
    let lossy = LinkParams {
        loss: netproof_link::params::Loss::Random {
            p: 0.01,
            correlation: 0.0,
        },
        ..LinkParams::default()
    };
    let (a, b, emu) = pair2([LinkParams::default(), lossy], "a -- b");

    let listener = a.listener.try_clone().unwrap();
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = vec![0u8; 1 << 20];
        let mut got = 0u64;
        loop {
            let n = s.read(&mut buf).unwrap();
            if n == 0 {
                return got;
            }
            got += n as u64;
        }
    });
    let addr: SocketAddr = "198.18.250.1:7001".parse().unwrap();
    b.client
        .connect_timeout(&addr.into(), Duration::from_secs(5))
        .unwrap();
    let mut s: TcpStream = b.client.try_clone().unwrap().into();
    // Counted from here, once the handshake's last packet has crossed:
    // address resolution is done and the link is quiet.
    std::thread::sleep(Duration::from_millis(50));
    let counters = ["IpInReceives", "IpInHdrErrors", "TcpInCsumErrors"];
    let before = nstat(&a.ns_path, &counters);
    let written_before = emu.stats().unwrap().frames_written[1];
    let chunk = vec![0x33u8; 1 << 20];
    let sent: u64 = 256 << 20;
    for _ in 0..(sent >> 20) {
        s.write_all(&chunk).unwrap();
    }
    s.shutdown(std::net::Shutdown::Write).unwrap();
    // Every byte arrives despite the loss: TCP repaired it, so every
    // piece the emulator cut was accepted.
    assert_eq!(server.join().unwrap(), sent);
    let stats = emu.stop().unwrap();
    let d = &stats.dir[1];
    let lost = d.dropped[netproof_link::core::DropReason::Loss.index()];
    let n = d.segments_in;
    let p = lost as f64 / n as f64;
    // The binomial 99 % interval around 1 %.
    let sd = (0.01 * 0.99 / n as f64).sqrt();
    assert!(
        (p - 0.01).abs() < 2.576 * sd,
        "{lost} of {n} segments lost: {:.4} %",
        p * 100.0
    );
    assert!(
        n > d.frames_in * 4,
        "TCP handed over super-frames ({} frames, {n} segments)",
        d.frames_in
    );
    let after = nstat(&a.ns_path, &counters);
    assert_eq!(after[1] - before[1], 0, "IP header errors at the receiver");
    assert_eq!(
        after[2] - before[2],
        0,
        "TCP checksum errors at the receiver"
    );
    // The receiver took every frame the emulator wrote, whole super-frames
    // and cut pieces alike (a super-frame is one IP receive for the
    // kernel), and refused none.
    assert_eq!(stats.write_failures[1], 0);
    assert_eq!(
        after[0] - before[0],
        stats.frames_written[1] - written_before,
        "frames accepted vs written"
    );
    assert!(
        d.segments_out >= n - lost,
        "every segment not lost was forwarded"
    );
}

#[test]
fn netns_link_drops_and_counts_a_frame_larger_than_its_mtu() {
    let (a, b, emu) = pair(LinkParams::default(), "a -- b");
    // The TAP devices take 9000 bytes; the emulated link only its 1500.
    ns_run(&a.ns_path, &["ip", "link", "set", "npt-a", "mtu", "9000"]);
    ns_run(&b.ns_path, &["ip", "link", "set", "npt-b", "mtu", "9000"]);
    // One UDP datagram of 4000 bytes: it fits the device, not the link.
    ns_run(
        &b.ns_path,
        &[
            "python3",
            "-c",
            "import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); \
             s.sendto(b'x'*4000, ('198.18.250.1', 9)); s.sendto(b'y'*100, ('198.18.250.1', 9))",
        ],
    );
    std::thread::sleep(Duration::from_millis(200));
    let stats = emu.stats().unwrap();
    let d = &stats.dir[1];
    assert_eq!(
        d.dropped[netproof_link::core::DropReason::Oversize.index()],
        1
    );
    assert!(emu.is_alive(), "the emulator goes on");
    assert!(d.segments_out >= 1, "the small datagram crossed");
    drop((a, b));
}

#[test]
fn netns_link_emulator_death_is_seen_not_taken_for_loss() {
    // Deleting a TAP device under the emulator ends its reads with an
    // error: the engine stops, says why, and the handle sees it.
    let (a, b, emu) = pair(LinkParams::default(), "a -- b");
    assert!(emu.is_alive());
    ns_run(&a.ns_path, &["ip", "link", "del", "npt-a"]);
    let deadline = Instant::now() + Duration::from_secs(5);
    while emu.is_alive() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        !emu.is_alive(),
        "the emulator should notice its device is gone"
    );
    let why = emu.stop().expect_err("a dead emulator reports why");
    assert!(why.contains("npt-a"), "{why}");
    drop((a, b));
}
