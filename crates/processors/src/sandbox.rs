//! The built-in `sandbox` processor: a simulated processor test environment.
//!
//! Two halves, both pure:
//! - [`SandboxAdapter`], the worker's adapter for it (like any other
//!   processor: build a JSON request, parse the answer);
//! - [`simulate`], the processor's own decision logic: Stripe's test card
//!   numbers pick the answer, and its ledger (authorizations, captures,
//!   refunds, idempotency) is kept by the caller (a Durable Object).
//!
//! The wire format: `POST {base}/{processor_id}/v1/{op}` with a JSON body
//! and an `Idempotency-Key` header; answers `200 {"status": ..., "reference"}`,
//! `402 {"status": "declined", "decline_code", "processor_code"}`, `400` for
//! an invalid request, `429`, or `503` with `Sandbox-Not-Processed: true`.
//! `POST {base}/{processor_id}/v1/lookup` with the `Idempotency-Key` of an
//! earlier call answers that call's stored answer again, or `404` when the
//! processor never processed it.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::adapter::{Adapter, Call, Delivery, Outcome, Parsed, WireRequest};
use crate::config::{FailureMode, ProcessorConfig};
use crate::decline::Decline;

/// The sandbox's base URL; the worker routes it to the sandbox Durable Object.
pub const SANDBOX_BASE: &str = "https://sandbox.switchyard.invalid";

/// Header carrying the processor's simulated behaviour to the simulator.
pub const BEHAVIOUR_HEADER: &str = "Sandbox-Behaviour";

pub struct SandboxAdapter {
    config: ProcessorConfig,
}

impl SandboxAdapter {
    pub fn new(config: ProcessorConfig) -> Self {
        SandboxAdapter { config }
    }
}

/// The simulator's view of a processor's behaviour, sent with each request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Behaviour {
    pub latency_ms: u32,
    pub failure: Option<FailureMode>,
    pub slow_ms: u32,
    /// For `timeout_after_accept`: how long the lost answer is held back.
    pub hold_ms: u32,
}

impl Adapter for SandboxAdapter {
    fn kind(&self) -> &'static str {
        "sandbox"
    }

    fn timeout_ms(&self) -> u32 {
        self.config.timeout_ms
    }

    fn build(&self, call: &Call<'_>) -> WireRequest {
        let body = match call {
            Call::Authorize {
                amount,
                currency,
                capture,
                card,
                facts,
                payment_id,
                ..
            } => json!({
                "amount": amount, "currency": currency, "capture": capture,
                "reference": payment_id,
                "card": { "number": card.number(), "cvc": card.cvc(),
                          "exp_month": facts.exp_month, "exp_year": facts.exp_year },
            }),
            Call::Capture {
                reference,
                amount,
                currency,
                ..
            } => json!({ "payment": reference, "amount": amount, "currency": currency }),
            Call::Void { reference, .. } => json!({ "payment": reference }),
            Call::Lookup { .. } => json!({}),
            Call::Refund {
                reference,
                amount,
                currency,
                ..
            } => json!({ "payment": reference, "amount": amount, "currency": currency }),
        };
        let behaviour = Behaviour {
            latency_ms: self.config.latency_ms,
            failure: self.config.failure,
            slow_ms: self.config.slow_ms,
            hold_ms: self.config.timeout_ms.saturating_mul(3).max(1000),
        };
        let behaviour = serde_json::to_string(&behaviour).unwrap_or_default();
        WireRequest::new(
            "POST",
            format!("{SANDBOX_BASE}/{}/v1/{}", self.config.id, call.op()),
            vec![
                ("content-type".to_owned(), "application/json".to_owned()),
                ("idempotency-key".to_owned(), call.key().to_owned()),
                (BEHAVIOUR_HEADER.to_owned(), behaviour),
            ],
            body.to_string(),
        )
    }

    fn parse(&self, call: &Call<'_>, _step: u8, delivery: &Delivery) -> Parsed {
        let outcome = outcome_of(delivery);
        // A lookup's "not processed" means "no record of the call": only the
        // sandbox's own 404 says that. A lookup that was not sent, or was
        // refused (429, invalid), tells nothing.
        let no_record = matches!(delivery, Delivery::Answered(r) if r.status == 404);
        match (call, outcome) {
            (Call::Lookup { .. }, Outcome::NotProcessed { reason }) if !no_record => {
                Parsed::Done(Outcome::Unknown {
                    reason: format!("the lookup was not answered: {reason}"),
                })
            }
            (_, outcome) => Parsed::Done(outcome),
        }
    }
}

