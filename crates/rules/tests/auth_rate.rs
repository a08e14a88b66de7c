//! Properties of the `auth_rate` action (docs/rules.md, "Routing by
//! authorization rate"): never a processor outside its lists, the
//! exploration share as configured, the order written on equal rates, the
//! best rate chosen otherwise (by an independent reading of the rates), and
//! the indexed hot path deciding like the traced one.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use proptest::prelude::*;
use serde_json::{json, Value};
use switchyard_rules::{Payment, Rates, Reason, Router, ValidateOptions};

const PROCESSORS: &[&str] = &["p0", "p1", "p2", "p3", "p4", "p5"];
const BRANDS: &[&str] = &["visa", "mastercard", "amex"];
const COUNTRIES: &[&str] = &["US", "FR", "unknown"];
const FUNDING: &[&str] = &["credit", "debit", "unknown"];

fn router(action: Value, filler: usize) -> Router {
    // `filler` rules that never match come first: from 16 rules the engine
    // indexes the set, and the hot path must still decide like the trace.
    let mut rules: Vec<Value> = (0..filler)
        .map(|i| json!({"name": format!("f{i}"), "if": {"field": "metadata.k", "eq": format!("{i}")}, "then": {"route": ["p5"]}}))
        .collect();
    rules.push(json!({"name": "by rate", "if": {"field": "amount", "gte": 1}, "then": action}));
    let rs = json!({"name": "props", "rules": rules, "default": {"route": ["p5"]}});
    Router::from_value(&rs, &ValidateOptions::default()).unwrap()
}

fn payment(
    brand: Option<&str>,
    country: Option<&str>,
    funding: Option<&str>,
    key: &str,
) -> Payment {
    let mut card = serde_json::Map::new();
    if let Some(b) = brand {
        card.insert("brand".into(), json!(b));
    }
    if let Some(c) = country.filter(|c| *c != "unknown") {
        card.insert("country".into(), json!(c));
    }
    if let Some(f) = funding {
        card.insert("funding".into(), json!(f));
    }
    let mut p = json!({"amount": 1000, "currency": "usd", "routing_key": key});
    if !card.is_empty() {
        p["card"] = Value::Object(card);
    }
    Payment::from_value(&p).unwrap()
}

/// An entry of a rate table, with the dimensions it gives.
#[derive(Clone, Debug)]
struct Entry {
    processor: &'static str,
    brand: Option<&'static str>,
    country: Option<&'static str>,
    funding: Option<&'static str>,
    attempts: u64,
    authorized: u64,
}

impl Entry {
    fn json(&self) -> Value {
        let mut v = json!({"processor": self.processor, "attempts": self.attempts, "authorized": self.authorized});
        for (k, x) in [
            ("brand", self.brand),
            ("country", self.country),
            ("funding", self.funding),
        ] {
            if let Some(x) = x {
                v[k] = json!(x);
            }
        }
        v
    }
}

fn entry() -> impl Strategy<Value = Entry> {
    (
        prop::sample::select(PROCESSORS),
        prop::option::of(prop::sample::select(BRANDS)),
        prop::option::of(prop::sample::select(COUNTRIES)),
        prop::option::of(prop::sample::select(FUNDING)),
        0u64..400,
        0u64..=100,
    )
        .prop_map(
            |(processor, brand, country, funding, attempts, pct)| Entry {
                processor,
                brand,
                country,
                funding,
                attempts,
                authorized: attempts * pct / 100,
            },
        )
}

/// An independent reading of the rates (docs/rules.md): the counts of a
/// processor's group at a level, the payment's group given as values.
fn counts(entries: &[Entry], processor: &str, g: [&str; 3], level: usize) -> (u64, u64) {
    let mut n = (0, 0);
    for e in entries.iter().filter(|e| e.processor == processor) {
        // an entry counts from the finest level its dimensions cover
        let finest = match (e.brand, e.country, e.funding) {
            (Some(_), Some(_), Some(_)) => 0,
            (Some(_), Some(_), None) => 1,
            (Some(_), None, _) => 2,
            _ => 3,
        };
        if finest > level {
            continue;
        }
        let dims = [e.brand, e.country, e.funding];
        let kept = 3 - level;
        if (0..kept).all(|i| dims[i] == Some(g[i])) {
            n.0 += e.attempts;
            n.1 += e.authorized;
        }
    }
    n
}

