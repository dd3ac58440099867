//! Mergeable latency sketches for rollups: any quantile within 1% relative error (2% is
//! promised), however many values went in, and two sketches merge into the sketch of the
//! union.
//!
//! This is the DDSketch mapping (values fall into logarithmic buckets of ratio
//! `gamma = (1 + a) / (1 - a)`; a bucket's representative is within `a` of every value in
//! it) kept sparse, with a compact varint encoding. The `sketches-ddsketch` crate was
//! measured first: its serialised form keeps a dense bin array and took ~216 bytes per
//! one-minute rollup sketch, which made rollups 59% of a 100k-trace database
//! (BENCHMARKS.md). Sparse, the same sketch takes a few dozen bytes.

/// Relative accuracy of every quantile (1%: well inside the promised 2%).
pub const RELATIVE_ACCURACY: f64 = 0.01;
/// Values below this (ms) count as zero.
const MIN_VALUE: f64 = 1e-3;
/// At most this many buckets; beyond it the lowest buckets are merged (never reached for
/// latencies between 1 µs and days: that range needs ~1,300).
const MAX_BUCKETS: usize = 4096;
const ENCODING_VERSION: u8 = 1;

#[derive(Debug, thiserror::Error)]
#[error("latency sketch could not be decoded: {0}")]
pub struct SketchError(&'static str);

/// A latency distribution in milliseconds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LatencySketch {
    /// (bucket key, count), sorted by key, no zero counts.
    buckets: Vec<(i32, u64)>,
    zeros: u64,
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
}

fn gamma_ln() -> f64 {
    ((1.0 + RELATIVE_ACCURACY) / (1.0 - RELATIVE_ACCURACY)).ln()
}

fn key_of(v: f64) -> i32 {
    (v.ln() / gamma_ln()).ceil() as i32
}

fn value_of(key: i32) -> f64 {
    let g = gamma_ln().exp();
    2.0 * (f64::from(key) * gamma_ln()).exp() / (1.0 + g)
}

impl LatencySketch {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one value; negative and non-finite values are ignored.
    pub fn add(&mut self, ms: f64) {
        if !ms.is_finite() || ms < 0.0 {
            return;
        }
        if ms < MIN_VALUE {
            self.zeros += 1;
        } else {
            let k = key_of(ms);
            match self.buckets.binary_search_by_key(&k, |b| b.0) {
                Ok(i) => self.buckets[i].1 += 1,
                Err(i) => self.buckets.insert(i, (k, 1)),
            }
            self.bound_buckets();
        }
        self.note(1, ms, ms, ms);
    }

    fn note(&mut self, n: u64, sum: f64, min: f64, max: f64) {
        if self.count == 0 {
            self.min = min;
            self.max = max;
        } else {
            self.min = self.min.min(min);
            self.max = self.max.max(max);
        }
        self.count += n;
        self.sum += sum;
    }

    /// Folds the lowest buckets into the next ones while there are too many.
    fn bound_buckets(&mut self) {
        if self.buckets.len() <= MAX_BUCKETS {
            return;
        }
        let excess = self.buckets.len() - MAX_BUCKETS;
        let folded: u64 = self.buckets[..excess].iter().map(|b| b.1).sum();
        self.buckets.drain(..excess);
        if let Some(first) = self.buckets.first_mut() {
            first.1 += folded;
        }
    }

