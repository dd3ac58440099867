//! Deterministic hashing, pseudo-random numbers and provider-style ids.

use std::sync::atomic::{AtomicU64, Ordering};

const GOLDEN_GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// The SplitMix64 finaliser: a cheap, well-mixed bijection on `u64`.
pub(crate) fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(GOLDEN_GAMMA);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Incremental 64-bit FNV-1a hash, stable across platforms and releases.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fnv(u64);

impl Fnv {
    /// A hasher in its initial state.
    pub fn new() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }

    /// Feeds `bytes` into the hash.
    pub fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }

    /// Feeds `bytes` followed by a separator, so that piece boundaries matter.
    pub fn write_piece(&mut self, bytes: &[u8]) {
        self.write(bytes);
        self.write(&[0xff]);
    }

    /// The current hash value.
    pub fn finish(self) -> u64 {
        self.0
    }
}

/// FNV-1a of `bytes`.
#[cfg(test)]
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h = Fnv::new();
    h.write(bytes);
    h.finish()
}

/// Source of pseudo-random numbers: a seed plus a shared counter (lock free).
#[derive(Debug)]
pub(crate) struct IdGen {
    seed: u64,
    counter: AtomicU64,
}

impl IdGen {
    /// A generator from `seed`, or from a random seed when `None`.
    pub fn new(seed: Option<u64>) -> Self {
        Self {
            seed: seed.unwrap_or_else(rand::random),
            counter: AtomicU64::new(0),
        }
    }

    /// The next pseudo-random number.
    pub fn next_u64(&self) -> u64 {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        splitmix64(self.seed ^ splitmix64(n))
    }

    /// True with probability `rate` (clamped to 0..=1).
    pub fn chance(&self, rate: f64) -> bool {
        if rate.is_nan() || rate <= 0.0 {
            return false;
        }
        if rate >= 1.0 {
            return true;
        }
        let unit = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        unit < rate
    }

    /// `prefix` followed by `len` base62 characters.
    pub fn base62(&self, prefix: &str, len: usize) -> String {
        let mut out = String::with_capacity(prefix.len() + len);
        out.push_str(prefix);
        let mut bits = 0u64;
        for i in 0..len {
            if i % 10 == 0 {
                bits = self.next_u64();
            }
            out.push(char::from(BASE62[(bits % 62) as usize]));
            bits /= 62;
        }
        out
    }

    /// `prefix` followed by `len` lowercase hex characters.
    pub fn hex(&self, prefix: &str, len: usize) -> String {
        let mut out = String::with_capacity(prefix.len() + len);
        out.push_str(prefix);
        let mut bits = 0u64;
        for i in 0..len {
            if i % 16 == 0 {
                bits = self.next_u64();
            }
            out.push(char::from(b"0123456789abcdef"[(bits & 0xf) as usize]));
            bits >>= 4;
        }
        out
    }

    /// An Anthropic message id (`msg_01…`).
    pub fn message_id(&self) -> String {
        self.base62("msg_01", 22)
    }

    /// An Anthropic `request-id` header value (`req_01…`).
    pub fn anthropic_request_id(&self) -> String {
        self.base62("req_01", 22)
    }

    /// An OpenAI chat completion id (`chatcmpl-…`).
    pub fn completion_id(&self) -> String {
        self.base62("chatcmpl-", 29)
    }

    /// An OpenAI `x-request-id` header value.
    pub fn openai_request_id(&self) -> String {
        self.hex("req_", 32)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn fnv_matches_reference_vectors() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn seeded_generators_repeat_and_ids_differ() {
        let a = IdGen::new(Some(7));
        let b = IdGen::new(Some(7));
        let ids_a: Vec<String> = (0..50).map(|_| a.message_id()).collect();
        let ids_b: Vec<String> = (0..50).map(|_| b.message_id()).collect();
        assert_eq!(ids_a, ids_b);
        assert_eq!(ids_a.iter().collect::<HashSet<_>>().len(), 50);
        assert!(ids_a
            .iter()
            .all(|id| id.len() == 28 && id.starts_with("msg_01")));
        assert!(ids_a[0][6..].chars().all(|c| c.is_ascii_alphanumeric()));
        let id = a.completion_id();
        assert_eq!(id.len(), "chatcmpl-".len() + 29);
        let req = a.openai_request_id();
        assert!(req[4..].chars().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn chance_follows_the_rate() {
        let g = IdGen::new(Some(1));
        assert!(!(0..100).any(|_| g.chance(0.0)));
        assert!((0..100).all(|_| g.chance(1.0)));
        assert!(!g.chance(f64::NAN));
        let hits = (0..10_000).filter(|_| g.chance(0.3)).count();
        assert!((2_600..3_400).contains(&hits), "{hits}");
    }
}
