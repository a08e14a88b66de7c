//! Adyen, Checkout API v71 (`https://checkout-test.adyen.com/v71` or the
//! live prefix URL, as the configuration's `base_url`).
//!
//! Requests (JSON, `X-API-Key`, `Idempotency-Key`):
//! - authorize: `POST {base}/payments` with `merchantAccount` (the
//!   configuration's `account`), `amount {value, currency}`, `reference`,
//!   `paymentMethod {type: "scheme", number, expiryMonth, expiryYear, cvc}`
//!   (strings, as the schema says), `returnUrl` (required by the schema; a
//!   redirect is answered as "authentication required" and the shopper is
//!   never sent there), `shopperInteraction: "Ecommerce"`. Manual capture is
//!   `additionalData.manualCapture: "true"` (Adyen's "manual capture of an
//!   individual payment"), always: `captures_with_authorization` is false,
//!   so the worker captures a payment that captures at once with a capture
//!   call of its own, and an authorization whose answer was lost is never
//!   captured yet.
//! - capture, void, refund: `POST {base}/payments/{pspReference}/captures`,
//!   `/cancels`, `/refunds` with `merchantAccount`, `amount` (not for a
//!   cancel) and `reference`. Adyen answers `201 {status: "received"}`: the
//!   modification is accepted (its final result comes by webhook).
//!
//! Keys: the call's key is both the `Idempotency-Key` and the merchant
//! `reference`. Adyen takes at most 64 characters for the key (80 for a
//! reference); a longer key is replaced by `sy_` and the first 61 hex
//! digits of its SHA-256, the same for both, so a retry sends the same.
//!
//! Lookup (Adyen's Checkout API has no synchronous payment look-up):
//! - `Looked::Authorize`: a technical cancel by merchant reference,
//!   `POST {base}/cancels {merchantAccount, paymentReference, reference}`
//!   ("Cancel an authorised payment" with your own reference). Once Adyen
//!   answers `received`, whatever authorization has that reference is
//!   cancelled, so the outcome is `NotProcessed { "cancelled at Adyen by
//!   reference" }`: nothing is charged. LIMIT: Adyen's technical cancel
//!   only cancels an authorisation that is not captured ("Cancels the
//!   authorisation on a payment that has not yet been captured"; the
//!   result comes by TECHNICAL_CANCEL webhook, which this adapter cannot
//!   see). That is why authorizations are never captured at once (above):
//!   a capture is a call of its own, whose retry is deduplicated by key.
//! - `Looked::Refund`: the same refund request again with the same
//!   `Idempotency-Key` (Adyen replays its stored answer; no card data is
//!   needed): `Approved` means the refund exists (if the first request never
//!   reached Adyen, this one makes it, which is what the worker wanted).
//!   A validation refusal means Adyen has no such refund: `NotProcessed`.
//!   Anything that does not answer the question (not sent, rate limited,
//!   5xx) is `Unknown` for a lookup.
//!
//! Answers (Adyen's "response handling" and "result codes" pages):
//! - `200` with `resultCode`: Authorised → approved (the `pspReference`);
//!   Refused → declined by `refusalReasonCode` ([`REFUSALS`]); Error (a
//!   final state: "an error when the payment was being processed") →
//!   declined, by its refusal code when given, else soft `processing_error`;
//!   Cancelled (final) → declined hard (`do_not_try_again`) unless its code
//!   says otherwise; RedirectShopper / IdentifyShopper / ChallengeShopper →
//!   authentication required; Pending, Received, PartiallyAuthorised (never
//!   asked for) and anything else → unknown.
//! - `400` / `422` with `errorType: "validation"`: Adyen refused the request
//!   before processing it → not processed (except `704`, "request already
//!   processed or in progress", which is unknown).
//! - `401` / `403` with `errorType: "security"`: refused before processing,
//!   a configuration problem (API key, merchant account) → not processed.
//! - `429` → not processed. `5xx`, any other status, an unreadable body →
//!   unknown.
//!
//! A missing `account` (merchant account) or `base_url` is a configuration
//! error: `new` stays total, `build` makes a request to an unroutable URL
//! without any card data, and `parse` answers `NotProcessed` with the reason,
//! whatever was delivered. The worker's configuration check should require
//! `account` for `adyen`.

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::adapter::{
    percent_encode, Adapter, Call, Delivery, Looked, Outcome, Parsed, WireRequest,
};
use crate::config::{Credentials, ProcessorConfig};
use crate::decline::{Decline, DeclineClass};

