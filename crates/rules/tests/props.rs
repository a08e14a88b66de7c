//! Property tests of the engine against rules.md.
//!
//! 1. No input makes the public API panic, `validate` and `Router` agree,
//!    and every issue's path is a JSON Pointer into the input.
//! 2. `Router::decide` (indexed past 16 rules) and `Router::explain` (linear)
//!    agree with a small reference evaluator written from rules.md alone.
//! 3. Split picks follow the weights.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use proptest::prelude::*;
use proptest::sample::{select, subsequence, Index};
use serde_json::{json, Map, Number, Value};
use sha2::{Digest, Sha256};
use switchyard_rules::{
    brand_of, normalise_number, simulate_json, validate_str, validate_value, DecisionAction, Issue,
    Payment, Router, ValidateOptions,
};

// ------------------------------------------------------------------ pools

const MAX_AMOUNT: u64 = (1 << 53) - 1;
const CURRENCIES: &[&str] = &["eur", "usd", "gbp", "jpy"];
const COUNTRIES: &[&str] = &["US", "FR", "DE", "GB"];
const BRANDS: &[&str] = &[
    "visa",
    "mastercard",
    "amex",
    "discover",
    "jcb",
    "diners",
    "unionpay",
    "maestro",
    "cartes_bancaires",
    "unknown",
];
const FUNDINGS: &[&str] = &["credit", "debit", "prepaid", "unknown"];
const CAPTURES: &[&str] = &["automatic", "manual"];
const ISSUERS: &[&str] = &["Chase", "Chase Bank", "BNP Paribas", "Barclays", ""];
const ISSUER_PREFIXES: &[&str] = &["Chase", "Cha", "BNP", "Chase B", "", "barclays"];
const META_KEYS: &[&str] = &["channel", "tier"];
const META_VALUES: &[&str] = &["web", "web-eu", "app", "gold", ""];
const META_PREFIXES: &[&str] = &["web", "w", "app", "", "gold-"];
/// First 8 digits of card numbers (several sharing 4 or 6 leading digits).
const BINS: &[&str] = &[
    "42424242", "42424299", "42420000", "40000025", "55555555", "55554444", "37828224", "60111111",
    "35660020", "62000000", "67596498", "22230031", "41111199", "36227206", "00012345",
];
const PROCESSORS: &[&str] = &["stripe", "adyen_eu", "checkout", "braintree", "worldpay"];
const AMOUNTS: &[u64] = &[
    0, 1, 99, 100, 101, 999, 1000, 1001, 5000, 9999, 10000, 10001, MAX_AMOUNT,
];

fn obj(pairs: Vec<(&str, Value)>) -> Value {
    let mut m = Map::new();
    for (k, v) in pairs {
        m.insert(k.to_owned(), v);
    }
    Value::Object(m)
}

fn leaf(field: &str, op: &str, v: Value) -> Value {
    obj(vec![("field", Value::from(field)), (op, v)])
}

// ------------------------------------------------------- valid rule sets

/// Either case: rules.md accepts upper case currencies and normalises them.
fn currency_val() -> BoxedStrategy<Value> {
    (select(CURRENCIES), any::<bool>())
        .prop_map(|(c, up)| Value::from(if up { c.to_uppercase() } else { c.to_owned() }))
        .boxed()
}

fn strs(pool: &'static [&'static str]) -> BoxedStrategy<Value> {
    select(pool).prop_map(Value::from).boxed()
}

/// A leaf on an enumerated field: eq, ne, in, not_in, exists.
fn enum_leaf(field: BoxedStrategy<String>, val: BoxedStrategy<Value>) -> BoxedStrategy<Value> {
    let one = (field.clone(), select(&["eq", "ne"][..]), val.clone())
        .prop_map(|(f, op, v)| leaf(&f, op, v));
    let many = (
        field.clone(),
        select(&["in", "not_in"][..]),
        prop::collection::vec(val, 1..=3),
    )
        .prop_map(|(f, op, vs)| leaf(&f, op, Value::Array(vs)));
    let exists = (field, any::<bool>()).prop_map(|(f, b)| leaf(&f, "exists", Value::Bool(b)));
    prop_oneof![3 => one, 3 => many, 1 => exists].boxed()
}

/// A leaf on a boolean field: eq, ne, exists (`in` does not apply).
fn bool_leaf(field: &'static str) -> BoxedStrategy<Value> {
    (select(&["eq", "ne", "exists"][..]), any::<bool>())
        .prop_map(move |(op, b)| leaf(field, op, Value::Bool(b)))
        .boxed()
}

fn fixed(name: &'static str) -> BoxedStrategy<String> {
    Just(name.to_owned()).boxed()
}

fn rule_amount() -> BoxedStrategy<u64> {
    prop_oneof![select(AMOUNTS), 0..=12_000u64].boxed()
}

fn amount_leaf() -> BoxedStrategy<Value> {
    let cmp = (
        select(&["eq", "ne", "lt", "lte", "gt", "gte"][..]),
        rule_amount(),
    )
        .prop_map(|(op, n)| leaf("amount", op, Value::from(n)));
    let many = (
        select(&["in", "not_in"][..]),
        prop::collection::vec(rule_amount(), 1..=3),
    )
        .prop_map(|(op, ns)| leaf("amount", op, json!(ns)));
    let between = (rule_amount(), rule_amount())
        .prop_map(|(a, b)| leaf("amount", "between", json!([a.min(b), a.max(b)])));
    let exists = any::<bool>().prop_map(|b| leaf("amount", "exists", Value::Bool(b)));
    prop_oneof![6 => cmp, 2 => many, 2 => between, 1 => exists].boxed()
}

/// A BIN of 6 to 8 digits cut from the pool, sometimes with its last digit changed.
fn bin_val() -> BoxedStrategy<Value> {
    (select(BINS), 6usize..=8, any::<bool>())
        .prop_map(|(b, n, bump)| {
            let mut s: Vec<u8> = b.as_bytes()[..n].to_vec();
            if bump {
                let last = s[n - 1];
                s[n - 1] = b'0' + (last - b'0' + 1) % 10;
            }
            Value::from(String::from_utf8(s).unwrap())
        })
        .boxed()
}

fn bin_leaf() -> BoxedStrategy<Value> {
    let prefix_one = (select(BINS), 1usize..=8).prop_map(|(b, n)| Value::from(&b[..n]));
    let prefix = prop_oneof![
        prefix_one.clone(),
        prop::collection::vec(prefix_one, 1..=3).prop_map(Value::Array),
    ]
    .prop_map(|v| leaf("card.bin", "prefix", v));
    prop_oneof![3 => enum_leaf(fixed("card.bin"), bin_val()), 2 => prefix].boxed()
}

