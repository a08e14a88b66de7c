//! Small helpers over a Durable Object's SQLite storage: JSON documents by
//! key, and idempotency records with Stripe's semantics.
//!
//! Every function here is synchronous (`sql.exec`), so a handler that uses
//! only these and does not await runs without interleaving with any other
//! request to the same object.

use serde::{de::DeserializeOwned, Deserialize, Serialize};
use serde_json::Value;
use worker::{SqlStorage, SqlStorageValue};

use crate::error::ApiError;
use crate::protocol::{Answer, Idem};

/// How long an idempotency record is replayed.
pub const IDEM_TTL_MS: u64 = 24 * 60 * 60 * 1000;
/// An in-flight record older than this was abandoned (the object was
/// restarted mid-call); a retry with the same key takes it over.
pub const IDEM_STALE_MS: u64 = 60_000;

/// Whether this object's tables exist (a read: an object that was never
/// written stays empty).
pub fn exists(sql: &SqlStorage) -> worker::Result<bool> {
    #[derive(Deserialize)]
    struct N {
        n: i64,
    }
    let rows: Vec<N> = sql
        .exec(
            "SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'docs'",
            None,
        )?
        .to_array()?;
    Ok(rows.first().is_some_and(|r| r.n > 0))
}

pub fn init(sql: &SqlStorage) -> worker::Result<()> {
    sql.exec(
        "CREATE TABLE IF NOT EXISTS docs (k TEXT PRIMARY KEY, doc TEXT NOT NULL)",
        None,
    )?;
    sql.exec(
        "CREATE TABLE IF NOT EXISTS idem (k TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, \
         state TEXT NOT NULL, status INTEGER, body TEXT, created_ms REAL NOT NULL)",
        None,
    )?;
    Ok(())
}

#[derive(Deserialize)]
struct DocRow {
    doc: String,
}

pub fn get<T: DeserializeOwned>(sql: &SqlStorage, key: &str) -> Result<Option<T>, ApiError> {
    let rows: Vec<DocRow> = sql
        .exec(
            "SELECT doc FROM docs WHERE k = ?",
            vec![SqlStorageValue::from(key.to_owned())],
        )?
        .to_array()?;
    match rows.into_iter().next() {
        None => Ok(None),
        Some(r) => serde_json::from_str(&r.doc)
            .map(Some)
            .map_err(|e| ApiError::internal(format!("stored document {key} is unreadable: {e}"))),
    }
}

pub fn put<T: Serialize>(sql: &SqlStorage, key: &str, doc: &T) -> Result<(), ApiError> {
    let text = serde_json::to_string(doc)
        .map_err(|e| ApiError::internal(format!("could not serialise {key}: {e}")))?;
    sql.exec(
        "INSERT INTO docs (k, doc) VALUES (?, ?) ON CONFLICT(k) DO UPDATE SET doc = excluded.doc",
        vec![
            SqlStorageValue::from(key.to_owned()),
            SqlStorageValue::from(text),
        ],
    )?;
    Ok(())
}

/// Documents whose key starts with `prefix`, in key order.
pub fn list<T: DeserializeOwned>(sql: &SqlStorage, prefix: &str) -> Result<Vec<T>, ApiError> {
    let rows: Vec<DocRow> = sql
        .exec(
            "SELECT doc FROM docs WHERE substr(k, 1, ?) = ? ORDER BY k",
            vec![
                SqlStorageValue::from(prefix.len() as i64),
                SqlStorageValue::from(prefix.to_owned()),
            ],
        )?
        .to_array()?;
    rows.into_iter()
        .map(|r| {
            serde_json::from_str(&r.doc)
                .map_err(|e| ApiError::internal(format!("stored document is unreadable: {e}")))
        })
        .collect()
}

#[derive(Deserialize)]
struct IdemRow {
    fingerprint: String,
    state: String,
    status: Option<f64>,
    body: Option<String>,
    created_ms: f64,
}

pub enum IdemCheck {
    /// First use (or an expired / abandoned record): the key is now claimed.
    Claimed,
    Replay(Answer),
}

/// Checks an idempotency key and claims it. Errors: 400 `idempotency_error`
/// when the key was used with other parameters, 409 while the first request
/// is in flight.
pub fn claim(sql: &SqlStorage, idem: &Idem, now_ms: u64) -> Result<IdemCheck, ApiError> {
    let rows: Vec<IdemRow> = sql
        .exec(
            "SELECT fingerprint, state, status, body, created_ms FROM idem WHERE k = ?",
            vec![SqlStorageValue::from(idem.key.clone())],
        )?
        .to_array()?;
    if let Some(r) = rows.into_iter().next() {
        let age = now_ms.saturating_sub(r.created_ms as u64);
        let expired = age > IDEM_TTL_MS;
        if !expired {
            if r.fingerprint != idem.fingerprint {
                return Err(ApiError::idempotency_reused());
            }
            if r.state == "done" {
                let body: Value = r
                    .body
                    .as_deref()
                    .and_then(|b| serde_json::from_str(b).ok())
                    .unwrap_or(Value::Null);
                return Ok(IdemCheck::Replay(Answer {
                    status: r.status.unwrap_or(500.0) as u16,
                    body,
                }));
            }
            if age < IDEM_STALE_MS {
                return Err(ApiError::idempotency_in_flight());
            }
        }
    }
    sql.exec(
        "INSERT INTO idem (k, fingerprint, state, status, body, created_ms) VALUES (?, ?, 'in_flight', NULL, NULL, ?) \
         ON CONFLICT(k) DO UPDATE SET fingerprint = excluded.fingerprint, state = 'in_flight', \
         status = NULL, body = NULL, created_ms = excluded.created_ms",
        vec![
            SqlStorageValue::from(idem.key.clone()),
            SqlStorageValue::from(idem.fingerprint.clone()),
            SqlStorageValue::from(now_ms as f64),
        ],
    )?;
    Ok(IdemCheck::Claimed)
}

/// Stores the answer of a claimed key.
pub fn complete(sql: &SqlStorage, key: &str, answer: &Answer) -> Result<(), ApiError> {
    sql.exec(
        "UPDATE idem SET state = 'done', status = ?, body = ? WHERE k = ?",
        vec![
            SqlStorageValue::from(i64::from(answer.status)),
            SqlStorageValue::from(answer.body.to_string()),
            SqlStorageValue::from(key.to_owned()),
        ],
    )?;
    Ok(())
}

/// Forgets a claimed key whose request was refused before it started
/// executing (Stripe saves no result then).
pub fn release(sql: &SqlStorage, key: &str) -> Result<(), ApiError> {
    sql.exec(
        "DELETE FROM idem WHERE k = ? AND state = 'in_flight'",
        vec![SqlStorageValue::from(key.to_owned())],
    )?;
    Ok(())
}
