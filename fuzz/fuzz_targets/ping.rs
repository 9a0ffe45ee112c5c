//! The ping probe's receive path: ICMP and ICMPv6 echo replies as a
//! datagram ("ping") socket delivers them, and as a raw IPv4 socket does
//! (IP header first, options included, and every other ICMP message of
//! the namespace). Any bytes may arrive. Nothing panics; a reply is only
//! ever taken for a request the series sent, with the stamp it sent; the
//! series' counts add up.
//!
//! Input: a control byte (family and socket kind), then datagrams, each a
//! length byte then its bytes. The series has sent 20 requests, 10 ms
//! apart (its sequences wrap the 16-bit wire field only in a long series;
//! this one also exercises the unwrapping).

#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use netproof_fuzz::messages;
use netproof_probe::ping::wire::{Echo, strip_ipv4_header};
use netproof_probe::ping::{Family, Series, SocketKind};

const SENT: u64 = 20;

fuzz_target!(|data: &[u8]| {
    let Some((&control, rest)) = data.split_first() else {
        return;
    };
    let family = if control & 1 == 0 {
        Family::V4
    } else {
        Family::V6
    };
    let socket = if control & 2 == 0 {
        SocketKind::Datagram
    } else {
        SocketKind::Raw { ident: 0x4e50 }
    };
    let mut series = Series::new(family, socket, 56);
    let mut buf = Vec::new();
    let mut sent = Vec::new();
    for i in 0..SENT {
        let at = Duration::from_millis(10 * i);
        let seq = series.request(at, &mut buf);
        sent.push((seq, at));
    }
    let mut replies = 0u64;
    for (i, d) in messages(rest).enumerate() {
        // The codec alone, on both families and behind an IP header.
        let _ = Echo::parse(Family::V4, d);
        let _ = Echo::parse(Family::V6, d);
        if let Ok(inner) = strip_ipv4_header(d) {
            assert!(inner.len() + 20 <= d.len());
        }
        let at = Duration::from_millis(200 + i as u64);
        if let Some(r) = series.receive(d, at) {
            assert!(
                sent.contains(&(r.seq, r.sent_at)),
                "a reply to no request: {r:?}"
            );
            assert_eq!(r.rtt, at - r.sent_at);
            replies += 1;
        }
    }
    let outcome = series.finish(Duration::from_secs(2), Duration::from_secs(1));
    let s = outcome.summary;
    assert_eq!((s.sent, s.received), (SENT, replies));
    assert_eq!(
        s.received + s.lost + outcome.pending.len() as u64,
        SENT,
        "{s:?}"
    );
});
