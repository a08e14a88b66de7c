//! The payments API in the front worker: read the parameters and the
//! active rule set, and send the operation to the payment's Durable Object,
//! which runs it (`/run`: begin, processor calls, finish).

use std::rc::Rc;

use serde::Serialize;
use serde_json::Value;
use switchyard_processors::adapter::processor_idempotency_key;
use switchyard_processors::card::{Card, CardInTransit};
use switchyard_processors::payment::Attempt;
use switchyard_processors::{adapter_for, Call as PCall, Delivery, ProcessorConfig};
use worker::{Env, Method, Request, RequestInit, Response, Stub};

use futures_util::future::join;

use super::calls::send;
use super::keys_do;
use super::{now_ms, random_token, rulesets, Call};
use crate::auth::Mode;
use crate::error::ApiError;
use crate::params;
use crate::protocol::{
    self, Answer, Attach, BeginRequest, CreateFields, Idem, Op, RulesetRef, RunMessage,
    ATTEMPTS_HEADER, IDEM_RELEASED_HEADER, NEED_RULESET_HEADER, REPLAYED_HEADER,
    SHOULD_RETRY_HEADER,
};

pub(crate) fn idem_of(call: &Call) -> Result<Option<Idem>, ApiError> {
    let Some(key) = call.header("idempotency-key") else {
        return Ok(None);
    };
    if key.is_empty() || key.len() > 255 {
        return Err(ApiError::invalid(
            "Idempotency-Key",
            "idempotency_key_invalid",
            "Idempotency-Key must be 1 to 255 characters long.",
        ));
    }
    let params = params::without_card_secrets(&call.body);
    Ok(Some(Idem {
        key,
        fingerprint: protocol::fingerprint(call.method.as_ref(), &call.path, &params),
    }))
}

fn payment_stub(env: &Env, mode: Mode, payment_id: &str) -> Result<Stub, ApiError> {
    let ns = env.durable_object("PAYMENTS")?;
    Ok(ns
        .id_from_name(&format!("{}:{payment_id}", mode.as_str()))?
        .get_stub()?)
}

/// A call to a Durable Object: a JSON body POSTed (none: a GET) to `path`.
async fn do_fetch<Req: Serialize>(
    stub: &Stub,
    path: &str,
    body: Option<&Req>,
) -> Result<Response, ApiError> {
    let mut init = RequestInit::new();
    match body {
        Some(b) => {
            let text = serde_json::to_string(b).map_err(|e| ApiError::internal(e.to_string()))?;
            init.with_method(Method::Post).with_body(Some(text.into()));
        }
        None => {
            init.with_method(Method::Get);
        }
    }
    let req = Request::new_with_init(&format!("https://object{path}"), &init)?;
    Ok(stub.fetch_with_request(req).await?)
}

/// A JSON call to a Durable Object: its status and answer text.
async fn do_call_raw<Req: Serialize>(
    stub: &Stub,
    path: &str,
    body: Option<&Req>,
) -> Result<RawAnswer, ApiError> {
    let mut resp = do_fetch(stub, path, body).await?;
    let status = resp.status_code();
    let text = resp.text().await?;
    Ok(RawAnswer { status, text })
}

/// A JSON call to a Durable Object: its status and parsed JSON answer.
pub(crate) async fn do_call<Req: Serialize>(
    stub: &Stub,
    path: &str,
    body: Option<&Req>,
) -> Result<Answer, ApiError> {
    let raw = do_call_raw(stub, path, body).await?;
    let body: Value = serde_json::from_str(&raw.text)
        .map_err(|e| ApiError::internal(format!("unreadable object answer: {e}")))?;
    Ok(Answer {
        status: raw.status,
        body,
    })
}

/// An object's answer as it came: the payment object's answers are the
/// API's responses, passed on without being parsed and written again.
pub(crate) struct RawAnswer {
    status: u16,
    text: String,
}

fn raw_response(a: RawAnswer) -> Response {
    super::json_text_response(a.status, a.text)
}

fn new_pm_id() -> String {
    format!("pm_{}", random_token(24))
}

fn attach_of(card: &Option<params::CardGiven>) -> Option<Attach> {
    card.as_ref().map(|c| Attach {
        payment_method: c.payment_method.clone(),
        card: c.card.facts.clone(),
    })
}

