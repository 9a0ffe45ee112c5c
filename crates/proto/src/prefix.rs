//! IP prefixes and the lab's address policy.
//!
//! Prefix arithmetic is the `ipnet` crate's ([`IpNet`], re-exported); this
//! module adds what a plan needs on top: parsing a *network* prefix as a
//! user writes it, refusing address bits beyond the length with the
//! corrected prefix in the message (RFC 7871 section 6 makes a server
//! answer an ECS source prefix with such bits FORMERR, and a route to one
//! is a typo), and the ranges a lab may use.
//!
//! Lab addresses come from the ranges reserved for benchmarking,
//! 198.18.0.0/15 (RFC 2544) and 2001:2::/48 (RFC 5180), plus loopback. Any
//! other address in a plan is an error unless the user passes
//! `--allow-external` for a real lab, so a typo cannot point a probe at
//! somebody's production network.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use thiserror::Error;

/// The permitted ranges, as written in messages.
pub const LAB_RANGES: &str = "198.18.0.0/15, 2001:2::/48, 127.0.0.0/8 or ::1";

/// 198.18.0.0/15, the IPv4 benchmarking range (RFC 2544).
pub const LAB_V4: Ipv4Net = match Ipv4Net::new(Ipv4Addr::new(198, 18, 0, 0), 15) {
    Ok(n) => n,
    Err(_) => panic!("a /15 is a valid IPv4 prefix"),
};

/// 2001:2::/48, the IPv6 benchmarking range (RFC 5180).
pub const LAB_V6: Ipv6Net = match Ipv6Net::new(Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 0), 48) {
    Ok(n) => n,
    Err(_) => panic!("a /48 is a valid IPv6 prefix"),
};

/// Whether `ip` is in a lab range or loopback.
pub fn is_lab_or_loopback(ip: IpAddr) -> bool {
    // `::ffff:127.0.0.1` is 127.0.0.1 on the wire.
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.is_loopback() || LAB_V4.contains(&v4),
        IpAddr::V6(v6) => v6 == Ipv6Addr::LOCALHOST || LAB_V6.contains(&v6),
    }
}

/// Whether `ip` is an IPv4 loopback address (the local backend's range).
pub fn is_v4_loopback(ip: IpAddr) -> bool {
    matches!(ip.to_canonical(), IpAddr::V4(v4) if v4.is_loopback())
}

/// Why a text is not a network prefix.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PrefixError {
    /// No `/LEN`.
    #[error("`{0}` has no prefix length")]
    NoLength(String),
    /// The part before `/` is not an address.
    #[error("`{0}` is not an IPv4 or IPv6 address")]
    Address(String),
    /// The length is not a number or too long for the family.
    #[error("`/{len}` is not a prefix length (0 to {max})")]
    Length {
        /// The length as written.
        len: String,
        /// 32 or 128.
        max: u8,
    },
    /// Bits set beyond the length.
    #[error("`{text}` has address bits set beyond /{}", .fixed.prefix_len())]
    HostBits {
        /// The prefix as written.
        text: String,
        /// The same prefix with those bits cleared.
        fixed: IpNet,
    },
}

impl PrefixError {
    /// A short label for the text at fault.
    pub fn label(&self) -> &'static str {
        match self {
            PrefixError::NoLength(_) => "expected `/LEN`",
            PrefixError::Address(_) => "not an address",
            PrefixError::Length { .. } => "invalid length",
            PrefixError::HostBits { .. } => "host bits set",
        }
    }

    /// What to write instead.
    pub fn hint(&self) -> String {
        match self {
            PrefixError::HostBits { fixed, .. } => format!("write the network, `{fixed}`"),
            _ => "write a network prefix such as `198.18.4.0/24` or `2001:2:4::/48`".into(),
        }
    }
}

/// Parses `ADDR/LEN` with no address bits set beyond `LEN` (a network, not
/// an address in one). The length is decimal digits only.
pub fn parse_network(text: &str) -> Result<IpNet, PrefixError> {
    let (a, l) = text
        .split_once('/')
        .ok_or_else(|| PrefixError::NoLength(text.to_string()))?;
    let addr: IpAddr = a.parse().map_err(|_| PrefixError::Address(a.to_string()))?;
    let max: u8 = if addr.is_ipv4() { 32 } else { 128 };
    let len = l
        .parse::<u8>()
        .ok()
        .filter(|n| *n <= max && !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| PrefixError::Length {
            len: l.to_string(),
            max,
        })?;
    let net = IpNet::new(addr, len).map_err(|_| PrefixError::Length {
        len: l.to_string(),
        max,
    })?;
    if net.network() != addr {
        return Err(PrefixError::HostBits {
            text: text.to_string(),
            fixed: net.trunc(),
        });
    }
    Ok(net)
}

/// The prefix `addr/len` when `addr` has no bits set beyond `len` (as a
/// value received from the network must be before it is trusted).
pub fn network(addr: IpAddr, len: u8) -> Option<IpNet> {
    IpNet::new(addr, len).ok().filter(|n| n.network() == addr)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn lab_ranges_and_loopback_only() {
        for ok in [
            "198.18.0.1",
            "198.19.255.255",
            "127.0.0.1",
            "127.5.6.7",
            "::1",
            "2001:2::1",
            "2001:2:0:ffff::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_lab_or_loopback(ip(ok)), "{ok}");
        }
        for bad in [
            "198.17.255.255",
            "198.20.0.0",
            "8.8.8.8",
            "10.0.0.1",
            "2001:3::1",
            "2001:db8::1",
            "::2",
        ] {
            assert!(!is_lab_or_loopback(ip(bad)), "{bad}");
        }
        assert!(is_v4_loopback(ip("127.0.0.9")));
        assert!(!is_v4_loopback(ip("::1")));
        assert!(!is_v4_loopback(ip("198.18.0.1")));
    }

    #[test]
    fn networks_parse_and_refuse_host_bits() {
        let n = parse_network("198.18.4.0/24").unwrap();
        assert_eq!((n.addr(), n.prefix_len()), (ip("198.18.4.0"), 24));
        assert_eq!(n.to_string(), "198.18.4.0/24");
        assert_eq!(
            parse_network("2001:2:4::/48").unwrap().to_string(),
            "2001:2:4::/48"
        );
        assert_eq!(parse_network("0.0.0.0/0").unwrap().prefix_len(), 0);
        let e = parse_network("198.18.4.1/24").unwrap_err();
        assert_eq!(
            e.to_string(),
            "`198.18.4.1/24` has address bits set beyond /24"
        );
        assert_eq!(e.hint(), "write the network, `198.18.4.0/24`");
        assert!(matches!(
            parse_network("198.18.4.0"),
            Err(PrefixError::NoLength(_))
        ));
        assert!(matches!(
            parse_network("198.18.4.0/33"),
            Err(PrefixError::Length { max: 32, .. })
        ));
        assert!(matches!(
            parse_network("::/129"),
            Err(PrefixError::Length { max: 128, .. })
        ));
        assert!(matches!(
            parse_network("::/+1"),
            Err(PrefixError::Length { .. })
        ));
        assert!(matches!(
            parse_network("::/"),
            Err(PrefixError::Length { .. })
        ));
        assert!(matches!(
            parse_network("nope/8"),
            Err(PrefixError::Address(_))
        ));
    }

    #[test]
    fn received_prefixes_must_be_networks() {
        assert!(network(ip("198.18.4.0"), 24).is_some());
        assert!(network(ip("198.18.4.1"), 24).is_none());
        assert!(network(ip("198.18.4.0"), 33).is_none());
    }
}
