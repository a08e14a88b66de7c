//! `GET /v1/routing/metrics`'s parameters, the buckets that cover its
//! window, and the SQL each shard runs (values always bound as arguments;
//! column names only from `Dim` and `COUNTERS`).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Dim, COUNTERS};
use crate::error::ApiError;
use crate::form::{only_keys, param_str, param_u64};
use crate::listing::Arg;

/// A bucket size (the resolution rows are stored at).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Res {
    Minute,
    Hour,
    Day,
}

impl Res {
    pub const ALL: [Res; 3] = [Res::Minute, Res::Hour, Res::Day];

    /// Stored in the `res` column.
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

/// The longest window: a year (day buckets are kept 400 days).
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
    /// earlier than asked, to the bucket it falls in, see `cover`).
    pub start: u64,
    pub end: u64,
    pub bucket: Option<Res>,
    pub group_by: Vec<Dim>,
    pub filters: Vec<(Dim, String)>,
    /// The rows that cover `[start, end)`.
    pub ranges: Vec<Range>,
}

/// Rows of one size, `[from, to)` in minutes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Range {
    pub res: Res,
    pub from: u64,
    pub to: u64,
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
            if value.is_empty() || value.len() > 200 {
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
    let (start, ranges) = match bucket {
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
            (
                start,
                vec![Range {
                    res,
                    from: start,
                    to: end,
                }],
            )
        }
        None => cover(asked, end, now),
    };
    Ok(Query {
        window_s,
        start,
        end,
        bucket,
        group_by,
        filters,
        ranges,
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

/// The rows that cover the minutes `[start, end)` with as few rows as
/// possible: whole days as day rows, whole hours left at either edge as
/// hour rows, and the minutes left as minute rows. Rows past their
/// retention are not read: a start before the minute rows kept is moved
/// back to its hour, and before the hour rows kept, to its day. Answers
/// the start actually covered.
pub fn cover(start: u64, end: u64, now: u64) -> (u64, Vec<Range>) {
    let mut start = start;
    if start < now.saturating_sub(Res::Minute.keep_minutes()) {
        start = Res::Hour.floor(start);
    }
    if start < now.saturating_sub(Res::Hour.keep_minutes()) {
        start = Res::Day.floor(start);
    }
    let mut out = Vec::new();
    split(start, end, Res::Day, &mut out);
    out.sort_by_key(|r| (r.res, r.from));
    (start, out)
}

/// `[a, b)` with the largest rows of `res` that fit, the edges with smaller.
fn split(a: u64, b: u64, res: Res, out: &mut Vec<Range>) {
    if a >= b {
        return;
    }
    let smaller = match res {
        Res::Day => Some(Res::Hour),
        Res::Hour => Some(Res::Minute),
        Res::Minute => None,
    };
    let (lo, hi) = (res.ceil(a), res.floor(b));
    match smaller {
        Some(s) if lo < hi => {
            split(a, lo, s, out);
            out.push(Range {
                res,
                from: lo,
                to: hi,
            });
            split(hi, b, s, out);
        }
        Some(s) => split(a, b, s, out),
        None => out.push(Range {
            res,
            from: a,
            to: b,
        }),
    }
}

/// What a shard is asked: the rows, the grouping and the filters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardQuery {
    pub ranges: Vec<Range>,
    /// Grouped by these dimensions (in `Dim` order) ...
    pub group: Vec<Dim>,
    /// ... and by bucket start (a series: every range is of one size).
    pub by_time: bool,
    pub filters: Vec<(Dim, String)>,
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

/// A statement and its arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sql {
    pub text: String,
    pub args: Vec<Arg>,
}

/// The tables a shard keeps (`t`: the bucket's first minute; `d`: the
/// row of `dims` holding the six values).
pub const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS dims (id INTEGER PRIMARY KEY, processor TEXT NOT NULL, \
     brand TEXT NOT NULL, country TEXT NOT NULL, funding TEXT NOT NULL, currency TEXT NOT NULL, \
     rule TEXT NOT NULL, UNIQUE (processor, brand, country, funding, currency, rule))",
    "CREATE TABLE IF NOT EXISTS counts (res INTEGER NOT NULL, t INTEGER NOT NULL, d INTEGER NOT NULL, \
     payments INTEGER NOT NULL, amount INTEGER NOT NULL, attempts INTEGER NOT NULL, \
     authorized INTEGER NOT NULL, authorized_amount INTEGER NOT NULL, soft_declines INTEGER NOT NULL, \
     hard_declines INTEGER NOT NULL, authentication_required INTEGER NOT NULL, \
     not_processed INTEGER NOT NULL, unknown INTEGER NOT NULL, skipped INTEGER NOT NULL, \
     recovered INTEGER NOT NULL, recovered_amount INTEGER NOT NULL, \
     PRIMARY KEY (res, t, d)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS latency (res INTEGER NOT NULL, t INTEGER NOT NULL, d INTEGER NOT NULL, \
     b INTEGER NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (res, t, d, b)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS declines (res INTEGER NOT NULL, t INTEGER NOT NULL, d INTEGER NOT NULL, \
     code TEXT NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (res, t, d, code)) WITHOUT ROWID",
    // The batches already applied (a retried recording is applied once).
    "CREATE TABLE IF NOT EXISTS batches (id TEXT PRIMARY KEY, at_ms INTEGER NOT NULL)",
];

