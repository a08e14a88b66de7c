//! Processor performance, pure: what one confirmation's attempts count
//! for, the counters and their merge, the query parameters of
//! `GET /v1/routing/metrics` and its answer. The storage (shards of
//! pre-aggregated time buckets) is `edge/metrics.rs`.
//!
//! Every attempt counts under a key of six dimensions, in a bucket of one
//! minute (rolled up to hours and days as it is written): counters,
//! amounts, the latency as a mergeable histogram (`sketch`) and the
//! decline codes. A query reads buckets, never attempts.

pub mod query;
pub mod rates;
pub mod report;
pub mod sketch;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use switchyard_processors::payment::{Attempt, AttemptOutcome};

use sketch::Histogram;

/// The dimensions an attempt is counted under, in key order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Dim {
    Processor,
    Brand,
    Country,
    Funding,
    Currency,
    Rule,
}

impl Dim {
    pub const ALL: [Dim; 6] = [
        Dim::Processor,
        Dim::Brand,
        Dim::Country,
        Dim::Funding,
        Dim::Currency,
        Dim::Rule,
    ];

    /// The query parameter and the storage column.
    pub fn name(self) -> &'static str {
        match self {
            Dim::Processor => "processor",
            Dim::Brand => "brand",
            Dim::Country => "country",
            Dim::Funding => "funding",
            Dim::Currency => "currency",
            Dim::Rule => "rule",
        }
    }

    pub fn parse(s: &str) -> Option<Dim> {
        Dim::ALL.into_iter().find(|d| d.name() == s)
    }
}

/// The payment an attempt was for, as the metrics see it (no card data:
/// the brand, issuing country and funding only).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Facts {
    pub brand: String,
    /// The card's issuing country, if known.
    pub country: Option<String>,
    pub funding: String,
    pub currency: String,
    /// The rule that routed the payment; `None`: the rule set's default.
    pub rule: Option<String>,
    pub amount: u64,
}

/// The values of the six dimensions. An unknown country is `unknown`; the
/// default route of a rule set is the empty rule name (`null` in answers).
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Key(pub [String; 6]);

impl Key {
    pub fn of(processor: &str, f: &Facts) -> Key {
        Key([
            processor.to_owned(),
            f.brand.clone(),
            f.country.clone().unwrap_or_else(|| UNKNOWN.to_owned()),
            f.funding.clone(),
            f.currency.clone(),
            f.rule.clone().unwrap_or_default(),
        ])
    }

    #[cfg(test)]
    pub fn get(&self, d: Dim) -> &str {
        &self.0[d as usize]
    }
}

pub const UNKNOWN: &str = "unknown";

/// The counters of one key in one bucket (all additive).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Payments whose first attempt this was, and their amount.
    pub payments: u64,
    pub amount: u64,
    /// Calls made to the processor (not those skipped by an open circuit).
    pub attempts: u64,
    pub authorized: u64,
    pub authorized_amount: u64,
    pub soft_declines: u64,
    pub hard_declines: u64,
    pub authentication_required: u64,
    pub not_processed: u64,
    pub unknown: u64,
    /// Not called: its circuit was open.
    pub skipped: u64,
    /// Payments authorized here after an earlier processor of the plan
    /// failed or declined them, and their amount.
    pub recovered: u64,
    pub recovered_amount: u64,
    #[serde(default)]
    pub latency: Histogram,
    #[serde(default)]
    pub declines: BTreeMap<String, u64>,
}

/// The additive counters, in storage column order.
pub const COUNTERS: [&str; 13] = [
    "payments",
    "amount",
    "attempts",
    "authorized",
    "authorized_amount",
    "soft_declines",
    "hard_declines",
    "authentication_required",
    "not_processed",
    "unknown",
    "skipped",
    "recovered",
    "recovered_amount",
];

/// At most this many distinct decline codes are kept per key and bucket;
/// others count as `other` (a processor's codes are a short list: this
/// only bounds a misbehaving one).
const MAX_CODES: usize = 32;

impl Counts {
    pub fn counters(&self) -> [u64; 13] {
        [
            self.payments,
            self.amount,
            self.attempts,
            self.authorized,
            self.authorized_amount,
            self.soft_declines,
            self.hard_declines,
            self.authentication_required,
            self.not_processed,
            self.unknown,
            self.skipped,
            self.recovered,
            self.recovered_amount,
        ]
    }

    pub fn add_counters(&mut self, c: &[u64; 13]) {
        let [p, a, at, au, aua, s, h, ar, np, u, sk, r, ra] = *c;
        self.payments += p;
        self.amount += a;
        self.attempts += at;
        self.authorized += au;
        self.authorized_amount += aua;
        self.soft_declines += s;
        self.hard_declines += h;
        self.authentication_required += ar;
        self.not_processed += np;
        self.unknown += u;
        self.skipped += sk;
        self.recovered += r;
        self.recovered_amount += ra;
    }