/// Adyen's longest `Idempotency-Key`.
pub const MAX_KEY_LEN: usize = 64;

/// The `returnUrl` the schema requires of `/payments`. No redirect flow is
/// followed (a redirect is "authentication required"), so nobody lands here.
pub const RETURN_URL: &str = "https://switchyard.invalid/adyen/return";

/// Where a request goes when the configuration lacks what Adyen needs: not
/// a URL any transport can send to, so it is never sent.
const UNROUTABLE: &str = "adyen-misconfigured://not-sent";

pub struct AdyenAdapter {
    config: ProcessorConfig,
    credentials: Credentials,
}

impl AdyenAdapter {
    pub fn new(config: ProcessorConfig, credentials: Credentials) -> Self {
        AdyenAdapter {
            config,
            credentials,
        }
    }

    /// Why this adapter cannot call Adyen, if it cannot.
    fn misconfigured(&self) -> Option<&'static str> {
        if self.account().is_none() {
            return Some("configuration: adyen needs `account` (the merchant account)");
        }
        if self.base().is_none() {
            return Some("configuration: adyen needs `base_url`");
        }
        None
    }

    fn account(&self) -> Option<&str> {
        self.config.account.as_deref().filter(|a| !a.is_empty())
    }

    fn base(&self) -> Option<&str> {
        self.config
            .base_url
            .as_deref()
            .map(|b| b.strip_suffix('/').unwrap_or(b))
            .filter(|b| !b.is_empty())
    }
}

/// The key Adyen gets for a call's key: itself when it fits in 64
/// characters, else `sy_` and 61 hex digits of its SHA-256.
pub fn adyen_key(key: &str) -> String {
    if key.len() <= MAX_KEY_LEN && key.is_ascii() {
        return key.to_owned();
    }
    let digest = Sha256::digest(key.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sy_{}", &hex[..MAX_KEY_LEN - 3])
}

/// The key and reference of a lookup's technical cancel: distinct from the
/// authorization's own key, the same for every retry of the lookup.
fn lookup_cancel_key(key: &str) -> String {
    adyen_key(&format!("{key}-lookup-cancel"))
}

fn amount(value: u64, currency: &str) -> Value {
    json!({ "value": value, "currency": currency.to_ascii_uppercase() })
}

impl Adapter for AdyenAdapter {
    fn kind(&self) -> &'static str {
        "adyen"
    }

    fn timeout_ms(&self) -> u32 {
        self.config.timeout_ms
    }

    fn captures_with_authorization(&self) -> bool {
        false
    }

    fn build(&self, call: &Call<'_>) -> WireRequest {
        let (Some(account), Some(base)) = (self.account(), self.base()) else {
            return WireRequest::new("POST", UNROUTABLE.to_owned(), vec![], String::new());
        };
        let mut key = adyen_key(call.key());
        let (path, body) = match call {
            Call::Authorize {
                amount: value,
                currency,
                capture,
                card,
                facts,
                descriptor,
                ..
            } => {
                let mut method = Map::new();
                method.insert("type".into(), json!("scheme"));
                method.insert("number".into(), json!(card.number()));
                method.insert(
                    "expiryMonth".into(),
                    json!(format!("{:02}", facts.exp_month)),
                );
                method.insert("expiryYear".into(), json!(facts.exp_year.to_string()));
                if let Some(cvc) = card.cvc() {
                    method.insert("cvc".into(), json!(cvc));
                }
                let mut body = json!({
                    "merchantAccount": account,
                    "amount": amount(*value, currency),
                    "reference": key,
                    "paymentMethod": Value::Object(method),
                    "returnUrl": RETURN_URL,
                    "shopperInteraction": "Ecommerce",
                });
                // Adyen's `shopperStatement` (22 characters at most, as the
                // API checks): the whole descriptor, else the suffix.
                if let Some(d) = descriptor.full.or(descriptor.suffix) {
                    body["shopperStatement"] = json!(d);
                }
                // Always authorized alone (`captures_with_authorization`).
                let _ = capture;
                body["additionalData"] = json!({ "manualCapture": "true" });
                ("/payments".to_owned(), body)
            }
            Call::Capture {
                reference,
                amount: value,
                currency,
                ..
            } => (
                format!("/payments/{}/captures", percent_encode(reference)),
                json!({ "merchantAccount": account, "amount": amount(*value, currency), "reference": key }),
            ),
            Call::Void { reference, .. } => (
                format!("/payments/{}/cancels", percent_encode(reference)),
                json!({ "merchantAccount": account, "reference": key }),
            ),
            Call::Refund {
                reference,
                amount: value,
                currency,
                ..
            }
            | Call::Lookup {
                of:
                    Looked::Refund {
                        reference,
                        amount: value,
                        currency,
                    },
                ..
            } => (
                format!("/payments/{}/refunds", percent_encode(reference)),
                json!({ "merchantAccount": account, "amount": amount(*value, currency), "reference": key }),
            ),
            Call::Lookup {
                of: Looked::Authorize { .. },
                ..
            } => {
                let payment_reference = key;
                key = lookup_cancel_key(call.key());
                (
                    "/cancels".to_owned(),
                    json!({ "merchantAccount": account, "paymentReference": payment_reference, "reference": key }),
                )
            }
        };
        WireRequest::new(
            "POST",
            format!("{base}{path}"),
            vec![
                ("content-type".to_owned(), "application/json".to_owned()),
                (
                    "x-api-key".to_owned(),
                    self.credentials.api_key.clone().unwrap_or_default(),
                ),
                ("idempotency-key".to_owned(), key),
            ],
            body.to_string(),
        )
    }

    fn parse(&self, call: &Call<'_>, _step: u8, delivery: &Delivery) -> Parsed {
        if let Some(reason) = self.misconfigured() {
            return Parsed::Done(Outcome::NotProcessed {
                reason: reason.to_owned(),
            });
        }
        let outcome = outcome_of(call, delivery);
        Parsed::Done(match call {
            Call::Lookup { of, .. } => lookup_outcome(of, outcome),
            _ => outcome,
        })
    }
}