fn text_leaf(
    field: BoxedStrategy<String>,
    vals: &'static [&'static str],
    prefixes: &'static [&'static str],
) -> BoxedStrategy<Value> {
    let prefix = (
        field.clone(),
        prop_oneof![
            strs(prefixes),
            prop::collection::vec(strs(prefixes), 1..=3).prop_map(Value::Array),
        ],
    )
        .prop_map(|(f, v)| leaf(&f, "prefix", v));
    prop_oneof![3 => enum_leaf(field, strs(vals)), 2 => prefix].boxed()
}

fn any_leaf() -> BoxedStrategy<Value> {
    let meta = select(META_KEYS)
        .prop_map(|k| format!("metadata.{k}"))
        .boxed();
    prop_oneof![
        enum_leaf(fixed("currency"), currency_val()),
        amount_leaf(),
        enum_leaf(fixed("card.brand"), strs(BRANDS)),
        bin_leaf(),
        enum_leaf(fixed("card.country"), strs(COUNTRIES)),
        enum_leaf(fixed("card.funding"), strs(FUNDINGS)),
        enum_leaf(fixed("billing.country"), strs(COUNTRIES)),
        enum_leaf(fixed("capture_method"), strs(CAPTURES)),
        bool_leaf("off_session"),
        bool_leaf("three_d_secure"),
        text_leaf(meta, META_VALUES, META_PREFIXES),
        text_leaf(fixed("card.issuer"), ISSUERS, ISSUER_PREFIXES),
    ]
    .boxed()
}

/// A leaf that holds for few payments: eq or in on an enumerated field.
fn selective_leaf() -> BoxedStrategy<Value> {
    let meta = select(META_KEYS).prop_map(|k| format!("metadata.{k}"));
    let discrete = prop_oneof![
        (Just("currency".to_owned()), currency_val()),
        (Just("card.brand".to_owned()), strs(BRANDS)),
        (Just("card.bin".to_owned()), bin_val()),
        (Just("card.country".to_owned()), strs(COUNTRIES)),
        (Just("card.funding".to_owned()), strs(FUNDINGS)),
        (Just("billing.country".to_owned()), strs(COUNTRIES)),
        (Just("capture_method".to_owned()), strs(CAPTURES)),
        (meta, strs(META_VALUES)),
        (Just("card.issuer".to_owned()), strs(ISSUERS)),
    ];
    let amount = (rule_amount(), 0u64..3000).prop_map(|(lo, w)| {
        leaf(
            "amount",
            "between",
            json!([lo, lo.saturating_add(w).min(MAX_AMOUNT)]),
        )
    });
    prop_oneof![
        4 => discrete.clone().prop_map(|(f, v)| leaf(&f, "eq", v)),
        1 => (discrete, any::<bool>()).prop_map(|((f, v), two)| {
            let mut vs = vec![v.clone()];
            if two {
                vs.push(v);
            }
            leaf(&f, "in", Value::Array(vs))
        }),
        1 => amount,
        1 => bool_leaf("off_session"),
    ]
    .boxed()
}

/// Conditions nested up to four levels of all / any / not.
fn condition() -> BoxedStrategy<Value> {
    any_leaf()
        .prop_recursive(4, 24, 3, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 1..=3).prop_map(|cs| json!({ "all": cs })),
                prop::collection::vec(inner.clone(), 1..=3).prop_map(|cs| json!({ "any": cs })),
                inner.prop_map(|c| json!({ "not": c })),
            ]
        })
        .boxed()
}

fn plan(min: usize) -> BoxedStrategy<Vec<&'static str>> {
    subsequence(PROCESSORS.to_vec(), min..=4)
        .prop_shuffle()
        .boxed()
}

fn action() -> BoxedStrategy<Value> {
    let route = plan(1).prop_map(|ps| json!({ "route": ps }));
    let weight = prop_oneof![
        8 => 1u64..=100,
        1 => 1u64..=u64::MAX,
        1 => Just(u64::MAX),
    ];
    let split = (
        plan(1),
        prop::collection::vec(weight, 4),
        prop::option::of(plan(0)),
    )
        .prop_map(|(ps, ws, fallback)| {
            let entries: Vec<Value> = ps
                .iter()
                .zip(ws)
                .map(|(p, w)| json!({ "processor": p, "weight": w }))
                .collect();
            let mut a = vec![("split", Value::Array(entries))];
            if let Some(f) = fallback {
                a.push(("fallback", json!(f)));
            }
            obj(a)
        });
    let decline = (
        select(&["do_not_honor", "fraud", "card_blocked"][..]),
        prop::option::of(select(&["blocked by rule", "", "règle"][..])),
    )
        .prop_map(|(code, message)| {
            let mut d = vec![("code", Value::from(code))];
            if let Some(m) = message {
                d.push(("message", Value::from(m)));
            }
            json!({ "decline": obj(d) })
        });
    prop_oneof![4 => route, 3 => split, 2 => decline].boxed()
}

/// A rule without its name: (if, then, enabled). A `selective` rule holds
/// for few payments, so that in a set of them the deciding rule is often far
/// down the list, where the index must admit it.
fn rule(selective: bool) -> BoxedStrategy<(Option<Value>, Value, Option<bool>)> {
    let narrow = (
        prop::collection::vec(selective_leaf(), 1..=4),
        prop::option::of(condition()),
    )
        .prop_map(|(mut cs, c)| {
            cs.extend(c);
            Some(json!({ "all": cs }))
        });
    let cond = if selective {
        prop_oneof![1 => condition().prop_map(Some), 30 => narrow].boxed()
    } else {
        prop_oneof![
            1 => Just(None),
            10 => condition().prop_map(Some),
            10 => prop::collection::vec(condition(), 2..=5)
                .prop_map(|cs| Some(json!({ "all": cs }))),
            10 => narrow,
        ]
        .boxed()
    };
    (
        cond,
        action(),
        prop_oneof![12 => Just(None), 2 => Just(Some(true)), 3 => Just(Some(false))],
    )
        .boxed()
}

