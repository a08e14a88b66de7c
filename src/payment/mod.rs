//! The payment core: what the payment's Durable Object does with a `/run`
//! message, as plain functions over a storage trait, so that every
//! transition runs and is tested natively ([`crate::storage::memory`]).
//!
//! An operation is three steps:
//! 1. [`begin`]: the idempotency claim, the transition, the routing decision
//!    and the pending operation stored. Synchronous.
//! 2. [`execute`]: the processor calls, through a [`Transport`]; the only
//!    awaits.
//! 3. [`finish`]: the processors' result recorded, the answer stored for the
//!    idempotency key. Synchronous.
//!
//! Architecture Invariant: `begin` and `finish` never await. In the Durable
//! Object each is one synchronous run over SQLite, so calls on one payment
//! never interleave inside a transition, and `begin`'s writes are durable
//! before any processor request leaves (workerd holds an object's outgoing
//! requests until its writes are).

use std::collections::HashMap;
use std::rc::Rc;

use serde_json::Value;
use switchyard_processors::card::Card;
use switchyard_processors::decline::Decline;
use switchyard_processors::extras::{check_metadata_size, View};
use switchyard_processors::payment::{
    Attempt, ConfirmResult, PaymentIntent, PendingOp, ProcessorDetails, Refund, RefundStatus,
    Refusal, Status, STALE_AFTER_MS,
};
use switchyard_rules::{DecisionAction, Rates, Router, ValidateOptions};

use crate::error::ApiError;
use crate::money;
use crate::protocol::{self, Answer, BeginRequest, FinishRequest, Op, Work, WorkResult};
use crate::storage::{self, Docs, IdemCheck, IdemRecords};

mod execute;
#[cfg(test)]
mod tests;

pub use execute::{check_given_up, execute, Admission, GivenUp, LateCheck, Transport};

/// The most processor attempts one payment makes, over all its
/// confirmations: `routing.attempts` stays bounded, and a payment cannot be
/// used to probe processors without end.
pub const MAX_ATTEMPTS: usize = 20;

fn attempts_key(seq: u32) -> String {
    format!("attempts:{seq}")
}

/// Stores one attempt of confirmation `seq` as soon as it ends, before the
/// next starts: an attempt made by a run that dies is not lost (its
/// takeover, or the reconciliation, adds to it). Synchronous.
pub fn record_attempt(
    store: &impl PaymentStore,
    seq: u32,
    attempt: &Attempt,
) -> Result<(), ApiError> {
    let key = attempts_key(seq);
    let mut list: Vec<Attempt> = store.get(&key)?.unwrap_or_default();
    list.push(attempt.clone());
    store.put(&key, &list)
}

/// The payment as its attempts count in the metrics (brand, issuing
/// country, funding, currency, rule, amount: no card data), read after a
/// confirmation.
pub fn metrics_facts(store: &impl PaymentStore) -> Result<Option<crate::metrics::Facts>, ApiError> {
    let Some(pi) = store.get::<PaymentIntent>(PAYMENT)? else {
        return Ok(None);
    };
    let card = pi.card.as_ref();
    Ok(Some(crate::metrics::Facts {
        brand: card.map_or_else(|| "unknown".to_owned(), |c| c.brand.clone()),
        country: card.and_then(|c| c.country.clone()),
        funding: card.map_or_else(|| "unknown".to_owned(), |c| c.funding.clone()),
        currency: pi.currency.clone(),
        rule: pi.routing.rule.clone(),
        amount: pi.amount,
    }))
}

/// A payment object's storage.
pub trait PaymentStore: Docs + IdemRecords {
    /// Whether the payment's tables exist; with `create`, makes them first.
    /// Reads never create them: an object asked about a payment that does
    /// not exist stays empty.
    fn open(&self, create: bool) -> Result<bool, ApiError>;
}

#[cfg(test)]
impl PaymentStore for crate::storage::memory::MemoryStore {
    fn open(&self, create: bool) -> Result<bool, ApiError> {
        if create {
            self.tables.set(true);
        }
        Ok(self.tables.get())
    }
}

/// Compiled rule sets by mode and id (rule sets are immutable once stored,
/// so an id always names the same router). The edge keeps one per isolate.
#[derive(Default)]
pub struct Routers {
    /// Test mode's, then live mode's.
    by_mode: [HashMap<String, Rc<Router>>; 2],
}

impl Routers {
    const MAX: usize = 64;

    fn of(&self, livemode: bool) -> &HashMap<String, Rc<Router>> {
        &self.by_mode[usize::from(livemode)]
    }

    pub fn has(&self, livemode: bool, id: &str) -> bool {
        self.of(livemode).contains_key(id)
    }

