//! Processor health at the edge: one `HealthObject` per processor and mode
//! holds its circuit breaker (`crate::health::Breaker`); each isolate keeps
//! a cached view of it, so that a payment asks no object while the circuit
//! is closed.
//!
//! - An isolate reports its calls' results together, at most once every
//!   `FLUSH_MS` per processor (and at once when failures pile up, or for a
//!   probe), and each report brings back the circuit's view.
//! - A view older than `FRESH_MS` is refreshed before an authorization.
//! - An open circuit past its retry time is half open: the object grants
//!   one probe at a time, across all isolates.

use std::cell::RefCell;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use worker::{durable_object, DurableObject, Env, Request, Response, State};

use super::objects::{call, stub, Binding};
use super::runtime::{error_response, json_response, now_ms};
use crate::auth::Mode;
use crate::error::ApiError;
use crate::health::{Breaker, CircuitState, CircuitView, Report};
use crate::payment::Admission;

/// How long an isolate trusts its view of a circuit.
const FRESH_MS: u64 = 2_000;
/// How often an isolate reports a processor's calls, at most.
const FLUSH_MS: u64 = 1_000;
/// Failures that are reported at once, without waiting for `FLUSH_MS`.
const FLUSH_FAILURES: u32 = 3;

#[derive(Default)]
struct Cached {
    view: Option<CircuitView>,
    fetched_ms: u64,
    pending: Report,
    flushed_ms: u64,
}

impl Cached {
    /// A view the circuit's object just gave.
    fn saw(&mut self, view: CircuitView) {
        self.view = Some(view);
        self.fetched_ms = now_ms();
    }
}

thread_local! {
    static CACHE: RefCell<BTreeMap<(Mode, String), Cached>> = const { RefCell::new(BTreeMap::new()) };
}

/// This isolate's entry for a processor's circuit.
fn with_entry<T>(mode: Mode, processor: &str, f: impl FnOnce(&mut Cached) -> T) -> T {
    CACHE.with(|c| {
        f(c.borrow_mut()
            .entry((mode, processor.to_owned()))
            .or_default())
    })
}

#[derive(Serialize, Deserialize)]
struct ReportMsg {
    now_ms: u64,
    report: Report,
}

#[derive(Serialize, Deserialize)]
struct ProbeAnswer {
    granted: bool,
    view: CircuitView,
}

/// A call to a processor's circuit object, its answer read; `None` when the
/// object cannot be reached or answers otherwise.
async fn ask<T: serde::de::DeserializeOwned>(
    env: &Env,
    mode: Mode,
    processor: &str,
    path: &str,
    body: Option<&ReportMsg>,
) -> Option<T> {
    let s = stub(env, Binding::Health, mode, Some(processor)).ok()?;
    let a = call(&s, path, body).await.ok()?;
    (a.status == 200)
        .then(|| serde_json::from_str::<T>(a.body.get()).ok())
        .flatten()
}

/// Sends this isolate's pending report of a processor (possibly empty: a
/// refresh) and caches the view it brings back. Best effort: an object that
/// cannot be reached leaves the cached view as it was.
async fn exchange(env: &Env, mode: Mode, processor: &str) -> Option<CircuitView> {
    let report = with_entry(mode, processor, |e| {
        e.flushed_ms = now_ms();
        std::mem::take(&mut e.pending)
    });
    let msg = ReportMsg {
        now_ms: now_ms(),
        report,
    };
    let view: Option<CircuitView> = ask(env, mode, processor, "/report", Some(&msg)).await;
    with_entry(mode, processor, |e| match &view {
        Some(v) => e.saw(v.clone()),
        // Not delivered: counted again with the next report.
        None => {
            e.pending.calls += msg.report.calls;
            e.pending.failures += msg.report.failures;
        }
    });
    view
}

