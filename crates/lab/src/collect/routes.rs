//! Route monitoring: when each watched node's routing table changed.
//!
//! A case's `monitor_routes` names nodes; for each, [`RouteMonitor`] opens
//! a route-netlink socket inside the node's namespace, subscribed to the
//! IPv4 and IPv6 route groups, and a reader thread stamps every
//! `RTM_NEWROUTE` / `RTM_DELROUTE` the moment it arrives. The stamp is
//! what matters for convergence (when did this router's FIB change?), so
//! it is taken on the thread blocked in `recv`, not at the 100 ms
//! collection that turns the events into `route.change` samples.
//!
//! Only routes of the main table that forward or refuse traffic (unicast,
//! blackhole, unreachable, prohibit) are kept: local, broadcast and
//! multicast routes and IPv6 link-local prefixes follow addresses, not
//! routing. Decoding ([`decode`]) is pure and never panics on what the
//! kernel sends; the thread and the socket are the only I/O.
//!
//! Bounded: each node keeps at most [`QUEUE_LIMIT`] events between two
//! collections; more, and events the kernel dropped because the socket's
//! buffer overflowed (`ENOBUFS`), are counted and reported as a warning
//! event. The thread waits at most [`POLL`] in `recv`, so dropping the
//! monitor stops it within that.
//!
//! A kernel quirk this shows rather than hides: when a link goes down the
//! kernel removes IPv4 routes through it without announcing it, and marks
//! a dead ECMP member without an announcement; IPv6 deletions are
//! announced. Routing daemons learn of those from link events.

use std::collections::VecDeque;
use std::io;
use std::net::IpAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use netproof_sample::metric::ROUTE_CHANGE;
use netproof_sample::{Event, Sample, Severity, Sink, Timestamp};
use rtnetlink::packet_core::{NetlinkMessage, NetlinkPayload};
use rtnetlink::packet_route::RouteNetlinkMessage;
use rtnetlink::packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteType,
};

use super::{Collector, CollectorError};
use crate::netns::NetNs;

/// Most events kept per node between two collections.
pub(crate) const QUEUE_LIMIT: usize = 100_000;

/// The longest the reader thread blocks in `recv` before checking whether
/// it should stop.
pub(crate) const POLL: Duration = Duration::from_millis(50);

/// The kernel's multicast groups for IPv4 and IPv6 route changes
/// (`RTMGRP_IPV4_ROUTE`, `RTMGRP_IPV6_ROUTE`).
const GROUPS: u32 = 0x40 | 0x400;

/// What one route message said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RouteEvent {
    /// `add` or `del`.
    pub(crate) event: &'static str,
    /// The destination, `198.18.0.8/30` or `2001:2::/64`.
    pub(crate) prefix: String,
    /// Who installed it: `kernel`, `static`, `bird`, `zebra`, ...
    pub(crate) proto: String,
    /// Next hops: the members of an ECMP route, 1 for a route through one
    /// gateway or interface, 0 for one that refuses traffic.
    pub(crate) next_hops: usize,
}

/// Decodes one datagram of route-netlink messages into the route events
/// worth a sample. Messages that do not decode, and messages of other
/// kinds, are skipped: the kernel is trusted to frame, not to match this
/// crate's idea of every attribute.
pub(crate) fn decode(mut buf: &[u8]) -> Vec<RouteEvent> {
    let mut out = Vec::new();
    // A netlink header is 16 bytes; messages are padded to 4 bytes.
    while buf.len() >= 16 {
        let len = u32::from_ne_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
        if len < 16 || len > buf.len() {
            break;
        }
        if let Ok(m) = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&buf[..len]) {
            match m.payload {
                NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewRoute(r)) => {
                    out.extend(event("add", &r));
                }
                NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelRoute(r)) => {
                    out.extend(event("del", &r));
                }
                _ => {}
            }
        }
        let step = len.next_multiple_of(4).min(buf.len());
        buf = &buf[step..];
    }
    out
}

