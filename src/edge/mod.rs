//! The Workers glue: the fetch handler, routing of `/v1/*`, and the
//! Durable Objects. Its modules, each depending only on those above it in
//! this list (a test, `tests/module_graph.rs`, keeps the import graph of
//! `src/` free of circles):
//!
//! - `runtime`: clock, random source, JSON responses.
//! - `objects`: object access: the only place an object's name is formed
//!   (binding, mode, key), the call helpers and the answers' envelope.
//! - `config`: keys and processors, parsed once per isolate.
//! - `sql`: a Durable Object's SQLite as the storage traits.
//! - `transport`: how processor requests leave (the sandbox's object).
//! - `request`: a request as the handlers see it.
//! - the objects: `payment_do` (one per payment, a thin shell around
//!   `crate::payment`), `rulesets_do` (one per mode), `ruleset_replicas`
//!   (16 per mode: the active set, what confirmations read), `keys_do` (the mode's
//!   idempotency keys, 32 shards), `metrics` (16 shards of minute rows per
//!   mode) and `metrics_rollup` (their hour and day cubes, one per mode),
//!   `sandbox_do` (one per sandbox processor).
//! - the front: `payments`, `rulesets` (the APIs in front of those
//!   objects), and this file (authentication, routing, the preview).
//!
//! Architecture Invariant: test and live never share an object: every
//! object name starts with the mode of the key that reached it
//! (`objects::stub` is the only way to an object).

use std::rc::Rc;

use futures_util::StreamExt;
use serde_json::Value;
use worker::{console_error, console_log, event, Context, Env, Method, Request, Response};

use crate::auth::{KeyKind, Mode};
use crate::error::{redact_card_numbers, ApiError};
use crate::form;
use crate::preview;
use config::config;
use objects::{call as object_call, stub, Binding, Touched};
use request::Call;
use runtime::{answer_response, error_response, json_response, now_ms, random_token};

mod config;
mod health_do;
mod index_do;
mod keys_do;
mod metrics;
mod metrics_read;
mod metrics_rollup;
mod metrics_rows;
mod objects;
mod payment_do;
mod payments;
mod rates;
mod reconcile;
mod request;
mod ruleset_replicas;
mod rulesets;
mod rulesets_do;
mod runtime;
mod sandbox_do;
mod sql;
mod transport;
mod wire;

/// The body, read as it streams in and refused as soon as it passes
/// `form::MAX_BODY` (a declared `Content-Length` over it is refused before
/// anything is read).
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
    let unreadable =
        |_| ApiError::invalid("", "body_invalid", "The request body could not be read.");
    let mut body = form::BodyBuffer::default();
    // A POST without a body has no stream: an empty body.
    if let Ok(mut stream) = req.stream() {
        while let Some(chunk) = stream.next().await {
            body.push(&chunk.map_err(unreadable)?)?;
        }
    }
    let ct = req.headers().get("content-type").ok().flatten();
    form::parse_body(ct.as_deref(), body.bytes())
}

