//! The messages between the front worker and the payment Durable Object
//! (`/run` and its typed outcome), ids, and request fingerprints. Pure.
//!
//! A payment operation is one call to the payment's object, `/run`, which
//! carries a `BeginRequest` (and, for a confirmation, the card on its way to
//! the processor). Inside the object it is three steps: `begin`
//! (idempotency check, state transition, routing decision: synchronous, so
//! calls on one payment are serialised), the processor calls (the only
//! awaits, with the pending operation already stored), and `finish` with
//! what the processors answered (synchronous again). The card number and
//! CVC are in the message and in the processor requests, never in the
//! object's storage or answers.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;
use sha2::{Digest, Sha256};
use switchyard_processors::adapter::StatementDescriptor;
use switchyard_processors::card::{Card, CardFacts, CardInTransit};
use switchyard_processors::decline::Decline;
use switchyard_processors::extras::{BillingDetails, Extras, Update, View};
use switchyard_processors::payment::{Attempt, CaptureMethod, ProcessorDetails};
use switchyard_processors::Call;

use crate::error::ApiError;
use crate::params::{without_card_secrets, CardGiven, CreateParams};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Create,
    Confirm,
    Capture,
    Cancel,
    Refund,
    /// Retrieve, reconciling a confirmation whose outcome is unknown.
    Reconcile,
    /// Retrieve a refund, asking the processor about one whose outcome is
    /// unknown (or whose call was abandoned).
    ReconcileRefund,
    /// `POST /v1/payment_intents/:id`: no processor call.
    Update,
    /// The payment's Charges (`charge_id`: one of them).
    Charges,
    /// `POST /v1/refunds/:id`: its metadata (`refund_id`).
    UpdateRefund,
    /// `POST /v1/refunds/:id/cancel` (`refund_id`).
    CancelRefund,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Idem {
    pub key: String,
    pub fingerprint: String,
}

impl Idem {
    /// The request's `Idempotency-Key` (if any) with the fingerprint of
    /// its method, path and parameters (card secrets left out).
    pub fn of_request(
        key: Option<String>,
        method: &str,
        path: &str,
        params: &Value,
    ) -> Result<Option<Idem>, ApiError> {
        let Some(key) = key else {
            return Ok(None);
        };
        if key.is_empty() || key.len() > 255 {
            return Err(ApiError::invalid(
                "Idempotency-Key",
                "idempotency_key_invalid",
                "Idempotency-Key must be 1 to 255 characters long.",
            ));
        }
        let params = without_card_secrets(params);
        Ok(Some(Idem {
            key,
            fingerprint: fingerprint(method, path, &params),
        }))
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateFields {
    pub amount: u64,
    pub currency: String,
    pub capture_method: CaptureMethod,
    pub metadata: BTreeMap<String, String>,
    pub description: Option<String>,
    #[serde(default)]
    pub extras: Extras,
    /// The random part of the client secret (`<id>_secret_<this>`).
    #[serde(default)]
    pub secret_token: String,
}

/// A payment method given with the call: its id and the card facts, which
/// the payment keeps (the secret part travels separately, as
/// `RunMessage::card`, and is never stored).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attach {
    pub payment_method: String,
    pub card: CardFacts,
    /// The engine's 8-digit BIN, for routing this confirmation; in the
    /// message only, never stored (the facts keep the PCI-masked BIN).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing_bin: Option<String>,
    /// `payment_method_data[billing_details]`, kept with the payment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing: Option<BillingDetails>,
}

impl Attach {
    pub fn of(c: &CardGiven) -> Attach {
        Attach {
            billing: c.billing.clone(),
            payment_method: c.payment_method.clone(),
            card: c.card.facts.clone(),
            routing_bin: Some(c.card.routing_bin()),
        }
    }
}

/// The rule set a confirmation routes with: the active set of the mode when
/// the operation started. Rule sets are immutable once stored, so the id
/// names the content; the content travels only when the payment object
/// has not compiled that id yet (it answers `NeedRuleset`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RulesetRef {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ruleset: Option<Value>,
}

