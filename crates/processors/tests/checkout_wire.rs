//! The Checkout.com adapter against its fake (`tests/fakes/checkout.mjs`),
//! over HTTP: every flow the worker runs, the fake's documented test
//! triggers, look-ups and idempotent retries. Run by
//! `tests/processors/checkout.test.mjs`, which starts the fake and sets
//! `CHECKOUT_URL`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use switchyard_processors::card::Card;
use switchyard_processors::checkout::CheckoutAdapter;
use switchyard_processors::decline::DeclineClass;
use switchyard_processors::{Call, Credentials, Looked, Outcome, ProcessorConfig, ProcessorKind};

fn adapter_at(base: &str, key: &str) -> CheckoutAdapter {
    let mut c = ProcessorConfig::sandbox("checkout_a");
    c.kind = ProcessorKind::Checkout;
    c.base_url = Some(base.to_owned());
    c.account = Some("pc_switchyard_test".to_owned());
    c.timeout_ms = 5000;
    CheckoutAdapter::new(
        c,
        Credentials {
            api_key: Some(key.to_owned()),
            ..Credentials::default()
        },
    )
}

fn adapter() -> CheckoutAdapter {
    // A trailing slash on the base URL is trimmed.
    adapter_at(
        &format!("{}/", support::fake_url("CHECKOUT_URL")),
        "sk_sbox_abcdefghijklmnopqrstuvwxyz2",
    )
}

/// A key unique to this run and test, so that a fake kept running between
/// runs does not replay an older answer.
fn key(name: &str) -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("pi_{nanos:x}-{name}-1-checkout_a")
}

fn card(number: &str) -> Card {
    Card::from_raw(number, 12, 2034, Some("100")).unwrap_or_else(|e| panic!("{e:?}"))
}

fn authorize(a: &CheckoutAdapter, key: &str, amount: u64, capture: bool, number: &str) -> Outcome {
    let c = card(number);
    support::run(
        a,
        &Call::Authorize {
            key,
            payment_id: "pi_wire",
            amount,
            currency: "eur",
            capture,
            card: &c.secret,
            facts: &c.facts,
            descriptor: Default::default(),
        },
    )
}

fn approved(o: Outcome) -> String {
    match o {
        Outcome::Approved { reference } => reference,
        other => panic!("not approved: {other:?}"),
    }
}

fn capture(a: &CheckoutAdapter, key: &str, payment: &str, amount: u64) -> Outcome {
    support::run(
        a,
        &Call::Capture {
            key,
            reference: payment,
            amount,
            currency: "eur",
        },
    )
}

fn refund(a: &CheckoutAdapter, key: &str, payment: &str, amount: u64) -> Outcome {
    support::run(
        a,
        &Call::Refund {
            key,
            reference: payment,
            amount,
            currency: "eur",
        },
    )
}

fn lookup_authorize(a: &CheckoutAdapter, key: &str) -> Outcome {
    support::run(
        a,
        &Call::Lookup {
            key,
            of: Looked::Authorize {
                amount: 1000,
                currency: "eur",
            },
        },
    )
}

fn lookup_refund(a: &CheckoutAdapter, key: &str, payment: &str) -> Outcome {
    support::run(
        a,
        &Call::Lookup {
            key,
            of: Looked::Refund {
                reference: payment,
                amount: 100,
                currency: "eur",
            },
        },
    )
}

