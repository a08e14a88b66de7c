use super::*;
use crate::adapter::WireResponse;
use crate::card::Card;
use crate::config::ProcessorKind;

fn config(base: &str, account: Option<&str>) -> ProcessorConfig {
    let mut c = ProcessorConfig::sandbox("checkout_a");
    c.kind = ProcessorKind::Checkout;
    c.base_url = Some(base.to_owned());
    c.account = account.map(str::to_owned);
    c
}

fn adapter_with_key(key: &str) -> CheckoutAdapter {
    CheckoutAdapter::new(
        config("https://api.sandbox.checkout.com/", Some("pc_channel1")),
        Credentials {
            api_key: Some(key.to_owned()),
            ..Credentials::default()
        },
    )
}

fn adapter() -> CheckoutAdapter {
    adapter_with_key("sk_sbox_abcdefghijklmnopqrstuvwxyz2")
}

fn card() -> Card {
    Card::from_raw("4242 4242 4242 4242", 12, 2034, Some("100")).unwrap_or_else(|e| panic!("{e:?}"))
}

fn header<'a>(r: &'a WireRequest, name: &str) -> Option<&'a str> {
    r.headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn body(r: &WireRequest) -> Value {
    serde_json::from_str(r.body()).unwrap_or_else(|e| panic!("{e}"))
}

fn answered(status: u16, body: &str) -> Delivery {
    Delivery::Answered(WireResponse {
        status,
        headers: vec![],
        body: body.to_owned(),
    })
}

fn done(p: Parsed) -> Outcome {
    match p {
        Parsed::Done(o) => o,
        Parsed::Next(r) => panic!("a next step: {r:?}"),
    }
}

fn kind(o: &Outcome) -> &'static str {
    match o {
        Outcome::Approved { .. } => "approved",
        Outcome::Declined(_) => "declined",
        Outcome::NotProcessed { .. } => "not_processed",
        Outcome::Unknown { .. } => "unknown",
    }
}

macro_rules! authorize {
    ($card:expr, $capture:expr) => {
        Call::Authorize {
            key: "pi_1-authorize-1-checkout_a",
            payment_id: "pi_1",
            amount: 1050,
            currency: "eur",
            capture: $capture,
            card: &$card.secret,
            facts: &$card.facts,
            descriptor: Default::default(),
        }
    };
}

#[test]
fn builds_an_authorization() {
    let c = card();
    let call = authorize!(c, false);
    let r = adapter().build(&call);
    assert_eq!(r.method, "POST");
    assert_eq!(r.url, "https://api.sandbox.checkout.com/payments");
    assert_eq!(
        header(&r, "authorization"),
        Some("Bearer sk_sbox_abcdefghijklmnopqrstuvwxyz2")
    );
    assert_eq!(
        header(&r, "cko-idempotency-key"),
        Some("pi_1-authorize-1-checkout_a")
    );
    assert_eq!(header(&r, "content-type"), Some("application/json"));
    let b = body(&r);
    assert_eq!(b["source"]["type"], "card");
    assert_eq!(b["source"]["number"], "4242424242424242");
    assert_eq!(b["source"]["cvv"], "100");
    assert_eq!(b["source"]["expiry_month"], 12);
    assert_eq!(b["source"]["expiry_year"], 2034);
    assert_eq!(b["amount"], 1050);
    assert_eq!(b["currency"], "EUR");
    assert_eq!(b["capture"], false);
    assert_eq!(b["reference"], "pi_1-authorize-1-checkout_a");
    assert_eq!(b["processing_channel_id"], "pc_channel1");
    assert_eq!(b["metadata"]["switchyard_payment"], "pi_1");
    let auto = adapter().build(&authorize!(c, true));
    assert_eq!(body(&auto)["capture"], true);
    // Without an account, no processing channel.
    let plain = CheckoutAdapter::new(
        config("http://127.0.0.1:9", None),
        Credentials {
            api_key: Some("sk_sbox_x".into()),
            ..Credentials::default()
        },
    );
    let r = plain.build(&authorize!(c, true));
    assert_eq!(r.url, "http://127.0.0.1:9/payments");
    assert!(body(&r).get("processing_channel_id").is_none());
}