/// The front worker's message to `/run`, as written (borrowed, so that it
/// can be sent again with the rule set's content after `NeedRuleset`).
#[derive(Debug, Serialize)]
pub struct RunMessage<'a> {
    pub begin: &'a BeginRequest,
    pub card: Option<&'a CardInTransit>,
}

/// The same message as the payment's object reads it.
#[derive(Debug, Deserialize)]
pub struct RunRequest {
    pub begin: BeginRequest,
    pub card: Option<CardInTransit>,
}

/// Stripe's header telling its SDKs whether retrying the request could
/// change anything (they retry 5xx answers otherwise).
pub const SHOULD_RETRY_HEADER: &str = "stripe-should-retry";
/// Stripe's header on a replayed idempotent answer.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BeginRequest {
    pub op: Op,
    pub payment_id: String,
    pub livemode: bool,
    pub now_ms: u64,
    pub idem: Option<Idem>,
    /// `create` only.
    pub create: Option<CreateFields>,
    pub attach: Option<Attach>,
    /// `create`: confirm at once.
    pub confirm: bool,
    /// For a confirmation: the rule set to route with.
    pub ruleset: Option<RulesetRef>,
    /// Capture: `amount_to_capture`; refund: `amount`.
    pub amount: Option<u64>,
    /// Cancel: `cancellation_reason`; refund: `reason`.
    pub reason: Option<String>,
    /// Refund metadata.
    pub metadata: Option<BTreeMap<String, String>>,
    /// `ReconcileRefund`: the refund.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_id: Option<String>,
    /// `Reconcile` from the reconciliation queue (not a retrieve): also
    /// settles a capture or void of unknown outcome.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub settle_follow_ups: bool,
    /// Update, UpdateRefund, and what a confirmation sets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update: Option<Update>,
    /// How the answer shows the payment (`expand[]`, publishable key).
    #[serde(default)]
    pub view: View,
    /// With a publishable key: the client secret given, which must be the
    /// payment's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// `Charges`: the one asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charge_id: Option<String>,
}

impl BeginRequest {
    /// An operation with no parameters yet.
    pub fn new(
        op: Op,
        payment_id: String,
        livemode: bool,
        now_ms: u64,
        idem: Option<Idem>,
    ) -> Self {
        BeginRequest {
            op,
            payment_id,
            livemode,
            now_ms,
            idem,
            create: None,
            attach: None,
            confirm: false,
            ruleset: None,
            amount: None,
            reason: None,
            metadata: None,
            refund_id: None,
            settle_follow_ups: false,
            update: None,
            view: View::default(),
            client_secret: None,
            charge_id: None,
        }
    }

    /// A create: the payment's fields, its card's facts (the card itself
    /// is returned, to travel beside the message), confirm or not.
    pub fn create(
        p: CreateParams,
        secret_token: String,
        payment_id: String,
        livemode: bool,
        now_ms: u64,
        idem: Option<Idem>,
    ) -> (Self, Option<Card>) {
        let mut b = BeginRequest::new(Op::Create, payment_id, livemode, now_ms, idem);
        b.create = Some(CreateFields {
            amount: p.amount,
            currency: p.currency,
            capture_method: p.capture_method,
            metadata: p.metadata,
            description: p.description,
            extras: p.extras,
            secret_token,
        });
        b.confirm = p.confirm;
        b.view = p.view;
        let card = p.card.map(|c| {
            b.attach = Some(Attach::of(&c));
            c.card
        });
        (b, card)
    }
}

/// What the payment's object must do at the processors.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Work {
    pub op: Op,
    pub payment_id: String,
    pub seq: u32,
    pub amount: u64,
    pub currency: String,
    /// Confirm: the attempt plan. Others: the processor that took the payment.
    pub plan: Vec<String>,
    pub capture: bool,
    /// Capture/void/refund: the processor's reference of the payment.
    pub reference: Option<String>,
    pub payment_method: Option<String>,
    pub refund_id: Option<String>,
    /// A confirmation: how many more processor attempts the payment may
    /// make (`payment::MAX_ATTEMPTS` in all).
    pub attempts_left: u32,
    /// How the answer shows the payment.
    pub view: View,
    /// Confirm: what the card statement shows, for processors that take it.
    pub statement_descriptor: Option<String>,
    pub statement_descriptor_suffix: Option<String>,
}

