//! Processor performance at the edge (`crate::metrics` is the pure part).
//!
//! - Recording: each isolate folds its payments' attempts into counts per
//!   minute and key, in memory, and after `BATCH_MS` sends them, off the
//!   payments' path (`ctx.wait_until`), to the mode's `SHARDS` metrics
//!   shards: a key always goes to the same shard, so no object is written
//!   by every payment and each bucket row lives in one shard. A batch has
//!   an id: a retried send is applied once.
//! - Storage: a shard adds each minute's counts to its minute, hour and day
//!   rows at once (SQLite upserts), so a query reads rows of buckets, never
//!   attempts. Retention: an alarm deletes minute rows after 2 days, hour
//!   rows after 32 and day rows after 400.
//! - Query: every shard groups its rows in SQL; the front merges them
//!   (counts add, latency histograms merge) into the answer.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use futures_util::future::join_all;
use serde::{Deserialize, Serialize};
use worker::{
    console_error, durable_object, Context, Delay, DurableObject, Env, Request, Response,
    SqlStorage, SqlStorageValue, State, Storage, Stub,
};

use super::objects::{call, stub as object_stub, Binding};
use super::request::Call;
use super::runtime::{error_response, json_response, now_ms, random_token};
use crate::auth::Mode;
use crate::error::ApiError;
use crate::listing::Arg;
use crate::metrics::query::{self, Res, ShardQuery, Sql, SCHEMA, UPSERT_DECLINE, UPSERT_LATENCY};
use crate::metrics::report::{self, GroupRow, ShardAnswer};
use crate::metrics::{fold, minute_of, Batch, Counts, Facts, Key, COUNTERS};
use switchyard_processors::payment::Attempt;

/// Shards per mode.
pub(crate) const SHARDS: u32 = 16;
/// How long attempts wait in an isolate's memory to be recorded together.
const BATCH_MS: u64 = 25;
/// A scheduled recording that has not happened after this long is taken to
/// be lost (its request was cancelled); the next payment schedules anew.
const STALE_MS: u64 = 2_000;
/// Sends of one shard's batch before it is given up (logged).
const SENDS: u32 = 3;
/// How often a shard's alarm applies the retention.
const RETENTION_EVERY_MS: i64 = 3_600_000;
/// How long a batch id is remembered (retries come within seconds).
const BATCH_IDS_KEPT_MS: u64 = 86_400_000;

fn shard_stub(env: &Env, mode: Mode, n: u32) -> Result<Stub, ApiError> {
    object_stub(env, Binding::Metrics, mode, Some(&format!("shard:{n}")))
}

/// One minute's counts of one key, as sent to a shard.
#[derive(Serialize, Deserialize)]
struct Entry {
    m: u64,
    k: Key,
    c: Counts,
}

#[derive(Serialize, Deserialize)]
struct RecordMsg {
    id: String,
    entries: Vec<Entry>,
}

#[derive(Default)]
struct Pending {
    test: Batch,
    live: Batch,
    /// When the recording of the batches was scheduled.
    scheduled_ms: Option<u64>,
}

thread_local! {
    static PENDING: RefCell<Pending> = RefCell::new(Pending::default());
}

