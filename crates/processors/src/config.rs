//! Processor configuration of one mode: ids, types, base URLs, accounts and
//! the sandbox's simulated behaviour, read from the worker's
//! `SWITCHYARD_TEST_PROCESSORS` / `SWITCHYARD_LIVE_PROCESSORS` (JSON
//! arrays); and the real processors' credentials, secrets of their own
//! (`SWITCHYARD_TEST_CREDENTIALS` / `SWITCHYARD_LIVE_CREDENTIALS`: a JSON
//! object by processor id).

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProcessorKind {
    Sandbox,
    Stripe,
    Adyen,
    Checkout,
    Braintree,
}

impl ProcessorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProcessorKind::Sandbox => "sandbox",
            ProcessorKind::Stripe => "stripe",
            ProcessorKind::Adyen => "adyen",
            ProcessorKind::Checkout => "checkout",
            ProcessorKind::Braintree => "braintree",
        }
    }
}

/// How a sandbox processor misbehaves, to show routing and retries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureMode {
    /// Every call is refused before processing (503 with an explicit
    /// not-processed signal): safe to move on.
    Outage,
    /// A new authorization is recorded, but its answer never arrives in
    /// time; a retry with the same idempotency key gets the stored answer.
    TimeoutAfterAccept,
    /// Answers, slowly (`slow_ms`).
    Slow,
    /// Answers 429 to every call.
    RateLimited,
    /// Every authorization is recorded but its answer never arrives in time,
    /// retries included; only a lookup (reconciliation) tells what happened.
    LostAnswers,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessorConfig {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: ProcessorKind,
    /// The processor's API base (real processors only).
    #[serde(default)]
    pub base_url: Option<String>,
    /// Merchant account / processing channel (real processors only).
    #[serde(default)]
    pub account: Option<String>,
    /// The one currency this processor account takes, if it takes one only
    /// (a Braintree merchant account charges in its own currency, whatever
    /// the request says): a payment in another currency is not sent there.
    #[serde(default)]
    pub currency: Option<String>,
    /// Real processors: open a TCP connection to the host before each
    /// request, so that a refused connection is known to be "not sent"
    /// (and the next processor tried). Off for a host that refuses
    /// Workers' `connect()` (Cloudflare's own addresses).
    #[serde(default = "yes")]
    pub connect_check: bool,
    /// Sandbox: simulated processing time of every call.
    #[serde(default = "default_latency")]
    pub latency_ms: u32,
    /// How long the worker waits for an answer.
    #[serde(default = "default_timeout")]
    pub timeout_ms: u32,
    /// Sandbox: a failure mode.
    #[serde(default)]
    pub failure: Option<FailureMode>,
    /// Sandbox, `slow`: the extra time of every call.
    #[serde(default = "default_slow")]
    pub slow_ms: u32,
    /// The processor's secrets: never in the processors list (a
    /// `credentials` field there is refused as unknown), filled from the
    /// mode's credentials secret, never serialised.
    #[serde(skip)]
    pub credentials: Option<Credentials>,
}

fn yes() -> bool {
    true
}
fn default_latency() -> u32 {
    40
}
fn default_timeout() -> u32 {
    8000
}
fn default_slow() -> u32 {
    1500
}

impl ProcessorConfig {
    pub fn sandbox(id: &str) -> ProcessorConfig {
        ProcessorConfig {
            id: id.to_owned(),
            kind: ProcessorKind::Sandbox,
            base_url: None,
            account: None,
            currency: None,
            connect_check: true,
            latency_ms: default_latency(),
            timeout_ms: default_timeout(),
            failure: None,
            slow_ms: default_slow(),
            credentials: None,
        }
    }
}

/// The secrets of one real processor. `Debug` never shows them.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    /// Stripe's secret key, Adyen's API key (`X-API-Key`), Checkout.com's
    /// secret key.
    #[serde(default)]
    pub api_key: Option<String>,
    /// Braintree's API key pair.
    #[serde(default)]
    pub public_key: Option<String>,
    #[serde(default)]
    pub private_key: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let set = |v: &Option<String>| if v.is_some() { "set" } else { "-" };
        write!(
            f,
            "Credentials(api_key: {}, public_key: {}, private_key: {})",
            set(&self.api_key),
            set(&self.public_key),
            set(&self.private_key)
        )
    }
}

/// Parses the credentials secret of a mode: `{"<processor id>": {...}}`.
pub fn parse_credentials(
    json: &str,
) -> Result<std::collections::BTreeMap<String, Credentials>, String> {
    serde_json::from_str(json).map_err(|e| {
        // serde's message may quote the offending text: never a secret in
        // an error.
        format!(
            "invalid processor credentials (line {}, column {})",
            e.line(),
            e.column()
        )
    })
}

