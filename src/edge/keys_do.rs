//! The idempotency keys of a mode, across payments: one Durable Object per
//! `<mode>:<shard>` (`SHARDS` of them, by a hash of the key), each mapping
//! a key to the fingerprint of the request that first used it.
//!
//! The replay itself (the stored answer, 409 while in flight) lives in the
//! payment's own object, next to the state it describes. This index only
//! catches a key reused with other parameters when the second use reaches
//! another object (a refund of another payment, a create after a capture,
//! a rule set's creation or activation after a payment, ...), which the
//! first object cannot see: Stripe answers 400
//! `idempotency_error` then, and so do we. A key whose first request was
//! refused before it started executing is released here too, as Stripe
//! saves no result for it.
//!
//! Known limit: a release races with an identical retry that was bound
//! while the refused request was on its way back; the retry's binding goes
//! with the release, so a later reuse of that key with other parameters on
//! another object is not caught. (The retry itself is still replayed by its
//! payment's object.) A binding made just before its request failed in
//! transport stays: a retry with the same parameters passes, others get the
//! 400.
//!
//! Its handlers never await: each is one synchronous run of SQL.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use worker::{
    durable_object, DurableObject, Env, Request, Response, SqlStorage, SqlStorageValue, State, Stub,
};

use super::objects::{call, stub as object_stub, Binding, Touched};
use super::runtime::{error_response, json_response, now_ms};
use super::sql::integer;
use crate::auth::Mode;
use crate::error::ApiError;
use crate::protocol::Idem;
use crate::storage::{bind_key, KeyBinding, IDEM_TTL_MS};

/// Shards per mode: each is one object, so that keyed requests of a busy
/// account do not queue on a single object.
const SHARDS: u8 = 32;

/// The shard of a key.
fn shard_of(key: &str) -> u8 {
    Sha256::digest(key.as_bytes())[0] % SHARDS
}

fn stub(env: &Env, mode: Mode, key: &str) -> Result<Stub, ApiError> {
    object_stub(
        env,
        Binding::IdempotencyKeys,
        mode,
        Some(&shard_of(key).to_string()),
    )
}

#[derive(Serialize, Deserialize)]
struct KeyMsg {
    key: String,
    fingerprint: String,
    now_ms: u64,
    /// A create's new payment id, bound with the key if it is free.
    #[serde(default)]
    payment_id: Option<String>,
}

impl KeyMsg {
    fn of(idem: &Idem) -> Self {
        KeyMsg {
            key: idem.key.clone(),
            fingerprint: idem.fingerprint.clone(),
            now_ms: now_ms(),
            payment_id: None,
        }
    }
}

/// The index's answer to `/bind`.
#[derive(Serialize, Deserialize)]
struct Bound {
    /// The payment a create's key is bound to.
    payment_id: Option<String>,
}

/// Binds a key to the fingerprint of its request for 24 hours; a key bound
/// to another fingerprint is a 400 `idempotency_error`. A create proposes
/// its new payment id: the answer is the payment the key is bound to (that
/// one, or the first request's, for a retry).
pub(crate) async fn bind(
    env: &Env,
    mode: Mode,
    idem: &Idem,
    payment_id: Option<&str>,
    touched: &Touched,
) -> Result<Option<String>, ApiError> {
    let mut msg = KeyMsg::of(idem);
    msg.payment_id = payment_id.map(str::to_owned);
    let shard = shard_of(&idem.key).to_string();
    let stub = touched.stub(env, Binding::IdempotencyKeys, mode, Some(&shard))?;
    let a = call(&stub, "/bind", Some(&msg)).await?;
    if a.status == 200 {
        let bound: Bound = serde_json::from_str(a.body.get())
            .map_err(|e| ApiError::internal(format!("unreadable key index answer: {e}")))?;
        Ok(bound.payment_id)
    } else if a.status == 400 {
        Err(ApiError::idempotency_reused())
    } else {
        Err(ApiError::internal(
            "the idempotency key index did not answer",
        ))
    }
}

