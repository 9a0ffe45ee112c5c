//! An edge's learned routes: what BIRD on its node learned from the ISP
//! over BGP, read from the node's kernel table over route netlink.
//!
//! The edge runs inside its node's namespace, so a netlink socket it opens
//! sees that node's tables. [`watch`] subscribes to the IPv4 and IPv6 route
//! groups first and dumps both families after, so no change falls between
//! the two (an event for a route the dump also showed is applied twice,
//! which changes nothing); then it applies every `RTM_NEWROUTE` and
//! `RTM_DELROUTE` as it arrives and publishes the routes on a
//! [`tokio::sync::watch`] channel whenever they change. Every
//! [`RESYNC`] it dumps again, which heals events the kernel dropped when
//! the socket's buffer overflowed. It follows link events too and dumps
//! at once on each: when an interface goes down the kernel removes the
//! IPv4 routes through it without announcing it (IPv6 deletions are
//! announced), so without this an edge whose link to its ISP was cut
//! would report the dead routes until the next resync. A route deletion
//! schedules the same dump (an interface going down shows there first
//! when it carried IPv6 routes, and a link event may come first or not
//! reach a socket that is busy). What the routes mean is decoded by
//! [`table`] (pure) with `netproof_proto::steering::encoding`; never by
//! reading a daemon's CLI.

pub mod table;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::StreamExt;
use netproof_proto::steering::LearnedRoute;
use rtnetlink::packet_core::NetlinkPayload;
use rtnetlink::packet_route::route::RouteMessage;
use rtnetlink::packet_route::{AddressFamily, RouteNetlinkMessage};
use rtnetlink::{Handle, MulticastGroup};
use thiserror::Error;
use tokio::sync::watch;

use table::{Applied, LearnedTable};

/// How often the whole table is read again.
pub const RESYNC: Duration = Duration::from_secs(10);

/// How long after a link event the table is read again: the kernel
/// flushes the routes through a downed interface after announcing the
/// link's change.
const LINK_SETTLE: Duration = Duration::from_millis(50);

/// The longest one dump may take.
const DUMP_TIMEOUT: Duration = Duration::from_secs(5);

/// Why the routes cannot be read.
#[derive(Debug, Error)]
pub enum RoutesError {
    /// The netlink socket could not be opened or subscribed.
    #[error(
        "cannot open a route-netlink socket for table {table}: {source}\nhint: the edge reads its node's learned routes over netlink; it needs a Linux network namespace it may read"
    )]
    Socket {
        /// The table.
        table: u32,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The first dump failed.
    #[error("cannot read kernel table {table}: {what}")]
    Dump {
        /// The table.
        table: u32,
        /// What netlink said.
        what: String,
    },
}

/// Counters of the route reader.
#[derive(Debug, Default)]
pub struct RouteCounters {
    /// Routes in the table now.
    pub routes: AtomicU64,
    /// Routes of the table refused (not written with the encoding).
    pub refused: AtomicU64,
    /// Changes seen (events that changed the set, and dumps that did).
    pub changes: AtomicU64,
}

/// Reads kernel table `table` now and follows it: the current routes on
/// the returned channel, updated on every change, until the channel's
/// receivers are all dropped.
pub async fn watch(
    table: u32,
    counters: Arc<RouteCounters>,
) -> Result<watch::Receiver<Arc<Vec<LearnedRoute>>>, RoutesError> {
    let socket = |source| RoutesError::Socket { table, source };
    let (conn, handle, mut events) = rtnetlink::new_multicast_connection(&[
        MulticastGroup::Ipv4Route,
        MulticastGroup::Ipv6Route,
    ])
    .map_err(socket)?;
    let conn_task = tokio::spawn(conn);
    let mut learned = LearnedTable::new(table);
    let first = dump(&handle)
        .await
        .map_err(|what| RoutesError::Dump { table, what })?;
    learned.replace(first.iter());
    publish_counts(&counters, &learned);
    let (tx, rx) = watch::channel(Arc::new(learned.routes()));
    tokio::spawn(async move {
        let _conn = AbortOnDrop(conn_task);
        let mut resync = tokio::time::interval(RESYNC);
        resync.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        resync.tick().await;
        let mut link_resync: Option<tokio::time::Instant> = None;
        loop {
            let changed = tokio::select! {
                _ = tx.closed() => return,
                event = events.next() => {
                    let Some((message, _)) = event else { return };
                    let NetlinkPayload::InnerMessage(m) = message.payload else { continue };
                    match &m {
                        RouteNetlinkMessage::NewRoute(r) => learned.add(r) == Applied::Changed,
                        RouteNetlinkMessage::DelRoute(r) => {
                            // A deletion may come of an interface going
                            // down, whose IPv4 routes go unannounced.
                            link_resync = Some(tokio::time::Instant::now() + LINK_SETTLE);
                            learned.delete(r) == Applied::Changed
                        }
                        // An interface changed: the kernel may drop routes
                        // through it silently, just after it says so.
                        RouteNetlinkMessage::NewLink(_) | RouteNetlinkMessage::DelLink(_) => {
                            link_resync = Some(tokio::time::Instant::now() + LINK_SETTLE);
                            false
                        }
                        _ => false,
                    }
                }
                _ = async { tokio::time::sleep_until(link_resync.unwrap()).await }, if link_resync.is_some() => {
                    link_resync = None;
                    match dump(&handle).await {
                        Ok(all) => learned.replace(all.iter()),
                        Err(_) => false,
                    }
                }
                _ = resync.tick() => match dump(&handle).await {
                    Ok(all) => learned.replace(all.iter()),
                    // The next resync tries again; events keep flowing.
                    Err(_) => false,
                },
            };
            publish_counts(&counters, &learned);
            if changed {
                counters.changes.fetch_add(1, Ordering::Relaxed);
                tx.send_replace(Arc::new(learned.routes()));
            }
        }
    });
    Ok(rx)
}

fn publish_counts(c: &RouteCounters, t: &LearnedTable) {
    c.routes.store(t.routes().len() as u64, Ordering::Relaxed);
    c.refused.store(t.refused(), Ordering::Relaxed);
}

/// Every route of both families (the kernel sends all tables; the caller
/// keeps its own).
async fn dump(handle: &Handle) -> Result<Vec<RouteMessage>, String> {
    let mut out = Vec::new();
    for family in [AddressFamily::Inet, AddressFamily::Inet6] {
        let mut m = RouteMessage::default();
        m.header.address_family = family;
        let mut stream = handle.route().get(m).execute();
        let read = async {
            while let Some(r) = stream.next().await {
                out.push(r.map_err(|e| e.to_string())?);
            }
            Ok::<(), String>(())
        };
        tokio::time::timeout(DUMP_TIMEOUT, read)
            .await
            .map_err(|_| format!("no complete dump within {DUMP_TIMEOUT:?}"))??;
    }
    Ok(out)
}

/// Aborts the netlink connection's task with the reader.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