fn ruleset_of(rules: Vec<(Option<Value>, Value, Option<bool>)>, default: Value) -> Value {
    let rules: Vec<Value> = rules
        .into_iter()
        .enumerate()
        .map(|(i, (cond, then, enabled))| {
            let name = if i % 3 == 0 {
                format!("règle {i}")
            } else {
                format!("rule {i}")
            };
            let mut r = vec![("name", Value::from(name))];
            if let Some(c) = cond {
                r.push(("if", c));
            }
            r.push(("then", then));
            if let Some(e) = enabled {
                r.push(("enabled", Value::Bool(e)));
            }
            obj(r)
        })
        .collect();
    json!({ "name": "props", "rules": rules, "default": default })
}

/// Valid rule sets, most of them above the index threshold of 16 rules.
fn ruleset(small: usize, large: usize) -> BoxedStrategy<Value> {
    let rules = if small == 0 {
        any::<bool>()
            .prop_flat_map(move |selective| {
                prop_oneof![
                    1 => prop::collection::vec(rule(selective), 1..=16),
                    2 => prop::collection::vec(rule(selective), 17..=64),
                    1 => prop::collection::vec(rule(selective), 65..=large.max(65)),
                ]
            })
            .boxed()
    } else {
        prop::collection::vec(rule(false), 1..=small).boxed()
    };
    (rules, action())
        .prop_map(|(rs, d)| ruleset_of(rs, d))
        .boxed()
}

// -------------------------------------------------------- valid payments

/// A Luhn-valid card number of `len` digits starting with `bin`.
fn card_number(bin: &str, len: usize, fill: &[u8]) -> String {
    let mut d: Vec<u8> = bin.bytes().map(|b| b - b'0').collect();
    let mut k = 0;
    while d.len() < len - 1 {
        d.push(fill[k % fill.len()] % 10);
        k += 1;
    }
    // The check digit: digits at odd positions from the right (of the full
    // number) are doubled; those are the even positions of the payload.
    let sum: u32 = d
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &x)| {
            let x = u32::from(x);
            if i % 2 == 0 {
                let y = x * 2;
                if y > 9 {
                    y - 9
                } else {
                    y
                }
            } else {
                x
            }
        })
        .sum();
    d.push(((10 - sum % 10) % 10) as u8);
    d.iter().map(|x| char::from(b'0' + x)).collect()
}

fn card() -> BoxedStrategy<Value> {
    let number = (
        select(BINS),
        12usize..=19,
        prop::collection::vec(0u8..10, 11),
        0u8..3,
    )
        .prop_map(|(bin, len, fill, style)| {
            let n = card_number(bin, len, &fill);
            match style {
                0 => n,
                1 => n
                    .as_bytes()
                    .chunks(4)
                    .map(|c| String::from_utf8_lossy(c).into_owned())
                    .collect::<Vec<_>>()
                    .join(" "),
                _ => format!("{}-{}", &n[..6], &n[6..]),
            }
        });
    // 0: no number or bin; 1: bin; 2: number; 3: number and a bin it starts with.
    let source = (0u8..4, number, bin_val(), 6usize..=8);
    (
        source,
        prop::option::of(strs(BRANDS)),
        prop::option::of(strs(COUNTRIES)),
        prop::option::of(strs(FUNDINGS)),
        prop::option::of(strs(ISSUERS)),
    )
        .prop_map(
            |((kind, number, bin, cut), brand, country, funding, issuer)| {
                let mut c = Vec::new();
                if kind >= 2 {
                    let digits: String = number.chars().filter(char::is_ascii_digit).collect();
                    c.push(("number", Value::from(number)));
                    if kind == 3 {
                        c.push(("bin", Value::from(&digits[..cut])));
                    }
                } else if kind == 1 {
                    c.push(("bin", bin));
                }
                for (k, v) in [
                    ("brand", brand),
                    ("country", country),
                    ("funding", funding),
                    ("issuer", issuer),
                ] {
                    if let Some(v) = v {
                        c.push((k, v));
                    }
                }
                obj(c)
            },
        )
        .boxed()
}

fn payment() -> BoxedStrategy<Value> {
    let amount = prop_oneof![select(&AMOUNTS[1..]), 1..=12_000u64];
    let metadata = prop::collection::btree_map(select(META_KEYS), strs(META_VALUES), 0..=2);
    (
        (amount, currency_val(), prop::option::of(card())),
        (
            prop::option::of(strs(COUNTRIES)),
            prop::option::of(strs(CAPTURES)),
            prop::option::of(any::<bool>()),
            prop::option::of(any::<bool>()),
        ),
        (
            prop::option::of(metadata),
            prop::option::of((0u32..50).prop_map(|n| format!("order_{n}"))),
        ),
    )
        .prop_map(
            |((amount, currency, card), (billing, capture, off, tds), (meta, key))| {
                let mut p = vec![("amount", Value::from(amount)), ("currency", currency)];
                if let Some(c) = card {
                    p.push(("card", c));
                }
                if let Some(b) = billing {
                    p.push(("billing", json!({ "country": b })));
                }
                if let Some(c) = capture {
                    p.push(("capture_method", c));
                }
                if let Some(b) = off {
                    p.push(("off_session", Value::Bool(b)));
                }
                if let Some(b) = tds {
                    p.push(("three_d_secure", Value::Bool(b)));
                }
                if let Some(m) = meta {
                    p.push(("metadata", json!(m)));
                }
                if let Some(k) = key {
                    p.push(("routing_key", Value::from(k)));
                }
                obj(p)
            },
        )
        .boxed()
}

// ------------------------------------------------- the reference evaluator

/// The payment's value for `field`, straight from the payment JSON.
fn ref_fact(p: &Value, field: &str) -> Option<Value> {
    let s = |v: &Value| v.as_str().map(str::to_owned);
    let card = p.get("card");
    let number_digits = || {
        card.and_then(|c| c.get("number"))
            .and_then(Value::as_str)
            .map(|n| normalise_number(n).expect("a valid generated number"))
    };
    let v = match field {
        "amount" => p.get("amount")?.clone(),
        "currency" => Value::from(s(p.get("currency")?)?.to_lowercase()),
        "card.brand" => match card?.get("brand") {
            Some(b) => Value::from(s(b)?.to_lowercase()),
            None => Value::from(brand_of(&number_digits()?).as_str()),
        },
        "card.bin" => match number_digits() {
            Some(d) => Value::from(String::from_utf8(d[..8].to_vec()).unwrap()),
            None => card?.get("bin")?.clone(),
        },
        "card.country" => Value::from(s(card?.get("country")?)?.to_uppercase()),
        "card.funding" => Value::from(s(card?.get("funding")?)?.to_lowercase()),
        "card.issuer" => card?.get("issuer")?.clone(),
        "billing.country" => Value::from(s(p.get("billing")?.get("country")?)?.to_uppercase()),
        "capture_method" => Value::from(s(p.get("capture_method")?)?.to_lowercase()),
        "off_session" | "three_d_secure" => p.get(field)?.clone(),
        f => {
            let key = f.strip_prefix("metadata.").expect("a known field");
            p.get("metadata")?.get(key)?.clone()
        }
    };
    Some(v)
}

