//! Rule-set JSON to a validated [`RuleSet`], reporting every problem at once.
//!
//! The walker reads `serde_json::Value` by hand rather than through derived
//! `Deserialize` impls, because serde stops at the first error and knows no
//! JSON Pointers.

use serde_json::{Map, Value};

use crate::ast::*;
use crate::issue::{did_you_mean, Issues, Pointer, ValidateOptions};
use crate::values::{Brand, CaptureMethod, Country, Currency, Funding};

/// Parses and validates. `Some` only when there are no errors.
pub(crate) fn parse_ruleset(
    v: &Value,
    opts: &ValidateOptions,
    out: &mut Issues,
) -> Option<RuleSet> {
    let root = Pointer::root();
    let Some(obj) = v.as_object() else {
        out.error(
            &root,
            "wrong_type",
            format!("a rule set must be a JSON object, not {}", kind_of(v)),
        );
        return None;
    };
    let p = Parser { opts, out };
    p.ruleset(obj, &root)
}

struct Parser<'a> {
    opts: &'a ValidateOptions,
    out: &'a mut Issues,
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A non-negative whole number, also when written with an exponent or a
/// fraction of zero (`1e3`, `1000.0`), up to 2^53 for the latter.
fn whole(n: &serde_json::Number) -> Option<u64> {
    n.as_u64().or_else(|| {
        n.as_f64()
            .filter(|f| {
                f.fract() == 0.0 && *f >= 0.0 && *f <= crate::values::MinorUnits::MAX as f64
            })
            .map(|f| f as u64)
    })
}

/// A processor id: 1 to 64 of ASCII letters, digits, `_`, `-`, `.` and `:`
/// (`stripe`, `adyen_eu`, `Worldpay`, `cko.eu`). Spaces and other
/// characters would not survive a form field or a log line.
fn is_processor_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':'))
}

