//! Checkout.com's Payments API (the unified payments API of its current
//! platform, with the Previous platform's secret keys accepted too).
//!
//! Wire format, as Checkout.com documents it (API reference, "Payments")
//! and as its official Node client `checkout-sdk-node` 5.2.1 speaks it:
//! - authorize: `POST {base}/payments` with a card `source`, the amount in
//!   minor units, the upper-case currency, `reference`, `capture`, the
//!   `processing_channel_id` (the configuration's `account`) and
//!   `metadata`. `201` with `approved` true or false and a five-digit
//!   `response_code`; `202` with `status: "Pending"` and a
//!   `_links.redirect` when the customer must authenticate (3-D Secure).
//! - capture, void, refund: `POST {base}/payments/{id}/captures`,
//!   `/voids`, `/refunds`; `202` with an `action_id`.
//! - look-ups: `GET {base}/payments?reference=...` ("Get payment lists",
//!   by the merchant reference) and `GET {base}/payments/{id}/actions`.
//! - errors: `401` (no or wrong key: refused before processing), `422`
//!   with `error_type: "request_invalid"` and `error_codes` (validation
//!   failed, nothing created), `429` (too many requests), `5xx`.
//!
//! Authentication: `Authorization: Bearer <secret key>` for the current
//! platform's keys (`sk_...`, `sk_sbox_...`); the Previous platform's keys
//! (`sk_<uuid>`, `sk_test_<uuid>`) go without the `Bearer` prefix, as the
//! official client sends them. A key configured with its `Bearer ` prefix
//! is sent as given.
//!
//! Idempotency: `Cko-Idempotency-Key` is the call's key, which is also the
//! payment's (or action's) `reference`, so that a look-up finds the call by
//! it. A key longer than [`MAX_REFERENCE_LEN`] characters (Checkout.com's
//! `reference` limit we hold to, the shorter of its platforms') is replaced
//! by `sy-` and the first 40 hex digits of its SHA-256: deterministic, so
//! the retry and the look-up of a call derive the same reference.
//!
//! Outcomes: `response_code` by the table [`RESPONSE_CODES`] (data: every
//! code Checkout.com publishes, with the Stripe `decline_code` it maps to
//! and its class). An HTTP status alone never means "not processed",
//! except `429` and `401` (the request was refused before any processing);
//! `422 request_invalid` is Checkout.com's documented validation failure.

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::adapter::{
    percent_encode, Adapter, Call, Delivery, Looked, Outcome, Parsed, WireRequest, WireResponse,
};
use crate::config::{Credentials, ProcessorConfig};
use crate::decline::{classify, Decline, DeclineClass};

/// The longest `reference` (and idempotency key) sent as it is; longer
/// keys are hashed (see the module's documentation).
pub const MAX_REFERENCE_LEN: usize = 50;

/// The idempotency header.
pub const IDEMPOTENCY_HEADER: &str = "Cko-Idempotency-Key";

pub struct CheckoutAdapter {
    config: ProcessorConfig,
    credentials: Credentials,
}

impl CheckoutAdapter {
    pub fn new(config: ProcessorConfig, credentials: Credentials) -> Self {
        CheckoutAdapter {
            config,
            credentials,
        }
    }

    fn base(&self) -> &str {
        let b = self.config.base_url.as_deref().unwrap_or_default();
        b.strip_suffix('/').unwrap_or(b)
    }

    fn authorization(&self) -> String {
        let key = self.credentials.api_key.as_deref().unwrap_or_default();
        if key.starts_with("Bearer ") || is_previous_platform_key(key) {
            key.to_owned()
        } else {
            format!("Bearer {key}")
        }
    }

    fn request(
        &self,
        method: &'static str,
        path: &str,
        key: &str,
        body: Option<Value>,
    ) -> WireRequest {
        let mut headers = vec![
            ("Authorization".to_owned(), self.authorization()),
            ("Accept".to_owned(), "application/json".to_owned()),
        ];
        let body = match body {
            Some(b) => {
                headers.push(("Content-Type".to_owned(), "application/json".to_owned()));
                headers.push((IDEMPOTENCY_HEADER.to_owned(), reference_for(key)));
                b.to_string()
            }
            None => String::new(),
        };
        WireRequest::new(method, format!("{}{path}", self.base()), headers, body)
    }
}

