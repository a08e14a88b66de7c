//! Rule sets: drafts, activation, promotion, listing; stored in one Durable
//! Object per mode (`test` / `live`), so that "the one active set" changes
//! atomically: activation is one synchronous run inside that object.

use std::cell::RefCell;
use std::rc::Rc;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use switchyard_rules::{validate_str, validate_value, ValidateOptions};
use worker::{durable_object, DurableObject, Env, Request, Response, SqlStorage, State, Stub};

use super::calls::processors;
use super::keys_do;
use super::payments::do_call;
use super::{json_response, now_ms, random_token, store, Call};
use crate::auth::Mode;
use crate::error::ApiError;
use crate::form::only_keys;
use crate::protocol::{Answer, Idem};

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Record {
    id: String,
    name: Option<String>,
    status: String,
    livemode: bool,
    created: u64,
    activated_at: Option<u64>,
    promoted_from: Option<String>,
    ruleset: Value,
    warnings: Value,
}

impl Record {
    fn to_json(&self) -> Value {
        json!({
            "id": self.id, "object": "routing_ruleset", "name": self.name,
            "status": self.status, "livemode": self.livemode, "created": self.created,
            "activated_at": self.activated_at, "promoted_from": self.promoted_from,
            "ruleset": self.ruleset, "warnings": self.warnings,
        })
    }
}

