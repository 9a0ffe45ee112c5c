//! Readers of what the daemons and the kernel answer: BIRD's `birdc`
//! text, FRR's `show ... json`, `ip -j route` and the daemons' messages
//! about a configuration they refused.
//!
//! Pure functions over text, so each format is pinned by a fixture copied
//! from the real daemon (BIRD 2.0.12, FRR 8.4.4, iproute2) and a format
//! change shows up as a failing unit test, not as a lab that never
//! converges. Unknown lines and fields are ignored: the daemons add
//! columns between releases.

use std::net::{IpAddr, Ipv4Addr};

use ipnet::IpNet;

/// An OSPF neighbour as a daemon lists it: its router id and state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Neighbour {
    /// The neighbour's router id.
    pub router_id: Ipv4Addr,
    /// Its state as the daemon writes it (`Full/PtP`, `Full/-`, `Init`).
    pub state: String,
}

impl Neighbour {
    /// Whether the adjacency is complete.
    pub fn is_full(&self) -> bool {
        self.state.starts_with("Full")
    }
}

/// A BGP session as a daemon lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BgpPeer {
    /// The neighbour's address.
    pub address: IpAddr,
    /// Its state (`Established`, `Active`, `Idle`, ...).
    pub state: String,
}

impl BgpPeer {
    /// Whether the session is up.
    pub fn is_established(&self) -> bool {
        self.state == "Established"
    }
}

/// A BFD session as a daemon lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BfdSession {
    /// The peer's address (an OSPFv3 neighbour's is its link-local one).
    pub peer: IpAddr,
    /// The interface the session runs over.
    pub interface: String,
    /// Its state as the daemon writes it (BIRD `Up`, `Init`, `Down`,
    /// `AdminDown`; FRR `up`, `init`, `down`, `shutdown`).
    pub state: String,
}

impl BfdSession {
    /// Whether the session is up.
    pub fn is_up(&self) -> bool {
        self.state.eq_ignore_ascii_case("up")
    }
}

/// `birdc show bfd sessions`: under a header per protocol, one line per
/// session starting with the peer's address, then the interface and the
/// state.
pub fn bird_bfd_sessions(text: &str) -> Vec<BfdSession> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let peer = fields.next()?.parse().ok()?;
            let interface = fields.next()?.to_string();
            let state = fields.next()?.to_string();
            Some(BfdSession {
                peer,
                interface,
                state,
            })
        })
        .collect()
}

/// FRR's `show bfd peers json`: `[{"peer": "198.18.0.5", "interface":
/// "eth0", "status": "up", ...}]`.
pub fn frr_bfd_peers(json: &str) -> Vec<BfdSession> {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(json) else {
        return Vec::new();
    };
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| {
            Some(BfdSession {
                peer: p.get("peer")?.as_str()?.parse().ok()?,
                interface: p.get("interface")?.as_str()?.to_string(),
                state: p.get("status")?.as_str()?.to_string(),
            })
        })
        .collect()
}

/// `birdc show ospf neighbors`: one line per neighbour under a header per
/// protocol; a neighbour line starts with the router id.
pub fn bird_ospf_neighbours(text: &str) -> Vec<Neighbour> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let router_id = fields.next()?.parse().ok()?;
            let _priority = fields.next()?;
            let state = fields.next()?.to_string();
            Some(Neighbour { router_id, state })
        })
        .collect()
}

/// `birdc show protocols all`: the BGP blocks' `Neighbor address` and
/// `BGP state` lines.
pub fn bird_bgp_peers(text: &str) -> Vec<BgpPeer> {
    let mut peers = Vec::new();
    let mut state: Option<String> = None;
    for line in text.lines() {
        let trimmed = line.trim();
        if !line.starts_with(' ') {
            // A new protocol's summary line ends the previous block.
            state = None;
        } else if let Some(s) = trimmed.strip_prefix("BGP state:") {
            state = Some(s.trim().to_string());
        } else if let Some(a) = trimmed.strip_prefix("Neighbor address:")
            && let (Some(st), Ok(address)) = (&state, a.trim().parse())
        {
            peers.push(BgpPeer {
                address,
                state: st.clone(),
            });
        }
    }
    peers
}

/// FRR's `show ip ospf neighbor json`: `{"neighbors": {"<router id>":
/// [{"nbrState": "Full/-", ...}]}}` (one entry per interface it is met on).
pub fn frr_ospf_neighbours(json: &str) -> Vec<Neighbour> {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(json) else {
        return Vec::new();
    };
    let Some(map) = v.get("neighbors").and_then(|n| n.as_object()) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (id, entries) in map {
        let Ok(router_id) = id.parse() else { continue };
        for e in entries.as_array().into_iter().flatten() {
            if let Some(state) = e.get("nbrState").and_then(|s| s.as_str()) {
                out.push(Neighbour {
                    router_id,
                    state: state.to_string(),
                });
            }
        }
    }
    out
}

