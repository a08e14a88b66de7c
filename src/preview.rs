//! `POST /v1/routing/preview`: the engine's decision, with its trace, for a
//! rule set and a payment, without calling any processor.

use std::borrow::Cow;

use serde_json::Value;
use switchyard_rules::{Payment, Rates, Router, ValidateOptions};

use crate::error::{pointer_to_param, ApiError};
use crate::form::only_keys;

/// Where the rule set of a preview comes from.
#[derive(Debug, PartialEq)]
pub enum RulesetSource {
    /// Given in the body (an object, or a JSON string).
    Inline(Value),
    /// A stored rule set of the caller's mode.
    Id(String),
    /// The caller's mode's active rule set.
    Active,
}

/// The rates a preview's `auth_rate` reads.
#[derive(Debug, PartialEq)]
pub enum RatesSource {
    /// None given: `auth_rate` decides by its fixed order.
    None,
    /// `"current"`: the mode's rates, as the worker routes with them now.
    Current,
    Given(Rates),
}

#[derive(Debug)]
pub struct PreviewRequest {
    pub source: RulesetSource,
    pub payment: Value,
    pub processors: Option<Vec<String>>,
    pub rates: RatesSource,
}

/// Reads the body: `{"ruleset" | "ruleset_id", "payment", "options"?,
/// "rates"?}`.
/// A form-encoded body may carry `ruleset` and `payment` as JSON strings.
pub fn parse_request(body: &Value) -> Result<PreviewRequest, ApiError> {
    only_keys(
        body,
        "",
        &["ruleset", "ruleset_id", "payment", "options", "rates"],
    )?;
    let source = match (body.get("ruleset"), body.get("ruleset_id")) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "ruleset_id",
                "parameter_invalid",
                "Give either ruleset or ruleset_id, not both.",
            ))
        }
        (Some(Value::Null), None) | (None, None) => RulesetSource::Active,
        (Some(r), None) => RulesetSource::Inline(r.clone()),
        (None, Some(Value::String(id))) => RulesetSource::Id(id.clone()),
        (None, Some(_)) => {
            return Err(ApiError::invalid(
                "ruleset_id",
                "parameter_invalid_string",
                "ruleset_id must be a string.",
            ))
        }
    };
    let payment = match body.get("payment") {
        None | Some(Value::Null) => return Err(ApiError::missing("payment")),
        Some(Value::String(s)) => serde_json::from_str::<Value>(s).map_err(|e| {
            ApiError::invalid(
                "payment",
                "parameter_invalid",
                format!("payment is not valid JSON: {e}."),
            )
        })?,
        Some(v) => v.clone(),
    };
    if !payment.is_object() {
        return Err(ApiError::invalid(
            "payment",
            "parameter_invalid",
            "payment must be an object.",
        ));
    }
    let processors = match body.get("options") {
        None | Some(Value::Null) => None,
        Some(opts @ Value::Object(o)) => {
            only_keys(opts, "options", &["processors"])?;
            match o.get("processors") {
                None | Some(Value::Null) => None,
                Some(Value::Array(a)) => {
                    let mut out = Vec::with_capacity(a.len());
                    for (i, p) in a.iter().enumerate() {
                        match p {
                            Value::String(s) => out.push(s.clone()),
                            _ => {
                                return Err(ApiError::invalid(
                                    &format!("options[processors][{i}]"),
                                    "parameter_invalid_string",
                                    "options.processors must be an array of strings.",
                                ))
                            }
                        }
                    }
                    Some(out)
                }
                Some(_) => {
                    return Err(ApiError::invalid(
                        "options[processors]",
                        "parameter_invalid",
                        "options.processors must be an array of strings.",
                    ))
                }
            }
        }
        Some(_) => {
            return Err(ApiError::invalid(
                "options",
                "parameter_invalid",
                "options must be an object.",
            ))
        }
    };
    let rates = rates_of(body.get("rates"))?;
    Ok(PreviewRequest {
        source,
        payment,
        processors,
        rates,
    })
}

/// A rule set given as a JSON object or as its JSON text, as text: so that
/// the engine's size limit (1 MiB of JSON) holds for both forms.
/// `rates`: an array of rates (docs/rules.md), its JSON text (a form
/// body), or `"current"`.
fn rates_of(v: Option<&Value>) -> Result<RatesSource, ApiError> {
    let parsed;
    let v = match v {
        None | Some(Value::Null) => return Ok(RatesSource::None),
        Some(Value::String(s)) if s == "current" => return Ok(RatesSource::Current),
        Some(Value::String(s)) if s.trim_start().starts_with('[') => {
            parsed = serde_json::from_str::<Value>(s).map_err(|e| {
                ApiError::invalid(
                    "rates",
                    "parameter_invalid",
                    format!("rates is not valid JSON: {e}."),
                )
            })?;
            &parsed
        }
        Some(v @ Value::Array(_)) => v,
        Some(_) => {
            return Err(ApiError::invalid(
                "rates",
                "parameter_invalid",
                "rates is an array of {processor, brand, country, funding, attempts, authorized}, or \"current\" for the mode's current rates.",
            ))
        }
    };
    Rates::from_value(v, "")
        .map(RatesSource::Given)
        .map_err(|issues| {
            let param = issues.first().map_or_else(
                || "rates".to_owned(),
                |i| pointer_to_param("rates", &i.path),
            );
            ApiError::issues(&param, "rates_invalid", "the rates are invalid", issues)
        })
}

