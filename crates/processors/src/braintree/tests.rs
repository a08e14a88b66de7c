use super::*;
use crate::adapter::WireResponse;
use crate::card::Card;
use crate::config::ProcessorKind;

const PAN: &str = "4111111111111111";

fn adapter(base: &str, account: Option<&str>) -> BraintreeAdapter {
    let mut config = ProcessorConfig::sandbox("bt");
    config.kind = ProcessorKind::Braintree;
    config.base_url = Some(base.to_owned());
    config.account = account.map(str::to_owned);
    BraintreeAdapter::new(
        config,
        Credentials {
            api_key: None,
            public_key: Some("v4ndq314c2s5c28r".into()),
            private_key: Some("93b78bc88be90d93ac282e50ae569fdd".into()),
        },
    )
}

fn bt() -> BraintreeAdapter {
    adapter(
        "https://payments.sandbox.braintree-api.com/",
        Some("acct_usd"),
    )
}

fn card() -> Card {
    Card::from_raw(PAN, 12, 2030, Some("123")).unwrap()
}

fn answered(status: u16, body: Value) -> Delivery {
    Delivery::Answered(WireResponse {
        status,
        headers: vec![],
        body: body.to_string(),
    })
}

fn ok(body: Value) -> Delivery {
    answered(200, body)
}

fn body(r: &WireRequest) -> Value {
    serde_json::from_str(r.body()).unwrap()
}

fn header<'a>(r: &'a WireRequest, name: &str) -> &'a str {
    r.headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .unwrap()
}

fn next(p: Parsed) -> WireRequest {
    match p {
        Parsed::Next(r) => r,
        Parsed::Done(o) => panic!("expected a next request, got {o:?}"),
    }
}

fn done(p: Parsed) -> Outcome {
    match p {
        Parsed::Done(o) => o,
        Parsed::Next(r) => panic!("expected an outcome, got {r:?}"),
    }
}

fn tx(id: &str, status: &str, amount: &str, history: Value) -> Value {
    json!({ "id": id, "status": status, "orderId": "k", "amount": { "value": amount, "currencyCode": "USD" }, "statusHistory": history })
}

fn search_tx(nodes: Vec<Value>) -> Delivery {
    let edges: Vec<Value> = nodes.into_iter().map(|n| json!({ "node": n })).collect();
    ok(json!({ "data": { "search": { "transactions": { "edges": edges } } } }))
}

fn search_refunds(nodes: Vec<Value>) -> Delivery {
    let edges: Vec<Value> = nodes.into_iter().map(|n| json!({ "node": n })).collect();
    ok(json!({ "data": { "search": { "refunds": { "edges": edges } } } }))
}

fn declined_tx(code: &str) -> Value {
    tx(
        "tx_d",
        "PROCESSOR_DECLINED",
        "2000.00",
        json!([{ "__typename": "ProcessorDeclinedEvent", "status": "PROCESSOR_DECLINED", "declineType": "SOFT", "processorResponse": { "legacyCode": code, "message": "text" } }]),
    )
}

fn rejected_tx(reason: &str) -> Value {
    tx(
        "tx_r",
        "GATEWAY_REJECTED",
        "5001.00",
        json!([{ "__typename": "GatewayRejectedEvent", "status": "GATEWAY_REJECTED", "gatewayRejectionReason": reason }]),
    )
}

fn authorize<'a>(c: &'a Card, capture: bool) -> Call<'a> {
    Call::Authorize {
        key: "pay_1-authorize-1-bt",
        payment_id: "pay_1",
        amount: 1050,
        currency: "usd",
        capture,
        card: &c.secret,
        facts: &c.facts,
        descriptor: Default::default(),
    }
}

fn authorize_answer(capture: bool, transaction: Value) -> Delivery {
    let field = if capture {
        "chargePaymentMethod"
    } else {
        "authorizePaymentMethod"
    };
    ok(json!({ "data": { field: { "transaction": transaction } } }))
}

