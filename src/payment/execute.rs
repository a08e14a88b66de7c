//! Step 2 of an operation: the processor calls, routing across the plan,
//! retries and reconciliation, over a [`Transport`] (the edge's sends
//! requests; tests' answer from memory). The only code that hands card data
//! to a processor request.

use switchyard_processors::adapter::{mask_card_numbers, processor_idempotency_key};
use switchyard_processors::card::Card;
use switchyard_processors::decline::DeclineClass;
use switchyard_processors::payment::{Attempt, AttemptOutcome, ProcessorDetails, STALE_AFTER_MS};
use switchyard_processors::{
    adapter_for, Adapter, Call, Delivery, Looked, Outcome, Parsed, ProcessorConfig, WireRequest,
    MAX_STEPS,
};

use crate::protocol::{Op, Work, WorkResult};

/// How long the processor calls of one run may go on: half the time after
/// which the operation counts as abandoned (`STALE_AFTER_MS`), so that a
/// takeover never starts while this run still calls. A processor is tried
/// only if its whole timeout fits in what is left.
pub const RUN_BUDGET_MS: u64 = STALE_AFTER_MS / 2;

/// How processor requests leave, and the clock that times them.
// Workers run one thread: the futures need not be `Send`.
#[allow(async_fn_in_trait)]
pub trait Transport {
    /// Sends a processor request and waits at most `timeout_ms` for its
    /// answer.
    async fn send(&self, cfg: &ProcessorConfig, req: WireRequest, timeout_ms: u32) -> Delivery;
    /// Milliseconds since the epoch.
    fn now_ms(&self) -> u64;
    /// Whether the processor's circuit lets a new authorization through
    /// (`crate::health`): closed, a probe of an open circuit, or skipped.
    async fn admit(&self, processor: &str) -> Admission;
    /// What a call told of the processor's health: `failed` for an error or
    /// a timeout (not a decline), `probe` when it was the circuit's probe.
    fn report(&self, processor: &str, failed: bool, probe: bool);
}

/// A processor's circuit, asked before an authorization is sent to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    Closed,
    /// Open, and this call is the trickle that probes it.
    Probe,
    /// Open: the processor is left out of the plan for now.
    Skip,
}

/// Sends a call and every further request it takes (Stripe: the payment
/// method, then the payment intent), to its outcome.
pub(crate) async fn call_through(
    transport: &impl Transport,
    cfg: &ProcessorConfig,
    adapter: &dyn Adapter,
    call: &Call<'_>,
) -> Outcome {
    let mut req = adapter.build(call);
    for step in 0..MAX_STEPS {
        let delivery = transport.send(cfg, req, adapter.timeout_ms()).await;
        match adapter.parse(call, step, &delivery) {
            Parsed::Done(outcome) => return masked(outcome),
            Parsed::Next(next) => req = next,
        }
    }
    Outcome::Unknown {
        reason: format!("the call took more than {MAX_STEPS} requests"),
    }
}

/// An outcome whose texts (a processor's own words, which may quote an
/// input back) are kept (a refund's `failure_reason`, a decline's message)
/// or answered: any card number in them masked, whatever the adapter did.
fn masked(outcome: Outcome) -> Outcome {
    match outcome {
        Outcome::Declined(mut d) => {
            d.message = mask_card_numbers(&d.message);
            Outcome::Declined(d)
        }
        Outcome::NotProcessed { reason } => Outcome::NotProcessed {
            reason: mask_card_numbers(&reason),
        },
        Outcome::Unknown { reason } => Outcome::Unknown {
            reason: mask_card_numbers(&reason),
        },
        approved @ Outcome::Approved { .. } => approved,
    }
}

/// After a try whose outcome was unknown, a retry that was not processed
/// (429, a refused connection) says nothing of the first: still unknown.
fn after_unknown(outcome: Outcome) -> Outcome {
    match outcome {
        Outcome::NotProcessed { reason } => Outcome::Unknown {
            reason: format!("an earlier try's outcome is unknown; the retry: {reason}"),
        },
        other => other,
    }
}

/// An attempt that did not call its processor (not configured, another
/// currency, its circuit open), with why.
fn passed_over(processor: &str, outcome: AttemptOutcome, code: &str) -> Attempt {
    Attempt {
        processor: processor.to_owned(),
        outcome,
        code: Some(code.to_owned()),
        decline_code: None,
        latency_ms: 0,
    }
}