impl Parser<'_> {
    fn unknown_keys(&mut self, obj: &Map<String, Value>, at: &Pointer, known: &[&str], what: &str) {
        for k in obj.keys() {
            if !known.contains(&k.as_str()) {
                let hint = did_you_mean(k, known.iter().copied());
                self.out.error(
                    &at.key(k),
                    "unknown_key",
                    format!("unknown key \"{k}\" in {what}{hint}"),
                );
            }
        }
    }

    fn ruleset(mut self, obj: &Map<String, Value>, at: &Pointer) -> Option<RuleSet> {
        self.unknown_keys(obj, at, &["name", "rules", "default"], "the rule set");
        let name = match obj.get("name") {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(v) => {
                self.out.error(
                    &at.key("name"),
                    "wrong_type",
                    format!("name must be a string, not {}", kind_of(v)),
                );
                None
            }
        };
        let mut rules = Vec::new();
        match obj.get("rules") {
            None => {}
            Some(Value::Array(items)) if items.len() > MAX_RULES => {
                self.out.error(
                    &at.key("rules"),
                    "too_many_rules",
                    format!(
                        "a rule set holds at most {MAX_RULES} rules; this one has {}",
                        items.len()
                    ),
                );
            }
            Some(Value::Array(items)) => {
                let rp = at.key("rules");
                let mut names: std::collections::HashMap<&str, usize> = Default::default();
                for (i, item) in items.iter().enumerate() {
                    let ip = rp.idx(i);
                    if let Some(Value::String(n)) = item.get("name") {
                        if let Some(first) = names.get(n.as_str()) {
                            self.out.error(
                                &ip.key("name"),
                                "duplicate_rule_name",
                                format!("rule name \"{n}\" is already used by rule {first}"),
                            );
                        } else {
                            names.insert(n, i);
                        }
                    }
                    if let Some(r) = self.rule(item, &ip) {
                        rules.push((i, r));
                    }
                }
            }
            Some(v) => {
                self.out.error(
                    &at.key("rules"),
                    "wrong_type",
                    format!("rules must be an array, not {}", kind_of(v)),
                );
            }
        }
        let default = match obj.get("default") {
            None => {
                self.out.error(
                    &at.key("default"),
                    "missing_key",
                    "the rule set needs a \"default\" action",
                );
                None
            }
            Some(v) => self.action(v, &at.key("default")),
        };
        // Warnings cover the rules that parsed, even when others did not.
        self.warnings(&rules, obj);
        if !self.out.errors.is_empty() {
            return None;
        }
        Some(RuleSet {
            name,
            rules: rules.into_iter().map(|(_, r)| r).collect(),
            default: default?,
        })
    }

    fn rule(&mut self, v: &Value, at: &Pointer) -> Option<Rule> {
        let Some(obj) = v.as_object() else {
            self.out.error(
                at,
                "wrong_type",
                format!("a rule must be an object, not {}", kind_of(v)),
            );
            return None;
        };
        self.unknown_keys(obj, at, &["name", "if", "then", "enabled"], "a rule");
        let name = match obj.get("name") {
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
            Some(Value::String(_)) => {
                self.out.error(
                    &at.key("name"),
                    "invalid_value",
                    "a rule's name must not be empty",
                );
                None
            }
            Some(v) => {
                self.out.error(
                    &at.key("name"),
                    "wrong_type",
                    format!("a rule's name must be a string, not {}", kind_of(v)),
                );
                None
            }
            None => {
                self.out.error(
                    &at.key("name"),
                    "missing_key",
                    "every rule needs a \"name\"",
                );
                None
            }
        };
        let enabled = match obj.get("enabled") {
            None => Some(true),
            Some(Value::Bool(b)) => Some(*b),
            Some(v) => {
                self.out.error(
                    &at.key("enabled"),
                    "wrong_type",
                    format!("enabled must be true or false, not {}", kind_of(v)),
                );
                None
            }
        };
        let cond = match obj.get("if") {
            None => Some(None),
            Some(c) => self.cond(c, &at.key("if"), 1).map(Some),
        };
        let action = match obj.get("then") {
            None => {
                self.out.error(
                    &at.key("then"),
                    "missing_key",
                    "every rule needs a \"then\" action",
                );
                None
            }
            Some(a) => self.action(a, &at.key("then")),
        };
        Some(Rule {
            name: name?,
            cond: cond?,
            action: action?,
            enabled: enabled?,
        })
    }

    fn cond(&mut self, v: &Value, at: &Pointer, depth: usize) -> Option<Cond> {
        if depth > MAX_DEPTH {
            self.out.error(
                at,
                "too_deep",
                format!("conditions nest at most {MAX_DEPTH} levels deep"),
            );
            return None;
        }
        let Some(obj) = v.as_object() else {
            self.out.error(
                at,
                "wrong_type",
                format!("a condition must be an object, not {}", kind_of(v)),
            );
            return None;
        };
        if obj.contains_key("field") {
            return self.leaf(obj, at);
        }
        let combinators: Vec<&str> = ["all", "any", "not"]
            .into_iter()
            .filter(|k| obj.contains_key(*k))
            .collect();
        match combinators.as_slice() {
            [] => {
                if obj.is_empty() {
                    self.out.error(
                        at,
                        "invalid_condition",
                        "an empty object is not a condition: use all, any, not or a field leaf",
                    );
                    return None;
                }
                if obj.keys().any(|k| OPERATORS.contains(&k.as_str())) {
                    self.out.error(
                        &at.key("field"),
                        "missing_key",
                        "this leaf names an operator but no \"field\"",
                    );
                    for k in obj.keys().filter(|k| !OPERATORS.contains(&k.as_str())) {
                        let hint = did_you_mean(k, OPERATORS.iter().copied());
                        self.out.error(
                            &at.key(k),
                            "unknown_operator",
                            format!("unknown operator \"{k}\"{hint}"),
                        );
                    }
                } else {
                    self.unknown_keys(obj, at, &["all", "any", "not", "field"], "a condition");
                }
                None
            }
            [one] => {
                let one = *one;
                self.unknown_keys(obj, at, &[one], &format!("an \"{one}\" condition"));
                let inner = obj.get(one)?;
                let ip = at.key(one);
                if one == "not" {
                    let c = self.cond(inner, &ip, depth + 1)?;
                    return Some(Cond::Not(Box::new(c), at.as_str().into()));
                }
                let Some(items) = inner.as_array() else {
                    self.out.error(
                        &ip,
                        "wrong_type",
                        format!(
                            "\"{one}\" takes an array of conditions, not {}",
                            kind_of(inner)
                        ),
                    );
                    return None;
                };
                if items.is_empty() {
                    self.out.error(
                        &ip,
                        "empty_list",
                        format!("\"{one}\" needs at least one condition"),
                    );
                    return None;
                }
                let mut cs = Vec::with_capacity(items.len());
                let mut ok = true;
                for (i, c) in items.iter().enumerate() {
                    match self.cond(c, &ip.idx(i), depth + 1) {
                        Some(c) => cs.push(c),
                        None => ok = false,
                    }
                }
                if !ok {
                    return None;
                }
                Some(if one == "all" {
                    Cond::All(cs)
                } else {
                    Cond::Any(cs)
                })
            }
            _ => {
                self.out.error(
                    at,
                    "invalid_condition",
                    format!(
                        "a condition has exactly one of all, any, not; this one has {}",
                        combinators.join(" and ")
                    ),
                );
                None
            }
        }
    }

    fn field(&mut self, v: &Value, at: &Pointer) -> Option<(FieldRef, FieldType)> {
        let Some(name) = v.as_str() else {
            self.out.error(
                at,
                "wrong_type",
                format!("field must be a string, not {}", kind_of(v)),
            );
            return None;
        };
        if let Some((_, kind, ty)) = FIELDS.iter().find(|(n, _, _)| *n == name) {
            return Some((
                FieldRef {
                    kind: *kind,
                    key: None,
                },
                *ty,
            ));
        }
        if let Some(key) = name.strip_prefix("metadata.") {
            if !key.is_empty() {
                return Some((
                    FieldRef {
                        kind: FieldKind::Metadata,
                        key: Some(key.into()),
                    },
                    FieldType::Text,
                ));
            }
            self.out.error(
                at,
                "unknown_field",
                "a metadata field is metadata.KEY with a non-empty KEY",
            );
            return None;
        }
        let hint = did_you_mean(name, FIELDS.iter().map(|(n, _, _)| *n));
        self.out.error(
            at,
            "unknown_field",
            format!("unknown field \"{name}\"{hint}"),
        );
        None
    }

    fn leaf(&mut self, obj: &Map<String, Value>, at: &Pointer) -> Option<Cond> {
        let field = obj
            .get("field")
            .and_then(|f| self.field(f, &at.key("field")));
        let mut ops = Vec::new();
        for k in obj.keys().filter(|k| k.as_str() != "field") {
            match OPERATORS.iter().find(|o| **o == k.as_str()) {
                Some(o) => ops.push(*o),
                None => {
                    let hint = did_you_mean(k, OPERATORS.iter().copied());
                    self.out.error(
                        &at.key(k),
                        "unknown_operator",
                        format!("unknown operator \"{k}\"{hint}"),
                    );
                }
            }
        }
        let op_name = match ops.as_slice() {
            [one] => *one,
            [] => {
                if obj.len() == 1 {
                    self.out.error(at, "missing_operator", "a leaf needs one operator (eq, ne, in, not_in, lt, lte, gt, gte, between, prefix, exists)");
                }
                return None;
            }
            many => {
                self.out.error(
                    at,
                    "multiple_operators",
                    format!(
                        "a leaf has exactly one operator; this one has {}",
                        many.join(", ")
                    ),
                );
                return None;
            }
        };
        let (field, ty) = field?;
        let op_at = at.key(op_name);
        if !ty.operators().contains(&op_name) {
            self.out.error(
                &op_at,
                "operator_not_allowed",
                format!(
                    "operator \"{op_name}\" does not apply to {} (use one of {})",
                    field.name(),
                    ty.operators().join(", ")
                ),
            );
            return None;
        }
        let raw = obj.get(op_name)?;
        let op = self.op(op_name, raw, ty, &op_at)?;
        Some(Cond::Leaf(Leaf {
            field,
            op,
            op_name,
            value: raw.clone(),
            path: at.as_str().into(),
        }))
    }

    fn op(&mut self, op: &'static str, raw: &Value, ty: FieldType, at: &Pointer) -> Option<Op> {
        match op {
            "eq" | "ne" => {
                let v = self.value(raw, ty, at, false)?;
                Some(if op == "eq" { Op::Eq(v) } else { Op::Ne(v) })
            }
            "in" | "not_in" => {
                let Some(items) = raw.as_array() else {
                    self.out.error(
                        at,
                        "wrong_type",
                        format!("\"{op}\" takes an array of values, not {}", kind_of(raw)),
                    );
                    return None;
                };
                if items.is_empty() {
                    self.out.error(
                        at,
                        "empty_list",
                        format!("\"{op}\" needs at least one value"),
                    );
                    return None;
                }
                let mut vals = Vec::with_capacity(items.len());
                let mut ok = true;
                for (i, item) in items.iter().enumerate() {
                    match self.value(item, ty, &at.idx(i), false) {
                        Some(v) => vals.push(v),
                        None => ok = false,
                    }
                }
                if !ok {
                    return None;
                }
                Some(if op == "in" {
                    Op::In(vals)
                } else {
                    Op::NotIn(vals)
                })
            }
            "lt" | "lte" | "gt" | "gte" => {
                let n = self.amount(raw, at)?;
                Some(match op {
                    "lt" if n == 0 => Op::Range(1, 0),
                    "lt" => Op::Range(0, n - 1),
                    "lte" => Op::Range(0, n),
                    "gt" => Op::Range(n.saturating_add(1), u64::MAX),
                    _ => Op::Range(n, u64::MAX),
                })
            }
            "between" => {
                let pair = match raw.as_array() {
                    Some(a) if a.len() == 2 => a,
                    _ => {
                        self.out.error(
                            at,
                            "wrong_type",
                            "\"between\" takes [low, high]: an array of two integers",
                        );
                        return None;
                    }
                };
                let lo = self.amount(&pair[0], &at.idx(0));
                let hi = self.amount(&pair[1], &at.idx(1));
                let (lo, hi) = (lo?, hi?);
                if lo > hi {
                    self.out.error(
                        at,
                        "invalid_range",
                        format!("\"between\" needs low <= high; got [{lo}, {hi}]"),
                    );
                    return None;
                }
                Some(Op::Range(lo, hi))
            }
            "prefix" => {
                let items: Vec<(&Value, Pointer)> = match raw {
                    Value::Array(a) if a.is_empty() => {
                        self.out
                            .error(at, "empty_list", "\"prefix\" needs at least one string");
                        return None;
                    }
                    Value::Array(a) => a.iter().enumerate().map(|(i, v)| (v, at.idx(i))).collect(),
                    v => vec![(v, at.clone())],
                };
                let mut out = Vec::with_capacity(items.len());
                let mut ok = true;
                for (v, p) in items {
                    let bad_bin = |s: &str| {
                        !(1..=8).contains(&s.len()) || !s.bytes().all(|b| b.is_ascii_digit())
                    };
                    match v.as_str() {
                        Some(s) if ty == FieldType::Bin && bad_bin(s) => {
                            self.out.error(
                                &p,
                                "invalid_value",
                                format!("a card.bin prefix is 1 to 8 digits, not \"{s}\""),
                            );
                            ok = false;
                        }
                        Some(s) => out.push(Box::from(s)),
                        None => {
                            self.out.error(
                                &p,
                                "wrong_type",
                                format!(
                                    "\"prefix\" takes a string or an array of strings, not {}",
                                    kind_of(v)
                                ),
                            );
                            ok = false;
                        }
                    }
                }
                ok.then_some(Op::Prefix(out))
            }
            _ => match raw {
                Value::Bool(b) => Some(Op::Exists(*b)),
                v => {
                    self.out.error(
                        at,
                        "wrong_type",
                        format!("\"exists\" takes true or false, not {}", kind_of(v)),
                    );
                    None
                }
            },
        }
    }

    fn amount(&mut self, v: &Value, at: &Pointer) -> Option<u64> {
        match v {
            Value::Number(n) => match whole(n) {
                Some(u) if u <= MAX_AMOUNT => Some(u),
                _ => {
                    self.out.error(
                        at,
                        "invalid_value",
                        format!("an amount is a whole number of minor units from 0 to {MAX_AMOUNT}, not {n}"),
                    );
                    None
                }
            },
            v => {
                self.out.error(
                    at,
                    "wrong_type",
                    format!("an amount is an integer (minor units), not {}", kind_of(v)),
                );
                None
            }
        }
    }

    fn value(&mut self, v: &Value, ty: FieldType, at: &Pointer, _in_list: bool) -> Option<Val> {
        if ty == FieldType::Amount {
            return self.amount(v, at).map(Val::Int);
        }
        if ty == FieldType::Boolean {
            return match v {
                Value::Bool(b) => Some(Val::Bool(*b)),
                v => {
                    self.out.error(
                        at,
                        "wrong_type",
                        format!("expected true or false, not {}", kind_of(v)),
                    );
                    None
                }
            };
        }
        let Some(s) = v.as_str() else {
            self.out.error(
                at,
                "wrong_type",
                format!("expected a {} string, not {}", ty.name(), kind_of(v)),
            );
            return None;
        };
        let bad = |me: &mut Self, what: &str, hint: String| {
            me.out
                .error(at, "invalid_value", format!("\"{s}\" is not {what}{hint}"));
            None
        };
        match ty {
            FieldType::Currency => match Currency::parse(s) {
                Some(c) => Some(Val::Code(c.code())),
                None => {
                    let all: Vec<String> = Currency::all().collect();
                    let hint = did_you_mean(s, all.iter().map(String::as_str));
                    bad(self, "an ISO 4217 currency code", hint)
                }
            },
            FieldType::Country => match Country::parse(s) {
                Some(c) => Some(Val::Code(c.code())),
                None => bad(self, "an ISO 3166-1 alpha-2 country code", String::new()),
            },
            FieldType::Brand => match Brand::parse(s) {
                Some(b) => Some(Val::Code(b.code())),
                None => {
                    let hint = did_you_mean(s, Brand::names());
                    bad(
                        self,
                        &format!(
                            "a card brand ({})",
                            Brand::names().collect::<Vec<_>>().join(", ")
                        ),
                        hint,
                    )
                }
            },
            FieldType::Funding => match Funding::parse(s) {
                Some(f) => Some(Val::Code(f.code())),
                None => {
                    let hint = did_you_mean(s, Funding::names());
                    bad(
                        self,
                        "a funding type (credit, debit, prepaid, unknown)",
                        hint,
                    )
                }
            },
            FieldType::CaptureMethod => match CaptureMethod::parse(s) {
                Some(c) => Some(Val::Code(c.code())),
                None => {
                    let hint = did_you_mean(s, CaptureMethod::names());
                    bad(self, "a capture method (automatic, manual)", hint)
                }
            },
            FieldType::Bin => {
                if (6..=8).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()) {
                    Some(Val::Str(s.into()))
                } else {
                    bad(self, "a BIN of 6 to 8 digits", String::new())
                }
            }
            _ => Some(Val::Str(s.into())),
        }
    }

    fn processor(&mut self, v: &Value, at: &Pointer) -> Option<String> {
        let Some(s) = v.as_str() else {
            self.out.error(
                at,
                "wrong_type",
                format!("a processor id is a string, not {}", kind_of(v)),
            );
            return None;
        };
        if !is_processor_id(s) {
            self.out.error(
                at,
                "invalid_processor_id",
                format!(
                    "\"{s}\" is not a processor id (1 to 64 of letters, digits, _, -, . and :)"
                ),
            );
            return None;
        }
        if let Some(known) = &self.opts.processors {
            if !known.iter().any(|k| k == s) {
                let hint = did_you_mean(s, known.iter().map(String::as_str));
                self.out.error(
                    at,
                    "unknown_processor",
                    format!("unknown processor \"{s}\"{hint}"),
                );
                return None;
            }
        }
        Some(s.to_owned())
    }

    fn plan(
        &mut self,
        v: &Value,
        at: &Pointer,
        key: &str,
        allow_empty: bool,
    ) -> Option<Vec<String>> {
        let Some(items) = v.as_array() else {
            self.out.error(
                at,
                "wrong_type",
                format!(
                    "\"{key}\" takes an array of processor ids, not {}",
                    kind_of(v)
                ),
            );
            return None;
        };
        if items.is_empty() && !allow_empty {
            self.out.error(
                at,
                "empty_list",
                format!("\"{key}\" needs at least one processor"),
            );
            return None;
        }
        let mut out: Vec<String> = Vec::with_capacity(items.len());
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            let ip = at.idx(i);
            match self.processor(item, &ip) {
                Some(p) if out.contains(&p) => {
                    self.out.error(
                        &ip,
                        "duplicate_processor",
                        format!("processor \"{p}\" appears twice in \"{key}\""),
                    );
                    ok = false;
                }
                Some(p) => out.push(p),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn action(&mut self, v: &Value, at: &Pointer) -> Option<Action> {
        let Some(obj) = v.as_object() else {
            self.out.error(
                at,
                "wrong_type",
                format!("an action must be an object, not {}", kind_of(v)),
            );
            return None;
        };
        self.unknown_keys(
            obj,
            at,
            &["route", "split", "auth_rate", "fallback", "decline"],
            "an action",
        );
        let kinds: Vec<&str> = ["route", "split", "auth_rate", "decline"]
            .into_iter()
            .filter(|k| obj.contains_key(*k))
            .collect();
        let kind = match kinds.as_slice() {
            [one] => *one,
            [] => {
                self.out.error(
                    at,
                    "invalid_action",
                    "an action needs one of route, split, auth_rate or decline",
                );
                return None;
            }
            many => {
                self.out.error(
                    at,
                    "invalid_action",
                    format!(
                        "an action has exactly one of route, split, auth_rate, decline; this one has {}",
                        many.join(" and ")
                    ),
                );
                return None;
            }
        };
        if !matches!(kind, "split" | "auth_rate") && obj.contains_key("fallback") {
            self.out.error(
                &at.key("fallback"),
                "invalid_action",
                "\"fallback\" goes with \"split\" or \"auth_rate\" only",
            );
            return None;
        }
        let ap = at.key(kind);
        let inner = obj.get(kind)?;
        let fallback = |this: &mut Self| match obj.get("fallback") {
            None => Some(Vec::new()),
            Some(f) => this.plan(f, &at.key("fallback"), "fallback", true),
        };
        match kind {
            "route" => self.plan(inner, &ap, "route", false).map(Action::Route),
            "split" => {
                let entries = self.split(inner, &ap);
                let fallback = fallback(self);
                Some(Action::Split {
                    entries: entries?,
                    fallback: fallback?,
                })
            }
            "auth_rate" => {
                let chosen = self.auth_rate(inner, &ap);
                let fallback = fallback(self);
                let (processors, explore_ppm, min_sample) = chosen?;
                Some(Action::AuthRate {
                    processors,
                    explore_ppm,
                    min_sample,
                    fallback: fallback?,
                })
            }
            _ => self.decline(inner, &ap),
        }
    }

    /// `{"processors": [...], "explore": 0.05, "min_sample": 100}`.
    fn auth_rate(&mut self, v: &Value, at: &Pointer) -> Option<(Vec<String>, u32, u64)> {
        let Some(obj) = v.as_object() else {
            self.out.error(
                at,
                "wrong_type",
                format!(
                    "\"auth_rate\" takes an object {{processors, explore, min_sample}}, not {}",
                    kind_of(v)
                ),
            );
            return None;
        };
        self.unknown_keys(
            obj,
            at,
            &["processors", "explore", "min_sample"],
            "an auth_rate",
        );
        let processors = match obj.get("processors") {
            Some(p) => self.plan(p, &at.key("processors"), "processors", false),
            None => {
                self.out.error(
                    &at.key("processors"),
                    "missing_key",
                    "an auth_rate needs \"processors\": the processors to choose among",
                );
                None
            }
        };
        let explore = match obj.get("explore") {
            None => Some(DEFAULT_EXPLORE_PPM),
            Some(Value::Number(n)) => match n.as_f64() {
                Some(f) if (0.0..=f64::from(MAX_EXPLORE_PPM) / 1e6).contains(&f) => {
                    Some((f * 1e6).round() as u32)
                }
                _ => {
                    self.out.error(
                        &at.key("explore"),
                        "invalid_explore",
                        format!("\"explore\" is a share of payments from 0 to 0.5 (0.05 is 5 %), not {n}"),
                    );
                    None
                }
            },
            Some(v) => {
                self.out.error(
                    &at.key("explore"),
                    "wrong_type",
                    format!("\"explore\" is a number from 0 to 0.5, not {}", kind_of(v)),
                );
                None
            }
        };
        let min_sample = match obj.get("min_sample") {
            None => Some(DEFAULT_MIN_SAMPLE),
            Some(Value::Number(n)) => match whole(n) {
                Some(m) if m >= 1 => Some(m),
                _ => {
                    self.out.error(
                        &at.key("min_sample"),
                        "invalid_min_sample",
                        format!(
                            "\"min_sample\" is a whole number of attempts, at least 1, not {n}"
                        ),
                    );
                    None
                }
            },
            Some(v) => {
                self.out.error(
                    &at.key("min_sample"),
                    "wrong_type",
                    format!(
                        "\"min_sample\" is a whole number of attempts, not {}",
                        kind_of(v)
                    ),
                );
                None
            }
        };
        Some((processors?, explore?, min_sample?))
    }

    fn split(&mut self, v: &Value, at: &Pointer) -> Option<Vec<(String, u64)>> {
        let Some(items) = v.as_array() else {
            self.out.error(
                at,
                "wrong_type",
                format!(
                    "\"split\" takes an array of {{processor, weight}}, not {}",
                    kind_of(v)
                ),
            );
            return None;
        };
        if items.is_empty() {
            self.out
                .error(at, "empty_list", "\"split\" needs at least one processor");
            return None;
        }
        let mut out: Vec<(String, u64)> = Vec::with_capacity(items.len());
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            let ip = at.idx(i);
            let Some(e) = item.as_object() else {
                self.out.error(
                    &ip,
                    "wrong_type",
                    format!(
                        "a split entry is an object {{processor, weight}}, not {}",
                        kind_of(item)
                    ),
                );
                ok = false;
                continue;
            };
            self.unknown_keys(e, &ip, &["processor", "weight"], "a split entry");
            let p = match e.get("processor") {
                Some(p) => self.processor(p, &ip.key("processor")),
                None => {
                    self.out.error(
                        &ip.key("processor"),
                        "missing_key",
                        "a split entry needs a \"processor\"",
                    );
                    None
                }
            };
            let w = match e.get("weight") {
                Some(Value::Number(n)) => match whole(n) {
                    Some(w) if w > 0 => Some(w),
                    _ => {
                        self.out.error(
                            &ip.key("weight"),
                            "invalid_weight",
                            format!("a weight is a positive integer, not {n}"),
                        );
                        None
                    }
                },
                Some(v) => {
                    self.out.error(
                        &ip.key("weight"),
                        "wrong_type",
                        format!("a weight is a positive integer, not {}", kind_of(v)),
                    );
                    None
                }
                None => {
                    self.out.error(
                        &ip.key("weight"),
                        "missing_key",
                        "a split entry needs a \"weight\"",
                    );
                    None
                }
            };
            match (p, w) {
                (Some(p), _) if out.iter().any(|(q, _)| *q == p) => {
                    self.out.error(
                        &ip.key("processor"),
                        "duplicate_processor",
                        format!("processor \"{p}\" appears twice in \"split\""),
                    );
                    ok = false;
                }
                (Some(p), Some(w)) => out.push((p, w)),
                _ => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn decline(&mut self, v: &Value, at: &Pointer) -> Option<Action> {
        let Some(obj) = v.as_object() else {
            self.out.error(
                at,
                "wrong_type",
                format!(
                    "\"decline\" takes an object {{code, message}}, not {}",
                    kind_of(v)
                ),
            );
            return None;
        };
        self.unknown_keys(obj, at, &["code", "message"], "a decline");
        let code = match obj.get("code") {
            Some(Value::String(s)) if !s.is_empty() && s.len() <= 100 => Some(s.clone()),
            Some(Value::String(_)) => {
                self.out.error(
                    &at.key("code"),
                    "invalid_value",
                    "a decline code is 1 to 100 characters",
                );
                None
            }
            Some(v) => {
                self.out.error(
                    &at.key("code"),
                    "wrong_type",
                    format!("a decline code is a string, not {}", kind_of(v)),
                );
                None
            }
            None => {
                self.out
                    .error(&at.key("code"), "missing_key", "a decline needs a \"code\"");
                None
            }
        };
        let message = match obj.get("message") {
            None => Some(None),
            Some(Value::String(s)) => Some(Some(s.clone())),
            Some(v) => {
                self.out.error(
                    &at.key("message"),
                    "wrong_type",
                    format!("a decline message is a string, not {}", kind_of(v)),
                );
                None
            }
        };
        Some(Action::Decline {
            code: code?,
            message: message?,
        })
    }

    /// The warnings of rules.md, over the rules that parsed (with their
    /// positions in the set).
    fn warnings(&mut self, rules: &[(usize, Rule)], obj: &Map<String, Value>) {
        let rp = Pointer::root().key("rules");
        let raw_rules = obj.get("rules").and_then(Value::as_array);
        let raw_if = |i: usize| raw_rules.and_then(|r| r.get(i)).and_then(|r| r.get("if"));
        // The first enabled rule that always matches, and each condition
        // of an enabled rule seen so far, by structural hash.
        let mut always: Option<(usize, &str)> = None;
        let mut seen: std::collections::HashMap<u64, Vec<(usize, &str)>> = Default::default();
        for (i, rule) in rules {
            let i = *i;
            let ip = rp.idx(i);

            if !rule.enabled {
                self.out.warn(
                    &ip.key("enabled"),
                    "disabled_rule",
                    format!("rule \"{}\" is disabled and never decides", rule.name),
                );
                continue;
            }
            if let Some((a, name)) = always {
                self.out.warn(
                    &ip,
                    "unreachable_rule",
                    format!(
                        "rule \"{}\" can never decide: rule {a} (\"{name}\") always matches first",
                        rule.name
                    ),
                );
            } else if let Some((same, earlier)) = raw_if(i).and_then(|c| {
                seen.get(&hash_value(c))?
                    .iter()
                    .find(|(j, _)| raw_if(*j) == Some(c))
                    .copied()
            }) {
                self.out.warn(
                    &ip,
                    "unreachable_rule",
                    format!(
                        "rule \"{}\" can never decide: rule {same} (\"{earlier}\") has the same condition and comes first",
                        rule.name
                    ),
                );
            }
            if let Some(c) = raw_if(i) {
                seen.entry(hash_value(c)).or_default().push((i, &rule.name));
            }
            if let Some(c) = &rule.cond {
                if let Some(leaf) = first_amount_comparison(c) {
                    if !crate::guard::pins_currency(c) {
                        self.out.warn(
                            &Pointer(leaf.to_owned()),
                            "amount_without_currency",
                            format!("rule \"{}\" compares amount without pinning currency: 1000 means ten euros or a thousand yen", rule.name),
                        );
                    }
                }
            }
            if always.is_none() && rule.cond.as_ref().is_none_or(always_holds) {
                always = Some((i, &rule.name));
            }
        }
    }
}

/// A structural hash of a JSON value (equal values hash equal), with a
/// cheap multiplicative hash: it only buckets conditions, equality decides.
fn hash_value(v: &Value) -> u64 {
    fn mix(h: u64, x: u64) -> u64 {
        (h.rotate_left(5) ^ x).wrapping_mul(0x517c_c1b7_2722_0a95)
    }
    fn bytes(mut h: u64, b: &[u8]) -> u64 {
        for c in b.chunks(8) {
            let mut w = [0u8; 8];
            w[..c.len()].copy_from_slice(c);
            h = mix(h, u64::from_le_bytes(w));
        }
        mix(h, b.len() as u64)
    }
    match v {
        Value::Null => 1,
        Value::Bool(b) => mix(2, u64::from(*b)),
        Value::Number(n) => mix(3, n.as_f64().map_or(0, f64::to_bits)),
        Value::String(s) => bytes(4, s.as_bytes()),
        Value::Array(a) => a
            .iter()
            .fold(mix(5, a.len() as u64), |h, x| mix(h, hash_value(x))),
        // Order-independent, as object equality is.
        Value::Object(m) => m.iter().fold(mix(6, m.len() as u64), |h, (k, x)| {
            h.wrapping_add(mix(bytes(7, k.as_bytes()), hash_value(x)))
        }),
    }
}

fn first_amount_comparison(c: &Cond) -> Option<&str> {
    match c {
        Cond::Leaf(l) => {
            (l.field.kind == FieldKind::Amount && l.op_name != "exists").then_some(&*l.path)
        }
        Cond::All(cs) | Cond::Any(cs) => cs.iter().find_map(first_amount_comparison),
        Cond::Not(c, _) => first_amount_comparison(c),
    }
}

/// True when the condition holds for every valid payment (amount and
/// currency are always present; an amount is at least 1).
pub(crate) fn always_holds(c: &Cond) -> bool {
    match c {
        Cond::Leaf(l) => match (l.field.kind, &l.op) {
            (FieldKind::Amount | FieldKind::Currency, Op::Exists(true)) => true,
            (FieldKind::Amount, Op::Range(lo, hi)) => *lo <= 1 && *hi >= MAX_AMOUNT,
            _ => false,
        },
        Cond::All(cs) => cs.iter().all(always_holds),
        Cond::Any(cs) => cs.iter().any(always_holds),
        Cond::Not(c, _) => never_holds(c),
    }
}

fn never_holds(c: &Cond) -> bool {
    match c {
        Cond::Leaf(l) => match (l.field.kind, &l.op) {
            (FieldKind::Amount | FieldKind::Currency, Op::Exists(false)) => true,
            (FieldKind::Amount, Op::Range(lo, hi)) => lo > hi || *hi == 0 || *lo > MAX_AMOUNT,
            _ => false,
        },
        Cond::All(cs) => cs.iter().any(never_holds),
        Cond::Any(cs) => cs.iter().all(never_holds),
        Cond::Not(c, _) => always_holds(c),
    }
}
