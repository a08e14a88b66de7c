//! Criterion benchmarks of the engine (figures in BENCHMARKS.md).
//!
//! Rule sets of 10, 100, 1,000 and 10,000 generated rules that look like a
//! merchant's: currency and region pins, amount thresholds, brands, funding,
//! BIN blocks, merchant-initiated rules, metadata channels, nesting, splits
//! and declines. A marked rule sits at the start, in the middle, or nowhere
//! (the default decides).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use serde_json::{json, Value};
use std::hint::black_box;
use switchyard_rules::{Payment, Router, ValidateOptions};

#[path = "../benches/gen.rs"]
mod gen;

fn decide(c: &mut Criterion) {
    let mut g = c.benchmark_group("decide");
    for n in [10usize, 100, 1_000, 10_000] {
        for (label, at) in [("start", Some(1)), ("middle", Some(n / 2)), ("none", None)] {
            let rs = gen::rule_set(n, at);
            // Through the text entry point, so the 1 MiB limit holds.
            let router =
                Router::from_json_str(&rs.to_string(), &ValidateOptions::default()).unwrap();
            let p = Payment::from_value(&gen::target_payment(at.is_some())).unwrap();
            let d = router.decide(&p, "order_1");
            match at {
                Some(i) => assert_eq!(d.rule_index, Some(i), "{n} {label}"),
                None => assert_eq!(d.rule_index, None, "{n} {label}"),
            }
            g.bench_with_input(BenchmarkId::new(label, n), &(), |b, _| {
                b.iter(|| {
                    let v = router.select(black_box(&p), black_box("order_1"));
                    black_box(v.rule_index())
                })
            });
        }
    }
    g.finish();
}

/// `auth_rate` deciding at 100 rules: the marked rule's action replaced
/// by an auth_rate over three processors (explore 0.05, min_sample 100),
/// with a rate table of five processors x 720 brand/country/funding groups
/// in which the payment's finest group is rated for two of the three and
/// the third falls back to its brand group.
fn auth_rate(c: &mut Criterion) {
    let mut g = c.benchmark_group("auth_rate");
    let brands = [
        "visa",
        "mastercard",
        "amex",
        "discover",
        "jcb",
        "diners",
        "unionpay",
        "unknown",
    ];
    let countries = [
        "US", "GB", "FR", "DE", "NZ", "JP", "BR", "ES", "IT", "NL", "CA", "AU", "SE", "NO", "PL",
        "MX", "IN", "SG", "HK", "CH", "AT", "BE", "DK", "FI", "IE", "PT", "CZ", "HU", "RO", "GR",
    ];
    let funding = ["credit", "debit", "prepaid"];
    let mut entries = Vec::new();
    for (pi, p) in ["adyen", "stripe", "checkout", "braintree", "worldpay"]
        .iter()
        .enumerate()
    {
        for (i, b) in brands.iter().enumerate() {
            for (j, c) in countries.iter().enumerate() {
                for (k, f) in funding.iter().enumerate() {
                    // checkout has no NZ credit unknown-brand group: it falls back
                    if *p == "checkout" && *c == "NZ" {
                        continue;
                    }
                    let attempts = 100 + ((i * 31 + j * 7 + k * 3 + pi) % 400) as u64;
                    entries.push(json!({"processor": p, "brand": b, "country": c, "funding": f,
                                        "attempts": attempts, "authorized": attempts * (80 + pi as u64) / 100}));
                }
            }
        }
    }
    let rates = switchyard_rules::Rates::from_value(&Value::Array(entries), "").unwrap();
    let action = json!({"auth_rate": {"processors": ["adyen", "stripe", "checkout"], "explore": 0.05, "min_sample": 100},
                        "fallback": ["braintree"]});
    for (label, at) in [("start", 1usize), ("middle", 50)] {
        let mut rs = gen::rule_set(100, Some(at));
        rs["rules"][at]["then"] = action.clone();
        let router = Router::from_json_str(&rs.to_string(), &ValidateOptions::default()).unwrap();
        let p = Payment::from_value(&gen::target_payment(true)).unwrap();
        let d = router.decide_with(&p, "order_1", &rates);
        assert_eq!(d.rule_index, Some(at));
        assert!(router
            .select_with(&p, "order_1", &rates)
            .auth_rate()
            .is_some());
        g.bench_with_input(BenchmarkId::new(label, 100), &(), |b, _| {
            b.iter(|| {
                let v = router.select_with(black_box(&p), black_box("order_1"), black_box(&rates));
                black_box(v.rule_index())
            })
        });
    }
    // The exploration draw alone (SHA-256 of the routing key).
    g.bench_function("explore_hash", |b| {
        b.iter(|| switchyard_rules::explore_hash(black_box("order_1")))
    });
    g.finish();
}

fn compile(c: &mut Criterion) {
    let mut g = c.benchmark_group("compile");
    g.sample_size(10);
    for n in [1_000usize, 10_000] {
        let rs = gen::rule_set(n, Some(n / 2));
        let text = rs.to_string();
        g.bench_with_input(BenchmarkId::new("from_json_str", n), &text, |b, t| {
            b.iter(|| Router::from_json_str(black_box(t), &ValidateOptions::default()).unwrap())
        });
    }
    g.finish();
}

fn simulate(c: &mut Criterion) {
    let mut g = c.benchmark_group("simulate");
    g.sample_size(10);
    let rs = gen::rule_set(100, Some(50));
    let router = Router::from_value(&rs, &ValidateOptions::default()).unwrap();
    let payments: Vec<Value> = (0..1_000_000).map(gen::traffic_payment).collect();
    let text = Value::Array(payments).to_string();
    g.bench_function("simulate_json_1M_100_rules", |b| {
        b.iter(|| {
            switchyard_rules::simulate_json(&router, black_box(&text), &switchyard_rules::NO_RATES)
                .unwrap()
        })
    });
    g.finish();
}

fn payment(c: &mut Criterion) {
    let v = json!({"amount": 12500, "currency": "eur", "card": {"number": "4000002500003155", "country": "FR", "funding": "credit"},
                   "billing": {"country": "FR"}, "metadata": {"channel": "web"}});
    let text = v.to_string();
    c.bench_function("payment_from_json_str", |b| {
        b.iter(|| Payment::from_json_str(black_box(&text)).unwrap())
    });
}

criterion_group!(benches, decide, auth_rate, compile, simulate, payment);
criterion_main!(benches);
