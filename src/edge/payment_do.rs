//! One Durable Object per payment (named `<mode>:<payment id>`, SQLite
//! storage): a thin shell around the payment core (`crate::payment`). It
//! adapts SQLite to the core's storage trait and makes the processor calls.
//!
//! Architecture Invariant: a `/run` is `payment::begin` (synchronous), the
//! processor calls (the only awaits), then `payment::finish` (synchronous).
//! Other requests on the payment that arrive during the calls see the
//! operation pending (a 429 `lock_timeout`, or a takeover once stale), and
//! no request reaches a processor before `begin`'s writes are durable
//! (workerd's `fetch` from an object waits for its output gate). Card
//! numbers and CVCs arrive in the `/run` message and go to the processor
//! requests only: never to storage, answers or logs.

use std::cell::{Cell, RefCell};

use switchyard_processors::card::{Card, CardInTransit};
use switchyard_processors::payment::Attempt;
use worker::{
    console_error, durable_object, DurableObject, Env, Request, Response, SqlStorage, State,
};

use super::config::config;
use super::rates;
use super::reconcile;
use super::runtime::{error_response, json_text_response, now_ms};
use super::sql::SqlStore;
use super::transport::EdgeTransport;
use crate::auth::Mode;
use crate::error::ApiError;
use crate::metrics::Facts;
use crate::payment::{self, Begun, Reply, Routers};
use crate::protocol::{BeginRequest, FinishRequest, Op, RunAnswer, RunOutcome, RunRequest};

thread_local! {
    /// Compiled rule sets, shared by the payment objects of this isolate.
    static ROUTERS: RefCell<Routers> = RefCell::new(Routers::default());
}

#[durable_object]
pub struct PaymentObject {
    sql: SqlStorage,
    env: Env,
    /// Whether the tables exist (made in a create's first synchronous run,
    /// with its own writes, so that a new payment commits once).
    ready: Cell<bool>,
}

impl DurableObject for PaymentObject {
    fn new(state: State, env: Env) -> Self {
        Self {
            sql: state.storage().sql(),
            env,
            ready: Cell::new(false),
        }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        let path = req.path();
        let text = req.text().await.unwrap_or_default();
        let store = SqlStore::new(&self.sql, &self.ready);
        if path == "/run" {
            return Ok(match self.run(&store, &text).await {
                Ok(outcome) => match serde_json::to_string(&outcome) {
                    Ok(json) => json_text_response(200, json),
                    Err(e) => error_response(&ApiError::internal(e.to_string())),
                },
                Err(e) => error_response(&e),
            });
        }
        Ok(error_response(&ApiError::internal(
            "unknown payment object call",
        )))
    }
}

fn answered(
    reply: Reply,
    attempts: Vec<Attempt>,
    facts: Option<Facts>,
) -> Result<RunOutcome, ApiError> {
    Ok(RunOutcome::Answered(RunAnswer {
        status: reply.answer.status,
        body: reply.answer.body,
        replayed: reply.replayed,
        key_released: reply.key_released,
        decided: reply.decided,
        attempts,
        facts,
        index: Vec::new(),
    }))
}

