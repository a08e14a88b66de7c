//! The metrics rollup of a mode: one object holding the hour and day cube
//! rows (`crate::metrics::query`), written by the mode's metrics shards
//! every few minutes (never by a payment), read by every metrics query.
//!
//! - `/apply`: a shard's minutes `[from, to)` rolled up into cube rows;
//!   each row is added to its hour and to its day, and the shard's
//!   watermark becomes `to`, in one synchronous step. A rollup is applied
//!   once (its id is remembered a day): a shard resends until answered.
//! - `/query`: the cube rows of a query, grouped, with every shard's
//!   watermark read in the same step.
//! - Retention (alarm, hourly while rows remain): hour rows after 32 days,
//!   day rows after 400.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use worker::{
    durable_object, DurableObject, Env, Request, Response, SqlStorage, SqlStorageValue, State,
    Storage, Stub,
};

use super::metrics_rows::{
    add_counts, add_declines, ensure_alarm, group_key, read, respond, to_json, Groups,
};
use super::objects::{call, stub as object_stub, Binding};
use super::runtime::{error_response, now_ms};
use super::sql::{as_u64, exec, integer as int, rows};
use crate::auth::Mode;
use crate::error::ApiError;
use crate::metrics::query::{self, CubeQuery, Res, Sql};
use crate::metrics::report::GroupRow;
use crate::metrics::sketch::Histogram;
use crate::metrics::{minute_of, CubeRow};

/// How often the retention runs.
const RETENTION_EVERY: Duration = Duration::from_secs(3600);
/// How long an applied rollup's id is remembered.
const APPLIED_KEPT_MS: u64 = 86_400_000;

fn stub(env: &Env, mode: Mode) -> Result<Stub, ApiError> {
    object_stub(env, Binding::MetricsRollup, mode, None)
}

/// A shard's minutes `[from, to)`, rolled up.
#[derive(Serialize, Deserialize)]
pub(crate) struct ApplyMsg {
    pub id: String,
    pub shard: u32,
    pub from: u64,
    pub to: u64,
    pub rows: Vec<CubeRow>,
}

/// The rows of a query, and up to which minute each shard's counts are in
/// the rollup.
#[derive(Default, Serialize, Deserialize)]
pub(crate) struct RollupAnswer {
    pub groups: Vec<GroupRow>,
    pub watermarks: BTreeMap<u32, u64>,
}

pub(crate) async fn apply(env: &Env, mode: Mode, msg: &ApplyMsg) -> Result<(), ApiError> {
    let a = call(&stub(env, mode)?, "/apply", Some(msg)).await?;
    if a.status == 200 {
        Ok(())
    } else {
        Err(ApiError::internal("the metrics rollup refused a rollup"))
    }
}

pub(crate) async fn query(env: &Env, mode: Mode, q: &CubeQuery) -> Result<RollupAnswer, ApiError> {
    let a = call(&stub(env, mode)?, "/query", Some(q)).await?;
    if a.status != 200 {
        return Err(ApiError::internal("the metrics rollup failed"));
    }
    serde_json::from_value(a.value())
        .map_err(|e| ApiError::internal(format!("unreadable metrics rollup answer: {e}")))
}

#[durable_object]
pub struct MetricsRollupObject {
    sql: SqlStorage,
    storage: Storage,
    ready: bool,
    alarm_set: Cell<bool>,
}

impl MetricsRollupObject {
    fn apply(&self, msg: &ApplyMsg, now: u64) -> Result<(), ApiError> {
        let seen = rows(
            &self.sql,
            &Sql {
                text: "SELECT 1 FROM applied WHERE id = ?".to_owned(),
                args: vec![crate::listing::Arg::Text(msg.id.clone())],
            },
        )?;
        if !seen.is_empty() {
            return Ok(());
        }
        let select = query::SELECT_CUBE;
        let upsert = query::upsert_cube();
        let upsert_decline = query::upsert_cube_decline();
        for r in &msg.rows {
            for (res, t) in [(Res::Hour, r.t), (Res::Day, Res::Day.floor(r.t))] {
                let mut key: Vec<SqlStorageValue> = vec![
                    SqlStorageValue::from(res.code()),
                    SqlStorageValue::from(i64::from(r.cube)),
                    int(t),
                ];
                key.extend(r.key.0.iter().map(|v| SqlStorageValue::from(v.clone())));
                let mut latency = r.counts.latency.clone();
                for row in self.sql.exec(select, Some(key.clone()))?.raw() {
                    if let Some(SqlStorageValue::Blob(b)) = row?.first() {
                        latency.merge(&Histogram::decode(b));
                    }
                }
                let mut args = key.clone();
                args.extend(r.counts.counters().iter().map(|n| int(*n)));
                args.push(SqlStorageValue::Blob(latency.encode()));
                self.sql.exec(&upsert, Some(args))?;
                for (code, n) in &r.counts.declines {
                    let mut args = key.clone();
                    args.push(SqlStorageValue::from(code.clone()));
                    args.push(int(*n));
                    self.sql.exec(&upsert_decline, Some(args))?;
                }
            }
        }
        self.sql.exec(
            "INSERT INTO watermarks (shard, w) VALUES (?, ?) ON CONFLICT (shard) DO UPDATE SET w = excluded.w",
            Some(vec![SqlStorageValue::from(i64::from(msg.shard)), int(msg.to)]),
        )?;
        self.sql.exec(
            "INSERT INTO applied (id, at_ms) VALUES (?, ?)",
            Some(vec![SqlStorageValue::from(msg.id.clone()), int(now)]),
        )?;
        Ok(())
    }

