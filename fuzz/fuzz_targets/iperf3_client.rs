//! The iperf3 client's side of the protocol: everything a server (iperf3
//! itself, ours, or anything listening on the port) sends back. On the
//! control connection: the state bytes of a test in order
//! (`PARAM_EXCHANGE`, `CREATE_STREAMS`, `TEST_START`, `TEST_RUNNING`,
//! `EXCHANGE_RESULTS`, `DISPLAY_RESULTS`), the states that end a test
//! (`ACCESS_DENIED`, `SERVER_ERROR` and its numbers, terminations), and
//! the server's results as length-prefixed JSON. On a reverse UDP test:
//! the datagrams' headers, counted into loss, reordering and jitter.
//! Nothing panics, the reader never waits (the bytes are all there, so a
//! step either completes or fails), and what parses is consistent.
//!
//! Input: a control byte; bit 0 clear: the rest is the control
//! connection as the client reads it; set: the rest is datagrams (a
//! length byte each) of a reverse UDP test, bit 1 choosing 64-bit packet
//! numbers.

#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use netproof_fuzz::{messages, runtime};
use netproof_probe::throughput::control::{self, ControlError};
use netproof_probe::throughput::reception::Reception;
use netproof_probe::throughput::wire::{Results, State, UdpHeader};

const LIMIT: Duration = Duration::from_secs(1);

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode & 1 == 0 {
        let mut r: &[u8] = rest;
        let out = runtime().block_on(async { conversation(&mut r).await });
        if let Err(e) = out {
            let _ = e.to_string();
            assert!(
                !matches!(e, ControlError::Timeout { .. }),
                "a reader waited: {e}"
            );
        }
    } else {
        datagrams(rest, mode & 2 != 0);
    }
});

/// The client's reads of one test, in order, stopping at the first error.
async fn conversation(r: &mut &[u8]) -> Result<(), ControlError> {
    for s in [
        State::ParamExchange,
        State::CreateStreams,
        State::TestStart,
        State::TestRunning,
    ] {
        control::expect_state(r, s, LIMIT).await?;
    }
    // During the test, any byte from the server ends it.
    let state = control::read_state(r, "during the test", LIMIT).await?;
    if state != State::ExchangeResults {
        return Ok(());
    }
    let theirs = control::read_json(r, "results", LIMIT).await?;
    match Results::from_json(&theirs) {
        Ok(res) => {
            for s in &res.streams {
                if let Some(d) = s.duration() {
                    assert!(d > 0.0, "{s:?}");
                }
            }
            // What we send back parses as what it says.
            let again =
                Results::from_json(res.to_json().as_object().expect("results are an object"))
                    .expect("our own results parse");
            assert_eq!(again.streams.len(), res.streams.len());
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
    control::expect_state(r, State::DisplayResults, LIMIT).await
}

fn datagrams(data: &[u8], wide: bool) {
    let mut rx = Reception::new();
    let mut arrived = 0.0;
    for d in messages(data) {
        let Ok(h) = UdpHeader::parse(d, wide) else {
            continue;
        };
        assert!(d.len() >= UdpHeader::len(wide));
        let mut again = vec![0u8; UdpHeader::len(wide)];
        assert!(h.emit(&mut again, wide));
        assert_eq!(UdpHeader::parse(&again, wide).ok(), Some(h));
        arrived += 0.001;
        rx.record(h.count, h.time(), arrived, d.len());
    }
    for sent in [0, rx.highest, rx.highest.saturating_add(10), u64::MAX] {
        let _ = rx.lost_of(sent);
    }
}