/// A received technical cancel means the looked-up authorization, if any,
/// is cancelled: not processed. A lookup's own request that was not
/// processed says nothing about the looked-up call: unknown, except a refund that Adyen refused to (re)make
/// on validation, which it would have replayed had it existed.
fn lookup_outcome(of: &Looked<'_>, outcome: Outcome) -> Outcome {
    match (of, outcome) {
        (Looked::Authorize { .. }, Outcome::Approved { .. }) => Outcome::NotProcessed {
            reason: "cancelled at Adyen by reference".to_owned(),
        },
        (Looked::Refund { .. }, Outcome::NotProcessed { reason })
            if reason.starts_with(VALIDATION) =>
        {
            Outcome::NotProcessed { reason }
        }
        (_, Outcome::NotProcessed { reason }) => Outcome::Unknown {
            reason: format!("lookup not answered: {reason}"),
        },
        (_, other) => other,
    }
}

const VALIDATION: &str = "refused by validation";

fn outcome_of(call: &Call<'_>, delivery: &Delivery) -> Outcome {
    let resp = match delivery {
        Delivery::NotSent(reason) => {
            return Outcome::NotProcessed {
                reason: format!("not sent: {reason}"),
            }
        }
        Delivery::Lost(reason) => {
            return Outcome::Unknown {
                reason: format!("no answer: {reason}"),
            }
        }
        Delivery::Answered(r) => r,
    };
    if resp.status == 429 {
        return Outcome::NotProcessed {
            reason: "rate limited (429)".to_owned(),
        };
    }
    let body: Value = match serde_json::from_str(&resp.body) {
        Ok(v @ Value::Object(_)) => v,
        _ => {
            return Outcome::Unknown {
                reason: format!("unreadable answer ({})", resp.status),
            }
        }
    };
    let s = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_owned);
    match (resp.status, call) {
        (200, Call::Authorize { .. }) => payment_outcome(
            s("resultCode").as_deref(),
            s("pspReference"),
            s("refusalReasonCode").as_deref(),
        ),
        (201, _) if s("status").as_deref() == Some("received") => match call {
            Call::Capture { reference, .. } | Call::Void { reference, .. } => Outcome::Approved {
                reference: s("paymentPspReference").unwrap_or_else(|| (*reference).to_owned()),
            },
            // The technical cancel was received; `lookup_outcome` says
            // what that means for the authorization.
            Call::Lookup {
                of: Looked::Authorize { .. },
                ..
            }
            | Call::Refund { .. }
            | Call::Lookup {
                of: Looked::Refund { .. },
                ..
            } => match s("pspReference") {
                Some(reference) => Outcome::Approved { reference },
                None => Outcome::Unknown {
                    reason: "received without a pspReference".to_owned(),
                },
            },
            Call::Authorize { .. } => Outcome::Unknown {
                reason: "undocumented answer (201 to /payments)".to_owned(),
            },
        },
        (status, _) => error_outcome(
            status,
            s("errorType").as_deref(),
            s("errorCode").as_deref(),
            s("message").as_deref(),
        ),
    }
}

