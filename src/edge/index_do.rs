//! The mode's index of payments and refunds, for lists and search:
//! `SHARDS` objects per mode (`PaymentIndexObject`, keyed `shard:<n>`); a
//! payment and its refunds live in the shard its id hashes to. Each row is
//! the object as its payment object last wrote it (a view: the payment's
//! own object stays the truth, and retrieving it is always current).
//!
//! The payment objects write their rows after each operation that changed
//! something (`put`, versioned: an older write arriving late changes
//! nothing); a list asks every shard for one page and merges them
//! (`crate::listing`).

use futures_util::future::join_all;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use worker::{
    durable_object, DurableObject, Env, Request, Response, SqlStorage, SqlStorageValue, State,
};

use super::objects::{call, stub, Binding};
use super::request::Call;
use super::runtime::{error_response, json_response};
use super::sql::{arg, integer};
use crate::auth::Mode;
use crate::error::ApiError;
use crate::listing::{self, Cursor, Filter, Row};
use crate::protocol::{IndexRow as Put, IndexTable as Table};

/// Index shards per mode: 16 × ~1,000 writes a second.
pub(crate) const SHARDS: u8 = 16;

pub(crate) fn shard_of(payment_id: &str) -> u8 {
    Sha256::digest(payment_id.as_bytes())[0] % SHARDS
}

#[derive(Serialize, Deserialize)]
struct Query {
    table: Table,
    filter: Filter,
    cursor: Option<Cursor>,
    limit: u32,
}

#[derive(Serialize, Deserialize)]
struct Where {
    table: Table,
    id: String,
}

#[durable_object]
pub struct PaymentIndexObject {
    sql: SqlStorage,
}

fn text(s: &str) -> SqlStorageValue {
    SqlStorageValue::from(s.to_owned())
}

fn opt_text(s: &Option<String>) -> SqlStorageValue {
    s.as_deref().map_or(SqlStorageValue::Null, text)
}

impl DurableObject for PaymentIndexObject {
    fn new(state: State, _env: Env) -> Self {
        let sql = state.storage().sql();
        for t in ["intents", "refunds"] {
            let _ = sql.exec(
                &format!(
                    "CREATE TABLE IF NOT EXISTS {t} (id TEXT PRIMARY KEY, payment_intent TEXT NOT NULL, \
                     created INTEGER NOT NULL, created_ms INTEGER NOT NULL, version INTEGER NOT NULL, \
                     body TEXT NOT NULL, charge TEXT, status TEXT, amount INTEGER, currency TEXT, \
                     customer TEXT, metadata TEXT)"
                ),
                None,
            );
            let _ = sql.exec(
                &format!("CREATE INDEX IF NOT EXISTS {t}_order ON {t} (created_ms DESC, id DESC)"),
                None,
            );
        }
        Self { sql }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        let path = req.path();
        let text = req.text().await.unwrap_or_default();
        let out = match path.as_str() {
            "/put" => serde_json::from_str(&text)
                .map_err(|e| ApiError::internal(format!("bad index row: {e}")))
                .and_then(|p: Put| self.put(&p).map(|()| json!({"ok": true}))),
            "/query" => serde_json::from_str(&text)
                .map_err(|e| ApiError::internal(format!("bad index query: {e}")))
                .and_then(|q: Query| self.query(&q).map(|rows| json!(rows))),
            "/where" => serde_json::from_str(&text)
                .map_err(|e| ApiError::internal(format!("bad index cursor: {e}")))
                .and_then(|w: Where| self.place(&w).map(|ms| json!(ms))),
            _ => Err(ApiError::internal("unknown index call")),
        };
        Ok(match out {
            Ok(v) => json_response(200, &v),
            Err(e) => error_response(&e),
        })
    }
}

