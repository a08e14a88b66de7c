//! The Stripe adapter against its peer: localstripe (a stateful Stripe fake)
//! with the payment intent search added (`tests/fakes/localstripe_plus.py`),
//! started by `tests/processors/stripe.test.mjs`, which sets `STRIPE_URL`.
//!
//! localstripe has no idempotency: retries deduplicated by the same key are
//! tested on the requests themselves (the unit tests of `stripe.rs`: the
//! same call builds the same keys and bodies), not here. It has no decline
//! codes either: its only charge decline is a generic `card_declined`
//! (4000000000000341), soft; the hard decline here is a card refused as
//! invalid before any charge (an expiry year before 2019).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use serde_json::Value;
use switchyard_processors::card::Card;
use switchyard_processors::decline::DeclineClass;
use switchyard_processors::{
    adapter_for, Adapter, Call, Credentials, Delivery, Looked, Outcome, ProcessorConfig,
    ProcessorKind, WireRequest,
};

const SECRET: &str = "sk_test_switchyard_wire";

fn url() -> String {
    support::fake_url("STRIPE_URL")
}

fn adapter() -> Box<dyn Adapter> {
    let mut config = ProcessorConfig::sandbox("stripe_a");
    config.kind = ProcessorKind::Stripe;
    // A trailing slash is trimmed.
    config.base_url = Some(format!("{}/", url()));
    let credentials = Credentials {
        api_key: Some(SECRET.to_owned()),
        ..Credentials::default()
    };
    adapter_for(&config, Some(&credentials)).expect("a stripe adapter")
}

fn card(number: &str, exp_year: u32) -> Card {
    Card::from_raw(number, 12, exp_year, Some("123")).expect("a valid test card")
}

fn authorize(key: &str, number: &str, amount: u64, capture: bool) -> Outcome {
    authorize_card(key, &card(number, 2034), amount, capture)
}