#[test]
fn headers_url_and_auth() {
    let r = bt().build(&Call::Void {
        key: "k",
        reference: "tx_1",
    });
    assert_eq!(r.method, "POST");
    assert_eq!(r.url, "https://payments.sandbox.braintree-api.com/graphql");
    // Braintree's own example of the encoded key pair.
    assert_eq!(
        header(&r, "Authorization"),
        "Basic djRuZHEzMTRjMnM1YzI4cjo5M2I3OGJjODhiZTkwZDkzYWMyODJlNTBhZTU2OWZkZA=="
    );
    assert_eq!(header(&r, "Braintree-Version"), BRAINTREE_VERSION);
    assert_eq!(header(&r, "Content-Type"), "application/json");
    let plain = adapter("http://127.0.0.1:4010", None).build(&Call::Void {
        key: "k",
        reference: "tx_1",
    });
    assert_eq!(plain.url, "http://127.0.0.1:4010/graphql");
}

#[test]
fn base64_matches_rfc4648() {
    for (i, o) in [
        ("", ""),
        ("f", "Zg=="),
        ("fo", "Zm8="),
        ("foo", "Zm9v"),
        ("foob", "Zm9vYg=="),
        ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
    ] {
        assert_eq!(base64(i.as_bytes()), o);
    }
}

#[test]
fn amounts_use_iso_exponents_exactly() {
    assert_eq!(decimal_amount(1050, "usd"), "10.50");
    assert_eq!(decimal_amount(5, "EUR"), "0.05");
    assert_eq!(decimal_amount(0, "USD"), "0.00");
    assert_eq!(decimal_amount(1050, "JPY"), "1050");
    assert_eq!(decimal_amount(1050, "krw"), "1050");
    assert_eq!(decimal_amount(1050, "BHD"), "1.050");
    assert_eq!(decimal_amount(7, "KWD"), "0.007");
    assert_eq!(decimal_amount(200_000, "USD"), "2000.00");
    assert_eq!(decimal_amount(u64::MAX, "USD"), "184467440737095516.15");
}

#[test]
fn long_keys_get_a_short_deterministic_order_id() {
    assert_eq!(order_id("pay_1-authorize-1-bt"), "pay_1-authorize-1-bt");
    let long = "x".repeat(300);
    let a = order_id(&long);
    assert_eq!(a, order_id(&long));
    assert!(a.starts_with("sy-") && a.len() == 67);
    assert_ne!(a, order_id(&"y".repeat(300)));
    assert_eq!(order_id(&"z".repeat(255)).len(), 255);
}

#[test]
fn authorize_searches_then_tokenizes_then_authorizes() {
    let c = card();
    let a = bt();
    let call = authorize(&c, false);
    let r0 = a.build(&call);
    let b0 = body(&r0);
    assert!(b0["query"]
        .as_str()
        .unwrap()
        .contains("search { transactions("));
    assert_eq!(
        b0["variables"]["input"]["orderId"]["is"],
        "pay_1-authorize-1-bt"
    );
    // No earlier attempt: tokenize.
    let r1 = next(a.parse(&call, 0, &search_tx(vec![])));
    let b1 = body(&r1);
    assert!(b1["query"].as_str().unwrap().contains("tokenizeCreditCard"));
    let cc = &b1["variables"]["input"]["creditCard"];
    assert_eq!(cc["number"], PAN);
    assert_eq!(cc["expirationMonth"], "12");
    assert_eq!(cc["expirationYear"], "2030");
    assert_eq!(cc["cvv"], "123");
    // The card never shows in Debug.
    assert!(!format!("{r1:?}").contains("4111"));
    assert!(!format!("{:?}", a.parse(&call, 0, &search_tx(vec![]))).contains("4111"));
    assert!(!format!("{call:?}").contains(PAN));
    // Tokenized: authorize (manual capture).
    let r2 = next(a.parse(
        &call,
        1,
        &ok(
            json!({ "data": { "tokenizeCreditCard": { "paymentMethod": { "id": "tokencc_1" } } } }),
        ),
    ));
    let b2 = body(&r2);
    assert!(b2["query"]
        .as_str()
        .unwrap()
        .contains("authorizePaymentMethod(input: $input)"));
    let input = &b2["variables"]["input"];
    assert_eq!(input["paymentMethodId"], "tokencc_1");
    assert_eq!(input["transaction"]["amount"], "10.50");
    assert_eq!(input["transaction"]["orderId"], "pay_1-authorize-1-bt");
    assert_eq!(input["transaction"]["merchantAccountId"], "acct_usd");
    assert_eq!(input["clientMutationId"], "pay_1-authorize-1-bt");
    assert!(!r2.body().contains(PAN));
    let o = done(a.parse(
        &call,
        2,
        &authorize_answer(false, tx("tx_1", "AUTHORIZED", "10.50", json!([]))),
    ));
    assert_eq!(
        o,
        Outcome::Approved {
            reference: "tx_1".into()
        }
    );
}

