//! Seeds derived from a run's seed.
//!
//! A run has one seed (from the plan, `--seed`, or drawn and recorded). Every
//! consumer of randomness (a link direction's pipeline, a probe's query ids,
//! a generated topology) gets its own stream derived from it with SplitMix64
//! (Steele, Lea and Flood), whose outputs for neighbouring inputs are
//! unrelated, so link 3 and link 4 never share a loss pattern.

/// One SplitMix64 step: advances `state` and returns the next output.
pub fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The seed of stream `stream` of a run whose seed is `seed`: the
/// `stream + 1`-th output of SplitMix64 started at `seed`, computed in
/// constant time.
pub fn derive(seed: u64, stream: u64) -> u64 {
    let mut state = seed.wrapping_add(stream.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    splitmix64(&mut state)
}

/// The seed of stream `n` of the consumer called `name` (a step's name,
/// say) of a run whose seed is `seed`.
///
/// For consumers known by name rather than by number: the name's bytes and
/// then `n`'s are folded into the state with SplitMix64's golden-ratio
/// multiplier, and one SplitMix64 step finishes it, so `("ping", 0)` and
/// `("ping", 1)`, or `"ping"` and `"pong"`, get unrelated seeds. Runs
/// recorded earlier keep their streams: the values are pinned by a test.
pub fn derive_named(seed: u64, name: &str, n: u64) -> u64 {
    const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut h = seed ^ GOLDEN;
    for b in name.bytes().chain(n.to_le_bytes()) {
        h = h.wrapping_add(u64::from(b)).wrapping_mul(GOLDEN);
        h ^= h >> 31;
    }
    splitmix64(&mut h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_matches_the_reference_sequence() {
        // The first outputs of the reference implementation seeded with 0.
        let mut x = 0;
        assert_eq!(splitmix64(&mut x), 0xE220_A839_7B1D_CDAF);
        assert_eq!(splitmix64(&mut x), 0x6E78_9E6A_A1B9_65F4);
    }

    #[test]
    fn derive_is_the_nth_output() {
        let mut x = 42;
        let first = splitmix64(&mut x);
        let second = splitmix64(&mut x);
        assert_eq!(derive(42, 0), first);
        assert_eq!(derive(42, 1), second);
    }

    #[test]
    fn derive_named_keeps_the_streams_runs_recorded() {
        // Values of the executor's `derive_seed` before it moved here: a run
        // replayed with its recorded seed gets the same step seeds.
        assert_eq!(derive_named(42, "ping", 0), 0xACE4_928F_441D_F428);
        assert_eq!(derive_named(42, "ping", 1), 0x8F96_A1C9_31C8_E7FB);
        assert_eq!(derive_named(0, "", 0), 0x5DBF_9A6A_15C9_8C12);
        assert_eq!(derive_named(7, "seed", 12345), 0x5E9C_6CDB_E2C6_A7EE);
    }

    #[test]
    fn derive_named_separates_names_numbers_and_seeds() {
        let a = derive_named(42, "ping", 0);
        assert_ne!(a, derive_named(42, "ping", 1));
        assert_ne!(a, derive_named(43, "ping", 0));
        assert_ne!(a, derive_named(42, "pong", 0));
        // A name's bytes and the number's do not run together.
        assert_ne!(derive_named(1, "a", 0), derive_named(1, "", 0x61));
    }
}
