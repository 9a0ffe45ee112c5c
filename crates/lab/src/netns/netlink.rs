//! [`Netlink`]: a route-netlink handle that acts inside one namespace.
//!
//! A netlink socket acts in the namespace it was created in, whichever
//! thread uses it later. So the socket is opened from a thread inside the
//! namespace ([`NetNs::run`]) and then driven by the caller's tokio
//! runtime like any other socket: every request below changes that
//! namespace and no other, and no runtime thread ever calls `setns`.
//!
//! Interfaces are named by the caller (the lab maps plan names to kernel
//! names before calling) and looked up by name in each request, so errors
//! say `interface `veth0` in namespace `np-r1-a`` instead of an index.
//! Name checks happen here, before the kernel answers with a bare EINVAL.
//!
//! Not here: bridges, TAP devices and addresses removal, which the lab adds
//! through [`Netlink::handle`] as it needs them; `tbf` rates are in
//! [`super::tbf`].

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::AsRawFd;
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use rtnetlink::packet_route::AddressFamily;
use rtnetlink::packet_route::address::{AddressHeaderFlags, AddressMessage};
use rtnetlink::packet_route::link::{
    AfSpecInet6, AfSpecUnspec, Inet6IfaceFlags, InfoData, InfoVeth, LinkAttribute, LinkExtentMask,
    LinkFlags, LinkMessage,
};
use rtnetlink::packet_route::route::RouteMessage;
use rtnetlink::sys::protocols::NETLINK_ROUTE;
use rtnetlink::sys::{AsyncSocket, Socket, SocketAddr};
use rtnetlink::{
    AddressMessageBuilder, LinkUnspec, LinkVeth, RouteMessageBuilder, RouteNextHopBuilder,
};
use tokio::io::unix::AsyncFd;

use super::{NetNs, NetnsError};

/// The kernel's limit on interface names: IFNAMSIZ (16) less the NUL.
pub const IFNAME_MAX: usize = 15;

/// A route-netlink connection whose socket lives in one namespace.
///
/// Its connection task runs on the runtime that was current when it was
/// made and is stopped when the handle is dropped. The socket pins the
/// namespace until then: drop handles before (or with) the namespace.
pub struct Netlink {
    ns: String,
    handle: rtnetlink::Handle,
    connection: tokio::task::JoinHandle<()>,
    /// Interface indexes already looked up. An index is stable while the
    /// interface exists, and a lab builds hundreds of requests against the
    /// same few interfaces; each lookup saved is a netlink round trip.
    /// `delete_link` forgets the name and `index` always asks the kernel;
    /// the lab deletes interfaces only by deleting whole namespaces.
    indexes: std::sync::Mutex<std::collections::HashMap<String, u32>>,
}

impl std::fmt::Debug for Netlink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Netlink").field("ns", &self.ns).finish()
    }
}

impl Drop for Netlink {
    fn drop(&mut self) {
        // Dropping the task drops the socket; without this the connection
        // would live until the runtime shuts down.
        self.connection.abort();
    }
}

impl Netlink {
    /// Opens a netlink handle inside `ns`, driven by the current tokio
    /// runtime (which must have IO enabled, as for any tokio socket).
    pub fn new(ns: &NetNs) -> Result<Netlink, NetnsError> {
        let socket = ns.run(Self::open_socket)?;
        Self::with_socket(ns, socket)
    }

    /// Opens a non-blocking netlink route socket in the calling thread's
    /// namespace (for [`NetNs::create_here`]'s builder threads).
    pub fn open_socket() -> io::Result<Socket> {
        let socket = Socket::new(NETLINK_ROUTE)?;
        socket.set_non_blocking(true)?;
        Ok(socket)
    }

