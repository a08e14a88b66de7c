//! The payments API in the front worker: read the parameters, ask the
//! payment's Durable Object to `begin`, call the processors (the only place
//! card data goes), report to `finish`.

use std::rc::Rc;
use std::time::Duration;

use futures_util::future::{select, Either};
use serde::Serialize;
use serde_json::Value;
use switchyard_processors::adapter::processor_idempotency_key;
use switchyard_processors::card::Card;
use switchyard_processors::decline::DeclineClass;
use switchyard_processors::payment::{Attempt, AttemptOutcome, ProcessorDetails};
use switchyard_processors::sandbox::SANDBOX_BASE;
use switchyard_processors::{
    adapter_for, Call as PCall, Delivery, Outcome, ProcessorConfig, WireRequest, WireResponse,
};
use worker::{Delay, Env, Headers, Method, Request, RequestInit, Response, Stub};

use super::{env_str, json_response, now_ms, random_token, rulesets, Call};
use crate::auth::Mode;
use crate::error::ApiError;
use crate::params;
use crate::protocol::{
    self, Answer, Attach, BeginRequest, BeginResponse, CreateFields, FinishRequest, Idem, Op,
    RulesetRef, Work, WorkResult,
};

/// The processors of a mode: `SWITCHYARD_<MODE>_PROCESSORS` (JSON), or in
/// test mode with no configuration, three sandbox processors.
pub(crate) fn processors(env: &Env, mode: Mode) -> Result<Vec<ProcessorConfig>, ApiError> {
    let name = match mode {
        Mode::Test => "SWITCHYARD_TEST_PROCESSORS",
        Mode::Live => "SWITCHYARD_LIVE_PROCESSORS",
    };
    match env_str(env, name).filter(|s| !s.trim().is_empty()) {
        Some(json) => switchyard_processors::config::parse_processors(&json)
            .map_err(|e| ApiError::internal(format!("{name}: {e}"))),
        None if mode == Mode::Test => Ok(switchyard_processors::config::default_processors()),
        None => Ok(Vec::new()),
    }
}

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

/// A JSON call to a Durable Object: its status and answer text.
async fn do_call_raw<Req: Serialize>(
    stub: &Stub,
    path: &str,
    body: Option<&Req>,
) -> Result<RawAnswer, ApiError> {
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
    let mut resp = stub.fetch_with_request(req).await?;
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
    let ruleset = if p.confirm {
        Some(rulesets::active(env, mode).await?)
    } else {
        None
    };
    let (ruleset_ref, content) = ruleset_ref(ruleset);
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
    b.ruleset = ruleset_ref;
    run(call, env, mode, b, content, p.card.map(|c| c.card)).await
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
    let (ruleset_ref, content) = ruleset_ref(Some(rulesets::active(env, mode).await?));
    b.ruleset = ruleset_ref;
    run(call, env, mode, b, content, card.map(|c| c.card)).await
}

pub(crate) async fn capture(call: &Call, env: &Env, id: &str) -> Result<Response, ApiError> {
    check_payment_id(id)?;
    let mode = call.principal.mode;
    let amount = params::capture(&call.body)?;
    let mut b = empty_begin(Op::Capture, id.to_owned(), mode, idem_of(call)?);
    b.amount = amount;
    run(call, env, mode, b, None, None).await
}

pub(crate) async fn cancel(call: &Call, env: &Env, id: &str) -> Result<Response, ApiError> {
    check_payment_id(id)?;
    let mode = call.principal.mode;
    let reason = params::cancel(&call.body)?;
    let mut b = empty_begin(Op::Cancel, id.to_owned(), mode, idem_of(call)?);
    b.reason = reason;
    run(call, env, mode, b, None, None).await
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
    run(call, env, mode, b, None, None).await
}

