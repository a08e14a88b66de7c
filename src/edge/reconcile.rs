//! Reconciliation: what is left unsettled (a `processing` payment, a
//! refund whose outcome is unknown, a payment given up on) is kept in one
//! `ReconcileQueueObject` per mode until it is settled. The payment objects
//! put and take entries as their operations end (rare: only unknown
//! outcomes); a scheduled trigger (`[triggers] crons` in `wrangler.toml`)
//! and `POST /v1/routing/reconcile` work through the queue:
//!
//! - a payment or a refund is retrieved through its object, which asks the
//!   processor by the call's key (`payment::execute`) and settles it;
//! - a given-up payment's processors are asked again for a day
//!   (`payment::check_given_up`), and an authorization found is voided.
//!
//! The scheduled pass takes entries whose time has come (backing off from
//! a minute to an hour); the API call takes them all, up to its limit.

use serde::{Deserialize, Serialize};
use serde_json::json;
use worker::{
    console_error, console_log, durable_object, DurableObject, Env, Request, Response, SqlStorage,
    SqlStorageValue, State,
};

use super::config::config;
use super::objects::{call, stub, Binding};
use super::payments;
use super::request::Call;
use super::runtime::{error_response, json_response, now_ms};
use super::sql::integer;
use super::transport::EdgeTransport;
use crate::auth::Mode;
use crate::error::ApiError;
use crate::payment::{check_given_up, GivenUp, LateCheck, Unsettled};

/// A given-up payment is watched this long.
const WATCH_GIVEN_UP_MS: u64 = 24 * 3_600_000;
/// How often a given-up payment's processors are asked.
const GIVEN_UP_EVERY_MS: u64 = 10 * 60_000;
/// Entries one pass works through, per mode (each costs a few
/// subrequests).
const PASS_LIMIT: u32 = 50;

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Entry {
    Payment { id: String },
    Refund { id: String },
    GivenUp(GivenUp),
}