/// Counts one confirmation's attempts, recorded within `BATCH_MS` after
/// the response. Best effort: a failure here never fails the payment.
pub(crate) fn record(ctx: &Context, env: &Env, mode: Mode, facts: &Facts, attempts: &[Attempt]) {
    if attempts.is_empty() {
        return;
    }
    let now = now_ms();
    let minute = minute_of(now);
    let schedule = PENDING.with(|p| {
        let mut p = p.borrow_mut();
        let batch = match mode {
            Mode::Test => &mut p.test,
            Mode::Live => &mut p.live,
        };
        for (k, c) in fold(facts, attempts) {
            batch.add(minute, k, &c);
        }
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

/// Records the counts gathered in this isolate: one call per shard
/// touched, the shards at once.
async fn flush(env: &Env) {
    let (test, live) = PENDING.with(|p| {
        let mut p = p.borrow_mut();
        p.scheduled_ms = None;
        (std::mem::take(&mut p.test), std::mem::take(&mut p.live))
    });
    let mut sends = Vec::new();
    for (mode, batch) in [(Mode::Test, test), (Mode::Live, live)] {
        for (n, part) in batch.by_shard(SHARDS) {
            sends.push(send(env, mode, n, part));
        }
    }
    join_all(sends).await;
}

async fn send(env: &Env, mode: Mode, n: u32, batch: Batch) {
    let Ok(id) = random_token(20) else {
        console_error!(
            "metrics: no batch id: {} minutes' counts not recorded",
            batch.0.len()
        );
        return;
    };
    let msg = RecordMsg {
        id,
        entries: batch
            .0
            .into_iter()
            .flat_map(|(m, keys)| keys.into_iter().map(move |(k, c)| Entry { m, k, c }))
            .collect(),
    };
    let mut last = String::new();
    for _ in 0..SENDS {
        match shard_stub(env, mode, n) {
            Ok(s) => match call(&s, "/record", Some(&msg)).await {
                Ok(a) if a.status == 200 => return,
                Ok(a) => last = format!("status {}", a.status),
                Err(e) => last = e.message.clone(),
            },
            Err(e) => last = e.message.clone(),
        }
    }
    console_error!(
        "metrics: {} counts not recorded in shard {n}: {last}",
        msg.entries.len()
    );
}

/// `GET /v1/routing/metrics`.
pub(crate) async fn get(
    request: &Call,
    env: &Env,
    query: Option<String>,
) -> Result<Response, ApiError> {
    let q = query::parse(query.as_deref(), now_ms())?;
    // This isolate's own counts first, so that a client sees its own.
    let pending = PENDING.with(|p| {
        let p = p.borrow();
        !p.test.is_empty() || !p.live.is_empty()
    });
    if pending {
        flush(env).await;
    }
    let sq = report::shard_query(&q);
    let mode = request.principal.mode;
    let calls = (0..SHARDS).map(|n| {
        let sq = &sq;
        async move {
            let s = shard_stub(env, mode, n)?;
            let a = call(&s, "/query", Some(sq)).await?;
            if a.status != 200 {
                return Err(ApiError::internal("a metrics shard failed"));
            }
            serde_json::from_value::<ShardAnswer>(a.value())
                .map_err(|e| ApiError::internal(format!("unreadable metrics shard answer: {e}")))
        }
    });
    let answers = join_all(calls)
        .await
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
    Ok(json_response(200, &report::answer(&q, &sq, answers)))
}

#[durable_object]
pub struct MetricsObject {
    sql: SqlStorage,
    storage: Storage,
    ready: bool,
    /// The `dims` row of each key seen.
    dims: RefCell<HashMap<Key, i64>>,
    /// Whether the retention alarm is known to be set.
    alarm_set: Cell<bool>,
}

fn arg(a: &Arg) -> SqlStorageValue {
    match a {
        Arg::Int(n) => SqlStorageValue::from(*n),
        Arg::Text(s) => SqlStorageValue::from(s.clone()),
    }
}

fn int(n: u64) -> SqlStorageValue {
    SqlStorageValue::from(i64::try_from(n).unwrap_or(i64::MAX))
}

fn as_u64(v: &SqlStorageValue) -> u64 {
    match v {
        SqlStorageValue::Integer(n) => u64::try_from(*n).unwrap_or(0),
        SqlStorageValue::Float(f) if *f > 0.0 => *f as u64,
        _ => 0,
    }
}

fn as_text(v: &SqlStorageValue) -> String {
    match v {
        SqlStorageValue::String(s) => s.clone(),
        _ => String::new(),
    }
}

impl MetricsObject {
    fn rows(&self, q: &Sql) -> Result<Vec<Vec<SqlStorageValue>>, ApiError> {
        let args: Vec<SqlStorageValue> = q.args.iter().map(arg).collect();
        let cursor = self.sql.exec(&q.text, Some(args))?;
        let mut out = Vec::new();
        for row in cursor.raw() {
            out.push(row?);
        }
        Ok(out)
    }

    fn dim_id(&self, key: &Key) -> Result<i64, ApiError> {
        if let Some(id) = self.dims.borrow().get(key) {
            return Ok(*id);
        }
        let values: Vec<SqlStorageValue> = key
            .0
            .iter()
            .map(|v| SqlStorageValue::from(v.clone()))
            .collect();
        self.sql.exec(
            "INSERT INTO dims (processor, brand, country, funding, currency, rule) \
             VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            Some(values.clone()),
        )?;
        let row = self.rows(&Sql {
            text: "SELECT id FROM dims WHERE processor = ? AND brand = ? AND country = ? \
                   AND funding = ? AND currency = ? AND rule = ?"
                .to_owned(),
            args: key.0.iter().map(|v| Arg::Text(v.clone())).collect(),
        })?;
        let id = match row.first().and_then(|r| r.first()) {
            Some(SqlStorageValue::Integer(id)) => *id,
            _ => return Err(ApiError::internal("a metrics key was not stored")),
        };
        self.dims.borrow_mut().insert(key.clone(), id);
        Ok(id)
    }

    /// Adds a batch to the minute, hour and day rows, once per batch id.
    /// Synchronous: applied whole or not at all.
    fn apply(&self, msg: &RecordMsg, now: u64) -> Result<(), ApiError> {
        let seen = self.rows(&Sql {
            text: "SELECT 1 FROM batches WHERE id = ?".to_owned(),
            args: vec![Arg::Text(msg.id.clone())],
        })?;
        if !seen.is_empty() {
            return Ok(());
        }
        let upsert = query::upsert_counts();
        for e in &msg.entries {
            let d = self.dim_id(&e.k)?;
            for res in Res::ALL {
                let t = int(res.floor(e.m));
                let mut args = vec![SqlStorageValue::from(res.code()), t.clone(), d.into()];
                args.extend(e.c.counters().iter().map(|n| int(*n)));
                self.sql.exec(&upsert, Some(args))?;
                for (b, n) in e.c.latency.bins() {
                    self.sql.exec(
                        UPSERT_LATENCY,
                        Some(vec![
                            SqlStorageValue::from(res.code()),
                            t.clone(),
                            d.into(),
                            SqlStorageValue::from(i64::from(b)),
                            int(n),
                        ]),
                    )?;
                }
                for (code, n) in &e.c.declines {
                    self.sql.exec(
                        UPSERT_DECLINE,
                        Some(vec![
                            SqlStorageValue::from(res.code()),
                            t.clone(),
                            d.into(),
                            SqlStorageValue::from(code.clone()),
                            int(*n),
                        ]),
                    )?;
                }
            }
        }
        self.sql.exec(
            "INSERT INTO batches (id, at_ms) VALUES (?, ?)",
            Some(vec![SqlStorageValue::from(msg.id.clone()), int(now)]),
        )?;
        Ok(())
    }

    /// Each group's counts: the three grouped statements, joined by group.
    fn query(&self, sq: &ShardQuery) -> Result<ShardAnswer, ApiError> {
        let n = sq.key_columns();
        let key_of = |row: &[SqlStorageValue]| -> (Vec<String>, Option<u64>) {
            let values = row[..sq.group.len()].iter().map(as_text).collect();
            let t = sq.by_time.then(|| as_u64(&row[sq.group.len()]));
            (values, t)
        };
        let mut groups: BTreeMap<(Vec<String>, Option<u64>), Counts> = BTreeMap::new();
        for row in self.rows(&sq.counts_sql())? {
            if row.len() < n + COUNTERS.len() {
                continue;
            }
            let mut c = [0u64; 13];
            for (i, v) in row[n..n + COUNTERS.len()].iter().enumerate() {
                c[i] = as_u64(v);
            }
            groups.entry(key_of(&row)).or_default().add_counters(&c);
        }
        for row in self.rows(&sq.latency_sql())? {
            if row.len() < n + 2 {
                continue;
            }
            let b = u16::try_from(as_u64(&row[n])).unwrap_or(u16::MAX);
            if let Some(g) = groups.get_mut(&key_of(&row)) {
                g.latency.add(b, as_u64(&row[n + 1]));
            }
        }
        for row in self.rows(&sq.declines_sql())? {
            if row.len() < n + 2 {
                continue;
            }
            if let Some(g) = groups.get_mut(&key_of(&row)) {
                g.add_decline(&as_text(&row[n]), as_u64(&row[n + 1]));
            }
        }
        Ok(ShardAnswer {
            groups: groups
                .into_iter()
                .map(|((key, t), counts)| GroupRow { key, t, counts })
                .collect(),
        })
    }

    /// Sets the retention alarm if none is set.
    async fn ensure_alarm(&self) {
        if self.alarm_set.get() {
            return;
        }
        let set = match self.storage.get_alarm().await {
            Ok(Some(_)) => true,
            Ok(None) => self
                .storage
                .set_alarm(Duration::from_millis(RETENTION_EVERY_MS as u64))
                .await
                .is_ok(),
            Err(_) => false,
        };
        self.alarm_set.set(set);
    }
}

impl DurableObject for MetricsObject {
    fn new(state: State, _env: Env) -> Self {
        let storage = state.storage();
        let sql = storage.sql();
        let ready = SCHEMA.iter().all(|s| sql.exec(s, None).is_ok());
        Self {
            sql,
            storage,
            ready,
            dims: RefCell::new(HashMap::new()),
            alarm_set: Cell::new(false),
        }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        if !self.ready {
            return Ok(error_response(&ApiError::internal(
                "metrics storage is unavailable",
            )));
        }
        let path = req.path();
        let text = req.text().await.unwrap_or_default();
        let result = match path.as_str() {
            "/record" => match serde_json::from_str::<RecordMsg>(&text) {
                Ok(msg) => self
                    .apply(&msg, now_ms())
                    .map(|()| serde_json::json!({"ok": true})),
                Err(e) => Err(ApiError::internal(format!("unreadable metrics batch: {e}"))),
            },
            "/query" => match serde_json::from_str::<ShardQuery>(&text) {
                Ok(sq) => self.query(&sq).and_then(|a| {
                    serde_json::to_value(a).map_err(|e| ApiError::internal(e.to_string()))
                }),
                Err(e) => Err(ApiError::internal(format!("unreadable metrics query: {e}"))),
            },
            _ => Err(ApiError::internal("unknown metrics call")),
        };
        if path == "/record" && result.is_ok() {
            self.ensure_alarm().await;
        }
        Ok(match result {
            Ok(v) => json_response(200, &v),
            Err(e) => error_response(&e),
        })
    }

    /// The retention pass: rows past their size's retention, and batch ids
    /// past any retry, are deleted; the next pass is set while rows remain.
    async fn alarm(&self) -> worker::Result<Response> {
        self.alarm_set.set(false);
        let now = now_ms();
        for (statement, args) in query::retention(minute_of(now)) {
            self.sql
                .exec(statement, Some(args.iter().map(arg).collect()))?;
        }
        self.sql.exec(
            "DELETE FROM batches WHERE at_ms < ?",
            Some(vec![int(now.saturating_sub(BATCH_IDS_KEPT_MS))]),
        )?;
        let left = self
            .sql
            .exec("SELECT 1 FROM counts LIMIT 1", None)?
            .raw()
            .next()
            .is_some();
        if left {
            self.storage
                .set_alarm(Duration::from_millis(RETENTION_EVERY_MS as u64))
                .await?;
            self.alarm_set.set(true);
        }
        Response::ok("ok")
    }
}