/// A Previous (ABC) platform secret key: `sk_` or `sk_test_` and a UUID.
fn is_previous_platform_key(key: &str) -> bool {
    let rest = key
        .strip_prefix("sk_test_")
        .or_else(|| key.strip_prefix("sk_"))
        .unwrap_or_default();
    let groups: Vec<&str> = rest.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8usize, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// The Checkout.com `reference` and idempotency key of a call's key.
pub fn reference_for(key: &str) -> String {
    if key.len() <= MAX_REFERENCE_LEN {
        return key.to_owned();
    }
    let digest = Sha256::digest(key.as_bytes());
    let hex: String = digest.iter().take(20).map(|b| format!("{b:02x}")).collect();
    format!("sy-{hex}")
}

impl Adapter for CheckoutAdapter {
    fn kind(&self) -> &'static str {
        "checkout"
    }

    fn timeout_ms(&self) -> u32 {
        self.config.timeout_ms
    }

    fn build(&self, call: &Call<'_>) -> WireRequest {
        match call {
            Call::Authorize {
                key,
                payment_id,
                amount,
                currency,
                capture,
                card,
                facts,
                // Checkout.com's `billing_descriptor` needs a city beside
                // the name, which Stripe's parameters do not carry: not sent.
                descriptor: _,
            } => {
                let mut source = json!({
                    "type": "card",
                    "number": card.number(),
                    "expiry_month": facts.exp_month,
                    "expiry_year": facts.exp_year,
                });
                if let Some(cvc) = card.cvc() {
                    source["cvv"] = json!(cvc);
                }
                let mut body = json!({
                    "source": source,
                    "amount": amount,
                    "currency": currency.to_ascii_uppercase(),
                    "reference": reference_for(key),
                    "capture": capture,
                    "payment_type": "Regular",
                    "metadata": { "switchyard_payment": payment_id, "switchyard_key": key },
                });
                if let Some(channel) = &self.config.account {
                    body["processing_channel_id"] = json!(channel);
                }
                self.request("POST", "/payments", key, Some(body))
            }
            Call::Capture {
                key,
                reference,
                amount,
                ..
            } => self.request(
                "POST",
                &format!("/payments/{}/captures", percent_encode(reference)),
                key,
                Some(json!({ "amount": amount, "reference": reference_for(key) })),
            ),
            Call::Void { key, reference } => self.request(
                "POST",
                &format!("/payments/{}/voids", percent_encode(reference)),
                key,
                Some(json!({ "reference": reference_for(key) })),
            ),
            Call::Refund {
                key,
                reference,
                amount,
                ..
            } => self.request(
                "POST",
                &format!("/payments/{}/refunds", percent_encode(reference)),
                key,
                Some(json!({ "amount": amount, "reference": reference_for(key) })),
            ),
            Call::Lookup {
                key,
                of: Looked::Authorize { .. },
            } => self.request(
                "GET",
                &format!(
                    "/payments?reference={}",
                    percent_encode(&reference_for(key))
                ),
                key,
                None,
            ),
            Call::Lookup {
                key,
                of: Looked::Refund { reference, .. },
            } => self.request(
                "GET",
                &format!("/payments/{}/actions", percent_encode(reference)),
                key,
                None,
            ),
        }
    }

    fn parse(&self, call: &Call<'_>, step: u8, delivery: &Delivery) -> Parsed {
        let parsed = self.parse_answer(call, step, delivery);
        match (call, parsed) {
            // A look-up's "not processed" means "no record of the call"
            // (the worker concludes it did not charge). A look-up that was
            // not sent, rate limited, refused (401) or invalid (422) asked
            // nothing: it cannot say.
            (Call::Lookup { .. }, Parsed::Done(Outcome::NotProcessed { reason }))
                if !is_no_record(delivery) =>
            {
                Parsed::Done(Outcome::Unknown {
                    reason: format!("look-up not answered: {reason}"),
                })
            }
            (_, parsed) => parsed,
        }
    }
}

/// Whether a look-up's answer was a list Checkout.com gave (200): only then
/// is "not processed" its "no record".
fn is_no_record(delivery: &Delivery) -> bool {
    matches!(delivery, Delivery::Answered(r) if r.status == 200)
}

