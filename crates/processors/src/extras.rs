//! What a PaymentIntent carries for Stripe compatibility beyond the state
//! machine: the everyday fields kept as given (`Extras`), their update
//! (`Update`), the Charges (one per attempt that reached a processor), and
//! the views of the object (`View`: the latest charge expanded, or the
//! client-safe subset a publishable key sees).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::decline;
use crate::payment::{Attempt, AttemptOutcome, CaptureMethod, PaymentIntent, Refusal, Status};

/// Stripe's `automatic_payment_methods` (cards only here).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutomaticPaymentMethods {
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_redirects: Option<String>,
}

/// A postal address (Stripe's `address`), as given.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Address {
    pub city: Option<String>,
    pub country: Option<String>,
    pub line1: Option<String>,
    pub line2: Option<String>,
    pub postal_code: Option<String>,
    pub state: Option<String>,
}

/// `payment_method_data[billing_details]`: shown on the Charges; its
/// country is the routing engine's `billing.country`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BillingDetails {
    pub address: Option<Address>,
    pub email: Option<String>,
    pub name: Option<String>,
    pub phone: Option<String>,
}

/// Stripe's everyday PaymentIntent fields, stored as given.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Extras {
    /// `<id>_secret_<random>`: with a publishable key, it lets a browser
    /// retrieve and confirm this one payment.
    pub client_secret: Option<String>,
    pub customer: Option<String>,
    pub receipt_email: Option<String>,
    pub statement_descriptor: Option<String>,
    pub statement_descriptor_suffix: Option<String>,
    /// `on_session` or `off_session`: recorded and shown; no payment
    /// method is saved (card numbers are never stored).
    pub setup_future_usage: Option<String>,
    /// The last confirmation's `off_session` (a routing fact).
    pub off_session: Option<bool>,
    pub automatic_payment_methods: Option<AutomaticPaymentMethods>,
    /// `payment_method_options[card][request_three_d_secure]`: `automatic`.
    pub request_three_d_secure: Option<String>,
    /// The confirmation's `return_url` (no redirect happens: payments that
    /// need one are out of scope).
    pub return_url: Option<String>,
    /// When it was created, in milliseconds (the order of lists).
    pub created_ms: u64,
    /// The billing details given with the card.
    pub billing: Option<BillingDetails>,
}

/// A change of a PaymentIntent (`POST /v1/payment_intents/:id`, and what
/// a confirmation sets). For the text fields, `Some(None)` unsets
/// (Stripe's empty string).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Update {
    pub amount: Option<u64>,
    pub currency: Option<String>,
    pub capture_method: Option<CaptureMethod>,
    pub description: Option<Option<String>>,
    /// `None` values delete their key; `clear_metadata` first empties it.
    pub metadata: BTreeMap<String, Option<String>>,
    pub clear_metadata: bool,
    pub customer: Option<Option<String>>,
    pub receipt_email: Option<Option<String>>,
    pub statement_descriptor: Option<Option<String>>,
    pub statement_descriptor_suffix: Option<Option<String>>,
    pub setup_future_usage: Option<Option<String>>,
    pub automatic_payment_methods: Option<AutomaticPaymentMethods>,
    pub request_three_d_secure: Option<String>,
    /// A confirmation's.
    pub off_session: Option<bool>,
    pub return_url: Option<String>,
}

impl Update {
    /// Whether it changes what a confirmation would charge (allowed only
    /// before the payment is confirmed).
    fn changes_money(&self) -> bool {
        self.amount.is_some() || self.currency.is_some() || self.capture_method.is_some()
    }
}

/// How an answer shows a PaymentIntent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct View {
    /// `expand[]=latest_charge`: the Charge object in place of its id.
    pub expand_charge: bool,
    /// Asked with a publishable key and the client secret: Stripe's
    /// client-safe subset of fields.
    pub client: bool,
}