    /// The compiled router of a rule set: from the cache, else compiled from
    /// its content (which the caller must then have).
    pub fn router(
        &mut self,
        livemode: bool,
        id: &str,
        ruleset: Option<&Value>,
    ) -> Result<Rc<Router>, ApiError> {
        if let Some(r) = self.of(livemode).get(id) {
            return Ok(r.clone());
        }
        let Some(ruleset) = ruleset else {
            return Err(ApiError::internal("rule set not compiled and not given"));
        };
        let router =
            Router::from_value(ruleset, &ValidateOptions::default()).map_err(|issues| {
                ApiError::issues(
                    "ruleset",
                    "ruleset_invalid",
                    "the active rule set is invalid",
                    issues,
                )
            })?;
        let router = Rc::new(router);
        let map = &mut self.by_mode[usize::from(livemode)];
        if map.len() >= Self::MAX {
            map.clear();
        }
        map.insert(id.to_owned(), router.clone());
        Ok(router)
    }
}

/// An answer of the API with what the front must know about it.
#[derive(Clone, Debug, PartialEq)]
pub struct Reply {
    pub answer: Answer,
    pub replayed: bool,
    /// Refused before it started: the idempotency key was released.
    pub key_released: bool,
    /// Stored for the idempotency key: a retry can only replay it.
    pub decided: bool,
}

impl Reply {
    fn plain(answer: Answer) -> Reply {
        Reply {
            answer,
            replayed: false,
            key_released: false,
            decided: false,
        }
    }
}

/// What `begin` leaves to do.
#[derive(Clone, Debug, PartialEq)]
pub enum Begun {
    /// The answer is final.
    Reply(Reply),
    /// Call the processors, then `finish`.
    Work(Box<Work>),
    /// Nothing was done: the rule set named in the request is not compiled
    /// here; send it again with the rule set's content.
    NeedRuleset,
}

/// A refusal of the state machine as the API's error.
fn refusal(r: Refusal) -> ApiError {
    if r.status == 429 {
        ApiError::lock_timeout(r.message)
    } else {
        match r.param {
            Some(param) => ApiError::invalid(param, r.code, r.message),
            None => ApiError::refused(r.code, r.message),
        }
    }
}

/// The error for an operation on a payment that does not exist.
fn missing_payment(op: Op, payment_id: &str) -> ApiError {
    let message = format!("No such payment_intent: '{payment_id}'");
    if op == Op::Refund {
        // A parameter naming a missing object: 400, as Stripe.
        ApiError::invalid("payment_intent", "resource_missing", message)
    } else {
        ApiError::not_found(Some("intent"), message)
    }
}

fn declined(pi: &PaymentIntent, d: &Decline, view: View) -> ApiError {
    ApiError::declined(&d.code, &d.decline_code, d.message.clone())
        .with_payment_intent(pi.view(view))
}

/// The payment as the request's view shows it (the plain object is
/// written straight from its typed view).
fn show(pi: &PaymentIntent, view: View) -> Answer {
    if view == View::default() {
        ok(&pi.api())
    } else {
        ok(&pi.view(view))
    }
}

/// Stripe's list object.
fn list(url: &str, data: Vec<Value>) -> Answer {
    ok(&serde_json::json!({"object": "list", "data": data, "has_more": false, "url": url}))
}

fn missing_charge(id: &str) -> ApiError {
    ApiError::no_such("id", "charge", id)
}

fn answer_of(e: &ApiError) -> Answer {
    Answer::error(e)
}

fn ok(body: &impl serde::Serialize) -> Answer {
    Answer::json(200, body)
}

fn refund_key(id: &str) -> String {
    format!("refund:{id}")
}

/// The refund an idempotency key started (so that a retry of it, after its
/// call was abandoned, resumes that refund rather than making another).
fn refund_of_key(key: &str) -> String {
    format!("refund_of_key:{key}")
}

fn missing_refund(id: &str) -> ApiError {
    ApiError::not_found(Some("id"), format!("No such refund: '{id}'"))
}

const PAYMENT: &str = "payment";

