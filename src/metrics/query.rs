//! `GET /v1/routing/metrics`'s parameters, which rows answer its window,
//! and the SQL of the shards and of the rollup (values always bound as
//! arguments; column names only from `Dim` and `COUNTERS`).
//!
//! Two kinds of rows:
//! - **minute rows**, in the shards: one per minute and full key (the six
//!   dimensions), written as attempts are recorded;
//! - **cube rows**, in the mode's rollup object: one per hour or day, per
//!   *cube* (which of brand, country, funding and rule are kept; the
//!   others are `*`), per key of that cube. Every few minutes each shard
//!   rolls its closed minutes up into the 16 cubes and sends them; its
//!   watermark `w` says up to which minute the rollup holds its counts.
//!
//! A query reads cube rows for whole hours and days (from the cube that
//! keeps just the dimensions it groups or filters by: few rows, whatever
//! the number of attempts), and minute rows for the rest: the minutes of
//! its start before its first whole hour, and each shard's minutes from
//! its watermark on.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Dim, COUNTERS};
use crate::error::ApiError;
use crate::form::{only_keys, param_str, param_u64};
use crate::listing::Arg;

/// A bucket size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Res {
    Minute,
    Hour,
    Day,
}

impl Res {
    pub const ALL: [Res; 3] = [Res::Minute, Res::Hour, Res::Day];

    /// Stored in the rollup's `res` column.
    pub fn code(self) -> i64 {
        self as i64
    }

    pub fn minutes(self) -> u64 {
        match self {
            Res::Minute => 1,
            Res::Hour => 60,
            Res::Day => 1440,
        }
    }

    /// How long rows of this size are kept (retention, in minutes).
    pub fn keep_minutes(self) -> u64 {
        match self {
            Res::Minute => 2 * 1440,
            Res::Hour => 32 * 1440,
            Res::Day => 400 * 1440,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Res::Minute => "minute",
            Res::Hour => "hour",
            Res::Day => "day",
        }
    }

    /// The start of the bucket of this size that holds `minute`.
    pub fn floor(self, minute: u64) -> u64 {
        minute - minute % self.minutes()
    }

    pub fn ceil(self, minute: u64) -> u64 {
        self.floor(minute + self.minutes() - 1)
    }
}

/// The longest window: a year (day rows are kept 400 days).
pub const MAX_WINDOW_S: u64 = 366 * 86_400;
/// The most buckets one series may have.
pub const MAX_POINTS: u64 = 1_500;
/// The query parameters.
pub const PARAMS: &[&str] = &[
    "window",
    "bucket",
    "group_by",
    "processor",
    "brand",
    "country",
    "funding",
    "currency",
    "rule",
];

/// A query, read and checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Query {
    pub window_s: u64,
    /// The minutes covered: `[start, end)` (whole minutes; the start may be
    /// earlier than asked: to its bucket, or past the minutes kept, to its
    /// hour, past the hours kept, to its day).
    pub start: u64,
    pub end: u64,
    /// The first minute read from cube rows: `[start, lo)` is read from
    /// minute rows.
    pub lo: u64,
    pub bucket: Option<Res>,
    pub group_by: Vec<Dim>,
    pub filters: Vec<(Dim, String)>,
}

