//! What several fuzz targets share: cutting one input into a sequence of
//! datagrams, and a small runtime for the async readers.
//!
//! The targets themselves are in `fuzz_targets/`; docs/fuzzing.md says
//! what each one covers and how to run them.

use std::sync::OnceLock;

/// Cuts `data` into messages, each a length byte then that many bytes (the
/// last one shorter when the input ends first). libFuzzer's mutations keep
/// most of such a framing intact, so a target sees a series of datagrams
/// arrive, not only one.
pub fn messages(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = data;
    std::iter::from_fn(move || {
        let (&len, tail) = rest.split_first()?;
        let n = usize::from(len).min(tail.len());
        let (msg, after) = tail.split_at(n);
        rest = after;
        Some(msg)
    })
}

/// The inverse of [`messages`], for writing seeds.
pub fn frame_messages<'a>(msgs: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    for m in msgs {
        let n = m.len().min(255);
        out.push(n as u8);
        out.extend_from_slice(&m[..n]);
    }
    out
}

/// A current-thread tokio runtime with a timer, built once per process.
/// The targets' readers never wait (they read from a byte slice), so the
/// timer only has to exist for their timeouts.
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a current-thread runtime")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_through_their_framing() {
        let msgs: [&[u8]; 3] = [b"abc", b"", b"xy"];
        let framed = frame_messages(msgs);
        assert_eq!(messages(&framed).collect::<Vec<_>>(), msgs);
        assert_eq!(messages(&[5, 1, 2]).collect::<Vec<_>>(), [&[1u8, 2][..]]);
    }
}
