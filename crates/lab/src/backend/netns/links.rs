//! The netns lab's links and LANs, made once every namespace exists.
//!
//! Every link at once: a veth pair created in place across its two
//! namespaces in one request (with its MTU and end `a` up), or, for an
//! emulated link, a TAP device in each namespace and the link emulator
//! between them; then `tbf` rates, addresses, a wait until both ends carry
//! traffic and permanent neighbour entries ([`introduce_ends`]). Every LAN
//! at once: a bridge in the LAN's own namespace and a veth pair from each
//! member, its far end a port of the bridge.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use netproof_link::emulator::{Config as EmulatorConfig, Emulator};
use netproof_link::tap::Tap;

use super::blueprint::{Blueprint, link_seed};
use super::build::at;
use crate::LabError;
use crate::fabric::{End, LAN_BRIDGE};
use crate::netns::{Macs, NetNs, Netlink, introduce_ends};

/// Makes every link of `bp` at once, from the nodes' netlink handles
/// (`links`, by node) and namespaces; returns each link's emulator (for
/// an emulated link) and its ends' hardware addresses, by link.
pub(super) async fn make_links(
    bp: &Blueprint,
    namespaces: &[Arc<NetNs>],
    links: &[Netlink],
) -> Result<Vec<(Option<Arc<Emulator>>, Option<Macs>)>, LabError> {
    let links_ref = links;
    let each_link = bp.graph.links.iter().enumerate().map(|(li, l)| async move {
        let links = links_ref;
        let (a, b) = (l.a, l.b);
        let (na, nb) = (&bp.graph.nodes[a].name, &bp.graph.nodes[b].name);
        let what = format!("link `{na}--{nb}`");
        let ifa = bp.fabric.naming.interface(li, End::A).unwrap_or_default();
        let ifb = bp.fabric.naming.interface(li, End::B).unwrap_or_default();
        let spec = &bp.links[li];
        let emulator = match &spec.emulated {
            None => {
                links[a]
                    .add_veth_up(ifa, &namespaces[b], ifb, spec.mtu)
                    .await
                    .map_err(at(format!("create {what}")))?;
                None
            }
            Some(params) => {
                // A TAP device in each node's namespace, made by a thread
                // inside it, and the emulator between them.
                let tap = |node: usize, name: &str| -> Result<Tap, LabError> {
                    let name = name.to_string();
                    namespaces[node]
                        .run(move || Tap::create(&name))
                        .map_err(at(format!("create {what}")))?
                        .map_err(|e| LabError::Emulator {
                            link: what.clone(),
                            source: e,
                        })
                };
                let (ta, tb) = (tap(a, ifa)?, tap(b, ifb)?);
                let config = EmulatorConfig {
                    name: format!("{na}--{nb}"),
                    mtu: spec.mtu.unwrap_or(1500),
                    params: params.clone(),
                    seed: link_seed(bp.seed, li),
                };
                let e = Emulator::start(config, ta, tb).map_err(|e| LabError::Emulator {
                    link: what.clone(),
                    source: e,
                })?;
                Some(Arc::new(e))
            }
        };
        let addrs = &bp.fabric.addressing.links[li];
        // A veth pair was made with its MTU and end `a` up.
        let veth = spec.emulated.is_none();
        let mtu = spec.mtu.filter(|_| !veth);
        for (end, (node, ifname, v4, v6)) in [
            (a, ifa, addrs.v4[0], addrs.v6[0]),
            (b, ifb, addrs.v4[1], addrs.v6[1]),
        ]
        .into_iter()
        .enumerate()
        {
            let nl = &links[node];
            if let Some(mtu) = mtu {
                nl.set_mtu(ifname, mtu)
                    .await
                    .map_err(at(format!("set the MTU of {what}")))?;
            }
            if let Some(rate) = spec.tbf[end] {
                // Each end shapes what it sends: the rate holds both ways.
                nl.set_rate(ifname, rate, None, Duration::from_millis(50))
                    .await
                    .map_err(at(format!("limit the rate of {what}")))?;
            }
            up_then_address(
                nl,
                ifname,
                !(veth && end == 0),
                (IpAddr::V4(v4), 31),
                (IpAddr::V6(v6), 127),
                &format!("bring {what} up"),
                &format!("address {what}"),
            )
            .await?;
        }
        // A packet sent before both ends are running is lost, and a lost
        // SYN costs a connect its one-second retry: wait until each end
        // carries traffic (usually one query), learning its address.
        let mut found = [None; 2];
        for (k, (node, ifname)) in [(a, ifa), (b, ifb)].into_iter().enumerate() {
            found[k] = links[node]
                .wait_ready(ifname, Duration::from_secs(5))
                .await
                .map_err(at(format!("wait for {what} to carry traffic")))?;
        }
        let macs = match found {
            [Some(ma), Some(mb)] => Some([ma, mb]),
            _ => None,
        };
        if let Some(macs) = macs {
            introduce_ends(
                [&links[a], &links[b]],
                [ifa, ifb],
                addrs.end_addresses(),
                macs,
            )
            .await
            .map_err(at(format!("introduce the ends of {what}")))?;
        }
        Ok::<_, LabError>((emulator, macs))
    });
    futures::future::try_join_all(each_link).await
}