    /// A handle over a socket [`Netlink::open_socket`] made inside `ns`.
    pub fn with_socket(ns: &NetNs, socket: io::Result<Socket>) -> Result<Netlink, NetnsError> {
        let name = ns.name().to_string();
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| NetnsError::NoRuntime { ns: name.clone() })?;
        let open_err = |source| NetnsError::Namespace {
            ns: name.clone(),
            op: "open a netlink socket in".into(),
            source,
        };
        let socket = socket.map_err(open_err)?;
        let socket = NsSocket::register(socket).map_err(open_err)?;
        let (connection, handle, _unsolicited) = rtnetlink::from_socket(socket);
        let connection = runtime.spawn(connection);
        Ok(Netlink {
            ns: name,
            handle,
            connection,
            indexes: std::sync::Mutex::default(),
        })
    }

    /// The namespace this handle acts in.
    pub fn namespace(&self) -> &str {
        &self.ns
    }

    /// The underlying rtnetlink handle, for requests this type does not
    /// wrap. Requests on it act in this namespace too.
    pub fn handle(&self) -> &rtnetlink::Handle {
        &self.handle
    }

    /// The kernel's index of interface `ifname`.
    pub async fn index(&self, ifname: &str) -> Result<u32, NetnsError> {
        // Asked explicitly, the kernel answers, not the cache: the peer of a
        // veth may have taken this end with it.
        let op = format!("look up interface `{ifname}`");
        let found = self.link(ifname, &op).await;
        let mut cache = self.indexes.lock().unwrap_or_else(|e| e.into_inner());
        match found {
            Ok(link) => {
                cache.insert(ifname.to_string(), link.header.index);
                Ok(link.header.index)
            }
            Err(e) => {
                cache.remove(ifname);
                Err(e)
            }
        }
    }

    /// Brings `ifname` up (`ip link set IF up`).
    pub async fn set_up(&self, ifname: &str) -> Result<(), NetnsError> {
        self.check_ifname(ifname)?;
        let op = format!("bring interface `{ifname}` up");
        let msg = LinkUnspec::new_with_name(ifname).up().build();
        let r = self.handle.link().set(msg).execute().await;
        self.link_result(r, ifname, &op)
    }

    /// Creates a Linux bridge `name`, up (`ip link add NAME up type bridge`).
    pub async fn add_bridge(&self, name: &str) -> Result<(), NetnsError> {
        self.check_ifname(name)?;
        let op = format!("create bridge `{name}`");
        let msg = rtnetlink::LinkBridge::new(name).build();
        let r = self.handle.link().add(msg).execute().await;
        self.link_result(r, name, &op)
    }

    /// Attaches `port` to bridge `bridge` (`ip link set PORT master BRIDGE`).
    pub async fn set_controller(&self, port: &str, bridge: &str) -> Result<(), NetnsError> {
        self.check_ifname(port)?;
        let op = format!("attach interface `{port}` to bridge `{bridge}`");
        let index = self.lookup(bridge, &op).await?;
        let msg = LinkUnspec::new_with_name(port).controller(index).build();
        let r = self.handle.link().set(msg).execute().await;
        self.link_result(r, port, &op)
    }

    /// Takes `ifname` down (`ip link set IF down`). The kernel withdraws
    /// the routes through it at once.
    pub async fn set_down(&self, ifname: &str) -> Result<(), NetnsError> {
        self.check_ifname(ifname)?;
        let op = format!("take interface `{ifname}` down");
        let msg = LinkUnspec::new_with_name(ifname).down().build();
        let r = self.handle.link().set(msg).execute().await;
        self.link_result(r, ifname, &op)
    }

    /// Waits until `ifname` (already set up) can carry traffic, or until
    /// `timeout` has passed.
    ///
    /// Kernel quirk: a veth end brought up before its peer has no carrier
    /// at that moment, so its transmit queue stays on the no-op qdisc and
    /// IPv6 keeps it "not ready". When the peer comes up the carrier
    /// arrives at once, but the queue and IPv6 are activated by the
    /// kernel's link-watch work, which runs at most once a second unless
    /// the event is urgent (for a veth only when its two ends' interface
    /// indexes differ, and in-place pairs between fresh namespaces often
    /// get index 2 on both sides). Until then the first neighbour
    /// solicitation through that end is lost and a TCP connect waits for
    /// its 1 s SYN timeout: measured here, 1-2 s in most runs when
    /// connecting right after the set-up calls, 0 after this wait. Asking
    /// for the link (RTM_GETLINK) makes the kernel run the device's pending
    /// link-watch event at once (rtnl_getlink syncs link watch on recent
    /// kernels), so this usually returns after one query; otherwise it
    /// polls every millisecond.
    ///
    /// Ready means: administratively up, carrier on, operationally up or
    /// unknown (`IFF_RUNNING`), and, where IPv6 is enabled on the
    /// interface, IPv6 ready (`IF_READY` in `IFLA_INET6_FLAGS`, set only
    /// once the queue is active).
    ///
    /// Returns the interface's hardware address, when it has a 6-byte one
    /// (a veth or TAP end), for permanent neighbour entries.
    pub async fn wait_ready(
        &self,
        ifname: &str,
        timeout: Duration,
    ) -> Result<Option<[u8; 6]>, NetnsError> {
        let op = format!("wait for interface `{ifname}` to carry traffic");
        let start = Instant::now();
        loop {
            let link = self.link(ifname, &op).await?;
            let state = readiness(&link);
            if state.is_none() {
                return Ok(link.attributes.iter().find_map(|a| match a {
                    LinkAttribute::Address(mac) => <[u8; 6]>::try_from(mac.as_slice()).ok(),
                    _ => None,
                }));
            }
            if start.elapsed() >= timeout {
                let missing = state.unwrap_or_default();
                return Err(NetnsError::NotReady {
                    ns: self.ns.clone(),
                    ifname: ifname.to_string(),
                    waited: timeout,
                    missing,
                });
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// Sets the MTU of `ifname`.
    pub async fn set_mtu(&self, ifname: &str, mtu: u32) -> Result<(), NetnsError> {
        self.check_ifname(ifname)?;
        let op = format!("set the MTU of interface `{ifname}` to {mtu}");
        let msg = LinkUnspec::new_with_name(ifname).mtu(mtu).build();
        let r = self.handle.link().set(msg).execute().await;
        self.link_result(r, ifname, &op)
    }

    /// Adds `addr/prefix_len` to `ifname` (`lo` included). IPv6 addresses
    /// are added with `nodad`, so they are usable at once instead of after
    /// a second of duplicate address detection, which a lab whose
    /// addresses are unique by construction does not need.
    pub async fn add_address(
        &self,
        ifname: &str,
        addr: IpAddr,
        prefix_len: u8,
    ) -> Result<(), NetnsError> {
        let op = format!("add address {addr}/{prefix_len} to interface `{ifname}`");
        let max = if addr.is_ipv4() { 32 } else { 128 };
        if prefix_len > max {
            return Err(self.invalid(&op, format!("the prefix is longer than {max} bits")));
        }
        let index = self.lookup(ifname, &op).await?;
        let mut req = self.handle.address().add(index, addr, prefix_len);
        *req.message_mut() = address_request(index, addr, prefix_len);
        let r = req.execute().await;
        self.link_result(r, ifname, &op)
    }

    /// Adds a permanent neighbour entry: `addr` is at link-layer address
    /// `mac` on `ifname` (`ip neigh add ADDR lladdr MAC dev IF nud
    /// permanent`). An emulated link's ends know each other this way, so
    /// no address resolution crosses the emulator and is delayed or lost.
    pub async fn add_neighbour(
        &self,
        ifname: &str,
        addr: IpAddr,
        mac: [u8; 6],
    ) -> Result<(), NetnsError> {
        let op = format!("add neighbour {addr} on interface `{ifname}`");
        let index = self.lookup(ifname, &op).await?;
        let r = self
            .handle
            .neighbours()
            .add(index, addr)
            .link_layer_address(&mac)
            .replace()
            .execute()
            .await;
        self.link_result(r, ifname, &op)
    }

    /// Adds a route to `dest/prefix_len` through `nexthops`, each a
    /// (gateway, interface) pair: one next hop makes a plain route, several
    /// make one kernel multipath (ECMP) route. IPv4 and IPv6 alike; an IPv4
    /// route may use IPv6 gateways (RFC 5549), as the kernel allows.
    pub async fn add_route(
        &self,
        dest: IpAddr,
        prefix_len: u8,
        nexthops: &[(IpAddr, &str)],
    ) -> Result<(), NetnsError> {
        let message = self.route_message(dest, prefix_len, nexthops).await?;
        let r = self.handle.route().add(message).execute().await;
        r.map_err(|e| self.netlink_error(None, &route_op(dest, prefix_len, nexthops), e))
    }

    /// Adds the route as [`Netlink::add_route`] does, or replaces the one
    /// to `dest/prefix_len` already there with exactly these next hops.
    pub async fn replace_route(
        &self,
        dest: IpAddr,
        prefix_len: u8,
        nexthops: &[(IpAddr, &str)],
    ) -> Result<(), NetnsError> {
        let message = self.route_message(dest, prefix_len, nexthops).await?;
        let r = self.handle.route().add(message).replace().execute().await;
        r.map_err(|e| self.netlink_error(None, &route_op(dest, prefix_len, nexthops), e))
    }

    /// The request [`Netlink::add_route`] sends, checked and with its
    /// interfaces looked up.
    pub async fn route_message(
        &self,
        dest: IpAddr,
        prefix_len: u8,
        nexthops: &[(IpAddr, &str)],
    ) -> Result<RouteMessage, NetnsError> {
        let op = || route_op(dest, prefix_len, nexthops);
        let mut hops = Vec::with_capacity(nexthops.len());
        for (gateway, ifname) in nexthops {
            hops.push((*gateway, self.lookup(ifname, &op()).await?));
        }
        route_request(dest, prefix_len, &hops).map_err(|reason| self.invalid(&op(), reason))
    }

    /// The index of interface `ifname`, from the handle's cache when it
    /// has looked it up before (see [`Netlink::index`] for a fresh one).
    pub async fn cached_index(&self, ifname: &str) -> Result<u32, NetnsError> {
        self.lookup(ifname, &format!("look up interface `{ifname}`"))
            .await
    }

    /// Adds the connected route `dest/prefix_len dev ifname` the way the
    /// kernel adds one for an interface's address (protocol kernel,
    /// metric 256, link scope), unless it is already there: for putting
    /// back one the kernel failed to add. Returns whether it was missing.
    pub async fn ensure_connected_route(
        &self,
        ifname: &str,
        dest: IpAddr,
        prefix_len: u8,
    ) -> Result<bool, NetnsError> {
        let op = format!("add connected route {dest}/{prefix_len} dev `{ifname}`");
        if let Some(reason) = prefix_problem(dest, prefix_len) {
            return Err(self.invalid(&op, reason));
        }
        let index = self.lookup(ifname, &op).await?;
        let message = RouteMessageBuilder::<IpAddr>::new()
            .destination_prefix(dest, prefix_len)
            .map_err(|e| self.invalid(&op, e.to_string()))?
            .output_interface(index)
            .protocol(rtnetlink::packet_route::route::RouteProtocol::Kernel)
            .scope(rtnetlink::packet_route::route::RouteScope::Link)
            .priority(256)
            .build();
        match self.handle.route().add(message).execute().await {
            Ok(()) => Ok(true),
            Err(e) => match self.netlink_error(None, &op, e) {
                e if e.os_error() == Some(libc::EEXIST) => Ok(false),
                e => Err(e),
            },
        }
    }

    /// Creates a veth pair: `local` in this handle's namespace and `peer`
    /// directly in `peer_ns`, in one request.
    ///
    /// Why in place: creating both ends here and moving one with
    /// `ip link set ... netns` costs an RCU grace period per move (about
    /// 33 ms a pair on the reference machine); naming the peer's namespace
    /// in the peer's own attributes (`IFLA_NET_NS_FD` inside
    /// `VETH_INFO_PEER`) makes the kernel create it there, about 0.1 ms. Both
    /// ends start down.
    pub async fn add_veth(
        &self,
        local: &str,
        peer_ns: &NetNs,
        peer: &str,
    ) -> Result<(), NetnsError> {
        self.veth(local, peer_ns, peer, None, false).await
    }

    /// Like [`Netlink::add_veth`], and in the same request: both ends get
    /// `mtu` when given, and `local` is brought up (the peer cannot be:
    /// the kernel opens it before `local` exists, and refuses with
    /// ENOTCONN). One request instead of up to four.
    pub async fn add_veth_up(
        &self,
        local: &str,
        peer_ns: &NetNs,
        peer: &str,
        mtu: Option<u32>,
    ) -> Result<(), NetnsError> {
        self.veth(local, peer_ns, peer, mtu, true).await
    }

    /// The request behind [`Netlink::add_veth`] and
    /// [`Netlink::add_veth_up`].
    async fn veth(
        &self,
        local: &str,
        peer_ns: &NetNs,
        peer: &str,
        mtu: Option<u32>,
        up: bool,
    ) -> Result<(), NetnsError> {
        self.check_ifname(local)?;
        check_ifname(peer_ns.name(), peer)?;
        let op = format!(
            "create veth pair `{local}` -- `{peer}` (in namespace `{}`){}",
            peer_ns.name(),
            if up {
                format!(", `{local}` up")
            } else {
                String::new()
            }
        );
        // The descriptor is resolved in this process's descriptor table
        // when the kernel handles the request, which happens before
        // `execute` returns; `peer_ns` is borrowed until then.
        // One queue each way per end, which is what a veth pair uses
        // unless told otherwise: by default the kernel makes one per
        // possible CPU and then removes all but the first, their sysfs
        // entries with them. Saying so up front halved the time to
        // create 800 pairs here, on two CPUs; on a large host it saves more.
        let mut peer_msg = LinkUnspec::new_with_name(peer)
            .setns_by_fd(peer_ns.fd().as_raw_fd())
            .append_extra_attribute(LinkAttribute::NumTxQueues(1))
            .append_extra_attribute(LinkAttribute::NumRxQueues(1));
        let mut msg = LinkVeth::new(local, peer)
            .append_extra_attribute(LinkAttribute::NumTxQueues(1))
            .append_extra_attribute(LinkAttribute::NumRxQueues(1));
        if up {
            msg = msg.up();
        }
        if let Some(mtu) = mtu {
            peer_msg = peer_msg.mtu(mtu);
            msg = msg.mtu(mtu);
        }
        let msg = msg
            .set_info_data(InfoData::Veth(InfoVeth::Peer(peer_msg.build())))
            .build();
        let r = self.handle.link().add(msg).execute().await;
        r.map_err(|e| self.netlink_error(Some(local), &op, e))
    }

    /// Deletes interface `ifname` (for a veth, both ends go).
    pub async fn delete_link(&self, ifname: &str) -> Result<(), NetnsError> {
        self.check_ifname(ifname)?;
        let op = format!("delete interface `{ifname}`");
        let msg = LinkUnspec::new_with_name(ifname).build();
        let r = self.handle.link().del_with_message(msg).execute().await;
        self.indexes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(ifname);
        self.link_result(r, ifname, &op)
    }

    /// Looks an interface up by name; ENODEV becomes
    /// [`NetnsError::NoSuchInterface`].
    pub(super) async fn lookup(&self, ifname: &str, op: &str) -> Result<u32, NetnsError> {
        if let Some(&i) = self
            .indexes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(ifname)
        {
            return Ok(i);
        }
        let index = self.link(ifname, op).await?.header.index;
        self.indexes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(ifname.to_string(), index);
        Ok(index)
    }

    /// The kernel's description of interface `ifname`.
    async fn link(&self, ifname: &str, op: &str) -> Result<LinkMessage, NetnsError> {
        self.check_ifname(ifname)?;
        // Without counters: nothing here reads them, and filling them
        // (per CPU, for IPv6 as well) is most of the kernel's answer.
        let mut links = self
            .handle
            .link()
            .get()
            .match_name(ifname.to_string())
            .set_filter_mask(AddressFamily::Unspec, vec![LinkExtentMask::SkipStats])
            .execute();
        match links.try_next().await {
            Ok(Some(link)) => Ok(link),
            Ok(None) => Err(self.no_such(ifname, op)),
            Err(e) => Err(self.interface_error(ifname, op, e)),
        }
    }

    /// Maps a request's result, turning "no such device" into
    /// [`NetnsError::NoSuchInterface`].
    fn link_result(
        &self,
        r: Result<(), rtnetlink::Error>,
        ifname: &str,
        op: &str,
    ) -> Result<(), NetnsError> {
        r.map_err(|e| self.interface_error(ifname, op, e))
    }

    /// A failed request about `ifname`; ENODEV becomes
    /// [`NetnsError::NoSuchInterface`].
    fn interface_error(&self, ifname: &str, op: &str, e: rtnetlink::Error) -> NetnsError {
        let source = to_io(e);
        if source.raw_os_error() == Some(libc::ENODEV) {
            self.no_such(ifname, op)
        } else {
            NetnsError::Netlink {
                ns: self.ns.clone(),
                ifname: Some(ifname.to_string()),
                op: op.to_string(),
                source,
            }
        }
    }

    /// A failed request, as [`NetnsError::Netlink`].
    pub(super) fn netlink_error(
        &self,
        ifname: Option<&str>,
        op: &str,
        e: rtnetlink::Error,
    ) -> NetnsError {
        NetnsError::Netlink {
            ns: self.ns.clone(),
            ifname: ifname.map(str::to_string),
            op: op.to_string(),
            source: to_io(e),
        }
    }

    /// An argument refused before the request, as
    /// [`NetnsError::InvalidArgument`].
    pub(super) fn invalid(&self, op: &str, reason: String) -> NetnsError {
        NetnsError::InvalidArgument {
            ns: self.ns.clone(),
            op: op.to_string(),
            reason,
        }
    }

    fn no_such(&self, ifname: &str, op: &str) -> NetnsError {
        NetnsError::NoSuchInterface {
            ns: self.ns.clone(),
            ifname: ifname.to_string(),
            op: op.to_string(),
        }
    }

    fn check_ifname(&self, ifname: &str) -> Result<(), NetnsError> {
        check_ifname(&self.ns, ifname)
    }
}

/// A request adding a route to `dest/prefix_len` through `nexthops`,
/// each a (gateway, interface index) pair: one makes a plain route,
/// several one multipath route. `Err` says why it cannot be made.
pub fn route_request(
    dest: IpAddr,
    prefix_len: u8,
    nexthops: &[(IpAddr, u32)],
) -> Result<RouteMessage, String> {
    if nexthops.is_empty() {
        return Err("a route needs at least one next hop".into());
    }
    if let Some(reason) = prefix_problem(dest, prefix_len) {
        return Err(reason);
    }
    let builder = RouteMessageBuilder::<IpAddr>::new()
        .destination_prefix(dest, prefix_len)
        .map_err(|e| e.to_string())?;
    if let [(gateway, index)] = nexthops {
        return Ok(builder
            .gateway(*gateway)
            .map_err(|e| e.to_string())?
            .output_interface(*index)
            .build());
    }
    let family = if dest.is_ipv4() {
        AddressFamily::Inet
    } else {
        AddressFamily::Inet6
    };
    let mut hops = Vec::with_capacity(nexthops.len());
    for (gateway, index) in nexthops {
        let hop = RouteNextHopBuilder::new(family)
            .interface(*index)
            .via(*gateway)
            .map_err(|e| e.to_string())?
            .build();
        hops.push(hop);
    }
    Ok(builder.multipath(hops).build())
}

/// A request adding `addr/prefix_len` to interface `index`, IPv6 without
/// duplicate address detection (a lab's addresses are unique by
/// construction, and a tentative address cannot be used).
pub fn address_request(index: u32, addr: IpAddr, prefix_len: u8) -> AddressMessage {
    let mut message = match addr {
        IpAddr::V4(a) => AddressMessageBuilder::<Ipv4Addr>::new()
            .index(index)
            .address(a, prefix_len)
            .build(),
        IpAddr::V6(a) => AddressMessageBuilder::<Ipv6Addr>::new()
            .index(index)
            .address(a, prefix_len)
            .build(),
    };
    if addr.is_ipv6() {
        message.header.flags |= AddressHeaderFlags::Nodad;
    }
    message
}

/// A request bringing interface `index` up (`RTM_SETLINK`).
pub fn up_request(index: u32) -> LinkMessage {
    LinkUnspec::new_with_index(index).up().build()
}

/// What adding a route is called in errors: `add route 198.19.0.4/31 via
/// 198.19.0.1 dev `l0s1``.
pub fn route_op(dest: IpAddr, prefix_len: u8, nexthops: &[(IpAddr, &str)]) -> String {
    let via: Vec<String> = nexthops
        .iter()
        .map(|(gw, ifname)| format!("{gw} dev `{ifname}`"))
        .collect();
    format!("add route {dest}/{prefix_len} via {}", via.join(", "))
}

/// The kernel's rules for interface names (`dev_valid_name`), checked
/// before a request so the error can say which rule.
fn check_ifname(ns: &str, name: &str) -> Result<(), NetnsError> {
    let reason = if name.is_empty() {
        Some("it is empty")
    } else if name.len() > IFNAME_MAX {
        Some("it is longer than the kernel's 15 bytes")
    } else if name == "." || name == ".." {
        Some("`.` and `..` are not interface names")
    } else if name
        .chars()
        .any(|c| c == '/' || c == ':' || c == '\0' || c.is_whitespace())
    {
        Some("it must not contain `/`, `:`, NUL or whitespace")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(NetnsError::InvalidInterfaceName {
            ns: ns.to_string(),
            name: name.to_string(),
            reason,
        }),
        None => Ok(()),
    }
}

/// What keeps `link` from carrying traffic (see [`Netlink::wait_ready`]),
/// or `None` if nothing does.
fn readiness(link: &LinkMessage) -> Option<String> {
    let flags = link.header.flags;
    let mut missing = Vec::new();
    if !flags.contains(LinkFlags::Up) {
        missing.push("administratively down".to_string());
    }
    if !flags.contains(LinkFlags::LowerUp) {
        missing.push("no carrier".to_string());
    }
    if !flags.contains(LinkFlags::Running) {
        let state = link.attributes.iter().find_map(|a| match a {
            LinkAttribute::OperState(s) => Some(*s),
            _ => None,
        });
        missing.push(format!(
            "operational state {}",
            state.map_or("unknown".to_string(), |s| format!("{s:?}").to_lowercase())
        ));
    }
    let inet6_flags = link.attributes.iter().find_map(|a| match a {
        LinkAttribute::AfSpecUnspec(specs) => specs.iter().find_map(|s| match s {
            AfSpecUnspec::Inet6(attrs) => attrs.iter().find_map(|a| match a {
                AfSpecInet6::Flags(f) => Some(*f),
                _ => None,
            }),
            _ => None,
        }),
        _ => None,
    });
    if inet6_flags.is_some_and(|f| !f.contains(Inet6IfaceFlags::Ready)) {
        missing.push("IPv6 not ready".to_string());
    }
    if missing.is_empty() {
        None
    } else {
        Some(missing.join(", "))
    }
}

/// Why `dest/prefix_len` is not a route destination, if it is not: the
/// kernel refuses host bits beyond the prefix for IPv4 with a bare EINVAL.
fn prefix_problem(dest: IpAddr, prefix_len: u8) -> Option<String> {
    match ipnet::IpNet::new(dest, prefix_len) {
        Err(_) => Some(format!(
            "the prefix is longer than {} bits",
            if dest.is_ipv4() { 32 } else { 128 }
        )),
        Ok(net) if net.network() != dest => Some(format!(
            "{dest} has bits set beyond the first {prefix_len}: write the network address"
        )),
        Ok(_) => None,
    }
}

/// rtnetlink's error as the OS error it carries (the errno of a netlink
/// NACK), or as an "other" error for protocol trouble.
fn to_io(e: rtnetlink::Error) -> io::Error {
    match e {
        rtnetlink::Error::NetlinkError(msg) => msg.to_io(),
        other => io::Error::other(other.to_string()),
    }
}

/// A netlink socket registered with tokio, built from a socket that was
/// created elsewhere (inside a namespace).
///
/// netlink-sys's own `TokioSocket` can only be built inside the current
/// namespace (`new`) or through `from_raw_fd`, which panics when
/// registration fails; this one reports the failure instead. The polling
/// logic is the usual `AsyncFd` readiness loop.
struct NsSocket(AsyncFd<Socket>);

impl NsSocket {
    fn register(socket: Socket) -> io::Result<NsSocket> {
        // SAFETY: `Socket` owns its descriptor (closing it only on drop)
        // and `as_raw_fd` always returns that same descriptor, so it stays
        // open and unchanged for as long as the AsyncFd owns the socket.
        let registered = unsafe { AsyncFd::register(socket) };
        Ok(NsSocket(registered?))
    }
}

impl AsyncSocket for NsSocket {
    fn socket_ref(&self) -> &Socket {
        self.0.get_ref()
    }

    fn socket_mut(&mut self) -> &mut Socket {
        self.0.get_mut()
    }

    /// A socket in the calling thread's namespace. netproof never asks for
    /// one this way ([`Netlink::new`] uses `register`).
    fn new(protocol: isize) -> io::Result<Self> {
        let socket = Socket::new(protocol)?;
        socket.set_non_blocking(true)?;
        Self::register(socket)
    }

    fn poll_send(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        loop {
            let mut guard = ready!(self.0.poll_write_ready(cx))?;
            match guard.try_io(|s| s.get_ref().send(buf, 0)) {
                Ok(result) => return Poll::Ready(result),
                Err(_would_block) => continue,
            }
        }
    }

    fn poll_send_to(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        addr: &SocketAddr,
    ) -> Poll<io::Result<usize>> {
        loop {
            let mut guard = ready!(self.0.poll_write_ready(cx))?;
            match guard.try_io(|s| s.get_ref().send_to(buf, addr, 0)) {
                Ok(result) => return Poll::Ready(result),
                Err(_would_block) => continue,
            }
        }
    }

    fn poll_recv<B>(&self, cx: &mut Context<'_>, buf: &mut B) -> Poll<io::Result<()>>
    where
        B: bytes::BufMut,
    {
        loop {
            let mut guard = ready!(self.0.poll_read_ready(cx))?;
            match guard.try_io(|s| s.get_ref().recv(buf, 0)) {
                Ok(result) => return Poll::Ready(result.map(|_| ())),
                Err(_would_block) => continue,
            }
        }
    }

    fn poll_recv_from<B>(&self, cx: &mut Context<'_>, buf: &mut B) -> Poll<io::Result<SocketAddr>>
    where
        B: bytes::BufMut,
    {
        loop {
            let mut guard = ready!(self.0.poll_read_ready(cx))?;
            match guard.try_io(|s| s.get_ref().recv_from(buf, 0)) {
                Ok(result) => return Poll::Ready(result.map(|(_, addr)| addr)),
                Err(_would_block) => continue,
            }
        }
    }

    fn poll_recv_from_full(&self, cx: &mut Context<'_>) -> Poll<io::Result<(Vec<u8>, SocketAddr)>> {
        loop {
            let mut guard = ready!(self.0.poll_read_ready(cx))?;
            match guard.try_io(|s| s.get_ref().recv_from_full()) {
                Ok(result) => return Poll::Ready(result),
                Err(_would_block) => continue,
            }
        }
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn netns_interface_names_follow_the_kernel_rules() {
        assert!(check_ifname("np-a", "veth0").is_ok());
        assert!(check_ifname("np-a", "abcdefghijklmno").is_ok());
        for bad in ["", "abcdefghijklmnop", ".", "..", "a/b", "a:b", "a b"] {
            assert!(check_ifname("np-a", bad).is_err(), "{bad:?}");
        }
        let e = check_ifname("np-a", "abcdefghijklmnop")
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            e.as_deref(),
            Some(
                "interface name `abcdefghijklmnop` in namespace `np-a` cannot be used: \
                 it is longer than the kernel's 15 bytes"
            )
        );
    }

    #[test]
    fn netns_route_destinations_must_be_network_addresses() {
        let v4 = |s: &str| s.parse::<IpAddr>().ok();
        let check = |a: &str, len| v4(a).map(|a| prefix_problem(a, len).is_none());
        assert_eq!(check("198.18.0.0", 15), Some(true));
        assert_eq!(check("198.18.1.1", 32), Some(true));
        assert_eq!(check("198.18.0.1", 31), Some(false));
        assert_eq!(check("0.0.0.0", 0), Some(true));
        assert_eq!(check("198.18.0.0", 33), Some(false));
        assert_eq!(check("2001:2::", 48), Some(true));
        assert_eq!(check("2001:2::1", 127), Some(false));
        assert_eq!(check("2001:2::1", 128), Some(true));
        assert_eq!(check("::", 0), Some(true));
    }
}