fn event(event: &'static str, r: &RouteMessage) -> Option<RouteEvent> {
    let h = &r.header;
    let table = r
        .attributes
        .iter()
        .find_map(|a| match a {
            RouteAttribute::Table(t) => Some(*t),
            _ => None,
        })
        .unwrap_or(u32::from(h.table));
    if table != u32::from(RouteHeader::RT_TABLE_MAIN) {
        return None;
    }
    let forwards = matches!(h.kind, RouteType::Unicast);
    let refuses = matches!(
        h.kind,
        RouteType::BlackHole | RouteType::Unreachable | RouteType::Prohibit
    );
    if !forwards && !refuses {
        return None;
    }
    let dest = r.attributes.iter().find_map(|a| match a {
        RouteAttribute::Destination(RouteAddress::Inet(a)) => Some(IpAddr::V4(*a)),
        RouteAttribute::Destination(RouteAddress::Inet6(a)) => Some(IpAddr::V6(*a)),
        _ => None,
    });
    let dest = match (dest, h.address_family) {
        (Some(d), _) => d,
        // No destination: the default route.
        (None, rtnetlink::packet_route::AddressFamily::Inet) => {
            IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)
        }
        (None, rtnetlink::packet_route::AddressFamily::Inet6) => {
            IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED)
        }
        (None, _) => return None,
    };
    if let IpAddr::V6(v6) = dest
        && v6.is_unicast_link_local()
    {
        return None;
    }
    let next_hops = if refuses {
        0
    } else {
        r.attributes
            .iter()
            .find_map(|a| match a {
                RouteAttribute::MultiPath(hops) => Some(hops.len()),
                _ => None,
            })
            .unwrap_or(1)
    };
    Some(RouteEvent {
        event,
        prefix: format!("{dest}/{}", h.destination_prefix_length),
        proto: h.protocol.to_string(),
        next_hops,
    })
}

/// What a node's reader thread hands over.
#[derive(Default)]
struct Queue {
    events: VecDeque<(Timestamp, RouteEvent)>,
    /// Events discarded because the queue was full.
    discarded: u64,
    /// Times the kernel reported lost messages (`ENOBUFS`).
    overruns: u64,
    /// The error that stopped the reader, if one did.
    failed: Option<io::Error>,
}

/// One watched node.
struct Watch {
    node: String,
    queue: Arc<Mutex<Queue>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            // Returns within POLL: the thread checks `stop` after each recv.
            let _ = t.join();
        }
    }
}

/// The route-change collector of one case repetition; see the
/// [module docs](self).
pub(crate) struct RouteMonitor {
    watches: Vec<Watch>,
}

impl RouteMonitor {
    /// Starts watching `nodes`, each in its namespace.
    pub(crate) fn start(nodes: &[(String, Arc<NetNs>)]) -> Result<RouteMonitor, CollectorError> {
        let mut watches = Vec::with_capacity(nodes.len());
        for (node, ns) in nodes {
            let failed = |source: io::Error| CollectorError::RouteMonitor {
                node: node.clone(),
                source,
            };
            let fd = ns
                .run(open_socket)
                .map_err(|e| failed(io::Error::other(e)))?
                .map_err(failed)?;
            let queue = Arc::new(Mutex::new(Queue::default()));
            let stop = Arc::new(AtomicBool::new(false));
            let thread = std::thread::Builder::new()
                .name(format!("routes-{node}"))
                .spawn({
                    let (queue, stop) = (queue.clone(), stop.clone());
                    move || read(&fd, &queue, &stop)
                })
                .map_err(failed)?;
            watches.push(Watch {
                node: node.clone(),
                queue,
                stop,
                thread: Some(thread),
            });
        }
        Ok(RouteMonitor { watches })
    }
}

/// A route-netlink socket subscribed to route changes, with a receive
/// timeout of [`POLL`]; call it inside the namespace to watch.
fn open_socket() -> io::Result<OwnedFd> {
    // SAFETY: plain socket calls on a descriptor this function owns; every
    // pointer passed points at a live local of the size given.
    unsafe {
        let fd = libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::NETLINK_ROUTE,
        );
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let fd = OwnedFd::from_raw_fd(fd);
        let mut addr: libc::sockaddr_nl = std::mem::zeroed();
        addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        addr.nl_groups = GROUPS;
        if libc::bind(
            fd.as_raw_fd(),
            (&raw const addr).cast(),
            std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
        ) != 0
        {
            return Err(io::Error::last_os_error());
        }
        let timeout = libc::timeval {
            tv_sec: 0,
            tv_usec: POLL.as_micros() as libc::suseconds_t,
        };
        setsockopt(&fd, libc::SO_RCVTIMEO, &timeout)?;
        // Room for a burst (a daemon installing a large table at once);
        // what still overflows is counted, not silently lost.
        setsockopt(&fd, libc::SO_RCVBUF, &(4 << 20_i32))?;
        Ok(fd)
    }
}