impl CheckoutAdapter {
    fn parse_answer(&self, call: &Call<'_>, step: u8, delivery: &Delivery) -> Parsed {
        let resp = match delivery {
            Delivery::NotSent(reason) => {
                return Parsed::Done(Outcome::NotProcessed {
                    reason: format!("not sent: {reason}"),
                })
            }
            Delivery::Lost(reason) => {
                return Parsed::Done(Outcome::Unknown {
                    reason: format!("no answer: {reason}"),
                })
            }
            Delivery::Answered(r) => r,
        };
        if let Some(outcome) = common_outcome(resp) {
            return Parsed::Done(outcome);
        }
        let body: Value = match serde_json::from_str(&resp.body) {
            Ok(v) => v,
            Err(_) => {
                return Parsed::Done(Outcome::Unknown {
                    reason: format!("unreadable answer ({})", resp.status),
                })
            }
        };
        match call {
            Call::Authorize { .. } => Parsed::Done(authorize_outcome(resp.status, &body)),
            Call::Capture { reference, .. } | Call::Void { reference, .. } => {
                Parsed::Done(action_outcome(resp.status, &body, Some(reference)))
            }
            Call::Refund { .. } => Parsed::Done(action_outcome(resp.status, &body, None)),
            Call::Lookup {
                key,
                of: Looked::Authorize { .. },
            } => match step {
                0 => self.payment_list_outcome(resp.status, &body, &reference_for(key), key),
                _ => Parsed::Done(declined_actions_outcome(resp.status, &body)),
            },
            Call::Lookup {
                key,
                of: Looked::Refund { .. },
            } => Parsed::Done(refund_lookup_outcome(
                resp.status,
                &body,
                &reference_for(key),
            )),
        }
    }
}

/// Answers that mean the same for every call.
fn common_outcome(resp: &WireResponse) -> Option<Outcome> {
    match resp.status {
        // Checkout.com: "Too many requests or duplicate request detected";
        // the API spec counts 429 as not processed.
        429 => Some(Outcome::NotProcessed {
            reason: "Checkout.com: too many requests (429)".to_owned(),
        }),
        // Unauthorized: the key was refused before any processing (a
        // configuration error of this processor).
        401 => Some(Outcome::NotProcessed {
            reason: "Checkout.com: unauthorized (401), check the secret key".to_owned(),
        }),
        // 422 with `request_invalid`: validation failed, nothing created.
        422 => {
            let body: Value = serde_json::from_str(&resp.body).unwrap_or(Value::Null);
            let error_type = body.get("error_type").and_then(Value::as_str);
            let codes = body
                .get("error_codes")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .filter(|c| c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default();
            Some(match error_type {
                Some("request_invalid") => Outcome::NotProcessed {
                    reason: format!("Checkout.com: request invalid ({codes})"),
                },
                _ => Outcome::Unknown {
                    reason: format!("Checkout.com: undocumented 422 ({codes})"),
                },
            })
        }
        500..=599 => Some(Outcome::Unknown {
            reason: format!("Checkout.com: server error ({})", resp.status),
        }),
        _ => None,
    }
}

fn str_field<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str)
}

/// The answer to `POST /payments`.
fn authorize_outcome(status: u16, body: &Value) -> Outcome {
    let id = str_field(body, "id");
    let approved = body.get("approved").and_then(Value::as_bool);
    let pay_status = str_field(body, "status");
    match (status, approved, id) {
        (201, Some(true), Some(id)) => Outcome::Approved {
            reference: id.to_owned(),
        },
        (201, Some(false), _) => {
            Outcome::Declined(decline_for(str_field(body, "response_code").unwrap_or("")))
        }
        (202, _, Some(_)) if pay_status == Some("Pending") && has_redirect(body) => {
            Outcome::Declined(authentication_required(str_field(body, "response_code")))
        }
        _ => Outcome::Unknown {
            reason: format!(
                "Checkout.com: undocumented answer ({status}, {})",
                pay_status.unwrap_or("no status")
            ),
        },
    }
}

fn has_redirect(body: &Value) -> bool {
    body.pointer("/_links/redirect/href")
        .and_then(Value::as_str)
        .is_some()
}

fn authentication_required(code: Option<&str>) -> Decline {
    Decline::from_stripe_code(
        "authentication_required",
        Some(code.unwrap_or("20154").to_owned()),
    )
}

