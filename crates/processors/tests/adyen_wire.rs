//! The Adyen adapter against its fakes: the stateful fake
//! (`tests/fakes/adyen.mjs`, `ADYEN_URL`) for whole flows, and prism serving
//! Adyen's own OpenAPI description (`ADYEN_PRISM_URL`), which refuses (422)
//! any request that breaks Adyen's schema. Run by
//! `tests/processors/adyen.test.mjs`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use serde_json::Value;
use switchyard_processors::adyen::AdyenAdapter;
use switchyard_processors::card::Card;
use switchyard_processors::decline::DeclineClass;
use switchyard_processors::{
    Adapter, Call, Credentials, Delivery, Looked, Outcome, ProcessorConfig, ProcessorKind,
};

use support::{fake_url, run, send};

fn adapter_at(url: String) -> AdyenAdapter {
    let mut c = ProcessorConfig::sandbox("adyen_eu");
    c.kind = ProcessorKind::Adyen;
    c.base_url = Some(url);
    c.account = Some("SwitchyardECOM".into());
    c.timeout_ms = 5000;
    AdyenAdapter::new(
        c,
        Credentials {
            api_key: Some("AQE-test-key".into()),
            ..Credentials::default()
        },
    )
}

fn adyen() -> AdyenAdapter {
    adapter_at(fake_url("ADYEN_URL"))
}

fn card(number: &str, cvc: &str) -> Card {
    Card::from_raw(number, 3, 2030, Some(cvc)).unwrap()
}

fn authorize<'a>(key: &'a str, card: &'a Card, amount: u64, capture: bool) -> Call<'a> {
    Call::Authorize {
        key,
        payment_id: key,
        amount,
        currency: "eur",
        capture,
        card: &card.secret,
        facts: &card.facts,
        descriptor: Default::default(),
    }
}

fn approved(o: Outcome) -> String {
    match o {
        Outcome::Approved { reference } => reference,
        o => panic!("not approved: {o:?}"),
    }
}

fn ledger() -> Vec<Value> {
    let url = format!("{}/__ledger", fake_url("ADYEN_URL"));
    let text = ureq::get(&url).call().unwrap().into_string().unwrap();
    let body: Value = serde_json::from_str(&text).unwrap();
    body["payments"].as_array().unwrap().clone()
}

fn payment(id: &str) -> Value {
    ledger()
        .into_iter()
        .find(|p| p["id"] == id)
        .unwrap_or_else(|| panic!("{id} not in the ledger"))
}

fn by_reference(reference: &str) -> Vec<Value> {
    ledger()
        .into_iter()
        .filter(|p| p["reference"] == reference)
        .collect()
}

/// What the worker does after an authorization that captures at once at
/// Adyen (`captures_with_authorization` is false): a capture call.
fn capture_at_once(a: &AdyenAdapter, psp: &str, key: &str, amount: u64) {
    assert!(!a.captures_with_authorization());
    let capture = Call::Capture {
        key,
        reference: psp,
        amount,
        currency: "eur",
    };
    assert_eq!(approved(run(a, &capture)), psp);
}

#[test]
#[ignore = "needs its fake: run by tests/processors/adyen.test.mjs"]
fn authorize_with_automatic_capture() {
    let c = card("4111111111111111", "737");
    let a = adyen();
    let psp = approved(run(&a, &authorize("w1-authorize-1-adyen", &c, 1500, true)));
    // Authorized only: never captured before the worker knows of it.
    assert_eq!(payment(&psp)["status"], "authorised");
    assert_eq!(payment(&psp)["captured"], 0);
    capture_at_once(&a, &psp, "w1-capture-1-adyen", 1500);
    let p = payment(&psp);
    assert_eq!(p["status"], "captured");
    assert_eq!(p["captured"], 1500);
    assert_eq!(p["currency"], "EUR");
    assert_eq!(p["reference"], "w1-authorize-1-adyen");
}