#[test]
fn automatic_capture_charges() {
    let c = card();
    let a = adapter("http://127.0.0.1:1", None);
    let call = authorize(&c, true);
    let r2 = next(a.parse(
        &call,
        1,
        &ok(
            json!({ "data": { "tokenizeCreditCard": { "paymentMethod": { "id": "tokencc_1" } } } }),
        ),
    ));
    let b2 = body(&r2);
    assert!(b2["query"]
        .as_str()
        .unwrap()
        .contains("chargePaymentMethod(input: $input)"));
    assert!(b2["variables"]["input"]["transaction"]
        .get("merchantAccountId")
        .is_none());
    for s in ["SUBMITTED_FOR_SETTLEMENT", "SETTLING", "SETTLED"] {
        let o = done(a.parse(
            &call,
            2,
            &authorize_answer(true, tx("tx_2", s, "10.50", json!([]))),
        ));
        assert_eq!(
            o,
            Outcome::Approved {
                reference: "tx_2".into()
            },
            "{s}"
        );
    }
}

#[test]
fn an_earlier_attempt_is_answered_not_resent() {
    let c = card();
    let a = bt();
    let call = authorize(&c, false);
    let o = done(a.parse(
        &call,
        0,
        &search_tx(vec![tx("tx_1", "AUTHORIZED", "10.50", json!([]))]),
    ));
    assert_eq!(
        o,
        Outcome::Approved {
            reference: "tx_1".into()
        }
    );
    let o = done(a.parse(&call, 0, &search_tx(vec![declined_tx("2001")])));
    assert!(matches!(o, Outcome::Declined(ref d) if d.decline_code == "insufficient_funds"));
    // A failed earlier attempt (certainly not charged): authorize anew.
    let failed = tx("tx_f", "FAILED", "10.50", json!([]));
    let r = next(a.parse(&call, 0, &search_tx(vec![failed])));
    assert!(body(&r)["query"]
        .as_str()
        .unwrap()
        .contains("tokenizeCreditCard"));
    // A different amount under the same key: unknown, for an operator.
    let o = done(a.parse(
        &call,
        0,
        &search_tx(vec![tx("tx_1", "AUTHORIZED", "99.00", json!([]))]),
    ));
    assert!(matches!(o, Outcome::Unknown { .. }), "{o:?}");
    // Two approved transactions under one key: unknown.
    let o = done(a.parse(
        &call,
        0,
        &search_tx(vec![
            tx("tx_1", "AUTHORIZED", "10.50", json!([])),
            tx("tx_2", "AUTHORIZED", "10.50", json!([])),
        ]),
    ));
    assert!(matches!(o, Outcome::Unknown { .. }), "{o:?}");
    // Still authorizing: unknown.
    let o = done(a.parse(
        &call,
        0,
        &search_tx(vec![tx("tx_1", "AUTHORIZING", "10.50", json!([]))]),
    ));
    assert!(matches!(o, Outcome::Unknown { .. }), "{o:?}");
}

#[test]
fn a_failed_tokenization_authorized_nothing() {
    let c = card();
    let a = bt();
    let call = authorize(&c, false);
    for d in [
        Delivery::Lost("timeout".into()),
        answered(500, json!({})),
        ok(
            json!({ "data": { "tokenizeCreditCard": null }, "errors": [{ "message": "Credit card number is invalid.", "extensions": { "errorClass": "VALIDATION", "legacyCode": "81715" } }] }),
        ),
        ok(json!({ "data": { "tokenizeCreditCard": { "paymentMethod": null } } })),
    ] {
        let o = done(a.parse(&call, 1, &d));
        assert!(matches!(o, Outcome::NotProcessed { .. }), "{d:?} {o:?}");
    }
}

#[test]
fn no_card_number_in_reasons() {
    let c = card();
    let a = bt();
    let call = authorize(&c, false);
    // A variable error quoting the input (as graphql-js words them).
    let echo = ok(
        json!({ "errors": [{ "message": format!("Variable \"$input\" got invalid value {{ creditCard: {{ number: \"{PAN}\", cvv: \"123\" }} }}"), "extensions": { "errorClass": "VALIDATION" } }] }),
    );
    for step in [1u8, 2] {
        let o = done(a.parse(&call, step, &echo));
        let text = format!("{o:?}");
        assert!(matches!(o, Outcome::NotProcessed { .. }), "{text}");
        assert!(
            !text.contains(PAN) && !text.contains("4111") && !text.contains("123"),
            "{text}"
        );
    }
    let d = decline_for_code("2500", Some(&format!("declined {PAN}")));
    assert!(!d.message.contains("4111"), "{}", d.message);
}

