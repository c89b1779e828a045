//! Property-based fuzzing of the decoders that read network or operator input (proptest on
//! stable Rust). Each target draws inputs from two sources: bytes or text from nowhere (random),
//! and real inputs (golden vectors, documented settings) mutated a few bytes at a time, which
//! gets far deeper into a decoder than random bytes do.
//!
//! `FUZZ_CASES` sets how many inputs each target tries (default [`DEFAULT_CASES`], what CI
//! runs); a long run is `FUZZ_CASES=1000000 cargo test --release --test fuzz` in a crate.
//! Each run draws a new random seed and prints it; `FUZZ_SEED=<seed>` repeats a run exactly.
//! (No fork or timeout: a decoder that hangs hangs the test, which CI's time limit reports.)

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

/// Inputs per target when `FUZZ_CASES` is not set.
pub const DEFAULT_CASES: u32 = 20_000;

/// How many inputs each target tries: `FUZZ_CASES`, or [`DEFAULT_CASES`].
pub fn cases() -> u32 {
    std::env::var("FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(DEFAULT_CASES)
}

/// The seed of this run: `FUZZ_SEED`, or one drawn from the clock (printed either way).
pub fn seed() -> u64 {
    let seed = std::env::var("FUZZ_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or_else(|| {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        u64::try_from(now.as_nanos() % u128::from(u64::MAX)).unwrap_or_default() ^ u64::from(std::process::id())
    });
    println!("fuzz seed {seed} (FUZZ_SEED={seed} repeats this run)");
    seed
}

/// The runner configuration of a fuzz target: [`cases`] inputs from [`seed`], no failure files
/// written into the source tree (a failure prints its minimal input; add it to the seeds).
pub fn config() -> Config {
    Config {
        cases: cases(),
        failure_persistence: None,
        max_shrink_iters: 4_096,
        rng_seed: RngSeed::Fixed(seed()),
        ..Config::default()
    }
}

/// One edit of a seed.
#[derive(Debug, Clone)]
enum Edit {
    /// Replace the byte at a position.
    Set(usize, u8),
    /// Insert a byte at a position.
    Insert(usize, u8),
    /// Remove the byte at a position.
    Remove(usize),
    /// Cut the input at a position.
    Truncate(usize),
    /// Copy a run of bytes (start, length) to another position.
    Duplicate(usize, usize, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        4 => (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Edit::Set(at, byte)),
        2 => (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Edit::Insert(at, byte)),
        2 => any::<usize>().prop_map(Edit::Remove),
        1 => any::<usize>().prop_map(Edit::Truncate),
        1 => (any::<usize>(), 1..16usize, any::<usize>()).prop_map(|(from, len, to)| Edit::Duplicate(from, len, to)),
    ]
}

fn apply(mut bytes: Vec<u8>, edits: Vec<Edit>) -> Vec<u8> {
    for edit in edits {
        let len = bytes.len();
        match edit {
            Edit::Set(at, byte) if len > 0 => bytes[at % len] = byte,
            Edit::Insert(at, byte) => bytes.insert(at % (len + 1), byte),
            Edit::Remove(at) if len > 0 => {
                bytes.remove(at % len);
            }
            Edit::Truncate(at) => bytes.truncate(at % (len + 1)),
            Edit::Duplicate(from, run, to) if len > 0 => {
                let from = from % len;
                let run: Vec<u8> = bytes[from..(from + run).min(len)].to_vec();
                let to = to % (len + 1);
                bytes.splice(to..to, run);
            }
            _ => {}
        }
    }
    bytes
}

/// A seed from `seeds` (which must not be empty) with up to 8 edits, or unchanged.
pub fn mutated(seeds: Vec<Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    let count = seeds.len().max(1);
    (0..count, proptest::collection::vec(edit(), 0..8))
        .prop_map(move |(index, edits)| apply(seeds.get(index).cloned().unwrap_or_default(), edits))
}

/// Random bytes, up to `max` of them.
pub fn random_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..max)
}

/// Mutated seeds four times in five, random bytes otherwise.
pub fn inputs(seeds: Vec<Vec<u8>>, max_random: usize) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![4 => mutated(seeds), 1 => random_bytes(max_random)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_stay_in_bounds() {
        let seed = b"abcdef".to_vec();
        assert_eq!(apply(seed.clone(), vec![Edit::Set(7, b'X')]), b"aXcdef");
        assert_eq!(apply(seed.clone(), vec![Edit::Truncate(3)]), b"abc");
        assert_eq!(apply(seed.clone(), vec![Edit::Duplicate(4, 10, 0)]), b"efabcdef");
        assert_eq!(apply(Vec::new(), vec![Edit::Remove(3), Edit::Set(1, 0)]), b"");
        assert_eq!(apply(Vec::new(), vec![Edit::Insert(9, b'z')]), b"z");
    }
}