#[test]
#[ignore = "needs its fake: run by tests/processors/adyen.test.mjs"]
fn manual_capture_full_then_refund_full() {
    let a = adyen();
    let c = card("5555341244441115", "737");
    let psp = approved(run(&a, &authorize("w2-authorize-1-adyen", &c, 2000, false)));
    assert_eq!(payment(&psp)["status"], "authorised");
    let capture = Call::Capture {
        key: "w2-capture-1-adyen",
        reference: &psp,
        amount: 2000,
        currency: "eur",
    };
    assert_eq!(approved(run(&a, &capture)), psp);
    assert_eq!(payment(&psp)["captured"], 2000);
    let refund = Call::Refund {
        key: "w2-refund-1-adyen",
        reference: &psp,
        amount: 2000,
        currency: "eur",
    };
    let refund_id = approved(run(&a, &refund));
    assert_ne!(refund_id, psp);
    let p = payment(&psp);
    assert_eq!(p["refunded"], 2000);
    assert_eq!(p["status"], "refunded");
    assert_eq!(p["refunds"][0]["id"], refund_id.as_str());
    assert_eq!(p["refunds"][0]["reference"], "w2-refund-1-adyen");
}

#[test]
#[ignore = "needs its fake: run by tests/processors/adyen.test.mjs"]
fn partial_capture_and_partial_refunds() {
    let a = adyen();
    let c = card("4111111111111111", "737");
    let psp = approved(run(&a, &authorize("w3-authorize-1-adyen", &c, 5000, false)));
    let capture = Call::Capture {
        key: "w3-capture-1-adyen",
        reference: &psp,
        amount: 3000,
        currency: "eur",
    };
    approved(run(&a, &capture));
    assert_eq!(payment(&psp)["captured"], 3000);
    for (i, amount) in [(1, 1000), (2, 500)] {
        let key = format!("w3-refund-{i}-adyen");
        let refund = Call::Refund {
            key: &key,
            reference: &psp,
            amount,
            currency: "eur",
        };
        approved(run(&a, &refund));
    }
    let p = payment(&psp);
    assert_eq!(p["refunded"], 1500);
    assert_eq!(p["refunds"].as_array().unwrap().len(), 2);
    // No refund above what was captured: refused before processing.
    let too_much = Call::Refund {
        key: "w3-refund-3-adyen",
        reference: &psp,
        amount: 2000,
        currency: "eur",
    };
    assert!(matches!(run(&a, &too_much), Outcome::NotProcessed { .. }));
    assert_eq!(payment(&psp)["refunded"], 1500);
}

#[test]
#[ignore = "needs its fake: run by tests/processors/adyen.test.mjs"]
fn void_an_authorization() {
    let a = adyen();
    let c = card("4111111111111111", "737");
    let psp = approved(run(&a, &authorize("w4-authorize-1-adyen", &c, 700, false)));
    let void = Call::Void {
        key: "w4-void-1-adyen",
        reference: &psp,
    };
    assert_eq!(approved(run(&a, &void)), psp);
    assert_eq!(payment(&psp)["status"], "cancelled");
    // A capture after the cancel is refused.
    let capture = Call::Capture {
        key: "w4-capture-1-adyen",
        reference: &psp,
        amount: 700,
        currency: "eur",
    };
    assert!(matches!(run(&a, &capture), Outcome::NotProcessed { .. }));
}

fn declined(o: Outcome) -> switchyard_processors::decline::Decline {
    match o {
        Outcome::Declined(d) => d,
        o => panic!("not declined: {o:?}"),
    }
}

#[test]
#[ignore = "needs its fake: run by tests/processors/adyen.test.mjs"]
fn soft_decline_by_a_wrong_cvc() {
    // Adyen's documented trigger: a test card with an incorrect CVC.
    let c = card("4111111111111111", "123");
    let d = declined(run(
        &adyen(),
        &authorize("w5-authorize-1-adyen", &c, 900, true),
    ));
    assert_eq!(d.class, DeclineClass::Soft);
    assert_eq!(d.decline_code, "generic_decline");
    assert_eq!(d.processor_code.as_deref(), Some("2"));
    assert_eq!(by_reference("w5-authorize-1-adyen")[0]["captured"], 0);
}