impl PaymentIndexObject {
    fn put(&self, p: &Put) -> Result<(), ApiError> {
        let t = p.table.name();
        // A refund row keeps the charge it refunded in `charge`.
        let charge = match p.table {
            Table::Intents => &p.charge,
            Table::Refunds => &p.refunded_charge,
        };
        self.sql.exec(
            &format!(
                "INSERT INTO {t} (id, payment_intent, created, created_ms, version, body, charge, status, \
                 amount, currency, customer, metadata) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
                 ON CONFLICT(id) DO UPDATE SET version = excluded.version, body = excluded.body, \
                 charge = excluded.charge, status = excluded.status, amount = excluded.amount, \
                 currency = excluded.currency, customer = excluded.customer, metadata = excluded.metadata \
                 WHERE excluded.version > {t}.version"
            ),
            vec![
                text(&p.id),
                text(&p.payment_intent),
                integer(p.created),
                integer(p.created_ms),
                integer(p.version),
                text(&p.body),
                opt_text(charge),
                text(&p.status),
                integer(p.amount),
                text(&p.currency),
                opt_text(&p.customer),
                text(&p.metadata),
            ],
        )?;
        Ok(())
    }

    fn query(&self, q: &Query) -> Result<Vec<Row>, ApiError> {
        let mut f = q.filter.clone();
        if let Some(c) = &q.cursor {
            listing::cursor_sql(c, &mut f);
        }
        let order = if q.cursor.as_ref().is_some_and(|c| c.backwards) {
            "created_ms ASC, id ASC"
        } else {
            "created_ms DESC, id DESC"
        };
        let cond = if f.sql.is_empty() {
            "1"
        } else {
            f.sql.as_str()
        };
        let mut args: Vec<SqlStorageValue> = f.args.iter().map(arg).collect();
        args.push(integer(u64::from(q.limit) + 1));
        let charge = match q.table {
            Table::Intents => "charge",
            Table::Refunds => "NULL AS charge",
        };
        let rows: Vec<Row> = self
            .sql
            .exec(
                &format!(
                    "SELECT id, created_ms, body, {charge} FROM {} WHERE {cond} ORDER BY {order} LIMIT ?",
                    q.table.name()
                ),
                args,
            )?
            .to_array()?;
        Ok(rows)
    }

    fn place(&self, w: &Where) -> Result<Option<i64>, ApiError> {
        #[derive(Deserialize)]
        struct Ms {
            created_ms: i64,
        }
        let rows: Vec<Ms> = self
            .sql
            .exec(
                &format!("SELECT created_ms FROM {} WHERE id = ?", w.table.name()),
                vec![text(&w.id)],
            )?
            .to_array()?;
        Ok(rows.first().map(|r| r.created_ms))
    }
}

fn shard_stub(env: &Env, mode: Mode, n: u8) -> Result<worker::Stub, ApiError> {
    stub(env, Binding::Index, mode, Some(&format!("shard:{n}")))
}

/// Writes rows (a payment object, after an operation that changed them).
pub(crate) async fn put(env: &Env, mode: Mode, rows: &[Put]) -> Result<(), ApiError> {
    for p in rows {
        let a = call(
            &shard_stub(env, mode, shard_of(&p.payment_intent))?,
            "/put",
            Some(p),
        )
        .await?;
        if a.status != 200 {
            return Err(ApiError::internal("the index refused a row"));
        }
    }
    Ok(())
}

/// The place of a cursor's row in the order, from its shard.
async fn place(
    env: &Env,
    mode: Mode,
    table: Table,
    id: &str,
    payment_id: &str,
    param: &str,
    backwards: bool,
) -> Result<Cursor, ApiError> {
    let s = shard_stub(env, mode, shard_of(payment_id))?;
    let a = call(
        &s,
        "/where",
        Some(&Where {
            table,
            id: id.to_owned(),
        }),
    )
    .await?;
    match a.value().as_i64() {
        Some(ms) => Ok(Cursor {
            created_ms: ms,
            id: id.to_owned(),
            backwards,
        }),
        None => Err(ApiError::no_such_in(param, "object", id)),
    }
}