/// The fields a publishable key sees (Stripe's client-side PaymentIntent).
const CLIENT_FIELDS: &[&str] = &[
    "id",
    "object",
    "amount",
    "automatic_payment_methods",
    "canceled_at",
    "cancellation_reason",
    "capture_method",
    "client_secret",
    "confirmation_method",
    "created",
    "currency",
    "description",
    "last_payment_error",
    "livemode",
    "next_action",
    "payment_method",
    "payment_method_types",
    "processing",
    "receipt_email",
    "setup_future_usage",
    "shipping",
    "status",
];

const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A Charge's id: `ch_` + its payment's 24 characters + 8 derived from the
/// payment and the attempt, so that the payment is found from the id.
pub fn charge_id(payment_id: &str, index: usize) -> String {
    let tail = payment_id.strip_prefix("pi_").unwrap_or(payment_id);
    let h = Sha256::digest(format!("{payment_id}\u{0}charge\u{0}{index}").as_bytes());
    let suffix: String = h
        .iter()
        .take(8)
        .map(|b| ALPHABET[(*b as usize) % ALPHABET.len()] as char)
        .collect();
    format!("ch_{tail}{suffix}")
}

/// The payment id inside a charge id.
pub fn payment_of_charge(charge_id: &str) -> Option<String> {
    let rest = charge_id.strip_prefix("ch_")?;
    if rest.len() != 32 || !rest.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    Some(format!("pi_{}", rest.get(..24)?))
}

fn set_text(field: &mut Option<String>, value: &Option<Option<String>>) {
    if let Some(v) = value {
        field.clone_from(v);
    }
}

/// Stripe's limit on metadata, checked after an update merges its keys.
pub fn check_metadata_size(m: &BTreeMap<String, String>) -> Result<(), Refusal> {
    if m.len() > 50 {
        return Err(Refusal {
            status: 400,
            code: "parameter_invalid",
            message: format!(
                "metadata can have at most 50 keys; this update would leave {}.",
                m.len()
            ),
            param: Some("metadata"),
        });
    }
    Ok(())
}

impl PaymentIntent {
    /// Applies an update. Amount, currency and capture method change only
    /// before the payment is confirmed; the rest at any time.
    pub fn update(&mut self, u: &Update) -> Result<(), Refusal> {
        if u.changes_money()
            && !matches!(
                self.status,
                Status::RequiresPaymentMethod | Status::RequiresConfirmation
            )
        {
            let param = if u.amount.is_some() {
                "amount"
            } else if u.currency.is_some() {
                "currency"
            } else {
                "capture_method"
            };
            return Err(Refusal {
                status: 400,
                code: "payment_intent_unexpected_state",
                message: format!(
                    "You cannot update {param} on this PaymentIntent because it has a status of {}: it can change only before confirmation.",
                    self.status.as_str()
                ),
                param: Some(param),
            });
        }
        if let Some(a) = u.amount {
            self.amount = a;
        }
        if let Some(c) = &u.currency {
            self.currency.clone_from(c);
        }
        if let Some(m) = u.capture_method {
            self.capture_method = m;
        }
        set_text(&mut self.description, &u.description);
        if u.clear_metadata {
            self.metadata.clear();
        }
        for (k, v) in &u.metadata {
            match v {
                Some(v) => {
                    self.metadata.insert(k.clone(), v.clone());
                }
                None => {
                    self.metadata.remove(k);
                }
            }
        }
        check_metadata_size(&self.metadata)?;
        let e = &mut self.extras;
        set_text(&mut e.customer, &u.customer);
        set_text(&mut e.receipt_email, &u.receipt_email);
        set_text(&mut e.statement_descriptor, &u.statement_descriptor);
        set_text(
            &mut e.statement_descriptor_suffix,
            &u.statement_descriptor_suffix,
        );
        set_text(&mut e.setup_future_usage, &u.setup_future_usage);
        if let Some(a) = &u.automatic_payment_methods {
            e.automatic_payment_methods = Some(a.clone());
        }
        if let Some(r) = &u.request_three_d_secure {
            e.request_three_d_secure = Some(r.clone());
        }
        if u.off_session.is_some() {
            e.off_session = u.off_session;
        }
        if u.return_url.is_some() {
            e.return_url.clone_from(&u.return_url);
        }
        Ok(())
    }

