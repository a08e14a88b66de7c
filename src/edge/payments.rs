//! The payments API in the front worker: read the parameters and the
//! active rule set, and send the operation to the payment's Durable Object,
//! which runs it (`/run`: begin, processor calls, finish).

use std::rc::Rc;

use futures_util::future::join;
use serde_json::Value;
use switchyard_processors::adapter::processor_idempotency_key;
use switchyard_processors::card::{Card, CardInTransit};
use switchyard_processors::extras::{payment_of_charge, Update};
use switchyard_processors::{adapter_for, Call as PCall, Delivery, ProcessorConfig};
use worker::{console_error, Env, Response, Stub};

use super::index_do;
use super::keys_do;
use super::metrics;
use super::objects::{call_raw, stub, Binding};
use super::request::Call;
use super::rulesets;
use super::runtime::{answer_response, json_response, json_text_response, now_ms, random_token};
use super::transport::EdgeTransport;
use crate::auth::{KeyKind, Mode};
use crate::error::ApiError;
use crate::form;
use crate::listing;
use crate::params::{self, RefundOf};
use crate::payment::Transport;
use crate::protocol::{
    self, Answer, Attach, BeginRequest, Op, RulesetRef, RunMessage, RunOutcome, REPLAYED_HEADER,
    SHOULD_RETRY_HEADER,
};

fn payment_stub(call: &Call, env: &Env, mode: Mode, payment_id: &str) -> Result<Stub, ApiError> {
    call.touched
        .stub(env, Binding::Payments, mode, Some(payment_id))
}

fn new_pm_id() -> Result<String, ApiError> {
    Ok(format!("pm_{}", random_token(24)?))
}

/// `params` take an infallible id maker, called only when card data is
/// given: the id is drawn then, and a failure of the random source (ids
/// come from it only) fails the request.
fn with_pm_id<T>(
    f: impl FnOnce(&mut dyn FnMut() -> String) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    let mut failed = None;
    let out = f(&mut || {
        new_pm_id().unwrap_or_else(|e| {
            failed = Some(e);
            String::new()
        })
    });
    match failed {
        Some(e) => Err(e),
        None => out,
    }
}

/// An operation of a POST: its idempotency key, and the view its body's
/// `expand[]` asks for (a payment's answers only read it).
fn begin(op: Op, id: &str, mode: Mode, call: &Call) -> Result<BeginRequest, ApiError> {
    let mut b = BeginRequest::new(op, id.to_owned(), mode.livemode(), now_ms(), call.idem()?);
    b.view = params::pi_view(&call.body)?;
    Ok(b)
}

pub(crate) async fn create(call: &Call, env: &Env) -> Result<Response, ApiError> {
    let mode = call.principal.mode;
    let p = with_pm_id(|pm| params::create(&call.body, mode == Mode::Test, pm))?;
    // Raw card data exists only for this request: it must be used now.
    let raw_card = p
        .card
        .as_ref()
        .is_some_and(|c| !c.payment_method.starts_with("pm_card_"));
    if raw_card && !p.confirm {
        return Err(ApiError::invalid(
            "payment_method_data",
            "parameter_invalid",
            "Card data is never stored: pass payment_method_data together with confirm=true, or with the confirmation.",
        ));
    }
    let idem = call.idem()?;
    // A new id; with an Idempotency-Key the key index may answer the id the
    // key's first request made (`run`).
    let payment_id = protocol::payment_id_from_random(random_token(protocol::ID_LEN)?.as_bytes());
    let confirm = p.confirm;
    let (b, card) = BeginRequest::create(
        p,
        random_token(24)?,
        payment_id,
        mode.livemode(),
        now_ms(),
        idem,
    );
    run(call, env, mode, b, confirm, card).await
}

/// The reference to the active rule set that `begin` carries: its id, and
/// its content only when this isolate has just fetched it (the payment
/// object has then most likely not compiled it either). The content is
/// kept for a resend if the object asks for it.
fn ruleset_ref(active: Option<rulesets::Active>) -> (Option<RulesetRef>, Option<Rc<Value>>) {
    match active {
        None => (None, None),
        Some(a) => (
            Some(RulesetRef {
                id: a.id,
                ruleset: a.fetched.then(|| Value::clone(&a.ruleset)),
            }),
            Some(a.ruleset),
        ),
    }
}