    pub fn add_decline(&mut self, code: &str, n: u64) {
        let code = if self.declines.contains_key(code) || self.declines.len() < MAX_CODES {
            code
        } else {
            "other"
        };
        *self.declines.entry(code.to_owned()).or_default() += n;
    }

    pub fn merge(&mut self, o: &Counts) {
        self.add_counters(&o.counters());
        self.latency.merge(&o.latency);
        for (c, n) in &o.declines {
            self.add_decline(c, *n);
        }
    }
}

/// What one confirmation's attempts count for: one `Counts` per processor
/// it reached (or skipped).
pub fn fold(facts: &Facts, attempts: &[Attempt]) -> Vec<(Key, Counts)> {
    let made: Vec<usize> = (0..attempts.len())
        .filter(|i| attempts[*i].outcome != AttemptOutcome::Skipped)
        .collect();
    // The payment counts once: at its first call (or its first skip when
    // no processor was called).
    let first = made.first().copied().unwrap_or(0);
    let last_made = made.last().copied();
    let mut out: Vec<(Key, Counts)> = Vec::new();
    for (i, a) in attempts.iter().enumerate() {
        let mut c = Counts::default();
        if i == first {
            c.payments = 1;
            c.amount = facts.amount;
        }
        match a.outcome {
            AttemptOutcome::Skipped => c.skipped = 1,
            o => {
                c.attempts = 1;
                c.latency.record(a.latency_ms);
                match o {
                    AttemptOutcome::Authorized => {
                        c.authorized = 1;
                        c.authorized_amount = facts.amount;
                        // Authorized after an earlier processor of the plan
                        // failed or declined it.
                        let earlier_other = attempts[..i].iter().any(|p| {
                            p.outcome != AttemptOutcome::Skipped && p.processor != a.processor
                        });
                        if Some(i) == last_made && earlier_other {
                            c.recovered = 1;
                            c.recovered_amount = facts.amount;
                        }
                    }
                    AttemptOutcome::SoftDecline | AttemptOutcome::HardDecline => {
                        if o == AttemptOutcome::SoftDecline {
                            c.soft_declines = 1;
                        } else {
                            c.hard_declines = 1;
                        }
                        let code = a
                            .decline_code
                            .as_deref()
                            .or(a.code.as_deref())
                            .unwrap_or("unspecified");
                        c.add_decline(code, 1);
                    }
                    AttemptOutcome::AuthenticationRequired => c.authentication_required = 1,
                    AttemptOutcome::NotProcessed => c.not_processed = 1,
                    AttemptOutcome::Unknown | AttemptOutcome::Skipped => c.unknown = 1,
                }
            }
        }
        let key = Key::of(&a.processor, facts);
        match out.iter_mut().find(|(k, _)| *k == key) {
            Some((_, have)) => have.merge(&c),
            None => out.push((key, c)),
        }
    }
    out
}

/// A shard's minutes rolled up: one cube's counts of one key for an hour.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CubeRow {
    pub cube: u8,
    /// The hour's first minute.
    pub t: u64,
    pub key: Key,
    pub counts: Counts,
}

/// Minutes since the Unix epoch.
pub fn minute_of(ms: u64) -> u64 {
    ms / 60_000
}

/// Attempts gathered for recording: counts per minute and key.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Batch(pub BTreeMap<u64, BTreeMap<Key, Counts>>);

impl Batch {
    pub fn add(&mut self, minute: u64, key: Key, c: &Counts) {
        self.0
            .entry(minute)
            .or_default()
            .entry(key)
            .or_default()
            .merge(c);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The batch split by shard: a key always goes to the same shard, so
    /// that each bucket row lives in one shard only and a query reads every
    /// row once.
    pub fn by_shard(self, shards: u32) -> BTreeMap<u32, Batch> {
        let mut out: BTreeMap<u32, Batch> = BTreeMap::new();
        for (minute, keys) in self.0 {
            for (key, c) in keys {
                out.entry(shard_of(&key, shards))
                    .or_default()
                    .add(minute, key, &c);
            }
        }
        out
    }

    #[cfg(test)]
    pub fn entries(&self) -> impl Iterator<Item = (u64, &Key, &Counts)> {
        self.0
            .iter()
            .flat_map(|(m, keys)| keys.iter().map(move |(k, c)| (*m, k, c)))
    }
}

/// The shard of a key (FNV-1a of its values).
pub fn shard_of(key: &Key, shards: u32) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for v in &key.0 {
        for b in v.bytes().chain([0u8]) {
            h ^= u32::from(b);
            h = h.wrapping_mul(0x0100_0193);
        }
    }
    h % shards.max(1)
}

#[cfg(test)]
mod tests;