#[test]
fn every_processor_response_code_maps() {
    let c = card();
    let a = bt();
    let call = authorize(&c, false);
    for r in PROCESSOR_RESPONSES {
        let o = done(a.parse(&call, 2, &authorize_answer(false, declined_tx(r.code))));
        let Outcome::Declined(d) = o else {
            panic!("{} {o:?}", r.code)
        };
        assert_eq!(d.processor_code.as_deref(), Some(r.code));
        assert_eq!(d.decline_code, r.stripe, "{}", r.code);
        assert_eq!(d.class, r.class, "{}", r.code);
        assert!(!d.message.contains("4111"));
    }
    // The codes named by the brief.
    let class = |code: &str| decline_for_code(code, None);
    assert_eq!(class("2000").decline_code, "do_not_honor");
    assert_eq!(class("2000").class, Soft);
    assert_eq!(class("2001").class, Soft);
    assert_eq!(class("2002").class, Soft);
    assert_eq!(class("2003").class, Soft);
    assert_eq!(class("2004").class, Hard);
    assert_eq!(class("2005").class, Hard);
    assert_eq!(class("2010").decline_code, "incorrect_cvc");
    assert_eq!(class("2047").class, Hard);
    assert_eq!(class("2044").class, Hard);
    assert_eq!(class("2099").class, Auth);
    // The documented range and anything else.
    assert_eq!(class("2500").class, Soft);
    assert_eq!(class("2500").decline_code, "generic_decline");
    assert_eq!(class("9999").class, Hard);
    // Every documented code 2000-2108 and 3000 is in the table, once.
    let mut codes: Vec<&str> = PROCESSOR_RESPONSES.iter().map(|r| r.code).collect();
    codes.sort_unstable();
    codes.dedup();
    assert_eq!(codes.len(), PROCESSOR_RESPONSES.len());
    for n in 2000..=2108 {
        assert!(codes.contains(&n.to_string().as_str()), "{n}");
    }
    assert!(codes.contains(&"3000"));
}

#[test]
fn every_gateway_rejection_maps() {
    let c = card();
    let a = bt();
    let call = authorize(&c, false);
    for (reason, mapped) in GATEWAY_REJECTIONS {
        let o = done(a.parse(&call, 2, &authorize_answer(false, rejected_tx(reason))));
        match (mapped, &o) {
            (None, Outcome::NotProcessed { .. }) => {}
            (Some((stripe, class)), Outcome::Declined(d)) => {
                assert_eq!(d.decline_code, *stripe, "{reason}");
                assert_eq!(d.class, *class, "{reason}");
                assert_eq!(
                    d.processor_code.as_deref(),
                    Some(format!("gateway_rejected:{reason}").as_str())
                );
            }
            _ => panic!("{reason}: {o:?}"),
        }
    }
    // 5001.00 in the sandbox: application incomplete, not processed.
    let o = done(a.parse(
        &call,
        2,
        &authorize_answer(false, rejected_tx("APPLICATION_INCOMPLETE")),
    ));
    assert!(matches!(o, Outcome::NotProcessed { .. }));
    let o = done(a.parse(
        &call,
        2,
        &authorize_answer(false, rejected_tx("THREE_D_SECURE")),
    ));
    assert!(matches!(o, Outcome::Declined(ref d) if d.class == Auth));
    // An unknown reason is a hard decline.
    let o = done(a.parse(
        &call,
        2,
        &authorize_answer(false, rejected_tx("SOMETHING_NEW")),
    ));
    assert!(matches!(o, Outcome::Declined(ref d) if d.class == Hard));
}

#[test]
fn failed_is_not_processed() {
    let c = card();
    let call = authorize(&c, false);
    let failed = tx(
        "tx_f",
        "FAILED",
        "3000.00",
        json!([{ "__typename": "FailedEvent", "status": "FAILED", "processorResponse": { "legacyCode": "3000", "message": "Processor Network Unavailable - Try Again" } }]),
    );
    let o = done(bt().parse(&call, 2, &authorize_answer(false, failed)));
    assert!(
        matches!(o, Outcome::NotProcessed { ref reason } if reason.contains("3000")),
        "{o:?}"
    );
}

