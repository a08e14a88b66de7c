//! The engine through its public API, on the examples of rules.md.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{json, Value};
use switchyard_rules::*;

fn example() -> Value {
    json!({
      "name": "EU routing",
      "rules": [
        { "name": "large EUR credit cards to Adyen",
          "if": { "all": [
            { "field": "currency", "eq": "eur" },
            { "field": "amount", "gte": 10000 },
            { "field": "card.funding", "eq": "credit" } ]},
          "then": { "route": ["adyen_eu", "stripe"] } },
        { "name": "US cards: 70/30 test",
          "if": { "field": "card.country", "eq": "US" },
          "then": { "split": [ { "processor": "stripe", "weight": 70 },
                               { "processor": "checkout", "weight": 30 } ],
                    "fallback": ["adyen_eu"] } },
        { "name": "block a leaked BIN range",
          "if": { "field": "card.bin", "prefix": ["41111199", "555544"] },
          "then": { "decline": { "code": "do_not_honor", "message": "card blocked by merchant rule" } } }
      ],
      "default": { "route": ["stripe"] }
    })
}

fn pay(v: Value) -> Payment {
    Payment::from_value(&v).unwrap()
}

#[test]
fn the_example_validates_and_decides() {
    let v = validate_value(&example(), &ValidateOptions::default());
    assert!(v.ok, "{v:?}");
    assert!(v.warnings.is_empty(), "{v:?}");
    let r = Router::from_value(&example(), &ValidateOptions::default()).unwrap();

    let p = pay(
        json!({"amount": 12500, "currency": "EUR", "card": {"number": "4000002500003155", "country": "FR", "funding": "credit"}}),
    );
    let d = r.explain(&p, "k");
    assert_eq!(d.processors, ["adyen_eu", "stripe"]);
    assert_eq!(d.rule.as_deref(), Some("large EUR credit cards to Adyen"));
    assert_eq!(d.rule_index, Some(0));
    assert_eq!(r.decide(&p, "k").processors, d.processors);

    let p = pay(json!({"amount": 500, "currency": "usd", "card": {"number": "5555444433331111"}}));
    let d = r.explain(&p, "k");
    assert_eq!(d.action, DecisionAction::Decline);
    assert!(d.processors.is_empty());
    assert_eq!(
        d.decline.as_ref().map(|x| x.code.as_str()),
        Some("do_not_honor")
    );
    let t = serde_json::to_value(&d).unwrap();
    assert_eq!(t["trace"][0]["failed"]["path"], "/rules/0/if/all/0");
    assert_eq!(t["trace"][0]["failed"]["actual"], "usd");
    assert_eq!(t["trace"][1]["failed"]["actual"], Value::Null);

    let p = pay(json!({"amount": 500, "currency": "usd"}));
    let d = r.explain(&p, "k");
    assert_eq!(d.rule, None);
    assert_eq!(d.processors, ["stripe"]);
    assert_eq!(serde_json::to_value(&d).unwrap()["rule_index"], Value::Null);
}

#[test]
fn split_follows_the_formula_and_leaves_the_pick_out_of_the_fallback() {
    let r = Router::from_value(&example(), &ValidateOptions::default()).unwrap();
    let p = pay(json!({"amount": 500, "currency": "usd", "card": {"country": "US"}}));
    for key in ["order_8812", "a", "b", "c", "d", "e"] {
        let h = split_hash(key) % 100;
        let want = if h < 70 { "stripe" } else { "checkout" };
        let d = r.decide(&p, key);
        assert_eq!(d.processors, [want, "adyen_eu"], "key {key}");
    }
}

#[test]
fn validation_reports_every_problem_with_paths() {
    let bad = json!({
      "rules": [
        { "name": "a", "if": { "field": "card.contry", "eq": "US" }, "then": { "route": ["stripe", "stripe"] } },
        { "name": "a", "if": { "field": "amount", "gte": "100" }, "then": { "split": [{"processor": "x", "weight": 0}] }, "extra": 1 },
        { "name": "c", "if": { "all": [] }, "then": { "route": [] } },
        { "name": "d", "if": { "field": "card.country", "gte": 5 }, "then": { "route": ["adyen"] } },
        { "name": "e", "if": { "field": "amount", "between": [10, 5], "eq": 4 }, "then": { "route": ["adyen"] } }
      ]
    });
    let v = validate_value(&bad, &ValidateOptions::default());
    let got: Vec<(String, &str)> = v.errors.iter().map(|i| (i.path.clone(), i.code)).collect();
    let want = [
        ("/rules/0/if/field", "unknown_field"),
        ("/rules/0/then/route/1", "duplicate_processor"),
        ("/rules/1/name", "duplicate_rule_name"),
        ("/rules/1/extra", "unknown_key"),
        ("/rules/1/if/gte", "wrong_type"),
        ("/rules/1/then/split/0/weight", "invalid_weight"),
        ("/rules/2/if/all", "empty_list"),
        ("/rules/2/then/route", "empty_list"),
        ("/rules/3/if/gte", "operator_not_allowed"),
        ("/rules/4/if", "multiple_operators"),
        ("/default", "missing_key"),
    ];
    for w in want {
        assert!(
            got.contains(&(w.0.to_owned(), w.1)),
            "missing {w:?} in {got:#?}"
        );
    }
    assert_eq!(got.len(), want.len(), "{got:#?}");
    assert!(
        v.errors[0].message.contains("card.country"),
        "{}",
        v.errors[0].message
    );
}

#[test]
fn warnings() {
    let rs = json!({
      "rules": [
        { "name": "big", "if": { "field": "amount", "gte": 100 }, "then": { "route": ["a"] } },
        { "name": "off", "enabled": false, "then": { "route": ["a"] } },
        { "name": "all", "then": { "route": ["a"] } },
        { "name": "never", "if": { "field": "currency", "eq": "eur" }, "then": { "route": ["a"] } }
      ],
      "default": { "route": ["a"] }
    });
    let v = validate_value(&rs, &ValidateOptions::default());
    assert!(v.ok);
    let got: Vec<(String, &str)> = v
        .warnings
        .iter()
        .map(|i| (i.path.clone(), i.code))
        .collect();
    assert_eq!(
        got,
        [
            ("/rules/0/if".to_owned(), "amount_without_currency"),
            ("/rules/1/enabled".to_owned(), "disabled_rule"),
            ("/rules/3".to_owned(), "unreachable_rule"),
        ]
    );
}

#[test]
fn card_numbers_never_come_back() {
    let number = "4242424242424242";
    for bad in [
        json!({"amount": 1, "currency": "usd", "card": {"number": 4242424242424242u64}}),
        json!({"amount": 1, "currency": "usd", "card": {"number": "4242424242424241"}}),
        json!({"amount": 1, "currency": "usd", "card": {"number": number, "bin": "555555"}}),
        json!({"amount": 1, "currency": number}),
    ] {
        let errs = Payment::from_value(&bad).unwrap_err();
        let text = format!("{errs:?}");
        assert!(
            !text.contains(number) && !text.contains("4242424242424241"),
            "{text}"
        );
    }
    let p = pay(json!({"amount": 1, "currency": "usd", "card": {"number": number}}));
    let text = format!("{p:?}");
    assert!(!text.contains(number), "{text}");
}
