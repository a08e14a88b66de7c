//! Reading the metrics store, for the metrics query (`edge/metrics.rs`)
//! and the rates `auth_rate` routes by (`edge/rates.rs`): the mode's
//! rollup first (its cube rows and every shard's watermark, read
//! together), then each shard's minute rows from its watermark on.

use futures_util::future::join_all;
use worker::{Env, Stub};

use super::metrics_rollup::{self, RollupAnswer};
use super::objects::{call, stub as object_stub, Binding};
use crate::auth::Mode;
use crate::error::ApiError;
use crate::metrics::query::{self, Query};
use crate::metrics::report::ShardAnswer;
use crate::metrics::Dim;

/// Shards per mode.
pub(crate) const SHARDS: u32 = 16;

pub(crate) fn shard_stub(env: &Env, mode: Mode, n: u32) -> Result<Stub, ApiError> {
    object_stub(env, Binding::Metrics, mode, Some(&format!("shard:{n}")))
}

/// The rows of a query grouped by `group` (and by bucket start each `step`
/// minutes): the rollup's, then each shard's from its watermark on; and the
/// earliest watermark. `counts_only`: the counters alone.
pub(crate) async fn collect(
    env: &Env,
    mode: Mode,
    q: &Query,
    group: &[Dim],
    step: Option<u64>,
    counts_only: bool,
) -> Result<(Vec<ShardAnswer>, Option<u64>), ApiError> {
    let rollup = match query::cube_query(q, group, step) {
        Some(mut cq) => {
            cq.counts_only = counts_only;
            metrics_rollup::query(env, mode, &cq).await?
        }
        None => RollupAnswer::default(),
    };
    let calls = (0..SHARDS).map(|n| {
        let w = rollup.watermarks.get(&n).copied().unwrap_or(0);
        let mut mq = query::minute_query(q, group, w, step);
        mq.counts_only = counts_only;
        async move {
            if mq.ranges.is_empty() {
                return Ok(ShardAnswer::default());
            }
            let s = shard_stub(env, mode, n)?;
            let a = call(&s, "/query", Some(&mq)).await?;
            if a.status != 200 {
                return Err(ApiError::internal("a metrics shard failed"));
            }
            serde_json::from_value::<ShardAnswer>(a.value())
                .map_err(|e| ApiError::internal(format!("unreadable metrics shard answer: {e}")))
        }
    });
    let mut parts = join_all(calls)
        .await
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
    let rolled_up = rollup.watermarks.values().min().copied();
    parts.push(ShardAnswer {
        groups: rollup.groups,
    });
    Ok((parts, rolled_up))
}