#[test]
fn transport_and_http_answers() {
    let c = card();
    let a = bt();
    let call = authorize(&c, false);
    for step in [0u8, 2] {
        let o = done(a.parse(&call, step, &Delivery::NotSent("refused".into())));
        assert!(matches!(o, Outcome::NotProcessed { .. }));
        let o = done(a.parse(&call, step, &Delivery::Lost("timeout".into())));
        assert!(matches!(o, Outcome::Unknown { .. }));
        let o = done(a.parse(&call, step, &answered(429, json!({}))));
        assert!(matches!(o, Outcome::NotProcessed { .. }));
        for d in [
            answered(500, json!({ "error": "x" })),
            answered(502, json!({})),
            answered(409, json!({ "message": "in progress" })),
            answered(418, json!({})),
            Delivery::Answered(WireResponse {
                status: 200,
                headers: vec![],
                body: "<html>gateway</html>".into(),
            }),
            ok(json!({ "data": null })),
            ok(json!({ "data": {}, "extensions": {} })),
        ] {
            let o = done(a.parse(&call, step, &d));
            assert!(
                matches!(o, Outcome::Unknown { .. }),
                "step {step} {d:?} {o:?}"
            );
        }
    }
}

#[test]
fn error_classes() {
    let c = card();
    let a = bt();
    let call = authorize(&c, false);
    let err = |class: &str, code: Option<&str>| {
        let mut ext = json!({ "errorClass": class });
        if let Some(code) = code {
            ext["legacyCode"] = json!(code);
        }
        ok(
            json!({ "data": { "authorizePaymentMethod": null }, "errors": [{ "message": "m", "extensions": ext }] }),
        )
    };
    for class in [
        "VALIDATION",
        "AUTHENTICATION",
        "AUTHORIZATION",
        "NOT_FOUND",
        "RESOURCE_LIMIT",
        "UNSUPPORTED_CLIENT",
    ] {
        let o = done(a.parse(&call, 2, &err(class, Some("91500"))));
        assert!(matches!(o, Outcome::NotProcessed { .. }), "{class} {o:?}");
    }
    for class in ["INTERNAL", "SERVICE_AVAILABILITY", "UNKNOWN", ""] {
        let o = done(a.parse(&call, 2, &err(class, None)));
        assert!(matches!(o, Outcome::Unknown { .. }), "{class} {o:?}");
    }
    // A processor response code in a validation error: a decline.
    let o = done(a.parse(&call, 2, &err("VALIDATION", Some("2001"))));
    assert!(matches!(o, Outcome::Declined(ref d) if d.decline_code == "insufficient_funds"));
    // 401 with an authentication error: not processed.
    let d = answered(
        401,
        json!({ "errors": [{ "message": "Authentication failed", "extensions": { "errorClass": "AUTHENTICATION" } }] }),
    );
    assert!(matches!(
        done(a.parse(&call, 2, &d)),
        Outcome::NotProcessed { .. }
    ));
    // One unknown error among validation errors: unknown.
    let d = ok(json!({ "errors": [
        { "message": "a", "extensions": { "errorClass": "VALIDATION" } },
        { "message": "b", "extensions": { "errorClass": "INTERNAL" } }
    ] }));
    assert!(matches!(
        done(a.parse(&call, 2, &d)),
        Outcome::Unknown { .. }
    ));
}