fn empty_begin(op: Op, payment_id: String, mode: Mode, idem: Option<Idem>) -> BeginRequest {
    BeginRequest {
        op,
        payment_id,
        livemode: mode.livemode(),
        now_ms: now_ms(),
        idem,
        create: None,
        attach: None,
        confirm: false,
        ruleset: None,
        amount: None,
        reason: None,
        metadata: None,
        refund_id: None,
    }
}

pub(crate) async fn create(call: &Call, env: &Env) -> Result<Response, ApiError> {
    let mode = call.principal.mode;
    let p = params::create(&call.body, mode == Mode::Test, &mut new_pm_id)?;
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
    let idem = idem_of(call)?;
    let payment_id = match &idem {
        Some(i) => protocol::payment_id_for_key(mode.as_str(), &i.key),
        None => protocol::payment_id_from_random(random_token(protocol::ID_LEN).as_bytes()),
    };
    let mut b = empty_begin(Op::Create, payment_id.clone(), mode, idem);
    b.create = Some(CreateFields {
        amount: p.amount,
        currency: p.currency.clone(),
        capture_method: p.capture_method.clone(),
        metadata: p.metadata.clone(),
        description: p.description.clone(),
    });
    b.attach = attach_of(&p.card);
    b.confirm = p.confirm;
    run(call, env, mode, b, p.confirm, p.card.map(|c| c.card)).await
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
        Err(ApiError::not_found(
            Some("intent"),
            format!(
                "No such payment_intent: '{}'",
                id.chars().take(64).collect::<String>()
            ),
        ))
    }
}

pub(crate) async fn confirm(call: &Call, env: &Env, id: &str) -> Result<Response, ApiError> {
    check_payment_id(id)?;
    let mode = call.principal.mode;
    let card = params::confirm(&call.body, mode == Mode::Test, &mut new_pm_id)?;
    let mut b = empty_begin(Op::Confirm, id.to_owned(), mode, idem_of(call)?);
    b.attach = attach_of(&card);
    run(call, env, mode, b, true, card.map(|c| c.card)).await
}

pub(crate) async fn capture(call: &Call, env: &Env, id: &str) -> Result<Response, ApiError> {
    check_payment_id(id)?;
    let mode = call.principal.mode;
    let amount = params::capture(&call.body)?;
    let mut b = empty_begin(Op::Capture, id.to_owned(), mode, idem_of(call)?);
    b.amount = amount;
    run(call, env, mode, b, false, None).await
}

pub(crate) async fn cancel(call: &Call, env: &Env, id: &str) -> Result<Response, ApiError> {
    check_payment_id(id)?;
    let mode = call.principal.mode;
    let reason = params::cancel(&call.body)?;
    let mut b = empty_begin(Op::Cancel, id.to_owned(), mode, idem_of(call)?);
    b.reason = reason;
    run(call, env, mode, b, false, None).await
}

pub(crate) async fn refund(call: &Call, env: &Env) -> Result<Response, ApiError> {
    let mode = call.principal.mode;
    let p = params::refund(&call.body)?;
    if !protocol::is_payment_id(&p.payment_intent) {
        return Err(ApiError::invalid(
            "payment_intent",
            "resource_missing",
            format!(
                "No such payment_intent: '{}'",
                p.payment_intent.chars().take(64).collect::<String>()
            ),
        ));
    }
    let mut b = empty_begin(Op::Refund, p.payment_intent.clone(), mode, idem_of(call)?);
    b.amount = p.amount;
    b.reason = p.reason;
    b.metadata = Some(p.metadata);
    run(call, env, mode, b, false, None).await
}

pub(crate) async fn retrieve(call: &Call, env: &Env, id: &str) -> Result<Response, ApiError> {
    check_payment_id(id)?;
    let mode = call.principal.mode;
    // A payment left `processing` (a processor's answer was lost) is
    // reconciled here: its processors are asked what became of the calls.
    let b = empty_begin(Op::Reconcile, id.to_owned(), mode, None);
    run(call, env, mode, b, false, None).await
}

