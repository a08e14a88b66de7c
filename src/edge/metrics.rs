//! Processor performance at the edge (`crate::metrics` is the pure part).
//!
//! - Recording: each isolate folds its payments' attempts into counts per
//!   minute and key, in memory, and after `BATCH_MS` (250 ms) sends them, off the
//!   payments' path (`ctx.wait_until`), to the mode's `SHARDS` metrics
//!   shards: a key always goes to the same shard, so no object is written
//!   by every payment and each bucket row lives in one shard. A batch has
//!   an id: a retried send is applied once.
//! - Shards keep minute rows (SQLite upserts). Every few minutes
//!   (`SWITCHYARD_METRICS_ROLLUP_SECONDS`, default 300) a shard's alarm
//!   rolls its closed minutes up into the 16 cubes and sends them to the
//!   mode's rollup (`metrics_rollup`), resent until answered;
//!   counts arriving for a minute already rolled up are counted in the
//!   first minute not rolled up. Minute rows are kept 2 days (and until
//!   rolled up).
//! - Query: the rollup's cube rows for whole hours and days, and each
//!   shard's minute rows for the rest (`crate::metrics::query`), merged
//!   by the front (counts add, latency histograms merge).

use std::cell::{Cell, RefCell};
use std::time::Duration;

use futures_util::future::{join, join_all};
use serde::{Deserialize, Serialize};
use worker::{
    console_error, durable_object, Context, Delay, DurableObject, Env, Request, Response,
    SqlStorage, SqlStorageValue, State, Storage,
};

use super::config::config;
use super::metrics_read::{collect, shard_stub, SHARDS};
use super::metrics_rollup::{self, ApplyMsg};
use super::metrics_rows::{
    add_counts, add_declines, add_latency_bins, ensure_alarm, group_key, read, respond, to_json,
    Groups,
};
use super::objects::call;
use super::request::Call;
use super::runtime::{error_response, json_response, now_ms, random_token};
use super::sql::{as_text, as_u64, exec, integer as int, rows};
use crate::auth::Mode;
use crate::error::ApiError;
use crate::listing::Arg;
use crate::metrics::query::{self, MinuteQuery, Res, Sql, FULL};
use crate::metrics::report::{self, GroupRow, ShardAnswer};
use crate::metrics::{fold, minute_of, Batch, Counts, CubeRow, Facts, Key};
use switchyard_processors::payment::Attempt;

/// How long attempts wait in an isolate's memory to be recorded together:
/// one write per shard touched per isolate per `BATCH_MS` (at 25 ms, a
/// payment at a time made each its own write: 0.5 ms more workerd CPU per
/// payment; BENCHMARKS.md).
const BATCH_MS: u64 = 250;
/// A scheduled recording that has not happened after this long is taken to
/// be lost (its request was cancelled); the next payment schedules anew.
const STALE_MS: u64 = 2_000;
/// Sends of one shard's batch before it is given up (logged).
const SENDS: u32 = 3;
/// How long a batch id is remembered (retries come within seconds).
const BATCH_IDS_KEPT_MS: u64 = 86_400_000;
/// The most minutes one rollup covers (a shard behind catches up a day
/// at a time) ...
const ROLLUP_SPAN: u64 = 1440;
/// ... and about the most minute rows (one rollup's message stays small).
const ROLLUP_ROWS: i64 = 2000;

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
    /// Which shard of which mode this is (a shard sends its rollups to
    /// its mode's rollup under its number).
    live: bool,
    shard: u32,
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
        live: mode == Mode::Live,
        shard: n,
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

/// `GET /v1/routing/metrics`: the rollup first (its cube rows and every
/// shard's watermark, read together), then each shard's minute rows from
/// its watermark on.
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
    let mode = request.principal.mode;
    let group = report::group_of(&q);
    // With a bucket, the series apart: grouped by what was asked alone.
    let step = q.bucket.map(Res::minutes);
    let (totals, series) = join(collect(env, mode, &q, &group, None, false), async {
        match step {
            Some(_) => collect(env, mode, &q, &q.group_by, step, false).await,
            None => Ok((Vec::new(), None)),
        }
    })
    .await;
    let (totals, rolled_up) = totals?;
    let (series, _) = series?;
    Ok(json_response(
        200,
        &report::answer(&q, mode.livemode(), &group, totals, series, rolled_up),
    ))
}

