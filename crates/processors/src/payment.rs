//! The payment model: a PaymentIntent's state machine, its attempts and its
//! refunds, and their Stripe-shaped JSON.
//!
//! Architecture Invariant: the state only moves forward
//! (`requires_payment_method`/`requires_confirmation` → `processing` →
//! `requires_capture` → `succeeded`, or → `canceled`; a decline goes back to
//! `requires_payment_method`, as with Stripe), and money fields only grow:
//! `amount_refunded <= refund_reserved <= amount_received`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::card::CardFacts;
use crate::decline::Decline;
pub use crate::extras::{Extras, Update, View};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    RequiresPaymentMethod,
    RequiresConfirmation,
    Processing,
    RequiresCapture,
    Canceled,
    Succeeded,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::RequiresPaymentMethod => "requires_payment_method",
            Status::RequiresConfirmation => "requires_confirmation",
            Status::Processing => "processing",
            Status::RequiresCapture => "requires_capture",
            Status::Canceled => "canceled",
            Status::Succeeded => "succeeded",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessorDetails {
    pub processor: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub reference: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptOutcome {
    Authorized,
    SoftDecline,
    HardDecline,
    /// The customer must authenticate (3-D Secure): the plan stops.
    AuthenticationRequired,
    /// Certainly not processed (outage, 429, unknown processor): moved on.
    NotProcessed,
    /// Not called: its circuit is open (`code: "circuit_open"`).
    Skipped,
    /// No answer: the processor may have acted; never moved on.
    Unknown,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    pub processor: String,
    pub outcome: AttemptOutcome,
    /// The processor's own code (issuer response code).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decline_code: Option<String>,
    pub latency_ms: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Routing {
    pub ruleset: Option<String>,
    pub rule: Option<String>,
    pub rule_index: Option<usize>,
    pub attempts: Vec<Attempt>,
    /// How an `auth_rate` action chose the first processor, with the rates
    /// it saw; absent when another action decided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_rate: Option<switchyard_rules::AuthRateInfo>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastError {
    #[serde(rename = "type")]
    pub kind: String,
    pub code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decline_code: Option<String>,
    pub message: String,
}

/// How a PaymentIntent is captured (Stripe's `capture_method`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaptureMethod {
    /// Captured with the authorization.
    Automatic,
    /// Authorized only; captured by a later call.
    Manual,
    /// Stripe's `automatic_async`: captured with the authorization, as
    /// `automatic` (kept as given, so that the object says what was asked).
    AutomaticAsync,
}

impl CaptureMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            CaptureMethod::Automatic => "automatic",
            CaptureMethod::Manual => "manual",
            CaptureMethod::AutomaticAsync => "automatic_async",
        }
    }

    /// Whether the payment is captured with its authorization.
    pub fn at_once(self) -> bool {
        self != CaptureMethod::Manual
    }

    /// The value the routing engine knows (`automatic` or `manual`).
    pub fn for_routing(self) -> &'static str {
        if self.at_once() {
            "automatic"
        } else {
            "manual"
        }
    }
}

/// The processor operation a payment has under way.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PendingOp {
    Confirm,
    Capture,
    Void,
}

/// An operation under way at a processor. While it is set, other operations
/// that need the processor wait (429 `lock_timeout`); after `stale_after_ms`
/// a retry takes it over with the same processor idempotency keys.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    pub op: PendingOp,
    pub seq: u32,
    pub started_ms: u64,
    /// A confirmation's attempt plan: a takeover retries exactly these
    /// processors (with the same keys), even if the active rule set changed.
    #[serde(default)]
    pub plan: Vec<String>,
    /// The processor calls ended with an unknown outcome: the operation is
    /// waiting for reconciliation (or a retry), nobody is working on it.
    #[serde(default)]
    pub awaiting: bool,
    /// A capture's amount: a takeover captures exactly this (the processor
    /// deduplicates the retry by its key, so it keeps the first amount).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<u64>,
}

/// A refusal of the state machine, with Stripe's code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    pub param: Option<&'static str>,
}

fn refuse(code: &'static str, message: String) -> Refusal {
    Refusal {
        status: 400,
        code,
        message,
        param: None,
    }
}

/// How long an operation may stay pending before a retry may take it over.
pub const STALE_AFTER_MS: u64 = 60_000;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentIntent {
    pub id: String,
    pub livemode: bool,
    /// Seconds since the epoch.
    pub created: u64,
    pub amount: u64,
    pub currency: String,
    pub status: Status,
    pub capture_method: CaptureMethod,
    pub confirmation_method: String,
    pub metadata: BTreeMap<String, String>,
    pub description: Option<String>,
    pub payment_method: Option<String>,
    pub card: Option<CardFacts>,
    pub amount_capturable: u64,
    pub amount_received: u64,
    pub amount_refunded: u64,
    /// Refunds succeeded or under way.
    pub refund_reserved: u64,
    pub processor: Option<ProcessorDetails>,
    pub routing: Routing,
    pub last_payment_error: Option<LastError>,
    pub canceled_at: Option<u64>,
    pub cancellation_reason: Option<String>,
    pub confirmations: u32,
    pub captures: u32,
    pub voids: u32,
    pub refunds: u32,
    pub pending: Option<Pending>,
    /// Stripe's everyday fields, kept as given (`extras.rs`).
    #[serde(default)]
    pub extras: Extras,
}