/// Whether an authorization may go to `processor` now.
pub(crate) async fn admit(env: &Env, mode: Mode, processor: &str) -> Admission {
    let now = now_ms();
    let cached = CACHE.with(|c| {
        c.borrow()
            .get(&(mode, processor.to_owned()))
            .filter(|e| now.saturating_sub(e.fetched_ms) < FRESH_MS)
            .and_then(|e| e.view.clone())
    });
    let view = match cached {
        Some(v) => Some(v),
        None => exchange(env, mode, processor).await,
    };
    // A circuit that cannot be read is taken as closed: health never
    // stops payments on its own failure.
    let Some(view) = view else {
        return Admission::Closed;
    };
    match view.state {
        CircuitState::Closed => Admission::Closed,
        CircuitState::Open if view.retry_at.is_some_and(|t| now < t) => Admission::Skip,
        CircuitState::Open | CircuitState::HalfOpen => {
            let granted: Option<ProbeAnswer> = ask(env, mode, processor, "/probe", None).await;
            match granted {
                Some(p) => {
                    with_entry(mode, processor, |e| e.saw(p.view));
                    if p.granted {
                        Admission::Probe
                    } else {
                        Admission::Skip
                    }
                }
                None => Admission::Skip,
            }
        }
    }
}

/// Notes a call's result; sends the isolate's report when it is due (in
/// the background: never on the payment's path).
pub(crate) fn report(env: &Env, mode: Mode, processor: &str, failed: bool, probe: bool) {
    let now = now_ms();
    let due = with_entry(mode, processor, |e| {
        e.pending.calls += 1;
        e.pending.failures += u32::from(failed);
        if probe {
            e.pending.probe_failed = Some(failed);
            // Its result decides the circuit: the view is stale at once.
            e.fetched_ms = 0;
        }
        probe
            || e.pending.failures >= FLUSH_FAILURES
            || now.saturating_sub(e.flushed_ms) >= FLUSH_MS
    });
    if due {
        let env = env.clone();
        let processor = processor.to_owned();
        wasm_bindgen_futures::spawn_local(async move {
            let _ = exchange(&env, mode, &processor).await;
        });
    }
}

/// The circuits of a mode's processors, for the API.
pub(crate) async fn views(
    env: &Env,
    mode: Mode,
    processors: &[String],
) -> BTreeMap<String, Option<CircuitView>> {
    let mut out = BTreeMap::new();
    for p in processors {
        out.insert(p.clone(), exchange(env, mode, p).await);
    }
    out
}

#[durable_object]
pub struct HealthObject {
    state: State,
    breaker: RefCell<Option<Breaker>>,
}

impl HealthObject {
    async fn load(&self) -> Breaker {
        if let Some(b) = self.breaker.borrow().clone() {
            return b;
        }
        let b = self
            .state
            .storage()
            .get::<Breaker>("breaker")
            .await
            .ok()
            .flatten()
            .unwrap_or_default();
        *self.breaker.borrow_mut() = Some(b.clone());
        b
    }

    async fn save(&self, b: Breaker) -> worker::Result<()> {
        self.state.storage().put("breaker", &b).await?;
        *self.breaker.borrow_mut() = Some(b);
        Ok(())
    }
}

impl DurableObject for HealthObject {
    fn new(state: State, _env: Env) -> Self {
        Self {
            state,
            breaker: RefCell::new(None),
        }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        let path = req.path();
        let now = now_ms();
        let mut b = self.load().await;
        match path.as_str() {
            "/report" => {
                let text = req.text().await.unwrap_or_default();
                let Ok(msg) = serde_json::from_str::<ReportMsg>(&text) else {
                    return Ok(error_response(&ApiError::internal("bad health report")));
                };
                let changed = msg.report != Report::default();
                if changed {
                    b.record(now, msg.report);
                }
                let view = b.view(now);
                if changed {
                    self.save(b).await?;
                }
                Ok(json_response(200, &serde_json::to_value(view)?))
            }
            "/probe" => {
                let granted = b.grant_probe(now);
                let view = b.view(now);
                if granted {
                    self.save(b).await?;
                }
                Ok(json_response(
                    200,
                    &serde_json::to_value(ProbeAnswer { granted, view })?,
                ))
            }
            _ => Ok(error_response(&ApiError::internal("unknown health call"))),
        }
    }
}
