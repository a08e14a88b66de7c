//! One Durable Object per payment (named `<mode>:<payment id>`, SQLite
//! storage): its state machine, attempts, refunds and idempotency records,
//! and the processor calls of its operations.
//!
//! Architecture Invariant: every state transition is synchronous. A `/run`
//! is `begin` (SQL reads, a transition, SQL writes, no await), then the
//! processor calls, then `finish` (the same, no await). The processor calls
//! are the only awaits, and they come after `begin` has stored the pending
//! operation: other requests on the payment that arrive meanwhile see it
//! pending (a 409 `lock_timeout`, or a takeover once stale), and no request
//! reaches a processor before that write is durable (workerd's `fetch` from
//! an object waits for its output gate). Card numbers and CVCs arrive in the
//! `/run` message and go to the processor requests only: never to storage,
//! answers or logs.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use serde_json::Value;
use switchyard_processors::card::Card;
use switchyard_processors::decline::Decline;
use switchyard_processors::payment::{
    ConfirmResult, PaymentIntent, ProcessorDetails, Refund, RefundStatus, Refusal,
};
use switchyard_rules::{DecisionAction, Router, ValidateOptions};
use worker::{
    console_error, durable_object, DurableObject, Env, Request, Response, SqlStorage, State,
};

use super::calls::{execute, processors};
use super::{json_response, json_text_response, now_ms, store};
use crate::auth::Mode;
use crate::error::ApiError;
use crate::protocol::{
    Answer, BeginRequest, BeginResponse, FinishRequest, Op, RunRequest, Work, WorkResult,
    ATTEMPTS_HEADER, IDEM_RELEASED_HEADER, NEED_RULESET_HEADER, REPLAYED_HEADER,
    SHOULD_RETRY_HEADER,
};

thread_local! {
    /// Compiled rule sets by mode and id, in this isolate's memory (rule
    /// sets are immutable once stored, so an id always names the same
    /// router).
    static ROUTERS: RefCell<HashMap<(bool, String), Rc<Router>>> = RefCell::new(HashMap::new());
}

fn cached_router(livemode: bool, id: &str) -> Option<Rc<Router>> {
    ROUTERS.with(|m| m.borrow().get(&(livemode, id.to_owned())).cloned())
}

/// The compiled router of a rule set: from the cache, else compiled from
/// its content (which the caller must then have).
fn router_for(livemode: bool, id: &str, ruleset: Option<&Value>) -> Result<Rc<Router>, ApiError> {
    if let Some(r) = cached_router(livemode, id) {
        return Ok(r);
    }
    let Some(ruleset) = ruleset else {
        return Err(ApiError::internal("rule set not compiled and not given"));
    };
    let router = Router::from_value(ruleset, &ValidateOptions::default()).map_err(|issues| {
        ApiError::issues(
            "ruleset",
            "ruleset_invalid",
            "the active rule set is invalid",
            issues,
        )
    })?;
    let router = Rc::new(router);
    ROUTERS.with(|m| {
        let mut m = m.borrow_mut();
        if m.len() >= 64 {
            m.clear();
        }
        m.insert((livemode, id.to_owned()), router.clone());
    });
    Ok(router)
}

#[durable_object]
pub struct PaymentObject {
    sql: SqlStorage,
    env: Env,
    /// Whether the tables exist. Created in the first request's synchronous
    /// part, with its own writes, so that a new payment's object commits
    /// once rather than twice.
    ready: Cell<bool>,
}

impl DurableObject for PaymentObject {
    fn new(state: State, env: Env) -> Self {
        let sql = state.storage().sql();
        Self {
            sql,
            env,
            ready: Cell::new(false),
        }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        let path = req.path();
        let text = req.text().await.unwrap_or_default();
        if path == "/run" {
            return Ok(self.run(&text).await);
        }
        let answer = match path.as_str() {
            p if p.starts_with("/refund/") => self.get_refund(&p["/refund/".len()..]),
            _ => Err(ApiError::internal("unknown payment object call")),
        };
        Ok(match answer {
            Ok(a) => json_response(a.status, &a.body),
            Err(e) => json_response(e.status, &e.body()),
        })
    }
}