#[test]
#[ignore = "needs its fake: run by tests/processors/adyen.test.mjs"]
fn hard_decline_by_an_expired_card() {
    // The fake's own trigger: Stripe's expired test card → Adyen code 6.
    let c = card("4000000000000069", "123");
    let d = declined(run(
        &adyen(),
        &authorize("w6-authorize-1-adyen", &c, 900, true),
    ));
    assert_eq!(d.class, DeclineClass::Hard);
    assert_eq!(d.decline_code, "expired_card");
    assert_eq!(d.processor_code.as_deref(), Some("6"));
    // And an insufficient-funds card is soft.
    let c = card("4000000000009995", "123");
    let d = declined(run(
        &adyen(),
        &authorize("w6-authorize-2-adyen", &c, 900, true),
    ));
    assert_eq!(
        (d.decline_code.as_str(), d.class),
        ("insufficient_funds", DeclineClass::Soft)
    );
}

#[test]
#[ignore = "needs its fake: run by tests/processors/adyen.test.mjs"]
fn authentication_required_by_a_3ds2_card() {
    // Adyen's documented 3D Secure 2 test card.
    let c = card("4917610000000000", "737");
    let d = declined(run(
        &adyen(),
        &authorize("w7-authorize-1-adyen", &c, 900, true),
    ));
    assert_eq!(d.class, DeclineClass::AuthenticationRequired);
    assert_eq!(d.processor_code.as_deref(), Some("IdentifyShopper"));
}

fn lookup_auth(key: &str) -> Call<'_> {
    Call::Lookup {
        key,
        of: Looked::Authorize {
            amount: 1000,
            currency: "eur",
        },
    }
}

const CANCELLED: &str = "cancelled at Adyen by reference";

#[test]
#[ignore = "needs its fake: run by tests/processors/adyen.test.mjs"]
fn lookups_of_authorizations_cancel_by_reference() {
    let a = adyen();
    // Found: an authorised payment is cancelled, nothing is charged.
    let c = card("4111111111111111", "737");
    let psp = approved(run(&a, &authorize("w8-authorize-1-adyen", &c, 1000, false)));
    assert_eq!(
        run(&a, &lookup_auth("w8-authorize-1-adyen")),
        Outcome::NotProcessed {
            reason: CANCELLED.into()
        }
    );
    assert_eq!(payment(&psp)["status"], "cancelled");
    // The lookup again: the same answer (its own idempotency key).
    assert_eq!(
        run(&a, &lookup_auth("w8-authorize-1-adyen")),
        Outcome::NotProcessed {
            reason: CANCELLED.into()
        }
    );
    // Declined: nothing to cancel, nothing charged.
    let c = card("4000000000000002", "123");
    declined(run(&a, &authorize("w8-authorize-2-adyen", &c, 1000, false)));
    assert!(matches!(
        run(&a, &lookup_auth("w8-authorize-2-adyen")),
        Outcome::NotProcessed { .. }
    ));
    assert_eq!(by_reference("w8-authorize-2-adyen")[0]["status"], "refused");
    // No record: nothing charged either.
    assert!(matches!(
        run(&a, &lookup_auth("w8-authorize-9-adyen")),
        Outcome::NotProcessed { .. }
    ));
    assert!(by_reference("w8-authorize-9-adyen").is_empty());
}

#[test]
#[ignore = "needs its fake: run by tests/processors/adyen.test.mjs"]
fn lookups_of_refunds_replay_the_refund() {
    let a = adyen();
    let c = card("4111111111111111", "737");
    let psp = approved(run(&a, &authorize("w9-authorize-1-adyen", &c, 1000, true)));
    capture_at_once(&a, &psp, "w9-capture-1-adyen", 1000);
    let refund = Call::Refund {
        key: "w9-refund-1-adyen",
        reference: &psp,
        amount: 400,
        currency: "eur",
    };
    let refund_id = approved(run(&a, &refund));
    // Found: the stored answer again, no second refund.
    let lookup = Call::Lookup {
        key: "w9-refund-1-adyen",
        of: Looked::Refund {
            reference: &psp,
            amount: 400,
            currency: "eur",
        },
    };
    assert_eq!(approved(run(&a, &lookup)), refund_id);
    assert_eq!(payment(&psp)["refunded"], 400);
    // No record, and none can be made (above the captured amount).
    let none = Call::Lookup {
        key: "w9-refund-2-adyen",
        of: Looked::Refund {
            reference: &psp,
            amount: 5000,
            currency: "eur",
        },
    };
    assert!(matches!(run(&a, &none), Outcome::NotProcessed { .. }));
    assert_eq!(payment(&psp)["refunds"].as_array().unwrap().len(), 1);
}