pub fn ruleset_text(ruleset: &Value) -> Cow<'_, str> {
    match ruleset {
        Value::String(text) => Cow::Borrowed(text),
        other => Cow::Owned(other.to_string()),
    }
}

/// Compiles a rule set (an object or its JSON text) for preview or routing.
pub fn compile(ruleset: &Value, processors: Option<Vec<String>>) -> Result<Router, ApiError> {
    let opts = ValidateOptions { processors };
    Router::from_json_str(&ruleset_text(ruleset), &opts).map_err(|issues| {
        ApiError::issues(
            "ruleset",
            "ruleset_invalid",
            "the rule set is invalid",
            issues,
        )
    })
}

/// The decision with trace. `fallback_key` is used when the payment gives
/// no `routing_key` (the caller passes a random one).
pub fn decide(
    router: &Router,
    payment: &Value,
    fallback_key: &str,
    rates: &Rates,
) -> Result<Value, ApiError> {
    let payment = Payment::from_value(payment).map_err(|issues| {
        let param = issues.first().map_or_else(
            || "payment".to_owned(),
            |i| pointer_to_param("payment", &i.path),
        );
        ApiError::issues(&param, "payment_invalid", "the payment is invalid", issues)
    })?;
    let key = payment.routing_key().unwrap_or(fallback_key).to_owned();
    let decision = router.explain_with(&payment, &key, rates);
    serde_json::to_value(&decision)
        .map_err(|e| ApiError::internal(format!("could not serialise the decision: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_example_ruleset_is_valid_for_the_default_processors() {
        use switchyard_processors::config::{default_processors, example_ruleset};
        let ids = default_processors().into_iter().map(|p| p.id).collect();
        let v = switchyard_rules::validate_value(
            &example_ruleset(),
            &ValidateOptions {
                processors: Some(ids),
            },
        );
        assert!(v.ok, "{:?}", v.errors);
        assert!(v.warnings.is_empty(), "{:?}", v.warnings);
    }

    #[test]
    fn the_size_limit_holds_for_a_rule_set_given_as_an_object() {
        // A valid rule set of over 1 MiB of JSON.
        let values: Vec<String> = (0..30_000).map(|i| format!("order-{i:0>30}")).collect();
        let big = json!({
            "rules": [{ "name": "r", "if": { "field": "metadata.order", "in": values },
                        "then": { "route": ["a"] } }],
            "default": { "route": ["a"] }
        });
        assert!(big.to_string().len() > 1 << 20);
        for form in [big.clone(), Value::String(big.to_string())] {
            let e = compile(&form, None)
                .err()
                .map(|e| e.issues.first().map(|i| i.code));
            assert_eq!(e, Some(Some("too_large")));
        }
    }

    #[test]
    fn request_shapes() {
        let r = parse_request(
            &json!({"ruleset": {"default": {"route": ["a"]}}, "payment": {"amount": 1, "currency": "eur"}}),
        );
        assert!(matches!(r.map(|r| r.source), Ok(RulesetSource::Inline(_))));
        let r = parse_request(&json!({"ruleset_id": "rs_1", "payment": "{\"amount\": 1}"}));
        assert!(matches!(r.map(|r| r.source), Ok(RulesetSource::Id(_))));
        let r = parse_request(&json!({"payment": {}}));
        assert!(matches!(r.map(|r| r.source), Ok(RulesetSource::Active)));
        let e = parse_request(&json!({"ruleset": {}})).err();
        assert_eq!(e.and_then(|e| e.param.clone()), Some("payment".to_owned()));
        let e = parse_request(&json!({"payment": {}, "bogus": 1})).err();
        assert_eq!(e.and_then(|e| e.param.clone()), Some("bogus".to_owned()));
        let e = parse_request(&json!({"payment": {}, "options": {"processors": [1]}})).err();
        assert_eq!(
            e.and_then(|e| e.param.clone()),
            Some("options[processors][0]".to_owned())
        );
    }

    #[test]
    fn rates_are_read_strictly_with_the_param_named() {
        let r = parse_request(&json!({"payment": {}, "rates": "current"}));
        assert!(matches!(r.map(|r| r.rates), Ok(RatesSource::Current)));
        let r = parse_request(&json!({"payment": {}}));
        assert!(matches!(r.map(|r| r.rates), Ok(RatesSource::None)));
        let r = parse_request(&json!({"payment": {},
            "rates": [{"processor": "stripe", "attempts": 10, "authorized": 9}]}));
        assert!(matches!(r.map(|r| r.rates), Ok(RatesSource::Given(_))));
        let r = parse_request(&json!({"payment": {},
            "rates": "[{\"processor\": \"stripe\", \"attempts\": 1, \"authorized\": 1}]"}));
        assert!(matches!(r.map(|r| r.rates), Ok(RatesSource::Given(_))));
        let e = parse_request(&json!({"payment": {},
            "rates": [{"processor": "stripe", "attempts": 10, "authorized": 11}]}))
        .err();
        assert_eq!(
            e.and_then(|e| e.param.clone()),
            Some("rates[0][authorized]".to_owned())
        );
        let e = parse_request(&json!({"payment": {}, "rates": "latest"})).err();
        assert_eq!(e.and_then(|e| e.param.clone()), Some("rates".to_owned()));
    }
}