fn setsockopt<T>(fd: &OwnedFd, opt: libc::c_int, value: &T) -> io::Result<()> {
    // SAFETY: `value` points at a live T of the size given.
    let r = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            opt,
            (value as *const T).cast(),
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The reader thread: receives until told to stop or the socket fails.
fn read(fd: &OwnedFd, queue: &Mutex<Queue>, stop: &AtomicBool) {
    let mut buf = vec![0u8; 64 * 1024];
    while !stop.load(Ordering::Relaxed) {
        // SAFETY: `buf` is a live buffer of the length given.
        let n = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        let at = Timestamp::now();
        if n < 0 {
            let e = io::Error::last_os_error();
            let mut q = lock(queue);
            match e.raw_os_error() {
                Some(libc::EAGAIN | libc::EINTR) => {}
                Some(libc::ENOBUFS) => q.overruns += 1,
                _ => {
                    q.failed = Some(e);
                    return;
                }
            }
            continue;
        }
        let events = decode(&buf[..n as usize]);
        if events.is_empty() {
            continue;
        }
        let mut q = lock(queue);
        for e in events {
            if q.events.len() < QUEUE_LIMIT {
                q.events.push_back((at, e));
            } else {
                q.discarded += 1;
            }
        }
    }
}

fn lock(q: &Mutex<Queue>) -> std::sync::MutexGuard<'_, Queue> {
    q.lock().unwrap_or_else(|e| e.into_inner())
}