fn check_payment_id(id: &str) -> Result<(), ApiError> {
    if protocol::is_payment_id(id) {
        Ok(())
    } else {
        Err(ApiError::no_such("intent", "payment_intent", id))
    }
}

pub(crate) async fn confirm(call: &Call, env: &Env, id: &str) -> Result<Response, ApiError> {
    check_payment_id(id)?;
    let mode = call.principal.mode;
    let p = with_pm_id(|pm| params::confirm(&call.body, mode == Mode::Test, pm))?;
    let mut b = begin(Op::Confirm, id, mode, call)?;
    b.attach = p.card.as_ref().map(Attach::of);
    b.update = Some(p.update);
    client_view(call, &mut b, p.client_secret)?;
    run(call, env, mode, b, true, p.card.map(|c| c.card)).await
}

pub(crate) async fn capture(call: &Call, env: &Env, id: &str) -> Result<Response, ApiError> {
    check_payment_id(id)?;
    let mode = call.principal.mode;
    let amount = params::capture(&call.body)?;
    let mut b = begin(Op::Capture, id, mode, call)?;
    b.amount = amount;
    run(call, env, mode, b, false, None).await
}

pub(crate) async fn cancel(call: &Call, env: &Env, id: &str) -> Result<Response, ApiError> {
    check_payment_id(id)?;
    let mode = call.principal.mode;
    let reason = params::cancel(&call.body)?;
    let mut b = begin(Op::Cancel, id, mode, call)?;
    b.reason = reason;
    run(call, env, mode, b, false, None).await
}

pub(crate) async fn refund(call: &Call, env: &Env) -> Result<Response, ApiError> {
    let mode = call.principal.mode;
    let p = params::refund(&call.body)?;
    let (payment_id, param, named) = match &p.payment_intent {
        RefundOf::PaymentIntent(pi) => (
            protocol::is_payment_id(pi).then(|| pi.clone()),
            "payment_intent",
            ("payment_intent", pi),
        ),
        RefundOf::Charge(ch) => (payment_of_charge(ch), "charge", ("charge", ch)),
    };
    let Some(payment_id) = payment_id else {
        return Err(ApiError::no_such_in(param, named.0, named.1));
    };
    let mut b = begin(Op::Refund, &payment_id, mode, call)?;
    b.charge_id = match p.payment_intent {
        RefundOf::Charge(ch) => Some(ch),
        RefundOf::PaymentIntent(_) => None,
    };
    b.amount = p.amount;
    b.reason = p.reason;
    b.metadata = Some(p.metadata);
    run(call, env, mode, b, false, None).await
}

pub(crate) async fn retrieve(call: &Call, env: &Env, id: &str) -> Result<Response, ApiError> {
    check_payment_id(id)?;
    let mode = call.principal.mode;
    let q = form::parse_form(call.query.as_deref().unwrap_or(""))?;
    form::only_keys(&q, "", params::RETRIEVE_PARAMS)?;
    // A payment left `processing` (a processor's answer was lost) is
    // reconciled here: its processors are asked what became of the calls.
    let mut b = BeginRequest::new(
        Op::Reconcile,
        id.to_owned(),
        mode.livemode(),
        now_ms(),
        None,
    );
    b.view = params::pi_view(&q)?;
    client_view(call, &mut b, form::param_str(&q, "client_secret")?)?;
    run(call, env, mode, b, false, None).await
}

/// A client secret given is checked by the payment's object, whatever the
/// key. A publishable key needs one, sees the client-safe fields, and
/// expands nothing.
fn client_view(call: &Call, b: &mut BeginRequest, secret: Option<String>) -> Result<(), ApiError> {
    if call.principal.kind == KeyKind::Publishable {
        if secret.is_none() {
            return Err(ApiError::missing("client_secret"));
        }
        if b.view.expand_charge {
            return Err(ApiError::invalid(
                "expand",
                "parameter_invalid",
                "A publishable key cannot expand latest_charge.",
            ));
        }
        b.view.client = true;
    }
    b.client_secret = secret;
    Ok(())
}