/// A mode's shard of minute rows.
#[durable_object]
pub struct MetricsObject {
    sql: SqlStorage,
    storage: Storage,
    env: Env,
    ready: bool,
    /// Whether the rollup alarm is known to be set.
    alarm_set: Cell<bool>,
}

/// Which minutes a shard has rolled up, and whose shard it is.
#[derive(Clone, Copy, Debug, Default)]
struct Meta {
    /// Minutes before this are rolled up (counts for them go to it).
    rolled: Option<u64>,
    /// Minutes before this are in the rollup (acknowledged).
    acked: Option<u64>,
    shard: Option<u32>,
    live: bool,
}

impl MetricsObject {
    fn meta(&self) -> Result<Meta, ApiError> {
        let mut m = Meta::default();
        for row in rows(
            &self.sql,
            &Sql {
                text: "SELECT k, v FROM meta".to_owned(),
                args: Vec::new(),
            },
        )? {
            let (Some(k), Some(v)) = (row.first(), row.get(1)) else {
                continue;
            };
            let v = as_u64(v);
            match as_text(k).as_str() {
                "rolled" => m.rolled = Some(v),
                "acked" => m.acked = Some(v),
                "shard" => m.shard = u32::try_from(v).ok(),
                "live" => m.live = v == 1,
                _ => {}
            }
        }
        Ok(m)
    }

    fn set_meta(&self, k: &str, v: u64) -> Result<(), ApiError> {
        self.sql.exec(
            "INSERT INTO meta (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v",
            Some(vec![SqlStorageValue::from(k.to_owned()), int(v)]),
        )?;
        Ok(())
    }

    /// Adds a batch to the minute rows, once per batch id. Synchronous:
    /// applied whole or not at all.
    fn apply(&self, msg: &RecordMsg, now: u64) -> Result<(), ApiError> {
        let seen = rows(
            &self.sql,
            &Sql {
                text: "SELECT 1 FROM batches WHERE id = ?".to_owned(),
                args: vec![Arg::Text(msg.id.clone())],
            },
        )?;
        if !seen.is_empty() {
            return Ok(());
        }
        let meta = self.meta()?;
        if meta.shard.is_none() {
            self.set_meta("shard", u64::from(msg.shard))?;
            self.set_meta("live", u64::from(msg.live))?;
        }
        let counts = query::upsert_minute_counts();
        let latency = query::upsert_minute_latency();
        let decline = query::upsert_minute_decline();
        for e in &msg.entries {
            // A minute already rolled up: counted in the first one not.
            let t = int(e.m.max(meta.rolled.unwrap_or(0)));
            let key: Vec<SqlStorageValue> =
                e.k.0
                    .iter()
                    .map(|v| SqlStorageValue::from(v.clone()))
                    .collect();
            let mut args = vec![t.clone()];
            args.extend(key.iter().cloned());
            args.extend(e.c.counters().iter().map(|n| int(*n)));
            self.sql.exec(&counts, Some(args))?;
            for (b, n) in e.c.latency.bins() {
                let mut args = vec![t.clone()];
                args.extend(key.iter().cloned());
                args.push(SqlStorageValue::from(i64::from(b)));
                args.push(int(n));
                self.sql.exec(&latency, Some(args))?;
            }
            for (code, n) in &e.c.declines {
                let mut args = vec![t.clone()];
                args.extend(key.iter().cloned());
                args.push(SqlStorageValue::from(code.clone()));
                args.push(int(*n));
                self.sql.exec(&decline, Some(args))?;
            }
        }
        self.sql.exec(
            "INSERT INTO batches (id, at_ms) VALUES (?, ?)",
            Some(vec![SqlStorageValue::from(msg.id.clone()), int(now)]),
        )?;
        Ok(())
    }

    /// Each group's counts: the three grouped statements, joined by group.
    fn query(&self, q: &MinuteQuery) -> Result<ShardAnswer, ApiError> {
        let n = q.key_columns();
        let key_of = |row: &[SqlStorageValue]| group_key(row, q.group.len(), q.step.is_some());
        let mut groups = Groups::new();
        add_counts(&mut groups, &rows(&self.sql, &q.counts_sql())?, n, key_of);
        if !q.counts_only {
            add_latency_bins(&mut groups, &rows(&self.sql, &q.latency_sql())?, n, key_of);
            add_declines(&mut groups, &rows(&self.sql, &q.declines_sql())?, n, key_of);
        }
        // A group with no rows in the window (all of its rows filtered out)
        // is left out; so is an empty one.
        groups.retain(|_, c| c.attempts + c.skipped + c.payments > 0);
        Ok(ShardAnswer {
            groups: groups
                .into_iter()
                .map(|((key, t), counts)| GroupRow { key, t, counts })
                .collect(),
        })
    }

