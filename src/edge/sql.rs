//! A Durable Object's SQLite as the storage traits of `crate::storage` and
//! `crate::payment`: JSON documents by key, and idempotency records.
//!
//! Every method is synchronous (`sql.exec`), so a handler that uses only
//! these and does not await runs without interleaving with any other
//! request to the same object.

use std::cell::Cell;

use serde::Deserialize;
use worker::{SqlStorage, SqlStorageValue};

use crate::error::ApiError;
use crate::listing::Arg;
use crate::metrics::query::Sql;
use crate::payment::PaymentStore;
use crate::storage::{Docs, IdemRecord, IdemRecords, StoredAnswer};

/// The storage of one object. `ready` remembers, for the object's life,
/// that its tables exist.
pub(crate) struct SqlStore<'a> {
    sql: &'a SqlStorage,
    ready: &'a Cell<bool>,
}

impl<'a> SqlStore<'a> {
    pub fn new(sql: &'a SqlStorage, ready: &'a Cell<bool>) -> Self {
        SqlStore { sql, ready }
    }

    /// Makes the tables (`IF NOT EXISTS`: no need to look first).
    pub fn init(&self) -> Result<(), ApiError> {
        self.sql.exec(
            "CREATE TABLE IF NOT EXISTS docs (k TEXT PRIMARY KEY, doc TEXT NOT NULL)",
            None,
        )?;
        self.sql.exec(
            "CREATE TABLE IF NOT EXISTS idem (k TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, \
             state TEXT NOT NULL, status INTEGER, body TEXT, created_ms INTEGER NOT NULL)",
            None,
        )?;
        self.ready.set(true);
        Ok(())
    }

    /// A page of the documents whose key starts with `prefix`, ordered by
    /// the number at `$.<field>` descending, then by key: those after
    /// `cursor` (its field and key), or before it when `backwards` (then in
    /// the reverse order). At most `limit` are read.
    pub fn page<T: serde::de::DeserializeOwned>(
        &self,
        prefix: &str,
        field: &str,
        cursor: Option<(u64, String)>,
        backwards: bool,
        limit: u32,
    ) -> Result<Vec<T>, ApiError> {
        let mut args = vec![
            text(&format!("$.{field}")),
            integer(prefix.len() as u64),
            text(prefix),
        ];
        let (filter, order) = match (&cursor, backwards) {
            (None, false) => ("1", "f DESC, k ASC"),
            (None, true) => ("1", "f ASC, k DESC"),
            (Some(_), false) => ("(f < ? OR (f = ? AND k > ?))", "f DESC, k ASC"),
            (Some(_), true) => ("(f > ? OR (f = ? AND k < ?))", "f ASC, k DESC"),
        };
        if let Some((f, k)) = &cursor {
            args.extend([integer(*f), integer(*f), text(k)]);
        }
        args.push(integer(u64::from(limit)));
        let sql = format!(
            "SELECT doc FROM (SELECT k, doc, json_extract(doc, ?) AS f FROM docs \
             WHERE substr(k, 1, ?) = ?) WHERE {filter} ORDER BY {order} LIMIT ?"
        );
        let rows: Vec<DocRow> = self.sql.exec(&sql, args)?.to_array()?;
        rows.into_iter()
            .map(|r| {
                serde_json::from_str(&r.doc)
                    .map_err(|e| ApiError::internal(format!("stored document is unreadable: {e}")))
            })
            .collect()
    }

    /// Whether the tables exist (a read: an object that was never written
    /// stays empty).
    fn exists(&self) -> Result<bool, ApiError> {
        #[derive(Deserialize)]
        struct N {
            n: i64,
        }
        let rows: Vec<N> = self
            .sql
            .exec(
                "SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'docs'",
                None,
            )?
            .to_array()?;
        Ok(rows.first().is_some_and(|r| r.n > 0))
    }
}

fn text(s: &str) -> SqlStorageValue {
    SqlStorageValue::from(s.to_owned())
}

/// An integer for SQLite (`u64` values of ours stay far below `i64::MAX`).
pub(crate) fn integer(n: u64) -> SqlStorageValue {
    SqlStorageValue::from(i64::try_from(n).unwrap_or(i64::MAX))
}

impl PaymentStore for SqlStore<'_> {
    fn open(&self, create: bool) -> Result<bool, ApiError> {
        if self.ready.get() {
            return Ok(true);
        }
        if create {
            self.init()?;
        } else if self.exists()? {
            self.ready.set(true);
        }
        Ok(self.ready.get())
    }
}

#[derive(Deserialize)]
struct DocRow {
    doc: String,
}

