//! `GET /v1/routing/metrics`: per processor over a time window. Attempts are
//! recorded in one Durable Object per mode, off the payments' path: each
//! isolate gathers the attempts of its payments for `BATCH_MS` and records
//! them in one call (a read through the same isolate records its own first).

use std::cell::RefCell;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use switchyard_processors::payment::{Attempt, AttemptOutcome};
use worker::{
    durable_object, Context, Delay, DurableObject, Env, Request, Response, SqlStorage,
    SqlStorageValue, State, Stub,
};

use super::objects::{call, stub as object_stub, Binding};
use super::request::Call;
use super::runtime::{answer_response, error_response, json_response, now_ms};
use super::sql::integer;
use crate::auth::Mode;
use crate::error::ApiError;

fn stub(env: &Env, mode: Mode) -> Result<Stub, ApiError> {
    object_stub(env, Binding::Metrics, mode, None)
}

#[derive(Serialize, Deserialize)]
struct Row {
    processor: String,
    outcome: String,
    latency_ms: i64,
    /// 1 when the attempt authorized a payment another processor had failed.
    recovered: i64,
}

#[derive(Serialize, Deserialize)]
struct RecordMsg {
    now_ms: u64,
    rows: Vec<Row>,
}

fn outcome_name(o: AttemptOutcome) -> &'static str {
    match o {
        AttemptOutcome::Authorized => "authorized",
        AttemptOutcome::SoftDecline => "soft_decline",
        AttemptOutcome::HardDecline => "hard_decline",
        AttemptOutcome::AuthenticationRequired => "authentication_required",
        AttemptOutcome::NotProcessed => "not_processed",
        AttemptOutcome::Unknown => "unknown",
        AttemptOutcome::Skipped => "skipped",
    }
}

/// How long attempts wait in an isolate's memory to be recorded together.
const BATCH_MS: u64 = 25;
/// A scheduled recording that has not happened after this long is taken to
/// be lost (its request was cancelled); the next payment schedules anew.
const STALE_MS: u64 = 2_000;

#[derive(Default)]
struct Pending {
    rows: Vec<(Mode, Row)>,
    /// When the recording of `rows` was scheduled.
    scheduled_ms: Option<u64>,
}

thread_local! {
    static PENDING: RefCell<Pending> = RefCell::new(Pending::default());
}

/// Records the attempts of one confirmation, within `BATCH_MS`, after the
/// response (`ctx.wait_until`). Best effort: a failure here never fails
/// the payment.
pub(crate) fn record(ctx: &Context, env: &Env, mode: Mode, attempts: &[Attempt]) {
    if attempts.is_empty() {
        return;
    }
    let now = now_ms();
    let schedule = PENDING.with(|p| {
        let mut p = p.borrow_mut();
        p.rows
            .extend(rows_of(attempts).into_iter().map(|r| (mode, r)));
        let due = p
            .scheduled_ms
            .is_none_or(|t| now.saturating_sub(t) > STALE_MS);
        if due {
            p.scheduled_ms = Some(now);
        }
        due
    });
    if schedule {
        let env = env.clone();
        ctx.wait_until(async move {
            Delay::from(Duration::from_millis(BATCH_MS)).await;
            flush(&env).await;
        });
    }
}

/// Records the attempts gathered in this isolate: one call per mode.
async fn flush(env: &Env) {
    let rows = PENDING.with(|p| {
        let mut p = p.borrow_mut();
        p.scheduled_ms = None;
        std::mem::take(&mut p.rows)
    });
    let (test, live): (Vec<_>, Vec<_>) = rows.into_iter().partition(|(m, _)| *m == Mode::Test);
    for (mode, rows) in [(Mode::Test, test), (Mode::Live, live)] {
        if rows.is_empty() {
            continue;
        }
        let msg = RecordMsg {
            now_ms: now_ms(),
            rows: rows.into_iter().map(|(_, r)| r).collect(),
        };
        if let Ok(s) = stub(env, mode) {
            let _ = call(&s, "/record", Some(&msg)).await;
        }
    }
}

fn rows_of(attempts: &[Attempt]) -> Vec<Row> {
    // A processor skipped (its circuit open) was not called: not an attempt
    // of its own in its figures.
    let attempts: Vec<&Attempt> = attempts
        .iter()
        .filter(|a| a.outcome != AttemptOutcome::Skipped)
        .collect();
    let last = attempts.len().saturating_sub(1);
    attempts
        .iter()
        .enumerate()
        .map(|(i, a)| Row {
            processor: a.processor.clone(),
            outcome: outcome_name(a.outcome).to_owned(),
            latency_ms: i64::try_from(a.latency_ms).unwrap_or(i64::MAX),
            // Authorized after an earlier processor in the plan failed.
            recovered: if i == last
                && i > 0
                && a.outcome == AttemptOutcome::Authorized
                && attempts[..i].iter().any(|p| p.processor != a.processor)
            {
                1
            } else {
                0
            },
        })
        .collect()
}