/// Compares a client secret in constant time (for its length).
fn secret_matches(stored: Option<&str>, given: &str) -> bool {
    let Some(stored) = stored else {
        return false;
    };
    let (a, b) = (stored.as_bytes(), given.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Step 1 of an operation. Errors are faults of storage or of the worker
/// (500s); everything the client did is in the `Reply`.
pub fn begin(
    store: &impl PaymentStore,
    routers: &mut Routers,
    rates: &Rates,
    b: &BeginRequest,
) -> Result<Begun, ApiError> {
    // Only a create makes the tables (in the same synchronous run as its
    // writes: one commit for a new payment); any other operation on an
    // object that has none is about a payment that does not exist, refused
    // before it started.
    if !store.open(b.op == Op::Create)? {
        let missing = match (b.op, &b.refund_id, &b.charge_id) {
            (Op::ReconcileRefund | Op::UpdateRefund | Op::CancelRefund, Some(id), _) => {
                missing_refund(id)
            }
            (Op::Charges, _, Some(id)) => missing_charge(id),
            (Op::Refund, _, Some(ch)) => ApiError::no_such_in("charge", "charge", ch),
            _ => missing_payment(b.op, &b.payment_id),
        };
        // A list of a payment that does not exist is empty.
        if b.op == Op::Charges && b.charge_id.is_none() {
            return Ok(Begun::Reply(Reply::plain(list("/v1/charges", Vec::new()))));
        }
        return Ok(Begun::Reply(Reply {
            key_released: b.idem.is_some(),
            ..Reply::plain(answer_of(&missing))
        }));
    }
    // Before anything changes: a rule set not compiled here must come with
    // its content. (Nothing awaits between here and its use.)
    if let Some(rs) = &b.ruleset {
        if rs.ruleset.is_none() && !routers.has(b.livemode, &rs.id) {
            return Ok(Begun::NeedRuleset);
        }
    }
    if let Some(idem) = &b.idem {
        match storage::claim(store, idem, b.now_ms) {
            Ok(IdemCheck::Replay(answer)) => {
                let decided = answer.status >= 500;
                return Ok(Begun::Reply(Reply {
                    replayed: true,
                    decided,
                    ..Reply::plain(answer)
                }));
            }
            Ok(IdemCheck::Claimed) => {}
            Err(e) => return Ok(Begun::Reply(Reply::plain(answer_of(&e)))),
        }
    }
    let (answer, started) = match begin_claimed(store, routers, rates, b) {
        Ok(Step::Work(work)) => return Ok(Begun::Work(work)),
        Ok(Step::Done(answer)) => (answer, true),
        Err(Failure { error, started }) => (answer_of(&error), started),
    };
    let Some(idem) = &b.idem else {
        return Ok(Begun::Reply(Reply::plain(answer)));
    };
    if started {
        storage::complete(store, &idem.key, &answer)?;
        Ok(Begun::Reply(Reply::plain(answer)))
    } else {
        storage::release(store, &idem.key)?;
        Ok(Begun::Reply(Reply {
            key_released: true,
            ..Reply::plain(answer)
        }))
    }
}

enum Step {
    Done(Answer),
    Work(Box<Work>),
}

/// An error of the operation proper, with whether the request had started
/// executing (then its answer is stored for the idempotency key).
struct Failure {
    error: ApiError,
    started: bool,
}

fn started(error: ApiError) -> Failure {
    Failure {
        error,
        started: true,
    }
}

/// An error once the operation has begun: its answer is stored for the
/// idempotency key, unless it is a lock timeout (429: the request met
/// another one under way and did nothing; Stripe saves no result, so that
/// a retry with the same key runs).
fn begun(error: ApiError) -> Failure {
    Failure {
        started: error.status != 429,
        error,
    }
}

fn not_started(error: ApiError) -> Failure {
    Failure {
        error,
        started: false,
    }
}

fn save(store: &impl Docs, pi: &PaymentIntent) -> Result<(), Failure> {
    store.put(PAYMENT, pi).map_err(started)
}

fn begin_claimed(
    store: &impl PaymentStore,
    routers: &mut Routers,
    rates: &Rates,
    b: &BeginRequest,
) -> Result<Step, Failure> {
    let existing: Option<PaymentIntent> = store.get(PAYMENT).map_err(not_started)?;
    let now_secs = b.now_ms / 1000;
    // A publishable key reaches a payment only with its client secret.
    if let (Some(given), Some(pi)) = (&b.client_secret, &existing) {
        if !secret_matches(pi.extras.client_secret.as_deref(), given) {
            return Err(not_started(ApiError::invalid(
                "client_secret",
                "payment_intent_invalid_parameter",
                "The client_secret provided does not match the client_secret associated with the PaymentIntent.",
            )));
        }
    }
    let mut pi = match (b.op, existing) {
        (Op::Create, Some(pi)) => {
            // Only reachable when an abandoned create (same idempotency
            // key, hence same id) is retried: resume it.
            if !(b.confirm
                && matches!(pi.status, Status::RequiresConfirmation | Status::Processing))
            {
                return Ok(Step::Done(ok(&pi.api())));
            }
            pi
        }
        (Op::Create, None) => {
            let Some(c) = &b.create else {
                return Err(not_started(ApiError::internal("create without fields")));
            };
            let mut pi = PaymentIntent::new(
                b.payment_id.clone(),
                b.livemode,
                now_secs,
                c.amount,
                c.currency.clone(),
                c.capture_method,
                c.metadata.clone(),
                c.description.clone(),
            );
            pi.extras = c.extras.clone();
            pi.extras.created_ms = b.now_ms;
            pi.extras.client_secret = Some(format!("{}_secret_{}", pi.id, c.secret_token));
            if let Some(a) = &b.attach {
                pi.attach(a.payment_method.clone(), a.card.clone())
                    .map_err(|r| not_started(refusal(r)))?;
                pi.extras.billing.clone_from(&a.billing);
            }
            if !b.confirm {
                save(store, &pi)?;
                return Ok(Step::Done(show(&pi, b.view)));
            }
            pi
        }
        (Op::Charges, Some(pi)) => {
            let charges = pi.charges();
            return Ok(Step::Done(match &b.charge_id {
                Some(id) => match charges.into_iter().find(|c| c["id"] == id.as_str()) {
                    Some(c) => ok(&c),
                    None => return Err(not_started(missing_charge(id))),
                },
                None => list("/v1/charges", charges.into_iter().rev().collect()),
            }));
        }
        (Op::UpdateRefund | Op::CancelRefund, Some(_)) => {
            let id = b.refund_id.clone().unwrap_or_default();
            let Some(mut refund) = store.get::<Refund>(&refund_key(&id)).map_err(not_started)?
            else {
                return Err(not_started(missing_refund(&id)));
            };
            if b.op == Op::CancelRefund {
                // Card refunds are sent to the processor at once: none waits
                // in `requires_action`, the only state Stripe cancels.
                return Err(not_started(ApiError::refused(
                    "refund_cannot_be_canceled",
                    format!(
                        "This refund has a status of {} and cannot be canceled: only a refund that requires action can be, and card refunds are sent to the processor at once.",
                        refund.status.as_str()
                    ),
                )));
            }
            if let Some(u) = &b.update {
                if u.clear_metadata {
                    refund.metadata.clear();
                }
                for (k, v) in &u.metadata {
                    match v {
                        Some(v) => refund.metadata.insert(k.clone(), v.clone()),
                        None => refund.metadata.remove(k),
                    };
                }
                check_metadata_size(&refund.metadata).map_err(|r| not_started(refusal(r)))?;
            }
            store.put(&refund_key(&id), &refund).map_err(started)?;
            return Ok(Step::Done(ok(&refund.api())));
        }
        (Op::Update, Some(mut pi)) => {
            // A refused update changed nothing: no result is saved for its
            // idempotency key (as Stripe does with invalid parameters).
            if let Some(u) = &b.update {
                pi.update(u).map_err(|r| not_started(refusal(r)))?;
                if u.amount.is_some() || u.currency.is_some() {
                    money::check_amount("amount", pi.amount, &pi.currency).map_err(not_started)?;
                }
            }
            save(store, &pi)?;
            return Ok(Step::Done(show(&pi, b.view)));
        }
        (Op::ReconcileRefund, Some(pi)) => {
            let id = b.refund_id.clone().unwrap_or_default();
            let Some(mut refund) = store.get::<Refund>(&refund_key(&id)).map_err(not_started)?
            else {
                return Err(not_started(missing_refund(&id)));
            };
            // A refund nobody is working on any more: ask the processor.
            if !refund.takeover_due(b.now_ms) {
                return Ok(Step::Done(ok(&refund.api())));
            }
            refund.pending_since_ms = b.now_ms;
            refund.awaiting = false;
            store.put(&refund_key(&id), &refund).map_err(started)?;
            return at_processor(
                &pi,
                Op::ReconcileRefund,
                refund.seq,
                refund.amount,
                Some(id),
                b.view,
            )
            .map_err(started);
        }
        (Op::Reconcile, Some(mut pi)) => {
            // A retrieve: reconcile a confirmation whose outcome is
            // unknown, otherwise just the payment.
            if let Some((seq, plan)) = pi.begin_reconcile(b.now_ms) {
                save(store, &pi)?;
                return Ok(Step::Work(confirm_work(
                    &pi,
                    Op::Reconcile,
                    seq,
                    plan,
                    b.view,
                )));
            }
            // Reconciliation (not a plain retrieve): a capture or a void
            // whose outcome is unknown and that nobody works on is sent
            // again as it was (same key, same amount): the processor
            // answers the first one's outcome, or does it once.
            let follow_up = pi
                .pending
                .as_ref()
                .filter(|p| {
                    b.settle_follow_ups
                        && (p.awaiting || b.now_ms.saturating_sub(p.started_ms) >= STALE_AFTER_MS)
                })
                .map(|p| p.op);
            match follow_up {
                Some(PendingOp::Capture) => {
                    if let Ok((seq, amount)) = pi.begin_capture(None, b.now_ms) {
                        save(store, &pi)?;
                        return at_processor(&pi, Op::Capture, seq, amount, None, b.view)
                            .map_err(started);
                    }
                }
                Some(PendingOp::Void) => {
                    let reason = pi.cancellation_reason.clone();
                    if let Ok(Some(seq)) = pi.begin_cancel(reason, now_secs, b.now_ms) {
                        save(store, &pi)?;
                        return at_processor(
                            &pi,
                            Op::Cancel,
                            seq,
                            pi.amount_capturable,
                            None,
                            b.view,
                        )
                        .map_err(started);
                    }
                }
                _ => {}
            }
            return Ok(Step::Done(show(&pi, b.view)));
        }
        (op, None) => return Err(not_started(missing_payment(op, &b.payment_id))),
        (_, Some(pi)) => pi,
    };
    match b.op {
        Op::Reconcile
        | Op::ReconcileRefund
        | Op::Update
        | Op::Charges
        | Op::UpdateRefund
        | Op::CancelRefund => Ok(Step::Done(show(&pi, b.view))),
        Op::Create | Op::Confirm => {
            let resuming = pi.status == Status::Processing;
            if let (Some(a), false) = (&b.attach, resuming) {
                if pi.payment_method.as_deref() != Some(a.payment_method.as_str()) {
                    pi.attach(a.payment_method.clone(), a.card.clone())
                        .map_err(|r| begun(refusal(r)))?;
                    pi.extras.billing.clone_from(&a.billing);
                }
            } else if b.attach.is_none()
                && !pi
                    .payment_method
                    .as_deref()
                    .is_some_and(|pm| pm.starts_with("pm_card_"))
            {
                // (Also when resuming an abandoned confirmation: the
                // processors must be asked again with the same card.)
                // Raw card data is never kept: it must come with the
                // confirmation.
                return Err(started(ApiError::invalid(
                    "payment_method_data",
                    "payment_intent_unexpected_state",
                    "You cannot confirm this PaymentIntent without card data: card numbers are not stored, pass payment_method_data (or a test payment method) with the confirmation.",
                )));
            }
            if let Some(u) = &b.update {
                if !resuming {
                    pi.update(u).map_err(|r| begun(refusal(r)))?;
                }
            }
            confirm(store, routers, rates, pi, b).map_err(begun)
        }
        Op::Capture => {
            let (seq, amount) = pi
                .begin_capture(b.amount, b.now_ms)
                .map_err(|r| begun(refusal(r)))?;
            save(store, &pi)?;
            at_processor(&pi, Op::Capture, seq, amount, None, b.view).map_err(started)
        }
        Op::Cancel => {
            let seq = pi
                .begin_cancel(b.reason.clone(), now_secs, b.now_ms)
                .map_err(|r| begun(refusal(r)))?;
            save(store, &pi)?;
            match seq {
                None => Ok(Step::Done(show(&pi, b.view))),
                Some(seq) => at_processor(&pi, Op::Cancel, seq, pi.amount_capturable, None, b.view)
                    .map_err(started),
            }
        }
        Op::Refund => {
            // The retry of a refund whose call was abandoned (its key's
            // record went stale): the same refund, the same processor key,
            // so that the processor deduplicates it. Never a second one.
            if let Some(idem) = &b.idem {
                let first = store
                    .get::<String>(&refund_of_key(&idem.key))
                    .map_err(started)?;
                if let Some(mut refund) = first
                    .map(|id| store.get::<Refund>(&refund_key(&id)))
                    .transpose()
                    .map_err(started)?
                    .flatten()
                    .filter(|r| r.status == RefundStatus::Pending)
                {
                    refund.pending_since_ms = b.now_ms;
                    refund.awaiting = false;
                    store
                        .put(&refund_key(&refund.id), &refund)
                        .map_err(started)?;
                    return at_processor(
                        &pi,
                        Op::Refund,
                        refund.seq,
                        refund.amount,
                        Some(refund.id),
                        b.view,
                    )
                    .map_err(started);
                }
            }
            if let Some(ch) = &b.charge_id {
                if pi.paid_charge_id().as_deref() != Some(ch.as_str()) {
                    return Err(not_started(ApiError::invalid(
                        "charge",
                        "charge_not_refundable",
                        format!("Charge {ch} took no money (it is not the payment's successful charge): it cannot be refunded."),
                    )));
                }
            }
            let (amount, seq) = pi.begin_refund(b.amount).map_err(|r| begun(refusal(r)))?;
            let id = protocol::refund_id(&pi.id, seq);
            let refund = Refund {
                id: id.clone(),
                amount,
                currency: pi.currency.clone(),
                payment_intent: pi.id.clone(),
                status: RefundStatus::Pending,
                reason: b.reason.clone(),
                metadata: b.metadata.clone().unwrap_or_default(),
                created: now_secs,
                livemode: pi.livemode,
                processor: None,
                failure_reason: None,
                seq,
                charge: pi.paid_charge_id(),
                pending_since_ms: b.now_ms,
                awaiting: false,
            };
            store.put(&refund_key(&id), &refund).map_err(started)?;
            if let Some(idem) = &b.idem {
                store.put(&refund_of_key(&idem.key), &id).map_err(started)?;
            }
            save(store, &pi)?;
            at_processor(&pi, Op::Refund, seq, amount, Some(id), b.view).map_err(started)
        }
    }
}

/// A capture, void or refund at the processor that took the payment.
fn at_processor(
    pi: &PaymentIntent,
    op: Op,
    seq: u32,
    amount: u64,
    refund_id: Option<String>,
    view: View,
) -> Result<Step, ApiError> {
    let Some(p) = &pi.processor else {
        return Err(ApiError::internal("payment has no processor"));
    };
    Ok(Step::Work(Box::new(Work {
        op,
        payment_id: pi.id.clone(),
        seq,
        amount,
        currency: pi.currency.clone(),
        plan: vec![p.processor.clone()],
        capture: false,
        reference: Some(p.reference.clone()),
        payment_method: None,
        refund_id,
        attempts_left: 0,
        view,
        statement_descriptor: None,
        statement_descriptor_suffix: None,
    })))
}

/// Routes with the active rule set and starts the confirmation.
fn confirm(
    store: &impl PaymentStore,
    routers: &mut Routers,
    rates: &Rates,
    mut pi: PaymentIntent,
    b: &BeginRequest,
) -> Result<Step, ApiError> {
    let Some(rs) = &b.ruleset else {
        return Err(ApiError::internal("confirmation without a rule set"));
    };
    let router = routers.router(b.livemode, &rs.id, rs.ruleset.as_ref())?;
    // The engine's BIN is 8 digits; the payment keeps 6 of a shorter
    // number, so the card at hand gives it: the one sent now, or a test
    // payment method's.
    let routing_bin = match &b.attach {
        Some(a) => a.routing_bin.clone(),
        None => pi
            .payment_method
            .as_deref()
            .filter(|_| !b.livemode)
            .and_then(Card::from_test_payment_method)
            .map(|c| c.routing_bin()),
    };
    let payment = pi
        .routing_payment(routing_bin.as_deref())
        .map_err(|issues| {
            ApiError::issues(
                "",
                "payment_invalid",
                "the payment cannot be routed",
                issues,
            )
        })?;
    let resumed_plan = pi.pending_plan().map(<[String]>::to_vec);
    if resumed_plan.is_none() && pi.routing.attempts.len() >= MAX_ATTEMPTS {
        return Err(ApiError::refused(
            "payment_intent_unexpected_state",
            format!("This PaymentIntent has made its {MAX_ATTEMPTS} processor attempts: create a new PaymentIntent to try again."),
        ));
    }
    let seq = pi.begin_confirm(b.now_ms).map_err(refusal)?;
    if let Some(plan) = resumed_plan {
        // A takeover of an abandoned confirmation: the same plan, the same
        // processor keys, whatever the active rule set is now.
        store.put(PAYMENT, &pi)?;
        return Ok(Step::Work(confirm_work(
            &pi,
            Op::Confirm,
            seq,
            plan,
            b.view,
        )));
    }
    let verdict = router.select_with(&payment, &pi.id, rates);
    let decision = verdict.to_decision();
    pi.routing.ruleset = Some(rs.id.clone());
    pi.routing.rule = decision.rule.clone();
    pi.routing.rule_index = decision.rule_index;
    // How auth_rate chose, with the rates it saw (docs/api.md).
    pi.routing.auth_rate = verdict.auth_rate();
    if decision.action == DecisionAction::Decline {
        let (code, message) = decision
            .decline
            .as_ref()
            .map(|d| (d.code.clone(), d.message.clone()))
            .unwrap_or_else(|| ("generic_decline".to_owned(), None));
        let d = Decline::by_rule(&code, message.as_deref());
        pi.finish_confirm(Vec::new(), ConfirmResult::Declined(d.clone()));
        store.put(PAYMENT, &pi)?;
        return Ok(Step::Done(answer_of(&declined(&pi, &d, b.view))));
    }
    pi.set_pending_plan(decision.processors.clone());
    store.put(PAYMENT, &pi)?;
    Ok(Step::Work(confirm_work(
        &pi,
        Op::Confirm,
        seq,
        decision.processors,
        b.view,
    )))
}

fn confirm_work(pi: &PaymentIntent, op: Op, seq: u32, plan: Vec<String>, view: View) -> Box<Work> {
    Box::new(Work {
        op,
        payment_id: pi.id.clone(),
        seq,
        amount: pi.amount,
        currency: pi.currency.clone(),
        plan,
        capture: pi.capture_method.at_once(),
        reference: None,
        payment_method: pi.payment_method.clone(),
        refund_id: None,
        attempts_left: u32::try_from(MAX_ATTEMPTS.saturating_sub(pi.routing.attempts.len()))
            .unwrap_or(0),
        view,
        statement_descriptor: pi.extras.statement_descriptor.clone(),
        statement_descriptor_suffix: pi.extras.statement_descriptor_suffix.clone(),
    })
}

/// What is left to settle after an operation, for the mode's
/// reconciliation queue (`edge::reconcile`): kept there until settled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unsettled {
    /// The payment is `processing` (a confirmation's outcome is unknown).
    Payment(String),
    /// A refund's outcome is unknown.
    Refund(String),
    /// Reconciliation found no record at any processor and the payment
    /// failed; its first request may still arrive somewhere late.
    GivenUp(GivenUp),
}

/// Whether the payment (or one of its refunds) is unsettled now, read from
/// the stored state: what the reconciliation queue must watch (`true`) or
/// may forget (`false`). Asked after every reconciliation of an entry,
/// whatever settled it (the pass, or a client's retry before it).
pub fn unsettled_now(
    store: &impl PaymentStore,
    payment_id: &str,
    refund_id: Option<&str>,
) -> Result<Vec<(Unsettled, bool)>, ApiError> {
    if let Some(id) = refund_id {
        let pending = store
            .get::<Refund>(&refund_key(id))?
            .is_some_and(|r| r.status == RefundStatus::Pending);
        return Ok(vec![(Unsettled::Refund(id.to_owned()), pending)]);
    }
    let open = store.get::<PaymentIntent>(PAYMENT)?.is_some_and(|pi| {
        pi.status == Status::Processing
            || pi
                .pending
                .as_ref()
                .is_some_and(|p| matches!(p.op, PendingOp::Capture | PendingOp::Void))
    });
    Ok(vec![(Unsettled::Payment(payment_id.to_owned()), open)])
}

/// After `finish`: what the queue must watch (`true`) or may forget
/// (`false`), read from the stored state.
pub fn unsettled_after(
    store: &impl PaymentStore,
    f: &FinishRequest,
) -> Result<Vec<(Unsettled, bool)>, ApiError> {
    let w = &f.work;
    let refund = matches!(w.op, Op::Refund | Op::ReconcileRefund);
    let refund_id = if refund {
        match &w.refund_id {
            Some(id) => Some(id.as_str()),
            None => return Ok(Vec::new()),
        }
    } else {
        None
    };
    // An operation that settled itself leaves nothing open: no read (this
    // runs after every operation of every payment).
    let settled = match &f.result {
        WorkResult::Unknown => false,
        WorkResult::Failed { unknown, .. } => !unknown,
        WorkResult::Authorized {
            capture_pending, ..
        } => !capture_pending,
        _ => true,
    };
    if settled && !matches!(w.op, Op::Reconcile | Op::ReconcileRefund) {
        let entry = match refund_id {
            Some(id) => Unsettled::Refund(id.to_owned()),
            None => Unsettled::Payment(w.payment_id.clone()),
        };
        return Ok(vec![(entry, false)]);
    }
    let mut out = unsettled_now(store, &w.payment_id, refund_id)?;
    let open = out.first().is_some_and(|(_, open)| *open);
    if w.op == Op::Reconcile && matches!(f.result, WorkResult::NoneAvailable) && !open {
        out.push((Unsettled::GivenUp(GivenUp::of(w)), true));
    }
    Ok(out)
}

/// Step 3 of an operation: records what the processors answered and
/// answers the API's response (stored for the idempotency key).
pub fn finish(store: &impl PaymentStore, f: &FinishRequest) -> Result<Reply, ApiError> {
    let Some(mut pi) = store.get::<PaymentIntent>(PAYMENT)? else {
        return Err(ApiError::not_found(
            Some("intent"),
            "No such payment_intent.",
        ));
    };
    let w = &f.work;
    let now_secs = f.now_ms / 1000;
    // A finish for an operation that is no longer pending (a duplicate
    // after a takeover) changes nothing.
    let pending_matches = |pi: &PaymentIntent, op: PendingOp| {
        pi.pending
            .as_ref()
            .is_some_and(|p| p.op == op && p.seq == w.seq)
    };
    let answer = match w.op {
        Op::Update | Op::Charges | Op::UpdateRefund | Op::CancelRefund => {
            return Err(ApiError::internal("no processor work for this operation"))
        }
        Op::Create | Op::Confirm | Op::Reconcile => {
            if pending_matches(&pi, PendingOp::Confirm) {
                // Every attempt of this confirmation was stored as it ended
                // (this run's, and those of a run it took over).
                let recorded: Vec<Attempt> = store.get(&attempts_key(w.seq))?.unwrap_or_default();
                store.put(&attempts_key(w.seq), &Vec::<Attempt>::new())?;
                let capture_pending = matches!(
                    f.result,
                    WorkResult::Authorized {
                        capture_pending: true,
                        ..
                    }
                );
                let result = match &f.result {
                    WorkResult::Authorized { details, .. } => {
                        ConfirmResult::Authorized(details.clone())
                    }
                    WorkResult::Declined { decline } => ConfirmResult::Declined(decline.clone()),
                    WorkResult::Unknown => ConfirmResult::Unknown,
                    _ => ConfirmResult::NoneAvailable,
                };
                pi.finish_confirm(recorded, result);
                if capture_pending {
                    pi.await_capture(f.now_ms);
                }
                store.put(PAYMENT, &pi)?;
            }
            match &f.result {
                // A retrieve answers the payment, whatever it became.
                _ if w.op == Op::Reconcile => show(&pi, w.view),
                WorkResult::Declined { decline } => answer_of(&declined(&pi, decline, w.view)),
                WorkResult::NoneAvailable => answer_of(
                    &ApiError::processors_unavailable(
                        "No processor could take the payment; it was not charged.",
                    )
                    .with_payment_intent(pi.view(w.view)),
                ),
                _ => show(&pi, w.view),
            }
        }
        Op::Capture | Op::Cancel => {
            let (pending_op, what) = if w.op == Op::Capture {
                (PendingOp::Capture, "capture")
            } else {
                (PendingOp::Void, "cancellation")
            };
            let done = matches!(f.result, WorkResult::Done { .. });
            // An unknown outcome leaves the operation pending, for a retry.
            let settled = done || !matches!(f.result, WorkResult::Failed { unknown: true, .. });
            if pending_matches(&pi, pending_op) {
                if settled && w.op == Op::Capture {
                    pi.finish_capture(w.amount, done);
                } else if settled {
                    pi.finish_cancel(done, now_secs);
                }
                store.put(PAYMENT, &pi)?;
            }
            match &f.result {
                WorkResult::Failed { message, .. } => answer_of(&ApiError::processors_unavailable(
                    format!("The {what} failed: {message}"),
                )),
                _ => show(&pi, w.view),
            }
        }
        Op::Refund | Op::ReconcileRefund => {
            let id = w.refund_id.clone().unwrap_or_default();
            let key = refund_key(&id);
            let Some(mut refund) = store.get::<Refund>(&key)? else {
                return Err(ApiError::not_found(Some("id"), "No such refund."));
            };
            if refund.status == RefundStatus::Pending {
                match &f.result {
                    WorkResult::Done { reference } => {
                        refund.status = RefundStatus::Succeeded;
                        refund.processor = pi.processor.clone().map(|p| ProcessorDetails {
                            reference: reference.clone(),
                            ..p
                        });
                        pi.finish_refund(refund.amount, true);
                    }
                    WorkResult::Failed {
                        unknown: false,
                        message,
                    } => {
                        refund.status = RefundStatus::Failed;
                        refund.failure_reason = Some(message.clone());
                        pi.finish_refund(refund.amount, false);
                    }
                    // Unknown: stays pending, the amount stays reserved,
                    // until a retry or a retrieval asks the processor.
                    _ => refund.awaiting = true,
                }
                store.put(&key, &refund)?;
                store.put(PAYMENT, &pi)?;
            }
            match (&f.result, refund.status) {
                // A retrieval answers the refund, whatever it became.
                _ if w.op == Op::ReconcileRefund => ok(&refund.api()),
                (
                    WorkResult::Failed {
                        message,
                        unknown: false,
                    },
                    RefundStatus::Failed,
                ) => answer_of(&ApiError::processors_unavailable(format!(
                    "The processor refused the refund: {message}"
                ))),
                _ => ok(&refund.api()),
            }
        }
    };
    let decided = f.idem.is_some() && answer.status >= 500;
    if let Some(idem) = &f.idem {
        storage::complete(store, &idem.key, &answer)?;
    }
    Ok(Reply {
        decided,
        ..Reply::plain(answer)
    })
}

/// The stored payment as text, to tell afterwards whether an operation
/// changed it (`index_rows`). `None` when the payment does not exist.
pub fn snapshot(store: &impl PaymentStore) -> Result<Option<String>, ApiError> {
    if !store.open(false)? {
        return Ok(None);
    }
    store.doc_text(PAYMENT)
}

/// The index rows an operation changed: the payment's when its stored
/// state differs from `before`, and the refund it made or changed. Each
/// write takes the next number of the payment's counter.
pub fn index_rows(
    store: &impl PaymentStore,
    before: Option<&str>,
    b: &BeginRequest,
) -> Result<Vec<protocol::IndexRow>, ApiError> {
    use protocol::{IndexRow, IndexTable};
    if !store.open(false)? {
        return Ok(Vec::new());
    }
    let after = store.doc_text(PAYMENT)?;
    let Some(text) = after.as_deref() else {
        return Ok(Vec::new());
    };
    let refund_op = matches!(b.op, Op::Refund | Op::ReconcileRefund | Op::UpdateRefund);
    let changed = before != Some(text);
    // Most retrievals change nothing: then nothing is parsed.
    if !changed && !refund_op {
        return Ok(Vec::new());
    }
    let Ok(pi) = serde_json::from_str::<PaymentIntent>(text) else {
        return Err(ApiError::internal("stored payment is unreadable"));
    };
    let mut refunds = Vec::new();
    if refund_op {
        let id = match &b.refund_id {
            Some(id) => Some(id.clone()),
            None => (pi.refunds > 0).then(|| protocol::refund_id(&pi.id, pi.refunds)),
        };
        if let Some(r) = id
            .map(|id| store.get::<Refund>(&refund_key(&id)))
            .transpose()?
            .flatten()
        {
            refunds.push(r);
        }
    }
    if !changed && refunds.is_empty() {
        return Ok(Vec::new());
    }
    let version: u64 = store.get::<u64>("index_version")?.unwrap_or(0) + 1;
    store.put("index_version", &version)?;
    let created_ms = if pi.extras.created_ms > 0 {
        pi.extras.created_ms
    } else {
        pi.created * 1000
    };
    let metadata = |m: &std::collections::BTreeMap<String, String>| {
        serde_json::to_string(m).unwrap_or_else(|_| "{}".to_owned())
    };
    let mut rows = Vec::new();
    if changed {
        rows.push(IndexRow {
            table: IndexTable::Intents,
            id: pi.id.clone(),
            payment_intent: pi.id.clone(),
            created: pi.created,
            created_ms,
            version,
            body: serde_json::to_string(&pi.api())
                .map_err(|e| ApiError::internal(e.to_string()))?,
            charge: pi.latest_charge().map(|c| c.to_string()),
            status: pi.status.as_str().to_owned(),
            amount: pi.amount,
            currency: pi.currency.clone(),
            customer: pi.extras.customer.clone(),
            metadata: metadata(&pi.metadata),
            refunded_charge: None,
        });
    }
    for r in refunds {
        rows.push(IndexRow {
            table: IndexTable::Refunds,
            id: r.id.clone(),
            payment_intent: pi.id.clone(),
            created: r.created,
            // Refunds of one payment in their order, after the payment.
            created_ms: r.created * 1000 + u64::from(r.seq),
            version,
            body: r.to_json().to_string(),
            charge: None,
            status: r.status.as_str().to_owned(),
            amount: r.amount,
            currency: r.currency.clone(),
            customer: None,
            metadata: metadata(&r.metadata),
            refunded_charge: r.charge.clone(),
        });
    }
    Ok(rows)
}
