//! Replicas of each mode's active rule set, so that no single object is on
//! the payment path: a confirmation asks one of `REPLICAS` objects per mode
//! (by a hash of the payment id) which set is active, never the mode's
//! rule-set object itself.
//!
//! Architecture Invariant: "payments started after an activation call use
//! it" holds because an activation answers only after every replica has
//! the new set (`publish`): the rule-set object stores it first, then the
//! front pushes the active set, with its activation version, to every
//! replica (each keeps the newest version it was given) and waits for all.
//! A replica that has nothing yet (a new deployment, a new mode) asks the
//! rule-set object once. If a push fails, the activation answers 503 and a
//! retry of it (the same call, or the same Idempotency-Key) publishes again;
//! until then some replicas may still give the previous set.

use std::cell::Cell;

use futures_util::future::join_all;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use worker::{durable_object, DurableObject, Env, Request, Response, SqlStorage, State};

use super::objects::{call, stub, Binding, Touched};
use super::runtime::{answer_response, error_response};
use super::sql::SqlStore;
use crate::auth::Mode;
use crate::error::ApiError;
use crate::protocol::Answer;
use crate::storage::Docs;

/// Replicas per mode. Each is one object (Cloudflare: about 1,000 requests
/// a second each), so a mode's confirmations read from 16 of them.
pub(crate) const REPLICAS: u8 = 16;

/// The active set as the rule-set object gives it and replicas keep it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Published {
    pub id: String,
    /// The activation it came from: replicas keep the highest.
    pub version: u64,
    pub ruleset: Value,
}

/// The replica a request reads, spread by `key` (a payment id).
pub(crate) fn replica_of(key: &str) -> u8 {
    Sha256::digest(key.as_bytes())[0] % REPLICAS
}

fn replica_stub(
    env: &Env,
    mode: Mode,
    n: u8,
    touched: Option<&Touched>,
) -> Result<worker::Stub, ApiError> {
    let key = format!("replica:{n}");
    match touched {
        Some(t) => t.stub(env, Binding::RuleSetReplicas, mode, Some(&key)),
        None => stub(env, Binding::RuleSetReplicas, mode, Some(&key)),
    }
}

fn seed_query(mode: Mode) -> &'static str {
    if mode == Mode::Test {
        "seed=1&"
    } else {
        ""
    }
}

/// Asks the replica chosen by `key` for the active set; answers like the
/// rule-set object's `/active` (404 when there is none).
pub(crate) async fn active(
    env: &Env,
    mode: Mode,
    key: &str,
    known: Option<&str>,
    touched: &Touched,
) -> Result<Answer, ApiError> {
    let mut path = format!("/active?mode={}&{}", mode.as_str(), seed_query(mode));
    if let Some(id) = known {
        path.push_str(&format!("known={id}"));
    }
    call::<()>(
        &replica_stub(env, mode, replica_of(key), Some(touched))?,
        &path,
        None,
    )
    .await
}

/// After an activation: every replica gets the mode's active set. Fails
/// (503) unless all of them have it.
pub(crate) async fn publish(env: &Env, mode: Mode) -> Result<(), ApiError> {
    let primary = stub(env, Binding::RuleSets, mode, None)?;
    let a = call::<()>(&primary, &format!("/active?{}", seed_query(mode)), None).await?;
    let published: Published = serde_json::from_str(a.body.get())
        .map_err(|e| ApiError::internal(format!("unexpected rule-set answer: {e}")))?;
    let pushes = (0..REPLICAS).map(|n| {
        let published = &published;
        async move {
            for _ in 0..3 {
                if let Ok(s) = replica_stub(env, mode, n, None) {
                    if matches!(call(&s, "/push", Some(published)).await, Ok(a) if a.status == 200)
                    {
                        return true;
                    }
                }
            }
            false
        }
    });
    let done = join_all(pushes).await;
    if done.iter().all(|ok| *ok) {
        Ok(())
    } else {
        Err(ApiError::activation_incomplete(
            done.iter().filter(|ok| !**ok).count(),
        ))
    }
}

#[durable_object]
pub struct ActiveSetObject {
    sql: SqlStorage,
    env: Env,
    ready: Cell<bool>,
}

impl DurableObject for ActiveSetObject {
    fn new(state: State, env: Env) -> Self {
        let sql = state.storage().sql();
        let ready = Cell::new(false);
        let _ = SqlStore::new(&sql, &ready).init();
        Self { sql, env, ready }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        if !self.ready.get() {
            return Ok(error_response(&ApiError::internal(
                "replica storage is unavailable",
            )));
        }
        let url = req.url()?;
        let (mut mode, mut seed, mut known) = (Mode::Test, false, None);
        for (k, v) in url.query_pairs() {
            match &*k {
                "mode" if v == "live" => mode = Mode::Live,
                "seed" => seed = v == "1",
                "known" => known = Some(v.into_owned()),
                _ => {}
            }
        }
        let result = match url.path() {
            "/push" => {
                let text = req.text().await.unwrap_or_default();
                match serde_json::from_str::<Published>(&text) {
                    Ok(p) => self
                        .keep(&p)
                        .map(|()| Answer::json(200, &json!({"ok": true}))),
                    Err(e) => Err(ApiError::internal(format!("unreadable push: {e}"))),
                }
            }
            "/active" => self.active(mode, seed, known.as_deref()).await,
            _ => Err(ApiError::internal("unknown replica call")),
        };
        Ok(match result {
            Ok(a) => answer_response(a),
            Err(e) => error_response(&e),
        })
    }
}

impl ActiveSetObject {
    fn store(&self) -> SqlStore<'_> {
        SqlStore::new(&self.sql, &self.ready)
    }

    /// Keeps `p` unless a newer activation is kept already. Synchronous.
    /// The id and version are kept apart from the content, so that the
    /// common read (the caller knows the id) parses no rule set.
    fn keep(&self, p: &Published) -> Result<(), ApiError> {
        let newer = self
            .store()
            .get::<Kept>("active")?
            .is_some_and(|k| k.version > p.version);
        if !newer {
            self.store().put("content", &p.ruleset)?;
            self.store().put(
                "active",
                &Kept {
                    id: p.id.clone(),
                    version: p.version,
                },
            )?;
        }
        Ok(())
    }

    async fn active(
        &self,
        mode: Mode,
        seed: bool,
        known: Option<&str>,
    ) -> Result<Answer, ApiError> {
        let kept = match self.store().get::<Kept>("active")? {
            Some(k) => k,
            None => {
                // Nothing yet: ask the rule-set object, once.
                let primary = stub(&self.env, Binding::RuleSets, mode, None)?;
                let q = if seed { "?seed=1" } else { "" };
                let a = call::<()>(&primary, &format!("/active{q}"), None).await?;
                if a.status != 200 {
                    return Ok(a);
                }
                let p: Published = serde_json::from_str(a.body.get())
                    .map_err(|e| ApiError::internal(format!("unexpected rule-set answer: {e}")))?;
                self.keep(&p)?;
                Kept {
                    id: p.id,
                    version: p.version,
                }
            }
        };
        if known == Some(kept.id.as_str()) {
            return Ok(Answer::json(200, &json!({ "id": kept.id })));
        }
        let content: Value = self.store().get("content")?.unwrap_or(Value::Null);
        Ok(Answer::json(
            200,
            &json!({ "id": kept.id, "ruleset": content }),
        ))
    }
}

/// Which set a replica keeps, without its content.
#[derive(Serialize, Deserialize)]
struct Kept {
    id: String,
    version: u64,
}
