//! The golden-case format (tests/cases/README.md) and its comparisons, shared
//! by the native runner (crates/rules/tests/golden.rs) and the browser runner
//! (crates/preview/tests/golden_web.rs) through `#[path]`. Only serde_json:
//! nothing here knows which runtime produced the output.
#![allow(dead_code)] // each runner uses its own part

use serde_json::{Map, Value};
use std::collections::BTreeSet;

/// Where the rule set of a case comes from.
pub enum Source {
    Value(Value),
    Text(String),
}

/// What a case expects.
pub enum Expect {
    /// The decision object (keys of README.md, "A decision").
    Decision(Map<String, Value>),
    /// `(path, code)` sets of errors and warnings.
    Validation {
        errors: BTreeSet<(String, String)>,
        warnings: BTreeSet<(String, String)>,
    },
    /// `(path, code)` set of the payment's issues.
    PaymentErrors(BTreeSet<(String, String)>),
}

pub struct Case {
    pub source: Source,
    /// `options.processors`, when the case gives it.
    pub processors: Option<Vec<String>>,
    /// The authorization rates given to the engine (for `auth_rate`).
    pub rates: Option<Value>,
    pub payment: Option<Value>,
    pub expect: Expect,
}

impl Case {
    /// The rule set as JSON text (for the string entry points).
    pub fn ruleset_text(&self) -> String {
        match &self.source {
            Source::Text(t) => t.clone(),
            Source::Value(v) => v.to_string(),
        }
    }

