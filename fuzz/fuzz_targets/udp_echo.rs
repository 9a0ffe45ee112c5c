//! The UDP echo probe's receive paths: the responder reading requests
//! (`netproof probe serve`) and the client reading replies into its
//! tracker (RTT, loss, duplicates, reordering, jitter, convergence). Any
//! datagram from the network may arrive, with any sequence number and any
//! echoed stamp. Nothing panics; a datagram that parses is at least a
//! header long; the tracker's counts add up.
//!
//! Input: datagrams, each a length byte then its bytes. The client has
//! sent sequences 0..16, 10 ms apart, each stamped with its send time.

#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use netproof_fuzz::messages;
use netproof_probe::udp_echo::wire::{HEADER_LEN, Kind, Packet};
use netproof_probe::udp_echo::{Reception, Tracker};

const SENT: u64 = 16;

fuzz_target!(|data: &[u8]| {
    let mut tracker = Tracker::new();
    for seq in 0..SENT {
        tracker.sent(seq, Duration::from_millis(10 * seq));
    }
    let mut replies = 0u64;
    for (i, d) in messages(data).enumerate() {
        let Ok(p) = Packet::parse(d) else { continue };
        assert!(d.len() >= HEADER_LEN);
        // The responder answers a request with the same bytes, kind flipped.
        let mut again = Vec::new();
        p.emit(&mut again, d.len());
        assert_eq!(Packet::parse(&again), Ok(p));
        if p.kind != Kind::Reply {
            continue;
        }
        let at = Duration::from_millis(5 * i as u64);
        if let Reception::Reply { .. } =
            tracker.received(p.seq, Duration::from_nanos(p.stamp_ns), at)
        {
            replies += 1;
        }
    }
    let now = Duration::from_secs(1);
    let outcome = tracker.finish(now, Duration::from_millis(100));
    let s = outcome.summary;
    assert_eq!(s.sent, SENT);
    assert_eq!(s.received, replies);
    assert_eq!(
        s.received + s.lost + outcome.pending.len() as u64,
        SENT,
        "{s:?}"
    );
    let _ = tracker.convergence(now, Duration::from_millis(10), Duration::from_millis(100));
});
