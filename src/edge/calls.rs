//! The processor calls of one payment operation, made by the payment's
//! Durable Object between `begin` and `finish` (and the sandbox's direct
//! endpoint). The only code that hands card data to a processor request.

use std::time::Duration;

use futures_util::future::{select, Either};
use switchyard_processors::adapter::processor_idempotency_key;
use switchyard_processors::card::Card;
use switchyard_processors::decline::DeclineClass;
use switchyard_processors::payment::{Attempt, AttemptOutcome, ProcessorDetails};
use switchyard_processors::sandbox::SANDBOX_BASE;
use switchyard_processors::{
    adapter_for, Adapter, Call as PCall, Delivery, Outcome, ProcessorConfig, WireRequest,
    WireResponse,
};
use worker::{Delay, Env, Headers, Method, Request, RequestInit};

use super::{env_str, now_ms};
use crate::auth::Mode;
use crate::error::ApiError;
use crate::protocol::{Op, Work, WorkResult};

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

/// Calls the processors for one operation. For a confirmation, the plan is
/// tried in order, moving on only when the previous processor certainly did
/// not charge; an unknown outcome is retried once at the same processor
/// with the same idempotency key, then left for reconciliation.
pub(crate) async fn execute(
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
            let Some((cfg, adapter)) = configured(configs, processor) else {
                attempts.push(Attempt {
                    processor: processor.clone(),
                    outcome: AttemptOutcome::NotProcessed,
                    code: Some("not_configured".into()),
                    decline_code: None,
                    latency_ms: 0,
                });
                continue;
            };
            let call = work.authorize(&key, &card);
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
                    return (attempts, authorized(processor, &*adapter, reference))
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
    let Some((cfg, adapter)) = configured(configs, processor) else {
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
        let Some((cfg, adapter)) = configured(configs, processor) else {
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
                return (attempts, authorized(processor, &*adapter, reference));
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

/// A processor of the mode's configuration, with its adapter.
fn configured<'a>(
    configs: &'a [ProcessorConfig],
    processor: &str,
) -> Option<(&'a ProcessorConfig, Box<dyn Adapter>)> {
    configs
        .iter()
        .find(|c| c.id == processor)
        .and_then(|c| adapter_for(c).map(|a| (c, a)))
}

fn authorized(processor: &str, adapter: &dyn Adapter, reference: String) -> WorkResult {
    WorkResult::Authorized {
        details: ProcessorDetails {
            processor: processor.to_owned(),
            kind: adapter.kind().to_owned(),
            reference,
        },
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
pub(crate) async fn send(
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