/// What a processor type needs of its credentials, or `None` when they do.
pub fn missing_credentials(kind: ProcessorKind, c: Option<&Credentials>) -> Option<&'static str> {
    let has =
        |v: Option<&Option<String>>| v.is_some_and(|v| v.as_deref().is_some_and(|s| !s.is_empty()));
    match kind {
        ProcessorKind::Sandbox => None,
        ProcessorKind::Stripe | ProcessorKind::Adyen | ProcessorKind::Checkout => {
            (!has(c.map(|c| &c.api_key))).then_some("api_key")
        }
        ProcessorKind::Braintree => (!(has(c.map(|c| &c.public_key))
            && has(c.map(|c| &c.private_key))))
        .then_some("public_key and private_key"),
    }
}

/// With no configuration: three healthy sandbox processors.
pub fn default_processors() -> Vec<ProcessorConfig> {
    ["sandbox_a", "sandbox_b", "sandbox_c"]
        .iter()
        .map(|id| ProcessorConfig::sandbox(id))
        .collect()
}

/// The example rule set that is active in test mode when none was ever
/// activated: it routes every payment of a new user.
pub fn example_ruleset() -> serde_json::Value {
    serde_json::json!({
        "name": "example: sandbox routing",
        "rules": [
            {
                "name": "large EUR payments to sandbox_b",
                "if": { "all": [
                    { "field": "currency", "eq": "eur" },
                    { "field": "amount", "gte": 10000 }
                ]},
                "then": { "route": ["sandbox_b", "sandbox_a"] }
            },
            {
                "name": "US cards: 70/30 split",
                "if": { "field": "card.country", "eq": "US" },
                "then": {
                    "split": [
                        { "processor": "sandbox_a", "weight": 70 },
                        { "processor": "sandbox_c", "weight": 30 }
                    ],
                    "fallback": ["sandbox_b"]
                }
            }
        ],
        "default": { "route": ["sandbox_a", "sandbox_b", "sandbox_c"] }
    })
}

/// The longest a processor call may wait (`timeout_ms`): well below the
/// 60 s after which an operation counts as abandoned and a retry takes it
/// over (`payment::STALE_AFTER_MS`), so that a takeover never runs beside
/// a call still waiting.
pub const MAX_TIMEOUT_MS: u32 = 10_000;

/// Parses a processors list; every id must match `[a-z0-9_-]{1,64}` and be
/// unique; `timeout_ms` is 1 to `MAX_TIMEOUT_MS`.
pub fn parse_processors(json: &str) -> Result<Vec<ProcessorConfig>, String> {
    let list: Vec<ProcessorConfig> =
        serde_json::from_str(json).map_err(|e| format!("invalid processors configuration: {e}"))?;
    if list.is_empty() {
        return Err("the processors configuration is empty".to_owned());
    }
    let mut seen = std::collections::BTreeSet::new();
    for p in &list {
        let ok_id = !p.id.is_empty()
            && p.id.len() <= 64
            && p.id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if !ok_id {
            return Err(format!("invalid processor id {:?}", p.id));
        }
        if !seen.insert(p.id.clone()) {
            return Err(format!("processor id {:?} is configured twice", p.id));
        }
        if !(1..=MAX_TIMEOUT_MS).contains(&p.timeout_ms) {
            return Err(format!(
                "processor {:?}: timeout_ms must be 1 to {MAX_TIMEOUT_MS} (calls must end well before an abandoned operation is taken over, after 60 s)",
                p.id
            ));
        }
        if p.kind == ProcessorKind::Braintree && p.currency.is_none() {
            return Err(format!(
                "processor {:?} (braintree) needs the currency of its merchant account (\"currency\"): Braintree charges in the account's currency",
                p.id
            ));
        }
        if p.kind != ProcessorKind::Sandbox && p.base_url.is_none() {
            return Err(format!("processor {:?} needs a base_url", p.id));
        }
    }
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_defaults() {
        let l = parse_processors(r#"[{"id":"s1","type":"sandbox","failure":"outage"}]"#);
        let l = l.unwrap_or_default();
        assert_eq!(l.len(), 1);
        assert_eq!(l[0].failure, Some(FailureMode::Outage));
        assert_eq!(l[0].latency_ms, 40);
        assert!(parse_processors("[]").is_err());
        assert!(parse_processors(r#"[{"id":"A","type":"sandbox"}]"#).is_err());
        assert!(
            parse_processors(r#"[{"id":"a","type":"sandbox"},{"id":"a","type":"sandbox"}]"#)
                .is_err()
        );
        assert!(parse_processors(r#"[{"id":"a","type":"stripe"}]"#).is_err());
        assert!(parse_processors(r#"[{"id":"a","type":"sandbox","bogus":1}]"#).is_err());
        assert!(parse_processors(r#"[{"id":"a","type":"sandbox","timeout_ms":10000}]"#).is_ok());
        for t in [0, 10_001, 60_000] {
            let e = parse_processors(&format!(
                r#"[{{"id":"a","type":"sandbox","timeout_ms":{t}}}]"#
            ));
            assert!(e.is_err_and(|e| e.contains("timeout_ms")), "{t}");
        }
        assert_eq!(default_processors().len(), 3);
    }
}
