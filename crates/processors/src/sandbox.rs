//! The built-in `sandbox` processor: a simulated processor test environment.
//!
//! Two halves, both pure:
//! - [`SandboxAdapter`], the worker's adapter for it (like any other
//!   processor: build a JSON request, parse the answer);
//! - [`simulate`], the processor's own decision logic: Stripe's test card
//!   numbers pick the answer, and its ledger (authorizations, captures,
//!   refunds, idempotency) is kept by the caller (a Durable Object);
//!   [`simulate_with`] adds the sandbox's [`Controls`] (a decline spike:
//!   a share of authorizations declined, drawn from each payment's
//!   reference), which the caller keeps too.
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

use sha2::{Digest, Sha256};

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

// ---- the sandbox's controls (a decline spike) -------------------------------

/// The scale of a decline share: millionths.
pub const SHARE_SCALE: u32 = 1_000_000;

/// The decline code of a decline spike unless another is set: soft, so
/// that a plan moves on to its next processor (`decline::classify`).
pub const DEFAULT_SPIKE_CODE: &str = "try_again_later";

/// The decline codes a spike may answer, each with the issuer's (ISO
/// 8583-style) response code the sandbox gives with it. Every one is soft
/// (a test checks it against `decline::classify`): a spike rehearses a
/// processor declining what another may approve.
pub const SPIKE_CODES: &[(&str, &str)] = &[
    ("try_again_later", "19"),
    ("reenter_transaction", "19"),
    ("issuer_not_available", "91"),
    ("processing_error", "96"),
    ("generic_decline", "05"),
    ("do_not_honor", "05"),
    ("insufficient_funds", "51"),
    ("call_issuer", "01"),
    ("approve_with_id", "08"),
    ("card_velocity_exceeded", "61"),
    ("withdrawal_count_limit_exceeded", "65"),
    ("service_not_allowed", "57"),
    ("transaction_not_allowed", "57"),
    ("not_permitted", "57"),
];

/// The issuer code a spike answers with `decline_code`, or `None` when a
/// spike cannot answer that code.
pub fn spike_code(decline_code: &str) -> Option<&'static str> {
    SPIKE_CODES
        .iter()
        .find(|(c, _)| *c == decline_code)
        .map(|(_, issuer)| *issuer)
}

/// A sandbox's controls, set by `POST /v1/sandbox/processors/:id` and
/// kept in its object's storage (unlike `Behaviour`, which comes from the
/// processors' configuration with each request).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Controls {
    /// The share of authorizations declined, in millionths (0 to
    /// `SHARE_SCALE`): those whose reference draws under it.
    pub decline_ppm: u32,
    /// The decline code they get (one of `SPIKE_CODES`).
    pub decline_code: String,
}

impl Default for Controls {
    fn default() -> Self {
        Controls {
            decline_ppm: 0,
            decline_code: DEFAULT_SPIKE_CODE.to_owned(),
        }
    }
}

/// A change of the controls: `None` keeps a control as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlsUpdate {
    pub decline_ppm: Option<u32>,
    pub decline_code: Option<String>,
}

impl Controls {
    /// These controls with `u` applied (a share above the scale is the
    /// whole scale; a code a spike cannot answer keeps the current one:
    /// the API refuses both before).
    pub fn with(&self, u: &ControlsUpdate) -> Controls {
        Controls {
            decline_ppm: u
                .decline_ppm
                .map_or(self.decline_ppm, |p| p.min(SHARE_SCALE)),
            decline_code: match &u.decline_code {
                Some(c) if spike_code(c).is_some() => c.clone(),
                _ => self.decline_code.clone(),
            },
        }
    }

    /// The controls as the API shows them.
    pub fn view(&self) -> Value {
        json!({
            "decline_share": f64::from(self.decline_ppm) / f64::from(SHARE_SCALE),
            "decline_code": self.decline_code,
        })
    }

    /// Whether a spike declines the authorization of `reference`.
    pub fn declines(&self, reference: &str) -> bool {
        self.decline_ppm > 0 && decline_draw(reference) < self.decline_ppm
    }
}

