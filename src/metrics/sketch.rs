//! A mergeable latency histogram with a stated error.
//!
//! Latencies in whole milliseconds fall into bins: one bin per millisecond
//! below 32 ms, then 16 bins per power of two (32–33, 34–35, …, 64–67, …).
//! A bin never spans more than 1/16 of its lower bound, and a percentile
//! is reported as its bin's midpoint, so it is within 1/32 (3.125 %) of
//! the exact value, and exact below 32 ms. Two histograms merge by adding
//! their bins: per-minute counts roll up to hours and days, and the shards
//! of a mode merge, without any loss beyond that bound.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Below this, one bin per millisecond.
const EXACT: u64 = 32;
/// Bins per power of two above `EXACT` (a power of two itself).
const SUB: u64 = 16;
/// log2(EXACT), log2(SUB).
const EXACT_BITS: u32 = 5;
const SUB_BITS: u32 = 4;
/// Latencies above this (about 4.6 hours) count in the last bin.
const MAX_MS: u64 = (1 << 24) - 1;

/// The stated relative error of a percentile (above 32 ms; exact below).
#[cfg(test)]
pub const RELATIVE_ERROR: f64 = 1.0 / 32.0;

/// The bin of a latency.
pub fn bin_of(ms: u64) -> u16 {
    let v = ms.min(MAX_MS);
    if v < EXACT {
        return v as u16;
    }
    let e = 63 - v.leading_zeros(); // floor(log2 v) >= 5
    let sub = (v >> (e - SUB_BITS)) & (SUB - 1);
    (EXACT + u64::from(e - EXACT_BITS) * SUB + sub) as u16
}

/// The latencies of a bin: `[low, high)`.
pub fn bin_range(bin: u16) -> (u64, u64) {
    let b = u64::from(bin);
    if b < EXACT {
        return (b, b + 1);
    }
    let e = (b - EXACT) / SUB + u64::from(EXACT_BITS);
    let sub = (b - EXACT) % SUB;
    let width = 1u64 << (e - u64::from(SUB_BITS));
    let low = (1u64 << e) + sub * width;
    (low, low + width)
}

/// What a percentile in `bin` is reported as: the value itself below 32 ms,
/// else the bin's midpoint.
pub fn bin_value(bin: u16) -> u64 {
    let (low, high) = bin_range(bin);
    if high - low == 1 {
        low
    } else {
        low + (high - low) / 2
    }
}

/// Counts per bin.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Histogram(BTreeMap<u16, u64>);

impl Histogram {
    pub fn record(&mut self, ms: u64) {
        self.add(bin_of(ms), 1);
    }

    pub fn add(&mut self, bin: u16, n: u64) {
        if n > 0 {
            *self.0.entry(bin).or_default() += n;
        }
    }

    pub fn merge(&mut self, other: &Histogram) {
        for (b, n) in &other.0 {
            self.add(*b, *n);
        }
    }