#[test]
#[ignore = "needs its fake: run by tests/processors/adyen.test.mjs"]
fn a_retry_with_the_same_key_is_deduplicated() {
    let a = adyen();
    let c = card("4111111111111111", "737");
    let call = authorize("w10-authorize-1-adyen", &c, 1234, true);
    let first = approved(run(&a, &call));
    let second = approved(run(&a, &call));
    assert_eq!(first, second);
    assert_eq!(by_reference("w10-authorize-1-adyen").len(), 1);
    capture_at_once(&a, &first, "w10-capture-1-adyen", 1234);
    let refund = Call::Refund {
        key: "w10-refund-1-adyen",
        reference: &first,
        amount: 1234,
        currency: "eur",
    };
    assert_eq!(approved(run(&a, &refund)), approved(run(&a, &refund)));
    assert_eq!(payment(&first)["refunds"].as_array().unwrap().len(), 1);
}

#[test]
#[ignore = "needs its fake: run by tests/processors/adyen.test.mjs"]
fn a_long_key_is_derived_and_still_deduplicated() {
    let a = adyen();
    let key = format!("pay_{}-authorize-1-{}", "k".repeat(40), "p".repeat(40));
    let c = card("4111111111111111", "737");
    let call = authorize(&key, &c, 100, false);
    let first = approved(run(&a, &call));
    assert_eq!(approved(run(&a, &call)), first);
    let derived = switchyard_processors::adyen::adyen_key(&key);
    assert_eq!(by_reference(&derived).len(), 1);
    assert!(matches!(
        run(&a, &lookup_auth(&key)),
        Outcome::NotProcessed { .. }
    ));
    assert_eq!(payment(&first)["status"], "cancelled");
}

#[test]
#[ignore = "needs its fake: run by tests/processors/adyen.test.mjs"]
fn connection_refused_is_not_processed() {
    // A port nothing listens on (the fake's port + nothing: port 9, discard).
    let a = adapter_at("http://127.0.0.1:9".into());
    let c = card("4111111111111111", "737");
    assert!(matches!(
        run(&a, &authorize("w11-authorize-1-adyen", &c, 100, true)),
        Outcome::NotProcessed { .. }
    ));
}

/// Every kind of request the adapter builds, sent to prism serving Adyen's
/// OpenAPI description: none may be refused by validation.
#[test]
#[ignore = "needs its fake: run by tests/processors/adyen.test.mjs"]
fn every_request_passes_adyens_schema() {
    let a = adapter_at(fake_url("ADYEN_PRISM_URL"));
    let c = card("4111111111111111", "737");
    let no_cvc = Card::from_raw("4111111111111111", 3, 2030, None).unwrap();
    let psp = "993617895204576J";
    let calls = [
        authorize("p-authorize-1", &c, 1000, true),
        authorize("p-authorize-2", &c, 1000, false),
        authorize("p-authorize-3", &no_cvc, 1000, true),
        Call::Capture {
            key: "p-capture-1",
            reference: psp,
            amount: 1000,
            currency: "eur",
        },
        Call::Capture {
            key: "p-capture-2",
            reference: psp,
            amount: 400,
            currency: "eur",
        },
        Call::Void {
            key: "p-void-1",
            reference: psp,
        },
        Call::Refund {
            key: "p-refund-1",
            reference: psp,
            amount: 1000,
            currency: "eur",
        },
        Call::Refund {
            key: "p-refund-2",
            reference: psp,
            amount: 300,
            currency: "eur",
        },
        lookup_auth("p-authorize-1"),
        Call::Lookup {
            key: "p-refund-1",
            of: Looked::Refund {
                reference: psp,
                amount: 300,
                currency: "eur",
            },
        },
    ];
    for call in &calls {
        let req = a.build(call);
        let Delivery::Answered(resp) = send(&req, 5000) else {
            panic!("prism did not answer {req:?}");
        };
        assert!(
            (200..300).contains(&resp.status),
            "{} {req:?} refused by Adyen's schema: {} {}",
            call.op(),
            resp.status,
            resp.body
        );
        // And prism's example answer parses to an outcome that is not
        // unknown.
        let outcome = run(&a, call);
        assert!(
            !matches!(outcome, Outcome::Unknown { .. }),
            "{} {outcome:?}",
            call.op()
        );
    }
}
