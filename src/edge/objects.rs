//! Access to the Durable Objects: the only place where an object's name is
//! formed (from its binding, the mode and a key), the call helpers, and the
//! envelope of their answers.
//!
//! Architecture Invariant: test and live never share an object. Every name
//! starts with the mode of the key that reached the worker, and no other
//! code can name an object.

use serde::Serialize;
use worker::{Env, Method, Request, RequestInit, Response, Stub};

use crate::auth::Mode;
use crate::error::ApiError;
use crate::protocol::Answer;

/// The Durable Object classes (bindings of `wrangler.toml`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Binding {
    /// One per payment, keyed by its id.
    Payments,
    /// One per mode: the rule sets, and which one is active.
    RuleSets,
    /// `REPLICAS` per mode, keyed `replica:<n>`: the active set, read by
    /// confirmations.
    RuleSetReplicas,
    /// One per sandbox processor, keyed by its id.
    Sandbox,
    /// Shards of the mode's metrics, keyed `shard:<n>`: minute rows.
    Metrics,
    /// One per mode: the metrics' hour and day rollup.
    MetricsRollup,
    /// Shards of the mode's idempotency keys, keyed by shard number.
    IdempotencyKeys,
    /// One per processor of a mode, keyed by its id: its circuit.
    Health,
    /// One per mode: what is left to reconcile.
    Reconcile,
    /// Shards of the mode's index of payments and refunds (lists, search).
    Index,
    /// One per mode: the authorization rates `auth_rate` routes by.
    Rates,
}

impl Binding {
    fn name(self) -> &'static str {
        match self {
            Binding::Payments => "PAYMENTS",
            Binding::RuleSets => "RULESETS",
            Binding::RuleSetReplicas => "RULESET_REPLICAS",
            Binding::Sandbox => "SANDBOX",
            Binding::Metrics => "METRICS",
            Binding::MetricsRollup => "METRICS_ROLLUP",
            Binding::IdempotencyKeys => "IDEMPOTENCY_KEYS",
            Binding::Health => "HEALTH",
            Binding::Reconcile => "RECONCILE",
            Binding::Index => "INDEX",
            Binding::Rates => "RATES",
        }
    }
}

/// An object's name: `<mode>` for a mode's single object, `<mode>:<key>`
/// for one of many.
fn object_name(mode: Mode, key: Option<&str>) -> String {
    match key {
        None => mode.as_str().to_owned(),
        Some(k) => format!("{}:{k}", mode.as_str()),
    }
}

/// The objects one request reaches, in order (for its log line: a test
/// counts the objects a confirmation touches).
#[derive(Default)]
pub(crate) struct Touched(std::cell::RefCell<Vec<String>>);

impl Touched {
    /// `stub`, recorded.
    pub fn stub(
        &self,
        env: &Env,
        binding: Binding,
        mode: Mode,
        key: Option<&str>,
    ) -> Result<Stub, ApiError> {
        // A payment's id is left out; shards and replicas are named.
        let entry = match (binding, key) {
            (Binding::Payments, _) | (_, None) => binding.name().to_owned(),
            (_, Some(k)) => format!("{}:{k}", binding.name()),
        };
        self.0.borrow_mut().push(entry);
        stub(env, binding, mode, key)
    }

    /// `RULESET_REPLICAS:replica:3,PAYMENTS`, ...
    pub fn list(&self) -> String {
        self.0.borrow().join(",")
    }
}

/// The stub of the object of `binding` for `mode` and `key` (`None`: the
/// mode's single object of that class).
pub(crate) fn stub(
    env: &Env,
    binding: Binding,
    mode: Mode,
    key: Option<&str>,
) -> Result<Stub, ApiError> {
    Ok(env
        .durable_object(binding.name())?
        .id_from_name(&object_name(mode, key))?
        .get_stub()?)
}

/// A call to an object: a JSON body POSTed (none: a GET) to `path`.
pub(crate) async fn fetch<Req: Serialize>(
    stub: &Stub,
    path: &str,
    body: Option<&Req>,
) -> Result<Response, ApiError> {
    let mut init = RequestInit::new();
    match body {
        Some(b) => {
            let text = serde_json::to_string(b).map_err(|e| ApiError::internal(e.to_string()))?;
            init.with_method(Method::Post).with_body(Some(text.into()));
        }
        None => {
            init.with_method(Method::Get);
        }
    }
    let req = Request::new_with_init(&format!("https://object{path}"), &init)?;
    Ok(stub.fetch_with_request(req).await?)
}

/// An object's answer as it came: the API's response, passed on without
/// being parsed and written again.
pub(crate) struct RawAnswer {
    pub status: u16,
    pub text: String,
}

pub(crate) async fn call_raw<Req: Serialize>(
    stub: &Stub,
    path: &str,
    body: Option<&Req>,
) -> Result<RawAnswer, ApiError> {
    let mut resp = fetch(stub, path, body).await?;
    let status = resp.status_code();
    let text = resp.text().await?;
    Ok(RawAnswer { status, text })
}

/// A JSON call to an object: its status and JSON answer.
pub(crate) async fn call<Req: Serialize>(
    stub: &Stub,
    path: &str,
    body: Option<&Req>,
) -> Result<Answer, ApiError> {
    let raw = call_raw(stub, path, body).await?;
    Answer::from_text(raw.status, raw.text)
}