/// The answer to a capture, void or refund: `202` with an `action_id`.
/// `payment` is the payment id for capture and void (the outcome's
/// reference); a refund's reference is its action id.
fn action_outcome(status: u16, body: &Value, payment: Option<&str>) -> Outcome {
    match (status, str_field(body, "action_id")) {
        (202, Some(action)) => Outcome::Approved {
            reference: payment.unwrap_or(action).to_owned(),
        },
        _ => Outcome::Unknown {
            reason: format!("Checkout.com: undocumented answer to an action ({status})"),
        },
    }
}

impl CheckoutAdapter {
    /// `GET /payments?reference=`: the payments with the call's reference.
    fn payment_list_outcome(
        &self,
        status: u16,
        body: &Value,
        reference: &str,
        key: &str,
    ) -> Parsed {
        let Some(data) = (status == 200)
            .then(|| body.get("data").and_then(Value::as_array))
            .flatten()
        else {
            return Parsed::Done(Outcome::Unknown {
                reason: format!("Checkout.com: undocumented answer to a payment list ({status})"),
            });
        };
        let mine: Vec<&Value> = data
            .iter()
            .filter(|p| str_field(p, "reference") == Some(reference))
            .collect();
        if mine.is_empty() {
            return Parsed::Done(Outcome::NotProcessed {
                reason: "Checkout.com has no payment with this reference".to_owned(),
            });
        }
        let approved = mine.iter().find(|p| {
            p.get("approved").and_then(Value::as_bool) == Some(true)
                || matches!(str_field(p, "status"), Some(s) if APPROVED_STATUSES.contains(&s))
        });
        if let Some(id) = approved.and_then(|p| str_field(p, "id")) {
            return Parsed::Done(Outcome::Approved {
                reference: id.to_owned(),
            });
        }
        if mine
            .iter()
            .any(|p| str_field(p, "status") == Some("Pending"))
        {
            return Parsed::Done(Outcome::Declined(authentication_required(None)));
        }
        let declined = mine
            .iter()
            .find(|p| str_field(p, "status") == Some("Declined"))
            .and_then(|p| str_field(p, "id"));
        match declined {
            // The list does not hold the response code: its actions do.
            Some(id) => Parsed::Next(self.request(
                "GET",
                &format!("/payments/{}/actions", percent_encode(id)),
                key,
                None,
            )),
            None => Parsed::Done(Outcome::Unknown {
                reason: "Checkout.com: the payment's state does not tell".to_owned(),
            }),
        }
    }
}

/// The payment statuses of an authorization that was approved (whatever
/// happened to it since).
const APPROVED_STATUSES: &[&str] = &[
    "Authorized",
    "Captured",
    "Partially Captured",
    "Card Verified",
    "Voided",
    "Refunded",
    "Partially Refunded",
];

/// `GET /payments/{id}/actions` of a declined payment: its authorization's
/// response code.
fn declined_actions_outcome(status: u16, body: &Value) -> Outcome {
    let Some(actions) = (status == 200).then(|| body.as_array()).flatten() else {
        return Outcome::Unknown {
            reason: format!("Checkout.com: undocumented answer to an actions list ({status})"),
        };
    };
    let code = actions
        .iter()
        .find(|a| str_field(a, "type") == Some("Authorization"))
        .and_then(|a| str_field(a, "response_code"))
        .unwrap_or("");
    Outcome::Declined(decline_for(code))
}

/// `GET /payments/{id}/actions`: the refund with the call's reference.
fn refund_lookup_outcome(status: u16, body: &Value, reference: &str) -> Outcome {
    let Some(actions) = (status == 200).then(|| body.as_array()).flatten() else {
        return Outcome::Unknown {
            reason: format!("Checkout.com: undocumented answer to an actions list ({status})"),
        };
    };
    let refund = actions.iter().find(|a| {
        str_field(a, "type") == Some("Refund") && str_field(a, "reference") == Some(reference)
    });
    match refund {
        None => Outcome::NotProcessed {
            reason: "Checkout.com has no refund with this reference".to_owned(),
        },
        Some(a) => match (
            a.get("approved").and_then(Value::as_bool),
            str_field(a, "id"),
        ) {
            (Some(true), Some(id)) => Outcome::Approved {
                reference: id.to_owned(),
            },
            (Some(false), _) => {
                Outcome::Declined(decline_for(str_field(a, "response_code").unwrap_or("")))
            }
            _ => Outcome::Unknown {
                reason: "Checkout.com: the refund's state does not tell".to_owned(),
            },
        },
    }
}

