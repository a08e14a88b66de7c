#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use crate::adapter::WireResponse;
use crate::card::Card;
use crate::config::ProcessorKind;

fn config(account: Option<&str>, base: Option<&str>) -> ProcessorConfig {
    let mut c = ProcessorConfig::sandbox("adyen_eu");
    c.kind = ProcessorKind::Adyen;
    c.account = account.map(str::to_owned);
    c.base_url = base.map(str::to_owned);
    c.timeout_ms = 4000;
    c
}

fn adapter() -> AdyenAdapter {
    AdyenAdapter::new(
        config(Some("SwitchyardECOM"), Some("http://127.0.0.1:9/v71/")),
        Credentials {
            api_key: Some("AQE-test-key".into()),
            ..Credentials::default()
        },
    )
}

fn card() -> Card {
    Card::from_raw("4111111111111111", 3, 2030, Some("737")).unwrap()
}

fn authorize<'a>(card: &'a Card, capture: bool) -> Call<'a> {
    Call::Authorize {
        key: "pay_1-authorize-1-adyen_eu",
        payment_id: "pay_1",
        amount: 1099,
        currency: "eur",
        capture,
        card: &card.secret,
        facts: &card.facts,
        descriptor: Default::default(),
    }
}

fn header<'a>(req: &'a WireRequest, name: &str) -> Option<&'a str> {
    req.headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn body(req: &WireRequest) -> Value {
    serde_json::from_str(req.body()).unwrap()
}

fn answered(status: u16, body: &str) -> Delivery {
    Delivery::Answered(WireResponse {
        status,
        headers: vec![],
        body: body.to_owned(),
    })
}

fn outcome(a: &AdyenAdapter, call: &Call<'_>, d: &Delivery) -> Outcome {
    match a.parse(call, 0, d) {
        Parsed::Done(o) => o,
        Parsed::Next(r) => panic!("unexpected next step {r:?}"),
    }
}

const CAPTURE: Call<'static> = Call::Capture {
    key: "pay_1-capture-1-adyen_eu",
    reference: "993617895204576J",
    amount: 500,
    currency: "eur",
};
const VOID: Call<'static> = Call::Void {
    key: "pay_1-void-1-adyen_eu",
    reference: "993617895204576J",
};
const REFUND: Call<'static> = Call::Refund {
    key: "pay_1-refund-1-adyen_eu",
    reference: "993617895204576J",
    amount: 300,
    currency: "eur",
};
const LOOKUP_AUTH: Call<'static> = Call::Lookup {
    key: "pay_1-authorize-1-adyen_eu",
    of: Looked::Authorize {
        amount: 1099,
        currency: "eur",
    },
};
const LOOKUP_REFUND: Call<'static> = Call::Lookup {
    key: "pay_1-refund-1-adyen_eu",
    of: Looked::Refund {
        reference: "993617895204576J",
        amount: 300,
        currency: "eur",
    },
};

#[test]
fn builds_an_authorization_with_automatic_capture() {
    let card = card();
    let req = adapter().build(&authorize(&card, true));
    assert_eq!(req.method, "POST");
    assert_eq!(req.url, "http://127.0.0.1:9/v71/payments");
    assert_eq!(header(&req, "x-api-key"), Some("AQE-test-key"));
    assert_eq!(
        header(&req, "idempotency-key"),
        Some("pay_1-authorize-1-adyen_eu")
    );
    assert_eq!(header(&req, "content-type"), Some("application/json"));
    let b = body(&req);
    assert_eq!(b["merchantAccount"], "SwitchyardECOM");
    assert_eq!(b["amount"], json!({"value": 1099, "currency": "EUR"}));
    assert_eq!(b["reference"], "pay_1-authorize-1-adyen_eu");
    assert_eq!(
        b["paymentMethod"],
        json!({"type": "scheme", "number": "4111111111111111", "expiryMonth": "03",
               "expiryYear": "2030", "cvc": "737"})
    );
    assert_eq!(b["returnUrl"], RETURN_URL);
    // Authorized alone; the capture is the call's second request.
    assert_eq!(b["additionalData"], json!({"manualCapture": "true"}));
    assert!(!adapter().captures_with_authorization());
}

