//! `--shard K/N`: which slice of the cases one of N runners runs.
//!
//! A case belongs to shard `hash(name) mod N + 1`, so its shard depends on its own
//! name only: adding, removing or reordering other cases never moves it, and the
//! N shards together run every case exactly once. The price is that shards are
//! balanced only statistically (a shard of a small run may be empty).

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// 1-based.
    pub index: u32,
    pub count: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    /// The spec is not `K/N`.
    #[error("expected K/N (shard K of N, e.g. 2/4)")]
    Syntax,
    #[error("the shard count must be at least 1")]
    ZeroCount,
    #[error("K must be between 1 and N (shards are numbered 1 to {count})")]
    OutOfRange { count: u32 },
}

impl FromStr for Shard {
    type Err = ShardError;

    fn from_str(s: &str) -> Result<Shard, ShardError> {
        let (k, n) = s.trim().split_once('/').ok_or(ShardError::Syntax)?;
        let number = |t: &str| -> Result<u32, ShardError> {
            let t = t.trim();
            if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ShardError::Syntax);
            }
            t.parse().map_err(|_| ShardError::Syntax)
        };
        let (index, count) = (number(k)?, number(n)?);
        if count == 0 {
            return Err(ShardError::ZeroCount);
        }
        if index == 0 || index > count {
            return Err(ShardError::OutOfRange { count });
        }
        Ok(Shard { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    /// Whether the case of this name runs in this shard.
    pub fn contains(&self, case_name: &str) -> bool {
        fnv1a(case_name.as_bytes()) % u64::from(self.count) == u64::from(self.index - 1)
    }
}

/// FNV-1a, 64 bits: fixed by its definition, so shards stay put across Rust
/// versions and platforms (unlike `DefaultHasher`).
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_valid_specs() {
        assert_eq!("1/1".parse(), Ok(Shard { index: 1, count: 1 }));
        assert_eq!("3/4".parse(), Ok(Shard { index: 3, count: 4 }));
        assert_eq!(" 2/2 ".parse::<Shard>().unwrap().to_string(), "2/2");
    }

    #[test]
    fn rejects_bad_specs_with_their_message() {
        let table = [
            ("0/3", "K must be between 1 and N (shards are numbered 1 to 3)"),
            ("4/3", "K must be between 1 and N (shards are numbered 1 to 3)"),
            ("1/0", "the shard count must be at least 1"),
            ("x", "expected K/N (shard K of N, e.g. 2/4)"),
            ("1/x", "expected K/N (shard K of N, e.g. 2/4)"),
            ("-1/3", "expected K/N (shard K of N, e.g. 2/4)"),
            ("+1/3", "expected K/N (shard K of N, e.g. 2/4)"),
            ("1/3/5", "expected K/N (shard K of N, e.g. 2/4)"),
            ("", "expected K/N (shard K of N, e.g. 2/4)"),
            ("99999999999/3", "expected K/N (shard K of N, e.g. 2/4)"),
        ];
        for (input, message) in table {
            assert_eq!(input.parse::<Shard>().unwrap_err().to_string(), message, "{input:?}");
        }
    }

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("scenario-{}/guest-{i}@host{}", i % 3, i % 2)).collect()
    }

    #[test]
    fn every_case_is_in_exactly_one_shard() {
        for count in 1..=7 {
            for name in names(200) {
                let owners = (1..=count).filter(|&index| Shard { index, count }.contains(&name)).count();
                assert_eq!(owners, 1, "{name} in {owners} of {count} shards");
            }
        }
    }

    #[test]
    fn a_case_keeps_its_shard_whatever_the_other_cases() {
        let shard = Shard { index: 2, count: 3 };
        let all = names(100);
        let chosen: Vec<&String> = all.iter().filter(|n| shard.contains(n)).collect();
        let mut shuffled: Vec<&String> = all.iter().rev().step_by(2).collect();
        shuffled.push(&all[0]);
        for n in shuffled {
            assert_eq!(shard.contains(n), chosen.contains(&n));
        }
    }

    #[test]
    fn the_hash_is_pinned() {
        // Moving cases between shards silently would mix up nightly histories.
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        let spread: Vec<usize> =
            (1..=4).map(|index| names(400).iter().filter(|n| Shard { index, count: 4 }.contains(n)).count()).collect();
        assert!(spread.iter().all(|&c| c > 60), "{spread:?}");
    }
}