/// `POST /v1/payment_intents/:id`: metadata, description, and before
/// confirmation amount, currency and capture method.
pub(crate) async fn update(call: &Call, env: &Env, id: &str) -> Result<Response, ApiError> {
    check_payment_id(id)?;
    let mode = call.principal.mode;
    let u = params::update(&call.body)?;
    let mut b = begin(Op::Update, id, mode, call)?;
    b.update = Some(u);
    run(call, env, mode, b, false, None).await
}

/// A read at a payment's object (its Charges or its Refunds), answered
/// as it comes.
/// (An error of the object is the API's response as it is: `Err`.)
async fn read_at(
    call: &Call,
    env: &Env,
    b: BeginRequest,
) -> Result<Result<Value, Response>, ApiError> {
    let mode = call.principal.mode;
    let stub = payment_stub(call, env, mode, &b.payment_id)?;
    match run_once(&stub, &b, None).await? {
        Ran::Outcome(RunOutcome::Answered(a)) if a.status == 200 => {
            serde_json::from_str(a.body.get())
                .map(Ok)
                .map_err(|e| ApiError::internal(e.to_string()))
        }
        Ran::Outcome(RunOutcome::Answered(a)) => Ok(Err(answer_response(Answer {
            status: a.status,
            body: a.body,
        }))),
        Ran::Outcome(RunOutcome::NeedRuleset) => Err(ApiError::internal("unexpected answer")),
        Ran::Failed(r) => Ok(Err(r)),
    }
}

/// `GET /v1/charges/:id`.
pub(crate) async fn retrieve_charge(
    call: &Call,
    env: &Env,
    id: &str,
) -> Result<Response, ApiError> {
    expand_only(call.query.as_deref())?;
    let Some(pi) = payment_of_charge(id) else {
        return Err(ApiError::no_such("id", "charge", id));
    };
    let mode = call.principal.mode;
    let mut b = BeginRequest::new(Op::Charges, pi, mode.livemode(), now_ms(), None);
    b.charge_id = Some(id.to_owned());
    Ok(match read_at(call, env, b).await? {
        Ok(v) => json_response(200, &v),
        Err(r) => r,
    })
}

/// `GET /v1/charges?payment_intent=`: a payment's Charges, newest first.
pub(crate) async fn list_charges(call: &Call, env: &Env) -> Result<Response, ApiError> {
    let (pi, r) = listing::charges(call.query.as_deref())?;
    if !protocol::is_payment_id(&pi) {
        return Ok(json_response(
            200,
            &serde_json::json!({"object": "list", "data": [], "has_more": false, "url": "/v1/charges"}),
        ));
    }
    let mode = call.principal.mode;
    let b = BeginRequest::new(Op::Charges, pi, mode.livemode(), now_ms(), None);
    let all = match read_at(call, env, b).await? {
        Ok(v) => v,
        Err(r) => return Ok(r),
    };
    let items = all["data"].as_array().cloned().unwrap_or_default();
    let (data, more) = listing::page_in_memory(items, &r)?;
    Ok(json_response(
        200,
        &serde_json::json!({"object": "list", "data": data, "has_more": more, "url": "/v1/charges"}),
    ))
}

/// `POST /v1/refunds/:id` (metadata) and `POST /v1/refunds/:id/cancel`.
pub(crate) async fn change_refund(
    call: &Call,
    env: &Env,
    id: &str,
    cancel: bool,
) -> Result<Response, ApiError> {
    let Some(pi) = protocol::payment_of_refund(id) else {
        return Err(ApiError::no_such("id", "refund", id));
    };
    let mode = call.principal.mode;
    let op = if cancel {
        Op::CancelRefund
    } else {
        Op::UpdateRefund
    };
    let update = if cancel {
        form::only_keys(&call.body, "", params::EXPAND_ONLY)?;
        params::expand(&call.body, &[])?;
        None
    } else {
        let (metadata, clear_metadata) = params::refund_update(&call.body)?;
        Some(Update {
            metadata,
            clear_metadata,
            ..Update::default()
        })
    };
    let mut b = begin(op, &pi, mode, call)?;
    b.refund_id = Some(id.to_owned());
    b.update = update;
    run(call, env, mode, b, false, None).await
}