/// `eq` of rules.md for one value of a rule.
fn ref_eq(field: &str, fact: &Value, v: &Value) -> bool {
    match field {
        "currency" | "card.brand" | "card.funding" | "capture_method" => {
            fact.as_str().map(str::to_lowercase) == v.as_str().map(str::to_lowercase)
        }
        "card.country" | "billing.country" => {
            fact.as_str().map(str::to_uppercase) == v.as_str().map(str::to_uppercase)
        }
        // The payment's BIN cut to the value's length.
        "card.bin" => {
            let (b, v) = (fact.as_str().unwrap(), v.as_str().unwrap());
            b.len() >= v.len() && &b[..v.len()] == v
        }
        "amount" => fact.as_u64() == v.as_u64(),
        _ => fact == v,
    }
}

fn ref_holds(c: &Value, p: &Value) -> bool {
    if let Some(cs) = c.get("all") {
        return cs.as_array().unwrap().iter().all(|c| ref_holds(c, p));
    }
    if let Some(cs) = c.get("any") {
        return cs.as_array().unwrap().iter().any(|c| ref_holds(c, p));
    }
    if let Some(c) = c.get("not") {
        return !ref_holds(c, p);
    }
    let m = c.as_object().unwrap();
    let field = m["field"].as_str().unwrap();
    let (op, v) = m.iter().find(|(k, _)| *k != "field").unwrap();
    let Some(fact) = ref_fact(p, field) else {
        return op == "exists" && v == &Value::Bool(false);
    };
    let amount = || fact.as_u64().unwrap();
    let n = || v.as_u64().unwrap();
    match op.as_str() {
        "exists" => v.as_bool().unwrap(),
        "eq" => ref_eq(field, &fact, v),
        "ne" => !ref_eq(field, &fact, v),
        "in" => v
            .as_array()
            .unwrap()
            .iter()
            .any(|x| ref_eq(field, &fact, x)),
        "not_in" => !v
            .as_array()
            .unwrap()
            .iter()
            .any(|x| ref_eq(field, &fact, x)),
        "lt" => amount() < n(),
        "lte" => amount() <= n(),
        "gt" => amount() > n(),
        "gte" => amount() >= n(),
        "between" => {
            let r = v.as_array().unwrap();
            r[0].as_u64().unwrap() <= amount() && amount() <= r[1].as_u64().unwrap()
        }
        "prefix" => {
            let f = fact.as_str().unwrap();
            match v {
                Value::Array(ps) => ps.iter().any(|x| f.starts_with(x.as_str().unwrap())),
                x => f.starts_with(x.as_str().unwrap()),
            }
        }
        other => panic!("reference: operator {other}"),
    }
}

/// What the reference decides: the fields of a decision it can check.
#[derive(Debug, PartialEq)]
struct RefDecision {
    action: &'static str,
    processors: Vec<String>,
    rule: Option<String>,
    rule_index: Option<usize>,
    decline: Option<(String, Option<String>)>,
    /// (picked, bucket, total weight) for a split.
    split: Option<(String, u64, u128)>,
}

fn ref_decide(rs: &Value, p: &Value, key: &str) -> RefDecision {
    let rules = rs["rules"].as_array().unwrap();
    let hit = rules.iter().enumerate().find(|(_, r)| {
        r.get("enabled") != Some(&Value::Bool(false)) && r.get("if").is_none_or(|c| ref_holds(c, p))
    });
    let (rule, rule_index, action) = match hit {
        Some((i, r)) => (
            Some(r["name"].as_str().unwrap().to_owned()),
            Some(i),
            &r["then"],
        ),
        None => (None, None, &rs["default"]),
    };
    let names = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap().to_owned())
            .collect()
    };
    let mut d = RefDecision {
        action: "route",
        processors: Vec::new(),
        rule,
        rule_index,
        decline: None,
        split: None,
    };
    if let Some(ps) = action.get("route") {
        d.processors = names(ps);
    } else if let Some(entries) = action.get("split") {
        let entries = entries.as_array().unwrap();
        let total: u128 = entries
            .iter()
            .map(|e| u128::from(e["weight"].as_u64().unwrap()))
            .sum();
        let digest = Sha256::digest(key.as_bytes());
        let h = u64::from_be_bytes(digest[..8].try_into().unwrap());
        let bucket = u128::from(h) % total;
        let mut run = 0u128;
        let picked = entries
            .iter()
            .find(|e| {
                run += u128::from(e["weight"].as_u64().unwrap());
                run > bucket
            })
            .unwrap()["processor"]
            .as_str()
            .unwrap()
            .to_owned();
        d.processors.push(picked.clone());
        if let Some(f) = action.get("fallback") {
            d.processors
                .extend(names(f).into_iter().filter(|x| *x != picked));
        }
        d.split = Some((picked, u64::try_from(bucket).unwrap(), total));
    } else {
        let dec = &action["decline"];
        d.action = "decline";
        d.decline = Some((
            dec["code"].as_str().unwrap().to_owned(),
            dec.get("message").map(|m| m.as_str().unwrap().to_owned()),
        ));
    }
    d
}

/// `split`: how the split picked (from `Verdict::split` on the hot path, or
/// from the deciding trace entry).
fn as_ref_decision(
    d: &switchyard_rules::Decision,
    split: Option<&switchyard_rules::SplitInfo>,
) -> RefDecision {
    RefDecision {
        action: match d.action {
            DecisionAction::Route => "route",
            DecisionAction::Decline => "decline",
        },
        processors: d.processors.clone(),
        rule: d.rule.clone(),
        rule_index: d.rule_index,
        decline: d
            .decline
            .as_ref()
            .map(|x| (x.code.clone(), x.message.clone())),
        split: split.map(|s| {
            // The engine reports a total past u64 saturated; compare the rest.
            (s.picked.clone(), s.bucket, u128::from(s.total_weight))
        }),
    }
}

