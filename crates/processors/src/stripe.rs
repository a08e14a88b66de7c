//! The `stripe` processor: Stripe's API (<https://docs.stripe.com/api>).
//!
//! Wire format: form-encoded bodies with bracket notation
//! (`card[number]=...`, `metadata[switchyard_key]=...`), HTTP Basic auth
//! with the secret key as user and no password, an `Idempotency-Key` on
//! every POST, and `Stripe-Version` pinned to [`STRIPE_VERSION`] so that a
//! change of the account's default API version never changes the answers
//! this module reads (it reads `status`, `last_payment_error`, `error.type`,
//! `error.code`, `error.decline_code` of payment intents and refunds, all
//! stable since 2019).
//!
//! Calls:
//! - Authorize takes two requests: `POST /v1/payment_methods` (type=card and
//!   the raw card; `Idempotency-Key: <key>-pm`, so a retried call gets the
//!   same payment method), then `POST /v1/payment_intents` (amount,
//!   currency, payment_method, `confirm=true`, `capture_method`,
//!   `payment_method_types[0]=card` (no redirect-based method, so no
//!   `return_url` is needed), `metadata[switchyard_key]`,
//!   `metadata[switchyard_payment]`; `Idempotency-Key: <key>`).
//!   **Raw card data**: sending card numbers to `/v1/payment_methods` from a
//!   server needs Stripe's approval on a live account ("raw card data APIs",
//!   for PCI DSS level 1 merchants); test mode allows it. Without that
//!   approval a live account answers 402/400 and the call is not processed.
//!   A failure at the payment-method step is `NotProcessed` (a payment
//!   method alone never charges; even a lost answer there leaves nothing to
//!   charge), unless Stripe answers with a card error ([`CARD_ERRORS`]:
//!   `incorrect_number`, `expired_card`, ... are declines of the card).
//! - Capture: `POST /v1/payment_intents/{id}/capture` (`amount_to_capture`
//!   always sent), void: `POST /v1/payment_intents/{id}/cancel`, refund:
//!   `POST /v1/refunds` (`payment_intent`, `amount` always sent,
//!   `metadata[switchyard_key]`). Capture and cancel carry no metadata (the
//!   key is their `Idempotency-Key`): lookups ask about authorizations and
//!   refunds only.
//! - Lookup of an authorization: Stripe's Search API,
//!   `GET /v1/payment_intents/search?query=metadata['switchyard_key']:'<key>'`.
//!   Stripe documents search as eventually consistent (new objects are
//!   searchable "in less than 1 minute" and search is not for
//!   read-after-write), so an empty search is not yet "no record": a second
//!   request lists the 100 most recent payment intents
//!   (`GET /v1/payment_intents?limit=100`, strongly consistent) and looks for
//!   the key in their metadata. Only when neither finds it is the answer
//!   `NotProcessed`. (Residual risk: more than 100 payment intents created
//!   on the account within the search lag.)
//! - Lookup of a refund: `GET /v1/refunds?payment_intent=<id>&limit=100`,
//!   matched on `metadata[switchyard_key]`.
//!
//! Keys: `call.key()` is the `Idempotency-Key` (Stripe allows 255
//! characters) and `metadata[switchyard_key]` (values up to 500). A key
//! longer than [`MAX_KEY_LEN`] is replaced by `sy-` + the hex SHA-256 of it
//! (67 characters), deterministically, everywhere (so a lookup finds it).
//!
//! Answers (the one outcome vocabulary):
//! - payment intent `succeeded` / `requires_capture` → approved (the
//!   reference is the payment intent id `pi_...`); `requires_action` →
//!   declined, authentication required; `requires_payment_method` with a
//!   `last_payment_error` → declined by that error; `processing` and
//!   anything else → unknown; `canceled` → approved for a void, not
//!   processed for a lookup (it can no longer charge).
//! - `402` card errors (`error.type = card_error`) → declined: Stripe's
//!   `decline_code` passes through ([`Decline::from_stripe_code`]), or, when
//!   there is none, the error `code` maps by [`CARD_ERRORS`].
//! - `429` or `rate_limit_error` → not processed. `invalid_request_error`,
//!   `authentication_error`, `permission_error` with 400/401/403/404 →
//!   not processed: Stripe validates a request before it starts executing
//!   it and saves no idempotent result for a request that failed
//!   validation ("Results are only saved if an API endpoint began
//!   executing", docs.stripe.com/api/idempotent_requests). `409` (a
//!   concurrent request with the same key, `lock_timeout`),
//!   `idempotency_error`, `api_error`, any 5xx, anything unreadable →
//!   unknown. `Stripe-Should-Retry` is reported in the reason (Stripe's
//!   advice to retry with the same key); it never turns an unknown into
//!   not processed.
//! - Lookups: a lookup that cannot answer (not sent, lost, 429, 5xx, an
//!   error other than `resource_missing`) is unknown, never "no record"
//!   (for a lookup, not processed means the processor has no record).
//!
//! Against localstripe (the test peer): it sends every error with
//! `type: invalid_request_error`, including its charge declines (402,
//! `code: card_declined`, no `decline_code`) and card-data refusals (400,
//! `code: invalid_expiry_year`); a card error is therefore recognised by
//! its `code` as well as by its type.

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::adapter::{
    mask_card_numbers, percent_encode, Adapter, Call, Delivery, Looked, Outcome, Parsed,
    WireRequest, WireResponse,
};
use crate::config::{Credentials, ProcessorConfig};
use crate::decline::{Decline, DeclineClass};

/// Stripe's API when no `base_url` is configured.
pub const STRIPE_API: &str = "https://api.stripe.com";

/// The API version every request pins (`Stripe-Version`).
pub const STRIPE_VERSION: &str = "2024-06-20";

/// The longest `call.key()` sent as is; longer ones are hashed.
pub const MAX_KEY_LEN: usize = 200;

/// Stripe's card-error `code`s that refuse the card (sent with or without
/// a `decline_code`): (error code, the Stripe `decline_code` it stands for
/// when none is given, class). The class is `classify(decline_code)`
/// except where noted.
pub const CARD_ERRORS: &[(&str, &str, DeclineClass)] = &[
    // The issuer's refusal; the decline_code (when given) says more.
    ("card_declined", "generic_decline", DeclineClass::Soft),
    ("expired_card", "expired_card", DeclineClass::Hard),
    ("incorrect_cvc", "incorrect_cvc", DeclineClass::Hard),
    ("invalid_cvc", "incorrect_cvc", DeclineClass::Hard),
    ("incorrect_number", "incorrect_number", DeclineClass::Hard),
    ("invalid_number", "incorrect_number", DeclineClass::Hard),
    ("incorrect_zip", "incorrect_zip", DeclineClass::Hard),
    // Card data Stripe refuses before any charge: the card itself is
    // wrong, another processor would refuse it as well.
    (
        "invalid_expiry_month",
        "invalid_expiry_month",
        DeclineClass::Hard,
    ),
    (
        "invalid_expiry_year",
        "invalid_expiry_year",
        DeclineClass::Hard,
    ),
    ("processing_error", "processing_error", DeclineClass::Soft),
    (
        "authentication_required",
        "authentication_required",
        DeclineClass::AuthenticationRequired,
    ),
    // 3-D Secure was attempted and failed.
    (
        "payment_intent_authentication_failure",
        "authentication_required",
        DeclineClass::AuthenticationRequired,
    ),
    // Stripe's own limit on declines of this card in 24 hours, not the
    // issuer's: another processor may still be tried (soft, as
    // classify("card_velocity_exceeded")).
    (
        "card_decline_rate_limit_exceeded",
        "card_velocity_exceeded",
        DeclineClass::Soft,
    ),
];