/// A query that may carry only `expand[]`, and nothing expandable.
fn expand_only(query: Option<&str>) -> Result<(), ApiError> {
    let q = form::parse_form(query.unwrap_or(""))?;
    form::only_keys(&q, "", params::EXPAND_ONLY)?;
    params::expand(&q, &[]).map(|_| ())
}

pub(crate) async fn retrieve_refund(
    call: &Call,
    env: &Env,
    id: &str,
) -> Result<Response, ApiError> {
    expand_only(call.query.as_deref())?;
    let Some(pi) = protocol::payment_of_refund(id) else {
        return Err(ApiError::no_such("id", "refund", id));
    };
    // A refund whose outcome is unknown (or whose call was abandoned) is
    // settled here: the processor is asked about it by its own key.
    let mode = call.principal.mode;
    let mut b = BeginRequest::new(Op::ReconcileRefund, pi, mode.livemode(), now_ms(), None);
    b.refund_id = Some(id.to_owned());
    run(call, env, mode, b, false, None).await
}

/// Settles a `processing` payment or a refund of unknown outcome at its
/// object (as a retrieval does), for reconciliation: the status it has now.
pub(crate) async fn reconcile_at_object(
    env: &Env,
    mode: Mode,
    id: &str,
    refund: bool,
) -> Result<String, ApiError> {
    let (op, payment_id) = if refund {
        match protocol::payment_of_refund(id) {
            Some(pi) => (Op::ReconcileRefund, pi),
            None => return Err(ApiError::internal("not a refund id")),
        }
    } else {
        (Op::Reconcile, id.to_owned())
    };
    let mut b = BeginRequest::new(op, payment_id, mode.livemode(), now_ms(), None);
    if refund {
        b.refund_id = Some(id.to_owned());
    }
    b.settle_follow_ups = true;
    let stub = stub(env, Binding::Payments, mode, Some(&b.payment_id))?;
    match run_once(&stub, &b, None).await? {
        Ran::Outcome(RunOutcome::Answered(a)) => {
            if let Err(e) = index_do::put(env, mode, &a.index).await {
                console_error!("index not written: {}", e.message);
            }
            let v: Value = serde_json::from_str(a.body.get()).unwrap_or_default();
            // A payment or a refund, or an error about one (a capture sent
            // again and still unanswered): its status, or "error".
            let status = v["status"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| "error".to_owned());
            Ok(if a.status == 200 {
                status
            } else {
                format!("error ({status})")
            })
        }
        Ran::Outcome(RunOutcome::NeedRuleset) => Err(ApiError::internal("unexpected answer")),
        Ran::Failed(_) => Err(ApiError::internal("the payment object failed")),
    }
}

/// The object's answer to `/run`: its outcome, or (not a 200) an error of
/// the object itself, which is the API's response as it is.
enum Ran {
    Outcome(RunOutcome),
    Failed(Response),
}

async fn run_once(
    stub: &Stub,
    b: &BeginRequest,
    card: Option<&CardInTransit>,
) -> Result<Ran, ApiError> {
    let a = call_raw(stub, "/run", Some(&RunMessage { begin: b, card })).await?;
    if a.status != 200 {
        return Ok(Ran::Failed(json_text_response(a.status, a.text)));
    }
    serde_json::from_str(&a.text)
        .map(Ran::Outcome)
        .map_err(|e| ApiError::internal(format!("unreadable payment object answer: {e}")))
}