#[test]
fn debug_never_shows_the_card() {
    let c = card();
    let call = authorize!(c, true);
    let r = adapter().build(&call);
    let dbg = format!("{r:?} {call:?}");
    assert!(!dbg.contains("4242424242424242"), "{dbg}");
    assert!(!dbg.contains("\"100\""), "{dbg}");
    assert!(!dbg.contains("sk_sbox"), "{dbg}");
}

#[test]
fn authorization_header_by_key_kind() {
    let auth = |k: &str| {
        let c = card();
        let r = adapter_with_key(k).build(&authorize!(c, true));
        header(&r, "authorization").map(str::to_owned)
    };
    // Current platform: Bearer.
    assert_eq!(auth("sk_abc").as_deref(), Some("Bearer sk_abc"));
    // Already with its prefix: as given.
    assert_eq!(auth("Bearer sk_abc").as_deref(), Some("Bearer sk_abc"));
    // Previous platform keys: plain.
    let prev = "sk_test_fde517a8-3f01-41ef-b4bd-4282384b0a64";
    assert_eq!(auth(prev).as_deref(), Some(prev));
    let prev_live = "sk_fde517a8-3f01-41ef-b4bd-4282384b0a64";
    assert_eq!(auth(prev_live).as_deref(), Some(prev_live));
}

#[test]
fn builds_capture_void_refund_and_lookups() {
    let a = adapter();
    let cap = a.build(&Call::Capture {
        key: "pi_1-capture-1-checkout_a",
        reference: "pay_abc",
        amount: 700,
        currency: "eur",
    });
    assert_eq!(cap.method, "POST");
    assert_eq!(
        cap.url,
        "https://api.sandbox.checkout.com/payments/pay_abc/captures"
    );
    assert_eq!(
        header(&cap, "cko-idempotency-key"),
        Some("pi_1-capture-1-checkout_a")
    );
    assert_eq!(body(&cap)["amount"], 700);
    assert_eq!(body(&cap)["reference"], "pi_1-capture-1-checkout_a");

    let void = a.build(&Call::Void {
        key: "pi_1-void-1-checkout_a",
        reference: "pay_abc",
    });
    assert_eq!(
        void.url,
        "https://api.sandbox.checkout.com/payments/pay_abc/voids"
    );
    assert_eq!(body(&void)["reference"], "pi_1-void-1-checkout_a");
    assert!(header(&void, "authorization").is_some());

    let refund = a.build(&Call::Refund {
        key: "pi_1-refund-1-checkout_a",
        reference: "pay_abc",
        amount: 300,
        currency: "eur",
    });
    assert_eq!(
        refund.url,
        "https://api.sandbox.checkout.com/payments/pay_abc/refunds"
    );
    assert_eq!(body(&refund)["amount"], 300);
    assert_eq!(body(&refund)["reference"], "pi_1-refund-1-checkout_a");

    let look = a.build(&Call::Lookup {
        key: "pi_1-authorize-1-checkout_a",
        of: Looked::Authorize {
            amount: 1050,
            currency: "eur",
        },
    });
    assert_eq!(look.method, "GET");
    assert_eq!(
        look.url,
        "https://api.sandbox.checkout.com/payments?reference=pi_1-authorize-1-checkout_a"
    );
    assert_eq!(look.body(), "");
    assert!(header(&look, "authorization").is_some());
    assert!(header(&look, "cko-idempotency-key").is_none());

    let look = a.build(&Call::Lookup {
        key: "pi_1-refund-1-checkout_a",
        of: Looked::Refund {
            reference: "pay_abc",
            amount: 300,
            currency: "eur",
        },
    });
    assert_eq!(look.method, "GET");
    assert_eq!(
        look.url,
        "https://api.sandbox.checkout.com/payments/pay_abc/actions"
    );
}

