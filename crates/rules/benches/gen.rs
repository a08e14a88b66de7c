//! Deterministic generator of realistic rule sets and traffic, shared by the
//! criterion benchmarks and `examples/gen_bench.rs` (which writes them as
//! JSON for the wasm benchmark in Node).

use serde_json::{json, Value};

/// A small deterministic PRNG (SplitMix64).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }
}

pub const CURRENCIES: &[&str] = &[
    "eur", "usd", "gbp", "jpy", "chf", "sek", "pln", "cad", "aud", "brl", "mxn", "inr",
];
pub const COUNTRIES: &[&str] = &[
    "FR", "DE", "ES", "IT", "NL", "BE", "PT", "IE", "AT", "FI", "US", "CA", "MX", "BR", "AR", "GB",
    "SE", "NO", "DK", "PL", "CZ", "CH", "JP", "KR", "IN", "AU", "SG", "HK", "AE", "ZA",
];
pub const BRANDS: &[&str] = &[
    "visa",
    "mastercard",
    "amex",
    "discover",
    "jcb",
    "diners",
    "unionpay",
    "maestro",
    "cartes_bancaires",
];
pub const FUNDING: &[&str] = &["credit", "debit", "prepaid"];
pub const PROCESSORS: &[&str] = &["stripe", "adyen", "ckout", "bt", "sb_a", "sb_b", "sb_c"];
pub const CHANNELS: &[&str] = &["web", "ios", "android", "pos", "moto"];

fn leaf(rng: &mut Rng) -> Value {
    match rng.below(9) {
        0 => {
            let v = [1000, 5000, 10000, 50000, 100000][rng.below(5)];
            json!({"field": "amount", "gte": v})
        }
        1 => {
            let (lo, hi) = [(0, 999), (1000, 9999), (10000, 99999)][rng.below(3)];
            json!({"field": "amount", "between": [lo, hi]})
        }
        2 => json!({"field": "card.brand", "eq": rng.pick(BRANDS)}),
        3 => json!({"field": "card.funding", "eq": rng.pick(FUNDING)}),
        4 => {
            let k = 1 + rng.below(2);
            let cs: Vec<&str> = (0..k).map(|_| *rng.pick(COUNTRIES)).collect();
            json!({"field": "card.country", "in": cs})
        }
        5 => json!({"field": "metadata.channel", "eq": rng.pick(CHANNELS)}),
        6 => json!({"field": "billing.country", "ne": rng.pick(COUNTRIES)}),
        7 => json!({"field": "three_d_secure", "eq": rng.chance(50)}),
        _ => {
            json!({"field": "capture_method", "eq": if rng.chance(50) { "manual" } else { "automatic" }})
        }
    }
}

fn pin(rng: &mut Rng) -> Value {
    // Every generated rule pins a currency or a region or a brand, as a
    // merchant's routing does; a few test off-session payments or BINs.
    match rng.below(20) {
        0..=13 => json!({"field": "currency", "eq": rng.pick(CURRENCIES)}),
        14..=16 => json!({"field": "card.country", "eq": rng.pick(COUNTRIES)}),
        17 => json!({"field": "card.brand", "in": [rng.pick(BRANDS), rng.pick(BRANDS)]}),
        18 => json!({"field": "card.bin", "prefix": format!("{}", 400000 + rng.below(99999))}),
        _ => {
            json!({"all": [{"field": "off_session", "eq": true}, {"field": "currency", "eq": rng.pick(CURRENCIES)}]})
        }
    }
}

fn action(rng: &mut Rng) -> Value {
    let a = *rng.pick(PROCESSORS);
    let mut b = *rng.pick(PROCESSORS);
    if a == b {
        b = PROCESSORS
            [(PROCESSORS.iter().position(|p| *p == a).unwrap_or(0) + 1) % PROCESSORS.len()];
    }
    match rng.below(20) {
        0..=17 => json!({"route": [a, b]}),
        18 => {
            json!({"split": [{"processor": a, "weight": 70}, {"processor": b, "weight": 30}], "fallback": [b]})
        }
        _ => json!({"decline": {"code": "blocked"}}),
    }
}

/// A rule of about 95 bytes of JSON on average, so that 10,000 of them fit
/// the 1 MiB limit of rules.md.
fn rule(rng: &mut Rng, i: usize) -> Value {
    let mut conds = vec![pin(rng)];
    if rng.chance(8) {
        conds.push(leaf(rng));
    }
    if rng.chance(4) {
        conds.push(json!({"any": [leaf(rng), leaf(rng)]}));
    }
    if rng.chance(3) {
        conds.push(json!({"not": leaf(rng)}));
    }
    let cond = if conds.len() == 1 {
        conds.remove(0)
    } else {
        json!({"all": conds})
    };
    let mut r = json!({"name": format!("r{i}"), "if": cond, "then": action(rng)});
    if rng.chance(3) {
        r["enabled"] = json!(false);
    }
    r
}

/// The marked rule: only the target payment (NZD, channel "benchmark")
/// matches it, and no generated rule names NZD.
fn marked(i: usize) -> Value {
    json!({"name": format!("rule {i} (marked)"),
           "if": {"all": [{"field": "currency", "eq": "nzd"}, {"field": "metadata.channel", "eq": "benchmark"}]},
           "then": {"route": ["adyen", "stripe"]}})
}

/// `n` rules; the marked rule at `at`, or nowhere.
pub fn rule_set(n: usize, at: Option<usize>) -> Value {
    let mut rng = Rng::new(42);
    let rules: Vec<Value> = (0..n)
        .map(|i| {
            if Some(i) == at {
                marked(i)
            } else {
                rule(&mut rng, i)
            }
        })
        .collect();
    json!({"name": format!("bench {n}"), "rules": rules, "default": {"route": ["stripe", "adyen"]}})
}

/// A payment the marked rule matches (`hit`), or one no rule matches.
pub fn target_payment(hit: bool) -> Value {
    json!({"amount": 12500, "currency": "nzd",
           "card": {"bin": "99999999", "brand": "unknown", "country": "NZ", "funding": "credit"},
           "billing": {"country": "NZ"}, "capture_method": "automatic", "off_session": false, "three_d_secure": false,
           "metadata": {"channel": if hit { "benchmark" } else { "web" }}})
}

/// A payment of mixed traffic.
pub fn traffic_payment(i: usize) -> Value {
    let mut rng = Rng::new(i as u64 ^ 0x5eed);
    json!({"amount": 100 + rng.below(200_000), "currency": rng.pick(CURRENCIES),
           "card": {"bin": format!("{}", 400000 + rng.below(199999)), "brand": rng.pick(BRANDS), "country": rng.pick(COUNTRIES), "funding": rng.pick(FUNDING)},
           "billing": {"country": rng.pick(COUNTRIES)}, "capture_method": "automatic", "off_session": rng.chance(10), "three_d_secure": rng.chance(30),
           "metadata": {"channel": rng.pick(CHANNELS)}, "routing_key": format!("order_{i}")})
}
