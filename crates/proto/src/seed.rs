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
}