/// The result of running an attempt plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfirmResult {
    Authorized(ProcessorDetails),
    Declined(Decline),
    /// No processor processed the request (all down or unknown).
    NoneAvailable,
    /// A processor may have acted and did not answer: left in `processing`.
    Unknown,
}

impl PaymentIntent {
    /// The facts the routing engine decides on: amount, currency, card
    /// (brand, BIN, country, funding), capture method and metadata. The card
    /// number is long gone by now; the engine never needs it. `bin`: the
    /// engine's 8-digit BIN when the card is at hand (the kept one has 6
    /// digits below 16-digit numbers).
    pub fn routing_payment(
        &self,
        bin: Option<&str>,
    ) -> Result<switchyard_rules::Payment, Vec<switchyard_rules::Issue>> {
        use switchyard_rules::{CardInput, Payment, PaymentInput};
        Payment::from_input(PaymentInput {
            amount: Some(self.amount as f64),
            currency: Some(self.currency.clone()),
            card: self.card.as_ref().map(|c| CardInput {
                number: None,
                bin: Some(bin.unwrap_or(&c.bin).to_owned()),
                brand: Some(c.brand.clone()),
                country: c.country.clone(),
                funding: Some(c.funding.clone()),
                issuer: None,
            }),
            billing: self
                .extras
                .billing
                .as_ref()
                .and_then(|b| b.address.as_ref())
                .and_then(|a| a.country.clone())
                .map(|country| switchyard_rules::BillingInput {
                    country: Some(country),
                }),
            capture_method: Some(self.capture_method.for_routing().to_owned()),
            off_session: self.extras.off_session,
            three_d_secure: None,
            metadata: (!self.metadata.is_empty()).then(|| self.metadata.clone()),
            routing_key: None,
        })
    }

    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: String,
        livemode: bool,
        created: u64,
        amount: u64,
        currency: String,
        capture_method: CaptureMethod,
        metadata: BTreeMap<String, String>,
        description: Option<String>,
    ) -> PaymentIntent {
        PaymentIntent {
            id,
            livemode,
            created,
            amount,
            currency,
            status: Status::RequiresPaymentMethod,
            capture_method,
            confirmation_method: "automatic".to_owned(),
            metadata,
            description,
            payment_method: None,
            card: None,
            amount_capturable: 0,
            amount_received: 0,
            amount_refunded: 0,
            refund_reserved: 0,
            processor: None,
            routing: Routing {
                ruleset: None,
                rule: None,
                rule_index: None,
                attempts: Vec::new(),
                auth_rate: None,
            },
            last_payment_error: None,
            canceled_at: None,
            cancellation_reason: None,
            confirmations: 0,
            captures: 0,
            voids: 0,
            refunds: 0,
            pending: None,
            extras: Extras::default(),
        }
    }

    fn unexpected(&self, action: &str) -> Refusal {
        refuse(
            "payment_intent_unexpected_state",
            format!(
                "You cannot {action} this PaymentIntent because it has a status of {}.",
                self.status.as_str()
            ),
        )
    }

    /// Refuses while another processor operation is under way (unless stale,
    /// or the same operation being retried).
    fn check_pending(&self, op: PendingOp, now_ms: u64) -> Result<Option<u32>, Refusal> {
        match &self.pending {
            None => Ok(None),
            Some(p)
                if p.op == op
                    && (p.awaiting || now_ms.saturating_sub(p.started_ms) >= STALE_AFTER_MS) =>
            {
                Ok(Some(p.seq))
            }
            // Nobody is working on it: the status decides.
            Some(p) if p.awaiting => Ok(None),
            Some(_) => Err(Refusal {
                status: 429,
                code: "lock_timeout",
                message: "This object cannot be accessed right now because another API request is currently accessing it. Please retry in a moment.".to_owned(),
                param: None,
            }),
        }
    }

    /// Sets the payment method (card facts) given with create or confirm.
    pub fn attach(&mut self, payment_method: String, card: CardFacts) -> Result<(), Refusal> {
        match self.status {
            Status::RequiresPaymentMethod | Status::RequiresConfirmation => {
                self.payment_method = Some(payment_method);
                self.card = Some(card);
                self.status = Status::RequiresConfirmation;
                Ok(())
            }
            _ => Err(self.unexpected("update the payment method of")),
        }
    }

    /// The plan of the confirmation under way, if any.
    pub fn pending_plan(&self) -> Option<&[String]> {
        self.pending
            .as_ref()
            .filter(|p| p.op == PendingOp::Confirm && !p.plan.is_empty())
            .map(|p| p.plan.as_slice())
    }

    /// Starts reconciling a confirmation whose outcome is unknown (the front
    /// worker gave up waiting, or abandoned it): returns its sequence number
    /// and plan, so that the processors can be asked about those keys.
    pub fn begin_reconcile(&mut self, now_ms: u64) -> Option<(u32, Vec<String>)> {
        if self.status != Status::Processing {
            return None;
        }
        let p = self
            .pending
            .as_mut()
            .filter(|p| p.op == PendingOp::Confirm)?;
        if !(p.awaiting || now_ms.saturating_sub(p.started_ms) >= STALE_AFTER_MS) {
            return None;
        }
        p.awaiting = false;
        p.started_ms = now_ms;
        Some((p.seq, p.plan.clone()))
    }

    /// Records the attempt plan of the confirmation under way.
    pub fn set_pending_plan(&mut self, plan: Vec<String>) {
        if let Some(p) = self.pending.as_mut() {
            p.plan = plan;
        }
    }

    /// Starts a confirmation: returns its sequence number (for the
    /// processor idempotency keys). A stale confirmation is taken over with
    /// its own number, so that the processors deduplicate the retry.
    pub fn begin_confirm(&mut self, now_ms: u64) -> Result<u32, Refusal> {
        if let Some(seq) = self.check_pending(PendingOp::Confirm, now_ms)? {
            let plan = self.pending.take().map(|p| p.plan).unwrap_or_default();
            self.pending = Some(Pending {
                op: PendingOp::Confirm,
                seq,
                started_ms: now_ms,
                plan,
                awaiting: false,
                amount: None,
            });
            return Ok(seq);
        }
        match self.status {
            Status::RequiresConfirmation => {}
            Status::RequiresPaymentMethod => {
                return Err(Refusal {
                    status: 400,
                    code: "payment_intent_unexpected_state",
                    message: "You cannot confirm this PaymentIntent because it's missing a payment method. Provide payment_method or payment_method_data.".into(),
                    param: Some("payment_method"),
                })
            }
            _ => return Err(self.unexpected("confirm")),
        }
        self.confirmations += 1;
        self.status = Status::Processing;
        self.last_payment_error = None;
        self.pending = Some(Pending {
            op: PendingOp::Confirm,
            seq: self.confirmations,
            started_ms: now_ms,
            plan: Vec::new(),
            awaiting: false,
            amount: None,
        });
        Ok(self.confirmations)
    }

    pub fn finish_confirm(&mut self, attempts: Vec<Attempt>, result: ConfirmResult) {
        self.routing.attempts.extend(attempts);
        match result {
            ConfirmResult::Authorized(details) => {
                self.processor = Some(details);
                self.pending = None;
                if !self.capture_method.at_once() {
                    self.status = Status::RequiresCapture;
                    self.amount_capturable = self.amount;
                } else {
                    self.status = Status::Succeeded;
                    self.amount_received = self.amount;
                }
            }
            ConfirmResult::Declined(d) => {
                self.pending = None;
                self.status = Status::RequiresPaymentMethod;
                self.last_payment_error = Some(LastError {
                    kind: "card_error".into(),
                    code: d.code,
                    decline_code: Some(d.decline_code),
                    message: d.message,
                });
            }
            ConfirmResult::NoneAvailable => {
                self.pending = None;
                self.status = Status::RequiresPaymentMethod;
                self.last_payment_error = Some(LastError {
                    kind: "api_error".into(),
                    code: "processor_unavailable".into(),
                    decline_code: None,
                    message:
                        "No processor could take the payment; it was not charged. Try again later."
                            .into(),
                });
            }
            ConfirmResult::Unknown => {
                // Stays `processing`, pending kept for reconciliation (or a
                // retry, which asks the same processors with the same keys).
                if let Some(p) = self.pending.as_mut() {
                    p.awaiting = true;
                }
            }
        }
    }

    /// Starts a capture; returns (sequence, amount to capture).
    pub fn begin_capture(
        &mut self,
        amount_to_capture: Option<u64>,
        now_ms: u64,
    ) -> Result<(u32, u64), Refusal> {
        let resumed = self.check_pending(PendingOp::Capture, now_ms)?;
        if self.status != Status::RequiresCapture {
            return Err(self.unexpected("capture"));
        }
        // A takeover keeps the amount it takes over: the processor answers
        // the retry (same key) with the first capture.
        let taken_over = self
            .pending
            .as_ref()
            .filter(|_| resumed.is_some())
            .and_then(|p| p.amount);
        if let (Some(first), Some(asked)) = (taken_over, amount_to_capture) {
            if first != asked {
                return Err(Refusal {
                    status: 400,
                    code: "payment_intent_unexpected_state",
                    message: format!(
                        "A capture of {first} is already under way at the processor: retry it with the same amount_to_capture, or with none."
                    ),
                    param: Some("amount_to_capture"),
                });
            }
        }
        let amount = taken_over
            .or(amount_to_capture)
            .unwrap_or(self.amount_capturable);
        if amount == 0 || amount > self.amount_capturable {
            return Err(Refusal {
                status: 400,
                code: "amount_too_large",
                message: format!(
                    "The amount to capture ({amount}) must be positive and at most the amount capturable ({}).",
                    self.amount_capturable
                ),
                param: Some("amount_to_capture"),
            });
        }
        let seq = match resumed {
            Some(seq) => seq,
            None => {
                self.captures += 1;
                self.captures
            }
        };
        self.pending = Some(Pending {
            op: PendingOp::Capture,
            seq,
            started_ms: now_ms,
            plan: Vec::new(),
            awaiting: false,
            amount: Some(amount),
        });
        Ok((seq, amount))
    }

    /// After an authorization whose capture (a call of its own: the
    /// processor does not capture with the authorization) was not
    /// confirmed: capturable, with that capture pending under the first
    /// capture's number, so that a reconciliation sends it again with the
    /// same key (a takeover once it is abandoned).
    pub fn await_capture(&mut self, now_ms: u64) {
        self.status = Status::RequiresCapture;
        self.amount_capturable = self.amount;
        self.amount_received = 0;
        self.captures += 1;
        self.pending = Some(Pending {
            op: PendingOp::Capture,
            seq: self.captures,
            started_ms: now_ms,
            plan: Vec::new(),
            awaiting: false,
            amount: Some(self.amount),
        });
    }

    /// `ok`: the processor captured `amount`.
    pub fn finish_capture(&mut self, amount: u64, ok: bool) {
        self.pending = None;
        if ok {
            self.status = Status::Succeeded;
            self.amount_received = amount;
            self.amount_capturable = 0;
        }
    }

    /// Starts a cancellation: `Ok(None)` when it is done at once (nothing
    /// authorized), `Ok(Some(seq))` when the authorization must be voided.
    pub fn begin_cancel(
        &mut self,
        reason: Option<String>,
        now_secs: u64,
        now_ms: u64,
    ) -> Result<Option<u32>, Refusal> {
        let resumed = self.check_pending(PendingOp::Void, now_ms)?;
        match self.status {
            Status::RequiresPaymentMethod | Status::RequiresConfirmation => {
                self.status = Status::Canceled;
                self.canceled_at = Some(now_secs);
                self.cancellation_reason = reason;
                Ok(None)
            }
            Status::RequiresCapture => {
                let seq = match resumed {
                    Some(seq) => seq,
                    None => {
                        self.voids += 1;
                        self.voids
                    }
                };
                self.cancellation_reason = reason;
                self.pending = Some(Pending {
                    op: PendingOp::Void,
                    seq,
                    started_ms: now_ms,
                    plan: Vec::new(),
                    awaiting: false,
                    amount: None,
                });
                Ok(Some(seq))
            }
            _ => Err(self.unexpected("cancel")),
        }
    }

    pub fn finish_cancel(&mut self, ok: bool, now_secs: u64) {
        self.pending = None;
        if ok {
            self.status = Status::Canceled;
            self.canceled_at = Some(now_secs);
            self.amount_capturable = 0;
        }
    }

    /// Reserves a refund of `amount` (default: what is left); returns the
    /// amount and the refund's sequence number. Refunds never exceed the
    /// captured amount, counting those still under way.
    pub fn begin_refund(&mut self, amount: Option<u64>) -> Result<(u64, u32), Refusal> {
        if self.status != Status::Succeeded {
            return Err(refuse(
                "charge_not_refundable",
                format!(
                    "This PaymentIntent cannot be refunded because it has a status of {}.",
                    self.status.as_str()
                ),
            ));
        }
        let left = self.amount_received.saturating_sub(self.refund_reserved);
        let amount = amount.unwrap_or(left);
        if left == 0 {
            return Err(refuse(
                "charge_already_refunded",
                format!("PaymentIntent {} has already been refunded.", self.id),
            ));
        }
        if amount == 0 || amount > left {
            return Err(Refusal {
                status: 400,
                code: "amount_too_large",
                message: format!(
                    "Refund amount ({amount}) is greater than unrefunded amount on charge ({left})."
                ),
                param: Some("amount"),
            });
        }
        self.refund_reserved += amount;
        self.refunds += 1;
        Ok((amount, self.refunds))
    }

    pub fn finish_refund(&mut self, amount: u64, ok: bool) {
        if ok {
            self.amount_refunded += amount;
        } else {
            self.refund_reserved = self.refund_reserved.saturating_sub(amount);
        }
    }

    /// The Stripe-shaped object, with `processor_details` and `routing`, as
    /// a view that serialises straight to JSON text.
    pub fn api(&self) -> PaymentIntentJson<'_> {
        let e = &self.extras;
        PaymentIntentJson {
            id: &self.id,
            object: "payment_intent",
            amount: self.amount,
            amount_capturable: self.amount_capturable,
            amount_received: self.amount_received,
            amount_refunded: self.amount_refunded,
            application: None,
            application_fee_amount: None,
            automatic_payment_methods: e.automatic_payment_methods.as_ref(),
            canceled_at: self.canceled_at,
            cancellation_reason: self.cancellation_reason.as_deref(),
            capture_method: self.capture_method.as_str(),
            client_secret: e.client_secret.as_deref(),
            confirmation_method: &self.confirmation_method,
            created: self.created,
            currency: &self.currency,
            customer: e.customer.as_deref(),
            description: self.description.as_deref(),
            invoice: None,
            last_payment_error: self.last_payment_error.as_ref(),
            latest_charge: self.latest_charge_id(),
            livemode: self.livemode,
            metadata: &self.metadata,
            next_action: None,
            on_behalf_of: None,
            payment_method: self.payment_method.as_deref(),
            payment_method_details: self.card.as_ref().map(|c| PaymentMethodJson {
                kind: "card",
                card: CardJson {
                    brand: &c.brand,
                    last4: &c.last4,
                    exp_month: c.exp_month,
                    exp_year: c.exp_year,
                    funding: &c.funding,
                    country: c.country.as_deref(),
                },
            }),
            payment_method_options: PaymentMethodOptionsJson {
                card: CardOptionsJson {
                    installments: None,
                    mandate_options: None,
                    network: None,
                    request_three_d_secure: e
                        .request_three_d_secure
                        .as_deref()
                        .unwrap_or("automatic"),
                },
            },
            payment_method_types: ["card"],
            processing: None,
            receipt_email: e.receipt_email.as_deref(),
            review: None,
            setup_future_usage: e.setup_future_usage.as_deref(),
            shipping: None,
            statement_descriptor: e.statement_descriptor.as_deref(),
            statement_descriptor_suffix: e.statement_descriptor_suffix.as_deref(),
            status: self.status.as_str(),
            transfer_data: None,
            transfer_group: None,
            processor_details: self.processor.as_ref(),
            routing: &self.routing,
        }
    }

    /// The Stripe-shaped object as a JSON value.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self.api()).unwrap_or(Value::Null)
    }
}