#[test]
fn capture_reads_then_captures() {
    let a = bt();
    let call = Call::Capture {
        key: "pay_1-capture-1-bt",
        reference: "tx_1",
        amount: 500,
        currency: "USD",
    };
    let r0 = a.build(&call);
    assert_eq!(body(&r0)["variables"]["input"]["id"]["is"], "tx_1");
    let r1 = next(a.parse(
        &call,
        0,
        &search_tx(vec![tx("tx_1", "AUTHORIZED", "10.50", json!([]))]),
    ));
    let b1 = body(&r1);
    assert!(b1["query"]
        .as_str()
        .unwrap()
        .contains("captureTransaction(input: $input)"));
    assert_eq!(b1["variables"]["input"]["transactionId"], "tx_1");
    assert_eq!(b1["variables"]["input"]["amount"], "5.00");
    let o = done(a.parse(&call, 1, &ok(json!({ "data": { "captureTransaction": { "transaction": tx("tx_1", "SUBMITTED_FOR_SETTLEMENT", "5.00", json!([])) } } }))));
    assert_eq!(
        o,
        Outcome::Approved {
            reference: "tx_1".into()
        }
    );
    // Already captured (a retry): approved without a second capture.
    let o = done(a.parse(
        &call,
        0,
        &search_tx(vec![tx("tx_1", "SETTLED", "5.00", json!([]))]),
    ));
    assert_eq!(
        o,
        Outcome::Approved {
            reference: "tx_1".into()
        }
    );
    // No such transaction: not processed.
    assert!(matches!(
        done(a.parse(&call, 0, &search_tx(vec![]))),
        Outcome::NotProcessed { .. }
    ));
    // Braintree refuses (e.g. voided): not processed.
    let refused = ok(
        json!({ "data": { "captureTransaction": null }, "errors": [{ "message": "Transaction can only be captured if status is authorized", "extensions": { "errorClass": "VALIDATION", "legacyCode": "91507" } }] }),
    );
    assert!(matches!(
        done(a.parse(&call, 1, &refused)),
        Outcome::NotProcessed { .. }
    ));
    assert!(matches!(
        done(a.parse(&call, 1, &Delivery::Lost("t".into()))),
        Outcome::Unknown { .. }
    ));
}

#[test]
fn void_reads_then_reverses() {
    let a = bt();
    let call = Call::Void {
        key: "pay_1-void-1-bt",
        reference: "tx_1",
    };
    let r1 = next(a.parse(
        &call,
        0,
        &search_tx(vec![tx("tx_1", "AUTHORIZED", "10.50", json!([]))]),
    ));
    let b1 = body(&r1);
    assert!(b1["query"]
        .as_str()
        .unwrap()
        .contains("reverseTransaction(input: $input)"));
    assert_eq!(b1["variables"]["input"]["transactionId"], "tx_1");
    let mut voided = tx("tx_1", "VOIDED", "10.50", json!([]));
    voided["__typename"] = json!("Transaction");
    let o = done(a.parse(
        &call,
        1,
        &ok(json!({ "data": { "reverseTransaction": { "reversal": voided } } })),
    ));
    assert_eq!(
        o,
        Outcome::Approved {
            reference: "tx_1".into()
        }
    );
    let refund =
        json!({ "__typename": "Refund", "id": "rf_1", "status": "SUBMITTED_FOR_SETTLEMENT" });
    let o = done(a.parse(
        &call,
        1,
        &ok(json!({ "data": { "reverseTransaction": { "reversal": refund } } })),
    ));
    assert_eq!(
        o,
        Outcome::Approved {
            reference: "rf_1".into()
        }
    );
    // Already voided: approved.
    let o = done(a.parse(
        &call,
        0,
        &search_tx(vec![tx("tx_1", "VOIDED", "10.50", json!([]))]),
    ));
    assert_eq!(
        o,
        Outcome::Approved {
            reference: "tx_1".into()
        }
    );
}

#[test]
fn refund_searches_then_refunds() {
    let a = bt();
    let call = Call::Refund {
        key: "pay_1-refund-1-bt",
        reference: "tx_1",
        amount: 250,
        currency: "USD",
    };
    let r0 = a.build(&call);
    let b0 = body(&r0);
    assert!(b0["query"].as_str().unwrap().contains("search { refunds("));
    assert_eq!(
        b0["variables"]["input"]["orderId"]["is"],
        "pay_1-refund-1-bt"
    );
    let r1 = next(a.parse(&call, 0, &search_refunds(vec![])));
    let b1 = body(&r1);
    assert!(b1["query"]
        .as_str()
        .unwrap()
        .contains("refundTransaction(input: $input)"));
    let input = &b1["variables"]["input"];
    assert_eq!(input["transactionId"], "tx_1");
    assert_eq!(input["refund"]["amount"], "2.50");
    assert_eq!(input["refund"]["orderId"], "pay_1-refund-1-bt");
    assert_eq!(input["refund"]["merchantAccountId"], "acct_usd");
    let refund = json!({ "id": "rf_1", "status": "SUBMITTED_FOR_SETTLEMENT", "amount": { "value": "2.50" }, "refundedTransaction": { "id": "tx_1" } });
    let o = done(a.parse(
        &call,
        1,
        &ok(json!({ "data": { "refundTransaction": { "refund": refund.clone() } } })),
    ));
    assert_eq!(
        o,
        Outcome::Approved {
            reference: "rf_1".into()
        }
    );
    // A retry finds the refund: no second refund.
    let o = done(a.parse(&call, 0, &search_refunds(vec![refund])));
    assert_eq!(
        o,
        Outcome::Approved {
            reference: "rf_1".into()
        }
    );
    // Not settled yet (Braintree 91506): not processed.
    let refused = ok(
        json!({ "data": { "refundTransaction": null }, "errors": [{ "message": "Cannot refund transaction unless it is settled.", "extensions": { "errorClass": "VALIDATION", "legacyCode": "91506" } }] }),
    );
    assert!(matches!(
        done(a.parse(&call, 1, &refused)),
        Outcome::NotProcessed { .. }
    ));
}