    /// The split key of the payment: its `routing_key`, or `""`.
    pub fn routing_key(&self) -> String {
        self.payment
            .as_ref()
            .and_then(|p| p.get("routing_key"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    }

    /// A problem when `output` (JSON text of a decision or of issues) echoes
    /// the payment's card number, which rules.md says is never echoed back.
    pub fn echo_problem(&self, what: &str, output: &str) -> Option<String> {
        let number = self
            .payment
            .as_ref()?
            .get("card")?
            .get("number")?
            .as_str()?;
        (number.len() >= 12 && output.contains(number))
            .then(|| format!("{what} echoes the card number {number}"))
    }

    /// `options` as JSON (`null` when the case has none).
    pub fn options_value(&self) -> Value {
        match &self.processors {
            Some(p) => serde_json::json!({ "processors": p }),
            None => Value::Null,
        }
    }
}

fn issue_set(v: &Value, what: &str) -> Result<BTreeSet<(String, String)>, String> {
    let arr = v
        .as_array()
        .ok_or_else(|| format!("{what} must be an array"))?;
    let mut out = BTreeSet::new();
    for (i, it) in arr.iter().enumerate() {
        let o = it
            .as_object()
            .ok_or_else(|| format!("{what}[{i}] must be an object"))?;
        if o.len() != 2 {
            return Err(format!("{what}[{i}] must have exactly path and code"));
        }
        let path = o.get("path").and_then(Value::as_str);
        let code = o.get("code").and_then(Value::as_str);
        match (path, code) {
            (Some(p), Some(c)) => {
                if !out.insert((p.to_owned(), c.to_owned())) {
                    return Err(format!("{what}[{i}] is listed twice"));
                }
            }
            _ => return Err(format!("{what}[{i}] needs string path and code")),
        }
    }
    Ok(out)
}

fn only_keys(o: &Map<String, Value>, allowed: &[&str], what: &str) -> Result<(), String> {
    for k in o.keys() {
        if !allowed.contains(&k.as_str()) {
            return Err(format!("unknown key {k:?} in {what}"));
        }
    }
    Ok(())
}

/// Reads one case file strictly: unknown keys and missing parts are errors.
pub fn parse_case(text: &str) -> Result<Case, String> {
    let v: Value = serde_json::from_str(text).map_err(|e| format!("case is not JSON: {e}"))?;
    let o = v.as_object().ok_or("case must be an object")?;
    only_keys(
        o,
        &[
            "description",
            "ruleset",
            "ruleset_text",
            "options",
            "rates",
            "payment",
            "expect",
        ],
        "the case",
    )?;
    match o.get("description").and_then(Value::as_str) {
        Some(d) if !d.trim().is_empty() => {}
        _ => return Err("description must be a non-empty string".into()),
    }
    let source = match (o.get("ruleset"), o.get("ruleset_text")) {
        (Some(r), None) => Source::Value(r.clone()),
        (None, Some(Value::String(t))) => Source::Text(t.clone()),
        _ => {
            return Err(
                "exactly one of ruleset (JSON) and ruleset_text (string) is required".into(),
            )
        }
    };
    let processors = match o.get("options") {
        None => None,
        Some(opts) => {
            let oo = opts.as_object().ok_or("options must be an object")?;
            only_keys(oo, &["processors"], "options")?;
            let list = oo
                .get("processors")
                .and_then(Value::as_array)
                .ok_or("options.processors must be an array")?;
            let mut ps = Vec::new();
            for p in list {
                ps.push(
                    p.as_str()
                        .ok_or("options.processors holds strings")?
                        .to_owned(),
                );
            }
            Some(ps)
        }
    };
    let payment = o.get("payment").cloned();
    let rates = o.get("rates").cloned();
    if rates.is_some() && payment.is_none() {
        return Err("rates go with a payment".into());
    }
    let e = o
        .get("expect")
        .and_then(Value::as_object)
        .ok_or("expect must be an object")?;
    let expect = if let Some(d) = e.get("decision") {
        only_keys(e, &["decision"], "expect")?;
        let d = d.as_object().ok_or("expect.decision must be an object")?;
        only_keys(
            d,
            &[
                "action",
                "processors",
                "rule",
                "rule_index",
                "decline",
                "split",
                "auth_rate",
                "trace",
            ],
            "expect.decision",
        )?;
        for k in ["action", "processors", "rule", "rule_index"] {
            if !d.contains_key(k) {
                return Err(format!("expect.decision needs {k}"));
            }
        }
        let is_decline = d.get("action") == Some(&Value::from("decline"));
        if is_decline != d.contains_key("decline") {
            return Err("expect.decision.decline is given exactly for a decline".into());
        }
        if payment.is_none() {
            return Err("a decision case needs a payment".into());
        }
        Expect::Decision(d.clone())
    } else if let Some(pe) = e.get("payment_errors") {
        only_keys(e, &["payment_errors"], "expect")?;
        if payment.is_none() {
            return Err("a payment_errors case needs a payment".into());
        }
        let set = issue_set(pe, "payment_errors")?;
        if set.is_empty() {
            return Err("payment_errors must not be empty".into());
        }
        Expect::PaymentErrors(set)
    } else {
        only_keys(e, &["errors", "warnings"], "expect")?;
        let errors = issue_set(
            e.get("errors")
                .ok_or("expect needs decision, payment_errors or errors+warnings")?,
            "errors",
        )?;
        let warnings = issue_set(
            e.get("warnings")
                .ok_or("expect.warnings is required beside errors")?,
            "warnings",
        )?;
        if payment.is_some() {
            return Err("a validation case has no payment".into());
        }
        Expect::Validation { errors, warnings }
    };
    if matches!(source, Source::Text(_)) && !matches!(expect, Expect::Validation { .. }) {
        return Err("ruleset_text is for validation cases only".into());
    }
    Ok(Case {
        source,
        processors,
        rates,
        payment,
        expect,
    })
}

/// JSON equality with numbers compared by value: `0.0` in a case file is
/// `0` once a JavaScript runtime has written it (JSON.stringify keeps no
/// `.0`), as the `explore` of an `auth_rate` shows.
pub fn same(e: &Value, x: &Value) -> bool {
    match (e, x) {
        (Value::Number(a), Value::Number(b)) => match (a.as_u64(), b.as_u64()) {
            (Some(a), Some(b)) => a == b,
            _ => a.as_f64() == b.as_f64(),
        },
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(a, b)| same(a, b))
        }
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len() && a.iter().all(|(k, v)| b.get(k).is_some_and(|w| same(v, w)))
        }
        _ => e == x,
    }
}

