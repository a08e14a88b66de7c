//! The shards' answers merged, and the answer of `GET /v1/routing/metrics`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::query::{Query, Res};
use super::{Counts, Dim};

/// One group of a shard's answer: its values (of `ShardQuery::group`), its
/// bucket when a series was asked, and its counts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRow {
    pub key: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub t: Option<u64>,
    pub counts: Counts,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardAnswer {
    pub groups: Vec<GroupRow>,
}

/// What the rollup and the shards group by for a query: the processor and
/// the currency (the answer always has per-processor figures, and amounts
/// are only summed within a currency) and what was asked.
pub fn group_of(q: &Query) -> Vec<Dim> {
    let mut group: Vec<Dim> = vec![Dim::Processor, Dim::Currency];
    group.extend(q.group_by.iter().copied());
    group.sort();
    group.dedup();
    group
}

/// Counts with their amounts kept per currency.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Agg {
    counts: Counts,
    /// currency -> (amount, authorized, recovered)
    amounts: BTreeMap<String, [u64; 3]>,
}

impl Agg {
    fn add(&mut self, currency: &str, c: &Counts) {
        self.counts.merge(c);
        let a = self.amounts.entry(currency.to_owned()).or_default();
        a[0] += c.amount;
        a[1] += c.authorized_amount;
        a[2] += c.recovered_amount;
    }
}

fn amounts(agg: &Agg, i: usize) -> Value {
    Value::Object(
        agg.amounts
            .iter()
            .filter(|(_, a)| a[i] > 0)
            .map(|(cur, a)| (cur.clone(), json!(a[i])))
            .collect(),
    )
}

/// The decline codes shown per group.
const TOP_CODES: usize = 5;

fn figures(agg: &Agg) -> Map<String, Value> {
    let c = &agg.counts;
    let rate = (c.attempts > 0).then(|| c.authorized as f64 / c.attempts as f64);
    let mut codes: Vec<(&String, &u64)> = c.declines.iter().collect();
    codes.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let codes: Vec<Value> = codes
        .into_iter()
        .take(TOP_CODES)
        .map(|(code, n)| json!({"code": code, "count": n}))
        .collect();
    let q = |p: f64| c.latency.quantile(p);
    let mut m = Map::new();
    m.insert("payments".into(), json!(c.payments));
    m.insert("amount".into(), amounts(agg, 0));
    m.insert("attempts".into(), json!(c.attempts));
    m.insert("authorized".into(), json!(c.authorized));
    m.insert("authorized_amount".into(), amounts(agg, 1));
    m.insert("soft_declines".into(), json!(c.soft_declines));
    m.insert("hard_declines".into(), json!(c.hard_declines));
    m.insert(
        "authentication_required".into(),
        json!(c.authentication_required),
    );
    m.insert("errors".into(), json!(c.not_processed + c.unknown));
    m.insert("not_processed".into(), json!(c.not_processed));
    m.insert("unknown".into(), json!(c.unknown));
    m.insert("skipped".into(), json!(c.skipped));
    m.insert("authorization_rate".into(), json!(rate));
    m.insert(
        "latency_ms".into(),
        json!({"p50": q(0.50), "p95": q(0.95), "p99": q(0.99)}),
    );
    m.insert("decline_codes".into(), Value::Array(codes));
    m.insert("recovered_by_retry".into(), json!(c.recovered));
    m.insert("recovered_amount".into(), amounts(agg, 2));
    m
}

/// A group's counts, in all and per bucket.
type Group = (Agg, BTreeMap<u64, Agg>);

/// A dimension's value as answered: the default route's empty rule name
/// is `null`.
fn value_of(d: Dim, v: &str) -> Value {
    if d == Dim::Rule && v.is_empty() {
        Value::Null
    } else {
        Value::String(v.to_owned())
    }
}