#[derive(Serialize, Deserialize)]
struct CreateMsg {
    idem: Option<Idem>,
    now_ms: u64,
    id: String,
    livemode: bool,
    ruleset: Value,
    warnings: Value,
    promoted_from: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct ActivateMsg {
    idem: Option<Idem>,
    now_ms: u64,
    id: String,
}

const EXAMPLE_ID: &str = "rs_example";

fn stub(env: &Env, mode: Mode) -> Result<Stub, ApiError> {
    Ok(env
        .durable_object("RULESETS")?
        .id_from_name(mode.as_str())?
        .get_stub()?)
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
/// ever activated).
///
/// Freshness: every call asks the mode's rule-set object, the one place
/// where activation happens, which id is active now; "payments started
/// after an activation call use the new set" holds because the object
/// answers in order and an activation's answer is sent only after it is
/// stored. What is saved is the content: rule sets are immutable once
/// stored, so when the active id is the one this isolate already holds
/// (`known`), the object answers the id alone and neither side reads,
/// writes or parses the rule set.
pub(crate) async fn active(env: &Env, mode: Mode) -> Result<Active, ApiError> {
    let known = LAST_ACTIVE.with(|l| {
        l.borrow()
            .iter()
            .find(|(m, _, _)| *m == mode)
            .map(|(_, id, rs)| (id.clone(), rs.clone()))
    });
    let seed = if mode == Mode::Test { "seed=1&" } else { "" };
    let path = match &known {
        Some((id, _)) => format!("/active?{seed}known={id}"),
        None => format!("/active?{seed}"),
    };
    let a = do_call::<()>(&stub(env, mode)?, &path, None).await?;
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
    let answer: ActiveAnswer = serde_json::from_value(a.body)
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
    let a = do_call::<()>(
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
    Ok(a.body.get("ruleset").cloned().unwrap_or(Value::Null))
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
    let ids: Vec<String> = processors(env, mode)?.into_iter().map(|p| p.id).collect();
    let opts = ValidateOptions {
        processors: Some(ids),
    };
    let (v, parsed) = match ruleset {
        Value::String(text) => (
            validate_str(text, &opts),
            serde_json::from_str::<Value>(text).unwrap_or(Value::Null),
        ),
        other => (validate_value(other, &opts), other.clone()),
    };
    if !v.ok {
        return Err(ApiError::issues(
            "ruleset",
            "ruleset_invalid",
            "the rule set is invalid",
            v.errors,
        ));
    }
    Ok((parsed, json!(v.warnings)))
}

fn answer(a: Answer) -> Response {
    json_response(a.status, &a.body)
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
        idem: keys_do::bound_key(env, mode, call).await?,
        now_ms: now_ms(),
        id: format!("rs_{}", random_token(24)),
        livemode: mode.livemode(),
        ruleset,
        warnings,
        promoted_from: None,
    };
    Ok(answer(
        do_call(&stub(env, mode)?, "/create", Some(&msg)).await?,
    ))
}

pub(crate) async fn list(call: &Call, env: &Env) -> Result<Response, ApiError> {
    let mode = call.principal.mode;
    let seed = if mode == Mode::Test { "?seed=1" } else { "" };
    Ok(answer(
        do_call::<()>(&stub(env, mode)?, &format!("/list{seed}"), None).await?,
    ))
}

pub(crate) async fn get(call: &Call, env: &Env, id: &str) -> Result<Response, ApiError> {
    let mode = call.principal.mode;
    let seed = if mode == Mode::Test { "?seed=1" } else { "" };
    Ok(answer(
        do_call::<()>(
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
        idem: keys_do::bound_key(env, mode, call).await?,
        now_ms: now_ms(),
        id: path_id(id)?.to_owned(),
    };
    Ok(answer(
        do_call(&stub(env, mode)?, "/activate", Some(&msg)).await?,
    ))
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
    let source = do_call::<()>(&stub(env, Mode::Test)?, &format!("/get/{id}?seed=1"), None).await?;
    if source.status != 200 {
        return Err(ApiError::not_found(
            Some("id"),
            format!("No such test-mode rule set: '{id}'"),
        ));
    }
    let ruleset = source.body.get("ruleset").cloned().unwrap_or(Value::Null);
    let (ruleset, warnings) = validate(env, Mode::Live, &ruleset)?;
    let msg = CreateMsg {
        idem: keys_do::bound_key(env, Mode::Live, call).await?,
        now_ms: now_ms(),
        id: format!("rs_{}", random_token(24)),
        livemode: true,
        ruleset,
        warnings,
        promoted_from: Some(id.to_owned()),
    };
    Ok(answer(
        do_call(&stub(env, Mode::Live)?, "/create", Some(&msg)).await?,
    ))
}

// ---- the Durable Object -----------------------------------------------------------

#[durable_object]
pub struct RuleSetsObject {
    sql: SqlStorage,
    ready: bool,
}

impl DurableObject for RuleSetsObject {
    fn new(state: State, _env: Env) -> Self {
        let sql = state.storage().sql();
        let ready = store::init(&sql).is_ok();
        Self { sql, ready }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        if !self.ready {
            return Ok(super::error_response(&ApiError::internal(
                "rule-set storage is unavailable",
            )));
        }
        let url = req.url()?;
        let path = url.path().to_owned();
        let mut seed = false;
        let mut known = None;
        for (k, v) in url.query_pairs() {
            match &*k {
                "seed" => seed = v == "1",
                "known" => known = Some(v.into_owned()),
                _ => {}
            }
        }
        let text = req.text().await.unwrap_or_default();
        // No awaits below: each call is atomic.
        let result = (|| -> Result<Answer, ApiError> {
            if seed {
                self.seed()?;
            }
            match path.as_str() {
                "/active" => self.active(known.as_deref()),
                "/list" => self.list(),
                "/create" => {
                    let m: CreateMsg = serde_json::from_str(&text)
                        .map_err(|e| ApiError::internal(e.to_string()))?;
                    self.idempotent(m.idem.clone(), m.now_ms, |s| s.create(&m))
                }
                "/activate" => {
                    let m: ActivateMsg = serde_json::from_str(&text)
                        .map_err(|e| ApiError::internal(e.to_string()))?;
                    self.idempotent(m.idem.clone(), m.now_ms, |s| s.activate(&m))
                }
                p if p.starts_with("/get/") => self.get(&p["/get/".len()..]),
                _ => Err(ApiError::internal("unknown rule-set object call")),
            }
        })();
        Ok(match result {
            Ok(a) => json_response(a.status, &a.body),
            Err(e) => super::error_response(&e),
        })
    }
}

impl RuleSetsObject {
    fn idempotent(
        &self,
        idem: Option<Idem>,
        now: u64,
        f: impl FnOnce(&Self) -> Result<Answer, ApiError>,
    ) -> Result<Answer, ApiError> {
        let Some(idem) = idem else {
            return f(self);
        };
        match store::claim(&self.sql, &idem, now)? {
            store::IdemCheck::Replay(a) => return Ok(a),
            store::IdemCheck::Claimed => {}
        }
        let a = match f(self) {
            Ok(a) => a,
            Err(e) => Answer {
                status: e.status,
                body: e.body(),
            },
        };
        store::complete(&self.sql, &idem.key, &a)?;
        Ok(a)
    }

    /// Test mode's first use: the example rule set, active.
    fn seed(&self) -> Result<(), ApiError> {
        if store::get::<String>(&self.sql, "seeded")?.is_some() {
            return Ok(());
        }
        let rec = Record {
            id: EXAMPLE_ID.to_owned(),
            name: Some("example: sandbox routing".to_owned()),
            status: "active".to_owned(),
            livemode: false,
            created: now_ms() / 1000,
            activated_at: Some(now_ms() / 1000),
            promoted_from: None,
            ruleset: switchyard_processors::config::example_ruleset(),
            warnings: json!([]),
        };
        if store::get::<String>(&self.sql, "active")?.is_none() {
            store::put(&self.sql, &format!("rs:{}", rec.id), &rec)?;
            store::put(&self.sql, "active", &rec.id)?;
        }
        store::put(&self.sql, "seeded", &"yes")?;
        Ok(())
    }

    fn record(&self, id: &str) -> Result<Option<Record>, ApiError> {
        store::get(&self.sql, &format!("rs:{id}"))
    }

    /// The active set's id, with its content unless it is `known` to the
    /// caller (rule sets are immutable once stored).
    fn active(&self, known: Option<&str>) -> Result<Answer, ApiError> {
        let Some(id) = store::get::<String>(&self.sql, "active")? else {
            return Ok(Answer {
                status: 404,
                body: json!({"error": "none"}),
            });
        };
        if known == Some(id.as_str()) {
            return Ok(Answer {
                status: 200,
                body: json!({ "id": id }),
            });
        }
        let Some(rec) = self.record(&id)? else {
            return Err(ApiError::internal("the active rule set is missing"));
        };
        Ok(Answer {
            status: 200,
            body: json!({"id": rec.id, "ruleset": rec.ruleset}),
        })
    }

    fn list(&self) -> Result<Answer, ApiError> {
        let mut all: Vec<Record> = store::list(&self.sql, "rs:")?;
        all.sort_by(|a, b| b.created.cmp(&a.created).then(a.id.cmp(&b.id)));
        let data: Vec<Value> = all.iter().map(Record::to_json).collect();
        Ok(Answer {
            status: 200,
            body: json!({"object": "list", "data": data, "has_more": false, "url": "/v1/routing/rulesets"}),
        })
    }

    fn get(&self, id: &str) -> Result<Answer, ApiError> {
        match self.record(id)? {
            Some(r) => Ok(Answer {
                status: 200,
                body: r.to_json(),
            }),
            None => Err(ApiError::not_found(
                Some("id"),
                format!("No such rule set: '{id}'"),
            )),
        }
    }

    fn create(&self, m: &CreateMsg) -> Result<Answer, ApiError> {
        let rec = Record {
            id: m.id.clone(),
            name: m
                .ruleset
                .get("name")
                .and_then(Value::as_str)
                .map(str::to_owned),
            status: "draft".to_owned(),
            livemode: m.livemode,
            created: m.now_ms / 1000,
            activated_at: None,
            promoted_from: m.promoted_from.clone(),
            ruleset: m.ruleset.clone(),
            warnings: m.warnings.clone(),
        };
        store::put(&self.sql, &format!("rs:{}", rec.id), &rec)?;
        Ok(Answer {
            status: 200,
            body: rec.to_json(),
        })
    }

    /// The previous active set becomes inactive and this one active, in one
    /// synchronous step.
    fn activate(&self, m: &ActivateMsg) -> Result<Answer, ApiError> {
        let Some(mut rec) = self.record(&m.id)? else {
            return Err(ApiError::not_found(
                Some("id"),
                format!("No such rule set: '{}'", m.id),
            ));
        };
        if rec.status != "active" {
            if let Some(prev) = store::get::<String>(&self.sql, "active")? {
                if let Some(mut p) = self.record(&prev)? {
                    p.status = "inactive".to_owned();
                    store::put(&self.sql, &format!("rs:{}", p.id), &p)?;
                }
            }
            rec.status = "active".to_owned();
            rec.activated_at = Some(m.now_ms / 1000);
            store::put(&self.sql, &format!("rs:{}", rec.id), &rec)?;
            store::put(&self.sql, "active", &rec.id)?;
        }
        Ok(Answer {
            status: 200,
            body: rec.to_json(),
        })
    }
}