fn outcome_of(delivery: &Delivery) -> Outcome {
    {
        let resp = match delivery {
            Delivery::NotSent(reason) => {
                return Outcome::NotProcessed {
                    reason: reason.clone(),
                }
            }
            Delivery::Lost(reason) => {
                return Outcome::Unknown {
                    reason: reason.clone(),
                }
            }
            Delivery::Answered(r) => r,
        };
        let not_processed = resp.header("sandbox-not-processed") == Some("true");
        let body: Value = match serde_json::from_str(&resp.body) {
            Ok(v) => v,
            Err(_) => {
                return Outcome::Unknown {
                    reason: format!("unreadable answer ({})", resp.status),
                }
            }
        };
        let s = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_owned);
        sandbox_outcome(resp.status, s("status").as_deref(), not_processed, &s)
    }
}

/// The sandbox's documented answers, as the one outcome vocabulary. The
/// HTTP status alone never decides "not processed": only an answer that
/// says so (the sandbox refused the request itself, was rate limited, had
/// no record of a looked-up call, or marked an outage as not processed).
/// Anything else it does not document (a 409 in progress, an unknown 4xx,
/// a 5xx) is unknown, never a reason to try another processor.
fn sandbox_outcome(
    http: u16,
    status: Option<&str>,
    marked_not_processed: bool,
    field: &dyn Fn(&str) -> Option<String>,
) -> Outcome {
    let not_processed = |why: &str| Outcome::NotProcessed {
        reason: field("message").unwrap_or_else(|| why.to_owned()),
    };
    match (http, status) {
        (200, Some("authorized" | "captured" | "voided" | "refunded")) => {
            match field("reference") {
                Some(reference) => Outcome::Approved { reference },
                None => Outcome::Unknown {
                    reason: "answer without a reference".to_owned(),
                },
            }
        }
        (402, Some("declined")) => {
            let code = field("decline_code").unwrap_or_else(|| "generic_decline".to_owned());
            Outcome::Declined(Decline::from_stripe_code(&code, field("processor_code")))
        }
        (400, Some("invalid")) => not_processed("refused as invalid"),
        (429, Some("rate_limited")) => not_processed("rate limited"),
        (404, Some("not_found")) => not_processed("no record of the call"),
        // The sandbox's own marker on an outage's answer.
        (500..=599, _) if marked_not_processed => not_processed("unavailable, not processed"),
        (other, status) => Outcome::Unknown {
            reason: format!(
                "undocumented answer ({other}, {})",
                status.unwrap_or("no status")
            ),
        },
    }
}

// ---- the simulated processor -------------------------------------------------

/// A request as the simulator reads it. The card part is only read, never
/// kept: `Debug` prints no card data.
#[derive(Deserialize)]
pub struct SandboxRequest {
    #[serde(default)]
    pub amount: Option<u64>,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub capture: Option<bool>,
    #[serde(default)]
    pub reference: Option<String>,
    #[serde(default)]
    pub payment: Option<String>,
    #[serde(default)]
    pub card: Option<SandboxCard>,
}

#[derive(Deserialize)]
pub struct SandboxCard {
    pub number: String,
    #[serde(default)]
    pub cvc: Option<String>,
    #[serde(default)]
    pub exp_month: Option<u32>,
    #[serde(default)]
    pub exp_year: Option<u32>,
}