fn rated(entries: &[Entry], processor: &str, g: [&str; 3], min: u64) -> Option<(u64, u64)> {
    (0..4)
        .map(|l| counts(entries, processor, g, l))
        .find(|(n, _)| *n >= min.max(1))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn the_choice_stays_in_the_lists_and_follows_the_rates(
        candidates in prop::sample::subsequence(PROCESSORS[..5].to_vec(), 1..=5).prop_shuffle(),
        fallback in prop::sample::subsequence(PROCESSORS.to_vec(), 0..=3),
        explore in 0u32..=500_000,
        min_sample in 1u64..300,
        entries in prop::collection::vec(entry(), 0..40),
        brand in prop::sample::select(BRANDS),
        country in prop::sample::select(COUNTRIES),
        funding in prop::sample::select(FUNDING),
        key in "[a-z0-9_]{0,16}",
        filler in prop::sample::select(vec![0usize, 20]),
    ) {
        // each group once (a repeated group is refused: duplicate_rate)
        let mut entries = entries;
        let mut groups = std::collections::HashSet::new();
        entries.retain(|e| groups.insert((e.processor, e.brand, e.country, e.funding)));
        let explore = f64::from(explore) / 1e6;
        let action = json!({"auth_rate": {"processors": candidates, "explore": explore, "min_sample": min_sample}, "fallback": fallback});
        let r = router(action, filler);
        let rates = Rates::from_value(&Value::Array(entries.iter().map(Entry::json).collect()), "").unwrap();
        let p = payment(Some(brand), Some(country), Some(funding), &key);
        let d = r.decide_with(&p, &key, &rates);
        let traced = r.explain_with(&p, &key, &rates);
        // the hot path (indexed from 16 rules) decides like the trace
        prop_assert_eq!(&d.processors, &traced.processors);
        let head = d.processors[0].as_str();
        prop_assert!(candidates.contains(&head), "{} outside {:?}", head, candidates);
        // then the fallback, in order, without the head
        let rest: Vec<&str> = fallback.iter().copied().filter(|f| *f != head).collect();
        prop_assert_eq!(&d.processors[1..], &rest[..]);
        let info = traced.trace.as_ref().and_then(|t| t.last()).and_then(|e| e.auth_rate.clone()).unwrap();
        prop_assert_eq!(info.picked.as_str(), head);
        let g = [brand, country, funding];
        let seen: Vec<Option<(u64, u64)>> = candidates.iter().map(|c| rated(&entries, c, g, min_sample)).collect();
        for (c, s) in info.candidates.iter().zip(&seen) {
            prop_assert_eq!(c.rate.is_some(), s.is_some());
            if let Some((n, a)) = s {
                prop_assert_eq!((c.attempts, c.authorized), (*n, *a));
            }
        }
        let better = |x: (u64, u64), y: (u64, u64)| u128::from(x.1) * u128::from(y.0) > u128::from(y.1) * u128::from(x.0);
        let best = seen.iter().enumerate().fold(None::<(usize, (u64, u64))>, |b, (i, s)| match (b, s) {
            (None, Some(s)) => Some((i, *s)),
            (Some((_, bs)), Some(s)) if better(*s, bs) => Some((i, *s)),
            (b, _) => b,
        });
        match (info.reason, best) {
            (Reason::MinSample, None) => prop_assert_eq!(head, candidates[0]),
            (Reason::BestRate, Some((i, _))) => prop_assert_eq!(head, candidates[i]),
            (Reason::Explored, Some((i, _))) => {
                prop_assert!(head != candidates[i]);
                prop_assert!(info.roll.is_some_and(|r| f64::from(r) < explore * 1e6));
            }
            (reason, best) => prop_assert!(false, "reason {:?} with best {:?}", reason, best),
        }
    }
}