    /// The minutes `[from, to)` rolled up into every cube, per hour.
    fn roll(&self, from: u64, to: u64) -> Result<Vec<CubeRow>, ApiError> {
        let mut out = Vec::new();
        for mask in 0..=FULL {
            let [counts, latency, declines] = query::rollup(mask, from, to);
            let mut cube = Groups::new();
            // Columns: the hour, the six values, then what is summed.
            let key_of = |row: &[SqlStorageValue]| -> (u64, Key) {
                let mut k: [String; 6] = Default::default();
                for (i, v) in row[1..7].iter().enumerate() {
                    k[i] = as_text(v);
                }
                (as_u64(&row[0]), Key(k))
            };
            add_counts(&mut cube, &rows(&self.sql, &counts)?, 7, key_of);
            add_latency_bins(&mut cube, &rows(&self.sql, &latency)?, 7, key_of);
            add_declines(&mut cube, &rows(&self.sql, &declines)?, 7, key_of);
            out.extend(cube.into_iter().map(|((t, key), counts)| CubeRow {
                cube: mask,
                t,
                key,
                counts,
            }));
        }
        Ok(out)
    }

    /// The first minute row at or after `from`, if any.
    fn first_minute(&self, from: u64) -> Result<Option<u64>, ApiError> {
        let r = rows(
            &self.sql,
            &Sql {
                text: "SELECT MIN(t) FROM m_counts WHERE t >= ?".to_owned(),
                args: vec![Arg::Int(i64::try_from(from).unwrap_or(i64::MAX))],
            },
        )?;
        Ok(r.first().and_then(|row| row.first()).and_then(|v| match v {
            SqlStorageValue::Integer(n) => u64::try_from(*n).ok(),
            _ => None,
        }))
    }

    /// Sends the pending rollups, oldest first (their cube rows computed
    /// anew: the minutes they cover no longer change); each one answered is
    /// acknowledged. Stops at the first failure (resent later, in order).
    async fn send_pending(&self, meta: &Meta) -> Result<bool, ApiError> {
        let (Some(shard), mode) = (meta.shard, if meta.live { Mode::Live } else { Mode::Test })
        else {
            return Ok(true);
        };
        let pending = rows(
            &self.sql,
            &Sql {
                text: "SELECT id, m_from, m_to FROM pending_rollups ORDER BY id".to_owned(),
                args: Vec::new(),
            },
        )?;
        for row in pending {
            let (Some(id), Some(from), Some(to)) = (row.first(), row.get(1), row.get(2)) else {
                continue;
            };
            let (from, to) = (as_u64(from), as_u64(to));
            let msg = ApplyMsg {
                id: as_text(id),
                shard,
                from,
                to,
                rows: self.roll(from, to)?,
            };
            if let Err(e) = metrics_rollup::apply(&self.env, mode, &msg).await {
                console_error!("metrics: rollup not sent yet: {}", e.message);
                return Ok(false);
            }
            self.sql.exec(
                "DELETE FROM pending_rollups WHERE id = ?",
                Some(vec![SqlStorageValue::from(msg.id.clone())]),
            )?;
            self.set_meta("acked", to)?;
        }
        Ok(true)
    }

    /// Where the next rollup from `from` ends: at most `ROLLUP_SPAN`
    /// minutes and about `ROLLUP_ROWS` minute rows (at least one minute),
    /// never past `now_minute`.
    fn rollup_end(&self, from: u64, now_minute: u64) -> Result<u64, ApiError> {
        let cut = rows(
            &self.sql,
            &Sql {
                text: "SELECT t FROM m_counts WHERE t >= ? ORDER BY t LIMIT 1 OFFSET ?".to_owned(),
                args: vec![
                    Arg::Int(i64::try_from(from).unwrap_or(i64::MAX)),
                    Arg::Int(ROLLUP_ROWS),
                ],
            },
        )?;
        let by_rows = cut
            .first()
            .and_then(|r| r.first())
            .map(as_u64)
            .map_or(u64::MAX, |t| t.max(from + 1));
        Ok(now_minute
            .min(from.saturating_add(ROLLUP_SPAN))
            .min(by_rows))
    }

