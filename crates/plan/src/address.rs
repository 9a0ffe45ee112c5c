//! The address policy: plans stay inside the lab's ranges.
//!
//! Lab addresses come from the ranges reserved for benchmarking, 198.18.0.0/15
//! (RFC 2544) and 2001:2::/48 (RFC 5180), plus loopback. Any other address in
//! a plan is an error unless the user passes `--allow-external` for a real
//! lab, so a typo cannot point a probe at somebody's production network.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The permitted ranges, as written in messages.
pub const LAB_RANGES: &str = "198.18.0.0/15, 2001:2::/48, 127.0.0.0/8 or ::1";

/// Whether `ip` is in a lab range or loopback.
pub fn is_lab_or_loopback(ip: IpAddr) -> bool {
    // `::ffff:127.0.0.1` is 127.0.0.1 on the wire.
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.is_loopback() || in_v4(v4, Ipv4Addr::new(198, 18, 0, 0), 15),
        IpAddr::V6(v6) => {
            v6 == Ipv6Addr::LOCALHOST || in_v6(v6, Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 0), 48)
        }
    }
}

/// Whether `ip` is an IPv4 loopback address (the local backend's range).
pub fn is_v4_loopback(ip: IpAddr) -> bool {
    matches!(ip.to_canonical(), IpAddr::V4(v4) if v4.is_loopback())
}

fn in_v4(ip: Ipv4Addr, net: Ipv4Addr, len: u32) -> bool {
    let mask = u32::MAX << (32 - len);
    u32::from(ip) & mask == u32::from(net) & mask
}

fn in_v6(ip: Ipv6Addr, net: Ipv6Addr, len: u32) -> bool {
    let mask = u128::MAX << (128 - len);
    u128::from(ip) & mask == u128::from(net) & mask
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
}