fn same_decision(engine: &RefDecision, reference: &RefDecision) -> bool {
    match (&engine.split, &reference.split) {
        (Some((ep, eb, et)), Some((rp, rb, rt))) => {
            let total_ok = et == rt || (*rt > u128::from(u64::MAX) && *et == u128::from(u64::MAX));
            ep == rp
                && eb == rb
                && total_ok
                && engine.action == reference.action
                && engine.processors == reference.processors
                && engine.rule == reference.rule
                && engine.rule_index == reference.rule_index
                && engine.decline == reference.decline
        }
        _ => engine == reference,
    }
}

// ----------------------------------------------- property 2: the evaluator

/// Failing seeds go to crates/rules/proptest-regressions/props.txt.
fn persistence() -> Option<Box<dyn proptest::test_runner::FailurePersistence>> {
    Some(Box::new(
        proptest::test_runner::FileFailurePersistence::Direct("proptest-regressions/props.txt"),
    ))
}

fn routing_key(p: &Value, i: usize) -> String {
    p.get("routing_key")
        .and_then(Value::as_str)
        .map_or_else(|| i.to_string(), str::to_owned)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 96,
        failure_persistence: persistence(),
        max_shrink_iters: 4000,
        ..ProptestConfig::default()
    })]

    #[test]
    fn router_agrees_with_the_reference(
        rs in ruleset(0, 300),
        payments in prop::collection::vec(payment(), 1..=24),
        seed in any::<u32>(),
    ) {
        let v = validate_value(&rs, &ValidateOptions::default());
        prop_assert!(v.ok, "generated rule set invalid: {:?}", v.errors);
        for w in &v.warnings {
            check_issue_path(&rs, w)?;
        }
        let router = Router::from_value(&rs, &ValidateOptions::default()).unwrap();

        let mut tally: (u64, u64, u64) = (0, 0, 0);
        let mut by_rule: BTreeMap<String, u64> = BTreeMap::new();
        let mut by_processor: BTreeMap<String, u64> = BTreeMap::new();
        for (i, pj) in payments.iter().enumerate() {
            let p = Payment::from_value(pj);
            prop_assert!(p.is_ok(), "generated payment invalid: {pj} {p:?}");
            let p = p.unwrap();
            for key in [format!("{seed}-{i}"), format!("k{i}"), String::new()] {
                let want = ref_decide(&rs, pj, &key);
                let verdict = router.select(&p, &key);
                let fast = as_ref_decision(&verdict.to_decision(), verdict.split().as_ref());
                prop_assert!(
                    same_decision(&fast, &want),
                    "decide disagrees\npayment: {}\nkey: {:?}\nengine: {:?}\nreference: {:?}",
                    pj, key, fast, want
                );
                let slow = router.explain(&p, &key);
                prop_assert!(slow.trace.is_some());
                let traced_split = slow
                    .trace
                    .as_ref()
                    .and_then(|t| t.last())
                    .and_then(|e| e.split.clone());
                let slow = as_ref_decision(&slow, traced_split.as_ref());
                prop_assert!(
                    same_decision(&slow, &want),
                    "explain disagrees\npayment: {}\nkey: {:?}\nengine: {:?}\nreference: {:?}",
                    pj, key, slow, want
                );
            }
            // The simulation's tally, keyed as simulate documents.
            let want = ref_decide(&rs, pj, &routing_key(pj, i));
            tally.0 += 1;
            match &want.rule {
                Some(r) => *by_rule.entry(r.clone()).or_default() += 1,
                None => tally.2 += 1,
            }
            match want.processors.first() {
                Some(first) => *by_processor.entry(first.clone()).or_default() += 1,
                None => tally.1 += 1,
            }
        }
        let sim = simulate_json(&router, &Value::Array(payments.clone()).to_string(), &switchyard_rules::NO_RATES);
        prop_assert!(sim.is_ok(), "simulate_json failed: {sim:?}");
        let sim = sim.unwrap();
        prop_assert_eq!((sim.total, sim.declined, sim.default), tally);
        prop_assert_eq!(&sim.by_rule, &by_rule);
        prop_assert_eq!(&sim.by_processor, &by_processor);
    }
}

// --------------------------------------- property 3: split frequencies

fn check_split_shares(weights: &[u64], n: usize) {
    let split: Vec<Value> = weights
        .iter()
        .enumerate()
        .map(|(i, w)| json!({ "processor": format!("p{i}"), "weight": w }))
        .collect();
    let rs = json!({ "rules": [], "default": { "split": split } });
    let router = Router::from_value(&rs, &ValidateOptions::default()).unwrap();
    let p = Payment::from_value(&json!({ "amount": 100, "currency": "eur" })).unwrap();
    let mut counts = vec![0u64; weights.len()];
    for k in 0..n {
        let d = router.decide(&p, &format!("pay_{k:06}"));
        let first = &d.processors[0];
        let i: usize = first[1..].parse().unwrap();
        counts[i] += 1;
    }
    let total: f64 = weights.iter().map(|&w| w as f64).sum();
    for (i, (&w, &c)) in weights.iter().zip(&counts).enumerate() {
        let share = w as f64 / total;
        let mean = n as f64 * share;
        let sigma = (n as f64 * share * (1.0 - share)).sqrt();
        assert!(
            (c as f64 - mean).abs() <= 5.0 * sigma + 1.0,
            "weights {weights:?}: p{i} got {c} of {n}, expected {mean:.1} ± {:.1}",
            5.0 * sigma
        );
    }
}

#[test]
fn split_frequencies_match_weights() {
    for w in [
        &[70u64, 30][..],
        &[1, 1, 1],
        &[5, 90, 5],
        &[1, 999],
        &[1],
        &[3, 1, 4, 1, 5, 9, 2, 6],
    ] {
        check_split_shares(w, 20_000);
    }
}

// ---------------------------------------------- property 1: no panics

const VOCABULARY: &[&str] = &[
    "name",
    "rules",
    "default",
    "if",
    "then",
    "enabled",
    "all",
    "any",
    "not",
    "field",
    "eq",
    "ne",
    "in",
    "not_in",
    "lt",
    "lte",
    "gt",
    "gte",
    "between",
    "prefix",
    "exists",
    "route",
    "split",
    "fallback",
    "decline",
    "processor",
    "weight",
    "code",
    "message",
    "amount",
    "currency",
    "card",
    "number",
    "bin",
    "brand",
    "country",
    "funding",
    "issuer",
    "billing",
    "capture_method",
    "off_session",
    "three_d_secure",
    "metadata",
    "routing_key",
    "card.bin",
    "card.brand",
    "metadata.channel",
    "metadata.",
    "eur",
    "EUR",
    "US",
    "visa",
    "stripe",
    "4242424242424242",
    "424242",
    "",
    "~",
    "/",
    "a/b~c",
    "ünïcødé",
    "🦀",
];