/// One operation at the payment's object, which does begin → processors →
/// finish. `route`: a confirmation, which routes with the active rule set.
async fn run(
    call: &Call,
    env: &Env,
    mode: Mode,
    mut b: BeginRequest,
    route: bool,
    card: Option<Card>,
) -> Result<Response, ApiError> {
    // The key's binding in the mode's key index, and for a confirmation the
    // active rule set: two independent reads, made together.
    // A create's key is bound with its new payment id: a retry of it, even
    // after a crash, gets the first request's payment (for 24 hours).
    let proposed = (b.op == Op::Create).then(|| b.payment_id.clone());
    let bind = async {
        match &b.idem {
            Some(idem) => keys_do::bind(env, mode, idem, proposed.as_deref(), &call.touched).await,
            None => Ok(None),
        }
    };
    let active = async {
        if route {
            rulesets::active(env, mode, &b.payment_id, &call.touched)
                .await
                .map(Some)
        } else {
            Ok(None)
        }
    };
    let (bound, active) = join(bind, active).await;
    if let (Op::Create, Some(first)) = (b.op, bound?) {
        b.payment_id = first;
    }
    let (ruleset, content) = ruleset_ref(active?);
    b.ruleset = ruleset;
    let stub = payment_stub(call, env, mode, &b.payment_id)?;
    let card = card.map(Card::into_transit);
    let mut ran = run_once(&stub, &b, card.as_ref()).await?;
    if let Ran::Outcome(RunOutcome::NeedRuleset) = ran {
        if let (Some(rs), Some(content)) = (b.ruleset.as_mut(), content) {
            rs.ruleset = Some(Value::clone(&content));
            ran = run_once(&stub, &b, card.as_ref()).await?;
        }
    }
    let answer = match ran {
        Ran::Failed(response) => return Ok(response),
        Ran::Outcome(RunOutcome::NeedRuleset) => {
            return Err(ApiError::internal(
                "the payment object could not get the rule set",
            ))
        }
        Ran::Outcome(RunOutcome::Answered(a)) => a,
    };
    if answer.key_released {
        // Refused before it started: the key is free again, here too.
        if let Some(idem) = &b.idem {
            keys_do::release(env, mode, idem).await?;
        }
    }
    // Metrics and the index are written after the response, off the
    // payment's path.
    if let Some(facts) = &answer.facts {
        metrics::record(&call.ctx, env, mode, facts, &answer.attempts);
    }
    if !answer.index.is_empty() {
        let env = env.clone();
        let rows = answer.index;
        call.ctx.wait_until(async move {
            if let Err(e) = index_do::put(&env, mode, &rows).await {
                console_error!("index not written: {}", e.message);
            }
        });
    }
    let r = answer_response(Answer {
        status: answer.status,
        body: answer.body,
    });
    if answer.replayed {
        let _ = r.headers().set(REPLAYED_HEADER, "true");
    }
    if answer.decided {
        // The outcome is decided and stored for the key: a retry would only
        // replay it (Stripe's SDKs read this).
        let _ = r.headers().set(SHOULD_RETRY_HEADER, "false");
    }
    Ok(r)
}

/// A sandbox processor called directly (test mode): one authorization in
/// the sandbox's own wire format and its answer as the sandbox gave it, with
/// none of the payment's machinery (no rule set, no payment object, no
/// state). The same request body as a payment; the benchmark's baseline for
/// "the latency the worker adds over calling the sandbox directly".
pub(crate) async fn sandbox_direct(
    env: &Env,
    cfg: &ProcessorConfig,
    call: &Call,
) -> Result<Response, ApiError> {
    let p = with_pm_id(|pm| params::create(&call.body, true, pm))?;
    let Some(card) = p.card.map(|c| c.card) else {
        return Err(ApiError::missing("payment_method"));
    };
    let Some(adapter) = adapter_for(cfg, cfg.credentials.as_ref()) else {
        return Err(ApiError::internal("no adapter for a sandbox processor"));
    };
    let reference = format!("direct_{}", random_token(protocol::ID_LEN)?);
    let key = processor_idempotency_key(&reference, "authorize", 1, &cfg.id);
    let pcall = PCall::Authorize {
        key: &key,
        payment_id: &reference,
        amount: p.amount,
        currency: &p.currency,
        capture: p.capture_method.at_once(),
        card: &card.secret,
        facts: &card.facts,
        descriptor: Default::default(),
    };
    let transport = EdgeTransport {
        env,
        mode: Mode::Test,
    };
    match transport
        .send(cfg, adapter.build(&pcall), adapter.timeout_ms())
        .await
    {
        Delivery::Answered(r) => Ok(json_text_response(r.status, r.body)),
        Delivery::NotSent(reason) | Delivery::Lost(reason) => Err(
            ApiError::processors_unavailable(format!("The sandbox did not answer: {reason}")),
        ),
    }
}
