//! The sandbox processor's own system: one Durable Object per simulated
//! processor (`<mode>:<processor id>`), holding its ledger (payments,
//! captures, refunds) and its idempotency records, answering like a
//! processor's test environment. The decisions are
//! `switchyard_processors::sandbox::simulate`; this file is the I/O.
//!
//! It reads card numbers from the request to decide, and stores none.

use std::cell::Cell;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Value};
use switchyard_processors::sandbox::{
    simulate_with, Behaviour, Controls, ControlsUpdate, SandboxPayment, SandboxRequest,
    BEHAVIOUR_HEADER,
};
use worker::{
    durable_object, Delay, DurableObject, Env, Request, Response, SqlStorage, SqlStorageValue,
    State,
};

use super::runtime::{json_response, random_token};
use super::sql::SqlStore;
use crate::storage::Docs;

/// The document holding the sandbox's controls (absent: the defaults).
const CONTROLS_DOC: &str = "controls";

#[durable_object]
pub struct SandboxObject {
    sql: SqlStorage,
    ready: Cell<bool>,
}

#[derive(Deserialize)]
struct Stored {
    status: i64,
    body: String,
}

#[derive(Deserialize)]
struct Count {
    op: String,
    n: i64,
}

impl DurableObject for SandboxObject {
    fn new(state: State, _env: Env) -> Self {
        let sql = state.storage().sql();
        let ready = Cell::new(false);
        let ok = SqlStore::new(&sql, &ready).init().is_ok()
            && sql
                .exec(
                    "CREATE TABLE IF NOT EXISTS answers (k TEXT PRIMARY KEY, op TEXT NOT NULL, status INTEGER NOT NULL, body TEXT NOT NULL)",
                    None,
                )
                .is_ok();
        ready.set(ok);
        Self { sql, ready }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        if !self.ready.get() {
            return Ok(json_response(
                500,
                &json!({"status": "error", "message": "sandbox storage unavailable"}),
            ));
        }
        let path = req.path();
        if path == "/stats" {
            return Ok(json_response(200, &self.stats()));
        }
        // The front's `POST /v1/sandbox/processors/:id` (processor calls
        // come as `/{processor id}/v1/{op}`).
        if path == "/controls" {
            let update: Option<ControlsUpdate> = req.json().await.ok();
            let Some(update) = update else {
                return Ok(json_response(
                    400,
                    &json!({"status": "invalid", "message": "unreadable controls"}),
                ));
            };
            let controls = self.controls().with(&update);
            if let Err(e) = SqlStore::new(&self.sql, &self.ready).put(CONTROLS_DOC, &controls) {
                return Ok(json_response(
                    500,
                    &json!({"status": "error", "message": e.message}),
                ));
            }
            return Ok(json_response(200, &self.stats()));
        }
        let op = path.rsplit('/').next().unwrap_or("").to_owned();
        let key = req
            .headers()
            .get("idempotency-key")
            .ok()
            .flatten()
            .unwrap_or_default();
        let behaviour: Option<Behaviour> = req
            .headers()
            .get(BEHAVIOUR_HEADER)
            .ok()
            .flatten()
            .and_then(|b| serde_json::from_str(&b).ok());
        let text = req.text().await.unwrap_or_default();
        let lost_answers = behaviour
            .as_ref()
            .is_some_and(|b| b.failure == Some(switchyard_processors::FailureMode::LostAnswers));
        // A lookup: the stored answer of an earlier call, or 404.
        if op == "lookup" {
            if let Some(b) = &behaviour {
                Delay::from(Duration::from_millis(u64::from(b.latency_ms))).await;
            }
            return Ok(match self.stored(&key) {
                Some((status, body)) => answer(status, &body, false),
                None => answer(
                    404,
                    &json!({"status": "not_found", "message": "no request with this idempotency key"}),
                    false,
                ),
            });
        }
        // A retry with a known key gets the stored answer at once (unless
        // this processor loses its answers).
        if !key.is_empty() {
            if let Some((status, body)) = self.stored(&key) {
                if let (true, Some(b)) = (lost_answers && op == "authorize", &behaviour) {
                    Delay::from(Duration::from_millis(u64::from(b.hold_ms))).await;
                }
                return Ok(answer(status, &body, false));
            }
        }
        let parsed: Result<SandboxRequest, _> = serde_json::from_str(&text);
        drop(text);
        let Ok(sreq) = parsed else {
            return Ok(answer(
                400,
                &json!({"status": "invalid", "message": "unreadable request"}),
                false,
            ));
        };
        let existing: Option<SandboxPayment> = sreq.payment.as_deref().and_then(|r| {
            SqlStore::new(&self.sql, &self.ready)
                .get(&format!("payment:{r}"))
                .ok()
                .flatten()
        });
        let prefix = if op == "refund" { "sbr_" } else { "sbx_" };
        let reference = match random_token(20) {
            Ok(token) => format!("{prefix}{token}"),
            Err(_) => {
                return Ok(answer(
                    500,
                    &json!({"status": "error", "message": "no random source"}),
                    true,
                ))
            }
        };
        let reply = simulate_with(
            &op,
            &sreq,
            existing.as_ref(),
            &reference,
            behaviour.as_ref(),
            &self.controls(),
        );
        drop(sreq);
        // Not-processed answers are not stored: a retry is processed anew.
        let processed = !reply.not_processed && reply.status != 429;
        if processed && !key.is_empty() {
            if let Some(l) = &reply.ledger {
                let _ = SqlStore::new(&self.sql, &self.ready)
                    .put(&format!("payment:{}", l.reference), l);
            }
            let _ = self.sql.exec(
                "INSERT OR IGNORE INTO answers (k, op, status, body) VALUES (?, ?, ?, ?)",
                vec![
                    SqlStorageValue::from(key.clone()),
                    SqlStorageValue::from(op.clone()),
                    SqlStorageValue::from(i64::from(reply.status)),
                    SqlStorageValue::from(reply.body.to_string()),
                ],
            );
        }
        // Simulated processing time, after the ledger is written (the
        // processor has accepted the request by now).
        let b = behaviour.unwrap_or(Behaviour {
            latency_ms: 0,
            failure: None,
            slow_ms: 0,
            hold_ms: 0,
        });
        let mut wait = u64::from(b.latency_ms);
        match b.failure {
            Some(switchyard_processors::FailureMode::Slow) => wait += u64::from(b.slow_ms),
            Some(
                switchyard_processors::FailureMode::TimeoutAfterAccept
                | switchyard_processors::FailureMode::LostAnswers,
            ) if op == "authorize" => wait += u64::from(b.hold_ms),
            _ => {}
        }
        if wait > 0 {
            Delay::from(Duration::from_millis(wait)).await;
        }
        Ok(answer(reply.status, &reply.body, reply.not_processed))
    }
}

