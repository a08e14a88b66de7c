//! Switchyard's routing engine: parse, validate, compile, decide, simulate.
//!
//! Architecture Invariant: this crate does no I/O, reads no clock and draws
//! no random numbers; callers pass routing keys in. Its Cargo.toml has no
//! `worker` and no `wasm-bindgen`.

mod ast;
mod card;
mod catalog;
mod columns;
mod guard;
mod hash;
mod issue;
mod parse;
mod payment;
mod rates;
mod router;
mod sort;
mod values;

pub use ast::{
    Action, Cond, FieldKind, FieldRef, FieldType, Leaf, Op, Rule, RuleSet, Val,
    DEFAULT_EXPLORE_PPM, DEFAULT_MIN_SAMPLE, MAX_DEPTH, MAX_EXPLORE_PPM, MAX_JSON_BYTES, MAX_RULES,
};
pub use card::{brand_of, last4_of, luhn_ok, normalise_number, NumberProblem};
pub use catalog::{fields, FieldInfo};
pub use columns::{
    element_is_json, simulate_columns, ColumnsError, PaymentColumns, TextColumn, MISSING,
};
pub use hash::{fnv1a, splitmix64};
pub use issue::{Issue, ValidateOptions, Validation};
pub use payment::{BillingInput, CardInput, Payment, PaymentInput, Text, MAX_ROUTING_KEY};
pub use rates::{Count, Group, Level, RateEntry, Rates, MAX_RATES, NO_RATES};
pub use router::{
    explore_hash, simulate_json, split_hash, AuthRateInfo, Decision, DecisionAction, DeclineInfo,
    Failure, RateSeen, Reason, Router, Simulation, SplitInfo, Tally, TraceEntry, Verdict,
};
pub use values::{Brand, CaptureMethod, CardBin, Country, Currency, Funding, MinorUnits};

use issue::Issues;
use serde_json::Value;

/// The engine's version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Reads rule-set JSON text, within the size limit.
pub(crate) fn read_json(text: &str) -> Result<Value, Issue> {
    if text.len() > MAX_JSON_BYTES {
        return Err(Issue {
            path: String::new(),
            code: "too_large",
            message: format!(
                "a rule set is at most {MAX_JSON_BYTES} bytes of JSON; this one is {}",
                text.len()
            ),
        });
    }
    serde_json::from_str(text).map_err(|e| Issue {
        path: String::new(),
        code: "invalid_json",
        message: format!("malformed JSON: {e}"),
    })
}

/// Validates rule-set JSON text: every problem at once. Never fails.
pub fn validate_str(text: &str, opts: &ValidateOptions) -> Validation {
    match read_json(text) {
        Ok(v) => validate_value(&v, opts),
        Err(issue) => Validation {
            ok: false,
            errors: vec![issue],
            warnings: Vec::new(),
        },
    }
}

/// Validates a rule set given as JSON: every problem at once. Never fails.
pub fn validate_value(v: &Value, opts: &ValidateOptions) -> Validation {
    let mut out = Issues::default();
    let _ = parse::parse_ruleset(v, opts, &mut out);
    Validation {
        ok: out.errors.is_empty(),
        errors: out.errors,
        warnings: out.warnings,
    }
}

/// Parses and validates a rule set, with its warnings.
pub fn parse_ruleset(
    v: &Value,
    opts: &ValidateOptions,
) -> Result<(RuleSet, Vec<Issue>), Vec<Issue>> {
    let mut out = Issues::default();
    match parse::parse_ruleset(v, opts, &mut out) {
        Some(rs) if out.errors.is_empty() => Ok((rs, out.warnings)),
        _ => Err(out.errors),
    }
}