#[test]
fn long_keys_are_hashed_deterministically() {
    let short = "pi_1-authorize-1-checkout_a";
    assert_eq!(reference_for(short), short);
    let long = format!("pi_{}-authorize-12-{}", "x".repeat(24), "p".repeat(40));
    let r = reference_for(&long);
    assert!(r.len() <= MAX_REFERENCE_LEN, "{r}");
    assert!(r.starts_with("sy-"));
    assert_eq!(r, reference_for(&long));
    assert_ne!(r, reference_for(&format!("{long}2")));
    // The request and its look-up use the derived key.
    let c = card();
    let call = Call::Authorize {
        key: &long,
        payment_id: "pi_1",
        amount: 100,
        currency: "usd",
        capture: true,
        card: &c.secret,
        facts: &c.facts,
        descriptor: Default::default(),
    };
    let req = adapter().build(&call);
    assert_eq!(header(&req, "cko-idempotency-key"), Some(r.as_str()));
    assert_eq!(body(&req)["reference"], r.as_str());
    assert_eq!(body(&req)["metadata"]["switchyard_key"], long.as_str());
    let look = adapter().build(&Call::Lookup {
        key: &long,
        of: Looked::Authorize {
            amount: 100,
            currency: "usd",
        },
    });
    assert!(
        look.url.ends_with(&format!("?reference={r}")),
        "{}",
        look.url
    );
}

