//! Deterministic generated text and token estimates.

use crate::ids::{splitmix64, Fnv};

/// Vocabulary of generated text; each entry carries its leading space.
const WORDS: [&str; 64] = [
    " the",
    " quick",
    " brown",
    " fox",
    " jumps",
    " over",
    " a",
    " lazy",
    " dog",
    " while",
    " gateway",
    " records",
    " every",
    " request",
    " as",
    " trace",
    " and",
    " stream",
    " of",
    " tokens",
    " flows",
    " through",
    " proxy",
    " to",
    " model",
    " which",
    " answers",
    " with",
    " text",
    " that",
    " is",
    " fast",
    " small",
    " large",
    " bright",
    " quiet",
    " river",
    " mountain",
    " cloud",
    " signal",
    " latency",
    " cache",
    " prompt",
    " reply",
    " store",
    " index",
    " query",
    " result",
    " value",
    " number",
    " simple",
    " clear",
    " steady",
    " north",
    " south",
    " east",
    " west",
    " morning",
    " evening",
    " garden",
    " window",
    " paper",
    " story",
    " ocean",
];

/// Seed of the text generated for a prompt given as `parts` (and the configured seed),
/// so that the same prompt gets the same text whether streamed or not.
pub(crate) fn text_seed(parts: &[&[u8]], seed: Option<u64>) -> u64 {
    let mut hash = Fnv::new();
    parts.iter().for_each(|p| hash.write_piece(p));
    hash.finish() ^ seed.map_or(0, splitmix64)
}

/// The `n` content deltas generated from `seed`: the first without, the rest with a leading space.
pub(crate) fn deltas(seed: u64, n: u32) -> Deltas {
    Deltas {
        seed,
        index: 0,
        count: n,
    }
}

/// Iterator over generated content deltas, one token each.
#[derive(Debug, Clone)]
pub(crate) struct Deltas {
    seed: u64,
    index: u32,
    count: u32,
}

impl Iterator for Deltas {
    type Item = &'static str;

    fn next(&mut self) -> Option<&'static str> {
        if self.index >= self.count {
            return None;
        }
        let r = splitmix64(self.seed ^ splitmix64(u64::from(self.index)));
        let word = WORDS[(r >> 58) as usize];
        let first = self.index == 0;
        self.index += 1;
        Some(if first { &word[1..] } else { word })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = (self.count - self.index) as usize;
        (left, Some(left))
    }
}

/// The full text of `n` generated tokens (the concatenated deltas).
pub(crate) fn full_text(seed: u64, n: u32) -> String {
    let mut out = String::with_capacity(n as usize * 7);
    deltas(seed, n).for_each(|d| out.push_str(d));
    out
}

/// The JSON text of an optional raw value (empty when absent).
pub(crate) fn raw_bytes(raw: Option<&serde_json::value::RawValue>) -> &[u8] {
    raw.map_or(&[], |r| r.get().as_bytes())
}

/// Token estimate of `bytes` bytes of prompt JSON: a quarter of the bytes, at least 1.
pub(crate) fn estimate_tokens(bytes: usize) -> u32 {
    u32::try_from(bytes / 4).unwrap_or(u32::MAX).max(1)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn deltas_are_deterministic_and_concatenate() {
        let a: Vec<_> = deltas(42, 20).collect();
        let b: Vec<_> = deltas(42, 20).collect();
        assert_eq!(a, b);
        assert_eq!(a.len(), 20);
        assert!(!a[0].starts_with(' '));
        assert!(a[1..].iter().all(|d| d.starts_with(' ')));
        assert_eq!(full_text(42, 20), a.concat());
        assert_eq!(full_text(42, 20).split(' ').count(), 20);
        assert_ne!(full_text(43, 20), full_text(42, 20));
        assert_eq!(full_text(1, 0), "");
    }

    #[test]
    fn seeds_depend_on_body_and_config() {
        assert_eq!(text_seed(&[b"x"], None), text_seed(&[b"x"], None));
        assert_ne!(text_seed(&[b"x"], None), text_seed(&[b"y"], None));
        assert_ne!(text_seed(&[b"x", b""], None), text_seed(&[b"", b"x"], None));
        assert_ne!(text_seed(&[b"x"], None), text_seed(&[b"x"], Some(1)));
    }

    #[test]
    fn token_estimate_is_a_quarter_of_bytes() {
        assert_eq!(estimate_tokens(0), 1);
        assert_eq!(estimate_tokens(3), 1);
        assert_eq!(estimate_tokens(400), 100);
    }
}
