//! The authorization rates `auth_rate` routes by, at the edge
//! (`crate::metrics::rates` is the pure part).
//!
//! Each isolate keeps its mode's table (`Rates`) in memory and hands it to
//! every payment it routes: no payment waits for the metrics store. A
//! table older than `SWITCHYARD_RATES_REFRESH_SECONDS` is refreshed in the
//! background, one refresh at a time, from the metrics of the last
//! `SWITCHYARD_RATES_WINDOW_SECONDS` (counters only). Until an isolate's
//! first refresh ends it has no rates, and `auth_rate` decides by its fixed
//! order (docs/rules.md); a refresh that fails keeps the table it had.
//!
//! `GET /v1/routing/rates` shows the table this isolate routes with.

use std::cell::RefCell;
use std::rc::Rc;

use serde_json::json;
use worker::{console_error, Env, Response};

use super::config::config;
use super::metrics_read::collect;
use super::request::Call;
use super::runtime::{json_response, now_ms};
use crate::auth::Mode;
use crate::error::ApiError;
use crate::metrics::rates::{self, Row};
use crate::metrics::report;
use switchyard_rules::Rates;

/// A refresh not answered after this long is taken to be lost (its
/// request was cancelled); the next payment starts another.
const STALE_REFRESH_MS: u64 = 30_000;

#[derive(Default)]
struct Table {
    rates: Rc<Rates>,
    rows: Rc<Vec<Row>>,
    /// When the table was read (0: never).
    read_ms: u64,
    /// When the refresh under way started.
    refreshing_ms: Option<u64>,
}

thread_local! {
    /// Test mode's, then live mode's.
    static TABLES: RefCell<[Table; 2]> = RefCell::new(Default::default());
}

fn with<T>(mode: Mode, f: impl FnOnce(&mut Table) -> T) -> T {
    TABLES.with(|t| f(&mut t.borrow_mut()[usize::from(mode.livemode())]))
}

/// The mode's rates for a payment about to be routed: this isolate's
/// table, refreshed in the background when it is due.
pub(crate) fn current(env: &Env, mode: Mode) -> Rc<Rates> {
    let now = now_ms();
    let refresh_ms = config(env).rates_refresh_ms;
    let (rates, due) = with(mode, |t| {
        let due = now.saturating_sub(t.read_ms) >= refresh_ms
            && t.refreshing_ms
                .is_none_or(|s| now.saturating_sub(s) >= STALE_REFRESH_MS);
        if due {
            t.refreshing_ms = Some(now);
        }
        (t.rates.clone(), due)
    });
    if due {
        let env = env.clone();
        wasm_bindgen_futures::spawn_local(async move {
            if let Err(e) = refresh(&env, mode).await {
                console_error!("rates not refreshed: {}", e.message);
            }
        });
    }
    rates
}

/// Reads the mode's rates from the metrics store into this isolate's table.
async fn refresh(env: &Env, mode: Mode) -> Result<(), ApiError> {
    let started = now_ms();
    let result = async {
        let q = rates::query(config(env).rates_window_s, started)?;
        let group = report::group_of(&q);
        let (parts, _) = collect(env, mode, &q, &group, None, true).await?;
        let rows = rates::rows(&group, &parts);
        Ok::<_, ApiError>((rates::table(&rows), rows))
    }
    .await;
    with(mode, |t| {
        t.refreshing_ms = None;
        match result {
            Ok((rates, rows)) => {
                t.rates = Rc::new(rates);
                t.rows = Rc::new(rows);
                t.read_ms = started;
                Ok(())
            }
            Err(e) => Err(e),
        }
    })
}

/// The mode's rates as this isolate routes with them, read now when they
/// are due (for the API: a caller who asks may wait).
pub(crate) async fn fresh(env: &Env, mode: Mode) -> Result<Rc<Rates>, ApiError> {
    let refresh_ms = config(env).rates_refresh_ms;
    if with(mode, |t| now_ms().saturating_sub(t.read_ms) >= refresh_ms) {
        refresh(env, mode).await?;
    }
    Ok(with(mode, |t| t.rates.clone()))
}

/// `GET /v1/routing/rates`: the rates this isolate routes the mode's
/// payments with (read now when they are due). It takes no parameters.
pub(crate) async fn get(call: &Call, env: &Env) -> Result<Response, ApiError> {
    let params = crate::form::parse_form(call.query.as_deref().unwrap_or(""))?;
    crate::form::only_keys(&params, "", &[])?;
    let mode = call.principal.mode;
    let cfg = config(env);
    fresh(env, mode).await?;
    let (rows, read_ms) = with(mode, |t| (t.rows.clone(), t.read_ms));
    Ok(json_response(
        200,
        &json!({
            "object": "routing_rates",
            "livemode": mode.livemode(),
            "window_seconds": cfg.rates_window_s,
            "refresh_seconds": cfg.rates_refresh_ms / 1000,
            "computed_at": read_ms / 1000,
            "rates": *rows,
        }),
    ))
}