#[test]
fn lookups() {
    let a = bt();
    let call = Call::Lookup {
        key: "pay_1-authorize-1-bt",
        of: Looked::Authorize {
            amount: 1050,
            currency: "USD",
        },
    };
    let r = a.build(&call);
    assert_eq!(
        body(&r)["variables"]["input"]["orderId"]["is"],
        "pay_1-authorize-1-bt"
    );
    let o = done(a.parse(
        &call,
        0,
        &search_tx(vec![tx("tx_1", "SETTLED", "10.50", json!([]))]),
    ));
    assert_eq!(
        o,
        Outcome::Approved {
            reference: "tx_1".into()
        }
    );
    let o = done(a.parse(&call, 0, &search_tx(vec![declined_tx("2000")])));
    assert!(matches!(o, Outcome::Declined(_)));
    let o = done(a.parse(&call, 0, &search_tx(vec![])));
    assert!(matches!(o, Outcome::NotProcessed { .. }));
    let o = done(a.parse(&call, 0, &Delivery::Lost("t".into())));
    assert!(matches!(o, Outcome::Unknown { .. }));
    let o = done(a.parse(&call, 0, &ok(json!({ "data": { "search": {} } }))));
    assert!(matches!(o, Outcome::Unknown { .. }));

    let call = Call::Lookup {
        key: "pay_1-refund-1-bt",
        of: Looked::Refund {
            reference: "tx_1",
            amount: 250,
            currency: "USD",
        },
    };
    let r = a.build(&call);
    assert!(body(&r)["query"].as_str().unwrap().contains("refunds("));
    let refund = json!({ "id": "rf_1", "status": "SETTLED", "amount": { "value": "2.50" }, "refundedTransaction": { "id": "tx_1" } });
    let o = done(a.parse(&call, 0, &search_refunds(vec![refund])));
    assert_eq!(
        o,
        Outcome::Approved {
            reference: "rf_1".into()
        }
    );
    let other = json!({ "id": "rf_2", "status": "SETTLED", "amount": { "value": "2.50" }, "refundedTransaction": { "id": "tx_9" } });
    let o = done(a.parse(&call, 0, &search_refunds(vec![other])));
    assert!(matches!(o, Outcome::NotProcessed { .. }));
    assert!(matches!(
        done(a.parse(&call, 0, &search_refunds(vec![]))),
        Outcome::NotProcessed { .. }
    ));
}

#[test]
fn no_step_beyond_the_last() {
    let c = card();
    assert!(matches!(
        done(bt().parse(&authorize(&c, false), 3, &ok(json!({})))),
        Outcome::Unknown { .. }
    ));
}

#[test]
fn adapter_for_makes_it() {
    let mut config = ProcessorConfig::sandbox("bt");
    config.kind = ProcessorKind::Braintree;
    config.base_url = Some("https://x".into());
    let creds = Credentials {
        api_key: None,
        public_key: Some("p".into()),
        private_key: Some("s".into()),
    };
    let a = crate::adapter_for(&config, Some(&creds)).unwrap();
    assert_eq!(a.kind(), "braintree");
    assert!(crate::adapter_for(&config, None).is_none());
}

/// Writes every document the adapter can send, one JSON array, to the file
/// named by `BRAINTREE_DOCUMENTS_OUT` (the runner validates them against
/// the schema); does nothing without it.
#[test]
fn write_documents() {
    if let Ok(path) = std::env::var("BRAINTREE_DOCUMENTS_OUT") {
        std::fs::write(path, serde_json::to_string(&documents()).unwrap()).unwrap();
    }
    assert_eq!(documents().len(), 8);
}