    /// The attempts that reached a processor, each a Charge: `(index of its
    /// first attempt, the attempt that says how it ended)`. An unknown
    /// outcome settled later (the same processor asked again) is one
    /// Charge, under its first attempt's id.
    fn charge_attempts(&self) -> Vec<(usize, &Attempt)> {
        let mut out: Vec<(usize, &Attempt)> = Vec::new();
        for (i, a) in self.routing.attempts.iter().enumerate() {
            if matches!(
                a.outcome,
                AttemptOutcome::NotProcessed | AttemptOutcome::Skipped
            ) {
                continue;
            }
            match out.last_mut() {
                Some((_, last))
                    if last.outcome == AttemptOutcome::Unknown && last.processor == a.processor =>
                {
                    *last = a;
                }
                _ => out.push((i, a)),
            }
        }
        out
    }

    /// The id of the latest Charge, if any attempt reached a processor.
    pub fn latest_charge_id(&self) -> Option<String> {
        self.charge_attempts()
            .last()
            .map(|(i, _)| charge_id(&self.id, *i))
    }

    /// The id of the Charge that took the money (the authorized one).
    pub fn paid_charge_id(&self) -> Option<String> {
        self.charge_attempts()
            .iter()
            .rev()
            .find(|(_, a)| a.outcome == AttemptOutcome::Authorized)
            .map(|(i, _)| charge_id(&self.id, *i))
    }

    /// The latest Charge as Stripe's object (only that one is built).
    pub fn latest_charge(&self) -> Option<Value> {
        self.charge_attempts()
            .last()
            .map(|(i, a)| self.charge_json(*i, a))
    }

    /// Every Charge of this payment, oldest first, as Stripe's objects.
    pub fn charges(&self) -> Vec<Value> {
        self.charge_attempts()
            .iter()
            .map(|(i, a)| self.charge_json(*i, a))
            .collect()
    }