/// A PaymentIntent as the API shows it (`PaymentIntent::api`), fields in
/// Stripe's order.
#[derive(Debug, Serialize)]
pub struct PaymentIntentJson<'a> {
    id: &'a str,
    object: &'static str,
    amount: u64,
    amount_capturable: u64,
    amount_received: u64,
    amount_refunded: u64,
    application: Null,
    application_fee_amount: Null,
    automatic_payment_methods: Option<&'a crate::extras::AutomaticPaymentMethods>,
    canceled_at: Option<u64>,
    cancellation_reason: Option<&'a str>,
    capture_method: &'static str,
    client_secret: Option<&'a str>,
    confirmation_method: &'a str,
    created: u64,
    currency: &'a str,
    customer: Option<&'a str>,
    description: Option<&'a str>,
    invoice: Null,
    last_payment_error: Option<&'a LastError>,
    latest_charge: Option<String>,
    livemode: bool,
    metadata: &'a BTreeMap<String, String>,
    next_action: Null,
    on_behalf_of: Null,
    payment_method: Option<&'a str>,
    payment_method_details: Option<PaymentMethodJson<'a>>,
    payment_method_options: PaymentMethodOptionsJson<'a>,
    payment_method_types: [&'static str; 1],
    processing: Null,
    receipt_email: Option<&'a str>,
    review: Null,
    setup_future_usage: Option<&'a str>,
    shipping: Null,
    statement_descriptor: Option<&'a str>,
    statement_descriptor_suffix: Option<&'a str>,
    status: &'static str,
    transfer_data: Null,
    transfer_group: Null,
    processor_details: Option<&'a ProcessorDetails>,
    routing: &'a Routing,
}