fn refusal(r: Refusal) -> ApiError {
    let mut e = if r.status == 429 {
        let mut e = ApiError::invalid("", r.code, r.message);
        e.status = 429;
        e.kind = "invalid_request_error";
        e
    } else {
        ApiError::invalid(r.param.unwrap_or(""), r.code, r.message)
    };
    if r.param.is_none() {
        e.param = None;
    }
    e
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

fn card_error_answer(pi: &PaymentIntent, d: &Decline) -> Answer {
    let mut e = ApiError::invalid("", &d.code, d.message.clone());
    e.status = 402;
    e.kind = "card_error";
    e.param = None;
    e.decline_code = Some(d.decline_code.clone());
    e.payment_intent = Some(pi.to_json());
    Answer {
        status: 402,
        body: e.body(),
    }
}

fn error_answer(e: &ApiError) -> Answer {
    Answer {
        status: e.status,
        body: e.body(),
    }
}

impl PaymentObject {
    /// One operation: begin, the processor calls, finish. The answer is the
    /// API's response (status and body), with the attempts for the front's
    /// metrics in a header.
    async fn run(&self, text: &str) -> Response {
        // The message holds card data: a parse error must not echo it.
        let Ok(RunRequest { begin: b, card }) = serde_json::from_str::<RunRequest>(text) else {
            return super::error_response(&ApiError::internal("unreadable run message"));
        };
        // Only a create makes the tables (in the same synchronous run as its
        // writes: one commit for a new payment); any other operation on an
        // object that has none is about a payment that does not exist.
        match self.tables(b.op == Op::Create) {
            Ok(true) => {}
            Ok(false) => {
                // Refused before it started: no record of the key is kept.
                let r = super::error_response(&missing_payment(b.op, &b.payment_id));
                if b.idem.is_some() {
                    let _ = r.headers().set(IDEM_RELEASED_HEADER, "true");
                }
                return r;
            }
            Err(e) => return super::error_response(&e),
        }
        let idem = b.idem.clone();
        let mode = if b.livemode { Mode::Live } else { Mode::Test };
        // 1. begin: synchronous.
        let work = match self.begin(b) {
            Err(e) => return super::error_response(&e),
            Ok(BeginResponse::NeedRuleset) => {
                let r = json_text_response(200, "{}".to_owned());
                let _ = r.headers().set(NEED_RULESET_HEADER, "true");
                return r;
            }
            Ok(BeginResponse::Done { status, body }) => return json_response(status, &body),
            Ok(BeginResponse::Refused { status, body }) => {
                let r = json_response(status, &body);
                let _ = r.headers().set(IDEM_RELEASED_HEADER, "true");
                return r;
            }
            Ok(BeginResponse::Replay { status, body }) => {
                let r = json_response(status, &body);
                let _ = r.headers().set(REPLAYED_HEADER, "true");
                if status >= 500 {
                    let _ = r.headers().set(SHOULD_RETRY_HEADER, "false");
                }
                return r;
            }
            Ok(BeginResponse::Work { work }) => work,
        };
        // 2. The processor calls: the only awaits (see the module's
        // invariant).
        let configs = processors(&self.env, mode).unwrap_or_else(|e| {
            // An operator's configuration error: no processor can be
            // called, so the operation fails without charging.
            console_error!("processor configuration: {}", e.message);
            Vec::new()
        });
        let card = card.map(Card::from_transit);
        let (attempts, result) = execute(&self.env, mode, &configs, &work, card).await;
        // 3. finish: synchronous.
        let attempts_header = (work.op != Op::Reconcile && !attempts.is_empty())
            .then(|| serde_json::to_string(&attempts).ok())
            .flatten();
        let finish = FinishRequest {
            work: *work,
            idem,
            now_ms: now_ms(),
            attempts,
            result,
        };
        let keyed = finish.idem.is_some();
        match self.finish(finish) {
            Ok(a) => {
                let r = json_response(a.status, &a.body);
                if keyed && a.status >= 500 {
                    // The outcome is decided and stored for the key: a retry
                    // would only replay it (Stripe's SDKs read this).
                    let _ = r.headers().set(SHOULD_RETRY_HEADER, "false");
                }
                if let Some(h) = attempts_header {
                    let _ = r.headers().set(ATTEMPTS_HEADER, &h);
                }
                r
            }
            Err(e) => super::error_response(&e),
        }
    }

    /// Whether the tables exist; with `create`, makes them if not.
    fn tables(&self, create: bool) -> Result<bool, ApiError> {
        if self.ready.get() {
            return Ok(true);
        }
        let unavailable = |_| ApiError::internal("payment storage is unavailable");
        if create {
            // `CREATE TABLE IF NOT EXISTS`: no need to look first.
            store::init(&self.sql).map_err(unavailable)?;
        } else if !store::exists(&self.sql).map_err(unavailable)? {
            return Ok(false);
        }
        self.ready.set(true);
        Ok(true)
    }

    /// A stored document. Reads never create the tables: an object asked
    /// about a payment that does not exist stays empty.
    fn doc<T: serde::de::DeserializeOwned>(&self, key: &str) -> Result<Option<T>, ApiError> {
        if !self.tables(false)? {
            return Ok(None);
        }
        store::get(&self.sql, key)
    }

    fn load(&self) -> Result<Option<PaymentIntent>, ApiError> {
        self.doc("payment")
    }

    fn save(&self, pi: &PaymentIntent) -> Result<(), ApiError> {
        store::put(&self.sql, "payment", pi)
    }

    fn get_refund(&self, id: &str) -> Result<Answer, ApiError> {
        match self.doc::<Refund>(&format!("refund:{id}"))? {
            Some(r) => Ok(Answer {
                status: 200,
                body: r.to_json(),
            }),
            None => Err(ApiError::not_found(
                Some("id"),
                format!("No such refund: '{id}'"),
            )),
        }
    }

    fn begin(&self, b: BeginRequest) -> Result<BeginResponse, ApiError> {
        // Before anything changes: a rule set this isolate has not compiled
        // must come with its content. (Nothing awaits between here and its
        // use, so the cache cannot lose it in between.)
        if let Some(rs) = &b.ruleset {
            if rs.ruleset.is_none() && cached_router(b.livemode, &rs.id).is_none() {
                return Ok(BeginResponse::NeedRuleset);
            }
        }
        if let Some(idem) = &b.idem {
            match store::claim(&self.sql, idem, b.now_ms) {
                Ok(store::IdemCheck::Replay(a)) => {
                    return Ok(BeginResponse::Replay {
                        status: a.status,
                        body: a.body,
                    })
                }
                Ok(store::IdemCheck::Claimed) => {}
                Err(e) => {
                    return Ok(BeginResponse::Done {
                        status: e.status,
                        body: e.body(),
                    })
                }
            }
        }
        let result = self.begin_claimed(&b);
        let (answer, started) = match result {
            Ok(BeginResponse::Work { work }) => return Ok(BeginResponse::Work { work }),
            Ok(other) => (other, true),
            Err((e, started)) => (
                BeginResponse::Done {
                    status: e.status,
                    body: e.body(),
                },
                started,
            ),
        };
        if let (Some(idem), BeginResponse::Done { status, body }) = (&b.idem, &answer) {
            if started {
                store::complete(
                    &self.sql,
                    &idem.key,
                    &Answer {
                        status: *status,
                        body: body.clone(),
                    },
                )?;
            } else {
                store::release(&self.sql, &idem.key)?;
                if let BeginResponse::Done { status, body } = answer {
                    return Ok(BeginResponse::Refused { status, body });
                }
            }
        }
        Ok(answer)
    }

    /// The operation proper. Errors carry whether the request had started
    /// executing (then its answer is stored for the idempotency key).
    fn begin_claimed(&self, b: &BeginRequest) -> Result<BeginResponse, (ApiError, bool)> {
        let started = |e: ApiError| (e, true);
        let not_started = |e: ApiError| (e, false);
        let existing = self.load().map_err(not_started)?;
        let now_secs = b.now_ms / 1000;
        let mut pi = match (b.op, existing) {
            (Op::Create, Some(pi)) => {
                // Only reachable when an abandoned create (same idempotency
                // key, hence same id) is retried: resume it.
                if !(b.confirm
                    && matches!(
                        pi.status,
                        switchyard_processors::payment::Status::RequiresConfirmation
                            | switchyard_processors::payment::Status::Processing
                    ))
                {
                    return Ok(BeginResponse::Done {
                        status: 200,
                        body: pi.to_json(),
                    });
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
                    c.capture_method.clone(),
                    c.metadata.clone(),
                    c.description.clone(),
                );
                if let Some(a) = &b.attach {
                    pi.attach(a.payment_method.clone(), a.card.clone())
                        .map_err(|r| not_started(refusal(r)))?;
                }
                if !b.confirm {
                    self.save(&pi).map_err(started)?;
                    return Ok(BeginResponse::Done {
                        status: 200,
                        body: pi.to_json(),
                    });
                }
                pi
            }
            (Op::Reconcile, Some(mut pi)) => {
                // A retrieve: reconcile a confirmation whose outcome is
                // unknown, otherwise just the payment.
                return match pi.begin_reconcile(b.now_ms) {
                    Some((seq, plan)) => {
                        self.save(&pi).map_err(started)?;
                        let mut work = self.confirm_work(&pi, seq, plan);
                        if let BeginResponse::Work { work: w } = &mut work {
                            w.op = Op::Reconcile;
                        }
                        Ok(work)
                    }
                    None => Ok(BeginResponse::Done {
                        status: 200,
                        body: pi.to_json(),
                    }),
                };
            }
            (op, None) => return Err(not_started(missing_payment(op, &b.payment_id))),
            (_, Some(pi)) => pi,
        };
        match b.op {
            Op::Reconcile => Ok(BeginResponse::Done {
                status: 200,
                body: pi.to_json(),
            }),
            Op::Create | Op::Confirm => {
                let resuming = pi.status == switchyard_processors::payment::Status::Processing;
                if let (Some(a), false) = (&b.attach, resuming) {
                    if pi.payment_method.as_deref() != Some(a.payment_method.as_str()) {
                        pi.attach(a.payment_method.clone(), a.card.clone())
                            .map_err(|r| started(refusal(r)))?;
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
                self.confirm(pi, b).map_err(started)
            }
            Op::Capture => {
                let (seq, amount) = pi
                    .begin_capture(b.amount, b.now_ms)
                    .map_err(|r| started(refusal(r)))?;
                self.save(&pi).map_err(started)?;
                self.work(&pi, Op::Capture, seq, amount, None)
                    .map_err(started)
            }
            Op::Cancel => {
                match pi
                    .begin_cancel(b.reason.clone(), now_secs, b.now_ms)
                    .map_err(|r| started(refusal(r)))?
                {
                    None => {
                        self.save(&pi).map_err(started)?;
                        Ok(BeginResponse::Done {
                            status: 200,
                            body: pi.to_json(),
                        })
                    }
                    Some(seq) => {
                        self.save(&pi).map_err(started)?;
                        self.work(&pi, Op::Cancel, seq, pi.amount_capturable, None)
                            .map_err(started)
                    }
                }
            }
            Op::Refund => {
                let (amount, seq) = pi.begin_refund(b.amount).map_err(|r| started(refusal(r)))?;
                let id = crate::protocol::refund_id(&pi.id, seq);
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
                };
                store::put(&self.sql, &format!("refund:{id}"), &refund).map_err(started)?;
                self.save(&pi).map_err(started)?;
                self.work(&pi, Op::Refund, seq, amount, Some(id))
                    .map_err(started)
            }
        }
    }

    fn work(
        &self,
        pi: &PaymentIntent,
        op: Op,
        seq: u32,
        amount: u64,
        refund_id: Option<String>,
    ) -> Result<BeginResponse, ApiError> {
        let Some(p) = &pi.processor else {
            return Err(ApiError::internal("payment has no processor"));
        };
        Ok(BeginResponse::Work {
            work: Box::new(Work {
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
            }),
        })
    }

    /// Routes with the active rule set and starts the confirmation.
    fn confirm(&self, mut pi: PaymentIntent, b: &BeginRequest) -> Result<BeginResponse, ApiError> {
        let Some(rs) = &b.ruleset else {
            return Err(ApiError::internal("confirmation without a rule set"));
        };
        let router = router_for(b.livemode, &rs.id, rs.ruleset.as_ref())?;
        let payment = pi.routing_payment().map_err(|issues| {
            ApiError::issues(
                "",
                "payment_invalid",
                "the payment cannot be routed",
                issues,
            )
        })?;
        let resumed_plan = pi.pending_plan().map(<[String]>::to_vec);
        let seq = pi.begin_confirm(b.now_ms).map_err(refusal)?;
        if let Some(plan) = resumed_plan {
            // A takeover of an abandoned confirmation: the same plan, the
            // same processor keys, whatever the active rule set is now.
            self.save(&pi)?;
            return Ok(self.confirm_work(&pi, seq, plan));
        }
        let decision = router.decide(&payment, &pi.id);
        pi.routing.ruleset = Some(rs.id.clone());
        pi.routing.rule = decision.rule.clone();
        pi.routing.rule_index = decision.rule_index;
        if decision.action == DecisionAction::Decline {
            let (code, message) = decision
                .decline
                .as_ref()
                .map(|d| (d.code.clone(), d.message.clone()))
                .unwrap_or_else(|| ("generic_decline".to_owned(), None));
            let d = Decline::by_rule(&code, message.as_deref());
            pi.finish_confirm(Vec::new(), ConfirmResult::Declined(d.clone()));
            self.save(&pi)?;
            let a = card_error_answer(&pi, &d);
            return Ok(BeginResponse::Done {
                status: a.status,
                body: a.body,
            });
        }
        pi.set_pending_plan(decision.processors.clone());
        self.save(&pi)?;
        Ok(self.confirm_work(&pi, seq, decision.processors.clone()))
    }

    fn confirm_work(&self, pi: &PaymentIntent, seq: u32, plan: Vec<String>) -> BeginResponse {
        BeginResponse::Work {
            work: Box::new(Work {
                op: Op::Confirm,
                payment_id: pi.id.clone(),
                seq,
                amount: pi.amount,
                currency: pi.currency.clone(),
                plan,
                capture: pi.capture_method != "manual",
                reference: None,
                payment_method: pi.payment_method.clone(),
                refund_id: None,
            }),
        }
    }

    fn finish(&self, f: FinishRequest) -> Result<Answer, ApiError> {
        let Some(mut pi) = self.load()? else {
            return Err(ApiError::not_found(
                Some("intent"),
                "No such payment_intent.",
            ));
        };
        let w = &f.work;
        let now_secs = f.now_ms / 1000;
        // A finish for an operation that is no longer pending (a duplicate
        // after a takeover) changes nothing.
        let pending_matches = |op: &str| {
            pi.pending
                .as_ref()
                .is_some_and(|p| p.op == op && p.seq == w.seq)
        };
        let answer = match w.op {
            Op::Create | Op::Confirm | Op::Reconcile => {
                if pending_matches("confirm") {
                    let result = match &f.result {
                        WorkResult::Authorized { details } => {
                            ConfirmResult::Authorized(details.clone())
                        }
                        WorkResult::Declined { decline } => {
                            ConfirmResult::Declined(decline.clone())
                        }
                        WorkResult::Unknown => ConfirmResult::Unknown,
                        _ => ConfirmResult::NoneAvailable,
                    };
                    pi.finish_confirm(f.attempts.clone(), result);
                    self.save(&pi)?;
                }
                match (&f.result, &pi.last_payment_error) {
                    // A retrieve answers the payment, whatever it became.
                    _ if w.op == Op::Reconcile => Answer {
                        status: 200,
                        body: pi.to_json(),
                    },
                    (WorkResult::Declined { decline }, _) => card_error_answer(&pi, decline),
                    (WorkResult::NoneAvailable, _) => {
                        let mut e = ApiError::processors_unavailable(
                            "No processor could take the payment; it was not charged.",
                        );
                        e.payment_intent = Some(pi.to_json());
                        error_answer(&e)
                    }
                    _ => Answer {
                        status: 200,
                        body: pi.to_json(),
                    },
                }
            }
            Op::Capture => {
                let ok = matches!(f.result, WorkResult::Done { .. });
                if pending_matches("capture") {
                    if ok || !matches!(f.result, WorkResult::Failed { unknown: true, .. }) {
                        pi.finish_capture(w.amount, ok);
                    }
                    self.save(&pi)?;
                }
                match &f.result {
                    WorkResult::Failed { message, .. } => error_answer(
                        &ApiError::processors_unavailable(format!("The capture failed: {message}")),
                    ),
                    _ => Answer {
                        status: 200,
                        body: pi.to_json(),
                    },
                }
            }
            Op::Cancel => {
                let ok = matches!(f.result, WorkResult::Done { .. });
                if pending_matches("void") {
                    if ok || !matches!(f.result, WorkResult::Failed { unknown: true, .. }) {
                        pi.finish_cancel(ok, now_secs);
                    }
                    self.save(&pi)?;
                }
                match &f.result {
                    WorkResult::Failed { message, .. } => {
                        error_answer(&ApiError::processors_unavailable(format!(
                            "The cancellation failed: {message}"
                        )))
                    }
                    _ => Answer {
                        status: 200,
                        body: pi.to_json(),
                    },
                }
            }
            Op::Refund => {
                let id = w.refund_id.clone().unwrap_or_default();
                let key = format!("refund:{id}");
                let Some(mut refund) = store::get::<Refund>(&self.sql, &key)? else {
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
                        // Unknown: stays pending, the amount stays reserved.
                        _ => {}
                    }
                    store::put(&self.sql, &key, &refund)?;
                    self.save(&pi)?;
                }
                match (&f.result, refund.status) {
                    (
                        WorkResult::Failed {
                            message,
                            unknown: false,
                        },
                        RefundStatus::Failed,
                    ) => {
                        let mut e = ApiError::processors_unavailable(format!(
                            "The processor refused the refund: {message}"
                        ));
                        e.payment_intent = None;
                        error_answer(&e)
                    }
                    _ => Answer {
                        status: 200,
                        body: refund.to_json(),
                    },
                }
            }
        };
        if let Some(idem) = &f.idem {
            store::complete(&self.sql, &idem.key, &answer)?;
        }
        Ok(answer)
    }
}
