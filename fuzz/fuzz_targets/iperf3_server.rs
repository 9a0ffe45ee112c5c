//! The iperf3 server's side of the protocol (`netproof probe serve
//! --iperf3`): everything a client (iperf3 -c, ours, or anything that
//! connects) sends. On the control connection: the 37-byte cookie, the
//! test parameters as length-prefixed JSON (refused by name when they ask
//! for what the server cannot honour), the state that ends the test
//! (`TEST_END`, or a termination), the client's results, and
//! `IPERF_DONE`. On a UDP test: the connect datagram and the data
//! datagrams' headers. Nothing panics, the reader never waits, and
//! parameters that are accepted survive a round trip through the JSON
//! the client would send.
//!
//! Input: a control byte; bit 0 clear: the rest is the control
//! connection as the server reads it; set: the rest is datagrams (a
//! length byte each), bit 1 choosing 64-bit packet numbers.

#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use netproof_fuzz::{messages, runtime};
use netproof_probe::throughput::control::{self, ControlError};
use netproof_probe::throughput::reception::Reception;
use netproof_probe::throughput::wire::{
    self, COOKIE_LEN, MAX_STREAMS, Params, Results, State, UdpHeader,
};
use tokio::io::AsyncReadExt;

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

/// The server's reads of one test, in order, stopping at the first error.
async fn conversation(r: &mut &[u8]) -> Result<(), ControlError> {
    let mut cookie = [0u8; COOKIE_LEN];
    if r.read_exact(&mut cookie).await.is_err() {
        return Ok(());
    }
    let raw = control::read_json(r, "test parameters", LIMIT).await?;
    let params = match Params::from_json(&raw) {
        Ok(p) => p,
        Err(e) => {
            let _ = e.to_string();
            return Ok(());
        }
    };
    assert!((1..=MAX_STREAMS).contains(&params.parallel), "{params:?}");
    let json = params.to_json();
    let again = Params::from_json(json.as_object().expect("parameters are an object"))
        .expect("parameters we accepted, as a client sends them");
    assert_eq!(again, params);
    let _ = (0..usize::from(params.parallel))
        .map(wire::stream_id)
        .count();

    // The first byte during the test ends it.
    let state = control::read_state(r, "during the test", LIMIT).await?;
    if state != State::TestEnd {
        return Ok(());
    }
    let theirs = control::read_json(r, "results", LIMIT).await?;
    if let Err(e) = Results::from_json(&theirs) {
        let _ = e.to_string();
        return Ok(());
    }
    control::read_state(r, "while waiting for IPERF_DONE", LIMIT).await?;
    Ok(())
}

fn datagrams(data: &[u8], wide: bool) {
    let mut rx = Reception::new();
    let mut arrived = 0.0;
    for d in messages(data) {
        if wire::is_udp_connect_msg(d) {
            continue;
        }
        let Ok(h) = UdpHeader::parse(d, wide) else {
            continue;
        };
        arrived += 0.001;
        rx.record(h.count, h.time(), arrived, d.len());
    }
    assert!(rx.jitter >= 0.0 || rx.received < 2, "{rx:?}");
}