pub(crate) async fn retrieve_refund(
    call: &Call,
    env: &Env,
    id: &str,
) -> Result<Response, ApiError> {
    let Some(pi) = protocol::payment_of_refund(id) else {
        return Err(ApiError::not_found(
            Some("id"),
            format!(
                "No such refund: '{}'",
                id.chars().take(64).collect::<String>()
            ),
        ));
    };
    let stub = payment_stub(env, call.principal.mode, &pi)?;
    Ok(raw_response(
        do_call_raw::<()>(&stub, &format!("/refund/{id}"), None).await?,
    ))
}

/// What the payment's object answered `/run`.
struct RunAnswer {
    status: u16,
    text: String,
    need_ruleset: bool,
    replayed: bool,
    idem_released: bool,
    should_retry: Option<String>,
    attempts: Option<Vec<Attempt>>,
}

async fn run_once(
    stub: &Stub,
    b: &BeginRequest,
    card: Option<&CardInTransit>,
) -> Result<RunAnswer, ApiError> {
    let mut resp = do_fetch(stub, "/run", Some(&RunMessage { begin: b, card })).await?;
    let header = |name: &str| resp.headers().get(name).ok().flatten();
    let need_ruleset = header(NEED_RULESET_HEADER).is_some();
    let replayed = header(REPLAYED_HEADER).is_some();
    let idem_released = header(IDEM_RELEASED_HEADER).is_some();
    let should_retry = header(SHOULD_RETRY_HEADER);
    let attempts = header(ATTEMPTS_HEADER).and_then(|h| serde_json::from_str(&h).ok());
    Ok(RunAnswer {
        status: resp.status_code(),
        text: resp.text().await?,
        need_ruleset,
        replayed,
        idem_released,
        should_retry,
        attempts,
    })
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
    let bind = async {
        match &b.idem {
            Some(idem) => keys_do::bind(env, mode, idem).await,
            None => Ok(()),
        }
    };
    let active = async {
        if route {
            rulesets::active(env, mode).await.map(Some)
        } else {
            Ok(None)
        }
    };
    let (bound, active) = join(bind, active).await;
    bound?;
    let (ruleset, content) = ruleset_ref(active?);
    b.ruleset = ruleset;
    let stub = payment_stub(env, mode, &b.payment_id)?;
    let card = card.map(Card::into_transit);
    let mut answer = run_once(&stub, &b, card.as_ref()).await?;
    if answer.need_ruleset {
        if let (Some(rs), Some(content)) = (b.ruleset.as_mut(), content) {
            rs.ruleset = Some(Value::clone(&content));
            answer = run_once(&stub, &b, card.as_ref()).await?;
        }
        if answer.need_ruleset {
            return Err(ApiError::internal(
                "the payment object could not get the rule set",
            ));
        }
    }
    if answer.idem_released {
        // Refused before it started: the key is free again, here too.
        if let Some(idem) = &b.idem {
            keys_do::release(env, mode, idem).await?;
        }
    }
    // Metrics are recorded after the response, off the payment's path.
    if let Some(attempts) = &answer.attempts {
        super::metrics::record(&call.ctx, env, mode, attempts);
    }
    let r = super::json_text_response(answer.status, answer.text);
    if answer.replayed {
        let _ = r.headers().set(REPLAYED_HEADER, "true");
    }
    if let Some(v) = &answer.should_retry {
        let _ = r.headers().set(SHOULD_RETRY_HEADER, v);
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
    let p = params::create(&call.body, true, &mut new_pm_id)?;
    let Some(card) = p.card.map(|c| c.card) else {
        return Err(ApiError::missing("payment_method"));
    };
    let Some(adapter) = adapter_for(cfg) else {
        return Err(ApiError::internal("no adapter for a sandbox processor"));
    };
    let reference = format!("direct_{}", random_token(protocol::ID_LEN));
    let key = processor_idempotency_key(&reference, "authorize", 1, &cfg.id);
    let pcall = PCall::Authorize {
        key: &key,
        payment_id: &reference,
        amount: p.amount,
        currency: &p.currency,
        capture: p.capture_method != "manual",
        card: &card.secret,
        facts: &card.facts,
    };
    match send(
        env,
        Mode::Test,
        cfg,
        adapter.build(&pcall),
        adapter.timeout_ms(),
    )
    .await
    {
        Delivery::Answered(r) => Ok(super::json_text_response(r.status, r.body)),
        Delivery::NotSent(reason) | Delivery::Lost(reason) => Err(
            ApiError::processors_unavailable(format!("The sandbox did not answer: {reason}")),
        ),
    }
}