/// A field Stripe always returns that has no value here: `null`.
type Null = Option<()>;

#[derive(Debug, Serialize)]
pub struct PaymentMethodOptionsJson<'a> {
    card: CardOptionsJson<'a>,
}

#[derive(Debug, Serialize)]
pub struct CardOptionsJson<'a> {
    installments: Null,
    mandate_options: Null,
    network: Null,
    request_three_d_secure: &'a str,
}

#[derive(Debug, Serialize)]
pub struct PaymentMethodJson<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    card: CardJson<'a>,
}

/// The card's facts the API shows: never the number or the BIN.
#[derive(Debug, Serialize)]
pub struct CardJson<'a> {
    brand: &'a str,
    last4: &'a str,
    exp_month: u8,
    exp_year: u16,
    funding: &'a str,
    country: Option<&'a str>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundStatus {
    Pending,
    Succeeded,
    Failed,
}

impl RefundStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RefundStatus::Pending => "pending",
            RefundStatus::Succeeded => "succeeded",
            RefundStatus::Failed => "failed",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refund {
    pub id: String,
    pub amount: u64,
    pub currency: String,
    pub payment_intent: String,
    pub status: RefundStatus,
    pub reason: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub created: u64,
    pub livemode: bool,
    pub processor: Option<ProcessorDetails>,
    /// The processor's words on a failed refund (its Stripe-style
    /// `failure_reason` is `declined`).
    pub failure_reason: Option<String>,
    pub seq: u32,
    /// The Charge refunded (the payment's authorized one).
    #[serde(default)]
    pub charge: Option<String>,
    /// While pending: when its processor call started (a call older than
    /// `STALE_AFTER_MS` was abandoned: a retry or a retrieval takes over).
    #[serde(default)]
    pub pending_since_ms: u64,
    /// While pending: the call ended with an unknown outcome; nobody is
    /// working on it, a retrieval asks the processor.
    #[serde(default)]
    pub awaiting: bool,
}