    /// One rollup step: the pending ones first, then the next closed
    /// minutes. Answers whether more is left to roll up now.
    async fn roll_up(&self, now_minute: u64) -> Result<bool, ApiError> {
        let meta = self.meta()?;
        let Some(shard) = meta.shard else {
            return Ok(false);
        };
        if !self.send_pending(&meta).await? {
            return Ok(false);
        }
        let rolled = meta.rolled.unwrap_or(0);
        // Nothing to roll before the first minute row; with none at all,
        // an empty rollup still moves the rollup's watermark up to now.
        let to = match self.first_minute(rolled)? {
            Some(first) => self.rollup_end(rolled.max(first.min(now_minute)), now_minute)?,
            None => now_minute,
        };
        if to <= rolled {
            return Ok(false);
        }
        // Synchronously: the pending rollup and the new watermark (counts
        // arriving from now on for minutes before `to` are counted at `to`).
        self.sql.exec(
            "INSERT INTO pending_rollups (id, m_from, m_to) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING",
            Some(vec![
                SqlStorageValue::from(format!("{shard}:{rolled:012}")),
                int(rolled),
                int(to),
            ]),
        )?;
        self.set_meta("rolled", to)?;
        let meta = self.meta()?;
        self.send_pending(&meta).await?;
        Ok(to < now_minute)
    }

    fn retention(&self, now: u64) -> Result<(), ApiError> {
        let meta = self.meta()?;
        let kept = minute_of(now).saturating_sub(query::Res::Minute.keep_minutes());
        let cutoff = kept.min(meta.acked.unwrap_or(0));
        for s in query::shard_retention(cutoff, now.saturating_sub(BATCH_IDS_KEPT_MS)) {
            exec(&self.sql, &s)?;
        }
        Ok(())
    }

    async fn ensure_alarm(&self) {
        let every = config(&self.env).metrics_rollup_ms;
        ensure_alarm(&self.storage, &self.alarm_set, Duration::from_millis(every)).await;
    }
}

impl DurableObject for MetricsObject {
    fn new(state: State, env: Env) -> Self {
        let storage = state.storage();
        let sql = storage.sql();
        let ready = query::shard_schema()
            .iter()
            .all(|s| sql.exec(s, None).is_ok());
        Self {
            sql,
            storage,
            env,
            ready,
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
            "/record" => read::<RecordMsg>(&text, "metrics batch")
                .and_then(|msg| self.apply(&msg, now_ms()))
                .map(|()| serde_json::json!({"ok": true})),
            "/query" => read::<MinuteQuery>(&text, "metrics query")
                .and_then(|q| self.query(&q))
                .and_then(to_json),
            _ => Err(ApiError::internal("unknown metrics call")),
        };
        if path == "/record" && result.is_ok() {
            self.ensure_alarm().await;
        }
        Ok(respond(result))
    }

    /// Rolls the closed minutes up, applies the retention, and sets the
    /// next pass: at once while a backlog is left, after the rollup period
    /// while minute rows remain.
    async fn alarm(&self) -> worker::Result<Response> {
        self.alarm_set.set(false);
        let now = now_ms();
        let more = match self.roll_up(minute_of(now)).await {
            Ok(more) => more,
            Err(e) => {
                console_error!("metrics: rollup failed: {}", e.message);
                false
            }
        };
        if let Err(e) = self.retention(now) {
            console_error!("metrics: retention failed: {}", e.message);
        }
        let left = self
            .sql
            .exec("SELECT 1 FROM m_counts LIMIT 1", None)?
            .raw()
            .next()
            .is_some();
        let outbox = self
            .sql
            .exec("SELECT 1 FROM pending_rollups LIMIT 1", None)?
            .raw()
            .next()
            .is_some();
        if more || left || outbox {
            let wait = if more {
                10
            } else {
                config(&self.env).metrics_rollup_ms
            };
            self.storage.set_alarm(Duration::from_millis(wait)).await?;
            self.alarm_set.set(true);
        }
        Response::ok("ok")
    }
}