impl std::fmt::Debug for SandboxRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxRequest")
            .field("amount", &self.amount)
            .field("payment", &self.payment)
            .finish_non_exhaustive()
    }
}

/// One payment in the sandbox's ledger (no card data).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxPayment {
    pub reference: String,
    pub amount: u64,
    pub currency: String,
    pub captured: u64,
    pub refunded: u64,
    pub voided: bool,
    pub last4: String,
}

/// The simulator's answer: status, JSON body, and the ledger entry to store
/// (new or updated) when the call changed it.
#[derive(Clone, Debug, PartialEq)]
pub struct SandboxReply {
    pub status: u16,
    pub body: Value,
    pub not_processed: bool,
    pub ledger: Option<SandboxPayment>,
}

fn reply(status: u16, body: Value) -> SandboxReply {
    SandboxReply {
        status,
        body,
        not_processed: false,
        ledger: None,
    }
}

/// The answer of Stripe's test card numbers: `None` approves, otherwise the
/// decline code and the issuer's (ISO 8583-style) response code.
pub fn test_card_decline(number: &str, cvc: Option<&str>) -> Option<(&'static str, &'static str)> {
    let d = match number {
        "4000000000000002" | "4000000000000341" => ("generic_decline", "05"),
        "4000000000009995" => ("insufficient_funds", "51"),
        "4000000000009987" => ("lost_card", "41"),
        "4000000000009979" => ("stolen_card", "43"),
        "4000000000000069" => ("expired_card", "54"),
        "4000000000000127" => ("incorrect_cvc", "N7"),
        "4000000000000119" => ("processing_error", "96"),
        "4100000000000019" => ("fraudulent", "59"),
        "4000002500003155" | "4000002760003184" | "4000000000003220" => {
            ("authentication_required", "1A")
        }
        _ => {
            if cvc == Some("000") {
                ("incorrect_cvc", "N7")
            } else {
                return None;
            }
        }
    };
    Some(d)
}