/// Whether an outcome tells of a failing processor (the circuit's input):
/// no answer, an unexplained answer, or a refusal to process; declines and
/// approvals are a working processor.
fn is_failure(outcome: &Outcome) -> bool {
    matches!(
        outcome,
        Outcome::Unknown { .. } | Outcome::NotProcessed { .. }
    )
}

/// Calls the processors for one operation. For a confirmation, the plan is
/// tried in order, moving on only when the previous processor certainly did
/// not charge; an unknown outcome is retried once at the same processor
/// with the same idempotency key, then left for reconciliation. `test_mode`:
/// Stripe's test payment methods (`pm_card_visa`) stand for their cards.
/// `record` is called with each attempt as soon as it ends, before the next
/// starts (the payment object stores it: `payment::record_attempt`).
pub async fn execute(
    transport: &impl Transport,
    configs: &[ProcessorConfig],
    test_mode: bool,
    work: &Work,
    card: Option<Card>,
    record: &dyn Fn(&Attempt),
) -> (Vec<Attempt>, WorkResult) {
    match work.op {
        Op::Reconcile => reconcile(transport, configs, work, record).await,
        Op::Create | Op::Confirm => {
            authorize(transport, configs, test_mode, work, card, record).await
        }
        Op::Capture | Op::Cancel | Op::Refund => {
            (Vec::new(), follow_up(transport, configs, work).await)
        }
        Op::ReconcileRefund => (Vec::new(), refund_lookup(transport, configs, work).await),
        // Answered by `begin`: never work for the processors.
        Op::Update | Op::Charges | Op::UpdateRefund | Op::CancelRefund => (
            Vec::new(),
            WorkResult::Failed {
                message: "no processor call for this operation".to_owned(),
                unknown: false,
            },
        ),
    }
}

async fn authorize(
    transport: &impl Transport,
    configs: &[ProcessorConfig],
    test_mode: bool,
    work: &Work,
    card: Option<Card>,
    record: &dyn Fn(&Attempt),
) -> (Vec<Attempt>, WorkResult) {
    let mut attempts = Vec::new();
    let card = card.or_else(|| {
        work.payment_method
            .as_deref()
            .filter(|_| test_mode)
            .and_then(Card::from_test_payment_method)
    });
    let Some(card) = card else {
        return (attempts, WorkResult::NoneAvailable);
    };
    let mut last_decline = None;
    let run_started = transport.now_ms();
    // Out of time (the takeover threshold) or out of attempts (the
    // payment's cap): the processors left are not tried. Nothing was
    // charged at those before, or the run would have stopped.
    let fits = |timeout_ms: u32, made: usize| {
        transport.now_ms().saturating_sub(run_started) + u64::from(timeout_ms) <= RUN_BUDGET_MS
            && made < work.attempts_left as usize
    };
    for processor in &work.plan {
        let key = processor_idempotency_key(&work.payment_id, "authorize", work.seq, processor);
        let Some((cfg, adapter)) = configured(configs, processor) else {
            let a = passed_over(processor, AttemptOutcome::NotProcessed, "not_configured");
            record(&a);
            attempts.push(a);
            continue;
        };
        if !fits(adapter.timeout_ms(), attempts.len()) {
            break;
        }
        if cfg
            .currency
            .as_deref()
            .is_some_and(|c| !c.eq_ignore_ascii_case(&work.currency))
        {
            let a = passed_over(
                processor,
                AttemptOutcome::NotProcessed,
                "currency_not_supported",
            );
            record(&a);
            attempts.push(a);
            continue;
        }
        let admission = transport.admit(processor).await;
        if admission == Admission::Skip {
            let a = passed_over(processor, AttemptOutcome::Skipped, "circuit_open");
            record(&a);
            attempts.push(a);
            continue;
        }
        // A processor that does not capture with the authorization is asked
        // to authorize only, and the capture follows.
        let capture_here = work.capture && adapter.captures_with_authorization();
        let mut call = work.authorize(&key, &card);
        if let Call::Authorize { capture, .. } = &mut call {
            *capture = capture_here;
        }
        let mut tries = 0;
        let outcome = loop {
            tries += 1;
            let started = transport.now_ms();
            let outcome = call_through(transport, cfg, &*adapter, &call).await;
            let latency_ms = transport.now_ms().saturating_sub(started);
            transport.report(
                processor,
                is_failure(&outcome),
                admission == Admission::Probe && tries == 1,
            );
            let a = attempt_of(processor, &outcome, latency_ms);
            record(&a);
            attempts.push(a);
            if matches!(outcome, Outcome::Unknown { .. })
                && tries < 2
                && fits(adapter.timeout_ms(), attempts.len())
            {
                if adapter.deduplicates() {
                    // The same key: the processor answers the first call's
                    // outcome, or processes it once.
                    continue;
                }
                // A processor that does not deduplicate is asked what
                // became of the call, never sent it again.
                if let Some((found, a)) =
                    look_up_instead(transport, cfg, &*adapter, work, processor, &key).await
                {
                    record(&a);
                    attempts.push(a);
                    break found;
                }
            }
            break outcome;
        };
        let outcome = if tries > 1 {
            after_unknown(outcome)
        } else {
            outcome
        };
        match outcome {
            Outcome::Approved { reference } => {
                let mut result = authorized(processor, &*adapter, reference.clone());
                if work.capture && !capture_here {
                    let captured = capture_after_authorization(
                        transport, cfg, &*adapter, work, processor, &reference,
                    )
                    .await;
                    if let WorkResult::Authorized {
                        capture_pending, ..
                    } = &mut result
                    {
                        *capture_pending = !captured;
                    }
                }
                return (attempts, result);
            }
            Outcome::Declined(d) if d.class != DeclineClass::Soft => {
                return (attempts, WorkResult::Declined { decline: d })
            }
            Outcome::Declined(d) => last_decline = Some(d),
            Outcome::NotProcessed { .. } => {}
            Outcome::Unknown { .. } => return (attempts, WorkResult::Unknown),
        }
    }
    match last_decline {
        Some(d) => (attempts, WorkResult::Declined { decline: d }),
        None => (attempts, WorkResult::NoneAvailable),
    }
}