impl Docs for SqlStore<'_> {
    fn doc_text(&self, key: &str) -> Result<Option<String>, ApiError> {
        let rows: Vec<DocRow> = self
            .sql
            .exec("SELECT doc FROM docs WHERE k = ?", vec![text(key)])?
            .to_array()?;
        Ok(rows.into_iter().next().map(|r| r.doc))
    }

    fn put_doc_text(&self, key: &str, doc: &str) -> Result<(), ApiError> {
        self.sql.exec(
            "INSERT INTO docs (k, doc) VALUES (?, ?) ON CONFLICT(k) DO UPDATE SET doc = excluded.doc",
            vec![text(key), text(doc)],
        )?;
        Ok(())
    }
}

#[derive(Deserialize)]
struct IdemRow {
    fingerprint: String,
    status: Option<i64>,
    body: Option<String>,
    created_ms: i64,
}

impl IdemRecords for SqlStore<'_> {
    fn idem(&self, key: &str) -> Result<Option<IdemRecord>, ApiError> {
        let rows: Vec<IdemRow> = self
            .sql
            .exec(
                "SELECT fingerprint, status, body, created_ms FROM idem WHERE k = ?",
                vec![text(key)],
            )?
            .to_array()?;
        Ok(rows.into_iter().next().map(|r| IdemRecord {
            fingerprint: r.fingerprint,
            answer: match (r.status, r.body) {
                (Some(status), Some(body)) => Some(StoredAnswer {
                    status: u16::try_from(status).unwrap_or(500),
                    body,
                }),
                _ => None,
            },
            created_ms: u64::try_from(r.created_ms).unwrap_or(0),
        }))
    }

    fn put_idem(&self, key: &str, r: &IdemRecord) -> Result<(), ApiError> {
        let (state, status, body) = match &r.answer {
            Some(a) => (
                "done",
                SqlStorageValue::from(i64::from(a.status)),
                text(&a.body),
            ),
            None => ("in_flight", SqlStorageValue::Null, SqlStorageValue::Null),
        };
        self.sql.exec(
            "INSERT INTO idem (k, fingerprint, state, status, body, created_ms) VALUES (?, ?, ?, ?, ?, ?) \
             ON CONFLICT(k) DO UPDATE SET fingerprint = excluded.fingerprint, state = excluded.state, \
             status = excluded.status, body = excluded.body, created_ms = excluded.created_ms",
            vec![
                text(key),
                text(&r.fingerprint),
                text(state),
                status,
                body,
                integer(r.created_ms),
            ],
        )?;
        Ok(())
    }

    fn set_idem_answer(&self, key: &str, a: &StoredAnswer) -> Result<(), ApiError> {
        self.sql.exec(
            "UPDATE idem SET state = 'done', status = ?, body = ? WHERE k = ?",
            vec![
                SqlStorageValue::from(i64::from(a.status)),
                text(&a.body),
                text(key),
            ],
        )?;
        Ok(())
    }

    fn delete_idem_in_flight(&self, key: &str) -> Result<(), ApiError> {
        self.sql.exec(
            "DELETE FROM idem WHERE k = ? AND state = 'in_flight'",
            vec![text(key)],
        )?;
        Ok(())
    }
}

/// A bound value of a pure module's statement.
pub(crate) fn arg(a: &Arg) -> SqlStorageValue {
    match a {
        Arg::Int(n) => SqlStorageValue::from(*n),
        Arg::Text(s) => SqlStorageValue::from(s.clone()),
    }
}

/// A column read as a count (NULL, text or a negative: 0).
pub(crate) fn as_u64(v: &SqlStorageValue) -> u64 {
    match v {
        SqlStorageValue::Integer(n) => u64::try_from(*n).unwrap_or(0),
        SqlStorageValue::Float(f) if *f > 0.0 => *f as u64,
        _ => 0,
    }
}

/// A column read as text (anything else: empty).
pub(crate) fn as_text(v: &SqlStorageValue) -> String {
    match v {
        SqlStorageValue::String(s) => s.clone(),
        _ => String::new(),
    }
}

/// Every row of a statement, as values.
pub(crate) fn rows(sql: &SqlStorage, q: &Sql) -> Result<Vec<Vec<SqlStorageValue>>, ApiError> {
    let args: Vec<SqlStorageValue> = q.args.iter().map(arg).collect();
    let cursor = sql.exec(&q.text, Some(args))?;
    let mut out = Vec::new();
    for row in cursor.raw() {
        out.push(row?);
    }
    Ok(out)
}

/// A statement of a pure module, run for its effect.
pub(crate) fn exec(sql: &SqlStorage, q: &Sql) -> Result<(), ApiError> {
    sql.exec(&q.text, Some(q.args.iter().map(arg).collect()))?;
    Ok(())
}