/// Compares a decision (as JSON) with the expected one; each difference is one
/// line. `with_trace`: whether `actual` comes from a preview (trace compared
/// when the case gives one).
pub fn check_decision(
    expected: &Map<String, Value>,
    actual: &Value,
    with_trace: bool,
) -> Vec<String> {
    let mut out = Vec::new();
    let Some(a) = actual.as_object() else {
        return vec![format!("decision is not an object: {actual}")];
    };
    for k in ["action", "processors", "rule", "rule_index"] {
        match (expected.get(k), a.get(k)) {
            (Some(e), Some(x)) if e == x => {}
            (Some(e), Some(x)) => out.push(format!("{k}: expected {e}, got {x}")),
            (Some(e), None) => out.push(format!("{k}: expected {e}, missing")),
            (None, _) => {}
        }
    }
    // How a split picked is in the trace, on the entry that decided; the
    // hot path has no trace and is not asked.
    for k in ["split", "auth_rate"] {
        let traced = a
            .get("trace")
            .and_then(Value::as_array)
            .map(|t| t.last().and_then(|e| e.get(k)));
        if let Some(actual) = traced {
            match (expected.get(k), actual) {
                (Some(e), Some(x)) if same(e, x) => {}
                (Some(e), Some(x)) => out.push(format!("{k}: expected {e}, got {x}")),
                (Some(e), None) => out.push(format!("{k}: expected {e}, missing from the trace")),
                (None, Some(x)) => out.push(format!("{k}: expected absent, got {x}")),
                (None, None) => {}
            }
        }
        if let Some(x) = a.get(k) {
            out.push(format!(
                "{k}: the decision has only the keys of rules.md, got {k} {x}"
            ));
        }
    }
    for k in ["decline"] {
        match (expected.get(k), a.get(k)) {
            (Some(e), Some(x)) if e == x => {}
            (Some(e), Some(x)) => out.push(format!("{k}: expected {e}, got {x}")),
            (Some(e), None) => out.push(format!("{k}: expected {e}, missing")),
            // both are present exactly when the case gives them
            (None, Some(x)) => out.push(format!("{k}: expected absent, got {x}")),
            (None, None) => {}
        }
    }
    if with_trace {
        if let Some(e) = expected.get("trace") {
            match a.get("trace") {
                Some(x) if same(e, x) => {}
                Some(x) => out.push(format!("trace: expected {e}, got {x}")),
                None => out.push("trace: missing".into()),
            }
        }
    }
    out
}

/// The `(path, code)` set of an array of Issues (as JSON), checking that each
/// issue has a non-empty message.
pub fn actual_issue_set(
    v: &Value,
    what: &str,
    problems: &mut Vec<String>,
) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    let Some(arr) = v.as_array() else {
        problems.push(format!("{what}: not an array: {v}"));
        return out;
    };
    for it in arr {
        let path = it.get("path").and_then(Value::as_str);
        let code = it.get("code").and_then(Value::as_str);
        let msg = it.get("message").and_then(Value::as_str);
        match (path, code) {
            (Some(p), Some(c)) => {
                out.insert((p.to_owned(), c.to_owned()));
            }
            _ => problems.push(format!("{what}: issue without string path/code: {it}")),
        }
        if msg.is_none_or(|m| m.trim().is_empty()) {
            problems.push(format!("{what}: issue without a message: {it}"));
        }
    }
    out
}

/// Compares two `(path, code)` sets; one line per difference, with messages of
/// the unexpected issues for context.
pub fn compare_sets(
    what: &str,
    expected: &BTreeSet<(String, String)>,
    actual: &BTreeSet<(String, String)>,
) -> Vec<String> {
    let mut out = Vec::new();
    for (p, c) in expected.difference(actual) {
        out.push(format!("{what}: missing {c} at {p:?}"));
    }
    for (p, c) in actual.difference(expected) {
        out.push(format!("{what}: unexpected {c} at {p:?}"));
    }
    out
}

/// What `simulate([payment])` must return for the expected decision (js.md:
/// `by_processor` counts the first processor of the plan; counts of zero are
/// left out).
pub fn expected_simulation(expected: &Map<String, Value>) -> Value {
    let decline = expected.get("action") == Some(&Value::from("decline"));
    let first = expected
        .get("processors")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
        .and_then(Value::as_str);
    let rule = expected.get("rule").and_then(Value::as_str);
    let mut want = serde_json::json!({
        "total": 1,
        "declined": u64::from(decline),
        "by_processor": {},
        "by_rule": {},
        "default": u64::from(rule.is_none()),
    });
    if let Some(p) = first {
        want["by_processor"][p] = Value::from(1);
    }
    if let Some(r) = rule {
        want["by_rule"][r] = Value::from(1);
    }
    want
}