impl Refund {
    /// Whether a pending refund may be taken over (a retry with its key, or
    /// a retrieval that asks the processor): nobody is working on it.
    pub fn takeover_due(&self, now_ms: u64) -> bool {
        self.status == RefundStatus::Pending
            && (self.awaiting || now_ms.saturating_sub(self.pending_since_ms) >= STALE_AFTER_MS)
    }
}

impl Refund {
    /// The Stripe-shaped object, as a view that serialises straight to
    /// JSON text.
    pub fn api(&self) -> RefundJson<'_> {
        let failed = self.status == RefundStatus::Failed;
        RefundJson {
            id: &self.id,
            object: "refund",
            amount: self.amount,
            balance_transaction: None,
            charge: self.charge.as_deref(),
            created: self.created,
            currency: &self.currency,
            // Stripe's vocabulary: the processor refused it.
            failure_reason: failed.then_some("declined"),
            failure_message: self.failure_reason.as_deref().filter(|_| failed),
            metadata: &self.metadata,
            payment_intent: &self.payment_intent,
            reason: self.reason.as_deref(),
            receipt_number: None,
            source_transfer_reversal: None,
            status: self.status.as_str(),
            transfer_reversal: None,
            livemode: self.livemode,
            processor_details: self.processor.as_ref(),
        }
    }

    pub fn to_json(&self) -> Value {
        serde_json::to_value(self.api()).unwrap_or(Value::Null)
    }
}

