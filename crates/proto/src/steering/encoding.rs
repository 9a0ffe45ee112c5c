//! How an edge's BGP routes carry their attributes through the kernel.
//!
//! BIRD on an edge's node learns its ISP's prefixes over BGP and writes
//! them into a kernel routing table of their own (the node's
//! `bgp_speaker = { table = N }`); the edge reads that table over netlink.
//! A kernel route has no field for LOCAL_PREF, AS_PATH, ORIGIN, MED or the
//! session type, so BIRD's export filter puts them in attributes it can
//! set (`krt_*`) and the kernel keeps verbatim on a route:
//!
//! | kernel attribute | BIRD attribute | holds |
//! |---|---|---|
//! | `RTA_PRIORITY` | `krt_metric` | [`MARK`] + ORIGIN (0 IGP, 1 EGP, 2 incomplete) + [`IBGP`] when learned over iBGP |
//! | `RTAX_WINDOW` | `krt_window` | LOCAL_PREF |
//! | `RTAX_SSTHRESH` | `krt_sstresh` | MULTI_EXIT_DISC (absent: 0) |
//! | `RTAX_REORDERING` | `krt_reordering` | AS_PATH length |
//!
//! These metrics are stored as given, as unsigned 32-bit numbers, for both
//! families (unlike `RTAX_HOPLIMIT`, `RTAX_MTU` and `RTAX_ADVMSS`, which the
//! kernel clamps), and they act only on a route that forwards: the table
//! has no `ip rule` pointing at it. A metric the kernel omits (BIRD and the
//! kernel may leave out a zero) reads as 0. The marker in the priority
//! tells a route BIRD wrote this way from any other route in the table,
//! which [`decode`] refuses rather than guessing its attributes.
//!
//! Pure: the netlink reading is `netproof_cdn::routes`; the filter that
//! writes it is rendered by `netproof_lab::router::config::bird`.

use crate::prefix::IpNet;

use super::{LearnedRoute, Origin};

/// The marker in `RTA_PRIORITY` (`0x4e500000`, "NP"): the low byte holds
/// the flags below.
pub const MARK: u32 = 0x4e50_0000;
/// ORIGIN EGP, added to [`MARK`].
pub const ORIGIN_EGP: u32 = 1;
/// ORIGIN incomplete, added to [`MARK`].
pub const ORIGIN_INCOMPLETE: u32 = 2;
/// Learned over iBGP, added to [`MARK`].
pub const IBGP: u32 = 4;

/// The parts of a kernel route the encoding uses, as netlink gave them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KernelRoute {
    /// The destination.
    pub prefix: IpNet,
    /// `RTA_PRIORITY`, if present.
    pub priority: Option<u32>,
    /// `RTAX_WINDOW`, if present.
    pub window: Option<u32>,
    /// `RTAX_SSTHRESH`, if present.
    pub ssthresh: Option<u32>,
    /// `RTAX_REORDERING`, if present.
    pub reordering: Option<u32>,
}

/// Why a kernel route is not one BIRD wrote with the encoding.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The priority does not carry the marker.
    #[error(
        "route to {prefix} has priority {priority:?}, not the BGP encoding's marker ({MARK:#x} + flags); hint: is another program writing this table?"
    )]
    NoMarker {
        /// The route's prefix.
        prefix: IpNet,
        /// Its priority, if any.
        priority: Option<u32>,
    },
    /// Flags outside the encoding.
    #[error(
        "route to {prefix} has flags {flags:#x} in its priority, outside the encoding (origin 0..=2, iBGP 4)"
    )]
    BadFlags {
        /// The route's prefix.
        prefix: IpNet,
        /// The low bits of its priority.
        flags: u32,
    },
}