fn answer(status: u16, body: &Value, not_processed: bool) -> Response {
    let r = json_response(status, body);
    if not_processed {
        let _ = r.headers().set("sandbox-not-processed", "true");
    }
    r
}

impl SandboxObject {
    fn stored(&self, key: &str) -> Option<(u16, Value)> {
        let rows: Vec<Stored> = self
            .sql
            .exec(
                "SELECT status, body FROM answers WHERE k = ?",
                vec![SqlStorageValue::from(key.to_owned())],
            )
            .ok()?
            .to_array()
            .ok()?;
        let r = rows.into_iter().next()?;
        Some((
            u16::try_from(r.status).unwrap_or(500),
            serde_json::from_str(&r.body).unwrap_or(Value::Null),
        ))
    }

    /// The controls in force (the defaults when none were set, or when
    /// their document cannot be read).
    fn controls(&self) -> Controls {
        SqlStore::new(&self.sql, &self.ready)
            .get(CONTROLS_DOC)
            .ok()
            .flatten()
            .unwrap_or_default()
    }

    /// Requests processed, by operation, and approved authorizations; the
    /// controls in force.
    fn stats(&self) -> Value {
        let counts: Vec<Count> = self
            .sql
            .exec("SELECT op, COUNT(*) AS n FROM answers GROUP BY op", None)
            .and_then(|c| c.to_array())
            .unwrap_or_default();
        let approved: Vec<Count> = self
            .sql
            .exec(
                "SELECT op, COUNT(*) AS n FROM answers WHERE status = 200 GROUP BY op",
                None,
            )
            .and_then(|c| c.to_array())
            .unwrap_or_default();
        let mut processed = serde_json::Map::new();
        for c in counts {
            processed.insert(c.op, json!(c.n));
        }
        let mut ok = serde_json::Map::new();
        for c in approved {
            ok.insert(c.op, json!(c.n));
        }
        let controls = self.controls().view();
        json!({
            "processed": processed,
            "approved": ok,
            "decline_share": controls["decline_share"],
            "decline_code": controls["decline_code"],
        })
    }
}