fn weird_value() -> BoxedStrategy<Value> {
    prop_oneof![
        Just(json!(0)),
        Just(json!(-1)),
        Just(json!(1.5)),
        Just(json!(1e300)),
        Just(json!(-0.0)),
        Just(json!(u64::MAX)),
        Just(json!(i64::MIN)),
        Just(json!(MAX_AMOUNT + 1)),
        Just(json!("70")),
        Just(json!("")),
        Just(json!([])),
        Just(json!({})),
        Just(json!([[]])),
        Just(json!([{}])),
        Just(Value::Null),
        Just(json!(true)),
        Just(json!([3, 1])),
        Just(json!([1, 2, 3])),
        Just(json!(["eur", 1])),
        Just(json!("x".repeat(2000))),
        Just(json!("4242 4242 4242 4242")),
        Just(json!("4242424242424241")),
        Just(json!("123456789")),
        Just(json!({ "field": "amount", "between": [5, 1] })),
        Just(json!({ "field": "nope", "eq": 1 })),
        Just(json!({ "all": [], "any": [] })),
        select(VOCABULARY).prop_map(Value::from),
    ]
    .boxed()
}

fn arb_key() -> BoxedStrategy<String> {
    prop_oneof![
        4 => select(VOCABULARY).prop_map(str::to_owned),
        1 => any::<String>(),
        1 => "[~/a-z0-9_.]{0,6}",
    ]
    .boxed()
}