/// What became of an authorization of unknown outcome at a processor that
/// does not deduplicate: its outcome and the lookup's attempt when the
/// processor knows of it (approved or declined), `None` when it has no
/// record yet (the first call may still arrive there).
async fn look_up_instead(
    transport: &impl Transport,
    cfg: &ProcessorConfig,
    adapter: &dyn Adapter,
    work: &Work,
    processor: &str,
    key: &str,
) -> Option<(Outcome, Attempt)> {
    let lookup = Call::Lookup {
        key,
        of: Looked::Authorize {
            amount: work.amount,
            currency: &work.currency,
        },
    };
    let started = transport.now_ms();
    let found = call_through(transport, cfg, adapter, &lookup).await;
    let mut a = attempt_of(
        processor,
        &found,
        transport.now_ms().saturating_sub(started),
    );
    a.code = Some("looked_up".into());
    matches!(found, Outcome::Approved { .. } | Outcome::Declined(_)).then_some((found, a))
}

/// Capture, void, refund: at the processor that took the payment.
async fn follow_up(
    transport: &impl Transport,
    configs: &[ProcessorConfig],
    work: &Work,
) -> WorkResult {
    let (processor, cfg, adapter) = match taker(configs, work, false) {
        Ok(t) => t,
        Err(failed) => return failed,
    };
    let Some(reference) = work.reference.as_deref() else {
        return WorkResult::Failed {
            message: "no processor reference".into(),
            unknown: false,
        };
    };
    let op = match work.op {
        Op::Capture => "capture",
        Op::Cancel => "void",
        _ => "refund",
    };
    let key = processor_idempotency_key(&work.payment_id, op, work.seq, processor);
    let call = match work.op {
        Op::Capture => Call::Capture {
            key: &key,
            reference,
            amount: work.amount,
            currency: &work.currency,
        },
        Op::Cancel => Call::Void {
            key: &key,
            reference,
        },
        _ => Call::Refund {
            key: &key,
            reference,
            amount: work.amount,
            currency: &work.currency,
        },
    };
    let mut outcome = Outcome::Unknown {
        reason: String::new(),
    };
    let mut unknown_seen = false;
    for _ in 0..2 {
        outcome = call_through(transport, cfg, &*adapter, &call).await;
        if unknown_seen {
            outcome = after_unknown(outcome);
            break;
        }
        unknown_seen = matches!(outcome, Outcome::Unknown { .. });
        if !adapter.deduplicates()
            || !matches!(
                outcome,
                Outcome::Unknown { .. } | Outcome::NotProcessed { .. }
            )
        {
            break;
        }
    }
    match outcome {
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
    }
}