/// Makes every LAN of `bp` at once: its bridge in its own namespace (after
/// the nodes' in `namespaces`), and a veth pair from each member (whose
/// netlink handle is in `links`).
pub(super) async fn make_lans(
    bp: &Blueprint,
    namespaces: &[Arc<NetNs>],
    links: &[Netlink],
) -> Result<(), LabError> {
    let n_nodes = bp.graph.nodes.len();
    let links_ref = links;
    let each_lan = bp
        .graph
        .lans
        .iter()
        .enumerate()
        .map(|(li, lan)| async move {
            let lan_ns = &namespaces[n_nodes + li];
            let what = format!("LAN `{}`", lan.name);
            let br = Netlink::new(lan_ns).map_err(at(format!("open netlink in {what}")))?;
            br.add_bridge(LAN_BRIDGE)
                .await
                .map_err(at(format!("create the bridge of {what}")))?;
            let addrs = &bp.fabric.addressing.lans[li];
            for (k, &member) in lan.members.iter().enumerate() {
                let node = &bp.graph.nodes[member].name;
                let ifname = bp.fabric.naming.lan_interface(li, k).unwrap_or_default();
                let port = bp.fabric.naming.lan_port(li, k).unwrap_or_default();
                let nl = &links_ref[member];
                nl.add_veth(ifname, lan_ns, port)
                    .await
                    .map_err(at(format!("connect node `{node}` to {what}")))?;
                br.set_controller(port, LAN_BRIDGE)
                    .await
                    .map_err(at(format!("attach node `{node}` to the bridge of {what}")))?;
                if let Some(mtu) = bp.lan_mtus[li] {
                    nl.set_mtu(ifname, mtu)
                        .await
                        .map_err(at(format!("set the MTU of node `{node}` on {what}")))?;
                    br.set_mtu(port, mtu)
                        .await
                        .map_err(at(format!("set the MTU of {what}")))?;
                }
                br.set_up(port)
                    .await
                    .map_err(at(format!("bring the port of `{node}` on {what} up")))?;
                up_then_address(
                    nl,
                    ifname,
                    true,
                    (IpAddr::V4(addrs.v4[k]), addrs.prefix_v4.len),
                    (IpAddr::V6(addrs.v6[k]), addrs.prefix_v6.len),
                    &format!("bring node `{node}` up on {what}"),
                    &format!("address node `{node}` on {what}"),
                )
                .await?;
            }
            for (k, &member) in lan.members.iter().enumerate() {
                let ifname = bp.fabric.naming.lan_interface(li, k).unwrap_or_default();
                links_ref[member]
                    .wait_ready(ifname, Duration::from_secs(5))
                    .await
                    .map_err(at(format!("wait for {what} to carry traffic")))?;
            }
            Ok::<(), LabError>(())
        });
    futures::future::try_join_all(each_lan).await?;
    Ok(())
}

/// Brings `ifname` up (unless it already is: `up` false) and then adds
/// its two addresses, in that order.
///
/// Why up first (kernel behaviour, seen here in about 1 of 6 builds of a
/// 1000-node leaf-spine): an IPv6 address added to an interface that is
/// down gets no connected route then; the kernel adds it when the
/// interface comes up, from the link-up notifier, with an allocation that
/// may not sleep, and on a busy host that allocation can fail and the
/// route is dropped without a word while the address stays. The interface
/// then holds `2001:2:0:425::a/127` with no route for it, its neighbour is
/// unreachable over IPv6 for the life of the lab, and a route through that
/// neighbour is refused with EHOSTUNREACH. Added to an interface that is
/// up, the address gets its connected route in the same request, from an
/// allocation that may sleep.
async fn up_then_address(
    nl: &Netlink,
    ifname: &str,
    up: bool,
    v4: (IpAddr, u8),
    v6: (IpAddr, u8),
    bring_up: &str,
    address: &str,
) -> Result<(), LabError> {
    if up {
        nl.set_up(ifname).await.map_err(at(bring_up))?;
    }
    for (addr, len) in [v4, v6] {
        nl.add_address(ifname, addr, len)
            .await
            .map_err(at(address))?;
    }
    Ok(())
}