/// Any JSON value: all types, negatives, floats, huge numbers, unicode keys.
fn arb_json() -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| Number::from_f64(f).map(Value::Number)),
        arb_key().prop_map(Value::from),
        weird_value(),
    ];
    leaf.prop_recursive(5, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((arb_key(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
    .boxed()
}

/// A change to a valid document.
#[derive(Clone, Debug)]
enum Mutation {
    Replace(Index, Value),
    InsertKey(Index, String, Value),
    RemoveKey(Index, Index),
    RenameKey(Index, Index, String),
    Clear(Index),
}

fn mutation() -> BoxedStrategy<Mutation> {
    let value = prop_oneof![2 => weird_value(), 1 => arb_json()];
    let misspelt = prop_oneof![
        arb_key(),
        (select(VOCABULARY), any::<Index>()).prop_map(|(w, i)| {
            // Drop one character of a known word.
            let mut cs: Vec<char> = w.chars().collect();
            if !cs.is_empty() {
                cs.remove(i.index(cs.len()));
            }
            cs.into_iter().collect()
        }),
    ];
    prop_oneof![
        3 => (any::<Index>(), value.clone()).prop_map(|(i, v)| Mutation::Replace(i, v)),
        2 => (any::<Index>(), arb_key(), value).prop_map(|(i, k, v)| Mutation::InsertKey(i, k, v)),
        2 => (any::<Index>(), any::<Index>()).prop_map(|(i, j)| Mutation::RemoveKey(i, j)),
        2 => (any::<Index>(), any::<Index>(), misspelt)
            .prop_map(|(i, j, k)| Mutation::RenameKey(i, j, k)),
        1 => any::<Index>().prop_map(Mutation::Clear),
    ]
    .boxed()
}

fn escape(k: &str) -> String {
    k.replace('~', "~0").replace('/', "~1")
}

/// Every JSON Pointer in `v`, in pre-order, with a filter on the node.
fn pointers(v: &Value, at: &str, keep: &dyn Fn(&Value) -> bool, out: &mut Vec<String>) {
    if keep(v) {
        out.push(at.to_owned());
    }
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                pointers(x, &format!("{at}/{}", escape(k)), keep, out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                pointers(x, &format!("{at}/{i}"), keep, out);
            }
        }
        _ => {}
    }
}

fn pick(v: &Value, i: &Index, keep: &dyn Fn(&Value) -> bool) -> Option<String> {
    let mut all = Vec::new();
    pointers(v, "", keep, &mut all);
    (!all.is_empty()).then(|| all[i.index(all.len())].clone())
}

fn mutate(mut v: Value, ms: &[Mutation]) -> Value {
    for m in ms {
        match m {
            Mutation::Replace(i, x) => {
                if let Some(p) = pick(&v, i, &|_| true) {
                    *v.pointer_mut(&p).unwrap() = x.clone();
                }
            }
            Mutation::InsertKey(i, k, x) => {
                if let Some(p) = pick(&v, i, &Value::is_object) {
                    if let Some(o) = v.pointer_mut(&p).and_then(Value::as_object_mut) {
                        o.insert(k.clone(), x.clone());
                    }
                }
            }
            Mutation::RemoveKey(i, j) => {
                let non_empty = |x: &Value| x.as_object().is_some_and(|o| !o.is_empty());
                if let Some(p) = pick(&v, i, &non_empty) {
                    if let Some(o) = v.pointer_mut(&p).and_then(Value::as_object_mut) {
                        let k = o.keys().nth(j.index(o.len())).unwrap().clone();
                        o.remove(&k);
                    }
                }
            }
            Mutation::RenameKey(i, j, new) => {
                let non_empty = |x: &Value| x.as_object().is_some_and(|o| !o.is_empty());
                if let Some(p) = pick(&v, i, &non_empty) {
                    if let Some(o) = v.pointer_mut(&p).and_then(Value::as_object_mut) {
                        let at = j.index(o.len());
                        let old = std::mem::take(o);
                        for (n, (k, x)) in old.into_iter().enumerate() {
                            let k = if n == at { new.clone() } else { k };
                            o.insert(k, x);
                        }
                    }
                }
            }
            Mutation::Clear(i) => {
                let container = |x: &Value| x.is_array() || x.is_object();
                if let Some(p) = pick(&v, i, &container) {
                    match v.pointer_mut(&p).unwrap() {
                        Value::Array(a) => a.clear(),
                        Value::Object(o) => o.clear(),
                        _ => {}
                    }
                }
            }
        }
    }
    v
}

/// RFC 6901 syntax.
fn is_pointer(p: &str) -> bool {
    if p.is_empty() {
        return true;
    }
    if !p.starts_with('/') {
        return false;
    }
    let b = p.as_bytes();
    b.iter()
        .enumerate()
        .all(|(i, &c)| c != b'~' || matches!(b.get(i + 1), Some(b'0' | b'1')))
}

fn unescape(t: &str) -> String {
    t.replace("~1", "/").replace("~0", "~")
}

/// An issue's path is a JSON Pointer into `input`: to the value itself, or,
/// for a missing key, to the object that lacks it.
fn check_issue_path(input: &Value, issue: &Issue) -> Result<(), TestCaseError> {
    prop_assert!(
        is_pointer(&issue.path),
        "not a JSON Pointer: {issue:?} in {input}"
    );
    match issue.code {
        "invalid_json" | "too_large" => prop_assert_eq!(&issue.path, ""),
        "missing_key" => {
            let cut = issue.path.rfind('/');
            prop_assert!(cut.is_some(), "missing_key at the root: {issue:?}");
            let cut = cut.unwrap();
            let parent = input.pointer(&issue.path[..cut]);
            let key = unescape(&issue.path[cut + 1..]);
            prop_assert!(
                parent.is_some_and(|p| p.as_object().is_some_and(|o| !o.contains_key(&key))),
                "missing_key path's parent is not an object lacking the key: {issue:?} in {input}"
            );
        }
        _ => prop_assert!(
            input.pointer(&issue.path).is_some(),
            "issue path does not resolve: {issue:?} in {input}"
        ),
    }
    Ok(())
}

fn sample_router() -> Router {
    Router::from_value(
        &json!({
            "rules": [
                { "name": "eur", "if": { "field": "currency", "eq": "eur" },
                  "then": { "split": [ { "processor": "a", "weight": 1 },
                                       { "processor": "b", "weight": 2 } ] } },
                { "name": "visa", "if": { "field": "card.brand", "eq": "visa" },
                  "then": { "decline": { "code": "no" } } }
            ],
            "default": { "route": ["c"] }
        }),
        &ValidateOptions::default(),
    )
    .unwrap()
}

fn sample_payments() -> Vec<Payment> {
    [
        json!({ "amount": 1, "currency": "eur" }),
        json!({ "amount": 10000, "currency": "usd",
                "card": { "number": "4242424242424242", "country": "US" },
                "metadata": { "channel": "web" } }),
        json!({ "amount": 500, "currency": "gbp",
                "card": { "bin": "555544", "issuer": "Chase" }, "off_session": true }),
    ]
    .iter()
    .map(|p| Payment::from_value(p).unwrap())
    .collect()
}

/// Everything the rule-set side of the API does with `v` must not panic,
/// must agree, and must point into `v`.
fn check_ruleset_input(v: &Value) -> Result<(), TestCaseError> {
    let opts = [
        ValidateOptions::default(),
        ValidateOptions {
            processors: Some(PROCESSORS.iter().map(|p| (*p).to_owned()).collect()),
        },
    ];
    for o in &opts {
        let val = validate_value(v, o);
        prop_assert_eq!(val.ok, val.errors.is_empty());
        let router = Router::from_value(v, o);
        prop_assert_eq!(
            val.ok,
            router.is_ok(),
            "validate and Router disagree on {}: {:?}",
            v,
            val
        );
        if let Err(errors) = &router {
            prop_assert_eq!(errors, &val.errors);
        }
        for issue in val.errors.iter().chain(&val.warnings) {
            check_issue_path(v, issue)?;
        }
        let text = v.to_string();
        prop_assert_eq!(&validate_str(&text, o), &val);
        prop_assert_eq!(Router::from_json_str(&text, o).is_ok(), val.ok);
        if let Ok(r) = router {
            for p in sample_payments() {
                let a = r.decide(&p, "k");
                let b = r.explain(&p, "k");
                prop_assert_eq!(a.rule_index, b.rule_index);
                prop_assert_eq!(a.processors, b.processors);
            }
            let _ = r.simulate(&sample_payments(), &switchyard_rules::NO_RATES);
            let _ = simulate_json(
                &r,
                r#"[{"amount": 5, "currency": "eur"}]"#,
                &switchyard_rules::NO_RATES,
            );
        }
    }
    Ok(())
}

/// Everything the payment side does with `v` must not panic, must agree, and
/// must point into `v`.
fn check_payment_input(v: &Value) -> Result<(), TestCaseError> {
    let p = Payment::from_value(v);
    if let Err(issues) = &p {
        prop_assert!(!issues.is_empty());
        for issue in issues {
            check_issue_path(v, issue)?;
        }
    }
    let text = v.to_string();
    prop_assert_eq!(&Payment::from_json_str(&text), &p);
    let list = Value::Array(vec![json!({ "amount": 7, "currency": "eur" }), v.clone()]);
    let sim = simulate_json(
        &sample_router(),
        &list.to_string(),
        &switchyard_rules::NO_RATES,
    );
    match (&p, &sim) {
        (Ok(_), Ok(s)) => prop_assert_eq!(s.total, 2),
        (Err(_), Err(issues)) => {
            for issue in issues {
                check_issue_path(&list, issue)?;
            }
        }
        _ => prop_assert!(
            false,
            "Payment::from_value and simulate_json disagree on {}: {:?} vs {:?}",
            v,
            p,
            sim
        ),
    }
    Ok(())
}

fn truncate_at<'a>(text: &'a str, i: &Index) -> &'a str {
    let mut cut = i.index(text.len() + 1);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    &text[..cut]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: persistence(),
        max_shrink_iters: 4000,
        ..ProptestConfig::default()
    })]

    #[test]
    fn arbitrary_json_never_panics(v in arb_json(), cut in any::<Index>()) {
        check_ruleset_input(&v)?;
        check_payment_input(&v)?;
        // Rule-set and payment shapes with arbitrary insides.
        let rs = json!({ "rules": [v.clone()], "default": v.clone() });
        check_ruleset_input(&rs)?;
        let rs = json!({ "rules": [{ "name": "r", "if": v.clone(), "then": { "route": ["a"] } }],
                         "default": { "route": ["a"] } });
        check_ruleset_input(&rs)?;
        let p = json!({ "amount": 100, "currency": "eur", "card": v.clone(), "metadata": v.clone() });
        check_payment_input(&p)?;
        // Truncated and arbitrary text.
        let text = rs.to_string();
        let part = truncate_at(&text, &cut);
        let val = validate_str(part, &ValidateOptions::default());
        prop_assert_eq!(val.ok, val.errors.is_empty());
        let _ = Router::from_json_str(part, &ValidateOptions::default());
        let _ = Payment::from_json_str(truncate_at(&p.to_string(), &cut));
        let _ = simulate_json(&sample_router(), truncate_at(&p.to_string(), &cut), &switchyard_rules::NO_RATES);
    }

    #[test]
    fn arbitrary_text_never_panics(s in any::<String>(), t in "[\\[\\]{}\":,0-9a-z.eE+ -]{0,40}") {
        for text in [s.as_str(), t.as_str()] {
            let val = validate_str(text, &ValidateOptions::default());
            prop_assert_eq!(val.ok, val.errors.is_empty());
            let _ = Router::from_json_str(text, &ValidateOptions::default());
            let _ = Payment::from_json_str(text);
            let _ = simulate_json(&sample_router(), text, &switchyard_rules::NO_RATES);
        }
    }

    #[test]
    fn near_valid_rule_sets_never_panic(
        rs in ruleset(12, 0),
        ms in prop::collection::vec(mutation(), 1..=3),
        cut in any::<Index>(),
    ) {
        let v = mutate(rs, &ms);
        check_ruleset_input(&v)?;
        let text = v.to_string();
        let val = validate_str(truncate_at(&text, &cut), &ValidateOptions::default());
        prop_assert_eq!(val.ok, val.errors.is_empty());
    }

    #[test]
    fn near_valid_payments_never_panic(
        p in payment(),
        ms in prop::collection::vec(mutation(), 1..=3),
    ) {
        check_payment_input(&p)?;
        check_payment_input(&mutate(p, &ms))?;
    }
}

