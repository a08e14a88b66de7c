//! The authorization rates `auth_rate` routes by, at the edge
//! (`crate::metrics::rates` is the pure part).
//!
//! - `RatesObject` (binding `RATES`, one per mode) computes the mode's
//!   table from the metrics store (the rollup, then the 16 shards;
//!   counters only) over the last `SWITCHYARD_RATES_WINDOW_SECONDS`, keeps
//!   it in memory for `SWITCHYARD_RATES_REFRESH_SECONDS`, and hands it to
//!   isolates in the engine's compact binary form (`Rates::encode`).
//! - Each isolate keeps its mode's table and hands it to every payment it
//!   routes: no payment waits for it. A table older than the refresh
//!   period is fetched anew in the background, one fetch at a time; the
//!   isolate's share of a refresh is one small read and a decode, no JSON
//!   (BENCHMARKS.md). Until its first refresh ends an isolate has no
//!   rates, and `auth_rate` decides by its fixed order (docs/rules.md); a
//!   refresh that fails keeps the table it had.
//!
//! `GET /v1/routing/rates` shows the mode's table, group by group.

use std::cell::RefCell;
use std::rc::Rc;

use serde::{Deserialize, Serialize};
use serde_json::json;
use worker::{console_error, durable_object, DurableObject, Env, Request, Response, State};

use super::config::config;
use super::metrics_read::collect;
use super::objects::{fetch, stub, Binding};
use super::request::Call;
use super::runtime::{error_response, json_response, now_ms};
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
    /// When this isolate last fetched it (0: never).
    fetched_ms: u64,
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

impl Table {
    /// Whether the table is older than the refresh period.
    fn due(&self, now: u64, refresh_ms: u64) -> bool {
        now.saturating_sub(self.fetched_ms) >= refresh_ms
    }
}

/// The mode's rates for a payment about to be routed: this isolate's
/// table, refreshed in the background when it is due.
pub(crate) fn current(env: &Env, mode: Mode) -> Rc<Rates> {
    let now = now_ms();
    let refresh_ms = config(env).rates_refresh_ms;
    let (rates, due) = with(mode, |t| {
        let due = t.due(now, refresh_ms)
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

/// What an isolate asks the mode's rates object.
#[derive(Serialize, Deserialize)]
struct Ask {
    /// The mode of the object asked (named by it: `objects.rs`).
    livemode: bool,
    window_s: u64,
    /// The oldest table the caller takes.
    max_age_ms: u64,
}

fn ask(env: &Env, mode: Mode) -> Ask {
    let cfg = config(env);
    Ask {
        livemode: mode.livemode(),
        window_s: cfg.rates_window_s,
        max_age_ms: cfg.rates_refresh_ms,
    }
}

/// Fetches the mode's table into this isolate.
async fn refresh(env: &Env, mode: Mode) -> Result<(), ApiError> {
    let result = async {
        let s = stub(env, Binding::Rates, mode, None)?;
        let mut resp = fetch(&s, "/table", Some(&ask(env, mode))).await?;
        if resp.status_code() != 200 {
            return Err(ApiError::internal("the rates object failed"));
        }
        let bytes = resp.bytes().await?;
        Rates::decode(bytes)
            .ok_or_else(|| ApiError::internal("unreadable rates from the rates object"))
    }
    .await;
    with(mode, |t| {
        t.refreshing_ms = None;
        t.rates = Rc::new(result?);
        t.fetched_ms = now_ms();
        Ok(())
    })
}

/// The mode's rates, fresh (for the API: a caller who asks may wait).
pub(crate) async fn fresh(env: &Env, mode: Mode) -> Result<Rc<Rates>, ApiError> {
    let refresh_ms = config(env).rates_refresh_ms;
    if with(mode, |t| t.due(now_ms(), refresh_ms)) {
        refresh(env, mode).await?;
    }
    Ok(with(mode, |t| t.rates.clone()))
}

#[derive(Serialize, Deserialize)]
struct RowsAnswer {
    computed_ms: u64,
    rows: Vec<Row>,
}

/// `GET /v1/routing/rates`: the mode's table, group by group, as payments
/// are routed with it. It takes no parameters.
pub(crate) async fn get(call: &Call, env: &Env) -> Result<Response, ApiError> {
    let params = crate::form::parse_form(call.query.as_deref().unwrap_or(""))?;
    crate::form::only_keys(&params, "", &[])?;
    let mode = call.principal.mode;
    let s = stub(env, Binding::Rates, mode, None)?;
    let mut resp = fetch(&s, "/rows", Some(&ask(env, mode))).await?;
    if resp.status_code() != 200 {
        return Err(ApiError::internal("the rates object failed"));
    }
    let answer: RowsAnswer = resp.json().await?;
    let cfg = config(env);
    Ok(json_response(
        200,
        &json!({
            "object": "routing_rates",
            "livemode": mode.livemode(),
            "window_seconds": cfg.rates_window_s,
            "refresh_seconds": cfg.rates_refresh_ms / 1000,
            "computed_at": answer.computed_ms / 1000,
            "rates": answer.rows,
        }),
    ))
}

struct Computed {
    at_ms: u64,
    window_s: u64,
    rows: Vec<Row>,
    table: Vec<u8>,
}

/// A mode's rates, computed from its metrics at most once per refresh
/// period and kept in memory (nothing stored: a new instance computes
/// anew).
#[durable_object]
pub struct RatesObject {
    env: Env,
    computed: RefCell<Option<Rc<Computed>>>,
}

impl RatesObject {
    /// The table, computed now when the one kept is older than asked.
    async fn table(&self, ask: &Ask) -> Result<Rc<Computed>, ApiError> {
        let now = now_ms();
        if let Some(c) = self.computed.borrow().as_ref() {
            if c.window_s == ask.window_s && now.saturating_sub(c.at_ms) < ask.max_age_ms {
                return Ok(c.clone());
            }
        }
        let mode = if ask.livemode { Mode::Live } else { Mode::Test };
        let q = rates::query(ask.window_s, now)?;
        let group = report::group_of(&q);
        let (parts, _) = collect(&self.env, mode, &q, &group, None, true).await?;
        let rows = rates::rows(&group, &parts);
        let table = rates::table(&rows).encode();
        let c = Rc::new(Computed {
            at_ms: now,
            window_s: ask.window_s,
            rows,
            table,
        });
        *self.computed.borrow_mut() = Some(c.clone());
        Ok(c)
    }
}

impl DurableObject for RatesObject {
    fn new(_state: State, env: Env) -> Self {
        Self {
            env,
            computed: RefCell::new(None),
        }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        let path = req.path();
        let Ok(ask) = req.json::<Ask>().await else {
            return Ok(error_response(&ApiError::internal("unreadable rates call")));
        };
        let c = match self.table(&ask).await {
            Ok(c) => c,
            Err(e) => return Ok(error_response(&e)),
        };
        match path.as_str() {
            "/table" => Response::from_bytes(c.table.clone()),
            "/rows" => Ok(json_response(
                200,
                &json!({"computed_ms": c.at_ms, "rows": c.rows}),
            )),
            _ => Ok(error_response(&ApiError::internal("unknown rates call"))),
        }
    }
}