impl Work {
    /// The authorization of this confirmation at one processor of its plan,
    /// under that attempt's processor-side idempotency `key`.
    pub fn authorize<'a>(&'a self, key: &'a str, card: &'a Card) -> Call<'a> {
        Call::Authorize {
            key,
            payment_id: &self.payment_id,
            amount: self.amount,
            currency: &self.currency,
            capture: self.capture,
            card: &card.secret,
            facts: &card.facts,
            descriptor: StatementDescriptor {
                full: self.statement_descriptor.as_deref(),
                suffix: self.statement_descriptor_suffix.as_deref(),
            },
        }
    }
}

/// What the payment's object answers `/run`: the API's response with what
/// the front must know about it, or a request for the rule set's content.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunOutcome {
    /// Nothing was done: the object has not compiled the rule set named in
    /// the request; send it again with the rule set's content.
    NeedRuleset,
    Answered(RunAnswer),
}

/// The API's response to one operation.
#[derive(Debug, Serialize, Deserialize)]
pub struct RunAnswer {
    pub status: u16,
    /// The response body, passed on as written (not parsed again).
    pub body: Box<RawValue>,
    /// A replay of the answer stored for the idempotency key.
    pub replayed: bool,
    /// The request was refused before it started executing: its
    /// idempotency key was released (Stripe saves no result), so the front
    /// releases it in the key index too.
    pub key_released: bool,
    /// The answer is stored for the idempotency key: a retry can only
    /// replay it (`Stripe-Should-Retry: false` on a 5xx).
    pub decided: bool,
    /// The processor attempts this run made, for the metrics.
    pub attempts: Vec<Attempt>,
    /// The payment those attempts were for, as the metrics see it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub facts: Option<crate::metrics::Facts>,
    /// The index rows the run changed: the front writes them after the
    /// response (lists and search lag the payment by that write).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub index: Vec<IndexRow>,
}

/// The result of the processor calls, for `finish`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WorkResult {
    Authorized {
        details: ProcessorDetails,
        /// The payment captures at once, at a processor that does not
        /// capture with the authorization: the worker's own capture call
        /// did not confirm it (it is left pending, for reconciliation).
        capture_pending: bool,
    },
    Declined {
        decline: Decline,
    },
    NoneAvailable,
    Unknown,
    /// Capture/void/refund done; `reference` of the refund for refunds.
    Done {
        reference: String,
    },
    /// Capture/void/refund refused or failed; state unchanged.
    Failed {
        message: String,
        unknown: bool,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FinishRequest {
    pub work: Work,
    pub idem: Option<Idem>,
    pub now_ms: u64,
    pub attempts: Vec<Attempt>,
    pub result: WorkResult,
}

/// An answer of the API (or of an object): its status and its JSON body,
/// kept as text, so that it is written once and passed on as it is.
#[derive(Clone, Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Box<RawValue>,
}

impl Answer {
    /// `body` written as JSON (a body that cannot be written is a 500).
    pub fn json(status: u16, body: &impl Serialize) -> Answer {
        match serde_json::value::to_raw_value(body) {
            Ok(body) => Answer { status, body },
            Err(e) => Answer::error(&ApiError::internal(format!("answer not written: {e}"))),
        }
    }

    pub fn error(e: &ApiError) -> Answer {
        Answer::json(e.status, &e.body())
    }

    /// A JSON text received (an object's answer, a stored one).
    pub fn from_text(status: u16, text: String) -> Result<Answer, ApiError> {
        RawValue::from_string(text)
            .map(|body| Answer { status, body })
            .map_err(|e| ApiError::internal(format!("unreadable answer: {e}")))
    }

    /// The body as a JSON value, for code that reads its fields.
    pub fn value(&self) -> Value {
        serde_json::from_str(self.body.get()).unwrap_or(Value::Null)
    }
}

impl PartialEq for Answer {
    fn eq(&self, other: &Answer) -> bool {
        self.status == other.status && self.body.get() == other.body.get()
    }
}

// ---- ids and fingerprints -----------------------------------------------------

const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Length of the random part of payment ids (`pi_` + 24).
pub const ID_LEN: usize = 24;