/// The learned route `r` encodes.
pub fn decode(r: &KernelRoute) -> Result<LearnedRoute, DecodeError> {
    let priority = r.priority.ok_or(DecodeError::NoMarker {
        prefix: r.prefix,
        priority: None,
    })?;
    if priority & !0xff != MARK {
        return Err(DecodeError::NoMarker {
            prefix: r.prefix,
            priority: Some(priority),
        });
    }
    let flags = priority & 0xff;
    let origin = match flags & !IBGP {
        0 => Origin::Igp,
        ORIGIN_EGP => Origin::Egp,
        ORIGIN_INCOMPLETE => Origin::Incomplete,
        _ => {
            return Err(DecodeError::BadFlags {
                prefix: r.prefix,
                flags,
            });
        }
    };
    Ok(LearnedRoute {
        prefix: r.prefix,
        local_pref: r.window.unwrap_or(0),
        as_path_len: r.reordering.unwrap_or(0),
        origin,
        med: r.ssthresh.unwrap_or(0),
        ebgp: flags & IBGP == 0,
    })
}

/// The kernel route BIRD's filter writes for `l` (what [`decode`] reads
/// back): for tests, and for a reader of the table to check itself by.
pub fn encode(l: &LearnedRoute) -> KernelRoute {
    let origin = match l.origin {
        Origin::Igp => 0,
        Origin::Egp => ORIGIN_EGP,
        Origin::Incomplete => ORIGIN_INCOMPLETE,
    };
    KernelRoute {
        prefix: l.prefix,
        priority: Some(MARK + origin + if l.ebgp { 0 } else { IBGP }),
        window: Some(l.local_pref),
        ssthresh: Some(l.med),
        reordering: Some(l.as_path_len),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(priority: Option<u32>) -> KernelRoute {
        KernelRoute {
            prefix: "198.18.200.0/24".parse().unwrap(),
            priority,
            window: Some(200),
            ssthresh: Some(50),
            reordering: Some(2),
        }
    }

    #[test]
    fn every_attribute_round_trips_through_the_kernel_fields() {
        for origin in [Origin::Igp, Origin::Egp, Origin::Incomplete] {
            for ebgp in [true, false] {
                let l = LearnedRoute {
                    prefix: "2001:2:0:200::/56".parse().unwrap(),
                    local_pref: u32::MAX,
                    as_path_len: 7,
                    origin,
                    med: 4_000_000_000,
                    ebgp,
                };
                assert_eq!(decode(&encode(&l)), Ok(l));
            }
        }
    }

    #[test]
    fn a_route_as_bird_writes_it_decodes() {
        // What `ip -d route show table 100` shows for an eBGP route with
        // ORIGIN EGP: `metric 1313865729 window 200 ssthresh 50 reordering 2`.
        let l = decode(&route(Some(1_313_865_729))).unwrap();
        assert_eq!(
            (l.local_pref, l.med, l.as_path_len, l.origin, l.ebgp),
            (200, 50, 2, Origin::Egp, true)
        );
    }

    #[test]
    fn omitted_metrics_read_as_zero() {
        let r = KernelRoute {
            window: None,
            ssthresh: None,
            reordering: None,
            ..route(Some(MARK + IBGP))
        };
        let l = decode(&r).unwrap();
        assert_eq!(
            (l.local_pref, l.med, l.as_path_len, l.ebgp),
            (0, 0, 0, false)
        );
    }

    #[test]
    fn a_route_without_the_marker_or_with_unknown_flags_is_refused() {
        assert!(matches!(
            decode(&route(None)),
            Err(DecodeError::NoMarker { priority: None, .. })
        ));
        assert!(matches!(
            decode(&route(Some(32))),
            Err(DecodeError::NoMarker {
                priority: Some(32),
                ..
            })
        ));
        let e = decode(&route(Some(MARK + 3))).unwrap_err();
        assert!(matches!(e, DecodeError::BadFlags { flags: 3, .. }));
        assert!(e.to_string().contains("198.18.200.0/24"), "{e}");
        assert!(matches!(
            decode(&route(Some(MARK + 8))),
            Err(DecodeError::BadFlags { .. })
        ));
    }
}