impl Entry {
    fn key(&self) -> String {
        match self {
            Entry::Payment { id } => format!("payment:{id}"),
            Entry::Refund { id } => format!("refund:{id}"),
            Entry::GivenUp(g) => format!("given_up:{}:{}", g.payment_id, g.seq),
        }
    }
    fn of(u: Unsettled) -> Entry {
        match u {
            Unsettled::Payment(id) => Entry::Payment { id },
            Unsettled::Refund(id) => Entry::Refund { id },
            Unsettled::GivenUp(g) => Entry::GivenUp(g),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Change {
    key: String,
    /// `None`: settled, forget it.
    entry: Option<Entry>,
    now_ms: u64,
}

/// A pass's word on an entry: its next try (`None`: forget it).
#[derive(Serialize, Deserialize)]
struct Retry {
    key: String,
    next_ms: Option<u64>,
}

#[derive(Serialize, Deserialize)]
struct Count {
    n: i64,
}

#[derive(Serialize, Deserialize)]
struct Row {
    key: String,
    body: String,
    added_ms: i64,
    tries: i64,
}

fn queue(env: &Env, mode: Mode) -> Result<worker::Stub, ApiError> {
    stub(env, Binding::Reconcile, mode, None)
}

/// Called by a payment object after an operation: watch or forget.
pub(crate) async fn note(env: &Env, mode: Mode, changes: Vec<(Unsettled, bool)>) {
    for (u, watch) in changes {
        let entry = Entry::of(u);
        let change = Change {
            key: entry.key(),
            entry: watch.then_some(entry),
            now_ms: now_ms(),
        };
        let done = match queue(env, mode) {
            Ok(q) => call(&q, "/change", Some(&change)).await.map(|_| ()),
            Err(e) => Err(e),
        };
        if let Err(e) = done {
            // The payment itself still reconciles when it is retrieved.
            console_error!(
                "reconciliation queue not updated for {}: {}",
                change.key,
                e.message
            );
        }
    }
}

/// What one entry came to.
#[derive(Serialize)]
struct Settled {
    id: String,
    kind: &'static str,
    /// The payment's or refund's status now; for a given-up payment,
    /// `voided`, `nothing` or `watching`.
    status: String,
    settled: bool,
}

/// Works through the mode's queue: entries due (`all`: every entry), up to
/// `PASS_LIMIT`.
async fn pass(env: &Env, mode: Mode, all: bool) -> Result<(Vec<Settled>, u64), ApiError> {
    let q = queue(env, mode)?;
    let now = now_ms();
    let due = call::<()>(
        &q,
        &format!("/due?now={now}&limit={PASS_LIMIT}&all={all}"),
        None,
    )
    .await?;
    #[derive(Deserialize)]
    struct Due {
        rows: Vec<Row>,
        remaining: u64,
    }
    let Due { rows, remaining } = serde_json::from_str(due.body.get())
        .map_err(|e| ApiError::internal(format!("reconciliation queue: {e}")))?;
    let mut out = Vec::new();
    for row in rows {
        let Ok(entry) = serde_json::from_str::<Entry>(&row.body) else {
            let _ = call(
                &q,
                "/change",
                Some(&Change {
                    key: row.key,
                    entry: None,
                    now_ms: now,
                }),
            )
            .await;
            continue;
        };
        let s = settle(env, mode, &entry, row.added_ms, now).await;
        // A payment's or refund's object updates the queue itself (it
        // forgets what it settled); here its retry time moves. A given-up
        // entry ends here.
        let given_up = matches!(entry, Entry::GivenUp(_));
        let next = if s.settled && given_up {
            None
        } else {
            let backoff = match entry {
                Entry::GivenUp(_) => GIVEN_UP_EVERY_MS,
                _ => 60_000u64.saturating_mul(1 << row.tries.clamp(0, 6)),
            };
            Some(now + backoff.min(3_600_000))
        };
        let watched = call(
            &q,
            "/retry",
            Some(&Retry {
                key: entry.key(),
                next_ms: next,
            }),
        )
        .await
        .ok()
        .and_then(|a| serde_json::from_str::<serde_json::Value>(a.body.get()).ok())
        .and_then(|v| v["watched"].as_bool());
        let mut s = s;
        // Settled when the payment's object no longer watches it.
        if !given_up {
            s.settled = watched == Some(false);
        }
        out.push(s);
    }
    Ok((out, remaining))
}

async fn settle(env: &Env, mode: Mode, entry: &Entry, added_ms: i64, now: u64) -> Settled {
    match entry {
        Entry::Payment { id } | Entry::Refund { id } => {
            let refund = matches!(entry, Entry::Refund { .. });
            let status = payments::reconcile_at_object(env, mode, id, refund)
                .await
                .unwrap_or_else(|e| format!("error: {}", e.message));
            let settled =
                !(status == "processing" || status == "pending" || status.starts_with("error"));
            Settled {
                id: id.clone(),
                kind: if refund { "refund" } else { "payment_intent" },
                status,
                settled,
            }
        }
        Entry::GivenUp(g) => {
            let config = config(env);
            let configs = config.processors(mode).unwrap_or(&[]);
            let transport = EdgeTransport { env, mode };
            let found = check_given_up(&transport, configs, g).await;
            let expired =
                now.saturating_sub(u64::try_from(added_ms).unwrap_or(0)) > WATCH_GIVEN_UP_MS;
            let (status, settled) = match &found {
                LateCheck::Voided { processor, .. } => {
                    console_log!(
                        "reconciliation: a late authorization of {} at {processor} was voided",
                        g.payment_id
                    );
                    ("voided".to_owned(), true)
                }
                LateCheck::Nothing => ("nothing".to_owned(), expired),
                LateCheck::Unsettled { reason } => {
                    console_error!("reconciliation: {}: {reason}", g.payment_id);
                    ("watching".to_owned(), false)
                }
            };
            Settled {
                id: g.payment_id.clone(),
                kind: "given_up_payment",
                status,
                settled,
            }
        }
    }
}

/// The scheduled trigger: a pass over each mode's due entries.
pub(crate) async fn scheduled(env: &Env) {
    for mode in [Mode::Test, Mode::Live] {
        match pass(env, mode, false).await {
            Ok((done, remaining)) if !done.is_empty() => console_log!(
                "reconciliation ({}): {} checked, {} settled, {remaining} left for the next pass",
                mode.as_str(),
                done.len(),
                done.iter().filter(|s| s.settled).count()
            ),
            Ok(_) => {}
            Err(e) => console_error!("reconciliation ({}): {}", mode.as_str(), e.message),
        }
    }
}

/// `POST /v1/routing/reconcile`: a pass over the caller's mode's entries,
/// now, up to `PASS_LIMIT` (payments and refunds first); `remaining` says
/// how many are left for another call.
pub(crate) async fn api(call: &Call, env: &Env) -> Result<Response, ApiError> {
    let mode = call.principal.mode;
    let (done, remaining) = pass(env, mode, true).await?;
    let settled = done.iter().filter(|s| s.settled).count();
    Ok(json_response(
        200,
        &json!({
            "object": "reconciliation",
            "livemode": mode == Mode::Live,
            "checked": done.len(),
            "settled": settled,
            "unsettled": done.len() - settled,
            // Entries beyond this call's limit: call again.
            "remaining": remaining,
            "data": done,
        }),
    ))
}

#[durable_object]
pub struct ReconcileQueueObject {
    sql: SqlStorage,
    ready: bool,
}

impl ReconcileQueueObject {
    /// The `n` of a `SELECT count(*) AS n ...`.
    fn count(&self, query: &str, params: Vec<SqlStorageValue>) -> worker::Result<i64> {
        Ok(self
            .sql
            .exec(query, params)?
            .to_array::<Count>()?
            .first()
            .map_or(0, |c| c.n))
    }
}

impl DurableObject for ReconcileQueueObject {
    fn new(state: State, _env: Env) -> Self {
        let sql = state.storage().sql();
        let ready = sql
            .exec(
                "CREATE TABLE IF NOT EXISTS entries (key TEXT PRIMARY KEY, body TEXT NOT NULL, \
                 added_ms INTEGER NOT NULL, next_ms INTEGER NOT NULL, tries INTEGER NOT NULL)",
                None,
            )
            .is_ok();
        Self { sql, ready }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        if !self.ready {
            return Ok(error_response(&ApiError::internal(
                "reconciliation storage is unavailable",
            )));
        }
        let url = req.url()?;
        match url.path() {
            "/change" => {
                let text = req.text().await.unwrap_or_default();
                let Ok(c) = serde_json::from_str::<Change>(&text) else {
                    return Ok(error_response(&ApiError::internal("bad queue change")));
                };
                match c.entry {
                    Some(entry) => {
                        let body = serde_json::to_string(&entry)?;
                        // A first note starts the clock; a repeated one
                        // keeps the entry's age and schedule.
                        self.sql.exec(
                            "INSERT INTO entries (key, body, added_ms, next_ms, tries) VALUES (?, ?, ?, ?, 0) \
                             ON CONFLICT(key) DO UPDATE SET body = excluded.body",
                            vec![
                                SqlStorageValue::from(c.key),
                                SqlStorageValue::from(body),
                                integer(c.now_ms),
                                integer(c.now_ms),
                            ],
                        )?;
                    }
                    None => {
                        self.sql.exec(
                            "DELETE FROM entries WHERE key = ?",
                            vec![SqlStorageValue::from(c.key)],
                        )?;
                    }
                }
                Ok(json_response(200, &json!({"ok": true})))
            }
            "/retry" => {
                let text = req.text().await.unwrap_or_default();
                let Ok(Retry { key, next_ms }) = serde_json::from_str::<Retry>(&text) else {
                    return Ok(error_response(&ApiError::internal("bad queue retry")));
                };
                let watched = self.count(
                    "SELECT count(*) AS n FROM entries WHERE key = ?",
                    vec![SqlStorageValue::from(key.clone())],
                )? > 0;
                match next_ms {
                    Some(next) => {
                        self.sql.exec(
                            "UPDATE entries SET next_ms = ?, tries = tries + 1 WHERE key = ?",
                            vec![integer(next), SqlStorageValue::from(key)],
                        )?;
                    }
                    None => {
                        self.sql.exec(
                            "DELETE FROM entries WHERE key = ?",
                            vec![SqlStorageValue::from(key)],
                        )?;
                    }
                }
                Ok(json_response(200, &json!({ "watched": watched })))
            }
            "/due" => {
                let mut now = 0u64;
                let mut limit = 50u64;
                let mut all = false;
                for (k, v) in url.query_pairs() {
                    match k.as_ref() {
                        "now" => now = v.parse().unwrap_or(0),
                        "limit" => limit = v.parse().unwrap_or(50),
                        "all" => all = v == "true",
                        _ => {}
                    }
                }
                // Every entry: any time up to 2^52 ms (JavaScript numbers are exact there).
                let until = if all { 1u64 << 52 } else { now };
                // Payments and refunds first: a day of given-up payments
                // never crowds them out of a pass.
                let rows: Vec<Row> = self
                    .sql
                    .exec(
                        "SELECT key, body, added_ms, tries FROM entries WHERE next_ms <= ? \
                         ORDER BY (key LIKE 'given_up:%'), next_ms LIMIT ?",
                        vec![integer(until), integer(limit)],
                    )?
                    .to_array()?;
                let due = self.count(
                    "SELECT count(*) AS n FROM entries WHERE next_ms <= ?",
                    vec![integer(until)],
                )?;
                let remaining = (due - rows.len() as i64).max(0);
                Ok(json_response(
                    200,
                    &json!({ "rows": rows, "remaining": remaining }),
                ))
            }
            _ => Ok(error_response(&ApiError::internal("unknown queue call"))),
        }
    }
}