pub(crate) async fn get(
    request: &Call,
    env: &Env,
    query: Option<String>,
) -> Result<Response, ApiError> {
    let mut window_s: u64 = 3600;
    for (k, v) in query
        .as_deref()
        .unwrap_or("")
        .split('&')
        .filter_map(|p| p.split_once('='))
    {
        if k == "window" {
            window_s = v
                .parse::<u64>()
                .ok()
                .filter(|w| (1..=30 * 86400).contains(w))
                .ok_or_else(|| {
                    ApiError::invalid(
                        "window",
                        "parameter_invalid_integer",
                        "window is a number of seconds, 1 to 2592000.",
                    )
                })?;
        }
    }
    // This isolate's own attempts first, so that a client sees its own.
    if PENDING.with(|p| !p.borrow().rows.is_empty()) {
        flush(env).await;
    }
    let a = call::<()>(
        &stub(env, request.principal.mode)?,
        &format!(
            "/query?since={}&window={window_s}",
            now_ms().saturating_sub(window_s * 1000)
        ),
        None,
    )
    .await?;
    Ok(answer_response(a))
}

#[durable_object]
pub struct MetricsObject {
    sql: SqlStorage,
    ready: bool,
}

impl DurableObject for MetricsObject {
    fn new(state: State, _env: Env) -> Self {
        let sql = state.storage().sql();
        let ready = sql
            .exec(
                "CREATE TABLE IF NOT EXISTS attempts (ts INTEGER NOT NULL, processor TEXT NOT NULL, \
                 outcome TEXT NOT NULL, latency_ms INTEGER NOT NULL, recovered INTEGER NOT NULL)",
                None,
            )
            .is_ok();
        Self { sql, ready }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        if !self.ready {
            return Ok(error_response(&ApiError::internal(
                "metrics storage is unavailable",
            )));
        }
        let url = req.url()?;
        if url.path() == "/record" {
            let text = req.text().await.unwrap_or_default();
            if let Ok(m) = serde_json::from_str::<RecordMsg>(&text) {
                for r in m.rows {
                    self.sql.exec(
                        "INSERT INTO attempts (ts, processor, outcome, latency_ms, recovered) VALUES (?, ?, ?, ?, ?)",
                        vec![
                            integer(m.now_ms),
                            SqlStorageValue::from(r.processor),
                            SqlStorageValue::from(r.outcome),
                            SqlStorageValue::from(r.latency_ms),
                            SqlStorageValue::from(r.recovered),
                        ],
                    )?;
                }
                // Keep 30 days.
                let horizon = integer(m.now_ms.saturating_sub(30 * 86_400_000));
                self.sql
                    .exec("DELETE FROM attempts WHERE ts < ?", vec![horizon])?;
            }
            return Ok(json_response(200, &json!({"ok": true})));
        }
        let mut since = 0u64;
        let mut window = 0u64;
        for (k, v) in url.query_pairs() {
            match k.as_ref() {
                "since" => since = v.parse().unwrap_or(0),
                "window" => window = v.parse().unwrap_or(0),
                _ => {}
            }
        }
        let rows: Vec<Row> = self
            .sql
            .exec(
                "SELECT processor, outcome, latency_ms, recovered FROM attempts WHERE ts >= ? ORDER BY processor",
                vec![integer(since)],
            )?
            .to_array()?;
        Ok(json_response(200, &summarise(&rows, window)))
    }
}

fn percentile(sorted: &[i64], p: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted
        .get(rank.saturating_sub(1).min(sorted.len() - 1))
        .copied()
}

fn summarise(rows: &[Row], window: u64) -> Value {
    let mut by: std::collections::BTreeMap<&str, Vec<&Row>> = Default::default();
    for r in rows {
        by.entry(r.processor.as_str()).or_default().push(r);
    }
    let mut out = Map::new();
    for (p, rs) in by {
        let count = |o: &str| rs.iter().filter(|r| r.outcome == o).count();
        let attempts = rs.len();
        let authorized = count("authorized");
        let mut lat: Vec<i64> = rs.iter().map(|r| r.latency_ms).collect();
        lat.sort_unstable();
        out.insert(
            p.to_owned(),
            json!({
                "attempts": attempts,
                "authorized": authorized,
                "soft_declines": count("soft_decline"),
                "hard_declines": count("hard_decline"),
                "errors": count("not_processed") + count("unknown"),
                "authorization_rate": if attempts > 0 { authorized as f64 / attempts as f64 } else { 0.0 },
                "latency_ms": { "p50": percentile(&lat, 50.0), "p95": percentile(&lat, 95.0) },
                "recovered_by_retry": rs.iter().filter(|r| r.recovered > 0).count(),
            }),
        );
    }
    json!({ "object": "routing_metrics", "window_seconds": window, "processors": out })
}