    pub fn merge(&mut self, other: &LatencySketch) {
        if other.count == 0 {
            return;
        }
        // Both sides are sorted: one linear merge.
        let (x, y) = (&self.buckets, &other.buckets);
        let mut merged = Vec::with_capacity(x.len() + y.len());
        let (mut i, mut j) = (0, 0);
        while i < x.len() && j < y.len() {
            let (a, b) = (x[i], y[j]);
            if a.0 == b.0 {
                merged.push((a.0, a.1 + b.1));
                i += 1;
                j += 1;
            } else if a.0 < b.0 {
                merged.push(a);
                i += 1;
            } else {
                merged.push(b);
                j += 1;
            }
        }
        merged.extend_from_slice(&x[i..]);
        merged.extend_from_slice(&y[j..]);
        self.buckets = merged;
        self.zeros += other.zeros;
        self.bound_buckets();
        self.note(other.count, other.sum, other.min, other.max);
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn sum(&self) -> Option<f64> {
        (self.count > 0).then_some(self.sum)
    }

    /// The `q` quantile (0..=1), or None when empty or `q` is out of range.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.count == 0 || !(0.0..=1.0).contains(&q) {
            return None;
        }
        // The value at 0-based rank floor(q * (n - 1)) of the sorted values.
        let rank = (q * (self.count - 1) as f64).floor() as u64 + 1;
        if rank <= self.zeros {
            return Some(0.0);
        }
        let mut seen = self.zeros;
        for &(k, n) in &self.buckets {
            seen += n;
            if seen >= rank {
                return Some(value_of(k).clamp(self.min, self.max));
            }
        }
        Some(self.max)
    }

    /// Compact binary form, for storage.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(32 + self.buckets.len() * 3);
        out.push(ENCODING_VERSION);
        put_varint(&mut out, self.count);
        if self.count == 0 {
            return out;
        }
        put_varint(&mut out, self.zeros);
        for f in [self.sum, self.min, self.max] {
            out.extend_from_slice(&f.to_le_bytes());
        }
        put_varint(&mut out, self.buckets.len() as u64);
        let mut prev: i64 = 0;
        for (i, &(k, n)) in self.buckets.iter().enumerate() {
            let k = i64::from(k);
            let delta = if i == 0 { zigzag(k) } else { (k - prev) as u64 };
            put_varint(&mut out, delta);
            put_varint(&mut out, n);
            prev = k;
        }
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<LatencySketch, SketchError> {
        let mut r = Reader { bytes, pos: 0 };
        if r.byte()? != ENCODING_VERSION {
            return Err(SketchError("unknown encoding version"));
        }
        let count = r.varint()?;
        let mut s = LatencySketch {
            count,
            ..LatencySketch::default()
        };
        if count == 0 {
            return r.end(s);
        }
        s.zeros = r.varint()?;
        s.sum = r.f64()?;
        s.min = r.f64()?;
        s.max = r.f64()?;
        let n = r.varint()?;
        if n > MAX_BUCKETS as u64 {
            return Err(SketchError("too many buckets"));
        }
        let mut key: i64 = 0;
        let mut total = s.zeros;
        s.buckets.reserve(n as usize);
        for i in 0..n {
            let d = r.varint()?;
            key = if i == 0 {
                unzigzag(d)
            } else {
                key.checked_add(i64::try_from(d).map_err(|_| SketchError("bad key"))?)
                    .ok_or(SketchError("bad key"))?
            };
            let k = i32::try_from(key).map_err(|_| SketchError("bad key"))?;
            let c = r.varint()?;
            total = total.checked_add(c).ok_or(SketchError("count overflow"))?;
            if c == 0 || (i > 0 && d == 0) {
                return Err(SketchError("buckets must be distinct and non-empty"));
            }
            s.buckets.push((k, c));
        }
        if total != count {
            return Err(SketchError("bucket counts do not add up"));
        }
        r.end(s)
    }
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn byte(&mut self) -> Result<u8, SketchError> {
        let b = *self.bytes.get(self.pos).ok_or(SketchError("truncated"))?;
        self.pos += 1;
        Ok(b)
    }

    fn varint(&mut self) -> Result<u64, SketchError> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(SketchError("varint too long"))
    }

    fn f64(&mut self) -> Result<f64, SketchError> {
        let end = self.pos + 8;
        let b: [u8; 8] = self
            .bytes
            .get(self.pos..end)
            .and_then(|s| s.try_into().ok())
            .ok_or(SketchError("truncated"))?;
        self.pos = end;
        Ok(f64::from_le_bytes(b))
    }

    fn end(&self, s: LatencySketch) -> Result<LatencySketch, SketchError> {
        if self.pos == self.bytes.len() {
            Ok(s)
        } else {
            Err(SketchError("trailing bytes"))
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The sketch's rank convention: 0-based rank floor(q * (n - 1)).
    fn exact(sorted: &[f64], q: f64) -> f64 {
        sorted[(q * (sorted.len() - 1) as f64) as usize]
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
        for q in [0.0, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0] {
            let want = exact(&values, q);
            let got = merged.quantile(q).unwrap();
            let err = (got - want).abs() / want;
            assert!(err <= 0.02, "q={q}: got {got}, exact {want}, error {err}");
        }
        let sum: f64 = values.iter().sum();
        assert!((merged.sum().unwrap() - sum).abs() / sum < 1e-9);
    }

    #[test]
    fn empty_small_and_bad_input() {
        let mut s = LatencySketch::new();
        assert_eq!(s.quantile(0.5), None);
        assert_eq!(LatencySketch::decode(&s.encode()).unwrap(), s);
        s.add(f64::NAN);
        s.add(-1.0);
        assert_eq!(s.count(), 0);
        s.add(0.0);
        s.add(5.0);
        assert_eq!(s.quantile(0.5), Some(0.0));
        assert!((s.quantile(1.0).unwrap() - 5.0).abs() / 5.0 <= 0.01);
        assert_eq!(s.quantile(2.0), None);
        assert!(
            s.encode().len() <= 40,
            "small sketches encode small: {}",
            s.encode().len()
        );
        for bad in [&[][..], &[9][..], &[1, 0x80][..], &[1, 2, 0][..]] {
            assert!(LatencySketch::decode(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_minute_of_varied_latencies_stays_small() {
        let mut s = LatencySketch::new();
        for i in 0..100u32 {
            s.add(50.0 + f64::from(i * i));
        }
        // 100 distinct buckets: about 3 bytes each.
        assert!(s.encode().len() < 400, "{}", s.encode().len());
    }

    proptest! {
        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = LatencySketch::decode(&bytes);
        }

        #[test]
        fn encode_decode_round_trips(values in proptest::collection::vec(0.0f64..1e7, 0..200)) {
            let mut s = LatencySketch::new();
            for v in &values { s.add(*v); }
            prop_assert_eq!(LatencySketch::decode(&s.encode()).unwrap(), s);
        }
    }
}