// ---- response codes ----------------------------------------------------------

/// One published Checkout.com `response_code`: its text, the Stripe
/// `decline_code` it maps to (empty for approvals), and its class (`None`
/// for approvals).
pub struct ResponseCode {
    pub code: &'static str,
    pub text: &'static str,
    pub stripe: &'static str,
    pub class: Option<DeclineClass>,
}

const fn row(
    code: &'static str,
    text: &'static str,
    stripe: &'static str,
    class: Option<DeclineClass>,
) -> ResponseCode {
    ResponseCode {
        code,
        text,
        stripe,
        class,
    }
}

const OK: Option<DeclineClass> = None;
const S: Option<DeclineClass> = Some(DeclineClass::Soft);
const H: Option<DeclineClass> = Some(DeclineClass::Hard);
const A: Option<DeclineClass> = Some(DeclineClass::AuthenticationRequired);

/// Checkout.com's published response codes (docs: "Response codes":
/// 10xxx approved, 20xxx soft decline, 30xxx hard decline, 40xxx risk).
///
/// The class is the class `decline::classify` gives the Stripe code,
/// except where marked `class override`. Where Checkout.com's range says
/// "soft" (subsequent attempts may succeed) but the reason is the card's
/// own (expired, invalid number, lost, restricted, fraud, failed CVV),
/// the Stripe code's hard class is kept: the same card fails at any
/// acquirer, and network rules forbid retrying such declines. Overrides:
/// - 20106 unsupported currency: soft (another acquirer may support it),
///   though Stripe's `currency_not_supported` would be hard;
/// - 30016-30019, 30021, 30022, 30044, 30045: hard, as Checkout.com's hard
///   range says (the issuer refuses this kind of transaction or its
///   limit is reached), though the Stripe code chosen would be soft;
/// - 20151 (cardholder failed 3DS), 20152 (3DS not completed in time):
///   the customer must authenticate again.
pub const RESPONSE_CODES: &[ResponseCode] = &[
    // Approved (10xxx)
    row("10000", "Approved", "", OK),
    row("10008", "Approved - Honour with ID", "", OK),
    row("10011", "Approved - VIP", "", OK),
    row("10076", "Approved (Country Club)", "", OK),
    row("10077", "Approved (Local Banks)", "", OK),
    row("10081", "Approved (Commercial)", "", OK),
    row("10100", "Approved, flagged as potentially risky", "", OK),
    row("10200", "Deferred capture", "", OK),
    // Soft declines (20xxx)
    row("20001", "Refer to card issuer", "call_issuer", S),
    row(
        "20002",
        "Refer to card issuer - special conditions",
        "call_issuer",
        S,
    ),
    row(
        "20003",
        "Invalid merchant or service provider",
        "generic_decline",
        S,
    ),
    row("20005", "Declined - Do not honour", "do_not_honor", S),
    row(
        "20006",
        "Error / invalid request parameters",
        "processing_error",
        S,
    ),
    row("20009", "Request in progress", "try_again_later", S),
    row("20010", "Partial value approved", "generic_decline", S),
    row("20012", "Invalid transaction", "transaction_not_allowed", S),
    row("20013", "Invalid value / amount", "invalid_amount", H),
    row("20014", "Invalid account number", "incorrect_number", H),
    row("20017", "Customer cancellation", "do_not_try_again", H),
    row("20018", "Customer dispute", "do_not_try_again", H),
    row("20019", "Re-enter transaction", "reenter_transaction", S),
    row("20020", "Invalid response", "processing_error", S),
    row("20021", "No action taken", "processing_error", S),
    row("20022", "Suspected malfunction", "processing_error", S),
    row(
        "20023",
        "Unacceptable transaction fee",
        "generic_decline",
        S,
    ),
    row("20024", "File update not supported", "processing_error", S),
    row("20025", "Unable to locate record", "invalid_account", H),
    row(
        "20026",
        "Duplicate file update record",
        "processing_error",
        S,
    ),
    row(
        "20027",
        "File update field edit error",
        "processing_error",
        S,
    ),
    row(
        "20028",
        "File temporarily unavailable",
        "try_again_later",
        S,
    ),
    row("20029", "File update not successful", "processing_error", S),
    row("20030", "Format error", "processing_error", S),
    row(
        "20031",
        "Bank not supported by switch",
        "card_not_supported",
        H,
    ),
    row("20032", "Completed partially", "generic_decline", S),
    row(
        "20038",
        "Allowable PIN tries exceeded",
        "pin_try_exceeded",
        H,
    ),
    row("20039", "No credit account", "invalid_account", H),
    row(
        "20040",
        "Requested function not supported",
        "transaction_not_allowed",
        S,
    ),
    row("20042", "No universal value / amount", "generic_decline", S),
    row("20044", "No investment account", "invalid_account", H),
    row("20046", "Bank decline", "generic_decline", S),
    row("20051", "Insufficient funds", "insufficient_funds", S),
    row(
        "20052",
        "No current (checking) account",
        "invalid_account",
        H,
    ),
    row("20053", "No savings account", "invalid_account", H),
    row("20054", "Expired card", "expired_card", H),
    row("20055", "Incorrect PIN", "incorrect_pin", H),
    row("20056", "No card record", "invalid_account", H),
    row(
        "20057",
        "Transaction not permitted to cardholder",
        "transaction_not_allowed",
        S,
    ),
    row(
        "20058",
        "Transaction not permitted to terminal",
        "transaction_not_allowed",
        S,
    ),
    row("20059", "Suspected fraud", "fraudulent", H),
    row("20060", "Card acceptor contact acquirer", "call_issuer", S),
    row(
        "20061",
        "Activity amount limit exceeded",
        "card_velocity_exceeded",
        S,
    ),
    row("20062", "Restricted card", "restricted_card", H),
    row("20063", "Security violation", "security_violation", H),
    row(
        "20064",
        "Transaction does not fulfil AML requirement",
        "generic_decline",
        S,
    ),
    row(
        "20065",
        "Exceeds withdrawal frequency limit",
        "withdrawal_count_limit_exceeded",
        S,
    ),
    row(
        "20066",
        "Card acceptor call acquirer security",
        "call_issuer",
        S,
    ),
    row("20067", "Hard capture - pick up card", "pickup_card", H),
    row(
        "20068",
        "Response received too late / timeout",
        "issuer_not_available",
        S,
    ),
    row(
        "20075",
        "Allowable PIN-entry tries exceeded",
        "pin_try_exceeded",
        H,
    ),
    row("20078", "Blocked at first use", "do_not_honor", S),
    row(
        "20082",
        "Negative CAM, dCVV, iCVV or CVV results",
        "incorrect_cvc",
        H,
    ),
    row("20083", "No accounts", "invalid_account", H),
    row("20084", "No PBF", "processing_error", S),
    row("20085", "PBF update error", "processing_error", S),
    row("20086", "Invalid authorization type", "processing_error", S),
    row(
        "20087",
        "Bad track data (invalid CVV or expiry date)",
        "incorrect_cvc",
        H,
    ),
    row(
        "20088",
        "Unable to dispense / process",
        "processing_error",
        S,
    ),
    row("20089", "Administration error", "processing_error", S),
    row("20090", "Cut-off in progress", "try_again_later", S),
    row(
        "20091",
        "Issuer unavailable or switch inoperative",
        "issuer_not_available",
        S,
    ),
    row(
        "20092",
        "Destination cannot be found for routing",
        "issuer_not_available",
        S,
    ),
    row(
        "20093",
        "Transaction cannot be completed; violation of law",
        "do_not_try_again",
        H,
    ),
    row(
        "20094",
        "Duplicate transmission",
        "duplicate_transaction",
        H,
    ),
    row("20095", "Reconcile error", "processing_error", S),
    row("20096", "System malfunction", "processing_error", S),
    row(
        "20097",
        "Reconciliation totals reset",
        "processing_error",
        S,
    ),
    row("20098", "MAC error", "processing_error", S),
    row(
        "20099",
        "Other / unidentified response",
        "generic_decline",
        S,
    ),
    row(
        "2006P",
        "Cardholder ID verification failed",
        "do_not_honor",
        S,
    ),
    row("200N0", "Force STIP", "processing_error", S),
    row("200N7", "Declined for CVV2 failure", "incorrect_cvc", H),
    row("200O5", "PIN required", "offline_pin_required", H),
    row("200P1", "Over daily limit", "card_velocity_exceeded", S),
    row("200P9", "Limit exceeded", "card_velocity_exceeded", S),
    row(
        "200R1",
        "Stop payment order for this authorization",
        "stop_payment_order",
        H,
    ),
    row(
        "200R3",
        "Stop payment order for all authorizations",
        "revocation_of_all_authorizations",
        H,
    ),
    row("200S4", "PTLF full", "processing_error", S),
    row("200T2", "Invalid transaction date", "processing_error", S),
    row("200T3", "Card not supported", "card_not_supported", H),
    row("200T5", "CAF status 0 or 9", "restricted_card", H),
    row(
        "20100",
        "Invalid expiry date format",
        "invalid_expiry_year",
        H,
    ),
    row("20101", "No account / invalid token", "invalid_account", H),
    row(
        "20102",
        "Invalid merchant / wallet ID",
        "generic_decline",
        S,
    ),
    row(
        "20103",
        "Card type / payment method not supported",
        "card_not_supported",
        H,
    ),
    row(
        "20104",
        "Gateway reject - invalid transaction",
        "transaction_not_allowed",
        S,
    ),
    row(
        "20105",
        "Gateway reject - violation",
        "transaction_not_allowed",
        S,
    ),
    // class override: another acquirer may support the currency.
    row("20106", "Unsupported currency", "currency_not_supported", S),
    row("20107", "Billing address is missing", "generic_decline", S),
    row(
        "20108",
        "Declined - updated cardholder available",
        "do_not_try_again",
        H,
    ),
    row(
        "20109",
        "Transaction already reversed or capture larger than authorized",
        "do_not_try_again",
        H,
    ),
    row("20110", "Authorization completed", "generic_decline", S),
    row(
        "20111",
        "Transaction already reversed",
        "do_not_try_again",
        H,
    ),
    row(
        "20112",
        "Merchant not Mastercard SecureCode enabled",
        "processing_error",
        S,
    ),
    row("20113", "Invalid property", "processing_error", S),
    row("20114", "Token is incorrect", "invalid_account", H),
    row("20115", "Missing / invalid lifetime", "processing_error", S),
    row("20116", "Invalid encoding", "processing_error", S),
    row("20117", "Invalid API version", "processing_error", S),
    row("20118", "Transaction pending", "try_again_later", S),
    row("20119", "Invalid batch data", "processing_error", S),
    row("20120", "Invalid customer / user", "processing_error", S),
    row(
        "20121",
        "Transaction limit for merchant / terminal exceeded",
        "generic_decline",
        S,
    ),
    row(
        "20123",
        "Missing basic data: zip, addr, member",
        "processing_error",
        S,
    ),
    row("20124", "Missing CVV value", "incorrect_cvc", H),
    row(
        "20150",
        "Card not 3D Secure enabled",
        "card_not_supported",
        H,
    ),
    // class override (from the Stripe code's own class it is the same):
    // the customer must authenticate again.
    row(
        "20151",
        "Cardholder failed 3DS authentication",
        "authentication_required",
        A,
    ),
    row(
        "20152",
        "Initial 3DS transaction not completed within 15 minutes",
        "authentication_required",
        A,
    ),
    row("20153", "3DS system malfunction", "processing_error", S),
    row(
        "20154",
        "3DS authentication required",
        "authentication_required",
        A,
    ),
    row(
        "20155",
        "3DS authentication service provided an invalid result",
        "processing_error",
        S,
    ),
    row(
        "20156",
        "Requested function not supported by the acquirer",
        "transaction_not_allowed",
        S,
    ),
    row(
        "20157",
        "Invalid merchant configuration",
        "generic_decline",
        S,
    ),
    row(
        "20158",
        "Refund validity period has expired",
        "do_not_try_again",
        H,
    ),
    row(
        "20179",
        "Lifecycle (invalid card data)",
        "do_not_try_again",
        H,
    ),
    row("20182", "Policy", "transaction_not_allowed", S),
    row("20183", "Security (suspected fraud)", "fraudulent", H),
    row("20193", "Invalid country code", "processing_error", S),
    // Hard declines (30xxx)
    row("30004", "Pick up card (no fraud)", "pickup_card", H),
    row(
        "30007",
        "Pick up card - special conditions",
        "pickup_card",
        H,
    ),
    row("30015", "No such issuer", "incorrect_number", H),
    // class override (30016-30019, 30021, 30022, 30044, 30045): hard, as
    // Checkout.com's hard range says; the Stripe code alone is soft.
    row(
        "30016",
        "Issuer does not allow online gambling payout",
        "transaction_not_allowed",
        H,
    ),
    row(
        "30017",
        "Issuer does not allow original credit transaction",
        "transaction_not_allowed",
        H,
    ),
    row(
        "30018",
        "Issuer does not allow money transfer payout",
        "transaction_not_allowed",
        H,
    ),
    row(
        "30019",
        "Issuer does not allow non-money transfer payout",
        "transaction_not_allowed",
        H,
    ),
    row("30020", "Invalid amount", "invalid_amount", H),
    row(
        "30021",
        "Total amount limit reached",
        "card_velocity_exceeded",
        H,
    ),
    row(
        "30022",
        "Total transaction count limit reached",
        "withdrawal_count_limit_exceeded",
        H,
    ),
    row("30033", "Expired card - pick up", "expired_card", H),
    row("30034", "Suspected fraud - pick up", "fraudulent", H),
    row("30035", "Contact acquirer - pick up", "pickup_card", H),
    row("30036", "Restricted card - pick up", "restricted_card", H),
    row(
        "30037",
        "Call acquirer security - pick up",
        "pickup_card",
        H,
    ),
    row(
        "30038",
        "Allowable PIN tries exceeded - pick up",
        "pin_try_exceeded",
        H,
    ),
    row("30041", "Lost card - pick up", "lost_card", H),
    row("30043", "Stolen card - pick up", "stolen_card", H),
    row(
        "30044",
        "Transaction rejected - AMLD5",
        "transaction_not_allowed",
        H,
    ),
    row(
        "30045",
        "Invalid payout fund transfer type",
        "transaction_not_allowed",
        H,
    ),
    row("30046", "Closed account", "invalid_account", H),
    // Risk responses (40xxx)
    row("40101", "Risk blocked transaction", "fraudulent", H),
    row(
        "40201",
        "Gateway reject - card number blacklist",
        "merchant_blacklist",
        H,
    ),
    row(
        "40202",
        "Gateway reject - IP address blacklist",
        "merchant_blacklist",
        H,
    ),
    row(
        "40203",
        "Gateway reject - email blacklist",
        "merchant_blacklist",
        H,
    ),
    row(
        "40204",
        "Gateway reject - phone number blacklist",
        "merchant_blacklist",
        H,
    ),
    row(
        "40205",
        "Gateway reject - BIN number blacklist",
        "merchant_blacklist",
        H,
    ),
];

/// The table's row of a response code.
pub fn response_code(code: &str) -> Option<&'static ResponseCode> {
    RESPONSE_CODES.iter().find(|r| r.code == code)
}

/// The decline of a `response_code` (of an answer with `approved` false).
/// A code not in the table is classed by its range: 20xxx soft
/// (`generic_decline`), anything else hard (`do_not_try_again`).
pub fn decline_for(code: &str) -> Decline {
    let kept =
        (!code.is_empty() && code.len() <= 8 && code.bytes().all(|b| b.is_ascii_alphanumeric()))
            .then(|| code.to_owned());
    let (stripe, class) = match response_code(code) {
        Some(ResponseCode {
            stripe,
            class: Some(class),
            ..
        }) => (*stripe, *class),
        // An approval code on an answer that says "not approved", or an
        // unpublished code: by range.
        _ if code.starts_with('2') => ("generic_decline", DeclineClass::Soft),
        _ => ("do_not_try_again", DeclineClass::Hard),
    };
    let mut d = Decline::from_stripe_code(stripe, kept);
    if class != classify(stripe) {
        // The table's class overrides (see RESPONSE_CODES).
        d.class = class;
    }
    d
}

#[cfg(test)]
mod tests;
