//! The braintree adapter against its fake (`tests/fakes/braintree.mjs`),
//! over HTTP: every flow the adapter supports, step by step as the worker
//! runs it. Run by `tests/processors/braintree.test.mjs`, which starts the
//! fake and sets `BRAINTREE_URL`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use switchyard_processors::braintree::BraintreeAdapter;
use switchyard_processors::card::Card;
use switchyard_processors::decline::DeclineClass;
use switchyard_processors::{Call, Credentials, Looked, Outcome, ProcessorConfig, ProcessorKind};

fn adapter() -> BraintreeAdapter {
    let mut config = ProcessorConfig::sandbox("braintree_a");
    config.kind = ProcessorKind::Braintree;
    // A trailing slash is trimmed.
    config.base_url = Some(format!("{}/", support::fake_url("BRAINTREE_URL")));
    config.account = Some("acct_usd".into());
    config.timeout_ms = 5000;
    BraintreeAdapter::new(
        config,
        Credentials {
            api_key: None,
            public_key: Some("public_key".into()),
            private_key: Some("private_key".into()),
        },
    )
}

fn card(cvc: &str) -> Card {
    Card::from_raw("4111111111111111", 12, 2030, Some(cvc)).unwrap()
}

fn key(payment: &str, op: &str) -> String {
    // Unique per run of the runner (the fake starts empty each time), and
    // per test.
    format!("{payment}-{op}-1-braintree_a")
}