/// An answer other than a payment result or a received modification.
fn error_outcome(
    status: u16,
    error_type: Option<&str>,
    error_code: Option<&str>,
    message: Option<&str>,
) -> Outcome {
    let code = error_code.unwrap_or("-");
    let message = message.unwrap_or("no message");
    match (status, error_type) {
        // "Request already processed or in progress": a conflict, not a
        // validation failure of this request.
        (400 | 422, Some("validation")) if code == "704" => Outcome::Unknown {
            reason: format!("in progress at Adyen ({status}, {code})"),
        },
        (400 | 422, Some("validation")) => Outcome::NotProcessed {
            reason: format!("{VALIDATION} ({status}, {code}: {message})"),
        },
        (401 | 403, Some("security")) => Outcome::NotProcessed {
            reason: format!(
                "configuration: refused by Adyen before processing ({status}, {code}: {message})"
            ),
        },
        (status, t) => Outcome::Unknown {
            reason: format!(
                "undocumented answer ({status}, {}, {code})",
                t.unwrap_or("no errorType")
            ),
        },
    }
}

/// The outcome of a `/payments` answer (HTTP 200) by `resultCode`.
fn payment_outcome(
    result_code: Option<&str>,
    psp_reference: Option<String>,
    refusal_code: Option<&str>,
) -> Outcome {
    match result_code {
        Some("Authorised") => match psp_reference {
            Some(reference) => Outcome::Approved { reference },
            None => Outcome::Unknown {
                reason: "Authorised without a pspReference".to_owned(),
            },
        },
        Some("Refused") => Outcome::Declined(refusal(refusal_code)),
        Some("Error") => Outcome::Declined(match refusal_code {
            Some(code) if code != "0" => refusal(Some(code)),
            _ => Decline::from_stripe_code("processing_error", Some("Error".to_owned())),
        }),
        Some("Cancelled") => Outcome::Declined(match refusal_code {
            Some(code) if code != "0" => refusal(Some(code)),
            _ => Decline::from_stripe_code("do_not_try_again", Some("Cancelled".to_owned())),
        }),
        Some(r @ ("RedirectShopper" | "IdentifyShopper" | "ChallengeShopper")) => {
            Outcome::Declined(Decline::from_stripe_code(
                "authentication_required",
                Some(r.to_owned()),
            ))
        }
        other => Outcome::Unknown {
            reason: format!(
                "payment not final at Adyen (resultCode {})",
                other.unwrap_or("missing")
            ),
        },
    }
}

/// One of Adyen's refusal reasons: its `refusalReasonCode`, its
/// `refusalReason`, the Stripe `decline_code` it maps to, and the class
/// where it is not the one `decline::classify` gives that code.
pub struct Refusal {
    pub code: &'static str,
    pub reason: &'static str,
    pub decline_code: &'static str,
    pub class: Option<DeclineClass>,
}

const fn r(code: &'static str, reason: &'static str, decline_code: &'static str) -> Refusal {
    Refusal {
        code,
        reason,
        decline_code,
        class: None,
    }
}