#[test]
fn builds_an_authorization_with_manual_capture() {
    let card = card();
    let b = body(&adapter().build(&authorize(&card, false)));
    assert_eq!(b["additionalData"], json!({"manualCapture": "true"}));
    assert!(b.get("captureDelayHours").is_none());
}

#[test]
fn a_card_without_cvc_sends_none() {
    let card = Card::from_raw("4111111111111111", 3, 2030, None).unwrap();
    let b = body(&adapter().build(&authorize(&card, true)));
    assert!(b["paymentMethod"].get("cvc").is_none());
}

#[test]
fn builds_modifications() {
    let a = adapter();
    let req = a.build(&CAPTURE);
    assert_eq!(
        req.url,
        "http://127.0.0.1:9/v71/payments/993617895204576J/captures"
    );
    assert_eq!(
        header(&req, "idempotency-key"),
        Some("pay_1-capture-1-adyen_eu")
    );
    assert_eq!(
        body(&req),
        json!({"merchantAccount": "SwitchyardECOM", "amount": {"value": 500, "currency": "EUR"},
               "reference": "pay_1-capture-1-adyen_eu"})
    );
    let req = a.build(&VOID);
    assert_eq!(
        req.url,
        "http://127.0.0.1:9/v71/payments/993617895204576J/cancels"
    );
    assert_eq!(
        body(&req),
        json!({"merchantAccount": "SwitchyardECOM", "reference": "pay_1-void-1-adyen_eu"})
    );
    let req = a.build(&REFUND);
    assert_eq!(
        req.url,
        "http://127.0.0.1:9/v71/payments/993617895204576J/refunds"
    );
    assert_eq!(
        body(&req),
        json!({"merchantAccount": "SwitchyardECOM", "amount": {"value": 300, "currency": "EUR"},
               "reference": "pay_1-refund-1-adyen_eu"})
    );
    assert_eq!(header(&req, "x-api-key"), Some("AQE-test-key"));
}

#[test]
fn a_reference_cannot_change_the_path() {
    let call = Call::Void {
        key: "k",
        reference: "../x?y",
    };
    let req = adapter().build(&call);
    assert_eq!(
        req.url,
        "http://127.0.0.1:9/v71/payments/..%2Fx%3Fy/cancels"
    );
}

#[test]
fn builds_lookups() {
    let a = adapter();
    let req = a.build(&LOOKUP_AUTH);
    assert_eq!(req.url, "http://127.0.0.1:9/v71/cancels");
    let b = body(&req);
    assert_eq!(b["merchantAccount"], "SwitchyardECOM");
    assert_eq!(b["paymentReference"], "pay_1-authorize-1-adyen_eu");
    let key = header(&req, "idempotency-key").unwrap();
    assert_ne!(key, "pay_1-authorize-1-adyen_eu");
    assert_eq!(b["reference"], key);
    assert!(key.len() <= MAX_KEY_LEN);
    // The refund lookup is the refund again, with the refund's key.
    let again = a.build(&LOOKUP_REFUND);
    let refund = a.build(&REFUND);
    assert_eq!(again.url, refund.url);
    assert_eq!(again.body(), refund.body());
    assert_eq!(again.headers, refund.headers);
}

#[test]
fn long_keys_are_derived_deterministically() {
    let long = format!("pay_{}-authorize-1-{}", "x".repeat(30), "p".repeat(64));
    let k = adyen_key(&long);
    assert_eq!(k.len(), 64);
    assert!(k.starts_with("sy_"));
    assert_eq!(k, adyen_key(&long));
    assert_ne!(k, adyen_key(&format!("{long}2")));
    assert_eq!(adyen_key("short"), "short");
    assert_eq!(adyen_key(&"a".repeat(64)), "a".repeat(64));
    let card = card();
    let call = Call::Authorize {
        key: &long,
        payment_id: "pay_1",
        amount: 1,
        currency: "usd",
        capture: true,
        card: &card.secret,
        facts: &card.facts,
        descriptor: Default::default(),
    };
    let req = adapter().build(&call);
    assert_eq!(header(&req, "idempotency-key"), Some(k.as_str()));
    assert_eq!(body(&req)["reference"], k);
    // The lookup cancels by the same reference.
    let lookup = Call::Lookup {
        key: &long,
        of: Looked::Authorize {
            amount: 1,
            currency: "usd",
        },
    };
    assert_eq!(body(&adapter().build(&lookup))["paymentReference"], k);
}