fn authorize(payment: &str, amount: u64, capture: bool, cvc: &str) -> Outcome {
    let c = card(cvc);
    let k = key(payment, "authorize");
    support::run(
        &adapter(),
        &Call::Authorize {
            key: &k,
            payment_id: payment,
            amount,
            currency: "USD",
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
        other => panic!("expected approved, got {other:?}"),
    }
}

fn ledger() -> serde_json::Value {
    let url = format!("{}/__ledger", support::fake_url("BRAINTREE_URL"));
    let body = ureq::get(&url).call().unwrap().into_string().unwrap();
    serde_json::from_str(&body).unwrap()
}

fn ledger_payment(id: &str) -> serde_json::Value {
    ledger()["payments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("{id} not in the fake's ledger"))
}

fn capture(payment: &str, reference: &str, amount: u64) -> Outcome {
    let k = key(payment, "capture");
    support::run(
        &adapter(),
        &Call::Capture {
            key: &k,
            reference,
            amount,
            currency: "USD",
        },
    )
}

fn refund(payment: &str, n: u32, reference: &str, amount: u64) -> Outcome {
    let k = format!("{payment}-refund-{n}-braintree_a");
    support::run(
        &adapter(),
        &Call::Refund {
            key: &k,
            reference,
            amount,
            currency: "USD",
        },
    )
}

#[test]
#[ignore = "needs its fake: run by tests/processors/braintree.test.mjs"]
fn authorize_manual_capture_then_capture_full() {
    let tx = approved(authorize("pay_w1", 1050, false, "123"));
    let p = ledger_payment(&tx);
    assert_eq!(p["status"], "AUTHORIZED");
    assert_eq!(p["reference"], key("pay_w1", "authorize"));
    assert_eq!(p["amount"], 1050);
    assert_eq!(approved(capture("pay_w1", &tx, 1050)), tx);
    let p = ledger_payment(&tx);
    assert_eq!(p["status"], "SUBMITTED_FOR_SETTLEMENT");
    assert_eq!(p["captured"], 1050);
    // The capture retried: answered from the transaction, not captured twice.
    assert_eq!(approved(capture("pay_w1", &tx, 1050)), tx);
}

#[test]
#[ignore = "needs its fake: run by tests/processors/braintree.test.mjs"]
fn authorize_automatic_capture() {
    let tx = approved(authorize("pay_w2", 2500, true, "123"));
    let p = ledger_payment(&tx);
    assert_eq!(p["status"], "SUBMITTED_FOR_SETTLEMENT");
    assert_eq!(p["captured"], 2500);
}

#[test]
#[ignore = "needs its fake: run by tests/processors/braintree.test.mjs"]
fn partial_capture() {
    let tx = approved(authorize("pay_w3", 10_000, false, "123"));
    assert_eq!(approved(capture("pay_w3", &tx, 6_000)), tx);
    let p = ledger_payment(&tx);
    assert_eq!(p["captured"], 6_000);
    assert_eq!(p["amount"], 10_000);
}

#[test]
#[ignore = "needs its fake: run by tests/processors/braintree.test.mjs"]
fn void_an_authorization() {
    let tx = approved(authorize("pay_w4", 1_000, false, "123"));
    let k = key("pay_w4", "void");
    let call = Call::Void {
        key: &k,
        reference: &tx,
    };
    assert_eq!(approved(support::run(&adapter(), &call)), tx);
    assert_eq!(ledger_payment(&tx)["status"], "VOIDED");
    // Retried: already voided, approved again.
    assert_eq!(approved(support::run(&adapter(), &call)), tx);
    // A capture of a voided transaction is refused before processing.
    assert!(matches!(
        capture("pay_w4", &tx, 1_000),
        Outcome::NotProcessed { .. }
    ));
}

#[test]
#[ignore = "needs its fake: run by tests/processors/braintree.test.mjs"]
fn refund_full_and_partial_and_lookups() {
    let tx = approved(authorize("pay_w5", 5_000, true, "123"));
    let r1 = approved(refund("pay_w5", 1, &tx, 1_500));
    let p = ledger_payment(&tx);
    assert_eq!(p["refunded"], 1_500);
    assert_eq!(p["refunds"][0]["reference"], "pay_w5-refund-1-braintree_a");
    // The same refund retried: found, not refunded twice.
    assert_eq!(approved(refund("pay_w5", 1, &tx, 1_500)), r1);
    assert_eq!(ledger_payment(&tx)["refunded"], 1_500);
    // The rest.
    let r2 = approved(refund("pay_w5", 2, &tx, 3_500));
    assert_ne!(r1, r2);
    assert_eq!(ledger_payment(&tx)["refunded"], 5_000);
    // More than is left: refused before processing.
    assert!(matches!(
        refund("pay_w5", 3, &tx, 1),
        Outcome::NotProcessed { .. }
    ));
    // Lookups of the refunds.
    let k = "pay_w5-refund-2-braintree_a";
    let found = support::run(
        &adapter(),
        &Call::Lookup {
            key: k,
            of: Looked::Refund {
                reference: &tx,
                amount: 3_500,
                currency: "USD",
            },
        },
    );
    assert_eq!(approved(found), r2);
    let none = support::run(
        &adapter(),
        &Call::Lookup {
            key: "pay_w5-refund-9-braintree_a",
            of: Looked::Refund {
                reference: &tx,
                amount: 100,
                currency: "USD",
            },
        },
    );
    assert!(matches!(none, Outcome::NotProcessed { .. }), "{none:?}");
}

#[test]
#[ignore = "needs its fake: run by tests/processors/braintree.test.mjs"]
fn declines_and_failures() {
    // 2001.00: Insufficient Funds, soft.
    match authorize("pay_w6", 200_100, false, "123") {
        Outcome::Declined(d) => {
            assert_eq!(d.decline_code, "insufficient_funds");
            assert_eq!(d.processor_code.as_deref(), Some("2001"));
            assert_eq!(d.class, DeclineClass::Soft);
        }
        o => panic!("{o:?}"),
    }
    // 2004.00: Expired Card, hard.
    match authorize("pay_w7", 200_400, false, "123") {
        Outcome::Declined(d) => {
            assert_eq!(d.decline_code, "expired_card");
            assert_eq!(d.class, DeclineClass::Hard);
        }
        o => panic!("{o:?}"),
    }
    // 2099.00: Cardholder Authentication Required.
    match authorize("pay_w8", 209_900, false, "123") {
        Outcome::Declined(d) => assert_eq!(d.class, DeclineClass::AuthenticationRequired),
        o => panic!("{o:?}"),
    }
    // CVV 200: gateway rejected (CVV), hard.
    match authorize("pay_w9", 1_000, false, "200") {
        Outcome::Declined(d) => {
            assert_eq!(d.decline_code, "incorrect_cvc");
            assert_eq!(d.class, DeclineClass::Hard);
        }
        o => panic!("{o:?}"),
    }
    // 3000.00: failed, processor network unavailable: not processed.
    assert!(matches!(
        authorize("pay_w10", 300_000, false, "123"),
        Outcome::NotProcessed { .. }
    ));
    // 5001.00: gateway rejected, application incomplete: not processed.
    assert!(matches!(
        authorize("pay_w11", 500_100, false, "123"),
        Outcome::NotProcessed { .. }
    ));
    let c = Card::from_raw("4111111111111111", 12, 2030, Some("123")).unwrap();
    let k = key("pay_w12", "authorize");
    let bad_account = {
        let mut config = ProcessorConfig::sandbox("braintree_a");
        config.kind = ProcessorKind::Braintree;
        config.base_url = Some(support::fake_url("BRAINTREE_URL"));
        BraintreeAdapter::new(
            config,
            Credentials {
                api_key: None,
                public_key: Some("public_key".into()),
                private_key: Some(String::new()),
            },
        )
    };
    // Wrong credentials: an authentication error, not processed.
    let o = support::run(
        &bad_account,
        &Call::Authorize {
            key: &k,
            payment_id: "pay_w12",
            amount: 100,
            currency: "USD",
            capture: false,
            card: &c.secret,
            facts: &c.facts,
            descriptor: Default::default(),
        },
    );
    assert!(matches!(o, Outcome::NotProcessed { .. }), "{o:?}");
}

#[test]
#[ignore = "needs its fake: run by tests/processors/braintree.test.mjs"]
fn lookups_of_authorizations() {
    let tx = approved(authorize("pay_w13", 1_234, false, "123"));
    let k = key("pay_w13", "authorize");
    let found = support::run(
        &adapter(),
        &Call::Lookup {
            key: &k,
            of: Looked::Authorize {
                amount: 1_234,
                currency: "USD",
            },
        },
    );
    assert_eq!(approved(found), tx);
    let _ = authorize("pay_w14", 204_600, false, "123");
    let k = key("pay_w14", "authorize");
    let declined = support::run(
        &adapter(),
        &Call::Lookup {
            key: &k,
            of: Looked::Authorize {
                amount: 204_600,
                currency: "USD",
            },
        },
    );
    assert!(
        matches!(declined, Outcome::Declined(ref d) if d.processor_code.as_deref() == Some("2046")),
        "{declined:?}"
    );
    let none = support::run(
        &adapter(),
        &Call::Lookup {
            key: "pay_never-authorize-1-braintree_a",
            of: Looked::Authorize {
                amount: 100,
                currency: "USD",
            },
        },
    );
    assert!(matches!(none, Outcome::NotProcessed { .. }), "{none:?}");
}

#[test]
#[ignore = "needs its fake: run by tests/processors/braintree.test.mjs"]
fn a_retry_with_the_same_key_is_deduplicated() {
    let first = approved(authorize("pay_w15", 777, false, "123"));
    let again = approved(authorize("pay_w15", 777, false, "123"));
    assert_eq!(first, again);
    let k = key("pay_w15", "authorize");
    let mine: Vec<serde_json::Value> = ledger()["payments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["reference"] == k.as_str())
        .cloned()
        .collect();
    assert_eq!(mine.len(), 1, "{mine:?}");
    // A declined call retried is answered with its decline, not resent.
    let d1 = authorize("pay_w16", 200_000, false, "123");
    let d2 = authorize("pay_w16", 200_000, false, "123");
    assert_eq!(d1, d2);
    let k = key("pay_w16", "authorize");
    let n = ledger()["payments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["reference"] == k.as_str())
        .count();
    assert_eq!(n, 1);
}