/// The spike's draw for an authorization, from 0 to `SHARE_SCALE` - 1:
/// the first 8 bytes of SHA-256 of `sandbox-decline:` and the reference,
/// big-endian, modulo the scale. The same reference always draws the same
/// (a payment declined by a spike is declined again at the same share);
/// the prefix keeps it apart from the routing key's split and exploration
/// draws (the reference is the payment id, also its routing key).
pub fn decline_draw(reference: &str) -> u32 {
    let digest = Sha256::digest(format!("sandbox-decline:{reference}").as_bytes());
    let mut b = [0u8; 8];
    b.copy_from_slice(&digest[..8]);
    (u64::from_be_bytes(b) % u64::from(SHARE_SCALE)) as u32
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
    simulate_with(
        op,
        req,
        existing,
        new_reference,
        behaviour,
        &Controls::default(),
    )
}

/// [`simulate`] with the sandbox's controls: an authorization the test card
/// would approve is declined with the controls' code when its reference
/// (the payment id; else the new reference) draws under the decline share.
/// Outages and rate limits come first (nothing is processed), then the test
/// cards' own answers (a stolen card stays stolen).
pub fn simulate_with(
    op: &str,
    req: &SandboxRequest,
    existing: Option<&SandboxPayment>,
    new_reference: &str,
    behaviour: Option<&Behaviour>,
    controls: &Controls,
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
            let drawn = req.reference.as_deref().unwrap_or(new_reference);
            if controls.declines(drawn) {
                let issuer_code = spike_code(&controls.decline_code).unwrap_or("05");
                return reply(
                    402,
                    json!({"status": "declined", "decline_code": controls.decline_code, "processor_code": issuer_code}),
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

    fn spike(share_ppm: u32, code: &str) -> Controls {
        Controls {
            decline_ppm: share_ppm,
            decline_code: code.to_owned(),
        }
    }

    fn auth_ref(number: &str, reference: &str, controls: &Controls) -> SandboxReply {
        let r = req(
            json!({"amount": 1000, "currency": "usd", "reference": reference,
                           "card": {"number": number, "cvc": "123"}}),
        );
        simulate_with("authorize", &r, None, "sbx_1", None, controls)
    }

    #[test]
    fn spike_codes_are_soft_declines() {
        assert_eq!(spike_code(DEFAULT_SPIKE_CODE), Some("19"));
        for (code, _) in SPIKE_CODES {
            assert_eq!(crate::decline::classify(code), DeclineClass::Soft, "{code}");
        }
        assert_eq!(spike_code("stolen_card"), None);
        assert_eq!(spike_code("nope"), None);
    }

    #[test]
    fn the_decline_draw_is_the_references_and_spreads_evenly() {
        let refs: Vec<String> = (0..20_000).map(|i| format!("pi_{i:024}")).collect();
        for r in &refs[..50] {
            assert_eq!(decline_draw(r), decline_draw(r));
            assert!(decline_draw(r) < SHARE_SCALE);
        }
        // The share declined is the share asked, within 1 % over 20,000
        // references (the draw is fixed: this is no matter of luck).
        for share in [100_000u32, 300_000, 500_000, 900_000] {
            let c = spike(share, DEFAULT_SPIKE_CODE);
            let n = refs.iter().filter(|r| c.declines(r)).count();
            let want = refs.len() as f64 * f64::from(share) / f64::from(SHARE_SCALE);
            assert!(
                (n as f64 - want).abs() < refs.len() as f64 * 0.01,
                "{share}: {n}"
            );
        }
        assert!(refs.iter().all(|r| spike(SHARE_SCALE, "x").declines(r)));
        assert!(!refs.iter().any(|r| Controls::default().declines(r)));
        // A larger share declines every reference a smaller one did.
        let (lo, hi) = (spike(200_000, "x"), spike(600_000, "x"));
        assert!(refs.iter().all(|r| !lo.declines(r) || hi.declines(r)));
    }

    #[test]
    fn a_decline_spike_declines_approvals_by_reference() {
        let all = spike(SHARE_SCALE, "issuer_not_available");
        let r = auth_ref("4242424242424242", "pi_1", &all);
        assert_eq!(r.status, 402);
        assert_eq!(r.body["decline_code"], "issuer_not_available");
        assert_eq!(r.body["processor_code"], "91");
        assert!(r.ledger.is_none(), "a declined authorization holds nothing");
        // The test cards' own answers come first.
        let stolen = auth_ref("4000000000009979", "pi_1", &all);
        assert_eq!(stolen.body["decline_code"], "stolen_card");
        // No spike: approved.
        let none = auth_ref("4242424242424242", "pi_1", &Controls::default());
        assert_eq!(none.status, 200);
        // Half: the references that draw under the share, exactly.
        let half = spike(500_000, DEFAULT_SPIKE_CODE);
        for i in 0..200 {
            let reference = format!("pi_{i}");
            let r = auth_ref("4242424242424242", &reference, &half);
            let declined = decline_draw(&reference) < 500_000;
            assert_eq!(r.status, if declined { 402 } else { 200 }, "{reference}");
        }
        // Without a reference, the new one draws.
        let r =
            req(json!({"amount": 1, "currency": "usd", "card": {"number": "4242424242424242"}}));
        let with_new = |new: &str| simulate_with("authorize", &r, None, new, None, &half).status;
        let new = (0..50)
            .map(|i| format!("sbx_{i}"))
            .find(|n| decline_draw(n) < 500_000)
            .unwrap_or_default();
        assert_eq!(with_new(&new), 402);
        // Captures, voids and refunds are never declined; an outage is
        // still an outage.
        let entry = SandboxPayment {
            reference: "sbx_1".into(),
            amount: 1000,
            currency: "usd".into(),
            captured: 0,
            refunded: 0,
            voided: false,
            last4: "4242".into(),
        };
        let cap = simulate_with(
            "capture",
            &req(json!({"amount": 1000})),
            Some(&entry),
            "",
            None,
            &all,
        );
        assert_eq!(cap.status, 200);
        let down = Behaviour {
            latency_ms: 0,
            failure: Some(FailureMode::Outage),
            slow_ms: 0,
            hold_ms: 0,
        };
        let r = req(json!({"amount": 1, "currency": "usd", "reference": "pi_1",
                           "card": {"number": "4242424242424242"}}));
        let o = simulate_with("authorize", &r, None, "x", Some(&down), &all);
        assert_eq!((o.status, o.not_processed), (503, true));
    }

    #[test]
    fn controls_change_what_is_given_and_show_the_share() {
        let c = Controls::default();
        assert_eq!(
            c.view(),
            json!({"decline_share": 0.0, "decline_code": "try_again_later"})
        );
        let c = c.with(&ControlsUpdate {
            decline_ppm: Some(250_000),
            decline_code: None,
        });
        assert_eq!(c, spike(250_000, "try_again_later"));
        assert_eq!(c.view()["decline_share"], json!(0.25));
        let c = c.with(&ControlsUpdate {
            decline_ppm: None,
            decline_code: Some("do_not_honor".into()),
        });
        assert_eq!(c, spike(250_000, "do_not_honor"));
        let c = c.with(&ControlsUpdate {
            decline_ppm: Some(2_000_000),
            decline_code: Some("stolen_card".into()),
        });
        assert_eq!(c, spike(SHARE_SCALE, "do_not_honor"));
        assert_eq!(c.view()["decline_share"], json!(1.0));
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
        // A spike's decline is soft: the plan moves on.
        let visa = Card::from_raw("4242424242424242", 12, 2030, Some("123"));
        let visa = visa.unwrap_or_else(|e| panic!("{e:?}"));
        let approvable = Call::Authorize {
            key: "pi_1-authorize-1-sandbox_a",
            payment_id: "pi_1",
            amount: 1000,
            currency: "usd",
            capture: true,
            card: &visa.secret,
            facts: &visa.facts,
            descriptor: Default::default(),
        };
        let sent = req(serde_json::from_str(a.build(&approvable).body()).unwrap_or_default());
        assert_eq!(sent.reference.as_deref(), Some("pi_1"));
        let r = simulate_with(
            "authorize",
            &sent,
            None,
            "sbx_9",
            None,
            &Controls {
                decline_ppm: SHARE_SCALE,
                ..Controls::default()
            },
        );
        let d = Delivery::Answered(WireResponse {
            status: r.status,
            headers: vec![],
            body: r.body.to_string(),
        });
        match done(a.parse(&approvable, 0, &d)) {
            Outcome::Declined(d) => {
                assert_eq!(d.decline_code, "try_again_later");
                assert_eq!(d.class, DeclineClass::Soft);
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