/// One page from the shards (all, or the one of `payment_id`), merged.
async fn page(
    env: &Env,
    mode: Mode,
    table: Table,
    filter: &Filter,
    cursor: Option<Cursor>,
    limit: u32,
    payment_id: Option<&str>,
) -> Result<(Vec<Row>, bool), ApiError> {
    let shards: Vec<u8> = match payment_id {
        Some(pi) => vec![shard_of(pi)],
        None => (0..SHARDS).collect(),
    };
    let backwards = cursor.as_ref().is_some_and(|c| c.backwards);
    let q = Query {
        table,
        filter: filter.clone(),
        cursor,
        limit,
    };
    let calls = shards.iter().map(|n| {
        let q = &q;
        async move {
            let s = shard_stub(env, mode, *n)?;
            let a = call(&s, "/query", Some(q)).await?;
            if a.status != 200 {
                return Err(ApiError::internal("an index shard failed"));
            }
            serde_json::from_value::<Vec<Row>>(a.value())
                .map_err(|e| ApiError::internal(format!("unreadable index page: {e}")))
        }
    });
    let pages = join_all(calls)
        .await
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
    Ok(listing::merge(pages, limit, backwards))
}

fn body_of(r: &Row, expand_charge: bool) -> Value {
    let mut v: Value = serde_json::from_str(&r.body).unwrap_or(Value::Null);
    if expand_charge {
        let c = r
            .charge
            .as_deref()
            .and_then(|c| serde_json::from_str(c).ok())
            .unwrap_or(Value::Null);
        if let Some(o) = v.as_object_mut() {
            o.insert("latest_charge".into(), c);
        }
    }
    v
}

fn list_of(url: &str, rows: &[Row], more: bool, expand_charge: bool) -> Value {
    let data: Vec<Value> = rows.iter().map(|r| body_of(r, expand_charge)).collect();
    json!({"object": "list", "data": data, "has_more": more, "url": url})
}

async fn cursor_of(
    env: &Env,
    mode: Mode,
    table: Table,
    r: &listing::ListRequest,
) -> Result<Option<Cursor>, ApiError> {
    let payment_of = |id: &str| match table {
        Table::Intents => Some(id.to_owned()),
        Table::Refunds => crate::protocol::payment_of_refund(id),
    };
    let (id, param, backwards) = match (&r.starting_after, &r.ending_before) {
        (Some(id), _) => (id, "starting_after", false),
        (None, Some(id)) => (id, "ending_before", true),
        (None, None) => return Ok(None),
    };
    let Some(pi) = payment_of(id) else {
        return Err(ApiError::no_such_in(param, "object", id));
    };
    place(env, mode, table, id, &pi, param, backwards)
        .await
        .map(Some)
}

/// `GET /v1/payment_intents`.
pub(crate) async fn list_intents(call: &Call, env: &Env) -> Result<Response, ApiError> {
    let mode = call.principal.mode;
    let r = listing::payment_intents(call.query.as_deref())?;
    let cursor = cursor_of(env, mode, Table::Intents, &r).await?;
    let (rows, more) = page(env, mode, Table::Intents, &r.filter, cursor, r.limit, None).await?;
    Ok(json_response(
        200,
        &list_of("/v1/payment_intents", &rows, more, r.expand_charge),
    ))
}

/// `GET /v1/refunds`.
pub(crate) async fn list_refunds(call: &Call, env: &Env) -> Result<Response, ApiError> {
    let mode = call.principal.mode;
    let r = listing::refunds(call.query.as_deref())?;
    let cursor = cursor_of(env, mode, Table::Refunds, &r).await?;
    let (rows, more) = page(
        env,
        mode,
        Table::Refunds,
        &r.filter,
        cursor,
        r.limit,
        r.payment_intent.as_deref(),
    )
    .await?;
    Ok(json_response(
        200,
        &list_of("/v1/refunds", &rows, more, false),
    ))
}

/// `GET /v1/payment_intents/search`.
pub(crate) async fn search_intents(call: &Call, env: &Env) -> Result<Response, ApiError> {
    let mode = call.principal.mode;
    let s = listing::search(call.query.as_deref())?;
    let (rows, more) = page(env, mode, Table::Intents, &s.filter, s.page, s.limit, None).await?;
    let data: Vec<Value> = rows.iter().map(|r| body_of(r, s.expand_charge)).collect();
    let next_page = if more {
        rows.last().map(listing::page_token)
    } else {
        None
    };
    Ok(json_response(
        200,
        &json!({"object": "search_result", "data": data, "has_more": more,
                "next_page": next_page, "url": "/v1/payment_intents/search"}),
    ))
}
