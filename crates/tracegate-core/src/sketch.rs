//! Mergeable latency sketches (DDSketch) for rollups: any quantile within 2% relative
//! error, however many values went in, and two sketches merge into the sketch of the union.

use sketches_ddsketch::{Config, DDSketch};

/// Relative accuracy of every quantile (1%: well inside the promised 2%).
pub const RELATIVE_ACCURACY: f64 = 0.01;

#[derive(Debug, thiserror::Error)]
#[error("latency sketch could not be decoded: {0}")]
pub struct SketchError(String);

/// A latency distribution in milliseconds.
#[derive(Clone)]
pub struct LatencySketch(DDSketch);

impl std::fmt::Debug for LatencySketch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LatencySketch")
            .field("count", &self.count())
            .finish()
    }
}

impl Default for LatencySketch {
    fn default() -> Self {
        LatencySketch(DDSketch::new(Config::new(RELATIVE_ACCURACY, 2048, 1e-3)))
    }
}

impl LatencySketch {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one value; negative and non-finite values are ignored.
    pub fn add(&mut self, ms: f64) {
        if ms.is_finite() && ms >= 0.0 {
            self.0.add(ms);
        }
    }

    pub fn merge(&mut self, other: &LatencySketch) {
        // Both sides always use the same configuration, so merging cannot fail.
        let _ = self.0.merge(&other.0);
    }

    pub fn count(&self) -> u64 {
        self.0.count() as u64
    }

    /// The `q` quantile (0..=1), or None when empty.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if !(0.0..=1.0).contains(&q) {
            return None;
        }
        self.0.quantile(q).ok().flatten()
    }

    pub fn sum(&self) -> Option<f64> {
        self.0.sum()
    }

    /// Compact binary form, for storage.
    pub fn encode(&self) -> Vec<u8> {
        postcard::to_allocvec(&self.0).unwrap_or_default()
    }

    pub fn decode(bytes: &[u8]) -> Result<LatencySketch, SketchError> {
        postcard::from_bytes(bytes)
            .map(LatencySketch)
            .map_err(|e| SketchError(e.to_string()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn exact(sorted: &[f64], q: f64) -> f64 {
        let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
        sorted[rank - 1]
    }

    #[test]
    fn quantiles_are_within_two_percent_of_exact_ones() {
        // A long-tailed distribution from 0.2 ms to ~60 s.
        let mut values: Vec<f64> = (0..20_000u32)
            .map(|i| {
                let x = f64::from(i) / 20_000.0;
                0.2 + 60_000.0 * x.powi(6)
            })
            .collect();
        let mut a = LatencySketch::new();
        let mut b = LatencySketch::new();
        for (i, v) in values.iter().enumerate() {
            if i % 3 == 0 {
                a.add(*v)
            } else {
                b.add(*v)
            }
        }
        // Through storage and a merge, as rollups use them.
        let mut merged = LatencySketch::decode(&a.encode()).unwrap();
        merged.merge(&LatencySketch::decode(&b.encode()).unwrap());
        assert_eq!(merged.count(), 20_000);
        values.sort_by(f64::total_cmp);
        for q in [0.5, 0.9, 0.95, 0.99, 0.999] {
            let want = exact(&values, q);
            let got = merged.quantile(q).unwrap();
            let err = (got - want).abs() / want;
            assert!(err <= 0.02, "q={q}: got {got}, exact {want}, error {err}");
        }
    }

    #[test]
    fn empty_and_bad_input() {
        let mut s = LatencySketch::new();
        assert_eq!(s.quantile(0.5), None);
        s.add(f64::NAN);
        s.add(-1.0);
        assert_eq!(s.count(), 0);
        assert!(LatencySketch::decode(&[0xff, 0xff, 0xff]).is_err());
        s.add(5.0);
        assert_eq!(s.quantile(2.0), None);
        assert!(
            s.encode().len() < 512,
            "one value encodes small: {}",
            s.encode().len()
        );
    }
}