pub struct StripeAdapter {
    config: ProcessorConfig,
    credentials: Credentials,
}

impl StripeAdapter {
    pub fn new(config: ProcessorConfig, credentials: Credentials) -> Self {
        StripeAdapter {
            config,
            credentials,
        }
    }

    fn base(&self) -> &str {
        let base = self.config.base_url.as_deref().unwrap_or(STRIPE_API);
        base.strip_suffix('/').unwrap_or(base)
    }

    fn headers(&self, idempotency_key: Option<String>, form: bool) -> Vec<(String, String)> {
        let secret = self.credentials.api_key.as_deref().unwrap_or_default();
        let mut h = vec![
            (
                "Authorization".to_owned(),
                format!("Basic {}", base64(format!("{secret}:").as_bytes())),
            ),
            ("Stripe-Version".to_owned(), STRIPE_VERSION.to_owned()),
        ];
        if form {
            h.push((
                "Content-Type".to_owned(),
                "application/x-www-form-urlencoded".to_owned(),
            ));
        }
        if let Some(k) = idempotency_key {
            h.push(("Idempotency-Key".to_owned(), k));
        }
        h
    }

    fn post(&self, path: &str, key: String, form: &[(&str, String)]) -> WireRequest {
        WireRequest::new(
            "POST",
            format!("{}{path}", self.base()),
            self.headers(Some(key), true),
            encode_form(form),
        )
    }

    fn get(&self, path: &str, query: &[(&str, String)]) -> WireRequest {
        WireRequest::new(
            "GET",
            format!("{}{path}?{}", self.base(), encode_form(query)),
            self.headers(None, false),
            String::new(),
        )
    }

    fn payment_intent_request(&self, call: &Call<'_>, payment_method: &str) -> Option<WireRequest> {
        let Call::Authorize {
            key,
            payment_id,
            amount,
            currency,
            capture,
            descriptor,
            ..
        } = call
        else {
            return None;
        };
        let key = stripe_key(key);
        let capture_method = if *capture { "automatic" } else { "manual" };
        let mut form = vec![
            ("amount", amount.to_string()),
            ("currency", currency.to_ascii_lowercase()),
            ("payment_method", payment_method.to_owned()),
            ("payment_method_types[0]", "card".to_owned()),
            ("confirm", "true".to_owned()),
            ("capture_method", capture_method.to_owned()),
            ("metadata[switchyard_key]", key.clone()),
            ("metadata[switchyard_payment]", (*payment_id).to_owned()),
        ];
        // The merchant's own descriptors, as Stripe takes them.
        if let Some(d) = descriptor.full {
            form.push(("statement_descriptor", d.to_owned()));
        }
        if let Some(s) = descriptor.suffix {
            form.push(("statement_descriptor_suffix", s.to_owned()));
        }
        Some(self.post("/v1/payment_intents", key, &form))
    }
}

impl Adapter for StripeAdapter {
    fn kind(&self) -> &'static str {
        "stripe"
    }

    fn timeout_ms(&self) -> u32 {
        self.config.timeout_ms
    }

    fn build(&self, call: &Call<'_>) -> WireRequest {
        match call {
            Call::Authorize {
                key, card, facts, ..
            } => {
                let mut form = vec![
                    ("type", "card".to_owned()),
                    ("card[number]", card.number().to_owned()),
                    ("card[exp_month]", facts.exp_month.to_string()),
                    ("card[exp_year]", facts.exp_year.to_string()),
                ];
                if let Some(cvc) = card.cvc() {
                    form.push(("card[cvc]", cvc.to_owned()));
                }
                self.post(
                    "/v1/payment_methods",
                    format!("{}-pm", stripe_key(key)),
                    &form,
                )
            }
            Call::Capture {
                key,
                reference,
                amount,
                ..
            } => self.post(
                &format!("/v1/payment_intents/{}/capture", path_segment(reference)),
                stripe_key(key),
                &[("amount_to_capture", amount.to_string())],
            ),
            Call::Void { key, reference } => self.post(
                &format!("/v1/payment_intents/{}/cancel", path_segment(reference)),
                stripe_key(key),
                &[],
            ),
            Call::Refund {
                key,
                reference,
                amount,
                ..
            } => {
                let key = stripe_key(key);
                self.post(
                    "/v1/refunds",
                    key.clone(),
                    &[
                        ("payment_intent", (*reference).to_owned()),
                        ("amount", amount.to_string()),
                        ("metadata[switchyard_key]", key),
                    ],
                )
            }
            Call::Lookup {
                key,
                of: Looked::Authorize { .. },
            } => self.get(
                "/v1/payment_intents/search",
                &[
                    ("query", search_query(&stripe_key(key))),
                    ("limit", "10".to_owned()),
                ],
            ),
            Call::Lookup {
                of: Looked::Refund { reference, .. },
                ..
            } => self.get(
                "/v1/refunds",
                &[
                    ("payment_intent", (*reference).to_owned()),
                    ("limit", "100".to_owned()),
                ],
            ),
        }
    }

    fn parse(&self, call: &Call<'_>, step: u8, delivery: &Delivery) -> Parsed {
        let resp = match delivery {
            // A lookup that was not sent asked nothing: it cannot say.
            Delivery::NotSent(reason) if matches!(call, Call::Lookup { .. }) => {
                return done(Outcome::Unknown {
                    reason: format!("lookup not sent: {}", mask_card_numbers(reason)),
                })
            }
            Delivery::NotSent(reason) => {
                return done(Outcome::NotProcessed {
                    reason: format!("not sent: {}", mask_card_numbers(reason)),
                })
            }
            Delivery::Lost(reason) => {
                let reason = format!("no answer: {}", mask_card_numbers(reason));
                // A payment method alone charges nothing.
                let at_payment_method = matches!(call, Call::Authorize { .. }) && step == 0;
                return done(if at_payment_method {
                    Outcome::NotProcessed {
                        reason: format!("{reason} (at the payment method, nothing charged)"),
                    }
                } else {
                    Outcome::Unknown { reason }
                });
            }
            Delivery::Answered(r) => r,
        };
        match (call, step) {
            (Call::Authorize { .. }, 0) => {
                if (200..300).contains(&resp.status) {
                    let id = body_of(resp).and_then(|b| str_field(&b, "id"));
                    return match id.and_then(|pm| self.payment_intent_request(call, &pm)) {
                        Some(next) => Parsed::Next(next),
                        None => done(Outcome::NotProcessed {
                            reason: "payment method answer without an id: nothing charged"
                                .to_owned(),
                        }),
                    };
                }
                done(match error_outcome(resp) {
                    d @ Outcome::Declined(_) => d,
                    Outcome::NotProcessed { reason } | Outcome::Unknown { reason } => {
                        Outcome::NotProcessed {
                            reason: format!(
                                "payment method not created, nothing charged: {reason}"
                            ),
                        }
                    }
                    approved @ Outcome::Approved { .. } => approved,
                })
            }
            (Call::Authorize { .. }, 1) => done(answer(resp, |pi| intent_outcome(pi, call))),
            (Call::Capture { .. }, 0) => done(answer(resp, |pi| {
                expect_status(pi, &["succeeded"], "capture")
            })),
            (Call::Void { .. }, 0) => done(answer(resp, |pi| {
                expect_status(pi, &["canceled"], "cancel")
            })),
            (Call::Refund { .. }, 0) => done(answer(resp, refund_outcome)),
            (
                Call::Lookup {
                    key,
                    of: Looked::Authorize { .. },
                },
                0 | 1,
            ) => {
                if !(200..300).contains(&resp.status) {
                    return done(lookup_error(resp));
                }
                let Some(body) = body_of(resp) else {
                    return done(unreadable(resp));
                };
                let key = stripe_key(key);
                match find_by_key(&body, &key) {
                    Some(pi) => done(intent_outcome(pi, call)),
                    None if step == 0 => Parsed::Next(
                        self.get("/v1/payment_intents", &[("limit", "100".to_owned())]),
                    ),
                    None => done(Outcome::NotProcessed {
                        reason: "no payment intent with this key (search and the 100 most recent)"
                            .to_owned(),
                    }),
                }
            }
            (
                Call::Lookup {
                    key,
                    of: Looked::Refund { .. },
                },
                0,
            ) => {
                if !(200..300).contains(&resp.status) {
                    return done(lookup_error(resp));
                }
                let Some(body) = body_of(resp) else {
                    return done(unreadable(resp));
                };
                match find_by_key(&body, &stripe_key(key)) {
                    Some(refund) => done(refund_outcome(refund)),
                    None if body.get("has_more").and_then(Value::as_bool) == Some(true) => {
                        done(Outcome::Unknown {
                            reason: "more than 100 refunds on the payment: not searched".to_owned(),
                        })
                    }
                    None => done(Outcome::NotProcessed {
                        reason: "no refund with this key".to_owned(),
                    }),
                }
            }
            _ => done(Outcome::Unknown {
                reason: format!("unexpected step {step} of a {} call", call.op()),
            }),
        }
    }
}