/// Forgets a key whose request was refused before it started executing.
pub(crate) async fn release(env: &Env, mode: Mode, idem: &Idem) -> Result<(), ApiError> {
    let msg = KeyMsg::of(idem);
    call(&stub(env, mode, &idem.key)?, "/release", Some(&msg)).await?;
    Ok(())
}

#[derive(Deserialize)]
struct Row {
    fingerprint: String,
    created_ms: i64,
    payment_id: Option<String>,
}

#[durable_object]
pub struct IdempotencyKeysObject {
    sql: SqlStorage,
}

impl DurableObject for IdempotencyKeysObject {
    fn new(state: State, _env: Env) -> Self {
        let sql = state.storage().sql();
        let _ = sql.exec(
            "CREATE TABLE IF NOT EXISTS keys (k TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, \
             created_ms INTEGER NOT NULL, payment_id TEXT)",
            None,
        );
        // Tables made before payment ids were bound here gain the column
        // (an error when it is there already, which is the point).
        let _ = sql.exec("ALTER TABLE keys ADD COLUMN payment_id TEXT", None);
        let _ = sql.exec(
            "CREATE INDEX IF NOT EXISTS keys_created ON keys (created_ms)",
            None,
        );
        Self { sql }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        let path = req.path();
        let text = req.text().await.unwrap_or_default();
        // From here on: no awaits.
        let Ok(msg) = serde_json::from_str::<KeyMsg>(&text) else {
            return Ok(error_response(&ApiError::internal(
                "unreadable key message",
            )));
        };
        let result = match path.as_str() {
            "/bind" => self.bind(&msg),
            "/release" => self.release(&msg).map(|()| Bound { payment_id: None }),
            _ => Err(ApiError::internal("unknown key index call")),
        };
        Ok(match result {
            Ok(bound) => json_response(200, &serde_json::json!(bound)),
            Err(e) => error_response(&e),
        })
    }
}

impl IdempotencyKeysObject {
    fn bind(&self, m: &KeyMsg) -> Result<Bound, ApiError> {
        let rows: Vec<Row> = self
            .sql
            .exec(
                "SELECT fingerprint, created_ms, payment_id FROM keys WHERE k = ?",
                vec![SqlStorageValue::from(m.key.clone())],
            )?
            .to_array()?;
        let existing = rows.into_iter().next().map(|r| KeyBinding {
            fingerprint: r.fingerprint,
            created_ms: u64::try_from(r.created_ms).unwrap_or(0),
            payment_id: r.payment_id,
        });
        if let Some(payment_id) = bind_key(existing.as_ref(), &m.fingerprint, m.now_ms)? {
            return Ok(Bound { payment_id });
        }
        // Expired records go a few at a time, as keys are bound.
        let cutoff = integer(m.now_ms.saturating_sub(IDEM_TTL_MS));
        self.sql.exec(
            "DELETE FROM keys WHERE k IN (SELECT k FROM keys WHERE created_ms < ? LIMIT 16)",
            vec![cutoff],
        )?;
        let payment_id = match &m.payment_id {
            Some(p) => SqlStorageValue::from(p.clone()),
            None => SqlStorageValue::Null,
        };
        self.sql.exec(
            "INSERT INTO keys (k, fingerprint, created_ms, payment_id) VALUES (?, ?, ?, ?) \
             ON CONFLICT(k) DO UPDATE SET fingerprint = excluded.fingerprint, \
             created_ms = excluded.created_ms, payment_id = excluded.payment_id",
            vec![
                SqlStorageValue::from(m.key.clone()),
                SqlStorageValue::from(m.fingerprint.clone()),
                integer(m.now_ms),
                payment_id,
            ],
        )?;
        Ok(Bound {
            payment_id: m.payment_id.clone(),
        })
    }

    fn release(&self, m: &KeyMsg) -> Result<(), ApiError> {
        self.sql.exec(
            "DELETE FROM keys WHERE k = ? AND fingerprint = ?",
            vec![
                SqlStorageValue::from(m.key.clone()),
                SqlStorageValue::from(m.fingerprint.clone()),
            ],
        )?;
        Ok(())
    }
}