/// Asks the processor what became of a refund whose outcome is unknown, by
/// the refund's own key: done, certainly not done (no record: the amount is
/// free again), or still unknown.
async fn refund_lookup(
    transport: &impl Transport,
    configs: &[ProcessorConfig],
    work: &Work,
) -> WorkResult {
    // Not configured any more, it cannot be asked: still unknown.
    let (processor, cfg, adapter) = match taker(configs, work, true) {
        Ok(t) => t,
        Err(failed) => return failed,
    };
    let key = processor_idempotency_key(&work.payment_id, "refund", work.seq, processor);
    let Some(reference) = work.reference.as_deref() else {
        return WorkResult::Failed {
            message: "no processor reference".into(),
            unknown: true,
        };
    };
    let call = Call::Lookup {
        key: &key,
        of: Looked::Refund {
            reference,
            amount: work.amount,
            currency: &work.currency,
        },
    };
    match call_through(transport, cfg, &*adapter, &call).await {
        Outcome::Approved { reference } => WorkResult::Done { reference },
        Outcome::Declined(d) => WorkResult::Failed {
            message: d.message,
            unknown: false,
        },
        Outcome::NotProcessed { .. } => WorkResult::Failed {
            message: "the processor has no record of the refund".into(),
            unknown: false,
        },
        Outcome::Unknown { reason } => WorkResult::Failed {
            message: reason,
            unknown: true,
        },
    }
}