#[test]
fn parses_authorization_answers() {
    let a = adapter();
    let c = card();
    let call = authorize!(c, false);
    let parse = |status: u16, b: &str| done(a.parse(&call, 0, &answered(status, b)));
    let ok = parse(
        201,
        r#"{"id":"pay_1","action_id":"act_1","approved":true,"status":"Authorized","response_code":"10000"}"#,
    );
    assert_eq!(
        ok,
        Outcome::Approved {
            reference: "pay_1".into()
        }
    );
    let captured = parse(
        201,
        r#"{"id":"pay_2","approved":true,"status":"Captured","response_code":"10000"}"#,
    );
    assert_eq!(
        captured,
        Outcome::Approved {
            reference: "pay_2".into()
        }
    );
    let Outcome::Declined(d) = parse(
        201,
        r#"{"id":"pay_3","approved":false,"status":"Declined","response_code":"20051","response_summary":"Insufficient Funds"}"#,
    ) else {
        panic!("declined")
    };
    assert_eq!(d.decline_code, "insufficient_funds");
    assert_eq!(d.processor_code.as_deref(), Some("20051"));
    assert_eq!(d.class, DeclineClass::Soft);
    let Outcome::Declined(d) = parse(
        201,
        r#"{"id":"pay_4","approved":false,"status":"Declined","response_code":"30043"}"#,
    ) else {
        panic!("declined")
    };
    assert_eq!(
        (d.decline_code.as_str(), d.class),
        ("stolen_card", DeclineClass::Hard)
    );
    let Outcome::Declined(d) = parse(
        202,
        r#"{"id":"pay_5","status":"Pending","_links":{"self":{"href":"x"},"redirect":{"href":"https://3ds.example/acs"}}}"#,
    ) else {
        panic!("3ds")
    };
    assert_eq!(d.class, DeclineClass::AuthenticationRequired);
    assert_eq!(d.decline_code, "authentication_required");
    // The table's own undocumented shapes.
    let cases: &[(u16, &str, &str)] = &[
        (202, r#"{"id":"pay_6","status":"Pending"}"#, "unknown"),
        (201, r#"{"id":"pay_7","status":"Authorized"}"#, "unknown"),
        (201, r#"{"approved":true}"#, "unknown"),
        (
            422,
            r#"{"request_id":"r","error_type":"request_invalid","error_codes":["card_number_invalid"]}"#,
            "not_processed",
        ),
        (422, r#"{"error_type":"something_else"}"#, "unknown"),
        (422, "", "unknown"),
        (401, "", "not_processed"),
        (429, "", "not_processed"),
        (500, "", "unknown"),
        (502, "<html>bad gateway</html>", "unknown"),
        (503, r#"{"error_type":"request_invalid"}"#, "unknown"),
        (409, r#"{"error_type":"conflict"}"#, "unknown"),
        (403, "", "unknown"),
        (404, "", "unknown"),
        (418, r#"{"status":"teapot"}"#, "unknown"),
        (201, "garbage", "unknown"),
        (200, r#"{"id":"pay_8","approved":true}"#, "unknown"),
    ];
    for (status, b, expected) in cases {
        assert_eq!(kind(&parse(*status, b)), *expected, "{status} {b}");
    }
}

#[test]
fn transport_failures() {
    let a = adapter();
    let c = card();
    let call = authorize!(c, true);
    let o = done(a.parse(&call, 0, &Delivery::NotSent("connection refused".into())));
    assert_eq!(kind(&o), "not_processed");
    let o = done(a.parse(&call, 0, &Delivery::Lost("timed out".into())));
    assert_eq!(kind(&o), "unknown");
    let refund = Call::Refund {
        key: "k",
        reference: "pay_1",
        amount: 1,
        currency: "usd",
    };
    let o = done(a.parse(&refund, 0, &Delivery::Lost("reset".into())));
    assert_eq!(kind(&o), "unknown");
}

#[test]
fn parses_action_answers() {
    let a = adapter();
    let capture = Call::Capture {
        key: "k1",
        reference: "pay_1",
        amount: 10,
        currency: "usd",
    };
    let void = Call::Void {
        key: "k2",
        reference: "pay_1",
    };
    let refund = Call::Refund {
        key: "k3",
        reference: "pay_1",
        amount: 10,
        currency: "usd",
    };
    let accepted = r#"{"action_id":"act_9","reference":"k","_links":{"payment":{"href":"x"}}}"#;
    for call in [&capture, &void] {
        assert_eq!(
            done(a.parse(call, 0, &answered(202, accepted))),
            Outcome::Approved {
                reference: "pay_1".into()
            }
        );
    }
    assert_eq!(
        done(a.parse(&refund, 0, &answered(202, accepted))),
        Outcome::Approved {
            reference: "act_9".into()
        }
    );
    for call in [&capture, &void, &refund] {
        for (status, b, expected) in [
            (202, "{}", "unknown"),
            (200, accepted, "unknown"),
            (403, "", "unknown"),
            (404, "", "unknown"),
            (409, "{}", "unknown"),
            (500, "", "unknown"),
            (202, "nope", "unknown"),
            (429, "", "not_processed"),
            (401, "", "not_processed"),
            (
                422,
                r#"{"error_type":"request_invalid","error_codes":["amount_invalid"]}"#,
                "not_processed",
            ),
        ] {
            assert_eq!(
                kind(&done(a.parse(call, 0, &answered(status, b)))),
                expected,
                "{} {status} {b}",
                call.op()
            );
        }
    }
}

#[test]
fn looks_up_an_authorization() {
    let a = adapter();
    let key = "pi_1-authorize-1-checkout_a";
    let call = Call::Lookup {
        key,
        of: Looked::Authorize {
            amount: 1050,
            currency: "eur",
        },
    };
    let list = |items: &str| format!(r#"{{"limit":10,"skip":0,"total_count":1,"data":[{items}]}}"#);
    let found = list(&format!(
        r#"{{"id":"pay_1","reference":"{key}","status":"Captured","approved":true}}"#
    ));
    assert_eq!(
        done(a.parse(&call, 0, &answered(200, &found))),
        Outcome::Approved {
            reference: "pay_1".into()
        }
    );
    // Another reference's payment is no record of this one.
    let other = list(r#"{"id":"pay_2","reference":"other","status":"Authorized","approved":true}"#);
    assert_eq!(
        kind(&done(a.parse(&call, 0, &answered(200, &other)))),
        "not_processed"
    );
    assert_eq!(
        kind(&done(a.parse(&call, 0, &answered(200, &list(""))))),
        "not_processed"
    );
    let pending = list(&format!(
        r#"{{"id":"pay_3","reference":"{key}","status":"Pending"}}"#
    ));
    let Outcome::Declined(d) = done(a.parse(&call, 0, &answered(200, &pending))) else {
        panic!("pending")
    };
    assert_eq!(d.class, DeclineClass::AuthenticationRequired);
    // Declined: its actions tell the code.
    let declined = list(&format!(
        r#"{{"id":"pay_4","reference":"{key}","status":"Declined","approved":false}}"#
    ));
    let Parsed::Next(next) = a.parse(&call, 0, &answered(200, &declined)) else {
        panic!("next step")
    };
    assert_eq!(next.method, "GET");
    assert_eq!(
        next.url,
        "https://api.sandbox.checkout.com/payments/pay_4/actions"
    );
    let actions =
        r#"[{"id":"act_1","type":"Authorization","approved":false,"response_code":"30041"}]"#;
    let Outcome::Declined(d) = done(a.parse(&call, 1, &answered(200, actions))) else {
        panic!("declined")
    };
    assert_eq!(
        (d.decline_code.as_str(), d.processor_code.as_deref()),
        ("lost_card", Some("30041"))
    );
    for (step, status, b) in [
        (0, 404, ""),
        (0, 500, ""),
        (0, 200, "garbage"),
        (0, 200, r#"{"data":"x"}"#),
        (1, 404, "[]"),
        (1, 200, "{}"),
    ] {
        assert_eq!(
            kind(&done(a.parse(&call, step, &answered(status, b)))),
            "unknown",
            "{step} {status} {b}"
        );
    }
    let odd = list(&format!(
        r#"{{"id":"pay_5","reference":"{key}","status":"Expired"}}"#
    ));
    assert_eq!(
        kind(&done(a.parse(&call, 0, &answered(200, &odd)))),
        "unknown"
    );
}

#[test]
fn looks_up_a_refund() {
    let a = adapter();
    let key = "pi_1-refund-1-checkout_a";
    let call = Call::Lookup {
        key,
        of: Looked::Refund {
            reference: "pay_1",
            amount: 300,
            currency: "eur",
        },
    };
    let actions = format!(
        r#"[{{"id":"act_r","type":"Refund","amount":300,"approved":true,"response_code":"10000","reference":"{key}"}},
            {{"id":"act_c","type":"Capture","amount":1000,"approved":true,"reference":"pi_1-capture-1-checkout_a"}},
            {{"id":"act_a","type":"Authorization","amount":1000,"approved":true}}]"#
    );
    assert_eq!(
        done(a.parse(&call, 0, &answered(200, &actions))),
        Outcome::Approved {
            reference: "act_r".into()
        }
    );
    let none = r#"[{"id":"act_r2","type":"Refund","approved":true,"reference":"another"}]"#;
    assert_eq!(
        kind(&done(a.parse(&call, 0, &answered(200, none)))),
        "not_processed"
    );
    let declined = format!(
        r#"[{{"id":"act_r","type":"Refund","approved":false,"response_code":"20158","reference":"{key}"}}]"#
    );
    assert_eq!(
        kind(&done(a.parse(&call, 0, &answered(200, &declined)))),
        "declined"
    );
    assert_eq!(
        kind(&done(a.parse(&call, 0, &answered(404, "")))),
        "unknown"
    );
    assert_eq!(
        kind(&done(a.parse(&call, 0, &answered(429, "")))),
        "unknown"
    );
}

/// Every published code: approvals have no class, declines map to a
/// Stripe code, and the class is the Stripe code's unless overridden on
/// purpose (listed here, as in the table's documentation).
#[test]
fn every_response_code() {
    let overrides = [
        "20106", "30016", "30017", "30018", "30019", "30021", "30022", "30044", "30045",
    ];
    let mut seen = std::collections::BTreeSet::new();
    for r in RESPONSE_CODES {
        assert!(seen.insert(r.code), "{} twice", r.code);
        assert_eq!(r.code.len(), 5, "{}", r.code);
        assert!(!r.text.is_empty());
        match r.code.as_bytes()[0] {
            b'1' => {
                assert!(r.class.is_none() && r.stripe.is_empty(), "{}", r.code);
                continue;
            }
            b'2' | b'3' | b'4' => {}
            _ => panic!("{}", r.code),
        }
        let class = r.class.unwrap_or_else(|| panic!("{} has no class", r.code));
        let d = decline_for(r.code);
        assert_eq!(d.decline_code, r.stripe, "{}", r.code);
        assert_eq!(d.processor_code.as_deref(), Some(r.code));
        assert_eq!(d.class, class, "{}", r.code);
        if overrides.contains(&r.code) {
            assert_ne!(classify(r.stripe), class, "{} is no override", r.code);
        } else {
            assert_eq!(classify(r.stripe), class, "{}", r.code);
        }
        // Checkout.com's hard and risk ranges are never soft.
        if r.code.starts_with('3') || r.code.starts_with('4') {
            assert_eq!(class, DeclineClass::Hard, "{}", r.code);
        }
    }
    // The codes the brief names.
    for (code, stripe, class) in [
        ("20005", "do_not_honor", DeclineClass::Soft),
        ("20051", "insufficient_funds", DeclineClass::Soft),
        ("20054", "expired_card", DeclineClass::Hard),
        ("20068", "issuer_not_available", DeclineClass::Soft),
        ("20091", "issuer_not_available", DeclineClass::Soft),
        ("20096", "processing_error", DeclineClass::Soft),
        (
            "20154",
            "authentication_required",
            DeclineClass::AuthenticationRequired,
        ),
        ("30004", "pickup_card", DeclineClass::Hard),
        ("30033", "expired_card", DeclineClass::Hard),
        ("30041", "lost_card", DeclineClass::Hard),
        ("30043", "stolen_card", DeclineClass::Hard),
        ("40101", "fraudulent", DeclineClass::Hard),
    ] {
        let d = decline_for(code);
        assert_eq!(
            (d.decline_code.as_str(), d.class),
            (stripe, class),
            "{code}"
        );
    }
    for code in ["10000", "10008", "10011", "10076", "10077", "10081"] {
        assert!(
            response_code(code).is_some_and(|r| r.class.is_none()),
            "{code}"
        );
    }
    // Unpublished codes, by range; junk is not kept as a code.
    assert_eq!(decline_for("20999").class, DeclineClass::Soft);
    assert_eq!(decline_for("30999").class, DeclineClass::Hard);
    assert_eq!(decline_for("49999").class, DeclineClass::Hard);
    assert_eq!(decline_for("").processor_code, None);
    assert_eq!(decline_for("<script>").processor_code, None);
}

#[test]
fn adapter_for_builds_it() {
    let c = config("http://127.0.0.1:1", None);
    assert!(crate::adapter_for(&c, None).is_none());
    let creds = Credentials {
        api_key: Some("sk_sbox_x".into()),
        ..Credentials::default()
    };
    let a = crate::adapter_for(&c, Some(&creds));
    assert_eq!(a.map(|a| a.kind()), Some("checkout"));
}

/// A look-up that asked nothing (not sent, 429, 401, 422) cannot say:
/// unknown, never "no record" (the worker reads that as "did not charge").
#[test]
fn a_lookup_that_asked_nothing_is_unknown() {
    let a = adapter();
    let auth = Call::Lookup {
        key: "k",
        of: Looked::Authorize {
            amount: 1,
            currency: "usd",
        },
    };
    let refund = Call::Lookup {
        key: "k",
        of: Looked::Refund {
            reference: "pay_1",
            amount: 1,
            currency: "usd",
        },
    };
    for call in [&auth, &refund] {
        for d in [
            Delivery::NotSent("connection refused".into()),
            Delivery::Lost("timeout".into()),
            answered(429, ""),
            answered(401, ""),
            answered(
                422,
                r#"{"error_type":"request_invalid","error_codes":["reference_required"]}"#,
            ),
            answered(503, ""),
        ] {
            for step in [0, 1] {
                assert_eq!(kind(&done(a.parse(call, step, &d))), "unknown", "{d:?}");
            }
        }
    }
    // The list's own "nothing": no record.
    let empty = answered(200, r#"{"limit":10,"skip":0,"total_count":0,"data":[]}"#);
    assert_eq!(kind(&done(a.parse(&auth, 0, &empty))), "not_processed");
    assert_eq!(
        kind(&done(a.parse(&refund, 0, &answered(200, "[]")))),
        "not_processed"
    );
}