/// Decides one call. `op` is the last path segment; `existing` is the ledger
/// entry the call refers to (capture/void/refund), looked up by the caller;
/// `new_reference` names a new authorization or refund.
pub fn simulate(
    op: &str,
    req: &SandboxRequest,
    existing: Option<&SandboxPayment>,
    new_reference: &str,
    behaviour: Option<&Behaviour>,
) -> SandboxReply {
    match behaviour.and_then(|b| b.failure) {
        Some(FailureMode::Outage) => {
            let mut r = reply(
                503,
                json!({"status": "unavailable", "message": "processor outage (simulated)"}),
            );
            r.not_processed = true;
            return r;
        }
        Some(FailureMode::RateLimited) => {
            return reply(
                429,
                json!({"status": "rate_limited", "message": "too many requests (simulated)"}),
            )
        }
        _ => {}
    }
    let invalid = |m: &str| reply(400, json!({"status": "invalid", "message": m}));
    match op {
        "authorize" => {
            let (Some(amount), Some(currency), Some(card)) =
                (req.amount, req.currency.as_deref(), req.card.as_ref())
            else {
                return invalid("amount, currency and card are required");
            };
            if amount == 0 {
                return invalid("amount must be positive");
            }
            if let Some((code, issuer_code)) = test_card_decline(&card.number, card.cvc.as_deref())
            {
                return reply(
                    402,
                    json!({"status": "declined", "decline_code": code, "processor_code": issuer_code}),
                );
            }
            let capture = req.capture.unwrap_or(true);
            let last4 = switchyard_rules::last4_of(card.number.as_bytes());
            let entry = SandboxPayment {
                reference: new_reference.to_owned(),
                amount,
                currency: currency.to_owned(),
                captured: if capture { amount } else { 0 },
                refunded: 0,
                voided: false,
                last4,
            };
            let mut r = reply(
                200,
                json!({"status": if capture { "captured" } else { "authorized" }, "reference": new_reference}),
            );
            r.ledger = Some(entry);
            r
        }
        "capture" | "void" | "refund" => {
            let Some(p) = existing else {
                return reply(
                    404,
                    json!({"status": "invalid", "message": "no such payment"}),
                );
            };
            let mut p = p.clone();
            let amount = req.amount.unwrap_or(0);
            match op {
                "capture" => {
                    if p.voided || p.captured > 0 || amount == 0 || amount > p.amount {
                        return invalid("cannot capture this amount");
                    }
                    p.captured = amount;
                    let mut r = reply(200, json!({"status": "captured", "reference": p.reference}));
                    r.ledger = Some(p);
                    r
                }
                "void" => {
                    if p.voided || p.captured > 0 {
                        return invalid("cannot void a captured payment");
                    }
                    p.voided = true;
                    let mut r = reply(200, json!({"status": "voided", "reference": p.reference}));
                    r.ledger = Some(p);
                    r
                }
                _ => {
                    if amount == 0 || p.refunded.saturating_add(amount) > p.captured {
                        return invalid("refund exceeds the captured amount");
                    }
                    p.refunded += amount;
                    let mut r = reply(
                        200,
                        json!({"status": "refunded", "reference": new_reference}),
                    );
                    r.ledger = Some(p);
                    r
                }
            }
        }
        _ => reply(
            404,
            json!({"status": "invalid", "message": "unknown operation"}),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each documented sandbox answer, and undocumented ones, as outcomes:
    /// no HTTP status alone means "not processed".
    #[test]
    fn the_outcome_vocabulary() {
        let outcome = |status: u16, headers: &[(&str, &str)], body: &str| {
            outcome_of(&Delivery::Answered(crate::adapter::WireResponse {
                status,
                headers: headers
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
                body: body.to_owned(),
            }))
        };
        let kind = |o: &Outcome| match o {
            Outcome::Approved { .. } => "approved",
            Outcome::Declined(_) => "declined",
            Outcome::NotProcessed { .. } => "not_processed",
            Outcome::Unknown { .. } => "unknown",
        };
        let np = [("sandbox-not-processed", "true")];
        // (HTTP status, headers, body, the outcome's kind)
        type Case<'a> = (u16, &'a [(&'a str, &'a str)], &'a str, &'a str);
        let cases: &[Case] = &[
            (
                200,
                &[],
                r#"{"status":"authorized","reference":"sbx_1"}"#,
                "approved",
            ),
            (
                200,
                &[],
                r#"{"status":"captured","reference":"sbx_1"}"#,
                "approved",
            ),
            (
                200,
                &[],
                r#"{"status":"voided","reference":"sbx_1"}"#,
                "approved",
            ),
            (
                200,
                &[],
                r#"{"status":"refunded","reference":"sbr_1"}"#,
                "approved",
            ),
            (200, &[], r#"{"status":"captured"}"#, "unknown"),
            (
                402,
                &[],
                r#"{"status":"declined","decline_code":"insufficient_funds"}"#,
                "declined",
            ),
            (
                400,
                &[],
                r#"{"status":"invalid","message":"no such payment"}"#,
                "not_processed",
            ),
            (429, &[], r#"{"status":"rate_limited"}"#, "not_processed"),
            (404, &[], r#"{"status":"not_found"}"#, "not_processed"),
            (503, &np, r#"{"status":"unavailable"}"#, "not_processed"),
            // Undocumented: unknown, whatever the status.
            (503, &[], r#"{"status":"unavailable"}"#, "unknown"),
            (409, &[], r#"{"status":"in_progress"}"#, "unknown"),
            (429, &[], r#"{"message":"slow down"}"#, "unknown"),
            (418, &[], r#"{"status":"teapot"}"#, "unknown"),
            (400, &[], r#"{"status":"weird"}"#, "unknown"),
            (500, &[], r#"{"status":"error"}"#, "unknown"),
            (200, &[], "not json", "unknown"),
        ];
        for (status, headers, body, expected) in cases {
            assert_eq!(
                kind(&outcome(*status, headers, body)),
                *expected,
                "{status} {body}"
            );
        }
        let declined = outcome(
            402,
            &[],
            r#"{"status":"declined","decline_code":"stolen_card","processor_code":"43"}"#,
        );
        let Outcome::Declined(d) = declined else {
            panic!("declined")
        };
        assert_eq!(
            (d.decline_code.as_str(), d.processor_code.as_deref()),
            ("stolen_card", Some("43"))
        );
    }
    use crate::adapter::WireResponse;
    use crate::card::Card;
    use crate::decline::DeclineClass;

    fn req(v: Value) -> SandboxRequest {
        serde_json::from_value(v).unwrap_or_else(|e| panic!("{e}"))
    }

    fn auth(number: &str, capture: bool) -> SandboxReply {
        let r = req(
            json!({"amount": 1000, "currency": "usd", "capture": capture,
                           "card": {"number": number, "cvc": "123"}}),
        );
        simulate("authorize", &r, None, "sbx_1", None)
    }

    #[test]
    fn test_cards_decide() {
        let ok = auth("4242424242424242", true);
        assert_eq!(ok.status, 200);
        assert_eq!(ok.ledger.as_ref().map(|l| l.captured), Some(1000));
        assert_eq!(ok.ledger.as_ref().map(|l| l.last4.as_str()), Some("4242"));
        let cases = [
            ("4000000000000002", "generic_decline"),
            ("4000000000009995", "insufficient_funds"),
            ("4000000000009987", "lost_card"),
            ("4000000000009979", "stolen_card"),
            ("4000000000000069", "expired_card"),
            ("4000000000000127", "incorrect_cvc"),
            ("4000000000000119", "processing_error"),
            ("4000002500003155", "authentication_required"),
        ];
        for (n, code) in cases {
            let r = auth(n, true);
            assert_eq!(r.status, 402, "{n}");
            assert_eq!(r.body["decline_code"], code, "{n}");
            assert!(r.ledger.is_none());
        }
    }

    #[test]
    fn ledger_operations() {
        let a = auth("4242424242424242", false);
        let entry = a.ledger.unwrap_or_else(|| panic!("no ledger"));
        assert_eq!(entry.captured, 0);
        let over = simulate(
            "capture",
            &req(json!({"amount": 2000})),
            Some(&entry),
            "",
            None,
        );
        assert_eq!(over.status, 400);
        let cap = simulate(
            "capture",
            &req(json!({"amount": 600})),
            Some(&entry),
            "",
            None,
        );
        assert_eq!(cap.status, 200);
        let entry = cap.ledger.unwrap_or_else(|| panic!("no ledger"));
        let r1 = simulate(
            "refund",
            &req(json!({"amount": 500})),
            Some(&entry),
            "sbr_1",
            None,
        );
        assert_eq!(r1.status, 200);
        let entry = r1.ledger.unwrap_or_else(|| panic!("no ledger"));
        let r2 = simulate(
            "refund",
            &req(json!({"amount": 200})),
            Some(&entry),
            "sbr_2",
            None,
        );
        assert_eq!(r2.status, 400, "refunds never exceed the captured amount");
        let v = simulate("void", &req(json!({})), Some(&entry), "", None);
        assert_eq!(v.status, 400);
        let missing = simulate("capture", &req(json!({"amount": 1})), None, "", None);
        assert_eq!(missing.status, 404);
    }

    #[test]
    fn failure_modes() {
        let b = Behaviour {
            latency_ms: 0,
            failure: Some(FailureMode::Outage),
            slow_ms: 0,
            hold_ms: 0,
        };
        let r =
            req(json!({"amount": 1, "currency": "usd", "card": {"number": "4242424242424242"}}));
        let o = simulate("authorize", &r, None, "x", Some(&b));
        assert_eq!((o.status, o.not_processed), (503, true));
        let b = Behaviour {
            failure: Some(FailureMode::RateLimited),
            ..b
        };
        assert_eq!(simulate("authorize", &r, None, "x", Some(&b)).status, 429);
    }

    #[test]
    fn adapter_round_trip() {
        let done = |p: Parsed| match p {
            Parsed::Done(o) => o,
            Parsed::Next(r) => panic!("a second request: {r:?}"),
        };
        let card = Card::from_raw("4000000000009995", 12, 2030, Some("123"));
        let card = card.unwrap_or_else(|e| panic!("{e:?}"));
        let a = SandboxAdapter::new(ProcessorConfig::sandbox("sandbox_a"));
        let call = Call::Authorize {
            key: "pi_1-authorize-1-sandbox_a",
            payment_id: "pi_1",
            amount: 1000,
            currency: "usd",
            capture: true,
            card: &card.secret,
            facts: &card.facts,
            descriptor: Default::default(),
        };
        let w = a.build(&call);
        assert_eq!(
            w.url,
            "https://sandbox.switchyard.invalid/sandbox_a/v1/authorize"
        );
        assert!(!format!("{w:?}").contains("4000000000009995"));
        let parsed = req(serde_json::from_str(w.body()).unwrap_or_default());
        let r = simulate("authorize", &parsed, None, "sbx_9", None);
        let d = Delivery::Answered(WireResponse {
            status: r.status,
            headers: vec![],
            body: r.body.to_string(),
        });
        match done(a.parse(&call, 0, &d)) {
            Outcome::Declined(d) => {
                assert_eq!(d.decline_code, "insufficient_funds");
                assert_eq!(d.class, DeclineClass::Soft);
                assert_eq!(d.processor_code.as_deref(), Some("51"));
            }
            other => panic!("{other:?}"),
        }
        let lookup = Call::Lookup {
            key: "pi_1-authorize-1-sandbox_a",
            of: crate::adapter::Looked::Authorize {
                amount: 1000,
                currency: "usd",
            },
        };
        for d in [
            Delivery::NotSent("refused".into()),
            Delivery::Answered(WireResponse {
                status: 429,
                headers: vec![],
                body: r#"{"status":"rate_limited"}"#.into(),
            }),
        ] {
            assert!(
                matches!(done(a.parse(&lookup, 0, &d)), Outcome::Unknown { .. }),
                "a lookup that was not answered says nothing: {d:?}"
            );
        }
        let no_record = Delivery::Answered(WireResponse {
            status: 404,
            headers: vec![],
            body: r#"{"status":"not_found"}"#.into(),
        });
        assert!(matches!(
            done(a.parse(&lookup, 0, &no_record)),
            Outcome::NotProcessed { .. }
        ));
        let lost = done(a.parse(&call, 0, &Delivery::Lost("timeout".into())));
        assert!(matches!(lost, Outcome::Unknown { .. }));
        let not_sent = done(a.parse(&call, 0, &Delivery::NotSent("refused".into())));
        assert!(matches!(not_sent, Outcome::NotProcessed { .. }));
        let unexplained = Delivery::Answered(WireResponse {
            status: 500,
            headers: vec![],
            body: String::new(),
        });
        assert!(matches!(
            done(a.parse(&call, 0, &unexplained)),
            Outcome::Unknown { .. }
        ));
        let outage = Delivery::Answered(WireResponse {
            status: 503,
            headers: vec![("Sandbox-Not-Processed".into(), "true".into())],
            body: "{}".into(),
        });
        assert!(matches!(
            done(a.parse(&call, 0, &outage)),
            Outcome::NotProcessed { .. }
        ));
    }
}
