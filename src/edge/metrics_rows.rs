//! What the metrics objects share: grouped SQL rows folded into counts,
//! their retention alarm, and their answers.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;
use worker::{Response, SqlStorageValue, Storage};

use super::runtime::{error_response, json_response};
use super::sql::{as_text, as_u64};
use crate::error::ApiError;
use crate::metrics::{Counts, COUNTERS};

/// Counts by group key.
pub(crate) type Groups<K> = BTreeMap<K, Counts>;

/// A grouped query's key: the first `g` columns, and the bucket start
/// after them when the query is a series.
pub(crate) fn group_key(
    row: &[SqlStorageValue],
    g: usize,
    series: bool,
) -> (Vec<String>, Option<u64>) {
    let values = row[..g].iter().map(as_text).collect();
    (values, series.then(|| as_u64(&row[g])))
}

/// Rows of `n` key columns then the sums of `COUNTERS`, added to their group.
pub(crate) fn add_counts<K: Ord>(
    groups: &mut Groups<K>,
    rows: &[Vec<SqlStorageValue>],
    n: usize,
    key_of: impl Fn(&[SqlStorageValue]) -> K,
) {
    for row in rows {
        if row.len() < n + COUNTERS.len() {
            continue;
        }
        let mut c = [0u64; 13];
        for (i, v) in row[n..n + COUNTERS.len()].iter().enumerate() {
            c[i] = as_u64(v);
        }
        groups.entry(key_of(row)).or_default().add_counters(&c);
    }
}

/// Rows of `n` key columns then a latency bin and its count.
pub(crate) fn add_latency_bins<K: Ord>(
    groups: &mut Groups<K>,
    rows: &[Vec<SqlStorageValue>],
    n: usize,
    key_of: impl Fn(&[SqlStorageValue]) -> K,
) {
    for row in rows {
        if row.len() < n + 2 {
            continue;
        }
        let b = u16::try_from(as_u64(&row[n])).unwrap_or(u16::MAX);
        if let Some(c) = groups.get_mut(&key_of(row)) {
            c.latency.add(b, as_u64(&row[n + 1]));
        }
    }
}

/// Rows of `n` key columns then a decline code and its count.
pub(crate) fn add_declines<K: Ord>(
    groups: &mut Groups<K>,
    rows: &[Vec<SqlStorageValue>],
    n: usize,
    key_of: impl Fn(&[SqlStorageValue]) -> K,
) {
    for row in rows {
        if row.len() < n + 2 {
            continue;
        }
        if let Some(c) = groups.get_mut(&key_of(row)) {
            c.add_decline(&as_text(&row[n]), as_u64(&row[n + 1]));
        }
    }
}

/// Sets the object's alarm `after` from now if none is set (`set`
/// remembers it for the object's life, until the alarm runs).
pub(crate) async fn ensure_alarm(storage: &Storage, set: &Cell<bool>, after: Duration) {
    if set.get() {
        return;
    }
    let now_set = match storage.get_alarm().await {
        Ok(Some(_)) => true,
        Ok(None) => storage.set_alarm(after).await.is_ok(),
        Err(_) => false,
    };
    set.set(now_set);
}

/// A call's message, read (`what` names it in the error).
pub(crate) fn read<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> Result<T, ApiError> {
    serde_json::from_str(text).map_err(|e| ApiError::internal(format!("unreadable {what}: {e}")))
}

/// An object's answer: its JSON, or its error.
pub(crate) fn respond(result: Result<Value, ApiError>) -> Response {
    match result {
        Ok(v) => json_response(200, &v),
        Err(e) => error_response(&e),
    }
}

/// A value as JSON (for an answer).
pub(crate) fn to_json<T: serde::Serialize>(v: T) -> Result<Value, ApiError> {
    serde_json::to_value(v).map_err(|e| ApiError::internal(e.to_string()))
}