/// Asks each processor of an unknown confirmation's plan, by the same
/// idempotency keys, what became of it. Stops at the first that authorized,
/// hard-declined or still cannot say; a processor with no record of the call
/// certainly did not charge.
async fn reconcile(
    transport: &impl Transport,
    configs: &[ProcessorConfig],
    work: &Work,
    record: &dyn Fn(&Attempt),
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
        let call = Call::Lookup {
            key: &key,
            of: Looked::Authorize {
                amount: work.amount,
                currency: &work.currency,
            },
        };
        let started = transport.now_ms();
        let outcome = call_through(transport, cfg, &*adapter, &call).await;
        let latency_ms = transport.now_ms().saturating_sub(started);
        let mut reconciled = |outcome: &Outcome| {
            let mut a = attempt_of(processor, outcome, latency_ms);
            a.code = Some("reconciled".into());
            record(&a);
            attempts.push(a);
        };
        match outcome {
            Outcome::Approved { reference } => {
                reconciled(&Outcome::Approved {
                    reference: reference.clone(),
                });
                return (attempts, authorized(processor, &*adapter, reference));
            }
            Outcome::Declined(d) => {
                reconciled(&Outcome::Declined(d.clone()));
                if d.class != DeclineClass::Soft {
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

/// The processor that took the payment (a follow-up's), configured, with
/// its adapter; or the failure to answer when it is not (`unknown`: whether
/// that leaves the outcome unknown).
fn taker<'a>(
    configs: &'a [ProcessorConfig],
    work: &'a Work,
    unknown: bool,
) -> Result<(&'a str, &'a ProcessorConfig, Box<dyn Adapter>), WorkResult> {
    let Some(processor) = work.plan.first() else {
        return Err(WorkResult::Failed {
            message: "no processor".into(),
            unknown,
        });
    };
    match configured(configs, processor) {
        Some((cfg, adapter)) => Ok((processor, cfg, adapter)),
        None => Err(WorkResult::Failed {
            message: format!("processor {processor} is not configured"),
            unknown,
        }),
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
        .and_then(|c| adapter_for(c, c.credentials.as_ref()).map(|a| (c, a)))
}

fn authorized(processor: &str, adapter: &dyn Adapter, reference: String) -> WorkResult {
    WorkResult::Authorized {
        details: ProcessorDetails {
            processor: processor.to_owned(),
            kind: adapter.kind().to_owned(),
            reference,
        },
        capture_pending: false,
    }
}

/// The capture of a payment that captures at once, at a processor that
/// authorizes only (`Adapter::captures_with_authorization`): the key is the
/// payment's first capture's, so that a reconciliation that sends it again
/// (`payment::begin`, a pending capture) is deduplicated. Whether the
/// processor confirmed it.
async fn capture_after_authorization(
    transport: &impl Transport,
    cfg: &ProcessorConfig,
    adapter: &dyn Adapter,
    work: &Work,
    processor: &str,
    reference: &str,
) -> bool {
    let key = processor_idempotency_key(&work.payment_id, "capture", 1, processor);
    let call = Call::Capture {
        key: &key,
        reference,
        amount: work.amount,
        currency: &work.currency,
    };
    for _ in 0..2 {
        match call_through(transport, cfg, adapter, &call).await {
            Outcome::Approved { .. } => return true,
            Outcome::Unknown { .. } if adapter.deduplicates() => continue,
            _ => return false,
        }
    }
    false
}

fn attempt_of(processor: &str, outcome: &Outcome, latency_ms: u64) -> Attempt {
    let (o, code, decline_code) = match outcome {
        Outcome::Approved { .. } => (AttemptOutcome::Authorized, None, None),
        Outcome::Declined(d) => (
            match d.class {
                DeclineClass::Soft => AttemptOutcome::SoftDecline,
                DeclineClass::Hard => AttemptOutcome::HardDecline,
                DeclineClass::AuthenticationRequired => AttemptOutcome::AuthenticationRequired,
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

/// A payment the worker gave up on: its confirmation's outcome was unknown,
/// and reconciliation found no record of it at any processor of its plan,
/// so it failed. Its first request may still reach a processor late
/// (delayed in a network, a queue): for a while after, the processors are
/// asked again, and an authorization found is voided there.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GivenUp {
    pub payment_id: String,
    pub seq: u32,
    pub plan: Vec<String>,
    pub amount: u64,
    pub currency: String,
}

impl GivenUp {
    /// The given-up confirmation of a reconciliation that found nothing.
    pub fn of(work: &Work) -> GivenUp {
        GivenUp {
            payment_id: work.payment_id.clone(),
            seq: work.seq,
            plan: work.plan.clone(),
            amount: work.amount,
            currency: work.currency.clone(),
        }
    }
}

/// What a look at a given-up payment found.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "found")]
pub enum LateCheck {
    /// Nothing at any processor (or only declines).
    Nothing,
    /// An authorization at `processor`, now voided.
    Voided {
        processor: String,
        reference: String,
    },
    /// Could not tell, or the void failed: look again later.
    Unsettled { reason: String },
}

/// Asks each processor of a given-up payment's plan, by the confirmation's
/// keys, whether it authorized after all, and voids what it finds.
pub async fn check_given_up(
    transport: &impl Transport,
    configs: &[ProcessorConfig],
    g: &GivenUp,
) -> LateCheck {
    for processor in &g.plan {
        let Some((cfg, adapter)) = configured(configs, processor) else {
            continue;
        };
        let key = processor_idempotency_key(&g.payment_id, "authorize", g.seq, processor);
        let lookup = Call::Lookup {
            key: &key,
            of: Looked::Authorize {
                amount: g.amount,
                currency: &g.currency,
            },
        };
        match call_through(transport, cfg, &*adapter, &lookup).await {
            Outcome::Approved { reference } => {
                let void_key =
                    processor_idempotency_key(&g.payment_id, "late-void", g.seq, processor);
                let void = Call::Void {
                    key: &void_key,
                    reference: &reference,
                };
                return match call_through(transport, cfg, &*adapter, &void).await {
                    Outcome::Approved { .. } => LateCheck::Voided {
                        processor: processor.clone(),
                        reference,
                    },
                    other => LateCheck::Unsettled {
                        reason: format!(
                            "a late authorization at {processor} not voided: {other:?}"
                        ),
                    },
                };
            }
            Outcome::Unknown { reason } => {
                return LateCheck::Unsettled {
                    reason: format!("{processor}: {reason}"),
                }
            }
            Outcome::Declined(_) | Outcome::NotProcessed { .. } => {}
        }
    }
    LateCheck::Nothing
}