fn base62(bytes: &[u8], n: usize) -> String {
    bytes
        .iter()
        .cycle()
        .take(n)
        .map(|b| ALPHABET[(*b as usize) % ALPHABET.len()] as char)
        .collect()
}

/// A payment id from random bytes.
pub fn payment_id_from_random(random: &[u8]) -> String {
    format!("pi_{}", base62(random, ID_LEN))
}

/// Refund ids carry their payment's id: `re_<payment's 24>` + 8 more.
pub fn refund_id(payment_id: &str, seq: u32) -> String {
    let tail = payment_id.strip_prefix("pi_").unwrap_or(payment_id);
    let h = Sha256::digest(format!("{payment_id}\u{0}refund\u{0}{seq}").as_bytes());
    format!("re_{tail}{}", base62(&h, 8))
}

/// The payment id inside a refund id.
pub fn payment_of_refund(refund_id: &str) -> Option<String> {
    let rest = refund_id.strip_prefix("re_")?;
    let head = rest.get(..ID_LEN)?;
    if rest.len() != ID_LEN + 8 || !rest.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    Some(format!("pi_{head}"))
}

/// Whether `id` looks like one of our payment ids.
pub fn is_payment_id(id: &str) -> bool {
    id.strip_prefix("pi_")
        .is_some_and(|r| r.len() == ID_LEN && r.bytes().all(|b| b.is_ascii_alphanumeric()))
}

fn canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String((*k).clone()).to_string());
                out.push(':');
                if let Some(x) = m.get(*k) {
                    canonical(x, out);
                }
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(x, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// A digest of a request (method, path, parameters), to tell a retry from a
/// different request under the same idempotency key. It is a hash: the
/// card data in the parameters is not recoverable from it.
pub fn fingerprint(method: &str, path: &str, params: &Value) -> String {
    let mut s = String::new();
    canonical(params, &mut s);
    let h = Sha256::digest(format!("{method} {path}\n{s}").as_bytes());
    h.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids() {
        let a = payment_id_from_random(b"0123456789abcdefghijklmnopqrstuv");
        assert!(is_payment_id(&a), "{a}");
        let r = refund_id(&a, 1);
        assert_eq!(payment_of_refund(&r), Some(a.clone()));
        assert_ne!(r, refund_id(&a, 2));
        assert_eq!(payment_of_refund("re_short"), None);
        assert_eq!(
            payment_of_refund("re_ééééééééééééééééééééééééééééééééééé"),
            None
        );
        assert!(!is_payment_id("pi_../../x"));
    }

    #[test]
    fn fingerprints_ignore_key_order_only() {
        let a = fingerprint(
            "POST",
            "/v1/x",
            &json!({"a": "1", "b": {"c": "2", "d": "3"}}),
        );
        let b = fingerprint(
            "POST",
            "/v1/x",
            &json!({"b": {"d": "3", "c": "2"}, "a": "1"}),
        );
        let c = fingerprint(
            "POST",
            "/v1/x",
            &json!({"a": "2", "b": {"c": "2", "d": "3"}}),
        );
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(
            a,
            fingerprint(
                "POST",
                "/v1/y",
                &json!({"a": "1", "b": {"c": "2", "d": "3"}})
            )
        );
    }
}

/// The two tables of the mode's index (`edge/index_do.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IndexTable {
    Intents,
    Refunds,
}

impl IndexTable {
    pub fn name(self) -> &'static str {
        match self {
            IndexTable::Intents => "intents",
            IndexTable::Refunds => "refunds",
        }
    }
}

/// A row of the index, written by a payment's object after an operation
/// that changed it (`payment::index_rows`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexRow {
    pub table: IndexTable,
    pub id: String,
    pub payment_intent: String,
    pub created: u64,
    pub created_ms: u64,
    /// The payment object's write counter: a late write of an older state
    /// changes nothing.
    pub version: u64,
    pub body: String,
    /// Intents: the latest Charge, for `expand[]=data.latest_charge`.
    pub charge: Option<String>,
    pub status: String,
    pub amount: u64,
    pub currency: String,
    pub customer: Option<String>,
    pub metadata: String,
    /// Refunds: the Charge refunded.
    pub refunded_charge: Option<String>,
}