#[test]
fn debug_never_shows_card_data() {
    let card = card();
    let call = authorize(&card, true);
    let req = adapter().build(&call);
    assert!(req.body().contains("4111111111111111"));
    for dbg in [format!("{req:?}"), format!("{call:?}")] {
        assert!(!dbg.contains("4111111111111111"), "{dbg}");
        assert!(!dbg.contains("737"), "{dbg}");
    }
    // Nor do the reasons of any outcome.
    let a = adapter();
    for d in [
        answered(500, "x"),
        answered(
            422,
            r#"{"errorType":"validation","errorCode":"14_030","message":"m"}"#,
        ),
    ] {
        let o = format!("{:?}", outcome(&a, &call, &d));
        assert!(!o.contains("4111111111111111"), "{o}");
    }
}

#[test]
fn base_url_without_trailing_slash_and_https() {
    let a = AdyenAdapter::new(
        config(Some("M"), Some("https://checkout-test.adyen.com/v71")),
        Credentials::default(),
    );
    assert_eq!(
        a.build(&VOID).url,
        "https://checkout-test.adyen.com/v71/payments/993617895204576J/cancels"
    );
    assert_eq!(a.kind(), "adyen");
    assert_eq!(a.timeout_ms(), 4000);
}

#[test]
fn a_missing_account_is_not_processed_and_sends_no_card() {
    let card = card();
    let call = authorize(&card, true);
    for cfg in [
        config(None, Some("http://127.0.0.1:9")),
        config(Some(""), Some("http://127.0.0.1:9")),
        config(Some("M"), None),
    ] {
        let a = AdyenAdapter::new(cfg, Credentials::default());
        let req = a.build(&call);
        assert!(req.body().is_empty());
        assert!(!req.url.starts_with("http"));
        for d in [
            Delivery::NotSent("bad url".into()),
            answered(200, r#"{"resultCode":"Authorised","pspReference":"X"}"#),
        ] {
            match outcome(&a, &call, &d) {
                Outcome::NotProcessed { reason } => {
                    assert!(reason.starts_with("configuration"), "{reason}")
                }
                o => panic!("{o:?}"),
            }
        }
    }
}

#[test]
fn parses_authorised_and_pending_answers() {
    let a = adapter();
    let card = card();
    let call = authorize(&card, false);
    let ok = answered(
        200,
        r#"{"pspReference":"993617895204576J","resultCode":"Authorised","refusalReasonCode":"0"}"#,
    );
    assert_eq!(
        outcome(&a, &call, &ok),
        Outcome::Approved {
            reference: "993617895204576J".into()
        }
    );
    for body in [
        r#"{"resultCode":"Authorised"}"#,
        r#"{"resultCode":"Pending","pspReference":"P"}"#,
        r#"{"resultCode":"Received","pspReference":"P"}"#,
        r#"{"resultCode":"PartiallyAuthorised","pspReference":"P"}"#,
        r#"{"resultCode":"PresentToShopper","pspReference":"P"}"#,
        r#"{"pspReference":"P"}"#,
    ] {
        assert!(
            matches!(
                outcome(&a, &call, &answered(200, body)),
                Outcome::Unknown { .. }
            ),
            "{body}"
        );
    }
}

fn declined(o: Outcome) -> Decline {
    match o {
        Outcome::Declined(d) => d,
        o => panic!("not a decline: {o:?}"),
    }
}

#[test]
fn every_refusal_code_in_the_table_parses() {
    let a = adapter();
    let card = card();
    let call = authorize(&card, true);
    let mut seen = std::collections::BTreeSet::new();
    for r in REFUSALS {
        assert!(seen.insert(r.code), "{} twice", r.code);
        let body = json!({"pspReference": "P", "resultCode": "Refused",
                          "refusalReason": r.reason, "refusalReasonCode": r.code});
        let d = declined(outcome(&a, &call, &answered(200, &body.to_string())));
        assert_eq!(d.decline_code, r.decline_code, "{}", r.code);
        assert_eq!(d.processor_code.as_deref(), Some(r.code));
        let class = r.class.unwrap_or(crate::decline::classify(r.decline_code));
        assert_eq!(d.class, class, "{}", r.code);
        // Adyen's own reason is never shown to the customer.
        assert!(!d.message.contains(r.reason) || r.reason == "Refused");
    }
    // The codes the brief names.
    let class_of = |code: &str| refusal(Some(code));
    assert_eq!(class_of("2").decline_code, "generic_decline");
    assert_eq!(class_of("2").class, DeclineClass::Soft);
    assert_eq!(class_of("6").decline_code, "expired_card");
    assert_eq!(class_of("6").class, DeclineClass::Hard);
    assert_eq!(class_of("12").decline_code, "insufficient_funds");
    assert_eq!(class_of("12").class, DeclineClass::Soft);
    assert_eq!(class_of("24").decline_code, "incorrect_cvc");
    for code in ["11", "38"] {
        assert_eq!(class_of(code).class, DeclineClass::AuthenticationRequired);
    }
    assert_eq!(class_of("46").decline_code, "do_not_try_again");
    assert_eq!(class_of("46").class, DeclineClass::Hard);
    // Every code Adyen documents (0, 2..=46 without 1, 13 and 30).
    for n in (0..=46).filter(|n| ![1, 13, 30].contains(n)) {
        assert!(seen.contains(n.to_string().as_str()), "{n} missing");
    }
}

#[test]
fn an_undocumented_refusal_code_is_hard() {
    let d = refusal(Some("999"));
    assert_eq!(d.class, DeclineClass::Hard);
    assert_eq!(d.processor_code.as_deref(), Some("999"));
    let card = card();
    let d = declined(outcome(
        &adapter(),
        &authorize(&card, true),
        &answered(200, r#"{"resultCode":"Refused"}"#),
    ));
    assert_eq!(d.processor_code.as_deref(), Some("0"));
}

#[test]
fn parses_error_cancelled_and_authentication_answers() {
    let a = adapter();
    let card = card();
    let call = authorize(&card, true);
    let d = declined(outcome(
        &a,
        &call,
        &answered(
            200,
            r#"{"resultCode":"Error","refusalReason":"Acquirer Error"}"#,
        ),
    ));
    assert_eq!(
        (d.decline_code.as_str(), d.class),
        ("processing_error", DeclineClass::Soft)
    );
    let d = declined(outcome(
        &a,
        &call,
        &answered(200, r#"{"resultCode":"Error","refusalReasonCode":"9"}"#),
    ));
    assert_eq!(d.decline_code, "issuer_not_available");
    let d = declined(outcome(
        &a,
        &call,
        &answered(200, r#"{"resultCode":"Cancelled"}"#),
    ));
    assert_eq!(d.class, DeclineClass::Hard);
    let d = declined(outcome(
        &a,
        &call,
        &answered(
            200,
            r#"{"resultCode":"Cancelled","refusalReasonCode":"22"}"#,
        ),
    ));
    assert_eq!(d.decline_code, "fraudulent");
    for r in ["RedirectShopper", "IdentifyShopper", "ChallengeShopper"] {
        let body = json!({"resultCode": r, "action": {"type": "threeDS2"}});
        let d = declined(outcome(&a, &call, &answered(200, &body.to_string())));
        assert_eq!(d.class, DeclineClass::AuthenticationRequired, "{r}");
        assert_eq!(d.decline_code, "authentication_required");
        assert_eq!(d.processor_code.as_deref(), Some(r));
    }
}

#[test]
fn parses_received_modifications() {
    let a = adapter();
    let received = |psp: &str| {
        answered(
            201,
            &json!({"merchantAccount": "SwitchyardECOM", "paymentPspReference": "993617895204576J",
                    "pspReference": psp, "reference": "r", "status": "received"})
            .to_string(),
        )
    };
    let payment = Outcome::Approved {
        reference: "993617895204576J".into(),
    };
    assert_eq!(outcome(&a, &CAPTURE, &received("CAP1")), payment);
    assert_eq!(outcome(&a, &VOID, &received("CAN1")), payment);
    assert_eq!(
        outcome(&a, &REFUND, &received("REF1")),
        Outcome::Approved {
            reference: "REF1".into()
        }
    );
    assert_eq!(
        outcome(&a, &LOOKUP_REFUND, &received("REF1")),
        Outcome::Approved {
            reference: "REF1".into()
        }
    );
    let cancel = answered(
        201,
        r#"{"merchantAccount":"M","paymentReference":"pay_1-authorize-1-adyen_eu","pspReference":"C","reference":"x","status":"received"}"#,
    );
    assert_eq!(
        outcome(&a, &LOOKUP_AUTH, &cancel),
        Outcome::NotProcessed {
            reason: "cancelled at Adyen by reference".into()
        }
    );
    // A 201 that is not `received`, or a 200 to a modification: unknown.
    for d in [
        answered(201, r#"{"status":"other"}"#),
        answered(200, r#"{"status":"received"}"#),
    ] {
        assert!(matches!(outcome(&a, &CAPTURE, &d), Outcome::Unknown { .. }));
    }
}

#[test]
fn transport_and_http_failures() {
    let a = adapter();
    let card = card();
    let auth = authorize(&card, true);
    for call in [&auth, &CAPTURE, &VOID, &REFUND] {
        assert!(matches!(
            outcome(&a, call, &Delivery::NotSent("refused".into())),
            Outcome::NotProcessed { .. }
        ));
        assert!(matches!(
            outcome(&a, call, &Delivery::Lost("timeout".into())),
            Outcome::Unknown { .. }
        ));
        assert!(matches!(
            outcome(&a, call, &answered(429, "")),
            Outcome::NotProcessed { .. }
        ));
        for d in [
            answered(
                500,
                r#"{"status":500,"errorCode":"905","message":"Payment details are not supported","errorType":"configuration"}"#,
            ),
            answered(502, "<html>bad gateway</html>"),
            answered(503, ""),
            answered(
                409,
                r#"{"status":409,"errorType":"validation","errorCode":"x"}"#,
            ),
            answered(404, r#"{"status":404}"#),
            answered(418, "teapot"),
            answered(200, "garbage"),
            answered(201, "[]"),
            // A validation 422 that says "in progress".
            answered(
                422,
                r#"{"status":422,"errorCode":"704","message":"request already processed or in progress","errorType":"validation"}"#,
            ),
            // A 400 / 422 / 401 without Adyen's error type: the status alone.
            answered(400, "{}"),
            answered(422, r#"{"message":"x"}"#),
            answered(401, ""),
        ] {
            assert!(
                matches!(outcome(&a, call, &d), Outcome::Unknown { .. }),
                "{d:?}"
            );
        }
        for d in [
            answered(
                400,
                r#"{"status":400,"errorCode":"702","message":"Unexpected input","errorType":"validation"}"#,
            ),
            answered(
                422,
                r#"{"status":422,"errorCode":"14_030","message":"Return URL is missing.","errorType":"validation"}"#,
            ),
        ] {
            match outcome(&a, call, &d) {
                Outcome::NotProcessed { reason } => assert!(reason.contains("validation")),
                o => panic!("{o:?}"),
            }
        }
        for d in [
            answered(
                401,
                r#"{"status":401,"errorCode":"000","message":"HTTP Status Response - Unauthorized","errorType":"security"}"#,
            ),
            answered(
                403,
                r#"{"status":403,"errorCode":"901","message":"Invalid Merchant Account","errorType":"security"}"#,
            ),
        ] {
            match outcome(&a, call, &d) {
                Outcome::NotProcessed { reason } => {
                    assert!(reason.starts_with("configuration"), "{reason}")
                }
                o => panic!("{o:?}"),
            }
        }
    }
}

#[test]
fn a_lookup_that_is_not_answered_is_unknown() {
    let a = adapter();
    for d in [
        Delivery::NotSent("refused".into()),
        answered(429, ""),
        answered(401, r#"{"errorType":"security","errorCode":"000"}"#),
        answered(422, r#"{"errorType":"validation","errorCode":"167"}"#),
        Delivery::Lost("timeout".into()),
        answered(500, "{}"),
    ] {
        assert!(
            matches!(outcome(&a, &LOOKUP_AUTH, &d), Outcome::Unknown { .. }),
            "{d:?}"
        );
    }
    // A refund Adyen refuses to make on validation does not exist.
    assert!(matches!(
        outcome(
            &a,
            &LOOKUP_REFUND,
            &answered(
                422,
                r#"{"errorType":"validation","errorCode":"137","message":"Invalid amount specified"}"#
            )
        ),
        Outcome::NotProcessed { .. }
    ));
    for d in [Delivery::NotSent("refused".into()), answered(429, "")] {
        assert!(matches!(
            outcome(&a, &LOOKUP_REFUND, &d),
            Outcome::Unknown { .. }
        ));
    }
}

/// Every documented example answer of `/payments` and of the modification
/// endpoints in Adyen's OpenAPI file parses to a sensible outcome.
#[test]
fn openapi_examples_parse() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fakes/adyen/openapi/CheckoutService-v71.json"
    );
    let spec: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let examples = &spec["components"]["examples"];
    let resolve = |ex: &Value| -> Value {
        match ex.get("$ref").and_then(Value::as_str) {
            Some(r) => examples[r.rsplit('/').next().unwrap()]["value"].clone(),
            None => ex["value"].clone(),
        }
    };
    let a = adapter();
    let card = card();
    let auth = authorize(&card, false);
    let calls: [(&str, &Call<'_>); 5] = [
        ("/payments", &auth),
        ("/payments/{paymentPspReference}/captures", &CAPTURE),
        ("/payments/{paymentPspReference}/cancels", &VOID),
        ("/payments/{paymentPspReference}/refunds", &REFUND),
        ("/cancels", &LOOKUP_AUTH),
    ];
    let mut checked = 0;
    for (path, call) in calls {
        let responses = spec["paths"][path]["post"]["responses"]
            .as_object()
            .unwrap();
        for (status, resp) in responses {
            let status: u16 = status.parse().unwrap();
            let Some(exs) = resp["content"]["application/json"]["examples"].as_object() else {
                continue;
            };
            for (name, ex) in exs {
                let body = resolve(ex);
                let o = outcome(&a, call, &answered(status, &body.to_string()));
                let result = body["resultCode"].as_str();
                match (status, result) {
                    (200, Some("Authorised")) => {
                        assert!(
                            matches!(o, Outcome::Approved { .. }),
                            "{path} {name}: {o:?}"
                        )
                    }
                    (200, Some("Refused")) => {
                        assert!(matches!(o, Outcome::Declined(_)), "{path} {name}: {o:?}")
                    }
                    (200, Some(_)) => assert!(
                        matches!(&o, Outcome::Declined(d) if d.class == DeclineClass::AuthenticationRequired),
                        "{path} {name}: {o:?}"
                    ),
                    (201, _) if path == "/cancels" => assert_eq!(
                        o,
                        Outcome::NotProcessed {
                            reason: "cancelled at Adyen by reference".into()
                        }
                    ),
                    (201, _) => assert!(
                        matches!(o, Outcome::Approved { .. }),
                        "{path} {name}: {o:?}"
                    ),
                    (400 | 422 | 401 | 403, _) if path == "/cancels" => {
                        assert!(matches!(o, Outcome::Unknown { .. }), "{path} {name}: {o:?}")
                    }
                    (400 | 422 | 401 | 403, _) => {
                        assert!(
                            matches!(o, Outcome::NotProcessed { .. }),
                            "{path} {name}: {o:?}"
                        )
                    }
                    _ => assert!(matches!(o, Outcome::Unknown { .. }), "{path} {name}: {o:?}"),
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 30, "{checked}");
}

#[test]
fn the_statement_descriptor_is_the_shopper_statement() {
    let card = card();
    let plain = adapter().build(&authorize(&card, false));
    assert!(body(&plain).get("shopperStatement").is_none());
    let mut call = authorize(&card, false);
    if let Call::Authorize { descriptor, .. } = &mut call {
        descriptor.suffix = Some("ORDER 8812");
    }
    let req = adapter().build(&call);
    assert_eq!(body(&req)["shopperStatement"], "ORDER 8812");
}
