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
//! - Lookups: a lookup that cannot answer (429, 5xx, an error other than
//!   `resource_missing`) is unknown, never "no record".
//!
//! Against localstripe (the test peer): it sends every error with
//! `type: invalid_request_error`, including its charge declines (402,
//! `code: card_declined`, no `decline_code`) and card-data refusals (400,
//! `code: invalid_expiry_year`); a card error is therefore recognised by
//! its `code` as well as by its type.

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::adapter::{Adapter, Call, Delivery, Looked, Outcome, Parsed, WireRequest, WireResponse};
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
            ..
        } = call
        else {
            return None;
        };
        let key = stripe_key(key);
        let capture_method = if *capture { "automatic" } else { "manual" };
        Some(self.post(
            "/v1/payment_intents",
            key.clone(),
            &[
                ("amount", amount.to_string()),
                ("currency", currency.to_ascii_lowercase()),
                ("payment_method", payment_method.to_owned()),
                ("payment_method_types[0]", "card".to_owned()),
                ("confirm", "true".to_owned()),
                ("capture_method", capture_method.to_owned()),
                ("metadata[switchyard_key]", key),
                ("metadata[switchyard_payment]", (*payment_id).to_owned()),
            ],
        ))
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
            Delivery::NotSent(reason) => {
                return done(Outcome::NotProcessed {
                    reason: format!("not sent: {}", scrub(reason)),
                })
            }
            Delivery::Lost(reason) => {
                let reason = format!("no answer: {}", scrub(reason));
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
    let message = str_field(e, "message").map(|m| scrub(&m));
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
            None => Decline::from_stripe_code("generic_decline", Some(code.clone())),
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
        .map(|m| scrub(&m))
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

/// Masks any run of 12 or more digits (a card number in a message).
fn scrub(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.len() >= 12 {
            out.push_str("[number]");
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in s.chars() {
        if c.is_ascii_digit() {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// A reference placed in a URL path: only Stripe id characters pass.
fn path_segment(reference: &str) -> String {
    percent_encode(reference)
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
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