    fn query(&self, q: &CubeQuery) -> Result<RollupAnswer, ApiError> {
        let n = q.key_columns();
        let key_of = |row: &[SqlStorageValue]| group_key(row, q.group.len(), q.step.is_some());
        let mut groups = Groups::new();
        add_counts(&mut groups, &rows(&self.sql, &q.counts_sql())?, n, key_of);
        if !q.counts_only {
            // One histogram per cube row, merged here.
            for row in rows(&self.sql, &q.latency_sql())? {
                if let (Some(SqlStorageValue::Blob(b)), Some(c)) =
                    (row.get(n), groups.get_mut(&key_of(&row)))
                {
                    c.latency.merge(&Histogram::decode(b));
                }
            }
            add_declines(&mut groups, &rows(&self.sql, &q.declines_sql())?, n, key_of);
        }
        let mut watermarks = BTreeMap::new();
        for row in rows(
            &self.sql,
            &Sql {
                text: "SELECT shard, w FROM watermarks".to_owned(),
                args: Vec::new(),
            },
        )? {
            if let (Some(s), Some(w)) = (row.first(), row.get(1)) {
                watermarks.insert(u32::try_from(as_u64(s)).unwrap_or(u32::MAX), as_u64(w));
            }
        }
        Ok(RollupAnswer {
            groups: groups
                .into_iter()
                .map(|((key, t), counts)| GroupRow { key, t, counts })
                .collect(),
            watermarks,
        })
    }

    async fn ensure_alarm(&self) {
        ensure_alarm(&self.storage, &self.alarm_set, RETENTION_EVERY).await;
    }
}

impl DurableObject for MetricsRollupObject {
    fn new(state: State, _env: Env) -> Self {
        let storage = state.storage();
        let sql = storage.sql();
        let ready = query::rollup_schema()
            .iter()
            .all(|s| sql.exec(s, None).is_ok());
        Self {
            sql,
            storage,
            ready,
            alarm_set: Cell::new(false),
        }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        if !self.ready {
            return Ok(error_response(&ApiError::internal(
                "metrics rollup storage is unavailable",
            )));
        }
        let path = req.path();
        let text = req.text().await.unwrap_or_default();
        let result = match path.as_str() {
            "/apply" => read::<ApplyMsg>(&text, "rollup")
                .and_then(|msg| self.apply(&msg, now_ms()))
                .map(|()| serde_json::json!({"ok": true})),
            "/query" => read::<CubeQuery>(&text, "rollup query")
                .and_then(|q| self.query(&q))
                .and_then(to_json),
            _ => Err(ApiError::internal("unknown metrics rollup call")),
        };
        if path == "/apply" && result.is_ok() {
            self.ensure_alarm().await;
        }
        Ok(respond(result))
    }

    async fn alarm(&self) -> worker::Result<Response> {
        self.alarm_set.set(false);
        let now = now_ms();
        for s in query::rollup_retention(minute_of(now), now.saturating_sub(APPLIED_KEPT_MS)) {
            exec(&self.sql, &s).map_err(|e| worker::Error::RustError(e.message.clone()))?;
        }
        let left = self
            .sql
            .exec("SELECT 1 FROM cubes LIMIT 1", None)?
            .raw()
            .next()
            .is_some();
        if left {
            self.storage.set_alarm(RETENTION_EVERY).await?;
            self.alarm_set.set(true);
        }
        Response::ok("ok")
    }
}