pub(crate) async fn retrieve(call: &Call, env: &Env, id: &str) -> Result<Response, ApiError> {
    check_payment_id(id)?;
    let mode = call.principal.mode;
    // A payment left `processing` (a processor's answer was lost) is
    // reconciled here: its processors are asked what became of the calls.
    let b = empty_begin(Op::Reconcile, id.to_owned(), mode, None);
    run(call, env, mode, b, None, None).await
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

/// `begin` at the payment's object: its answer, or the final response.
async fn begin(stub: &Stub, b: &BeginRequest) -> Result<Result<BeginResponse, Response>, ApiError> {
    let a = do_call_raw(stub, "/begin", Some(b)).await?;
    if a.status != 200 {
        return Ok(Err(raw_response(a)));
    }
    serde_json::from_str(&a.text)
        .map(Ok)
        .map_err(|e| ApiError::internal(format!("unexpected payment object answer: {e}")))
}

/// begin → processors → finish. `content`: the rule set named in `b`, for
/// the payment object if it has not compiled it.
async fn run(
    call: &Call,
    env: &Env,
    mode: Mode,
    mut b: BeginRequest,
    content: Option<Rc<Value>>,
    card: Option<Card>,
) -> Result<Response, ApiError> {
    let stub = payment_stub(env, mode, &b.payment_id)?;
    let idem = b.idem.clone();
    let mut begun = begin(&stub, &b).await?;
    if let (Ok(BeginResponse::NeedRuleset), Some(rs), Some(content)) =
        (&begun, b.ruleset.as_mut(), content)
    {
        rs.ruleset = Some(Value::clone(&content));
        begun = begin(&stub, &b).await?;
    }
    let work = match begun {
        Err(response) => return Ok(response),
        Ok(BeginResponse::Done { status, body }) => return Ok(json_response(status, &body)),
        Ok(BeginResponse::Replay { status, body }) => {
            let r = json_response(status, &body);
            let _ = r.headers().set("idempotent-replayed", "true");
            return Ok(r);
        }
        Ok(BeginResponse::NeedRuleset) => {
            return Err(ApiError::internal(
                "the payment object could not get the rule set",
            ))
        }
        Ok(BeginResponse::Work { work }) => work,
    };
    let configs = processors(env, mode)?;
    let (attempts, result) = execute(env, mode, &configs, &work, card).await;
    // Metrics are recorded after the response, off the payment's path.
    // (Lookups of a reconciliation are not authorization attempts.)
    if work.op != Op::Reconcile {
        super::metrics::record(&call.ctx, env, mode, &attempts);
    }
    let finish = FinishRequest {
        work: *work,
        idem,
        now_ms: now_ms(),
        attempts,
        result,
    };
    let r = do_call_raw(&stub, "/finish", Some(&finish)).await?;
    Ok(raw_response(r))
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

/// Calls the processors for one operation. For a confirmation, the plan is
/// tried in order, moving on only when the previous processor certainly did
/// not charge; an unknown outcome is retried once at the same processor
/// with the same idempotency key, then left for reconciliation.
async fn execute(
    env: &Env,
    mode: Mode,
    configs: &[ProcessorConfig],
    work: &Work,
    card: Option<Card>,
) -> (Vec<Attempt>, WorkResult) {
    let mut attempts = Vec::new();
    if work.op == Op::Reconcile {
        return reconcile(env, mode, configs, work).await;
    }
    if matches!(work.op, Op::Create | Op::Confirm) {
        let card = card.or_else(|| {
            work.payment_method
                .as_deref()
                .filter(|_| mode == Mode::Test)
                .and_then(Card::from_test_payment_method)
        });
        let Some(card) = card else {
            return (attempts, WorkResult::NoneAvailable);
        };
        let mut last_decline = None;
        for processor in &work.plan {
            let key = processor_idempotency_key(&work.payment_id, "authorize", work.seq, processor);
            let Some((cfg, adapter)) = configs
                .iter()
                .find(|c| &c.id == processor)
                .and_then(|c| adapter_for(c).map(|a| (c, a)))
            else {
                attempts.push(Attempt {
                    processor: processor.clone(),
                    outcome: AttemptOutcome::NotProcessed,
                    code: Some("not_configured".into()),
                    decline_code: None,
                    latency_ms: 0,
                });
                continue;
            };
            let call = PCall::Authorize {
                key: &key,
                payment_id: &work.payment_id,
                amount: work.amount,
                currency: &work.currency,
                capture: work.capture,
                card: &card.secret,
                facts: &card.facts,
            };
            let mut tries = 0;
            let outcome = loop {
                tries += 1;
                let started = now_ms();
                let delivery =
                    send(env, mode, cfg, adapter.build(&call), adapter.timeout_ms()).await;
                let outcome = adapter.parse(&call, &delivery);
                let latency_ms = now_ms().saturating_sub(started);
                attempts.push(attempt_of(processor, &outcome, latency_ms));
                if matches!(outcome, Outcome::Unknown { .. }) && tries < 2 {
                    continue;
                }
                break outcome;
            };
            match outcome {
                Outcome::Approved { reference } => {
                    return (
                        attempts,
                        WorkResult::Authorized {
                            details: ProcessorDetails {
                                processor: processor.clone(),
                                kind: adapter.kind().to_owned(),
                                reference,
                            },
                        },
                    )
                }
                Outcome::Declined(d) if d.class == DeclineClass::Hard => {
                    return (attempts, WorkResult::Declined { decline: d })
                }
                Outcome::Declined(d) => last_decline = Some(d),
                Outcome::NotProcessed { .. } => {}
                Outcome::Unknown { .. } => return (attempts, WorkResult::Unknown),
            }
        }
        return match last_decline {
            Some(d) => (attempts, WorkResult::Declined { decline: d }),
            None => (attempts, WorkResult::NoneAvailable),
        };
    }
    // Capture, void, refund: at the processor that took the payment.
    let (Some(processor), Some(reference)) = (work.plan.first(), work.reference.as_deref()) else {
        return (
            attempts,
            WorkResult::Failed {
                message: "no processor".into(),
                unknown: false,
            },
        );
    };
    let Some((cfg, adapter)) = configs
        .iter()
        .find(|c| &c.id == processor)
        .and_then(|c| adapter_for(c).map(|a| (c, a)))
    else {
        return (
            attempts,
            WorkResult::Failed {
                message: format!("processor {processor} is not configured"),
                unknown: false,
            },
        );
    };
    let (op, seq) = match work.op {
        Op::Capture => ("capture", work.seq),
        Op::Cancel => ("void", work.seq),
        _ => ("refund", work.seq),
    };
    let key = processor_idempotency_key(&work.payment_id, op, seq, processor);
    let call = match work.op {
        Op::Capture => PCall::Capture {
            key: &key,
            reference,
            amount: work.amount,
            currency: &work.currency,
        },
        Op::Cancel => PCall::Void {
            key: &key,
            reference,
        },
        _ => PCall::Refund {
            key: &key,
            reference,
            amount: work.amount,
            currency: &work.currency,
        },
    };
    let mut outcome = Outcome::Unknown {
        reason: String::new(),
    };
    for _ in 0..2 {
        let delivery = send(env, mode, cfg, adapter.build(&call), adapter.timeout_ms()).await;
        outcome = adapter.parse(&call, &delivery);
        if !matches!(
            outcome,
            Outcome::Unknown { .. } | Outcome::NotProcessed { .. }
        ) {
            break;
        }
    }
    let result = match outcome {
        Outcome::Approved { reference } => WorkResult::Done { reference },
        Outcome::Declined(d) => WorkResult::Failed {
            message: d.message,
            unknown: false,
        },
        Outcome::NotProcessed { reason } => WorkResult::Failed {
            message: reason,
            unknown: false,
        },
        Outcome::Unknown { reason } => WorkResult::Failed {
            message: reason,
            unknown: true,
        },
    };
    (attempts, result)
}

/// Asks each processor of an unknown confirmation's plan, by the same
/// idempotency keys, what became of it. Stops at the first that authorized,
/// hard-declined or still cannot say; a processor with no record of the call
/// certainly did not charge.
async fn reconcile(
    env: &Env,
    mode: Mode,
    configs: &[ProcessorConfig],
    work: &Work,
) -> (Vec<Attempt>, WorkResult) {
    let mut attempts = Vec::new();
    let mut last_decline = None;
    for processor in &work.plan {
        let Some((cfg, adapter)) = configs
            .iter()
            .find(|c| &c.id == processor)
            .and_then(|c| adapter_for(c).map(|a| (c, a)))
        else {
            // Not configured any more: it cannot be asked, so nothing can
            // be concluded.
            return (attempts, WorkResult::Unknown);
        };
        let key = processor_idempotency_key(&work.payment_id, "authorize", work.seq, processor);
        let call = PCall::Lookup { key: &key };
        let started = now_ms();
        let delivery = send(env, mode, cfg, adapter.build(&call), adapter.timeout_ms()).await;
        let outcome = adapter.parse(&call, &delivery);
        let latency_ms = now_ms().saturating_sub(started);
        match outcome {
            Outcome::Approved { reference } => {
                let mut a = attempt_of(
                    processor,
                    &Outcome::Approved {
                        reference: reference.clone(),
                    },
                    latency_ms,
                );
                a.code = Some("reconciled".into());
                attempts.push(a);
                return (
                    attempts,
                    WorkResult::Authorized {
                        details: ProcessorDetails {
                            processor: processor.clone(),
                            kind: adapter.kind().to_owned(),
                            reference,
                        },
                    },
                );
            }
            Outcome::Declined(d) => {
                let mut a = attempt_of(processor, &Outcome::Declined(d.clone()), latency_ms);
                a.code = Some("reconciled".into());
                attempts.push(a);
                if d.class == DeclineClass::Hard {
                    return (attempts, WorkResult::Declined { decline: d });
                }
                last_decline = Some(d);
            }
            // No record at this processor: it did not charge; ask the next.
            Outcome::NotProcessed { .. } => {}
            Outcome::Unknown { .. } => return (attempts, WorkResult::Unknown),
        }
    }
    match last_decline {
        Some(d) => (attempts, WorkResult::Declined { decline: d }),
        None => (attempts, WorkResult::NoneAvailable),
    }
}

fn attempt_of(processor: &str, outcome: &Outcome, latency_ms: u64) -> Attempt {
    let (o, code, decline_code) = match outcome {
        Outcome::Approved { .. } => (AttemptOutcome::Authorized, None, None),
        Outcome::Declined(d) => (
            if d.class == DeclineClass::Soft {
                AttemptOutcome::SoftDecline
            } else {
                AttemptOutcome::HardDecline
            },
            d.processor_code.clone(),
            Some(d.decline_code.clone()),
        ),
        Outcome::NotProcessed { .. } => (AttemptOutcome::NotProcessed, None, None),
        Outcome::Unknown { .. } => (AttemptOutcome::Unknown, None, None),
    };
    Attempt {
        processor: processor.to_owned(),
        outcome: o,
        code,
        decline_code,
        latency_ms,
    }
}

/// Sends a processor request and waits at most `timeout_ms`. The sandbox's
/// URL goes to its Durable Object; real processors' adapters are not
/// configured yet, so any other URL is reported as not sent.
async fn send(
    env: &Env,
    mode: Mode,
    cfg: &ProcessorConfig,
    req: WireRequest,
    timeout_ms: u32,
) -> Delivery {
    if !req.url.starts_with(SANDBOX_BASE) {
        return Delivery::NotSent(format!("no transport for {}", cfg.id));
    }
    let stub = match env.durable_object("SANDBOX").and_then(|ns| {
        ns.id_from_name(&format!("{}:{}", mode.as_str(), cfg.id))
            .and_then(|id| id.get_stub())
    }) {
        Ok(s) => s,
        Err(e) => return Delivery::NotSent(format!("sandbox unreachable: {e}")),
    };
    let headers = Headers::new();
    for (k, v) in &req.headers {
        if headers.set(k, v).is_err() {
            return Delivery::NotSent("invalid header".into());
        }
    }
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_body(Some(req.body().into()));
    let request = match Request::new_with_init(&req.url, &init) {
        Ok(r) => r,
        Err(e) => return Delivery::NotSent(format!("request not built: {e}")),
    };
    drop(req);
    let exchange = async {
        let mut resp = stub.fetch_with_request(request).await?;
        let status = resp.status_code();
        let headers: Vec<(String, String)> = resp.headers().entries().collect();
        let body = resp.text().await?;
        Ok::<_, worker::Error>(WireResponse {
            status,
            headers,
            body,
        })
    };
    let timer = Delay::from(Duration::from_millis(u64::from(timeout_ms)));
    futures_util::pin_mut!(exchange);
    match select(exchange, timer).await {
        Either::Left((Ok(resp), _)) => Delivery::Answered(resp),
        Either::Left((Err(e), _)) => Delivery::Lost(format!("connection lost: {e}")),
        Either::Right(_) => Delivery::Lost(format!("no answer within {timeout_ms} ms")),
    }
}