fn authorize_card(key: &str, card: &Card, amount: u64, capture: bool) -> Outcome {
    let a = adapter();
    support::run(
        a.as_ref(),
        &Call::Authorize {
            key,
            payment_id: "pay_wire",
            amount,
            currency: "eur",
            capture,
            card: &card.secret,
            facts: &card.facts,
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

/// Reads an object straight from the peer (not through the adapter).
fn get(path: &str) -> Value {
    let auth = format!("Basic {}", b64(&format!("{SECRET}:")));
    let req = WireRequest::new(
        "GET",
        format!("{}{path}", url()),
        vec![("Authorization".to_owned(), auth)],
        String::new(),
    );
    match support::send(&req, 5000) {
        Delivery::Answered(r) => {
            assert_eq!(r.status, 200, "{path}: {}", r.body);
            serde_json::from_str(&r.body).unwrap()
        }
        other => panic!("{path}: {other:?}"),
    }
}

fn b64(s: &str) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in s.as_bytes().chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(char::from(A[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn intent(id: &str) -> Value {
    get(&format!("/v1/payment_intents/{id}"))
}

fn lookup_authorize(key: &str, amount: u64) -> Outcome {
    let a = adapter();
    support::run(
        a.as_ref(),
        &Call::Lookup {
            key,
            of: Looked::Authorize {
                amount,
                currency: "eur",
            },
        },
    )
}

fn lookup_refund(key: &str, reference: &str, amount: u64) -> Outcome {
    let a = adapter();
    support::run(
        a.as_ref(),
        &Call::Lookup {
            key,
            of: Looked::Refund {
                reference,
                amount,
                currency: "eur",
            },
        },
    )
}

#[test]
#[ignore = "needs its fake: run by tests/processors/stripe.test.mjs"]
fn statement_descriptors_reach_the_payment_intent() {
    let c = card("4242424242424242", 2034);
    let a = adapter();
    let id = approved(support::run(
        a.as_ref(),
        &Call::Authorize {
            key: "pay_wsd-authorize-1-stripe_a",
            payment_id: "pay_wsd",
            amount: 1500,
            currency: "eur",
            capture: true,
            card: &c.secret,
            facts: &c.facts,
            descriptor: switchyard_processors::adapter::StatementDescriptor {
                full: Some("SWITCHYARD SHOP"),
                suffix: Some("ORDER 8812"),
            },
        },
    ));
    let pi = intent(&id);
    assert_eq!(pi["statement_descriptor"], "SWITCHYARD SHOP");
    assert_eq!(pi["statement_descriptor_suffix"], "ORDER 8812");
}

#[test]
#[ignore = "needs its fake: run by tests/processors/stripe.test.mjs"]
fn authorize_with_automatic_capture() {
    let id = approved(authorize(
        "pay_w1-authorize-1-stripe_a",
        "4242424242424242",
        1500,
        true,
    ));
    assert!(id.starts_with("pi_"), "{id}");
    let pi = intent(&id);
    assert_eq!(pi["status"], "succeeded");
    assert_eq!(pi["amount"], 1500);
    assert_eq!(pi["currency"], "eur");
    assert_eq!(pi["capture_method"], "automatic");
    assert_eq!(
        pi["metadata"]["switchyard_key"],
        "pay_w1-authorize-1-stripe_a"
    );
    assert_eq!(pi["metadata"]["switchyard_payment"], "pay_wire");
}

#[test]
#[ignore = "needs its fake: run by tests/processors/stripe.test.mjs"]
fn authorize_manual_then_capture_in_full() {
    let id = approved(authorize(
        "pay_w2-authorize-1-stripe_a",
        "5555555555554444",
        2000,
        false,
    ));
    assert_eq!(intent(&id)["status"], "requires_capture");
    let a = adapter();
    let captured = approved(support::run(
        a.as_ref(),
        &Call::Capture {
            key: "pay_w2-capture-1-stripe_a",
            reference: &id,
            amount: 2000,
            currency: "eur",
        },
    ));
    assert_eq!(captured, id);
    assert_eq!(intent(&id)["status"], "succeeded");
}

#[test]
#[ignore = "needs its fake: run by tests/processors/stripe.test.mjs"]
fn partial_capture() {
    let id = approved(authorize(
        "pay_w3-authorize-1-stripe_a",
        "4242424242424242",
        2000,
        false,
    ));
    let a = adapter();
    approved(support::run(
        a.as_ref(),
        &Call::Capture {
            key: "pay_w3-capture-1-stripe_a",
            reference: &id,
            amount: 1200,
            currency: "eur",
        },
    ));
    let pi = intent(&id);
    assert_eq!(pi["status"], "succeeded");
    // localstripe releases the uncaptured rest as a refund of the charge.
    let charge = &pi["charges"]["data"][0];
    assert_eq!(charge["captured"], true);
    assert_eq!(charge["amount_refunded"], 800);
}

#[test]
#[ignore = "needs its fake: run by tests/processors/stripe.test.mjs"]
fn void_an_authorization() {
    let id = approved(authorize(
        "pay_w4-authorize-1-stripe_a",
        "4242424242424242",
        900,
        false,
    ));
    let a = adapter();
    let voided = approved(support::run(
        a.as_ref(),
        &Call::Void {
            key: "pay_w4-void-1-stripe_a",
            reference: &id,
        },
    ));
    assert_eq!(voided, id);
    assert_eq!(intent(&id)["status"], "canceled");
    // A lookup of the voided authorization: it can no longer charge.
    assert!(matches!(
        lookup_authorize("pay_w4-authorize-1-stripe_a", 900),
        Outcome::NotProcessed { .. }
    ));
}

#[test]
#[ignore = "needs its fake: run by tests/processors/stripe.test.mjs"]
fn refunds_partial_then_the_rest_and_their_lookups() {
    let id = approved(authorize(
        "pay_w5-authorize-1-stripe_a",
        "4242424242424242",
        1000,
        true,
    ));
    let a = adapter();
    let refund = |key: &str, amount: u64| {
        support::run(
            a.as_ref(),
            &Call::Refund {
                key,
                reference: &id,
                amount,
                currency: "eur",
            },
        )
    };
    let r1 = approved(refund("pay_w5-refund-1-stripe_a", 300));
    let r2 = approved(refund("pay_w5-refund-2-stripe_a", 700));
    assert!(r1.starts_with("re_") && r2.starts_with("re_") && r1 != r2);
    let list = get(&format!("/v1/refunds?payment_intent={id}&limit=100"));
    let mut amounts: Vec<u64> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["amount"].as_u64().unwrap())
        .collect();
    amounts.sort_unstable();
    assert_eq!(amounts, vec![300, 700]);
    assert_eq!(
        lookup_refund("pay_w5-refund-1-stripe_a", &id, 300),
        Outcome::Approved { reference: r1 }
    );
    assert_eq!(
        lookup_refund("pay_w5-refund-2-stripe_a", &id, 700),
        Outcome::Approved { reference: r2 }
    );
    assert!(matches!(
        lookup_refund("pay_w5-refund-3-stripe_a", &id, 100),
        Outcome::NotProcessed { .. }
    ));
}

#[test]
#[ignore = "needs its fake: run by tests/processors/stripe.test.mjs"]
fn a_full_refund() {
    let id = approved(authorize(
        "pay_w6-authorize-1-stripe_a",
        "4242424242424242",
        4200,
        true,
    ));
    let a = adapter();
    approved(support::run(
        a.as_ref(),
        &Call::Refund {
            key: "pay_w6-refund-1-stripe_a",
            reference: &id,
            amount: 4200,
            currency: "eur",
        },
    ));
    let pi = intent(&id);
    assert_eq!(pi["charges"]["data"][0]["refunded"], true);
}

#[test]
#[ignore = "needs its fake: run by tests/processors/stripe.test.mjs"]
fn soft_decline_at_the_charge_and_its_lookup() {
    let o = authorize(
        "pay_w7-authorize-1-stripe_a",
        "4000000000000341",
        1000,
        true,
    );
    let Outcome::Declined(d) = o else {
        panic!("expected a decline, got {o:?}")
    };
    assert_eq!(d.class, DeclineClass::Soft);
    assert_eq!(d.code, "card_declined");
    assert_eq!(d.decline_code, "generic_decline");
    // The declined payment intent, found by its key.
    let o = lookup_authorize("pay_w7-authorize-1-stripe_a", 1000);
    let Outcome::Declined(d) = o else {
        panic!("expected the lookup to say declined, got {o:?}")
    };
    assert_eq!(d.class, DeclineClass::Soft);
}

#[test]
#[ignore = "needs its fake: run by tests/processors/stripe.test.mjs"]
fn hard_decline_of_invalid_card_data() {
    let o = authorize_card(
        "pay_w8-authorize-1-stripe_a",
        &card("4242424242424242", 2018),
        1000,
        true,
    );
    let Outcome::Declined(d) = o else {
        panic!("expected a decline, got {o:?}")
    };
    assert_eq!(d.class, DeclineClass::Hard);
    assert_eq!(d.code, "invalid_expiry_year");
    // Refused at the payment method: no payment intent exists.
    assert!(matches!(
        lookup_authorize("pay_w8-authorize-1-stripe_a", 1000),
        Outcome::NotProcessed { .. }
    ));
}

#[test]
#[ignore = "needs its fake: run by tests/processors/stripe.test.mjs"]
fn authentication_required() {
    for (i, number) in ["4000002760003184", "4000000000003220"].iter().enumerate() {
        let key = format!("pay_w9{i}-authorize-1-stripe_a");
        let o = authorize(&key, number, 1000, true);
        let Outcome::Declined(d) = o else {
            panic!("{number}: expected a decline, got {o:?}")
        };
        assert_eq!(d.class, DeclineClass::AuthenticationRequired, "{number}");
        assert_eq!(d.decline_code, "authentication_required");
    }
}

#[test]
#[ignore = "needs its fake: run by tests/processors/stripe.test.mjs"]
fn lookups_found_and_no_record() {
    let id = approved(authorize(
        "pay_w10-authorize-1-stripe_a",
        "4242424242424242",
        700,
        false,
    ));
    assert_eq!(
        lookup_authorize("pay_w10-authorize-1-stripe_a", 700),
        Outcome::Approved { reference: id }
    );
    // Another amount than the authorization's: the lookup cannot vouch.
    assert!(matches!(
        lookup_authorize("pay_w10-authorize-1-stripe_a", 701),
        Outcome::Unknown { .. }
    ));
    assert!(matches!(
        lookup_authorize("pay_w10-authorize-2-stripe_a", 700),
        Outcome::NotProcessed { .. }
    ));
}

#[test]
#[ignore = "needs its fake: run by tests/processors/stripe.test.mjs"]
fn a_wrong_secret_is_not_processed() {
    let mut config = ProcessorConfig::sandbox("stripe_a");
    config.kind = ProcessorKind::Stripe;
    config.base_url = Some(url());
    let credentials = Credentials {
        // localstripe accepts any `sk_...` key; this one is not one.
        api_key: Some("rk_nope".to_owned()),
        ..Credentials::default()
    };
    let a = adapter_for(&config, Some(&credentials)).unwrap();
    let c = card("4242424242424242", 2034);
    let o = support::run(
        a.as_ref(),
        &Call::Authorize {
            key: "pay_w11-authorize-1-stripe_a",
            payment_id: "pay_wire",
            amount: 100,
            currency: "eur",
            capture: true,
            card: &c.secret,
            facts: &c.facts,
            descriptor: Default::default(),
        },
    );
    assert!(matches!(o, Outcome::NotProcessed { .. }), "{o:?}");
}

#[test]
#[ignore = "needs its fake: run by tests/processors/stripe.test.mjs"]
fn connection_refused_is_not_processed() {
    let mut config = ProcessorConfig::sandbox("stripe_a");
    config.kind = ProcessorKind::Stripe;
    // A port nobody listens on (the peer's port + 0 is taken; 1 is not).
    config.base_url = Some("http://127.0.0.1:1".to_owned());
    let credentials = Credentials {
        api_key: Some(SECRET.to_owned()),
        ..Credentials::default()
    };
    let a = adapter_for(&config, Some(&credentials)).unwrap();
    let o = support::run(
        a.as_ref(),
        &Call::Capture {
            key: "pay_w12-capture-1-stripe_a",
            reference: "pi_nothing",
            amount: 100,
            currency: "eur",
        },
    );
    assert!(matches!(o, Outcome::NotProcessed { .. }), "{o:?}");
}