/// With every candidate at the same rate, the order written decides (all
/// payments that do not explore go to the first).
#[test]
fn equal_rates_keep_the_order_written() {
    for n in 2..=5 {
        let candidates = &PROCESSORS[..n];
        let entries: Vec<Value> = candidates
            .iter()
            .map(|c| json!({"processor": c, "brand": "visa", "attempts": 500, "authorized": 450}))
            .collect();
        let rates = Rates::from_value(&Value::Array(entries), "").unwrap();
        for explore in [0.0, 0.2] {
            let r = router(
                json!({"auth_rate": {"processors": candidates, "explore": explore, "min_sample": 100}}),
                0,
            );
            for i in 0..2_000 {
                let key = format!("order_{i}");
                let p = payment(Some("visa"), Some("US"), Some("credit"), &key);
                let d = r.explain_with(&p, &key, &rates);
                let info = d.trace.unwrap().pop().unwrap().auth_rate.unwrap();
                if info.reason != Reason::Explored {
                    assert_eq!(d.processors[0], candidates[0], "{n} candidates, key {key}");
                    assert_eq!(info.reason, Reason::BestRate);
                }
            }
        }
    }
}

/// Over many routing keys the explored share is within 5 standard
/// deviations of the configured one, and exploring spreads evenly over the
/// other candidates.
#[test]
fn the_explored_share_matches_the_configured_one() {
    let candidates = ["p0", "p1", "p2", "p3"];
    let rates = Rates::from_value(
        &json!([
            {"processor": "p0", "attempts": 1000, "authorized": 700},
            {"processor": "p1", "attempts": 1000, "authorized": 900},
            {"processor": "p2", "attempts": 1000, "authorized": 800},
            {"processor": "p3", "attempts": 1000, "authorized": 600}
        ]),
        "",
    )
    .unwrap();
    let n = 100_000u32;
    for share in [0.01, 0.05, 0.1, 0.25, 0.5] {
        let r = router(
            json!({"auth_rate": {"processors": candidates, "explore": share, "min_sample": 100}}),
            0,
        );
        let mut picked = [0u32; 4];
        let mut explored = 0u32;
        for i in 0..n {
            let key = format!("pi_{i}");
            let p = payment(Some("visa"), None, None, &key);
            let v = r.select_with(&p, &key, &rates);
            let info = v.auth_rate().unwrap();
            let head = v.to_decision().processors[0].clone();
            picked[candidates.iter().position(|c| *c == head).unwrap()] += 1;
            explored += u32::from(info.explored);
        }
        let (nf, p) = (f64::from(n), share);
        let sigma = (nf * p * (1.0 - p)).sqrt();
        let got = f64::from(explored);
        assert!(
            (got - nf * p).abs() <= 5.0 * sigma,
            "share {share}: explored {explored} of {n}, expected {} ± {}",
            nf * p,
            5.0 * sigma
        );
        // p1 is the best; the others share the explored payments evenly
        assert_eq!(picked[1], n - explored);
        let each = p / 3.0;
        let sigma = (nf * each * (1.0 - each)).sqrt();
        for i in [0usize, 2, 3] {
            let got = f64::from(picked[i]);
            assert!(
                (got - nf * each).abs() <= 5.0 * sigma,
                "share {share}: {} explored {} times, expected {} ± {}",
                candidates[i],
                picked[i],
                nf * each,
                5.0 * sigma
            );
        }
    }
}

/// A payment missing card facts is judged in the unknown groups, and a
/// processor with no rates at all is never preferred to a rated one.
#[test]
fn unrated_candidates_lose_to_rated_ones_and_are_explored() {
    let rates = Rates::from_value(
        &json!([{"processor": "p1", "attempts": 200, "authorized": 20}]),
        "",
    )
    .unwrap();
    let r = router(
        json!({"auth_rate": {"processors": ["p0", "p1"], "explore": 0.5, "min_sample": 100}}),
        0,
    );
    let mut to_p0 = 0;
    for i in 0..1_000 {
        let key = format!("k{i}");
        let p = payment(None, None, None, &key);
        let d = r.explain_with(&p, &key, &rates);
        let info = d.trace.unwrap().pop().unwrap().auth_rate.unwrap();
        if d.processors[0] == "p0" {
            to_p0 += 1;
            assert_eq!(info.reason, Reason::Explored);
        } else {
            assert_eq!(info.reason, Reason::BestRate);
        }
    }
    assert!(to_p0 > 400 && to_p0 < 600, "{to_p0}");
}