/// The answer: totals, per-processor figures, and the asked groups (with
/// their series when a bucket was asked).
///
/// `totals`: rows grouped by `group` (`group_of`); `series`: with a
/// bucket, rows grouped by the asked dimensions alone (in their order) and
/// by bucket start: a series point shows no amounts, so it is not split by
/// currency (a 30-day series of hours has 720 points per group).
/// `rolled_up`: the earliest of the shards' watermarks (minutes before it
/// are read from the rollup for every shard that has counts).
pub fn answer(
    q: &Query,
    livemode: bool,
    group: &[Dim],
    totals_rows: Vec<ShardAnswer>,
    series_rows: Vec<ShardAnswer>,
    rolled_up: Option<u64>,
) -> Value {
    let pos = |d: Dim| group.iter().position(|x| *x == d);
    let cur = pos(Dim::Currency);
    let proc_ = pos(Dim::Processor);
    let asked: Vec<Option<usize>> = q.group_by.iter().map(|d| pos(*d)).collect();
    let mut totals = Agg::default();
    let mut processors: BTreeMap<String, Agg> = BTreeMap::new();
    let mut groups: BTreeMap<Vec<String>, Group> = BTreeMap::new();
    let field = |row: &GroupRow, i: Option<usize>| {
        i.and_then(|i| row.key.get(i)).cloned().unwrap_or_default()
    };
    for shard in &totals_rows {
        for row in &shard.groups {
            let currency = field(row, cur);
            totals.add(&currency, &row.counts);
            processors
                .entry(field(row, proc_))
                .or_default()
                .add(&currency, &row.counts);
            let key: Vec<String> = asked.iter().map(|i| field(row, *i)).collect();
            groups.entry(key).or_default().0.add(&currency, &row.counts);
        }
    }
    for shard in &series_rows {
        for row in &shard.groups {
            if let Some(t) = row.t {
                let g = groups.entry(row.key.clone()).or_default();
                g.1.entry(t).or_default().add("", &row.counts);
            }
        }
    }
    let to_s = |minute: u64| minute * 60;
    let mut group_list: Vec<(Vec<String>, Group)> = groups.into_iter().collect();
    group_list.sort_by(|a, b| {
        (b.1 .0.counts.attempts + b.1 .0.counts.skipped)
            .cmp(&(a.1 .0.counts.attempts + a.1 .0.counts.skipped))
            .then(a.0.cmp(&b.0))
    });
    let groups: Vec<Value> = group_list
        .into_iter()
        .map(|(key, (agg, series))| {
            let mut m = Map::new();
            let k: Map<String, Value> = q
                .group_by
                .iter()
                .zip(&key)
                .map(|(d, v)| (d.name().to_owned(), value_of(*d, v)))
                .collect();
            m.insert("key".into(), Value::Object(k));
            m.extend(figures(&agg));
            if let Some(res) = q.bucket {
                m.insert("series".into(), Value::Array(series_of(q, res, &series)));
            }
            Value::Object(m)
        })
        .collect();
    let processors: Map<String, Value> = processors
        .iter()
        .filter(|(_, a)| a.counts.attempts > 0)
        .map(|(p, a)| (p.clone(), Value::Object(figures(a))))
        .collect();
    let filters: Map<String, Value> = q
        .filters
        .iter()
        .map(|(d, v)| (d.name().to_owned(), Value::String(v.clone())))
        .collect();
    json!({
        "object": "routing_metrics",
        "livemode": livemode,
        "window_seconds": q.window_s,
        "start": to_s(q.start),
        "end": to_s(q.end),
        "bucket": q.bucket.map(Res::name),
        "rolled_up_through": rolled_up.map(to_s),
        "group_by": q.group_by.iter().map(|d| d.name()).collect::<Vec<_>>(),
        "filters": filters,
        "totals": figures(&totals),
        "processors": processors,
        "groups": groups,
    })
}

/// Every bucket of the window, in order, empty ones included: the counts,
/// the rate and the latency (amounts and decline codes are in the group's
/// figures).
fn series_of(q: &Query, res: Res, have: &BTreeMap<u64, Agg>) -> Vec<Value> {
    let empty = Agg::default();
    let mut out = Vec::new();
    let mut t = q.start;
    while t < q.end {
        let c = &have.get(&t).unwrap_or(&empty).counts;
        let rate = (c.attempts > 0).then(|| c.authorized as f64 / c.attempts as f64);
        let q = |p: f64| c.latency.quantile(p);
        out.push(json!({
            "start": t * 60,
            "payments": c.payments,
            "attempts": c.attempts,
            "authorized": c.authorized,
            "soft_declines": c.soft_declines,
            "hard_declines": c.hard_declines,
            "errors": c.not_processed + c.unknown,
            "skipped": c.skipped,
            "recovered_by_retry": c.recovered,
            "authorization_rate": rate,
            "latency_ms": {"p50": q(0.50), "p95": q(0.95), "p99": q(0.99)},
        }));
        t += res.minutes();
    }
    out
}