/// Adyen's refusal reasons (docs.adyen.com/development-resources/refusal-reasons),
/// every documented code. Classes follow `classify` of the Stripe code,
/// except where Adyen's description says otherwise (`class: Some(..)`).
pub const REFUSALS: &[Refusal] = &[
    // 0 comes with Authorised (ignored); with a refusal it says nothing.
    r("0", "(none)", "generic_decline"),
    r("2", "Refused", "generic_decline"),
    r("3", "Referral", "call_issuer"),
    r("4", "Acquirer Error", "processing_error"),
    r("5", "Blocked Card", "restricted_card"),
    r("6", "Expired Card", "expired_card"),
    r("7", "Invalid Amount", "invalid_amount"),
    r("8", "Invalid Card Number", "incorrect_number"),
    r("9", "Issuer Unavailable", "issuer_not_available"),
    r("10", "Not supported", "card_not_supported"),
    r("11", "3D Not Authenticated", "authentication_required"),
    r("12", "Not enough balance", "insufficient_funds"),
    r("14", "Acquirer Fraud", "fraudulent"),
    r("15", "Cancelled", "do_not_try_again"),
    r("16", "Shopper Cancelled", "do_not_try_again"),
    r("17", "Invalid Pin", "incorrect_pin"),
    r("18", "Pin tries exceeded", "pin_try_exceeded"),
    r("19", "Pin validation not possible", "incorrect_pin"),
    r("20", "FRAUD", "fraudulent"),
    // "Not submitted correctly for processing": Adyen still answers it as
    // a refusal, so a decline; soft, as another processor may take it.
    r("21", "Not Submitted", "processing_error"),
    r("22", "FRAUD-CANCELLED", "fraudulent"),
    r("23", "Transaction Not Permitted", "transaction_not_allowed"),
    r("24", "CVC Declined", "incorrect_cvc"),
    r("25", "Restricted Card", "restricted_card"),
    r("26", "Revocation Of Auth", "revocation_of_authorization"),
    r("27", "Declined Non Generic", "do_not_honor"),
    r("28", "Withdrawal amount exceeded", "card_velocity_exceeded"),
    r(
        "29",
        "Withdrawal count exceeded",
        "withdrawal_count_limit_exceeded",
    ),
    r("31", "Issuer Suspected Fraud", "fraudulent"),
    r("32", "AVS Declined", "incorrect_address"),
    r(
        "33",
        "Card requires online pin",
        "online_or_offline_pin_required",
    ),
    r(
        "34",
        "No checking account available on Card",
        "invalid_account",
    ),
    r(
        "35",
        "No savings account available on Card",
        "invalid_account",
    ),
    r("36", "Mobile pin required", "authentication_required"),
    // Point-of-sale answers (an online payment should not get them): the
    // card may work another way, so soft.
    r("37", "Contactless fallback", "transaction_not_allowed"),
    r("38", "Authentication required", "authentication_required"),
    r("39", "RReq not received from DS", "authentication_required"),
    r(
        "40",
        "Current AID is in Penalty Box",
        "transaction_not_allowed",
    ),
    r(
        "41",
        "CVM Required Restart Payment",
        "authentication_required",
    ),
    r("42", "3DS Authentication Error", "authentication_required"),
    r(
        "43",
        "Online PIN required",
        "online_or_offline_pin_required",
    ),
    r("44", "Try another interface", "transaction_not_allowed"),
    r("45", "Chip downgrade mode", "transaction_not_allowed"),
    r(
        "46",
        "Transaction blocked by Adyen to prevent excessive retry fees",
        "do_not_try_again",
    ),
];

/// The decline for a refusal code. An undocumented code keeps Adyen's code
/// and is hard (an unexplained refusal is not retried elsewhere), as an
/// unknown Stripe code would be.
pub fn refusal(code: Option<&str>) -> Decline {
    let code = code.unwrap_or("0");
    match REFUSALS.iter().find(|r| r.code == code) {
        Some(r) => {
            let mut d = Decline::from_stripe_code(r.decline_code, Some(code.to_owned()));
            if let Some(class) = r.class {
                d.class = class;
            }
            d
        }
        None => {
            let mut d = Decline::from_stripe_code("generic_decline", Some(code.to_owned()));
            d.class = DeclineClass::Hard;
            d
        }
    }
}

#[cfg(test)]
mod tests;
