//! The Workers glue: the fetch handler, routing of `/v1/*`, keys from the
//! environment, and the Durable Objects.
//!
//! - `payments`: the payments API: parameters, the active rule set, and the
//!   operation sent to the payment's object (card data passes through, in
//!   memory, to that object's processor calls).
//! - `payment_do`: one object per payment (`<mode>:<pi id>`): state machine,
//!   attempts, refunds, idempotency records; runs each operation as begin →
//!   processor calls → finish, every transition synchronous.
//! - `calls`: the processor calls of an operation (routing across the plan,
//!   retries, reconciliation); the only code that puts card data into a
//!   processor request.
//! - `rulesets`: the rule-set API and one object per mode holding the sets
//!   and which one is active.
//! - `sandbox_do`: the simulated processors' own systems (ledger,
//!   idempotency), one object per `<mode>:<processor id>`.
//! - `keys_do`: the mode's idempotency keys across payments (a key reused
//!   with other parameters on another payment is a 400), sharded by key.
//! - `metrics`: attempts per processor, one object per mode.
//! - `store`: SQL helpers (documents, idempotency records).
//!
//! Architecture Invariant: test and live never share an object: every
//! object name starts with the mode of the key that reached it.

use std::rc::Rc;

use serde_json::Value;
use worker::{console_log, event, Context, Env, Headers, Method, Request, Response};

use crate::auth::{KeyKind, Keys, Principal};
use crate::error::ApiError;
use crate::form;
use crate::preview;

mod calls;
mod keys_do;
mod metrics;
mod payment_do;
mod payments;
mod rulesets;
mod sandbox_do;
mod store;

impl From<worker::Error> for ApiError {
    fn from(e: worker::Error) -> Self {
        ApiError::internal(format!("worker runtime error: {e}"))
    }
}

/// A string binding (`[vars]` or a secret / `.dev.vars` entry).
pub(crate) fn env_str(env: &Env, name: &str) -> Option<String> {
    if let Ok(s) = env.secret(name) {
        return Some(s.to_string());
    }
    env.var(name).ok().map(|v| v.to_string())
}

pub(crate) fn keys(env: &Env) -> Keys {
    Keys::from_config(
        env_str(env, "SWITCHYARD_TEST_SECRET_KEY").as_deref(),
        env_str(env, "SWITCHYARD_TEST_PUBLISHABLE_KEY").as_deref(),
        env_str(env, "SWITCHYARD_LIVE_SECRET_KEY").as_deref(),
        env_str(env, "SWITCHYARD_LIVE_PUBLISHABLE_KEY").as_deref(),
    )
}

/// Milliseconds since the epoch.
pub(crate) fn now_ms() -> u64 {
    worker::Date::now().as_millis()
}

/// `n` random bytes as lower-case base-36-ish alphanumerics.
pub(crate) fn random_token(n: usize) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut bytes = vec![0u8; n];
    if getrandom::fill(&mut bytes).is_err() {
        // The runtime's crypto is always there on Workers; fall back to the
        // clock rather than fail a request.
        let t = now_ms();
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = (t >> ((i % 8) * 8)) as u8 ^ (i as u8).wrapping_mul(31);
        }
    }
    bytes
        .iter()
        .map(|b| ALPHABET[(*b as usize) % ALPHABET.len()] as char)
        .collect()
}

pub(crate) fn json_response(status: u16, body: &Value) -> Response {
    let text = serde_json::to_string(body).unwrap_or_else(|_| "{}".to_owned());
    json_text_response(status, text)
}

/// A response whose body is JSON text already.
pub(crate) fn json_text_response(status: u16, text: String) -> Response {
    let headers = Headers::new();
    let _ = headers.set("content-type", "application/json");
    let _ = headers.set("cache-control", "no-store");
    match Response::ok(text) {
        Ok(r) => r.with_status(status).with_headers(headers),
        Err(_) => Response::empty()
            .map(|r| r.with_status(500))
            .unwrap_or_else(|_| Response::builder().with_status(500).empty()),
    }
}

pub(crate) fn error_response(e: &ApiError) -> Response {
    json_response(e.status, &e.body())
}

/// The request as the handlers see it: method, path segments, parsed body.
pub(crate) struct Call {
    pub method: Method,
    pub path: String,
    pub headers: Headers,
    pub query: Option<String>,
    pub body: Value,
    pub principal: Principal,
    /// For work that may finish after the response (metrics).
    pub ctx: Context,
}