/// The fake's ledger entry of a payment.
fn ledger_entry(id: &str) -> serde_json::Value {
    let url = format!("{}/__ledger", support::fake_url("CHECKOUT_URL"));
    let text = ureq::get(&url).call().unwrap().into_string().unwrap();
    let ledger: serde_json::Value = serde_json::from_str(&text).unwrap();
    let found: Vec<_> = ledger["payments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["id"] == id)
        .cloned()
        .collect();
    assert_eq!(found.len(), 1, "{id} in {ledger}");
    found.into_iter().next().unwrap()
}

fn ledger_by_reference(reference: &str) -> Vec<serde_json::Value> {
    let url = format!("{}/__ledger", support::fake_url("CHECKOUT_URL"));
    let text = ureq::get(&url).call().unwrap().into_string().unwrap();
    let ledger: serde_json::Value = serde_json::from_str(&text).unwrap();
    ledger["payments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["reference"] == reference)
        .cloned()
        .collect()
}

#[test]
#[ignore = "needs its fake: run by tests/processors/checkout.test.mjs"]
fn manual_capture_partial_capture_and_partial_refunds() {
    let a = adapter();
    let k = key("authorize");
    let pay = approved(authorize(&a, &k, 1000, false, "4242424242424242"));
    assert!(pay.starts_with("pay_"), "{pay}");
    assert_eq!(ledger_entry(&pay)["status"], "Authorized");
    let cap = approved(capture(&a, &key("capture"), &pay, 700));
    assert_eq!(cap, pay);
    let e = ledger_entry(&pay);
    assert_eq!(
        (e["status"].as_str(), e["captured"].as_u64()),
        (Some("Partially Captured"), Some(700))
    );
    let r1k = key("refund");
    let r1 = approved(refund(&a, &r1k, &pay, 300));
    assert!(r1.starts_with("act_"), "{r1}");
    // A refund beyond what is left: Checkout.com's validation (422) refuses
    // it before processing.
    assert!(matches!(
        refund(&a, &key("refund-too-much"), &pay, 401),
        Outcome::NotProcessed { .. }
    ));
    let r2 = approved(refund(&a, &key("refund2"), &pay, 400));
    assert_ne!(r1, r2);
    let e = ledger_entry(&pay);
    assert_eq!(e["refunded"], 700);
    assert_eq!(e["status"], "Refunded");
    let refunds = e["refunds"].as_array().unwrap();
    assert_eq!(refunds.len(), 2);
    assert_eq!(refunds[0]["reference"], r1k.as_str());
    assert_eq!(refunds[0]["amount"], 300);
    // Look-ups: the authorization and the first refund, by their keys.
    assert_eq!(approved(lookup_authorize(&a, &k)), pay);
    assert_eq!(approved(lookup_refund(&a, &r1k, &pay)), r1);
    assert!(matches!(
        lookup_refund(&a, &key("refund-never-sent"), &pay),
        Outcome::NotProcessed { .. }
    ));
    // Fully refunded: a further refund is refused (403), unknown.
    assert!(matches!(
        refund(&a, &key("refund3"), &pay, 1),
        Outcome::Unknown { .. }
    ));
}

#[test]
#[ignore = "needs its fake: run by tests/processors/checkout.test.mjs"]
fn full_capture_and_full_refund() {
    let a = adapter();
    let pay = approved(authorize(
        &a,
        &key("authorize"),
        2500,
        false,
        "5436031030606378",
    ));
    assert_eq!(approved(capture(&a, &key("capture"), &pay, 2500)), pay);
    assert_eq!(ledger_entry(&pay)["status"], "Captured");
    approved(refund(&a, &key("refund"), &pay, 2500));
    let e = ledger_entry(&pay);
    assert_eq!(
        (e["status"].as_str(), e["refunded"].as_u64()),
        (Some("Refunded"), Some(2500))
    );
}

#[test]
#[ignore = "needs its fake: run by tests/processors/checkout.test.mjs"]
fn automatic_capture() {
    let a = adapter();
    let pay = approved(authorize(
        &a,
        &key("authorize"),
        1299,
        true,
        "4242424242424242",
    ));
    let e = ledger_entry(&pay);
    assert_eq!(
        (e["status"].as_str(), e["captured"].as_u64()),
        (Some("Captured"), Some(1299))
    );
    approved(refund(&a, &key("refund"), &pay, 299));
    assert_eq!(ledger_entry(&pay)["status"], "Partially Refunded");
}

#[test]
#[ignore = "needs its fake: run by tests/processors/checkout.test.mjs"]
fn void() {
    let a = adapter();
    let pay = approved(authorize(
        &a,
        &key("authorize"),
        1500,
        false,
        "4242424242424242",
    ));
    let v = support::run(
        &a,
        &Call::Void {
            key: &key("void"),
            reference: &pay,
        },
    );
    assert_eq!(approved(v), pay);
    assert_eq!(ledger_entry(&pay)["status"], "Voided");
    // A capture after the void is refused (403): unknown, never approved.
    assert!(matches!(
        capture(&a, &key("capture"), &pay, 1500),
        Outcome::Unknown { .. }
    ));
}

#[test]
#[ignore = "needs its fake: run by tests/processors/checkout.test.mjs"]
fn soft_decline_and_its_lookup() {
    let a = adapter();
    let k = key("authorize");
    let Outcome::Declined(d) = authorize(&a, &k, 1051, false, "4242424242424242") else {
        panic!("declined")
    };
    assert_eq!(d.decline_code, "insufficient_funds");
    assert_eq!(d.processor_code.as_deref(), Some("20051"));
    assert_eq!(d.class, DeclineClass::Soft);
    // Its look-up finds the declined payment and its code (two requests).
    let Outcome::Declined(l) = lookup_authorize(&a, &k) else {
        panic!("declined look-up")
    };
    assert_eq!(l, d);
    let Outcome::Declined(d) = authorize(&a, &key("authorize2"), 1005, false, "4242424242424242")
    else {
        panic!("declined")
    };
    assert_eq!(
        (d.decline_code.as_str(), d.class),
        ("do_not_honor", DeclineClass::Soft)
    );
    let Outcome::Declined(d) = authorize(&a, &key("authorize3"), 19998, true, "4242424242424242")
    else {
        panic!("declined")
    };
    assert_eq!(d.processor_code.as_deref(), Some("20068"));
    assert_eq!(d.class, DeclineClass::Soft);
}

#[test]
#[ignore = "needs its fake: run by tests/processors/checkout.test.mjs"]
fn hard_declines() {
    let a = adapter();
    let Outcome::Declined(d) = authorize(&a, &key("authorize"), 1033, false, "4242424242424242")
    else {
        panic!("declined")
    };
    assert_eq!(
        (
            d.decline_code.as_str(),
            d.processor_code.as_deref(),
            d.class
        ),
        ("expired_card", Some("30033"), DeclineClass::Hard)
    );
    let Outcome::Declined(d) = authorize(&a, &key("authorize2"), 4001, false, "4242424242424242")
    else {
        panic!("declined")
    };
    assert_eq!(
        (
            d.decline_code.as_str(),
            d.processor_code.as_deref(),
            d.class
        ),
        ("fraudulent", Some("40101"), DeclineClass::Hard)
    );
}

#[test]
#[ignore = "needs its fake: run by tests/processors/checkout.test.mjs"]
fn authentication_required() {
    let a = adapter();
    let k = key("authorize");
    let Outcome::Declined(d) = authorize(&a, &k, 1000, false, "4485040371536584") else {
        panic!("declined")
    };
    assert_eq!(d.class, DeclineClass::AuthenticationRequired);
    assert_eq!(d.decline_code, "authentication_required");
    let Outcome::Declined(l) = lookup_authorize(&a, &k) else {
        panic!("declined look-up")
    };
    assert_eq!(l.class, DeclineClass::AuthenticationRequired);
}

#[test]
#[ignore = "needs its fake: run by tests/processors/checkout.test.mjs"]
fn lookup_without_a_record() {
    let a = adapter();
    assert!(matches!(
        lookup_authorize(&a, &key("authorize-never-sent")),
        Outcome::NotProcessed { .. }
    ));
}

#[test]
#[ignore = "needs its fake: run by tests/processors/checkout.test.mjs"]
fn a_retry_with_the_same_key_is_deduplicated() {
    let a = adapter();
    let k = key("authorize");
    let first = approved(authorize(&a, &k, 1000, false, "4242424242424242"));
    let second = approved(authorize(&a, &k, 1000, false, "4242424242424242"));
    assert_eq!(first, second);
    assert_eq!(ledger_by_reference(&k).len(), 1);
    // Same for an action: the refund's retry is the same refund.
    let pay = approved(authorize(
        &a,
        &key("authorize2"),
        800,
        true,
        "4242424242424242",
    ));
    let rk = key("refund");
    let r1 = approved(refund(&a, &rk, &pay, 200));
    let r2 = approved(refund(&a, &rk, &pay, 200));
    assert_eq!(r1, r2);
    assert_eq!(ledger_entry(&pay)["refunded"], 200);
    // A key longer than Checkout.com's reference: the derived reference
    // deduplicates and is found again.
    let long = format!("{}-{}", key("authorize3"), "p".repeat(60));
    let x = approved(authorize(&a, &long, 1000, false, "4242424242424242"));
    let y = approved(authorize(&a, &long, 1000, false, "4242424242424242"));
    assert_eq!(x, y);
    assert_eq!(approved(lookup_authorize(&a, &long)), x);
}

#[test]
#[ignore = "needs its fake: run by tests/processors/checkout.test.mjs"]
fn refused_before_processing() {
    // Wrong key: 401, not processed.
    let bad = adapter_at(&support::fake_url("CHECKOUT_URL"), "pk_sbox_public");
    assert!(matches!(
        authorize(&bad, &key("authorize"), 1000, false, "4242424242424242"),
        Outcome::NotProcessed { .. }
    ));
    // A validation failure (an unknown currency): 422, not processed, no payment.
    let a = adapter();
    let k = key("authorize2");
    let c = card("4242424242424242");
    let o = support::run(
        &a,
        &Call::Authorize {
            key: &k,
            payment_id: "pi_wire",
            amount: 1000,
            currency: "euros",
            capture: false,
            card: &c.secret,
            facts: &c.facts,
            descriptor: Default::default(),
        },
    );
    assert!(matches!(o, Outcome::NotProcessed { .. }), "{o:?}");
    assert!(ledger_by_reference(&k).is_empty());
    // Nobody listening: not sent, not processed.
    let closed = adapter_at("http://127.0.0.1:9", "sk_sbox_x");
    assert!(matches!(
        authorize(&closed, &key("authorize3"), 1000, false, "4242424242424242"),
        Outcome::NotProcessed { .. }
    ));
}
