//! One Durable Object per mode holding its rule sets and which one is
//! active, so that "the one active set" changes atomically: activation is
//! one synchronous run inside the object. Its messages are defined here;
//! the API in front of it is `rulesets`.

use std::cell::Cell;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use worker::{durable_object, DurableObject, Env, Request, Response, SqlStorage, State};

use super::runtime::{answer_response, error_response, now_ms};
use super::sql::SqlStore;
use crate::error::ApiError;
use crate::params::ListQuery;
use crate::protocol::{Answer, Idem};
use crate::storage::{self, Docs, IdemCheck};

const EXAMPLE_ID: &str = "rs_example";

/// Where a rule set is in its life: created as a draft, active once
/// activated, inactive once another is activated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum RuleSetStatus {
    Draft,
    Active,
    Inactive,
}

impl RuleSetStatus {
    fn as_str(self) -> &'static str {
        match self {
            RuleSetStatus::Draft => "draft",
            RuleSetStatus::Active => "active",
            RuleSetStatus::Inactive => "inactive",
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Record {
    id: String,
    name: Option<String>,
    status: RuleSetStatus,
    livemode: bool,
    created: u64,
    activated_at: Option<u64>,
    promoted_from: Option<String>,
    /// The keys (redacted) that stored and last activated it.
    #[serde(default)]
    created_by: Option<String>,
    #[serde(default)]
    activated_by: Option<String>,
    ruleset: Value,
    warnings: Value,
    /// Order of creation in this mode (lists go newest first; `created` is
    /// in seconds, so it cannot order sets made in the same second).
    #[serde(default)]
    seq: u64,
}

impl Record {
    fn to_json(&self) -> Value {
        json!({
            "id": self.id, "object": "routing_ruleset", "name": self.name,
            "status": self.status.as_str(), "livemode": self.livemode, "created": self.created,
            "activated_at": self.activated_at, "promoted_from": self.promoted_from,
            "created_by": self.created_by, "activated_by": self.activated_by,
            "ruleset": self.ruleset, "warnings": self.warnings,
        })
    }
}

#[derive(Serialize, Deserialize)]
pub(crate) struct CreateMsg {
    pub idem: Option<Idem>,
    pub now_ms: u64,
    pub id: String,
    pub livemode: bool,
    pub ruleset: Value,
    pub warnings: Value,
    pub promoted_from: Option<String>,
    #[serde(default)]
    pub by: Option<String>,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct ActivateMsg {
    pub idem: Option<Idem>,
    pub now_ms: u64,
    pub id: String,
    #[serde(default)]
    pub by: Option<String>,
}

#[durable_object]
pub struct RuleSetsObject {
    sql: SqlStorage,
    ready: Cell<bool>,
}

impl DurableObject for RuleSetsObject {
    fn new(state: State, _env: Env) -> Self {
        let sql = state.storage().sql();
        let ready = Cell::new(false);
        // Failure leaves `ready` false: every call then answers 500.
        let _ = SqlStore::new(&sql, &ready).init();
        Self { sql, ready }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        if !self.ready.get() {
            return Ok(error_response(&ApiError::internal(
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
                "/list" => {
                    let q: ListQuery = serde_json::from_str(&text)
                        .map_err(|e| ApiError::internal(e.to_string()))?;
                    self.list(&q)
                }
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
            Ok(a) => answer_response(a),
            Err(e) => error_response(&e),
        })
    }
}

impl RuleSetsObject {
    fn store(&self) -> SqlStore<'_> {
        SqlStore::new(&self.sql, &self.ready)
    }

    fn idempotent(
        &self,
        idem: Option<Idem>,
        now: u64,
        f: impl FnOnce(&Self) -> Result<Answer, ApiError>,
    ) -> Result<Answer, ApiError> {
        let Some(idem) = idem else {
            return f(self);
        };
        match storage::claim(&self.store(), &idem, now)? {
            IdemCheck::Replay(a) => return Ok(a),
            IdemCheck::Claimed => {}
        }
        let a = match f(self) {
            Ok(a) => a,
            Err(e) => Answer::error(&e),
        };
        storage::complete(&self.store(), &idem.key, &a)?;
        Ok(a)
    }

    /// Test mode's first use: the example rule set, active.
    fn seed(&self) -> Result<(), ApiError> {
        if self.store().get::<String>("seeded")?.is_some() {
            return Ok(());
        }
        let rec = Record {
            id: EXAMPLE_ID.to_owned(),
            name: Some("example: sandbox routing".to_owned()),
            status: RuleSetStatus::Active,
            livemode: false,
            created: now_ms() / 1000,
            activated_at: Some(now_ms() / 1000),
            created_by: None,
            activated_by: None,
            promoted_from: None,
            ruleset: switchyard_processors::config::example_ruleset(),
            warnings: json!([]),
            seq: 0,
        };
        if self.store().get::<String>("active")?.is_none() {
            self.store().put(&format!("rs:{}", rec.id), &rec)?;
            self.store().put("active", &rec.id)?;
        }
        self.store().put("seeded", &"yes")?;
        Ok(())
    }

    fn record(&self, id: &str) -> Result<Option<Record>, ApiError> {
        self.store().get(&format!("rs:{id}"))
    }

    /// The active set's id and activation version, with its content unless
    /// it is `known` to the caller (rule sets are immutable once stored).
    fn active(&self, known: Option<&str>) -> Result<Answer, ApiError> {
        let Some(id) = self.store().get::<String>("active")? else {
            return Ok(Answer::json(404, &json!({"error": "none"})));
        };
        let version = self.store().get::<u64>("active_version")?.unwrap_or(0);
        if known == Some(id.as_str()) {
            return Ok(Answer::json(200, &json!({ "id": id, "version": version })));
        }
        let Some(rec) = self.record(&id)? else {
            return Err(ApiError::internal("the active rule set is missing"));
        };
        Ok(Answer::json(
            200,
            &json!({"id": rec.id, "version": version, "ruleset": rec.ruleset}),
        ))
    }

    /// A page of the rule sets, newest first, read by SQL a
    /// page at a time: the answer's size is bounded by `limit`.
    fn list(&self, q: &ListQuery) -> Result<Answer, ApiError> {
        let cursor = match q.starting_after.as_deref().or(q.ending_before.as_deref()) {
            None => None,
            Some(id) => match self.record(id)? {
                Some(r) => Some(r),
                None => {
                    return Err(ApiError::invalid(
                        if q.starting_after.is_some() {
                            "starting_after"
                        } else {
                            "ending_before"
                        },
                        "resource_missing",
                        format!("No such rule set: '{id}'"),
                    ))
                }
            },
        };
        let backwards = q.ending_before.is_some();
        let mut page: Vec<Record> = self.store().page(
            "rs:",
            "seq",
            cursor.as_ref().map(|c| (c.seq, format!("rs:{}", c.id))),
            backwards,
            q.limit + 1,
        )?;
        let has_more = page.len() > q.limit as usize;
        page.truncate(q.limit as usize);
        if backwards {
            page.reverse();
        }
        let with_rules = q.expand.iter().any(|e| e == "data.ruleset");
        let data: Vec<Value> = page
            .iter()
            .map(|r| {
                let mut v = r.to_json();
                if !with_rules {
                    if let Some(o) = v.as_object_mut() {
                        o.remove("ruleset");
                    }
                }
                v
            })
            .collect();
        Ok(Answer::json(
            200,
            &json!({"object": "list", "data": data, "has_more": has_more, "url": "/v1/routing/rulesets"}),
        ))
    }

    fn get(&self, id: &str) -> Result<Answer, ApiError> {
        match self.record(id)? {
            Some(r) => Ok(Answer::json(200, &r.to_json())),
            None => Err(ApiError::not_found(
                Some("id"),
                format!("No such rule set: '{id}'"),
            )),
        }
    }

    fn create(&self, m: &CreateMsg) -> Result<Answer, ApiError> {
        let seq = self.store().get::<u64>("rs_seq")?.unwrap_or(0) + 1;
        self.store().put("rs_seq", &seq)?;
        let rec = Record {
            id: m.id.clone(),
            name: m
                .ruleset
                .get("name")
                .and_then(Value::as_str)
                .map(str::to_owned),
            status: RuleSetStatus::Draft,
            livemode: m.livemode,
            created: m.now_ms / 1000,
            activated_at: None,
            promoted_from: m.promoted_from.clone(),
            created_by: m.by.clone(),
            activated_by: None,
            ruleset: m.ruleset.clone(),
            warnings: m.warnings.clone(),
            seq,
        };
        self.store().put(&format!("rs:{}", rec.id), &rec)?;
        Ok(Answer::json(200, &rec.to_json()))
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
        if rec.status != RuleSetStatus::Active {
            if let Some(prev) = self.store().get::<String>("active")? {
                if let Some(mut p) = self.record(&prev)? {
                    p.status = RuleSetStatus::Inactive;
                    self.store().put(&format!("rs:{}", p.id), &p)?;
                }
            }
            rec.status = RuleSetStatus::Active;
            // Replicas keep the newest version they are given.
            let version = self.store().get::<u64>("active_version")?.unwrap_or(0) + 1;
            self.store().put("active_version", &version)?;
            rec.activated_at = Some(m.now_ms / 1000);
            rec.activated_by = m.by.clone();
            self.store().put(&format!("rs:{}", rec.id), &rec)?;
            self.store().put("active", &rec.id)?;
        }
        Ok(Answer::json(200, &rec.to_json()))
    }
}