/// FRR's `show bgp summary json`: per address family, `"peers": {"<address>":
/// {"state": "Established", ...}}`.
pub fn frr_bgp_peers(json: &str) -> Vec<BgpPeer> {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(json) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for family in v.as_object().into_iter().flat_map(|m| m.values()) {
        for (addr, peer) in family
            .get("peers")
            .and_then(|p| p.as_object())
            .into_iter()
            .flatten()
        {
            if let (Ok(address), Some(state)) =
                (addr.parse(), peer.get("state").and_then(|s| s.as_str()))
            {
                out.push(BgpPeer {
                    address,
                    state: state.to_string(),
                });
            }
        }
    }
    out
}

/// The destinations of `ip -j -4|-6 route show`: `"dst"` is a prefix, a
/// bare address (a host route) or `default`.
pub fn fib_prefixes(json: &str, v6: bool) -> Vec<IpNet> {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(json) else {
        return Vec::new();
    };
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r.get("dst")?.as_str())
        .filter_map(|dst| {
            if dst == "default" {
                return Some(if v6 {
                    IpNet::new(std::net::Ipv6Addr::UNSPECIFIED.into(), 0).ok()?
                } else {
                    IpNet::new(Ipv4Addr::UNSPECIFIED.into(), 0).ok()?
                });
            }
            dst.parse::<IpNet>()
                .ok()
                .or_else(|| dst.parse::<IpAddr>().ok().map(IpNet::from))
        })
        .collect()
}