/// Reads the query string (Stripe's form encoding: `group_by[]=brand`).
pub fn parse(query: Option<&str>, now_ms: u64) -> Result<Query, ApiError> {
    let v = crate::form::parse_form(query.unwrap_or(""))?;
    only_keys(&v, "", PARAMS)?;
    let window_s = param_u64(&v, "window", "window")?.unwrap_or(3600);
    if !(1..=MAX_WINDOW_S).contains(&window_s) {
        return Err(ApiError::invalid(
            "window",
            "parameter_invalid_integer",
            format!("window is a number of seconds, 1 to {MAX_WINDOW_S} (366 days)."),
        ));
    }
    let bucket = match param_str(&v, "bucket")?.as_deref() {
        None => None,
        Some(b) => Some(
            Res::ALL
                .into_iter()
                .find(|r| r.name() == b)
                .ok_or_else(|| {
                    ApiError::invalid(
                        "bucket",
                        "parameter_invalid",
                        "bucket is one of: minute, hour, day.",
                    )
                })?,
        ),
    };
    let group_by = group_by(&v)?;
    let mut filters = Vec::new();
    for d in Dim::ALL {
        if let Some(value) = param_str(&v, d.name())? {
            // `rule=` (empty): the rule set's default route.
            let empty_ok = d == Dim::Rule && value.is_empty();
            if (value.is_empty() && !empty_ok) || value.len() > 200 {
                return Err(ApiError::invalid(
                    d.name(),
                    "parameter_invalid",
                    format!("{} must be a value of 1 to 200 characters.", d.name()),
                ));
            }
            // Stored as the worker writes them: brands, funding and
            // currencies lowercase, countries uppercase.
            let value = match d {
                Dim::Brand | Dim::Funding | Dim::Currency => value.to_ascii_lowercase(),
                Dim::Country if value != super::UNKNOWN => value.to_ascii_uppercase(),
                _ => value,
            };
            filters.push((d, value));
        }
    }
    let now = super::minute_of(now_ms);
    let end = now + 1;
    let asked = super::minute_of(now_ms.saturating_sub(window_s.saturating_mul(1000)));
    let (start, lo) = match bucket {
        Some(res) => {
            let start = res.floor(asked);
            if start < now.saturating_sub(res.keep_minutes()) {
                return Err(ApiError::invalid(
                    "bucket",
                    "parameter_invalid",
                    format!(
                        "{} buckets are kept {} days: use a larger bucket or a shorter window.",
                        res.name(),
                        res.keep_minutes() / 1440
                    ),
                ));
            }
            if (end - start).div_ceil(res.minutes()) > MAX_POINTS {
                return Err(ApiError::invalid(
                    "bucket",
                    "parameter_invalid",
                    format!(
                        "At most {MAX_POINTS} buckets: use a larger bucket or a shorter window."
                    ),
                ));
            }
            (start, start)
        }
        None => {
            let mut start = asked;
            if start < now.saturating_sub(Res::Minute.keep_minutes()) {
                start = Res::Hour.floor(start);
            }
            if start < now.saturating_sub(Res::Hour.keep_minutes()) {
                start = Res::Day.floor(start);
            }
            (start, Res::Hour.ceil(start))
        }
    };
    Ok(Query {
        window_s,
        start,
        end,
        lo,
        bucket,
        group_by,
        filters,
    })
}

fn group_by(v: &Value) -> Result<Vec<Dim>, ApiError> {
    let bad = || {
        ApiError::invalid(
            "group_by",
            "parameter_invalid",
            format!(
                "group_by[] names dimensions among: {}.",
                Dim::ALL.map(Dim::name).join(", ")
            ),
        )
    };
    let items: Vec<&Value> = match v.get("group_by") {
        None => return Ok(vec![Dim::Processor]),
        Some(Value::Array(items)) => items.iter().collect(),
        // `group_by=brand` (no brackets) reads as one value too.
        Some(one @ Value::String(_)) => vec![one],
        Some(_) => return Err(bad()),
    };
    let mut out = Vec::new();
    for x in items {
        let d = x.as_str().and_then(Dim::parse).ok_or_else(bad)?;
        if !out.contains(&d) {
            out.push(d);
        }
    }
    Ok(out)
}

/// The dimensions a cube may leave out, and their bit in its number.
/// Processor and currency are always kept (figures per processor, amounts
/// per currency).
pub const OPTIONAL: [(Dim, u8); 4] = [
    (Dim::Brand, 1),
    (Dim::Country, 2),
    (Dim::Funding, 4),
    (Dim::Rule, 8),
];
/// The cube that keeps every dimension: the minute rows' shape.
pub const FULL: u8 = 15;
/// A left-out dimension's value in a cube row.
pub const ANY: &str = "*";

/// The cube that keeps exactly the dimensions of `dims`.
pub fn cube_of(dims: impl IntoIterator<Item = Dim>) -> u8 {
    let mut mask = 0;
    for d in dims {
        if let Some((_, bit)) = OPTIONAL.iter().find(|(o, _)| *o == d) {
            mask |= bit;
        }
    }
    mask
}