impl PaymentObject {
    /// One operation: begin, the processor calls, finish.
    async fn run(&self, store: &SqlStore<'_>, text: &str) -> Result<RunOutcome, ApiError> {
        // The message holds card data: a parse error must not echo it.
        let Ok(RunRequest { begin: b, card }) = serde_json::from_str::<RunRequest>(text) else {
            return Err(ApiError::internal("unreadable run message"));
        };
        let mode = if b.livemode { Mode::Live } else { Mode::Test };
        let reads_only = b.op == Op::Charges;
        // The payment as it was, to tell what the operation changed for the
        // index. Best effort (the index never fails a payment), and not
        // for a create: a new payment has nothing before it, and asking
        // would look for tables it does not have yet.
        let before = if reads_only || b.op == Op::Create {
            None
        } else {
            payment::snapshot(store).unwrap_or_else(|e| {
                console_error!("payment not read before the operation: {}", e.message);
                None
            })
        };
        let mut outcome = self.operate(store, &b, card, mode).await;
        // What changed for the mode's index (lists, search): the front
        // writes it after the response, off the payment's path.
        if !reads_only {
            match payment::index_rows(store, before.as_deref(), &b) {
                Ok(rows) => {
                    if let Ok(RunOutcome::Answered(a)) = &mut outcome {
                        a.index = rows;
                    }
                }
                Err(e) => console_error!("index rows not read: {}", e.message),
            }
        }
        // A reconciliation pass's run: the queue learns whether the entry
        // is settled now, whatever settled it.
        if b.settle_follow_ups {
            match payment::unsettled_now(store, &b.payment_id, b.refund_id.as_deref()) {
                Ok(now) => reconcile::note(&self.env, mode, now).await,
                Err(e) => console_error!("reconciliation state not read: {}", e.message),
            }
        }
        outcome
    }

    async fn operate(
        &self,
        store: &SqlStore<'_>,
        b: &BeginRequest,
        card: Option<CardInTransit>,
        mode: Mode,
    ) -> Result<RunOutcome, ApiError> {
        // The mode's authorization rates, as this isolate holds them (for
        // auth_rate; refreshed in the background, never waited for).
        let current =
            matches!(b.op, Op::Create | Op::Confirm).then(|| rates::current(&self.env, mode));
        let rates = current.as_deref().unwrap_or(&switchyard_rules::NO_RATES);
        let work = match ROUTERS.with(|r| payment::begin(store, &mut r.borrow_mut(), rates, b))? {
            Begun::NeedRuleset => return Ok(RunOutcome::NeedRuleset),
            Begun::Reply(reply) => return answered(reply, Vec::new(), None),
            Begun::Work(work) => work,
        };
        let config = config(&self.env);
        let configs = config.processors(mode).unwrap_or_else(|e| {
            // An operator's configuration error: no processor can be
            // called, so the operation fails without charging.
            console_error!("processor configuration: {}", e.message);
            &[]
        });
        let transport = EdgeTransport {
            env: &self.env,
            mode,
        };
        let card = card.map(Card::from_transit);
        // Each attempt is stored as it ends, before the next starts.
        let record = |a: &switchyard_processors::payment::Attempt| {
            if let Err(e) = payment::record_attempt(store, work.seq, a) {
                console_error!("attempt not recorded: {}", e.message);
            }
        };
        let (attempts, result) = payment::execute(
            &transport,
            configs,
            mode == Mode::Test,
            &work,
            card,
            &record,
        )
        .await;
        let finish = FinishRequest {
            work: *work,
            idem: b.idem.clone(),
            now_ms: now_ms(),
            attempts,
            result,
        };
        let reply = payment::finish(store, &finish)?;
        // What is left unsettled is watched by the mode's reconciliation
        // queue (rare: only unknown outcomes and reconciliations touch it;
        // an operation that settled itself reads nothing more).
        match payment::unsettled_after(store, &finish) {
            Ok(changes) => {
                // Only an unknown outcome touches the queue here; what a
                // pass settles is noted after its run (above).
                let relevant = changes.iter().any(|(_, watch)| *watch)
                    || (matches!(finish.work.op, Op::Reconcile | Op::ReconcileRefund)
                        && !b.settle_follow_ups);
                if relevant {
                    reconcile::note(&self.env, mode, changes).await;
                }
            }
            Err(e) => console_error!("reconciliation state not read: {}", e.message),
        }
        // A reconciliation's attempts are not new attempts: not for metrics.
        if finish.work.op == Op::Reconcile || finish.attempts.is_empty() {
            return answered(reply, Vec::new(), None);
        }
        let facts = payment::metrics_facts(store).unwrap_or_else(|e| {
            console_error!("payment not read for the metrics: {}", e.message);
            None
        });
        answered(reply, finish.attempts, facts)
    }
}
