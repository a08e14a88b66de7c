//! Rule sets: drafts, activation, promotion, listing; stored in one Durable
//! Object per mode (`test` / `live`), so that "the one active set" changes
//! atomically: activation is one synchronous run inside that object.

use std::cell::RefCell;
use std::rc::Rc;

use serde::Deserialize;
use serde_json::{json, Value};
use switchyard_rules::{validate_str, ValidateOptions};
use worker::{Env, Response, Stub};

use super::config::config;
use super::keys_do;
use super::objects::{call as object_call, stub as object_stub, Binding, Touched};
use super::request::Call;
use super::ruleset_replicas;
use super::rulesets_do::{ActivateMsg, CreateMsg};
use super::runtime::{answer_response, now_ms, random_token};
use crate::auth::Mode;
use crate::error::ApiError;
use crate::form::only_keys;
use crate::params::list_query;
use crate::preview::ruleset_text;
use crate::protocol::{Answer, Idem};

fn stub(env: &Env, mode: Mode) -> Result<Stub, ApiError> {
    object_stub(env, Binding::RuleSets, mode, None)
}

/// The call's idempotency key, bound in the mode's key index (a rule set's
/// records live in the rule-set object, so the index is what catches the
/// key's reuse on a payment).
async fn bound_key(env: &Env, mode: Mode, call: &Call) -> Result<Option<Idem>, ApiError> {
    let idem = call.idem()?;
    if let Some(i) = &idem {
        keys_do::bind(env, mode, i, None, &call.touched).await?;
    }
    Ok(idem)
}

thread_local! {
    /// The active rule set of each mode last seen by this isolate: a hint,
    /// never trusted without asking the rule-set object (see `active`).
    static LAST_ACTIVE: RefCell<Vec<(Mode, String, Rc<Value>)>> = const { RefCell::new(Vec::new()) };
}

/// The active rule set of a mode, for one operation.
pub(crate) struct Active {
    pub id: String,
    pub ruleset: Rc<Value>,
    /// Whether its content came from the rule-set object just now (rather
    /// than from this isolate's memory).
    pub fetched: bool,
}

#[derive(Deserialize)]
struct ActiveAnswer {
    id: String,
    /// Absent when the id is the one the caller said it knew.
    ruleset: Option<Value>,
}

/// The active rule set of a mode (test mode: the example set when none was
/// ever activated), read from the replica that `key` (a payment id)
/// chooses.
///
/// Freshness: every call asks a replica which id is active now; "payments
/// started after an activation call use the new set" holds because an
/// activation answers only once every replica has it
/// (`ruleset_replicas::publish`). What is saved is the content: rule sets
/// are immutable once stored, so when the active id is the one this
/// isolate already holds (`known`), the replica answers the id alone and
/// neither side reads, writes or parses the rule set.
pub(crate) async fn active(
    env: &Env,
    mode: Mode,
    key: &str,
    touched: &Touched,
) -> Result<Active, ApiError> {
    let known = LAST_ACTIVE.with(|l| {
        l.borrow()
            .iter()
            .find(|(m, _, _)| *m == mode)
            .map(|(_, id, rs)| (id.clone(), rs.clone()))
    });
    let known_id = known.as_ref().map(|(id, _)| id.as_str());
    let a = ruleset_replicas::active(env, mode, key, known_id, touched).await?;
    if a.status == 404 {
        return Err(ApiError::invalid(
            "",
            "no_active_ruleset",
            format!(
                "There is no active rule set in {} mode: create one and activate it.",
                mode.as_str()
            ),
        ));
    }
    let answer: ActiveAnswer = serde_json::from_str(a.body.get())
        .map_err(|e| ApiError::internal(format!("unexpected rule-set answer: {e}")))?;
    match (answer.ruleset, known) {
        (Some(content), _) => {
            let content = Rc::new(content);
            LAST_ACTIVE.with(|l| {
                let mut l = l.borrow_mut();
                l.retain(|(m, _, _)| *m != mode);
                l.push((mode, answer.id.clone(), content.clone()));
            });
            Ok(Active {
                id: answer.id,
                ruleset: content,
                fetched: true,
            })
        }
        (None, Some((id, content))) if id == answer.id => Ok(Active {
            id,
            ruleset: content,
            fetched: false,
        }),
        (None, _) => Err(ApiError::internal(
            "the rule-set object answered an id without its content",
        )),
    }
}

/// A stored rule set of the caller's mode, by id, for a preview.
pub(crate) async fn by_id(env: &Env, mode: Mode, id: &str) -> Result<Value, ApiError> {
    let seed = if mode == Mode::Test { "?seed=1" } else { "" };
    let a = object_call::<()>(
        &stub(env, mode)?,
        &format!("/get/{}{seed}", path_id(id)?),
        None,
    )
    .await?;
    if a.status != 200 {
        return Err(ApiError::not_found(
            Some("ruleset_id"),
            format!("No such rule set: '{id}'"),
        ));
    }
    Ok(a.value().get("ruleset").cloned().unwrap_or(Value::Null))
}

fn path_id(id: &str) -> Result<&str, ApiError> {
    let ok = id.starts_with("rs_")
        && id.len() <= 64
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if ok {
        Ok(id)
    } else {
        Err(ApiError::not_found(
            Some("id"),
            format!(
                "No such rule set: '{}'",
                id.chars().take(64).collect::<String>()
            ),
        ))
    }
}