/// `d`'s value in the rows of cube `mask` (a column, or `'*'`).
fn projected(d: Dim, mask: u8) -> String {
    match OPTIONAL.iter().find(|(o, _)| *o == d) {
        Some((_, bit)) if mask & bit == 0 => format!("'{ANY}'"),
        _ => d.name().to_owned(),
    }
}

/// A statement and its arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sql {
    pub text: String,
    pub args: Vec<Arg>,
}

fn int(n: u64) -> Arg {
    Arg::Int(i64::try_from(n).unwrap_or(i64::MAX))
}

const KEY_COLUMNS: &str = "processor, brand, country, funding, currency, rule";
const KEY_DECL: &str = "processor TEXT NOT NULL, brand TEXT NOT NULL, country TEXT NOT NULL, \
     funding TEXT NOT NULL, currency TEXT NOT NULL, rule TEXT NOT NULL";

/// `SUM(payments), SUM(amount), ...`: the counters summed.
fn sums() -> String {
    COUNTERS
        .iter()
        .map(|c| format!("SUM({c})"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn counter_decl() -> String {
    COUNTERS
        .iter()
        .map(|c| format!("{c} INTEGER NOT NULL"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A shard's tables: minute rows, the batches applied (a retried recording
/// is applied once), its watermark and the rollup it has not yet had
/// acknowledged.
pub fn shard_schema() -> Vec<String> {
    vec![
        format!(
            "CREATE TABLE IF NOT EXISTS m_counts (t INTEGER NOT NULL, {KEY_DECL}, {}, \
             PRIMARY KEY (t, {KEY_COLUMNS})) WITHOUT ROWID",
            counter_decl()
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS m_latency (t INTEGER NOT NULL, {KEY_DECL}, b INTEGER NOT NULL, \
             n INTEGER NOT NULL, PRIMARY KEY (t, {KEY_COLUMNS}, b)) WITHOUT ROWID"
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS m_declines (t INTEGER NOT NULL, {KEY_DECL}, code TEXT NOT NULL, \
             n INTEGER NOT NULL, PRIMARY KEY (t, {KEY_COLUMNS}, code)) WITHOUT ROWID"
        ),
        "CREATE TABLE IF NOT EXISTS batches (id TEXT PRIMARY KEY, at_ms INTEGER NOT NULL)".to_owned(),
        "CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL)".to_owned(),
        "CREATE TABLE IF NOT EXISTS pending_rollups (id TEXT PRIMARY KEY, m_from INTEGER NOT NULL, \
         m_to INTEGER NOT NULL)"
            .to_owned(),
    ]
}

/// The rollup's tables: cube rows (latency as `Histogram::encode` bytes),
/// their decline codes, each shard's watermark, the rollups applied.
pub fn rollup_schema() -> Vec<String> {
    vec![
        format!(
            "CREATE TABLE IF NOT EXISTS cubes (res INTEGER NOT NULL, cube INTEGER NOT NULL, \
             t INTEGER NOT NULL, {KEY_DECL}, {}, latency BLOB NOT NULL, \
             PRIMARY KEY (res, cube, t, {KEY_COLUMNS})) WITHOUT ROWID",
            counter_decl()
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS cube_declines (res INTEGER NOT NULL, cube INTEGER NOT NULL, \
             t INTEGER NOT NULL, {KEY_DECL}, code TEXT NOT NULL, n INTEGER NOT NULL, \
             PRIMARY KEY (res, cube, t, {KEY_COLUMNS}, code)) WITHOUT ROWID"
        ),
        "CREATE TABLE IF NOT EXISTS watermarks (shard INTEGER PRIMARY KEY, w INTEGER NOT NULL)"
            .to_owned(),
        "CREATE TABLE IF NOT EXISTS applied (id TEXT PRIMARY KEY, at_ms INTEGER NOT NULL)"
            .to_owned(),
    ]
}

/// Adds one key's counters to its minute row (made if new). Arguments:
/// t, the six values, the counters.
pub fn upsert_minute_counts() -> String {
    let cols = COUNTERS.join(", ");
    let marks = vec!["?"; COUNTERS.len()].join(", ");
    let sets = COUNTERS
        .iter()
        .map(|c| format!("{c} = {c} + excluded.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "INSERT INTO m_counts (t, {KEY_COLUMNS}, {cols}) VALUES (?, ?, ?, ?, ?, ?, ?, {marks}) \
         ON CONFLICT (t, {KEY_COLUMNS}) DO UPDATE SET {sets}"
    )
}

/// Arguments: t, the six values, bin or code, count.
pub fn upsert_minute_latency() -> String {
    format!(
        "INSERT INTO m_latency (t, {KEY_COLUMNS}, b, n) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) \
         ON CONFLICT (t, {KEY_COLUMNS}, b) DO UPDATE SET n = n + excluded.n"
    )
}

pub fn upsert_minute_decline() -> String {
    format!(
        "INSERT INTO m_declines (t, {KEY_COLUMNS}, code, n) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) \
         ON CONFLICT (t, {KEY_COLUMNS}, code) DO UPDATE SET n = n + excluded.n"
    )
}

/// A cube row's counters added, its latency replaced (merged by the
/// caller). Arguments: res, cube, t, the six values, the counters, latency.
pub fn upsert_cube() -> String {
    let cols = COUNTERS.join(", ");
    let marks = vec!["?"; COUNTERS.len() + 10].join(", ");
    let sets = COUNTERS
        .iter()
        .map(|c| format!("{c} = {c} + excluded.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "INSERT INTO cubes (res, cube, t, {KEY_COLUMNS}, {cols}, latency) VALUES ({marks}) \
         ON CONFLICT (res, cube, t, {KEY_COLUMNS}) DO UPDATE SET {sets}, latency = excluded.latency"
    )
}

/// Adds to a cube row's count of a decline code. Arguments: res, cube, t,
/// the six values, code, count.
pub fn upsert_cube_decline() -> String {
    format!(
        "INSERT INTO cube_declines (res, cube, t, {KEY_COLUMNS}, code, n) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
         ON CONFLICT (res, cube, t, {KEY_COLUMNS}, code) DO UPDATE SET n = n + excluded.n"
    )
}

/// Arguments: res, cube, t, the six values.
pub const SELECT_CUBE: &str = "SELECT latency FROM cubes WHERE res = ? AND cube = ? \
     AND t = ? AND processor = ? AND brand = ? AND country = ? AND funding = ? AND currency = ? \
     AND rule = ?";

/// A shard's minutes `[from, to)` rolled up into cube `mask`, per hour:
/// counts (columns: hour, the six values, the counters), latency (hour,
/// values, bin, count) and declines (hour, values, code, count).
pub fn rollup(mask: u8, from: u64, to: u64) -> [Sql; 3] {
    let key = Dim::ALL
        .iter()
        .map(|d| projected(*d, mask))
        .collect::<Vec<_>>()
        .join(", ");
    let sums = sums();
    let args = vec![int(from), int(to)];
    let sql = |table: &str, what: &str, extra: &str| Sql {
        text: format!(
            "SELECT t - t % 60, {key}, {what} FROM {table} WHERE t >= ? AND t < ? \
             GROUP BY 1, 2, 3, 4, 5, 6, 7{extra}"
        ),
        args: args.clone(),
    };
    [
        sql("m_counts", &sums, ""),
        sql("m_latency", "b, SUM(n)", ", 8"),
        sql("m_declines", "code, SUM(n)", ", 8"),
    ]
}

/// What a shard is asked: its minute rows in `ranges`, grouped by the
/// values of `group` (and by bucket start when `step` is given).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MinuteQuery {
    pub ranges: Vec<(u64, u64)>,
    pub step: Option<u64>,
    pub group: Vec<Dim>,
    pub filters: Vec<(Dim, String)>,
    /// Counters only: no latency, no decline codes (the rates' refresh).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub counts_only: bool,
}

/// What the rollup is asked: the rows of `cube` in `ranges`, with the
/// values of `group` (and their bucket start when `step` is given).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CubeQuery {
    pub cube: u8,
    pub ranges: Vec<(Res, u64, u64)>,
    pub step: Option<u64>,
    pub group: Vec<Dim>,
    pub filters: Vec<(Dim, String)>,
    /// Counters only: no latency, no decline codes (the rates' refresh).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub counts_only: bool,
}

impl Serialize for Dim {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Dim {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Dim, D::Error> {
        let s = String::deserialize(d)?;
        Dim::parse(&s).ok_or_else(|| serde::de::Error::custom("unknown dimension"))
    }
}

/// `SELECT <group values>[, bucket], <what> FROM <table> WHERE (<ranges>)
/// AND <filters> [GROUP BY ...]`: the shared shape of the queries.
fn select(
    table: &str,
    ranges: (String, Vec<Arg>),
    group: &[Dim],
    step: Option<u64>,
    filters: &[(Dim, String)],
    what: &str,
    grouped: Option<&str>,
) -> Sql {
    let mut cols: Vec<String> = group.iter().map(|d| d.name().to_owned()).collect();
    if let Some(s) = step {
        cols.push(format!("t - t % {s}"));
    }
    let (mut wher, mut args) = ranges;
    for (d, v) in filters {
        wher.push_str(&format!(" AND {} = ?", d.name()));
        args.push(Arg::Text(v.clone()));
    }
    let select = if cols.is_empty() {
        what.to_owned()
    } else {
        format!("{}, {what}", cols.join(", "))
    };
    let group_by = match grouped {
        None => String::new(),
        Some(extra) => {
            let n = cols.len();
            let mut positions: Vec<String> = (1..=n).map(|i| i.to_string()).collect();
            if !extra.is_empty() {
                positions.push(extra.to_owned());
            }
            if positions.is_empty() {
                String::new()
            } else {
                format!(" GROUP BY {}", positions.join(", "))
            }
        }
    };
    Sql {
        text: format!("SELECT {select} FROM {table} WHERE {wher}{group_by}"),
        args,
    }
}

impl MinuteQuery {
    fn ranges(&self) -> (String, Vec<Arg>) {
        if self.ranges.is_empty() {
            return ("0".to_owned(), Vec::new());
        }
        let mut args = Vec::new();
        let parts: Vec<&str> = self
            .ranges
            .iter()
            .map(|(a, b)| {
                args.push(int(*a));
                args.push(int(*b));
                "(t >= ? AND t < ?)"
            })
            .collect();
        (format!("({})", parts.join(" OR ")), args)
    }

    fn select(&self, table: &str, what: &str, extra: &str) -> Sql {
        select(
            table,
            self.ranges(),
            &self.group,
            self.step,
            &self.filters,
            what,
            Some(extra),
        )
    }

    /// The group's values, [bucket,] then the sums of `COUNTERS`.
    pub fn counts_sql(&self) -> Sql {
        self.select("m_counts", &sums(), "")
    }

    /// The group's values, [bucket,] bin, count.
    pub fn latency_sql(&self) -> Sql {
        let n = self.key_columns() + 1;
        self.select("m_latency", "b, SUM(n)", &n.to_string())
    }

    /// The group's values, [bucket,] code, count.
    pub fn declines_sql(&self) -> Sql {
        let n = self.key_columns() + 1;
        self.select("m_declines", "code, SUM(n)", &n.to_string())
    }

    /// The leading columns that name a group (values, [bucket]).
    pub fn key_columns(&self) -> usize {
        self.group.len() + usize::from(self.step.is_some())
    }
}

impl CubeQuery {
    fn ranges(&self) -> (String, Vec<Arg>) {
        if self.ranges.is_empty() {
            return ("0".to_owned(), Vec::new());
        }
        let mut args = vec![Arg::Int(i64::from(self.cube))];
        let parts: Vec<&str> = self
            .ranges
            .iter()
            .map(|(res, a, b)| {
                args.push(Arg::Int(res.code()));
                args.push(int(*a));
                args.push(int(*b));
                "(res = ? AND t >= ? AND t < ?)"
            })
            .collect();
        (format!("cube = ? AND ({})", parts.join(" OR ")), args)
    }

    fn select(&self, table: &str, what: &str, grouped: Option<&str>) -> Sql {
        select(
            table,
            self.ranges(),
            &self.group,
            self.step,
            &self.filters,
            what,
            grouped,
        )
    }

    /// The group's values, [bucket,] the sums of `COUNTERS`.
    pub fn counts_sql(&self) -> Sql {
        self.select("cubes", &sums(), Some(""))
    }

    /// The group's values, [bucket,] latency: one row per cube row (the
    /// histograms are merged by the caller).
    pub fn latency_sql(&self) -> Sql {
        self.select("cubes", "latency", None)
    }

    /// The group's values, [bucket,] code, count.
    pub fn declines_sql(&self) -> Sql {
        let n = self.key_columns() + 1;
        self.select("cube_declines", "code, SUM(n)", Some(&n.to_string()))
    }

    pub fn key_columns(&self) -> usize {
        self.group.len() + usize::from(self.step.is_some())
    }
}

/// What the rollup is asked for a query grouped by `group` (and by bucket
/// start, each `step` minutes, for a series): cube rows from
/// `lo` on (hours to the first whole day, then days; or the bucket's own
/// size), from the cube that keeps the dimensions grouped or filtered by.
/// None for minute buckets (minute rows only).
pub fn cube_query(q: &Query, group: &[Dim], step: Option<u64>) -> Option<CubeQuery> {
    let ranges = match q.bucket {
        Some(Res::Minute) => return None,
        Some(res) => vec![(res, q.lo, q.end)],
        None => {
            let day = Res::Day.ceil(q.lo);
            let mut r = Vec::new();
            if q.lo < day.min(q.end) {
                r.push((Res::Hour, q.lo, day.min(q.end)));
            }
            if day < q.end {
                r.push((Res::Day, day, q.end));
            }
            r
        }
    };
    Some(CubeQuery {
        cube: cube_of(
            group
                .iter()
                .copied()
                .chain(q.filters.iter().map(|(d, _)| *d)),
        ),
        ranges,
        step,
        group: group.to_vec(),
        filters: q.filters.clone(),
        counts_only: false,
    })
}

/// The minute rows a shard whose counts the rollup holds up to `w` is asked
/// for: the start's minutes before `lo`, and its minutes from `w` on
/// (grouped by `group`, and by bucket start each `step` minutes).
pub fn minute_query(q: &Query, group: &[Dim], w: u64, step: Option<u64>) -> MinuteQuery {
    let mut ranges = Vec::new();
    if q.bucket == Some(Res::Minute) {
        ranges.push((q.start, q.end));
    } else {
        if q.start < q.lo {
            ranges.push((q.start, q.lo.min(q.end)));
        }
        let from = q.lo.max(w);
        if from < q.end {
            ranges.push((from, q.end));
        }
    }
    MinuteQuery {
        ranges,
        step,
        group: group.to_vec(),
        filters: q.filters.clone(),
        counts_only: false,
    }
}

/// A shard's retention: minute rows before `cutoff` (the older of 2 days
/// ago and its acknowledged watermark: nothing is deleted before it is
/// rolled up), and batch ids older than a day.
pub fn shard_retention(cutoff_minute: u64, batch_cutoff_ms: u64) -> Vec<Sql> {
    let mut out: Vec<Sql> = ["m_counts", "m_latency", "m_declines"]
        .iter()
        .map(|t| Sql {
            text: format!("DELETE FROM {t} WHERE t < ?"),
            args: vec![int(cutoff_minute)],
        })
        .collect();
    out.push(Sql {
        text: "DELETE FROM batches WHERE at_ms < ?".to_owned(),
        args: vec![int(batch_cutoff_ms)],
    });
    out
}

/// The rollup's retention: hour rows after 32 days, day rows after 400,
/// applied ids after a day.
pub fn rollup_retention(now_minute: u64, applied_cutoff_ms: u64) -> Vec<Sql> {
    let mut out = Vec::new();
    for res in [Res::Hour, Res::Day] {
        for table in ["cubes", "cube_declines"] {
            out.push(Sql {
                text: format!("DELETE FROM {table} WHERE res = ? AND t < ?"),
                args: vec![
                    Arg::Int(res.code()),
                    int(now_minute.saturating_sub(res.keep_minutes())),
                ],
            });
        }
    }
    out.push(Sql {
        text: "DELETE FROM applied WHERE at_ms < ?".to_owned(),
        args: vec![int(applied_cutoff_ms)],
    });
    out
}