    fn charge_json(&self, index: usize, a: &Attempt) -> Value {
        let authorized = a.outcome == AttemptOutcome::Authorized;
        let canceled = self.status == Status::Canceled;
        let (status, captured, amount_captured, amount_refunded) = match a.outcome {
            AttemptOutcome::Authorized => {
                // A voided authorization shows as refunded in full, as
                // Stripe shows a canceled uncaptured payment's charge.
                let refunded = if canceled && self.amount_received == 0 {
                    self.amount
                } else {
                    self.amount_refunded
                };
                (
                    "succeeded",
                    self.amount_received > 0,
                    self.amount_received,
                    refunded,
                )
            }
            // Still unknown while the payment is processing; settled as not
            // charged otherwise (a settled charge replaces this attempt).
            AttemptOutcome::Unknown if self.status == Status::Processing => {
                ("pending", false, 0, 0)
            }
            _ => ("failed", false, 0, 0),
        };
        let refunded = authorized
            && amount_refunded > 0
            && (amount_refunded >= amount_captured || (canceled && amount_captured == 0));
        let decline = a.decline_code.as_deref();
        let (failure_code, failure_message, outcome) = match a.outcome {
            AttemptOutcome::Authorized => (
                Value::Null,
                Value::Null,
                json!({"type": "authorized", "network_status": "approved_by_network",
                       "reason": null, "risk_level": "not_assessed",
                       "seller_message": "Payment complete."}),
            ),
            AttemptOutcome::Unknown if self.status == Status::Processing => {
                (Value::Null, Value::Null, Value::Null)
            }
            AttemptOutcome::Unknown => (
                json!("processing_error"),
                json!("The processor did not answer, and no charge was found there: nothing was charged."),
                json!({"type": "invalid", "network_status": "not_sent_to_network",
                       "reason": null, "risk_level": "not_assessed",
                       "seller_message": "The processor did not answer; nothing was charged."}),
            ),
            AttemptOutcome::AuthenticationRequired => (
                json!("authentication_required"),
                json!(decline::message_for("authentication_required")),
                json!({"type": "issuer_declined", "network_status": "declined_by_network",
                       "reason": "authentication_required", "risk_level": "not_assessed",
                       "seller_message": "The bank asked for authentication (3-D Secure)."}),
            ),
            _ => {
                let dc = decline.unwrap_or("generic_decline");
                (
                    json!(decline::error_code_for(dc)),
                    json!(decline::message_for(dc)),
                    json!({"type": "issuer_declined", "network_status": "declined_by_network",
                           "reason": dc, "risk_level": "not_assessed",
                           "seller_message": "The bank did not return any further details with this decline."}),
                )
            }
        };
        let details = self.card.as_ref().map(|c| {
            json!({"type": "card", "card": {
                "brand": c.brand, "checks": {"address_line1_check": null,
                "address_postal_code_check": null, "cvc_check": null},
                "country": c.country, "exp_month": c.exp_month, "exp_year": c.exp_year,
                "fingerprint": null, "funding": c.funding, "last4": c.last4,
                "network": c.brand, "three_d_secure": null, "wallet": null}})
        });
        let e = &self.extras;
        let descriptor = e
            .statement_descriptor
            .as_ref()
            .or(e.statement_descriptor_suffix.as_ref());
        let mut processor = json!({ "processor": a.processor });
        if let (true, Some(p)) = (authorized, &self.processor) {
            processor = json!(p);
        }
        json!({
            "id": charge_id(&self.id, index),
            "object": "charge",
            "amount": self.amount,
            "amount_captured": amount_captured,
            "amount_refunded": amount_refunded,
            "application": null,
            "application_fee": null,
            "application_fee_amount": null,
            "balance_transaction": null,
            "billing_details": e.billing.clone().unwrap_or_default(),
            "calculated_statement_descriptor": descriptor,
            "captured": captured,
            "created": self.created,
            "currency": self.currency,
            "customer": e.customer,
            "description": self.description,
            "disputed": false,
            "failure_balance_transaction": null,
            "failure_code": failure_code,
            "failure_message": failure_message,
            "fraud_details": {},
            "invoice": null,
            "livemode": self.livemode,
            "metadata": self.metadata,
            "on_behalf_of": null,
            "outcome": outcome,
            "paid": authorized,
            "payment_intent": self.id,
            "payment_method": self.payment_method,
            "payment_method_details": details,
            "receipt_email": e.receipt_email,
            "receipt_number": null,
            "receipt_url": null,
            "refunded": refunded,
            "review": null,
            "shipping": null,
            "source_transfer": null,
            "statement_descriptor": e.statement_descriptor,
            "statement_descriptor_suffix": e.statement_descriptor_suffix,
            "status": status,
            "transfer_data": null,
            "transfer_group": null,
            "processor_details": processor,
            "routing_attempt": a,
        })
    }

    /// The object as a view asks: the latest charge expanded, or only the
    /// client-safe fields.
    pub fn view(&self, view: View) -> Value {
        let mut v = self.to_json();
        if view.expand_charge {
            let latest = self.latest_charge().unwrap_or(Value::Null);
            if let Some(o) = v.as_object_mut() {
                o.insert("latest_charge".into(), latest);
            }
        }
        if view.client {
            if let Value::Object(o) = v {
                let kept: Map<String, Value> = o
                    .into_iter()
                    .filter(|(k, _)| CLIENT_FIELDS.contains(&k.as_str()))
                    .collect();
                v = Value::Object(kept);
            }
        }
        v
    }
}