/// Payment JSON text, with repeated keys and values of every type.
fn payment_text() -> BoxedStrategy<String> {
    let keys = select(
        &[
            "amount",
            "currency",
            "card",
            "billing",
            "capture_method",
            "off_session",
            "three_d_secure",
            "metadata",
            "routing_key",
            "amout",
        ][..],
    );
    let values = select(
        &[
            "100",
            "1",
            "0",
            "-5",
            "1.5",
            "1e3",
            "18446744073709551615",
            "null",
            "true",
            "\"eur\"",
            "\"EUR\"",
            "\"x\"",
            "[]",
            "{}",
            "[1, \"eur\"]",
            r#"{"number": "4242424242424242", "brand": "visa", "brand": 1}"#,
            r#"{"number": "4242 4242 4242 4242", "number": "5555555555554444"}"#,
            r#"{"bin": "424242", "country": "fr", "funding": null}"#,
            r#"{"country": "FR", "country": "US"}"#,
            r#"{"channel": "web", "channel": 1}"#,
            r#"{"channel": 1, "channel": "web"}"#,
        ][..],
    );
    (any::<bool>(), prop::collection::vec((keys, values), 0..6))
        .prop_map(|(base, kvs)| {
            let mut parts: Vec<String> = Vec::new();
            if base {
                parts.push(r#""amount": 100, "currency": "eur""#.to_owned());
            }
            parts.extend(kvs.iter().map(|(k, v)| format!("\"{k}\": {v}")));
            format!("{{{}}}", parts.join(", "))
        })
        .boxed()
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        failure_persistence: persistence(),
        ..ProptestConfig::default()
    })]

    /// `from_json_str` means "parse, then `from_value`", whatever the text
    /// (repeated keys: the last one counts, as in `serde_json::Value`).
    #[test]
    fn payment_text_reads_like_its_value(text in payment_text()) {
        let v: Value = serde_json::from_str(&text).unwrap();
        let from_text = Payment::from_json_str(&text);
        prop_assert_eq!(&from_text, &Payment::from_value(&v), "{}", text);
        check_payment_input(&v)?;
        let sim = simulate_json(&sample_router(), &format!("[{text}]"), &switchyard_rules::NO_RATES);
        let _ = sim;
    }
}

/// The limits of rules.md give clear errors at the documented paths.
#[test]
fn limits_are_errors_with_paths() {
    let opts = ValidateOptions::default();
    let codes = |v: &Value| -> Vec<(String, &'static str)> {
        validate_value(v, &opts)
            .errors
            .into_iter()
            .map(|i| (i.path, i.code))
            .collect()
    };
    let rule = |i: usize| json!({ "name": format!("r{i}"), "then": { "route": ["a"] } });
    let many = json!({ "rules": (0..10_001).map(rule).collect::<Vec<_>>(), "default": { "route": ["a"] } });
    assert_eq!(codes(&many), [("/rules".to_owned(), "too_many_rules")]);

    let mut deep = json!({ "field": "currency", "eq": "eur" });
    for _ in 0..40 {
        deep = json!({ "not": deep });
    }
    let rs = json!({ "rules": [{ "name": "deep", "if": deep, "then": { "route": ["a"] } }],
                     "default": { "route": ["a"] } });
    let errors = codes(&rs);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].1, "too_deep");
    assert!(rs.pointer(&errors[0].0).is_some(), "{errors:?}");

    let big = format!(
        "{{\"name\": \"{}\", \"default\": {{\"route\": [\"a\"]}}}}",
        "x".repeat(1 << 20)
    );
    let v = validate_str(&big, &opts);
    assert_eq!(v.errors.len(), 1);
    assert_eq!(
        (v.errors[0].path.as_str(), v.errors[0].code),
        ("", "too_large")
    );
    assert!(Router::from_json_str(&big, &opts).is_err());

    // Nesting past serde_json's own recursion limit is malformed JSON, not a crash.
    let text = format!("{}1{}", "[".repeat(5000), "]".repeat(5000));
    assert_eq!(validate_str(&text, &opts).errors[0].code, "invalid_json");
    assert!(Payment::from_json_str(&text).is_err());
    assert!(simulate_json(&sample_router(), &text, &switchyard_rules::NO_RATES).is_err());
}

/// A payment `simulate_json` accepts is one `Payment::from_value` accepts:
/// a payment is a JSON object (rules.md, Payment input), and so are `card`,
/// `billing` and `metadata`. Minimal inputs found by the properties below.
#[test]
fn simulate_reads_payments_like_payment_from_value() {
    let router = sample_router();
    for p in [
        json!([100, "eur"]),
        json!({ "amount": 100, "currency": "eur", "card": [] }),
        json!({ "amount": 100, "currency": "eur", "billing": ["FR"] }),
        json!({ "amount": 100, "currency": "eur", "card": null }),
        json!({ "amount": null, "currency": "eur" }),
    ] {
        assert!(Payment::from_value(&p).is_err(), "{p}");
        let sim = simulate_json(
            &router,
            &json!([p]).to_string(),
            &switchyard_rules::NO_RATES,
        );
        assert!(
            sim.is_err(),
            "simulate_json accepted a payment that Payment::from_value refuses: {p} -> {sim:?}"
        );
    }
}