fn done(o: Outcome) -> Parsed {
    Parsed::Done(o)
}

/// The key sent to Stripe for `call.key()` (see the module header).
pub fn stripe_key(key: &str) -> String {
    if key.len() <= MAX_KEY_LEN {
        return key.to_owned();
    }
    let digest = Sha256::digest(key.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sy-{hex}")
}

/// Stripe's search query for a key: string values are single-quoted, and
/// a quote or backslash inside is escaped with a backslash.
fn search_query(key: &str) -> String {
    let mut escaped = String::with_capacity(key.len());
    for c in key.chars() {
        if c == '\'' || c == '\\' {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    format!("metadata['switchyard_key']:'{escaped}'")
}

fn body_of(resp: &WireResponse) -> Option<Value> {
    serde_json::from_str(&resp.body).ok()
}

fn str_field(v: &Value, k: &str) -> Option<String> {
    v.get(k).and_then(Value::as_str).map(str::to_owned)
}

fn unreadable(resp: &WireResponse) -> Outcome {
    Outcome::Unknown {
        reason: format!("unreadable answer ({})", resp.status),
    }
}

/// A 2xx object answer read by `ok`; anything else by [`error_outcome`].
fn answer(resp: &WireResponse, ok: impl Fn(&Value) -> Outcome) -> Outcome {
    if !(200..300).contains(&resp.status) {
        return error_outcome(resp);
    }
    match body_of(resp) {
        Some(body) => ok(&body),
        None => unreadable(resp),
    }
}

/// A payment intent's status, as the answer to an authorization or to a
/// lookup of one.
fn intent_outcome(pi: &Value, call: &Call<'_>) -> Outcome {
    let Some(id) = str_field(pi, "id") else {
        return Outcome::Unknown {
            reason: "payment intent without an id".to_owned(),
        };
    };
    if let Call::Lookup {
        of: Looked::Authorize { amount, currency },
        ..
    } = call
    {
        let same_amount = pi.get("amount").and_then(Value::as_u64) == Some(*amount);
        let same_currency =
            str_field(pi, "currency").is_some_and(|c| c.eq_ignore_ascii_case(currency));
        if !(same_amount && same_currency) {
            return Outcome::Unknown {
                reason: format!("payment intent {id} has another amount or currency"),
            };
        }
    }
    let status = str_field(pi, "status").unwrap_or_default();
    match status.as_str() {
        "succeeded" | "requires_capture" => Outcome::Approved { reference: id },
        "requires_action" => Outcome::Declined(Decline::from_stripe_code(
            "authentication_required",
            Some("requires_action".to_owned()),
        )),
        "requires_payment_method" => match pi.get("last_payment_error") {
            Some(e) if e.is_object() => Outcome::Declined(card_decline(e)),
            _ => Outcome::Unknown {
                reason: format!("payment intent {id} awaits a payment method, without an error"),
            },
        },
        "canceled" => Outcome::NotProcessed {
            reason: format!("payment intent {id} is canceled: it does not charge"),
        },
        other => Outcome::Unknown {
            reason: format!("payment intent {id} is {other:?}"),
        },
    }
}

fn expect_status(pi: &Value, wanted: &[&str], what: &str) -> Outcome {
    let status = str_field(pi, "status").unwrap_or_default();
    match str_field(pi, "id") {
        Some(id) if wanted.contains(&status.as_str()) => Outcome::Approved { reference: id },
        _ => Outcome::Unknown {
            reason: format!("{what} answered with status {status:?}"),
        },
    }
}

fn refund_outcome(refund: &Value) -> Outcome {
    let Some(id) = str_field(refund, "id") else {
        return Outcome::Unknown {
            reason: "refund without an id".to_owned(),
        };
    };
    match str_field(refund, "status").as_deref() {
        Some("succeeded" | "pending") => Outcome::Approved { reference: id },
        // Stripe could not return the money (the card is closed, ...):
        // the refund is over, refused; another processor cannot refund it.
        Some("failed" | "canceled") => {
            let reason = str_field(refund, "failure_reason").unwrap_or_else(|| "unknown".into());
            Outcome::Declined(Decline {
                code: "refund_failed".to_owned(),
                decline_code: reason.clone(),
                message: format!("The refund {id} failed."),
                processor_code: Some(reason),
                class: DeclineClass::Hard,
            })
        }
        other => Outcome::Unknown {
            reason: format!("refund {id} is {other:?}"),
        },
    }
}

/// A Stripe error object (or `last_payment_error`) as a decline.
fn card_decline(e: &Value) -> Decline {
    let code = str_field(e, "code").unwrap_or_else(|| "card_declined".to_owned());
    let message = str_field(e, "message").map(|m| mask_card_numbers(&m));
    let mut d = match str_field(e, "decline_code") {
        // Stripe's own decline code passes through.
        Some(dc) => Decline::from_stripe_code(&dc, Some(dc.clone())),
        None => match CARD_ERRORS.iter().find(|(c, _, _)| *c == code) {
            Some((c, dc, class)) => {
                let mut d = Decline::from_stripe_code(dc, Some((*c).to_owned()));
                // Where the table's class differs from classify(): the table
                // wins (see CARD_ERRORS).
                d.class = *class;
                d
            }
            // A card error Stripe adds later: its code as the decline
            // code, hard like every unknown code (decline::classify).
            None => Decline::from_stripe_code(&code, Some(code.clone())),
        },
    };
    if code == "authentication_required" || code == "payment_intent_authentication_failure" {
        d.class = DeclineClass::AuthenticationRequired;
    }
    d.code = code;
    if let Some(m) = message {
        d.message = m;
    }
    d
}

/// A non-2xx answer to a call that acts (authorize, capture, void, refund).
fn error_outcome(resp: &WireResponse) -> Outcome {
    let retry = match resp.header("stripe-should-retry") {
        Some("true") => " (Stripe-Should-Retry: true)",
        Some("false") => " (Stripe-Should-Retry: false)",
        _ => "",
    };
    if resp.status == 429 {
        return Outcome::NotProcessed {
            reason: format!("rate limited (429){retry}"),
        };
    }
    let Some(err) = body_of(resp).and_then(|b| b.get("error").cloned()) else {
        return Outcome::Unknown {
            reason: format!("unreadable error answer ({}){retry}", resp.status),
        };
    };
    let kind = str_field(&err, "type").unwrap_or_default();
    let code = str_field(&err, "code").unwrap_or_default();
    let message = str_field(&err, "message")
        .map(|m| mask_card_numbers(&m))
        .unwrap_or_default();
    let reason = format!("{} {kind} {code}: {message}{retry}", resp.status);
    let card_code = CARD_ERRORS.iter().any(|(c, _, _)| *c == code);
    match (resp.status, kind.as_str()) {
        (402 | 400, _) if kind == "card_error" || card_code => {
            Outcome::Declined(card_decline(&err))
        }
        (_, "rate_limit_error") => Outcome::NotProcessed { reason },
        (_, "idempotency_error" | "api_error") => Outcome::Unknown { reason },
        (
            400 | 401 | 403 | 404,
            "invalid_request_error" | "authentication_error" | "permission_error",
        ) => Outcome::NotProcessed { reason },
        _ => Outcome::Unknown { reason },
    }
}

/// A non-2xx answer to a lookup: "no record" only when Stripe says the
/// object is missing; otherwise the lookup cannot say.
fn lookup_error(resp: &WireResponse) -> Outcome {
    let code = body_of(resp)
        .and_then(|b| b.get("error").cloned())
        .and_then(|e| str_field(&e, "code"));
    if resp.status == 404 && code.as_deref() == Some("resource_missing") {
        return Outcome::NotProcessed {
            reason: "no such payment intent".to_owned(),
        };
    }
    Outcome::Unknown {
        reason: format!(
            "lookup failed ({}, {})",
            resp.status,
            code.as_deref().unwrap_or("no code")
        ),
    }
}

/// The object of a list or search answer whose `metadata.switchyard_key`
/// is `key`.
fn find_by_key<'v>(list: &'v Value, key: &str) -> Option<&'v Value> {
    list.get("data")?.as_array()?.iter().find(|o| {
        o.get("metadata")
            .and_then(|m| m.get("switchyard_key"))
            .and_then(Value::as_str)
            == Some(key)
    })
}

/// A reference placed in a URL path: only Stripe id characters pass.
fn path_segment(reference: &str) -> String {
    percent_encode(reference)
}

/// `application/x-www-form-urlencoded`, bracket keys included (encoded).
fn encode_form(pairs: &[(&str, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18u32, 12, 6, 0].iter().enumerate() {
            if i <= chunk.len() {
                let idx = ((n >> shift) & 63) as usize;
                out.push(char::from(ALPHABET[idx]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapter::MAX_STEPS;
    use crate::card::Card;
    use crate::config::ProcessorKind;

    const NUMBER: &str = "4242424242424242";

    fn adapter_at(base: Option<&str>) -> StripeAdapter {
        let mut config = ProcessorConfig::sandbox("stripe_a");
        config.kind = ProcessorKind::Stripe;
        config.base_url = base.map(str::to_owned);
        config.timeout_ms = 4321;
        StripeAdapter::new(
            config,
            Credentials {
                api_key: Some("sk_test_123".to_owned()),
                ..Credentials::default()
            },
        )
    }

    fn adapter() -> StripeAdapter {
        adapter_at(Some("http://127.0.0.1:9999/"))
    }

    fn card() -> Card {
        Card::from_raw(NUMBER, 7, 2031, Some("123")).unwrap_or_else(|e| panic!("{e:?}"))
    }

    fn authorize<'a>(card: &'a Card, key: &'a str, capture: bool) -> Call<'a> {
        Call::Authorize {
            key,
            payment_id: "pay_1",
            amount: 1234,
            currency: "EUR",
            capture,
            card: &card.secret,
            facts: &card.facts,
            descriptor: Default::default(),
        }
    }

    fn lookup_auth(key: &str) -> Call<'_> {
        Call::Lookup {
            key,
            of: Looked::Authorize {
                amount: 1234,
                currency: "eur",
            },
        }
    }

    fn lookup_refund(key: &str) -> Call<'_> {
        Call::Lookup {
            key,
            of: Looked::Refund {
                reference: "pi_1",
                amount: 500,
                currency: "eur",
            },
        }
    }

    fn header<'r>(r: &'r WireRequest, name: &str) -> Option<&'r str> {
        r.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn decode(s: &str) -> String {
        let b = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'%' {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("00");
                out.push(u8::from_str_radix(hex, 16).unwrap_or(0));
                i += 3;
            } else {
                out.push(if b[i] == b'+' { b' ' } else { b[i] });
                i += 1;
            }
        }
        String::from_utf8(out).unwrap_or_default()
    }

    fn form(s: &str) -> Vec<(String, String)> {
        s.split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (decode(k), decode(v))
            })
            .collect()
    }

    fn field(pairs: &[(String, String)], k: &str) -> Option<String> {
        pairs.iter().find(|(x, _)| x == k).map(|(_, v)| v.clone())
    }

    fn answered(status: u16, body: &str) -> Delivery {
        Delivery::Answered(WireResponse {
            status,
            headers: vec![],
            body: body.to_owned(),
        })
    }

    fn answered_with(status: u16, headers: &[(&str, &str)], body: &str) -> Delivery {
        Delivery::Answered(WireResponse {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            body: body.to_owned(),
        })
    }

    fn outcome(a: &StripeAdapter, call: &Call<'_>, step: u8, d: &Delivery) -> Outcome {
        match a.parse(call, step, d) {
            Parsed::Done(o) => o,
            Parsed::Next(r) => panic!("expected an outcome, got the next request {r:?}"),
        }
    }

    fn next(a: &StripeAdapter, call: &Call<'_>, step: u8, d: &Delivery) -> WireRequest {
        match a.parse(call, step, d) {
            Parsed::Next(r) => r,
            Parsed::Done(o) => panic!("expected a next request, got {o:?}"),
        }
    }

    fn pi(id: &str, status: &str, extra: &str) -> String {
        format!(
            r#"{{"id":"{id}","object":"payment_intent","amount":1234,"currency":"eur","status":"{status}","metadata":{{"switchyard_key":"k1"}}{extra}}}"#
        )
    }

    fn declined(o: Outcome) -> Decline {
        match o {
            Outcome::Declined(d) => d,
            other => panic!("expected a decline, got {other:?}"),
        }
    }

    fn is_not_processed(o: &Outcome) -> bool {
        matches!(o, Outcome::NotProcessed { .. })
    }

    fn is_unknown(o: &Outcome) -> bool {
        matches!(o, Outcome::Unknown { .. })
    }

    fn card_error(code: &str, decline_code: Option<&str>) -> String {
        let dc = decline_code
            .map(|d| format!(r#","decline_code":"{d}""#))
            .unwrap_or_default();
        format!(
            r#"{{"error":{{"type":"card_error","code":"{code}"{dc},"message":"Your card was declined."}}}}"#
        )
    }

    // ---- building -----------------------------------------------------------

    #[test]
    fn statement_descriptors_go_to_the_payment_intent() {
        let card = Card::from_raw("4242424242424242", 12, 2034, Some("123"));
        let Ok(card) = card else { panic!("test card") };
        let mut call = authorize(&card, "k1", true);
        if let Call::Authorize { descriptor, .. } = &mut call {
            descriptor.full = Some("SWITCHYARD SHOP");
            descriptor.suffix = Some("ORDER 1");
        }
        let pi = adapter()
            .payment_intent_request(&call, "pm_1")
            .map(|r| form(r.body()))
            .unwrap_or_default();
        let get = |k: &str| pi.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("statement_descriptor"), Some("SWITCHYARD SHOP"));
        assert_eq!(get("statement_descriptor_suffix"), Some("ORDER 1"));
        let plain = adapter()
            .payment_intent_request(&authorize(&card, "k1", true), "pm_1")
            .map(|r| r.body().to_owned())
            .unwrap_or_default();
        assert!(!plain.contains("statement_descriptor"), "{plain}");
    }

    #[test]
    fn authorize_builds_the_payment_method_then_the_payment_intent() {
        let a = adapter();
        let c = card();
        let call = authorize(&c, "pay_1-authorize-1-stripe_a", false);
        let r = a.build(&call);
        assert_eq!(r.method, "POST");
        assert_eq!(r.url, "http://127.0.0.1:9999/v1/payment_methods");
        assert_eq!(header(&r, "authorization"), Some("Basic c2tfdGVzdF8xMjM6"));
        assert_eq!(header(&r, "stripe-version"), Some(STRIPE_VERSION));
        assert_eq!(
            header(&r, "content-type"),
            Some("application/x-www-form-urlencoded")
        );
        assert_eq!(
            header(&r, "idempotency-key"),
            Some("pay_1-authorize-1-stripe_a-pm")
        );
        assert!(r.body().contains("card%5Bnumber%5D="), "{}", r.body());
        let f = form(r.body());
        assert_eq!(field(&f, "type").as_deref(), Some("card"));
        assert_eq!(field(&f, "card[number]").as_deref(), Some(NUMBER));
        assert_eq!(field(&f, "card[exp_month]").as_deref(), Some("7"));
        assert_eq!(field(&f, "card[exp_year]").as_deref(), Some("2031"));
        assert_eq!(field(&f, "card[cvc]").as_deref(), Some("123"));

        let pm = answered(200, r#"{"id":"pm_abc","object":"payment_method"}"#);
        let r = next(&a, &call, 0, &pm);
        assert_eq!(r.method, "POST");
        assert_eq!(r.url, "http://127.0.0.1:9999/v1/payment_intents");
        assert_eq!(
            header(&r, "idempotency-key"),
            Some("pay_1-authorize-1-stripe_a")
        );
        assert_eq!(header(&r, "stripe-version"), Some(STRIPE_VERSION));
        let f = form(r.body());
        assert_eq!(field(&f, "amount").as_deref(), Some("1234"));
        assert_eq!(field(&f, "currency").as_deref(), Some("eur"));
        assert_eq!(field(&f, "payment_method").as_deref(), Some("pm_abc"));
        assert_eq!(field(&f, "confirm").as_deref(), Some("true"));
        assert_eq!(field(&f, "capture_method").as_deref(), Some("manual"));
        assert_eq!(
            field(&f, "payment_method_types[0]").as_deref(),
            Some("card")
        );
        assert_eq!(
            field(&f, "metadata[switchyard_key]").as_deref(),
            Some("pay_1-authorize-1-stripe_a")
        );
        assert_eq!(
            field(&f, "metadata[switchyard_payment]").as_deref(),
            Some("pay_1")
        );
        // No card data in the second request.
        assert!(!r.body().contains(NUMBER));

        let call = authorize(&c, "k", true);
        let r = next(&a, &call, 0, &pm);
        assert_eq!(
            field(&form(r.body()), "capture_method").as_deref(),
            Some("automatic")
        );
    }

    #[test]
    fn a_card_without_cvc_sends_none() {
        let c = Card::from_raw(NUMBER, 7, 2031, None).unwrap_or_else(|e| panic!("{e:?}"));
        let r = adapter().build(&authorize(&c, "k", true));
        assert_eq!(field(&form(r.body()), "card[cvc]"), None);
    }

    #[test]
    fn capture_void_refund_build() {
        let a = adapter();
        let r = a.build(&Call::Capture {
            key: "pay_1-capture-1-stripe_a",
            reference: "pi_123",
            amount: 600,
            currency: "eur",
        });
        assert_eq!(r.method, "POST");
        assert_eq!(
            r.url,
            "http://127.0.0.1:9999/v1/payment_intents/pi_123/capture"
        );
        assert_eq!(
            header(&r, "idempotency-key"),
            Some("pay_1-capture-1-stripe_a")
        );
        assert_eq!(header(&r, "authorization"), Some("Basic c2tfdGVzdF8xMjM6"));
        assert_eq!(
            field(&form(r.body()), "amount_to_capture").as_deref(),
            Some("600")
        );

        let r = a.build(&Call::Void {
            key: "pay_1-void-1-stripe_a",
            reference: "pi_123",
        });
        assert_eq!(
            r.url,
            "http://127.0.0.1:9999/v1/payment_intents/pi_123/cancel"
        );
        assert_eq!(header(&r, "idempotency-key"), Some("pay_1-void-1-stripe_a"));
        assert_eq!(r.body(), "");

        let r = a.build(&Call::Refund {
            key: "pay_1-refund-1-stripe_a",
            reference: "pi_123",
            amount: 250,
            currency: "eur",
        });
        assert_eq!(r.url, "http://127.0.0.1:9999/v1/refunds");
        assert_eq!(
            header(&r, "idempotency-key"),
            Some("pay_1-refund-1-stripe_a")
        );
        let f = form(r.body());
        assert_eq!(field(&f, "payment_intent").as_deref(), Some("pi_123"));
        assert_eq!(field(&f, "amount").as_deref(), Some("250"));
        assert_eq!(
            field(&f, "metadata[switchyard_key]").as_deref(),
            Some("pay_1-refund-1-stripe_a")
        );
        // A reference is one path segment, whatever it holds.
        let r = a.build(&Call::Void {
            key: "k",
            reference: "pi_1/../x",
        });
        assert!(
            r.url.ends_with("/v1/payment_intents/pi_1%2F..%2Fx/cancel"),
            "{}",
            r.url
        );
    }

    #[test]
    fn lookups_build() {
        let a = adapter();
        let r = a.build(&lookup_auth("pay_1-authorize-1-stripe_a"));
        assert_eq!(r.method, "GET");
        assert_eq!(header(&r, "idempotency-key"), None);
        assert_eq!(header(&r, "authorization"), Some("Basic c2tfdGVzdF8xMjM6"));
        let (path, query) = r.url.split_once('?').unwrap_or_default();
        assert_eq!(path, "http://127.0.0.1:9999/v1/payment_intents/search");
        let q = form(query);
        assert_eq!(
            field(&q, "query").as_deref(),
            Some("metadata['switchyard_key']:'pay_1-authorize-1-stripe_a'")
        );
        let r = a.build(&lookup_refund("pay_1-refund-1-stripe_a"));
        let (path, query) = r.url.split_once('?').unwrap_or_default();
        assert_eq!(path, "http://127.0.0.1:9999/v1/refunds");
        let q = form(query);
        assert_eq!(field(&q, "payment_intent").as_deref(), Some("pi_1"));
        assert_eq!(field(&q, "limit").as_deref(), Some("100"));
    }

    #[test]
    fn base_urls() {
        let r = adapter_at(Some("https://api.stripe.com")).build(&Call::Void {
            key: "k",
            reference: "pi_1",
        });
        assert_eq!(
            r.url,
            "https://api.stripe.com/v1/payment_intents/pi_1/cancel"
        );
        let r = adapter_at(None).build(&Call::Void {
            key: "k",
            reference: "pi_1",
        });
        assert_eq!(
            r.url,
            "https://api.stripe.com/v1/payment_intents/pi_1/cancel"
        );
        assert_eq!(adapter().timeout_ms(), 4321);
        assert_eq!(adapter().kind(), "stripe");
    }

    #[test]
    fn a_retried_call_sends_the_same_keys_and_bodies() {
        // localstripe has no idempotency: deduplication rests on Stripe
        // seeing the same Idempotency-Key with the same parameters.
        let a = adapter();
        let c = card();
        let pm = answered(200, r#"{"id":"pm_abc"}"#);
        let first = authorize(&c, "pay_1-authorize-1-stripe_a", true);
        let again = authorize(&c, "pay_1-authorize-1-stripe_a", true);
        let (r1, r2) = (a.build(&first), a.build(&again));
        assert_eq!(
            (r1.headers.clone(), r1.body()),
            (r2.headers.clone(), r2.body())
        );
        let (n1, n2) = (next(&a, &first, 0, &pm), next(&a, &again, 0, &pm));
        assert_eq!(
            (n1.headers.clone(), n1.body()),
            (n2.headers.clone(), n2.body())
        );
        // The next attempt is another key.
        let other = authorize(&c, "pay_1-authorize-2-stripe_a", true);
        assert_ne!(
            header(&a.build(&other), "idempotency-key"),
            header(&r1, "idempotency-key")
        );
    }

    #[test]
    fn long_keys_are_hashed_the_same_way_everywhere() {
        let long = "p".repeat(300);
        let k = stripe_key(&long);
        assert!(k.starts_with("sy-") && k.len() == 67, "{k}");
        assert_eq!(k, stripe_key(&long));
        assert_ne!(k, stripe_key(&"q".repeat(300)));
        assert_eq!(stripe_key("short"), "short");
        let a = adapter();
        let c = card();
        let call = authorize(&c, &long, true);
        let r = next(&a, &call, 0, &answered(200, r#"{"id":"pm_abc"}"#));
        assert_eq!(header(&r, "idempotency-key"), Some(k.as_str()));
        assert_eq!(
            field(&form(r.body()), "metadata[switchyard_key]").as_deref(),
            Some(k.as_str())
        );
        let r = a.build(&lookup_auth(&long));
        assert!(decode(&r.url).contains(&k));
    }

    #[test]
    fn search_values_are_escaped() {
        assert_eq!(
            search_query(r"a'b\c"),
            r"metadata['switchyard_key']:'a\'b\\c'"
        );
    }

    #[test]
    fn base64_vectors() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("sk_test_123:", "c2tfdGVzdF8xMjM6"),
        ] {
            assert_eq!(base64(i.as_bytes()), o, "{i}");
        }
    }

    #[test]
    fn no_card_data_in_debug_or_reasons() {
        let a = adapter();
        let c = card();
        let call = authorize(&c, "k", true);
        let r = a.build(&call);
        assert!(!format!("{r:?}").contains(NUMBER));
        assert!(!format!("{call:?}").contains(NUMBER));
        // An error message quoting the number (Stripe's do not; a proxy's
        // might) never reaches a reason or a decline message.
        let msg =
            format!(r#"{{"error":{{"type":"invalid_request_error","message":"bad {NUMBER}"}}}}"#);
        for step in [0, 1] {
            let o = outcome(&a, &call, step, &answered(400, &msg));
            assert!(!format!("{o:?}").contains(NUMBER), "{o:?}");
        }
        let msg = format!(
            r#"{{"error":{{"type":"card_error","code":"card_declined","message":"no {NUMBER}"}}}}"#
        );
        let o = outcome(&a, &call, 1, &answered(402, &msg));
        assert!(!format!("{o:?}").contains(NUMBER), "{o:?}");
        let o = outcome(&a, &call, 0, &Delivery::Lost(format!("reset {NUMBER}")));
        assert!(!format!("{o:?}").contains(NUMBER), "{o:?}");
        assert_eq!(
            mask_card_numbers("card 4242424242424242 at 402"),
            "card [number] at 402"
        );
    }

    // ---- parsing: the payment method step --------------------------------

    #[test]
    fn the_payment_method_step_never_charges() {
        let a = adapter();
        let c = card();
        let call = authorize(&c, "k", true);
        assert!(is_not_processed(&outcome(
            &a,
            &call,
            0,
            &Delivery::NotSent("refused".into())
        )));
        assert!(is_not_processed(&outcome(
            &a,
            &call,
            0,
            &Delivery::Lost("timeout".into())
        )));
        for (status, body) in [
            (500, r#"{"error":{"type":"api_error"}}"#),
            (
                400,
                r#"{"error":{"type":"invalid_request_error","code":"parameter_missing"}}"#,
            ),
            (
                401,
                r#"{"error":{"type":"invalid_request_error","message":"Unauthorized"}}"#,
            ),
            (409, r#"{"error":{"type":"idempotency_error"}}"#),
            (429, r#"{"error":{"type":"rate_limit_error"}}"#),
            (200, "not json"),
            (200, r#"{"object":"payment_method"}"#),
            (502, "<html>bad gateway</html>"),
        ] {
            let o = outcome(&a, &call, 0, &answered(status, body));
            assert!(is_not_processed(&o), "{status} {body}: {o:?}");
        }
        // A card error there is a decline of the card.
        let d = declined(outcome(
            &a,
            &call,
            0,
            &answered(402, &card_error("incorrect_number", None)),
        ));
        assert_eq!(
            (d.class, d.code.as_str()),
            (DeclineClass::Hard, "incorrect_number")
        );
        assert_eq!(d.processor_code.as_deref(), Some("incorrect_number"));
        // localstripe's form of it: 400, invalid_request_error, the code.
        let d = declined(outcome(
            &a,
            &call,
            0,
            &answered(
                400,
                r#"{"error":{"type":"invalid_request_error","code":"invalid_expiry_year","message":"Bad request"}}"#,
            ),
        ));
        assert_eq!(
            (d.class, d.code.as_str()),
            (DeclineClass::Hard, "invalid_expiry_year")
        );
    }

    // ---- parsing: the payment intent -------------------------------------

    #[test]
    fn payment_intent_statuses() {
        let a = adapter();
        let c = card();
        let call = authorize(&c, "k1", false);
        let ok = |s: &str| outcome(&a, &call, 1, &answered(200, &pi("pi_9", s, "")));
        assert_eq!(
            ok("succeeded"),
            Outcome::Approved {
                reference: "pi_9".into()
            }
        );
        assert_eq!(
            ok("requires_capture"),
            Outcome::Approved {
                reference: "pi_9".into()
            }
        );
        let d = declined(ok("requires_action"));
        assert_eq!(d.class, DeclineClass::AuthenticationRequired);
        assert_eq!(d.decline_code, "authentication_required");
        assert_eq!(d.processor_code.as_deref(), Some("requires_action"));
        assert!(is_unknown(&ok("processing")));
        assert!(is_unknown(&ok("requires_confirmation")));
        assert!(is_unknown(&ok("requires_payment_method")));
        assert!(is_not_processed(&ok("canceled")));
        let d = declined(outcome(
            &a,
            &call,
            1,
            &answered(
                200,
                &pi(
                    "pi_9",
                    "requires_payment_method",
                    r#","last_payment_error":{"type":"card_error","code":"card_declined","decline_code":"insufficient_funds","message":"Your card has insufficient funds."}"#,
                ),
            ),
        ));
        assert_eq!(d.class, DeclineClass::Soft);
        assert_eq!(d.decline_code, "insufficient_funds");
        assert_eq!(d.processor_code.as_deref(), Some("insufficient_funds"));
        // 3-D Secure failed.
        let d = declined(outcome(
            &a,
            &call,
            1,
            &answered(
                200,
                &pi(
                    "pi_9",
                    "requires_payment_method",
                    r#","last_payment_error":{"code":"payment_intent_authentication_failure"}"#,
                ),
            ),
        ));
        assert_eq!(d.class, DeclineClass::AuthenticationRequired);
        // An approval without an id is not one.
        assert!(is_unknown(&outcome(
            &a,
            &call,
            1,
            &answered(200, r#"{"status":"succeeded"}"#)
        )));
    }

    #[test]
    fn stripe_decline_codes_pass_through() {
        let a = adapter();
        let c = card();
        let call = authorize(&c, "k", true);
        for (dc, class) in [
            ("insufficient_funds", DeclineClass::Soft),
            ("generic_decline", DeclineClass::Soft),
            ("do_not_honor", DeclineClass::Soft),
            ("try_again_later", DeclineClass::Soft),
            ("lost_card", DeclineClass::Hard),
            ("stolen_card", DeclineClass::Hard),
            ("fraudulent", DeclineClass::Hard),
            ("pickup_card", DeclineClass::Hard),
            ("do_not_try_again", DeclineClass::Hard),
            (
                "authentication_required",
                DeclineClass::AuthenticationRequired,
            ),
            ("a_code_stripe_adds_later", DeclineClass::Hard),
        ] {
            let d = declined(outcome(
                &a,
                &call,
                1,
                &answered(402, &card_error("card_declined", Some(dc))),
            ));
            assert_eq!(d.decline_code, dc);
            assert_eq!(d.class, class, "{dc}");
            assert_eq!(d.processor_code.as_deref(), Some(dc));
            assert_eq!(d.code, "card_declined");
            assert_eq!(d.message, "Your card was declined.");
        }
    }

    #[test]
    fn every_card_error_code_in_the_table() {
        let a = adapter();
        let c = card();
        let call = authorize(&c, "k", true);
        for (code, dc, class) in CARD_ERRORS {
            for step in [0, 1] {
                for status in [402, 400] {
                    let d = declined(outcome(
                        &a,
                        &call,
                        step,
                        &answered(status, &card_error(code, None)),
                    ));
                    assert_eq!(d.code, *code);
                    assert_eq!(d.decline_code, *dc, "{code}");
                    assert_eq!(d.class, *class, "{code}");
                    assert_eq!(d.processor_code.as_deref(), Some(*code));
                }
            }
            // The table agrees with classify() except where it says why.
            if *code != "card_decline_rate_limit_exceeded" {
                let expected = match *dc {
                    "incorrect_zip" | "invalid_expiry_month" | "invalid_expiry_year" => {
                        DeclineClass::Hard
                    }
                    other => crate::decline::classify(other),
                };
                assert_eq!(expected, *class, "{code}");
            }
        }
        // An unknown card error is a decline, hard (classify of the unknown).
        let d = declined(outcome(
            &a,
            &call,
            1,
            &answered(402, &card_error("something_new", None)),
        ));
        assert_eq!(d.class, DeclineClass::Hard);
        assert_eq!(d.processor_code.as_deref(), Some("something_new"));
    }

    #[test]
    fn transport_and_error_answers_of_calls_that_act() {
        let a = adapter();
        let c = card();
        let auth = authorize(&c, "k", true);
        let capture = Call::Capture {
            key: "k",
            reference: "pi_1",
            amount: 1,
            currency: "eur",
        };
        let void = Call::Void {
            key: "k",
            reference: "pi_1",
        };
        let refund = Call::Refund {
            key: "k",
            reference: "pi_1",
            amount: 1,
            currency: "eur",
        };
        for (call, step) in [(&auth, 1u8), (&capture, 0), (&void, 0), (&refund, 0)] {
            let o = |d: &Delivery| outcome(&a, call, step, d);
            assert!(is_not_processed(&o(&Delivery::NotSent(
                "connection refused".into()
            ))));
            assert!(is_unknown(&o(&Delivery::Lost("timed out".into()))));
            assert!(is_unknown(&o(&answered(
                500,
                r#"{"error":{"type":"api_error","message":"oops"}}"#
            ))));
            assert!(is_unknown(&o(&answered(503, ""))));
            assert!(is_unknown(&o(&answered(
                409,
                r#"{"error":{"type":"invalid_request_error","code":"lock_timeout"}}"#
            ))));
            assert!(is_unknown(&o(&answered(
                409,
                r#"{"error":{"type":"idempotency_error"}}"#
            ))));
            assert!(is_unknown(&o(&answered(
                400,
                r#"{"error":{"type":"idempotency_error","message":"Keys for idempotent requests can only be used with the same parameters"}}"#
            ))));
            assert!(is_unknown(&o(&answered(
                418,
                r#"{"error":{"type":"invalid_request_error"}}"#
            ))));
            assert!(is_unknown(&o(&answered(400, "garbage"))));
            assert!(is_unknown(&o(&answered(200, "garbage"))));
            assert!(is_not_processed(&o(&answered(429, ""))));
            assert!(is_not_processed(&o(&answered(
                429,
                r#"{"error":{"type":"rate_limit_error"}}"#
            ))));
            assert!(is_not_processed(&o(&answered(
                400,
                r#"{"error":{"type":"invalid_request_error","code":"parameter_invalid_integer"}}"#
            ))));
            assert!(is_not_processed(&o(&answered(
                404,
                r#"{"error":{"type":"invalid_request_error","code":"resource_missing"}}"#
            ))));
            assert!(is_not_processed(&o(&answered(
                401,
                r#"{"error":{"type":"authentication_error"}}"#
            ))));
            assert!(is_not_processed(&o(&answered(
                403,
                r#"{"error":{"type":"permission_error"}}"#
            ))));
        }
        // Stripe-Should-Retry is told, and changes nothing.
        let o = outcome(
            &a,
            &capture,
            0,
            &answered_with(
                500,
                &[("Stripe-Should-Retry", "true")],
                r#"{"error":{"type":"api_error"}}"#,
            ),
        );
        let Outcome::Unknown { reason } = o else {
            panic!("{o:?}")
        };
        assert!(reason.contains("Stripe-Should-Retry: true"), "{reason}");
        // A step the call does not have.
        assert!(is_unknown(&outcome(
            &a,
            &capture,
            1,
            &answered(200, &pi("pi_1", "succeeded", ""))
        )));
    }

    #[test]
    fn capture_void_refund_answers() {
        let a = adapter();
        let capture = Call::Capture {
            key: "k",
            reference: "pi_1",
            amount: 1,
            currency: "eur",
        };
        let void = Call::Void {
            key: "k",
            reference: "pi_1",
        };
        let refund = Call::Refund {
            key: "k",
            reference: "pi_1",
            amount: 1,
            currency: "eur",
        };
        let approved = |r: &str| Outcome::Approved {
            reference: r.into(),
        };
        assert_eq!(
            outcome(
                &a,
                &capture,
                0,
                &answered(200, &pi("pi_1", "succeeded", ""))
            ),
            approved("pi_1")
        );
        assert!(is_unknown(&outcome(
            &a,
            &capture,
            0,
            &answered(200, &pi("pi_1", "requires_capture", ""))
        )));
        assert_eq!(
            outcome(&a, &void, 0, &answered(200, &pi("pi_1", "canceled", ""))),
            approved("pi_1")
        );
        assert!(is_unknown(&outcome(
            &a,
            &void,
            0,
            &answered(200, &pi("pi_1", "succeeded", ""))
        )));
        let re = |status: &str| {
            format!(
                r#"{{"id":"re_1","object":"refund","amount":1,"status":"{status}","failure_reason":"expired_or_canceled_card"}}"#
            )
        };
        assert_eq!(
            outcome(&a, &refund, 0, &answered(200, &re("succeeded"))),
            approved("re_1")
        );
        assert_eq!(
            outcome(&a, &refund, 0, &answered(200, &re("pending"))),
            approved("re_1")
        );
        assert!(is_unknown(&outcome(
            &a,
            &refund,
            0,
            &answered(200, &re("requires_action"))
        )));
        for s in ["failed", "canceled"] {
            let d = declined(outcome(&a, &refund, 0, &answered(200, &re(s))));
            assert_eq!(d.class, DeclineClass::Hard);
            assert_eq!(
                d.processor_code.as_deref(),
                Some("expired_or_canceled_card")
            );
        }
        // Already refunded: refused before acting.
        assert!(is_not_processed(&outcome(
            &a,
            &refund,
            0,
            &answered(
                400,
                r#"{"error":{"type":"invalid_request_error","code":"charge_already_refunded"}}"#
            )
        )));
    }

    // ---- parsing: lookups --------------------------------------------------

    fn list(items: &[String], has_more: bool) -> String {
        format!(
            r#"{{"object":"list","has_more":{has_more},"data":[{}]}}"#,
            items.join(",")
        )
    }

    #[test]
    fn lookup_of_an_authorization() {
        let a = adapter();
        let call = lookup_auth("k1");
        let found = |status: &str, extra: &str| {
            outcome(
                &a,
                &call,
                0,
                &answered(200, &list(&[pi("pi_7", status, extra)], false)),
            )
        };
        assert_eq!(
            found("requires_capture", ""),
            Outcome::Approved {
                reference: "pi_7".into()
            }
        );
        assert_eq!(
            found("succeeded", ""),
            Outcome::Approved {
                reference: "pi_7".into()
            }
        );
        let d = declined(found(
            "requires_payment_method",
            r#","last_payment_error":{"code":"card_declined","decline_code":"lost_card"}"#,
        ));
        assert_eq!(d.class, DeclineClass::Hard);
        assert_eq!(
            declined(found("requires_action", "")).class,
            DeclineClass::AuthenticationRequired
        );
        assert!(is_not_processed(&found("canceled", "")));
        assert!(is_unknown(&found("processing", "")));
        // Another key's payment intent is no answer: search is empty, so
        // the recent list is asked (search lags up to a minute).
        let other = pi("pi_8", "succeeded", "").replace("\"k1\"", "\"k2\"");
        let r = next(
            &a,
            &call,
            0,
            &answered(200, &list(std::slice::from_ref(&other), false)),
        );
        assert_eq!(r.method, "GET");
        assert_eq!(r.url, "http://127.0.0.1:9999/v1/payment_intents?limit=100");
        assert_eq!(header(&r, "authorization"), Some("Basic c2tfdGVzdF8xMjM6"));
        let r0 = next(&a, &call, 0, &answered(200, &list(&[], false)));
        assert_eq!(r0.url, r.url);
        // The list has it: found after all.
        assert_eq!(
            outcome(
                &a,
                &call,
                1,
                &answered(
                    200,
                    &list(&[other.clone(), pi("pi_7", "requires_capture", "")], true)
                )
            ),
            Outcome::Approved {
                reference: "pi_7".into()
            }
        );
        // Neither has it: no record.
        assert!(is_not_processed(&outcome(
            &a,
            &call,
            1,
            &answered(200, &list(&[other], false))
        )));
        // Another amount: cannot vouch for it.
        let wrong = pi("pi_7", "succeeded", "").replace("1234", "999");
        assert!(is_unknown(&outcome(
            &a,
            &call,
            0,
            &answered(200, &list(&[wrong], false))
        )));
        // A lookup that cannot ask is unknown, never "no record".
        for step in [0, 1] {
            for d in [
                Delivery::Lost("timeout".into()),
                answered(429, ""),
                answered(500, r#"{"error":{"type":"api_error"}}"#),
                answered(
                    400,
                    r#"{"error":{"type":"invalid_request_error","message":"bad query"}}"#,
                ),
                answered(200, "garbage"),
            ] {
                assert!(is_unknown(&outcome(&a, &call, step, &d)), "{step} {d:?}");
            }
            assert!(is_unknown(&outcome(
                &a,
                &call,
                step,
                &Delivery::NotSent("refused".into())
            )));
        }
        // At most two requests.
        const { assert!(2 <= MAX_STEPS) };
    }

    #[test]
    fn lookup_of_a_refund() {
        let a = adapter();
        let call = lookup_refund("rk1");
        let re = |id: &str, key: &str, status: &str| {
            format!(
                r#"{{"id":"{id}","object":"refund","amount":500,"status":"{status}","metadata":{{"switchyard_key":"{key}"}}}}"#
            )
        };
        let o = |body: String| outcome(&a, &call, 0, &answered(200, &body));
        assert_eq!(
            o(list(
                &[
                    re("re_0", "rk0", "succeeded"),
                    re("re_1", "rk1", "succeeded")
                ],
                false
            )),
            Outcome::Approved {
                reference: "re_1".into()
            }
        );
        assert_eq!(
            o(list(&[re("re_1", "rk1", "pending")], false)),
            Outcome::Approved {
                reference: "re_1".into()
            }
        );
        assert!(matches!(
            o(list(&[re("re_1", "rk1", "failed")], false)),
            Outcome::Declined(_)
        ));
        assert!(is_not_processed(&o(list(
            &[re("re_0", "rk0", "succeeded")],
            false
        ))));
        assert!(is_not_processed(&o(list(&[], false))));
        assert!(is_unknown(&o(list(
            &[re("re_0", "rk0", "succeeded")],
            true
        ))));
        assert!(is_not_processed(&outcome(
            &a,
            &call,
            0,
            &answered(
                404,
                r#"{"error":{"type":"invalid_request_error","code":"resource_missing"}}"#
            )
        )));
        assert!(is_unknown(&outcome(&a, &call, 0, &answered(429, ""))));
        assert!(is_unknown(&outcome(&a, &call, 0, &answered(503, ""))));
        assert!(is_unknown(&outcome(
            &a,
            &call,
            0,
            &Delivery::Lost("reset".into())
        )));
        assert!(is_unknown(&outcome(
            &a,
            &call,
            0,
            &Delivery::NotSent("refused".into())
        )));
    }
}