impl Call {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).ok().flatten()
    }
}

async fn read_body(req: &mut Request) -> Result<Value, ApiError> {
    if let Ok(Some(len)) = req.headers().get("content-length") {
        if len
            .trim()
            .parse::<usize>()
            .map_or(true, |l| l > form::MAX_BODY)
        {
            return Err(ApiError::too_large(form::MAX_BODY));
        }
    }
    let bytes = req.bytes().await.map_err(|_| {
        ApiError::invalid("", "body_invalid", "The request body could not be read.")
    })?;
    let ct = req.headers().get("content-type").ok().flatten();
    form::parse_body(ct.as_deref(), &bytes)
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> worker::Result<Response> {
    let started = now_ms();
    let method = req.method();
    let path = req.path();
    let response = match handle(req, &env, ctx).await {
        Ok(r) => r,
        Err(e) => error_response(&e),
    };
    // Stripe's SDKs read `Request-Id` into their errors.
    let _ = response
        .headers()
        .set("request-id", &format!("req_{}", random_token(14)));
    // Method, path and status only: bodies may carry card data.
    console_log!(
        "{} {} -> {} ({} ms)",
        method.as_ref(),
        path,
        response.status_code(),
        now_ms().saturating_sub(started)
    );
    Ok(response)
}

async fn handle(mut req: Request, env: &Env, ctx: Context) -> Result<Response, ApiError> {
    let method = req.method();
    let path = req.path();
    let query = req.url().ok().and_then(|u| u.query().map(str::to_owned));
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    if segments.first() != Some(&"v1") {
        return Err(ApiError::unknown_route(method.as_ref(), &path));
    }
    // Know the route before authenticating, so that unknown routes are 404s
    // and wrong methods 405s whatever the key.
    let route = route_of(&segments[1..]);
    let Some(route) = route else {
        return Err(ApiError::unknown_route(method.as_ref(), &path));
    };
    if !route.methods.contains(&method) {
        let allowed: Vec<&str> = route.methods.iter().map(|m| m.as_ref()).collect();
        return Err(ApiError::method_not_allowed(
            method.as_ref(),
            &path,
            &allowed.join(", "),
        ));
    }
    let auth = req.headers().get("authorization").ok().flatten();
    let principal = keys(env).authenticate(auth.as_deref())?;
    if route.name != RouteName::Preview {
        // Publishable keys may call the preview endpoint only.
        if principal.kind != KeyKind::Secret {
            return Err(ApiError::forbidden(
                "This API call cannot be made with a publishable API key. Please use a secret API key.",
            ));
        }
    }
    let body = if method == Method::Post {
        read_body(&mut req).await?
    } else {
        Value::Object(Default::default())
    };
    let call = Call {
        method,
        path,
        headers: req.headers().clone(),
        query,
        body,
        principal,
        ctx,
    };
    dispatch(route, call, env).await
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RouteName {
    Preview,
    CreatePayment,
    RetrievePayment,
    ConfirmPayment,
    CapturePayment,
    CancelPayment,
    CreateRefund,
    RetrieveRefund,
    Rulesets,
    Ruleset,
    ActivateRuleset,
    PromoteRuleset,
    Metrics,
    SandboxStats,
    SandboxAuthorize,
}

struct Route {
    name: RouteName,
    methods: &'static [Method],
    id: Option<String>,
}

fn route_of(seg: &[&str]) -> Option<Route> {
    const POST: &[Method] = &[Method::Post];
    const GET: &[Method] = &[Method::Get];
    const BOTH: &[Method] = &[Method::Get, Method::Post];
    use RouteName::*;
    let r = |name, methods, id: Option<&str>| {
        Some(Route {
            name,
            methods,
            id: id.map(str::to_owned),
        })
    };
    match seg {
        ["payment_intents"] => r(CreatePayment, POST, None),
        ["payment_intents", id] => r(RetrievePayment, GET, Some(id)),
        ["payment_intents", id, "confirm"] => r(ConfirmPayment, POST, Some(id)),
        ["payment_intents", id, "capture"] => r(CapturePayment, POST, Some(id)),
        ["payment_intents", id, "cancel"] => r(CancelPayment, POST, Some(id)),
        ["refunds"] => r(CreateRefund, POST, None),
        ["refunds", id] => r(RetrieveRefund, GET, Some(id)),
        ["routing", "preview"] => r(Preview, POST, None),
        ["routing", "metrics"] => r(Metrics, GET, None),
        ["routing", "rulesets"] => r(Rulesets, BOTH, None),
        ["routing", "rulesets", id] => r(Ruleset, GET, Some(id)),
        ["routing", "rulesets", id, "activate"] => r(ActivateRuleset, POST, Some(id)),
        ["routing", "rulesets", id, "promote"] => r(PromoteRuleset, POST, Some(id)),
        ["sandbox", "processors", id] => r(SandboxStats, GET, Some(id)),
        ["sandbox", "processors", id, "authorize"] => r(SandboxAuthorize, POST, Some(id)),
        _ => None,
    }
}

async fn dispatch(route: Route, call: Call, env: &Env) -> Result<Response, ApiError> {
    use RouteName::*;
    let id = route.id.as_deref().unwrap_or("");
    match route.name {
        Preview => preview(&call, env).await,
        CreatePayment => payments::create(&call, env).await,
        RetrievePayment => payments::retrieve(&call, env, id).await,
        ConfirmPayment => payments::confirm(&call, env, id).await,
        CapturePayment => payments::capture(&call, env, id).await,
        CancelPayment => payments::cancel(&call, env, id).await,
        CreateRefund => payments::refund(&call, env).await,
        RetrieveRefund => payments::retrieve_refund(&call, env, id).await,
        Rulesets if call.method == Method::Post => rulesets::create(&call, env).await,
        Rulesets => rulesets::list(&call, env).await,
        Ruleset => rulesets::get(&call, env, id).await,
        ActivateRuleset => rulesets::activate(&call, env, id).await,
        PromoteRuleset => rulesets::promote(&call, env, id).await,
        Metrics => metrics::get(&call, env, call.query.clone()).await,
        SandboxStats => sandbox_stats(&call, env, id).await,
        SandboxAuthorize => {
            let cfg = sandbox_config(&call, env, id)?;
            payments::sandbox_direct(env, &cfg, &call).await
        }
    }
}

async fn preview(call: &Call, env: &Env) -> Result<Response, ApiError> {
    let mode = call.principal.mode;
    let req = preview::parse_request(&call.body)?;
    let (ruleset, processors) = match req.source {
        preview::RulesetSource::Inline(v) => (Rc::new(v), req.processors),
        preview::RulesetSource::Id(id) => (Rc::new(rulesets::by_id(env, mode, &id).await?), None),
        preview::RulesetSource::Active => (rulesets::active(env, mode).await?.ruleset, None),
    };
    let router = preview::compile(&ruleset, processors)?;
    let key = format!("preview_{}", random_token(16));
    let decision = preview::decide(&router, &req.payment, &key)?;
    Ok(json_response(200, &decision))
}

/// A sandbox processor of test mode, by id (any other id, and any call with
/// a live key: 404).
fn sandbox_config(
    call: &Call,
    env: &Env,
    id: &str,
) -> Result<switchyard_processors::ProcessorConfig, ApiError> {
    let mode = call.principal.mode;
    let found = calls::processors(env, mode)?
        .into_iter()
        .find(|p| p.id == id && p.kind == switchyard_processors::ProcessorKind::Sandbox);
    match found {
        Some(cfg) if mode == crate::auth::Mode::Test => Ok(cfg),
        _ => Err(ApiError::not_found(
            Some("id"),
            format!(
                "No such sandbox processor: '{}'",
                id.chars().take(64).collect::<String>()
            ),
        )),
    }
}

/// The sandbox processor's own counters (test mode only): requests it
/// processed and approved, by operation, as its dashboard would show.
async fn sandbox_stats(call: &Call, env: &Env, id: &str) -> Result<Response, ApiError> {
    let mode = call.principal.mode;
    sandbox_config(call, env, id)?;
    let stub = env
        .durable_object("SANDBOX")?
        .id_from_name(&format!("{}:{id}", mode.as_str()))?
        .get_stub()?;
    let a = payments::do_call::<()>(&stub, "/stats", None).await?;
    Ok(json_response(a.status, &a.body))
}