/// Adds one key's counters to a bucket row (made if new).
pub fn upsert_counts() -> String {
    let cols = COUNTERS.join(", ");
    let marks = vec!["?"; COUNTERS.len()].join(", ");
    let sets = COUNTERS
        .iter()
        .map(|c| format!("{c} = {c} + excluded.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "INSERT INTO counts (res, t, d, {cols}) VALUES (?, ?, ?, {marks}) \
         ON CONFLICT (res, t, d) DO UPDATE SET {sets}"
    )
}

pub const UPSERT_LATENCY: &str = "INSERT INTO latency (res, t, d, b, n) VALUES (?, ?, ?, ?, ?) \
     ON CONFLICT (res, t, d, b) DO UPDATE SET n = n + excluded.n";
pub const UPSERT_DECLINE: &str =
    "INSERT INTO declines (res, t, d, code, n) VALUES (?, ?, ?, ?, ?) \
     ON CONFLICT (res, t, d, code) DO UPDATE SET n = n + excluded.n";

impl ShardQuery {
    /// `SELECT <group values>[, t], <what> FROM <table> x JOIN dims ...
    /// WHERE <ranges> AND <filters> GROUP BY <group values>[, t]<, extra>`.
    fn select(&self, table: &str, what: &str, extra_group: Option<&str>) -> Sql {
        let mut cols: Vec<String> = self
            .group
            .iter()
            .map(|d| format!("d.{}", d.name()))
            .collect();
        if self.by_time {
            cols.push("x.t".to_owned());
        }
        let mut args = Vec::new();
        let ranges = self
            .ranges
            .iter()
            .map(|r| {
                args.push(Arg::Int(r.res.code()));
                args.push(Arg::Int(i64::try_from(r.from).unwrap_or(i64::MAX)));
                args.push(Arg::Int(i64::try_from(r.to).unwrap_or(i64::MAX)));
                "(x.res = ? AND x.t >= ? AND x.t < ?)".to_owned()
            })
            .collect::<Vec<_>>();
        let mut wher = if ranges.is_empty() {
            "0".to_owned()
        } else {
            format!("({})", ranges.join(" OR "))
        };
        for (d, v) in &self.filters {
            wher.push_str(&format!(" AND d.{} = ?", d.name()));
            args.push(Arg::Text(v.clone()));
        }
        let mut group = cols.clone();
        if let Some(e) = extra_group {
            group.push(e.to_owned());
        }
        let select = if cols.is_empty() {
            what.to_owned()
        } else {
            format!("{}, {what}", cols.join(", "))
        };
        let group = if group.is_empty() {
            String::new()
        } else {
            format!(" GROUP BY {}", group.join(", "))
        };
        Sql {
            text: format!(
                "SELECT {select} FROM {table} x JOIN dims d ON d.id = x.d WHERE {wher}{group}"
            ),
            args,
        }
    }

    /// The group's values, [t,] then the sums of `COUNTERS`.
    pub fn counts_sql(&self) -> Sql {
        let sums = COUNTERS
            .iter()
            .map(|c| format!("SUM(x.{c})"))
            .collect::<Vec<_>>()
            .join(", ");
        self.select("counts", &sums, None)
    }

    /// The group's values, [t,] bin, count.
    pub fn latency_sql(&self) -> Sql {
        self.select("latency", "x.b, SUM(x.n)", Some("x.b"))
    }

    /// The group's values, [t,] code, count.
    pub fn declines_sql(&self) -> Sql {
        self.select("declines", "x.code, SUM(x.n)", Some("x.code"))
    }

    /// The number of leading columns that name the group (values, [t]).
    pub fn key_columns(&self) -> usize {
        self.group.len() + usize::from(self.by_time)
    }
}

/// Rows a shard deletes at its retention pass: for each size, those older
/// than kept (arguments: res, the first minute kept).
pub fn retention(now_minute: u64) -> Vec<(&'static str, Vec<Arg>)> {
    let mut out = Vec::new();
    for res in Res::ALL {
        let cutoff = i64::try_from(now_minute.saturating_sub(res.keep_minutes())).unwrap_or(0);
        for table in [
            "DELETE FROM counts WHERE res = ? AND t < ?",
            "DELETE FROM latency WHERE res = ? AND t < ?",
            "DELETE FROM declines WHERE res = ? AND t < ?",
        ] {
            out.push((table, vec![Arg::Int(res.code()), Arg::Int(cutoff)]));
        }
    }
    out
}