fn validate(env: &Env, mode: Mode, ruleset: &Value) -> Result<(Value, Value), ApiError> {
    let ids: Vec<String> = config(env)
        .processors(mode)?
        .iter()
        .map(|p| p.id.clone())
        .collect();
    let opts = ValidateOptions {
        processors: Some(ids),
    };
    // As text, whichever form it came in: the 1 MiB limit holds for both.
    let text = ruleset_text(ruleset);
    let v = validate_str(&text, &opts);
    if !v.ok {
        return Err(ApiError::issues(
            "ruleset",
            "ruleset_invalid",
            "the rule set is invalid",
            v.errors,
        ));
    }
    let parsed = serde_json::from_str::<Value>(&text).unwrap_or(Value::Null);
    Ok((parsed, json!(v.warnings)))
}

fn answer(a: Answer) -> Response {
    answer_response(a)
}

pub(crate) async fn create(call: &Call, env: &Env) -> Result<Response, ApiError> {
    let mode = call.principal.mode;
    let body = &call.body;
    let ruleset = match body.get("ruleset") {
        Some(r) => {
            only_keys(body, "", &["ruleset"])?;
            r.clone()
        }
        None if body.get("default").is_some() || body.get("rules").is_some() => body.clone(),
        None => return Err(ApiError::missing("ruleset")),
    };
    let (ruleset, warnings) = validate(env, mode, &ruleset)?;
    let msg = CreateMsg {
        idem: bound_key(env, mode, call).await?,
        now_ms: now_ms(),
        id: format!("rs_{}", random_token(24)?),
        livemode: mode.livemode(),
        ruleset,
        warnings,
        promoted_from: None,
        by: call.key_label.clone(),
    };
    Ok(answer(
        object_call(&stub(env, mode)?, "/create", Some(&msg)).await?,
    ))
}

/// A page of the mode's rule sets, newest first; an item carries its rules
/// only with `expand[]=data.ruleset`.
pub(crate) async fn list(call: &Call, env: &Env) -> Result<Response, ApiError> {
    let mode = call.principal.mode;
    let query = list_query(call.query.as_deref(), &["data.ruleset"])?;
    for id in [&query.starting_after, &query.ending_before]
        .into_iter()
        .flatten()
    {
        path_id(id)?;
    }
    let seed = if mode == Mode::Test { "?seed=1" } else { "" };
    Ok(answer(
        object_call(&stub(env, mode)?, &format!("/list{seed}"), Some(&query)).await?,
    ))
}

pub(crate) async fn get(call: &Call, env: &Env, id: &str) -> Result<Response, ApiError> {
    let mode = call.principal.mode;
    let seed = if mode == Mode::Test { "?seed=1" } else { "" };
    Ok(answer(
        object_call::<()>(
            &stub(env, mode)?,
            &format!("/get/{}{seed}", path_id(id)?),
            None,
        )
        .await?,
    ))
}

pub(crate) async fn activate(call: &Call, env: &Env, id: &str) -> Result<Response, ApiError> {
    let mode = call.principal.mode;
    only_keys(&call.body, "", &[])?;
    let msg = ActivateMsg {
        idem: bound_key(env, mode, call).await?,
        now_ms: now_ms(),
        id: path_id(id)?.to_owned(),
        by: call.key_label.clone(),
    };
    let a = object_call(&stub(env, mode)?, "/activate", Some(&msg)).await?;
    if a.status == 200 {
        // Answered only once every replica has it: payments started after
        // this answer use the set.
        ruleset_replicas::publish(env, mode).await?;
    }
    Ok(answer(a))
}

/// Copies a test-mode rule set into live mode as a draft. Writing to live
/// mode takes a live secret key; the set is validated against the live
/// processors.
pub(crate) async fn promote(call: &Call, env: &Env, id: &str) -> Result<Response, ApiError> {
    if call.principal.mode != Mode::Live {
        return Err(ApiError::invalid(
            "",
            "live_key_required",
            "Promoting a rule set writes to live mode: call this with a live secret key.",
        ));
    }
    only_keys(&call.body, "", &[])?;
    let id = path_id(id)?;
    let source =
        object_call::<()>(&stub(env, Mode::Test)?, &format!("/get/{id}?seed=1"), None).await?;
    if source.status != 200 {
        return Err(ApiError::not_found(
            Some("id"),
            format!("No such test-mode rule set: '{id}'"),
        ));
    }
    let ruleset = source
        .value()
        .get("ruleset")
        .cloned()
        .unwrap_or(Value::Null);
    let (ruleset, warnings) = validate(env, Mode::Live, &ruleset)?;
    let msg = CreateMsg {
        idem: bound_key(env, Mode::Live, call).await?,
        now_ms: now_ms(),
        id: format!("rs_{}", random_token(24)?),
        livemode: true,
        ruleset,
        warnings,
        promoted_from: Some(id.to_owned()),
        by: call.key_label.clone(),
    };
    Ok(answer(
        object_call(&stub(env, Mode::Live)?, "/create", Some(&msg)).await?,
    ))
}