    pub fn bins(&self) -> impl Iterator<Item = (u16, u64)> + '_ {
        self.0.iter().map(|(b, n)| (*b, *n))
    }

    pub fn count(&self) -> u64 {
        self.0.values().sum()
    }

    /// Compact bytes: (bin − previous bin, count) pairs as LEB128 varints.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.0.len() * 3);
        let mut prev = 0u64;
        for (b, n) in &self.0 {
            put_varint(&mut out, u64::from(*b) - prev);
            put_varint(&mut out, *n);
            prev = u64::from(*b);
        }
        out
    }

    /// `encode`'s bytes read back; bytes that are not (a truncated pair,
    /// a bin out of range) end the reading: what was read is kept.
    pub fn decode(bytes: &[u8]) -> Histogram {
        let mut h = Histogram::default();
        let mut at = 0;
        let mut bin = 0u64;
        while at < bytes.len() {
            let (Some(d), Some(n)) = (take_varint(bytes, &mut at), take_varint(bytes, &mut at))
            else {
                break;
            };
            bin += d;
            let Ok(b) = u16::try_from(bin) else { break };
            h.add(b, n);
        }
        h
    }

    /// The `q`-quantile (0 < q <= 1) by nearest rank: the value of the
    /// ⌈q·n⌉-th smallest latency, within `RELATIVE_ERROR`. `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<u64> {
        let n = self.count();
        if n == 0 {
            return None;
        }
        let rank = ((q * n as f64).ceil() as u64).clamp(1, n);
        let mut seen = 0;
        for (b, c) in &self.0 {
            seen += c;
            if seen >= rank {
                return Some(bin_value(*b));
            }
        }
        self.0.keys().next_back().map(|b| bin_value(*b))
    }
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn take_varint(bytes: &[u8], at: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *bytes.get(*at)?;
        *at += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return Some(v);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_cover_every_latency_once_and_in_order() {
        let mut last = 0u16;
        for ms in 0..200_000u64 {
            let b = bin_of(ms);
            let (low, high) = bin_range(b);
            assert!(
                low <= ms && ms < high,
                "{ms} not in bin {b} [{low}, {high})"
            );
            assert!(b >= last);
            last = b;
            // A bin is at most 1/16 of its lower bound wide.
            assert!(high - low == 1 || (high - low) * SUB <= low);
        }
        assert_eq!(bin_of(u64::MAX), bin_of(MAX_MS));
    }

    #[test]
    fn a_bins_value_is_within_the_stated_error_of_every_latency_in_it() {
        for ms in 0..100_000u64 {
            let v = bin_value(bin_of(ms)) as f64;
            let err = (v - ms as f64).abs() / (ms.max(1) as f64);
            assert!(err <= RELATIVE_ERROR, "{ms}: {v} off by {err}");
            if ms < EXACT {
                assert_eq!(v as u64, ms);
            }
        }
    }

    fn exact(sorted: &[u64], q: f64) -> u64 {
        let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
        sorted[rank - 1]
    }

    #[test]
    fn percentiles_agree_with_the_exact_ones_within_the_error_and_merge() {
        // A deterministic spread of latencies, 1 ms to 20 s.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut all = Vec::new();
        let (mut a, mut b) = (Histogram::default(), Histogram::default());
        for i in 0..50_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let ms = 1 + (x % 1000) * (x % 20) + (x >> 40) % 7;
            all.push(ms);
            if i % 3 == 0 {
                a.record(ms)
            } else {
                b.record(ms)
            }
        }
        a.merge(&b);
        all.sort_unstable();
        assert_eq!(a.count(), all.len() as u64);
        for q in [0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0] {
            let want = exact(&all, q) as f64;
            let got = a.quantile(q).unwrap_or(0) as f64;
            assert!(
                (got - want).abs() <= want * RELATIVE_ERROR,
                "q={q}: {got} vs {want}"
            );
        }
        assert_eq!(Histogram::default().quantile(0.5), None);
    }

    #[test]
    fn round_trips_as_bytes_and_bad_bytes_end_the_reading() {
        let mut h = Histogram::default();
        for ms in [0, 1, 31, 32, 500, 500, 70_000, 1 << 30] {
            h.record(ms);
        }
        h.add(3, 1 << 40);
        let bytes = h.encode();
        assert_eq!(Histogram::decode(&bytes), h);
        assert_eq!(Histogram::decode(&[]), Histogram::default());
        // Truncated: the whole pairs before are kept.
        let cut = Histogram::decode(&bytes[..bytes.len() - 1]);
        assert!(cut.count() < h.count());
        assert_eq!(Histogram::decode(&[0xff; 40]), Histogram::default());
    }

    #[test]
    fn round_trips_as_json() {
        let mut h = Histogram::default();
        h.record(5);
        h.record(5000);
        let text = serde_json::to_string(&h).unwrap_or_default();
        let back: Histogram = serde_json::from_str(&text).unwrap_or_default();
        assert_eq!(back, h);
    }
}