/// A Refund as the API shows it (`Refund::api`): the fields Stripe always
/// returns, `failure_reason` only when it failed.
#[derive(Debug, Serialize)]
pub struct RefundJson<'a> {
    id: &'a str,
    object: &'static str,
    amount: u64,
    balance_transaction: Null,
    charge: Option<&'a str>,
    created: u64,
    currency: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    failure_reason: Option<&'static str>,
    /// Switchyard's: what the processor said of a failed refund.
    #[serde(skip_serializing_if = "Option::is_none")]
    failure_message: Option<&'a str>,
    metadata: &'a BTreeMap<String, String>,
    payment_intent: &'a str,
    reason: Option<&'a str>,
    receipt_number: Null,
    source_transfer_reversal: Null,
    status: &'static str,
    transfer_reversal: Null,
    livemode: bool,
    processor_details: Option<&'a ProcessorDetails>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pi(capture: CaptureMethod) -> PaymentIntent {
        let mut p = PaymentIntent::new(
            "pi_1".into(),
            false,
            1,
            1000,
            "usd".into(),
            capture,
            BTreeMap::new(),
            None,
        );
        let facts = CardFacts {
            brand: "visa".into(),
            bin: "42424242".into(),
            last4: "4242".into(),
            exp_month: 12,
            exp_year: 2030,
            funding: "credit".into(),
            country: Some("US".into()),
        };
        let r = p.attach("pm_card_visa".into(), facts);
        assert!(r.is_ok());
        p
    }

    fn details() -> ProcessorDetails {
        ProcessorDetails {
            processor: "sandbox_a".into(),
            kind: "sandbox".into(),
            reference: "sbx_1".into(),
        }
    }

    #[test]
    fn manual_capture_then_partial_refunds() {
        let mut p = pi(CaptureMethod::Manual);
        assert_eq!(p.begin_confirm(0), Ok(1));
        // A second confirmation while the first runs waits.
        assert_eq!(p.begin_confirm(10).map_err(|r| r.status), Err(429));
        p.finish_confirm(vec![], ConfirmResult::Authorized(details()));
        assert_eq!(p.status, Status::RequiresCapture);
        assert_eq!(p.amount_capturable, 1000);
        assert!(p.begin_refund(None).is_err());
        let (seq, amount) = p.begin_capture(Some(700), 0).unwrap_or_default();
        assert_eq!((seq, amount), (1, 700));
        p.finish_capture(amount, true);
        assert_eq!(p.status, Status::Succeeded);
        assert_eq!(p.amount_received, 700);
        assert_eq!(p.begin_refund(Some(500)).map(|r| r.0), Ok(500));
        assert_eq!(
            p.begin_refund(Some(300)).map_err(|r| r.code),
            Err("amount_too_large")
        );
        assert_eq!(p.begin_refund(None).map(|r| r.0), Ok(200));
        assert_eq!(
            p.begin_refund(None).map_err(|r| r.code),
            Err("charge_already_refunded")
        );
        p.finish_refund(200, false);
        assert_eq!(p.begin_refund(Some(150)).map(|r| r.0), Ok(150));
        p.finish_refund(500, true);
        p.finish_refund(150, true);
        assert_eq!(p.amount_refunded, 650);
        assert!(p.amount_refunded <= p.refund_reserved && p.refund_reserved <= p.amount_received);
    }

    #[test]
    fn decline_and_cancel() {
        let mut p = pi(CaptureMethod::Automatic);
        assert!(p.begin_confirm(0).is_ok());
        p.finish_confirm(
            vec![],
            ConfirmResult::Declined(Decline::from_stripe_code("insufficient_funds", None)),
        );
        assert_eq!(p.status, Status::RequiresPaymentMethod);
        let e = p.last_payment_error.clone().map(|e| e.decline_code);
        assert_eq!(e, Some(Some("insufficient_funds".into())));
        assert!(p.begin_confirm(0).is_err(), "needs a new payment method");
        assert_eq!(p.begin_cancel(None, 5, 5), Ok(None));
        assert_eq!(p.status, Status::Canceled);
        assert!(p.begin_cancel(None, 5, 5).is_err());
    }

    #[test]
    fn unknown_outcome_stays_processing_and_is_resumed_with_the_same_seq() {
        let mut p = pi(CaptureMethod::Automatic);
        assert_eq!(p.begin_confirm(0), Ok(1));
        p.set_pending_plan(vec!["a".into(), "b".into()]);
        p.finish_confirm(vec![], ConfirmResult::Unknown);
        assert_eq!(
            p.pending_plan(),
            Some(&["a".to_owned(), "b".to_owned()][..])
        );
        assert_eq!(p.status, Status::Processing);
        // Reconciliation takes it (once); then it is in progress again.
        assert_eq!(p.begin_reconcile(10).map(|r| r.0), Some(1));
        assert_eq!(p.begin_reconcile(20), None);
        assert_eq!(
            p.begin_confirm(1000).map_err(|r| r.code),
            Err("lock_timeout")
        );
        assert_eq!(p.begin_confirm(STALE_AFTER_MS + 11), Ok(1));
        assert_eq!(
            p.pending_plan().map(<[String]>::len),
            Some(2),
            "the takeover keeps the plan"
        );
        p.finish_confirm(vec![], ConfirmResult::Authorized(details()));
        assert_eq!(p.status, Status::Succeeded);
        assert_eq!(p.to_json()["status"], "succeeded");
        assert_eq!(p.to_json()["processor_details"]["type"], "sandbox");
    }

    /// The views serialise to exactly the objects the API always answered
    /// (written here as they were built before the views existed).
    #[test]
    fn api_views_are_the_stripe_shaped_objects() {
        let mut p = pi(CaptureMethod::Manual);
        p.metadata.insert("order".into(), "8812".into());
        assert!(p.begin_confirm(0).is_ok());
        p.finish_confirm(vec![], ConfirmResult::Authorized(details()));
        let card = p.card.as_ref().map(|c| {
            json!({"type": "card", "card": {
                "brand": c.brand, "last4": c.last4, "exp_month": c.exp_month,
                "exp_year": c.exp_year, "funding": c.funding, "country": c.country }})
        });
        let expected = json!({
            "id": p.id, "object": "payment_intent", "amount": p.amount,
            "amount_capturable": p.amount_capturable, "amount_received": p.amount_received,
            "amount_refunded": p.amount_refunded, "application": null,
            "application_fee_amount": null, "automatic_payment_methods": null,
            "canceled_at": p.canceled_at, "cancellation_reason": p.cancellation_reason,
            "capture_method": "manual", "client_secret": null,
            "confirmation_method": p.confirmation_method, "created": p.created,
            "currency": p.currency, "customer": null, "description": p.description,
            "invoice": null, "last_payment_error": p.last_payment_error,
            "latest_charge": null, "livemode": p.livemode,
            "metadata": p.metadata, "next_action": null, "on_behalf_of": null,
            "payment_method": p.payment_method, "payment_method_details": card,
            "payment_method_options": {"card": {"installments": null,
                "mandate_options": null, "network": null, "request_three_d_secure": "automatic"}},
            "payment_method_types": ["card"], "processing": null, "receipt_email": null,
            "review": null, "setup_future_usage": null, "shipping": null,
            "statement_descriptor": null, "statement_descriptor_suffix": null,
            "status": "requires_capture", "transfer_data": null, "transfer_group": null,
            "processor_details": p.processor, "routing": p.routing,
        });
        assert_eq!(p.to_json(), expected);
        // Stripe's order of fields (the text, whatever serde_json's map):
        // id and object, then alphabetical; Switchyard's own fields last.
        let text = serde_json::to_string(&p.api()).unwrap_or_default();
        let at = |k: &str| text.find(&format!("\"{k}\":")).unwrap_or(usize::MAX);
        let keys: Vec<&str> = expected
            .as_object()
            .map(|o| o.keys().map(String::as_str).collect())
            .unwrap_or_default();
        let mut stripe: Vec<&str> = keys
            .iter()
            .copied()
            .filter(|k| !matches!(*k, "id" | "object" | "processor_details" | "routing"))
            .collect();
        stripe.sort_unstable();
        let order: Vec<&str> = ["id", "object"]
            .into_iter()
            .chain(stripe)
            .chain(["processor_details", "routing"])
            .collect();
        assert!(order.windows(2).all(|w| at(w[0]) < at(w[1])), "{text}");
        // A charge per attempt that reached a processor.
        let mut q = pi(CaptureMethod::Automatic);
        assert!(q.begin_confirm(0).is_ok());
        let attempt = |outcome, dc: Option<&str>| Attempt {
            processor: "sandbox_a".into(),
            outcome,
            code: None,
            decline_code: dc.map(str::to_owned),
            latency_ms: 1,
        };
        q.finish_confirm(
            vec![
                attempt(AttemptOutcome::SoftDecline, Some("insufficient_funds")),
                attempt(AttemptOutcome::NotProcessed, None),
                attempt(AttemptOutcome::Authorized, None),
            ],
            ConfirmResult::Authorized(details()),
        );
        let charges = q.charges();
        assert_eq!(charges.len(), 2);
        assert_eq!(charges[0]["status"], "failed");
        assert_eq!(charges[0]["failure_code"], "card_declined");
        assert_eq!(charges[1]["status"], "succeeded");
        assert_eq!(charges[1]["captured"], true);
        assert_eq!(q.to_json()["latest_charge"], charges[1]["id"]);
        assert_eq!(q.paid_charge_id().as_deref(), charges[1]["id"].as_str());
        let pi_id = "pi_0123456789abcdefghijKLMN";
        let id = crate::extras::charge_id(pi_id, 3);
        assert_eq!(
            crate::extras::payment_of_charge(&id).as_deref(),
            Some(pi_id)
        );
        let r = Refund {
            id: "re_1".into(),
            amount: 10,
            currency: "eur".into(),
            payment_intent: p.id.clone(),
            status: RefundStatus::Failed,
            reason: None,
            metadata: BTreeMap::new(),
            created: 5,
            livemode: false,
            processor: None,
            failure_reason: Some("card expired".into()),
            seq: 1,
            pending_since_ms: 0,
            awaiting: false,
            charge: Some("ch_1".into()),
        };
        let expected = json!({
            "id": "re_1", "object": "refund", "amount": 10, "balance_transaction": null,
            "charge": "ch_1", "created": 5, "currency": "eur",
            "failure_reason": "declined", "failure_message": "card expired", "metadata": {},
            "payment_intent": p.id, "reason": null, "receipt_number": null,
            "source_transfer_reversal": null, "status": "failed", "transfer_reversal": null,
            "livemode": false, "processor_details": null,
        });
        assert_eq!(r.to_json(), expected);
        // Not failed: no failure_reason at all (Stripe's schema has no null).
        let ok = Refund {
            status: RefundStatus::Succeeded,
            failure_reason: None,
            ..r
        };
        let v = ok.to_json();
        assert!(v.get("failure_reason").is_none() && v.get("failure_message").is_none());
    }

    #[test]
    fn cancel_of_an_authorization_voids() {
        let mut p = pi(CaptureMethod::Manual);
        assert!(p.begin_confirm(0).is_ok());
        p.finish_confirm(vec![], ConfirmResult::Authorized(details()));
        assert_eq!(
            p.begin_cancel(Some("requested_by_customer".into()), 1, 1),
            Ok(Some(1))
        );
        p.finish_cancel(true, 2);
        assert_eq!(p.status, Status::Canceled);
        assert_eq!(p.amount_capturable, 0);
    }
}