/// The scheduled trigger (`[triggers] crons`): reconciliation.
#[event(scheduled)]
async fn scheduled(_event: worker::ScheduledEvent, env: Env, _ctx: worker::ScheduleContext) {
    reconcile::scheduled(&env).await;
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> worker::Result<Response> {
    let started = now_ms();
    let method = req.method();
    let path = req.path();
    // Stripe's SDKs read `Request-Id` into their errors; the log line
    // carries it too, so that a user's id finds its line.
    let request_id = random_token(14).map(|t| format!("req_{t}"));
    let touched = Rc::new(Touched::default());
    let wire = wire::Incoming::of(req.headers(), method == Method::Post);
    let response = match &request_id {
        Ok(id) => {
            let response = if method == Method::Options {
                // A browser's preflight (publishable-key calls from a page).
                wire::preflight()
            } else {
                match wire
                    .check()
                    .map(|()| handle(req, &env, ctx, touched.clone()))
                {
                    Ok(handling) => match handling.await {
                        Ok(r) => r,
                        Err(e) => error_response(&e),
                    },
                    Err(e) => error_response(&e),
                }
            };
            let response = without_internal_detail(response, id).await;
            let _ = response.headers().set("request-id", id);
            wire.answer(&response);
            response
        }
        // No id can be drawn: the request fails (ids are never guessable).
        Err(e) => error_response(e),
    };
    let request_id = request_id.as_deref().unwrap_or("-");
    // Method, path and status only: bodies may carry card data (and a path
    // may too, pasted where an id goes).
    // The objects the request reached, in order, end the line.
    console_log!(
        "{} {} {} -> {} ({} ms) objects=[{}]",
        request_id,
        method.as_ref(),
        redact_card_numbers(&path),
        response.status_code(),
        now_ms().saturating_sub(started),
        touched.list()
    );
    Ok(response)
}

/// A 500 (a fault of the worker, here or in an object) reaches the client
/// as a generic message with the request id; its detail goes to the log.
async fn without_internal_detail(mut response: Response, request_id: &str) -> Response {
    if response.status_code() != 500 {
        return response;
    }
    let detail = response.text().await.unwrap_or_default();
    console_error!("{request_id} internal error: {detail}");
    let client = error_response(&ApiError::internal_for_client(request_id));
    for (name, value) in response.headers().entries() {
        if !matches!(name.as_str(), "content-length" | "content-type") {
            let _ = client.headers().set(&name, &value);
        }
    }
    client
}

/// Whether a request reached the worker on a loopback address: a local
/// `wrangler dev` (Cloudflare routes no such host to a deployed worker).
fn is_local(url: Option<&worker::Url>) -> bool {
    url.is_some_and(|u| matches!(u.host_str(), Some("127.0.0.1" | "localhost" | "[::1]")))
}

async fn handle(
    mut req: Request,
    env: &Env,
    ctx: Context,
    touched: Rc<Touched>,
) -> Result<Response, ApiError> {
    // A configuration that is not usable here refuses every request, by
    // name (and a retry cannot change that).
    let url = req.url().ok();
    if let Err(e) = config(env).check(is_local(url.as_ref())) {
        let r = error_response(&e);
        let _ = r.headers().set("stripe-should-retry", "false");
        return Ok(r);
    }
    let method = req.method();
    let path = req.path();
    let query = url.as_ref().and_then(|u| u.query().map(str::to_owned));
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
    let principal = config(env).keys.authenticate(auth.as_deref())?;
    // Publishable keys may call the preview, and, with a payment's client
    // secret, retrieve and confirm that payment (client-side
    // confirmation); nothing else.
    let publishable_may = match route.name {
        RouteName::Preview | RouteName::ConfirmPayment => true,
        RouteName::Payment => method == Method::Get,
        _ => false,
    };
    if principal.kind != KeyKind::Secret && !publishable_may {
        return Err(ApiError::forbidden(
            "This API call cannot be made with a publishable API key. Please use a secret API key.",
        ));
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
        key_label: crate::auth::key_label(auth.as_deref()),
        ctx,
        touched,
    };
    dispatch(route, call, env).await
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RouteName {
    Preview,
    Payments,
    SearchPayments,
    Payment,
    Refunds,
    Refund,
    CancelRefund,
    Charges,
    ChargeSearch,
    Charge,
    ConfirmPayment,
    CapturePayment,
    CancelPayment,
    Rulesets,
    Ruleset,
    ActivateRuleset,
    PromoteRuleset,
    Metrics,
    Rates,
    Processors,
    Reconcile,
    Sandbox,
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
        ["payment_intents"] => r(Payments, BOTH, None),
        ["payment_intents", "search"] => r(SearchPayments, GET, None),
        ["payment_intents", id] => r(Payment, BOTH, Some(id)),
        ["payment_intents", id, "confirm"] => r(ConfirmPayment, POST, Some(id)),
        ["payment_intents", id, "capture"] => r(CapturePayment, POST, Some(id)),
        ["payment_intents", id, "cancel"] => r(CancelPayment, POST, Some(id)),
        ["refunds"] => r(Refunds, BOTH, None),
        ["refunds", id] => r(Refund, BOTH, Some(id)),
        ["refunds", id, "cancel"] => r(CancelRefund, POST, Some(id)),
        ["charges"] => r(Charges, GET, None),
        ["charges", "search"] => r(ChargeSearch, GET, None),
        ["charges", id] => r(Charge, GET, Some(id)),
        ["routing", "preview"] => r(Preview, POST, None),
        ["routing", "metrics"] => r(Metrics, GET, None),
        ["routing", "rates"] => r(Rates, GET, None),
        ["routing", "processors"] => r(Processors, GET, None),
        ["routing", "reconcile"] => r(Reconcile, POST, None),
        ["routing", "rulesets"] => r(Rulesets, BOTH, None),
        ["routing", "rulesets", id] => r(Ruleset, GET, Some(id)),
        ["routing", "rulesets", id, "activate"] => r(ActivateRuleset, POST, Some(id)),
        ["routing", "rulesets", id, "promote"] => r(PromoteRuleset, POST, Some(id)),
        ["sandbox", "processors", id] => r(Sandbox, BOTH, Some(id)),
        ["sandbox", "processors", id, "authorize"] => r(SandboxAuthorize, POST, Some(id)),
        _ => None,
    }
}

async fn dispatch(route: Route, call: Call, env: &Env) -> Result<Response, ApiError> {
    use RouteName::*;
    let id = route.id.as_deref().unwrap_or("");
    let post = call.method == Method::Post;
    match route.name {
        Preview => preview(&call, env).await,
        Payments if post => payments::create(&call, env).await,
        Payments => index_do::list_intents(&call, env).await,
        SearchPayments => index_do::search_intents(&call, env).await,
        Payment if post => payments::update(&call, env, id).await,
        Payment => payments::retrieve(&call, env, id).await,
        ConfirmPayment => payments::confirm(&call, env, id).await,
        CapturePayment => payments::capture(&call, env, id).await,
        CancelPayment => payments::cancel(&call, env, id).await,
        Refunds if post => payments::refund(&call, env).await,
        Refunds => index_do::list_refunds(&call, env).await,
        Refund if post => payments::change_refund(&call, env, id, false).await,
        Refund => payments::retrieve_refund(&call, env, id).await,
        CancelRefund => payments::change_refund(&call, env, id, true).await,
        Charges => payments::list_charges(&call, env).await,
        ChargeSearch => Err(ApiError::invalid(
            "query",
            "search_not_supported",
            "Charges cannot be searched: search PaymentIntents (/v1/payment_intents/search), whose latest_charge can be expanded.",
        )),
        Charge => payments::retrieve_charge(&call, env, id).await,
        Rulesets if call.method == Method::Post => rulesets::create(&call, env).await,
        Rulesets => rulesets::list(&call, env).await,
        Ruleset => rulesets::get(&call, env, id).await,
        ActivateRuleset => rulesets::activate(&call, env, id).await,
        PromoteRuleset => rulesets::promote(&call, env, id).await,
        Metrics => metrics::get(&call, env, call.query.clone()).await,
        Rates => rates::get(&call, env).await,
        Processors => processors(&call, env).await,
        Reconcile => reconcile::api(&call, env).await,
        Sandbox if post => sandbox_controls(&call, env, id).await,
        Sandbox => sandbox_stats(&call, env, id).await,
        SandboxAuthorize => {
            let cfg = sandbox_config(&call, env, id)?;
            payments::sandbox_direct(env, &cfg, &call).await
        }
    }
}

async fn preview(call: &Call, env: &Env) -> Result<Response, ApiError> {
    let mode = call.principal.mode;
    let req = preview::parse_request(&call.body)?;
    // A publishable key is public (it lives in web pages): it previews only
    // a rule set sent with the request, never a stored one (whose trace
    // would show its values: blocked BINs, thresholds).
    if call.principal.kind == KeyKind::Publishable
        && !matches!(req.source, preview::RulesetSource::Inline(_))
    {
        return Err(ApiError::forbidden(
            "A publishable API key can preview only a rule set sent with the request (ruleset). Previewing a stored or the active rule set takes a secret API key.",
        ));
    }
    let (ruleset, processors) = match req.source {
        preview::RulesetSource::Inline(v) => (Rc::new(v), req.processors),
        preview::RulesetSource::Id(id) => (Rc::new(rulesets::by_id(env, mode, &id).await?), None),
        preview::RulesetSource::Active => {
            let key = random_token(16)?;
            (
                rulesets::active(env, mode, &key, &call.touched)
                    .await?
                    .ruleset,
                None,
            )
        }
    };
    let router = preview::compile(&ruleset, processors)?;
    let key = format!("preview_{}", random_token(16)?);
    let current;
    let rates = match &req.rates {
        preview::RatesSource::None => &switchyard_rules::NO_RATES,
        preview::RatesSource::Given(r) => r,
        preview::RatesSource::Current if call.principal.kind == KeyKind::Publishable => {
            return Err(ApiError::forbidden(
                "A publishable API key cannot preview with the mode's current rates (rates: \"current\"): they take a secret API key.",
            ));
        }
        preview::RatesSource::Current => {
            current = rates::fresh(env, mode).await?;
            &*current
        }
    };
    let decision = preview::decide(&router, &req.payment, &key, rates)?;
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
    let found = config(env)
        .processor(mode, id)?
        .filter(|p| p.kind == switchyard_processors::ProcessorKind::Sandbox)
        .cloned();
    match found {
        Some(cfg) if mode == Mode::Test => Ok(cfg),
        _ => Err(ApiError::not_found(
            Some("id"),
            format!(
                "No such sandbox processor: '{}'",
                id.chars().take(64).collect::<String>()
            ),
        )),
    }
}

/// `GET /v1/routing/processors`: the mode's processors (never their
/// credentials) and each one's circuit.
async fn processors(call: &Call, env: &Env) -> Result<Response, ApiError> {
    let mode = call.principal.mode;
    let list = config(env).processors(mode)?.to_vec();
    let ids: Vec<String> = list.iter().map(|p| p.id.clone()).collect();
    let mut views = health_do::views(env, mode, &ids).await;
    let data: Vec<serde_json::Value> = list
        .iter()
        .map(|p| {
            serde_json::json!({
                "id": p.id,
                "object": "routing_processor",
                "type": p.kind.as_str(),
                "circuit": views.remove(&p.id).flatten(),
            })
        })
        .collect();
    Ok(json_response(
        200,
        &serde_json::json!({ "object": "list", "url": "/v1/routing/processors", "has_more": false, "data": data }),
    ))
}

/// The sandbox processor's own counters (test mode only): requests it
/// processed and approved, by operation, as its dashboard would show, and
/// its controls (the decline share).
async fn sandbox_stats(call: &Call, env: &Env, id: &str) -> Result<Response, ApiError> {
    let mode = call.principal.mode;
    sandbox_config(call, env, id)?;
    form::only_keys(
        &form::parse_form(call.query.as_deref().unwrap_or(""))?,
        "",
        &[],
    )?;
    let stub = stub(env, Binding::Sandbox, mode, Some(id))?;
    let a = object_call::<()>(&stub, "/stats", None).await?;
    Ok(answer_response(a))
}

/// `POST /v1/sandbox/processors/:id` (test mode only): changes the
/// sandbox's controls (`decline_share`, `decline_code`), kept by its object;
/// answers as the GET, with the controls now in force.
async fn sandbox_controls(call: &Call, env: &Env, id: &str) -> Result<Response, ApiError> {
    let mode = call.principal.mode;
    sandbox_config(call, env, id)?;
    let update = crate::params::sandbox_controls(&call.body)?;
    let stub = stub(env, Binding::Sandbox, mode, Some(id))?;
    let a = object_call(&stub, "/controls", Some(&update)).await?;
    Ok(answer_response(a))
}