/// Where in its configuration a daemon says the problem is: BIRD writes
/// `bird: /path/bird.conf:LINE:COL message`, vtysh `line N: % message`.
pub fn config_position(message: &str) -> Option<(u32, Option<u32>)> {
    for line in message.lines() {
        if let Some(rest) = line.trim_start().strip_prefix("line ")
            && let Some((n, _)) = rest.split_once(':')
            && let Ok(n) = n.trim().parse()
        {
            return Some((n, None));
        }
        // BIRD: the first `.conf:N:M` (a path may hold colons of its own,
        // so look for the pattern right after the file name).
        if let Some(at) = line.find(".conf:") {
            let mut parts = line[at + ".conf:".len()..].splitn(3, ':');
            let n = parts.next().and_then(|n| n.parse().ok());
            let col = parts
                .next()
                .and_then(|c| c.split_whitespace().next()?.parse().ok());
            if let Some(n) = n {
                return Some((n, col));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    // Copied from BIRD 2.0.12 and FRR 8.4.4 on this machine.
    const BIRD_NEIGHBOURS: &str = "BIRD 2.0.12 ready.\no4:\nRouter ID   \tPri\t     State     \tDTime\tInterface  Router IP\n198.18.251.2\t  1\tFull/PtP  \t35.870\teth0       198.18.250.1\n198.18.251.3\t  1\tInit/PtP  \t3.870\teth1       198.18.250.3\n";
    const BIRD_PROTOCOLS: &str = "BIRD 2.0.12 ready.\nName       Proto      Table      State  Since         Info\ndevice1    Device     ---        up     18:09:16.452  \n\nb1         BGP        ---        start  18:09:16.452  Idle          \n  BGP state:          Idle\n    Neighbor address: 198.18.0.9\n    Neighbor AS:      65002\n    Local AS:         65001\n  Channel ipv4\n    State:          DOWN\n\nb2         BGP        ---        up     18:09:16.452  Established   \n  BGP state:          Established\n    Neighbor address: 2001:2::1\n";
    const FRR_NEIGHBOURS: &str = r#"{"neighbors":{"198.18.251.2":[{"priority":1,"state":"Full\/-","nbrPriority":1,"nbrState":"Full\/-","converged":"Full","address":"198.18.250.1","ifaceName":"eth0:198.18.250.0"}]}}"#;
    const FRR_BGP: &str = r#"{"ipv4Unicast":{"routerId":"198.18.251.1","as":65001,"peers":{"198.18.250.1":{"remoteAs":65002,"state":"Established","peerState":"OK"},"198.18.250.3":{"state":"Active"}}},"ipv6Unicast":{"peers":{}}}"#;
    const IP_ROUTES: &str = r#"[{"dst":"default","gateway":"198.18.250.1","dev":"eth0"},{"dst":"198.18.250.0/31","dev":"eth0","protocol":"kernel","scope":"link","prefsrc":"198.18.250.0","flags":[]},{"dst":"198.18.251.2","nhid":12,"gateway":"198.18.250.1","dev":"eth0","protocol":"ospf","metric":20,"flags":[]}]"#;

    #[test]
    fn bird_neighbours_are_read_with_their_state() {
        let n = bird_ospf_neighbours(BIRD_NEIGHBOURS);
        assert_eq!(n.len(), 2);
        assert_eq!(n[0].router_id, Ipv4Addr::new(198, 18, 251, 2));
        assert!(n[0].is_full());
        assert!(!n[1].is_full());
    }

    #[test]
    fn bird_bgp_blocks_give_address_and_state() {
        let p = bird_bgp_peers(BIRD_PROTOCOLS);
        assert_eq!(
            p,
            vec![
                BgpPeer {
                    address: "198.18.0.9".parse().unwrap(),
                    state: "Idle".into()
                },
                BgpPeer {
                    address: "2001:2::1".parse().unwrap(),
                    state: "Established".into()
                },
            ]
        );
        assert!(p[1].is_established() && !p[0].is_established());
    }

    #[test]
    fn frr_json_gives_neighbours_and_peers_and_garbage_gives_nothing() {
        let n = frr_ospf_neighbours(FRR_NEIGHBOURS);
        assert_eq!(n.len(), 1);
        assert!(n[0].is_full());
        let p = frr_bgp_peers(FRR_BGP);
        assert_eq!(p.len(), 2);
        assert_eq!(p.iter().filter(|p| p.is_established()).count(), 1);
        assert!(frr_ospf_neighbours("% ospfd is not running").is_empty());
        assert!(frr_bgp_peers("{").is_empty());
    }

    // BFD for OSPF (an IPv4 session and an OSPFv3 one to the link-local
    // address per interface) and for BGP over a link, BIRD 2.0.12 and FRR
    // 8.4.4 on this machine; the down states written as the daemons do.
    const BIRD_BFD: &str = "BIRD 2.0.12 ready.\nbfd1:\nIP address                Interface  State      Since         Interval  Timeout\n198.19.0.1                a2         Up         05:19:19.936    0.100    0.300\nfe80::dc83:e1ff:fe55:44ed a3         Up         05:19:19.900    0.100    0.300\n198.19.0.3                a3         Init       05:19:19.843    1.000    0.000\n2001:2::b                 b-isp-a    Down       05:18:25.869    1.000    0.000\n";
    const FRR_BFD: &str = r#"[{"multihop":false,"peer":"198.19.0.3","vrf":"default","interface":"a3","id":1288232277,"status":"up","uptime":21,"diagnostic":"ok"},{"multihop":false,"peer":"fe80::e847:28ff:fe3a:a9c0","local":"fe80::b8c4:1eff:fe05:b560","vrf":"default","interface":"a3","status":"down","downtime":2},{"multihop":false,"peer":"2001:2:0:2::b","local":"2001:2:0:2::a","interface":"f-isp-a","status":"init"}]"#;

    #[test]
    fn bfd_sessions_are_read_with_interface_and_state() {
        let b = bird_bfd_sessions(BIRD_BFD);
        assert_eq!(b.len(), 4);
        assert_eq!(
            b[1].peer,
            "fe80::dc83:e1ff:fe55:44ed".parse::<IpAddr>().unwrap()
        );
        assert_eq!(b[1].interface, "a3");
        assert_eq!(
            b.iter().map(BfdSession::is_up).collect::<Vec<_>>(),
            [true, true, false, false]
        );
        let f = frr_bfd_peers(FRR_BFD);
        assert_eq!(f.len(), 3);
        assert_eq!((f[0].interface.as_str(), f[0].is_up()), ("a3", true));
        assert!(!f[1].is_up() && !f[2].is_up());
        assert!(frr_bfd_peers("% bfdd is not running").is_empty());
        assert!(bird_bfd_sessions("BIRD 2.0.12 ready.\nbfd1:\n").is_empty());
    }

    #[test]
    fn fib_reads_prefixes_host_routes_and_default() {
        let p = fib_prefixes(IP_ROUTES, false);
        let want: Vec<IpNet> = ["0.0.0.0/0", "198.18.250.0/31", "198.18.251.2/32"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        assert_eq!(p, want);
        assert_eq!(
            fib_prefixes(r#"[{"dst":"default"}]"#, true),
            vec!["::/0".parse::<IpNet>().unwrap()]
        );
    }

    #[test]
    fn refused_configurations_keep_their_line() {
        assert_eq!(
            config_position(
                "bird: /run/netproof/labs/np-1.d/r1/bird.conf:4:31 syntax error, unexpected CF_SYM_UNDEFINED"
            ),
            Some((4, Some(31)))
        );
        assert_eq!(
            config_position("line 3: % Unknown command[41]:  bogus command here"),
            Some((3, None))
        );
        assert_eq!(config_position("something else"), None);
    }
}