impl Collector for RouteMonitor {
    fn name(&self) -> &'static str {
        "route monitor"
    }

    fn begin(&mut self) {
        for w in &self.watches {
            *lock(&w.queue) = Queue::default();
        }
    }

    fn collect(&mut self, sink: &dyn Sink) -> Result<(), CollectorError> {
        for w in &self.watches {
            let (events, discarded, overruns, failed) = {
                let mut q = lock(&w.queue);
                (
                    std::mem::take(&mut q.events),
                    std::mem::take(&mut q.discarded),
                    std::mem::take(&mut q.overruns),
                    q.failed.take(),
                )
            };
            for (at, e) in events {
                sink.sample(
                    Sample::num(&ROUTE_CHANGE, e.next_hops as f64)
                        .at(at)
                        .label("node", w.node.clone())
                        .label("prefix", e.prefix)
                        .label("event", e.event)
                        .label("proto", e.proto),
                );
            }
            if discarded > 0 || overruns > 0 {
                sink.event(
                    Event::new(
                        "route_monitor.overflow",
                        Severity::Warning,
                        format!(
                            "route changes on `{}` were not all recorded: {discarded} over the {QUEUE_LIMIT}-event limit between collections, {overruns} kernel overruns",
                            w.node
                        ),
                    )
                    .label("node", w.node.clone()),
                );
            }
            if let Some(source) = failed {
                return Err(CollectorError::RouteMonitor {
                    node: w.node.clone(),
                    source,
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtnetlink::packet_core::NetlinkHeader;
    use rtnetlink::packet_route::AddressFamily;
    use rtnetlink::packet_route::route::{RouteNextHop, RouteProtocol};

    fn message(kind: &str, r: RouteMessage) -> Vec<u8> {
        let inner = match kind {
            "add" => RouteNetlinkMessage::NewRoute(r),
            _ => RouteNetlinkMessage::DelRoute(r),
        };
        let mut m = NetlinkMessage::new(
            NetlinkHeader::default(),
            NetlinkPayload::InnerMessage(inner),
        );
        m.finalize();
        let mut buf = vec![0u8; m.buffer_len()];
        m.serialize(&mut buf);
        buf
    }

    fn route(dest: Option<IpAddr>, len: u8, attrs: Vec<RouteAttribute>) -> RouteMessage {
        let mut r = RouteMessage::default();
        r.header.address_family = match dest {
            Some(IpAddr::V6(_)) => AddressFamily::Inet6,
            _ => AddressFamily::Inet,
        };
        r.header.destination_prefix_length = len;
        r.header.table = RouteHeader::RT_TABLE_MAIN;
        r.header.protocol = RouteProtocol::Static;
        r.header.kind = RouteType::Unicast;
        if let Some(d) = dest {
            r.attributes.push(RouteAttribute::Destination(d.into()));
        }
        r.attributes.extend(attrs);
        r
    }

    fn gw(a: &str) -> RouteAttribute {
        RouteAttribute::Gateway(a.parse::<IpAddr>().unwrap().into())
    }

    #[test]
    fn a_datagram_of_several_messages_decodes_in_order() {
        let mut buf = message(
            "add",
            route(
                Some("198.18.0.8".parse().unwrap()),
                30,
                vec![gw("198.18.0.1")],
            ),
        );
        let hops = ["2001:2::1", "2001:2::2"]
            .iter()
            .map(|a| {
                let mut h = RouteNextHop::default();
                h.attributes.push(gw(a));
                h
            })
            .collect();
        buf.extend(message(
            "del",
            route(
                Some("2001:2:0:ffff::6".parse().unwrap()),
                128,
                vec![RouteAttribute::MultiPath(hops)],
            ),
        ));
        let events = decode(&buf);
        assert_eq!(
            events,
            [
                RouteEvent {
                    event: "add",
                    prefix: "198.18.0.8/30".into(),
                    proto: "static".into(),
                    next_hops: 1,
                },
                RouteEvent {
                    event: "del",
                    prefix: "2001:2:0:ffff::6/128".into(),
                    proto: "static".into(),
                    next_hops: 2,
                },
            ]
        );
    }

    #[test]
    fn default_and_blackhole_routes() {
        let mut r = route(None, 0, vec![gw("198.18.0.1")]);
        r.header.protocol = RouteProtocol::Bird;
        assert_eq!(decode(&message("add", r))[0].prefix, "0.0.0.0/0");
        let mut r = route(Some("198.19.0.0".parse().unwrap()), 16, vec![]);
        r.header.kind = RouteType::BlackHole;
        let e = &decode(&message("add", r))[0];
        assert_eq!((e.next_hops, e.prefix.as_str()), (0, "198.19.0.0/16"));
    }

    #[test]
    fn local_tables_link_local_and_address_routes_are_left_out() {
        let mut local = route(Some("198.18.0.1".parse().unwrap()), 32, vec![]);
        local.header.kind = RouteType::Local;
        let mut other_table = route(Some("198.18.0.0".parse().unwrap()), 24, vec![]);
        other_table.header.table = 255;
        let mut big_table = route(Some("198.18.0.0".parse().unwrap()), 24, vec![]);
        big_table.attributes.push(RouteAttribute::Table(1000));
        let link_local = route(Some("fe80::".parse().unwrap()), 64, vec![]);
        for r in [local, other_table, big_table, link_local] {
            assert_eq!(decode(&message("del", r.clone())), [], "{r:?}");
        }
    }

    #[test]
    fn truncated_and_garbage_input_decodes_to_nothing_without_panicking() {
        let good = message(
            "add",
            route(
                Some("198.18.0.8".parse().unwrap()),
                30,
                vec![gw("198.18.0.1")],
            ),
        );
        for cut in 0..good.len() {
            let _ = decode(&good[..cut]);
        }
        assert_eq!(decode(&[0xff; 40]), []);
        // A length field beyond the datagram ends decoding.
        let mut bad = good.clone();
        bad[0] = 0xff;
        assert_eq!(decode(&bad), []);
    }

    /// What a queue holds is turned into samples at collection, and what
    /// did not fit is reported once as a warning naming the node.
    #[test]
    fn collection_empties_the_queue_and_reports_what_overflowed() {
        let queue = Arc::new(Mutex::new(Queue::default()));
        {
            let mut q = lock(&queue);
            let e = RouteEvent {
                event: "del",
                prefix: "2001:2::/127".into(),
                proto: "kernel".into(),
                next_hops: 1,
            };
            q.events.push_back((Timestamp(42), e));
            q.discarded = 7;
            q.overruns = 1;
        }
        let mut monitor = RouteMonitor {
            watches: vec![Watch {
                node: "r1".into(),
                queue,
                stop: Arc::default(),
                thread: None,
            }],
        };
        let sink = netproof_sample::MemorySink::new();
        monitor.collect(&sink).expect("collect");
        monitor.collect(&sink).expect("collect again");
        let c = sink.contents();
        assert_eq!(c.samples.len(), 1);
        let s = &c.samples[0];
        assert_eq!((s.metric.as_str(), s.time), ("route.change", Timestamp(42)));
        assert_eq!(s.labels["node"], "r1");
        assert_eq!(s.labels["event"], "del");
        assert_eq!(s.labels["prefix"], "2001:2::/127");
        assert_eq!(c.events.len(), 1, "{:?}", c.events);
        assert!(
            c.events[0]
                .message
                .contains("7 over the 100000-event limit")
        );
        assert!(c.events[0].message.contains("1 kernel overruns"));
    }

    /// On a real namespace: a static route added and deleted is seen as
    /// an `add` and a `del`, each stamped when its change was made.
    #[tokio::test]
    async fn netns_route_monitor_sees_a_static_route_come_and_go() {
        use crate::netns::Netlink;
        let prefix = format!("np-test-{}-routes-", std::process::id());
        let a = Arc::new(NetNs::create(&format!("{prefix}a")).unwrap_or_else(|e| panic!("{e}")));
        let b = NetNs::create(&format!("{prefix}b")).unwrap_or_else(|e| panic!("{e}"));
        let outcome = async {
            let na = Netlink::new(&a).map_err(|e| e.to_string())?;
            na.add_veth("p1", &b, "p1")
                .await
                .map_err(|e| e.to_string())?;
            na.add_address("p1", "198.18.0.0".parse().unwrap(), 31)
                .await
                .map_err(|e| e.to_string())?;
            na.set_up("p1").await.map_err(|e| e.to_string())?;
            let mut monitor =
                RouteMonitor::start(&[("a".into(), a.clone())]).map_err(|e| e.to_string())?;
            monitor.begin();
            let before = Timestamp::now();
            let via = [("198.18.0.1".parse().unwrap(), "p1")];
            na.add_route("198.18.9.0".parse().unwrap(), 24, &via)
                .await
                .map_err(|e| e.to_string())?;
            let added = Timestamp::now();
            let ip = std::process::Command::new("ip")
                .args(["-n", &format!("{prefix}a"), "route", "del", "198.18.9.0/24"])
                .status()
                .map_err(|e| e.to_string())?;
            let deleted = Timestamp::now();
            if !ip.success() {
                return Err("ip route del failed".to_string());
            }
            // The reader thread stamps on arrival; give it a bounded moment.
            let sink = netproof_sample::MemorySink::new();
            for _ in 0..50 {
                monitor.collect(&sink).map_err(|e| e.to_string())?;
                if sink.contents().samples.len() >= 2 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            let samples = sink.contents().samples;
            let ours: Vec<_> = samples
                .iter()
                .filter(|s| s.labels["prefix"] == "198.18.9.0/24")
                .collect();
            let [add, del] = ours[..] else {
                return Err(format!("expected an add and a del: {samples:#?}"));
            };
            if add.labels["event"] != "add" || del.labels["event"] != "del" {
                return Err(format!("events out of order: {ours:#?}"));
            }
            // Stamped on arrival at the reader thread: never before the
            // change was asked for, and (scheduling aside) within a few ms
            // of the call that made it returning, which may return first.
            let lag = |t: Timestamp, call: Timestamp| t.0 - call.0 < 50_000_000;
            let in_order = before <= add.time && added <= del.time;
            if !(in_order && lag(add.time, added) && lag(del.time, deleted)) {
                return Err(format!("stamps outside their calls: {ours:#?}"));
            }
            if add.labels["node"] != "a" || add.labels["proto"] != "static" {
                return Err(format!("labels: {add:#?}"));
            }
            drop(monitor);
            Ok(())
        }
        .await;
        // The monitor and the netlink handle are gone: the namespace is ours
        // alone again.
        if let Ok(a) = Arc::try_unwrap(a) {
            let _ = a.delete();
        }
        let _ = b.delete();
        outcome.unwrap_or_else(|e: String| panic!("{e}"));
    }
}
