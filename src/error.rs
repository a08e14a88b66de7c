//! Stripe-shaped API errors: the one place where a failure becomes an HTTP
//! status and a JSON body.

use serde_json::{json, Map, Value};
use switchyard_rules::Issue;

/// An error answered to the client as `{"error": {...}}`. Boxed, so that
/// `Result<_, ApiError>` stays one pointer wide on the happy path.
#[derive(Clone, Debug)]
pub struct ApiError(Box<ErrorDetails>);

impl std::ops::Deref for ApiError {
    type Target = ErrorDetails;
    fn deref(&self) -> &ErrorDetails {
        &self.0
    }
}

impl std::ops::DerefMut for ApiError {
    fn deref_mut(&mut self) -> &mut ErrorDetails {
        &mut self.0
    }
}

#[derive(Clone, Debug)]
pub struct ErrorDetails {
    pub status: u16,
    /// Stripe's error `type`: `invalid_request_error`, `card_error`,
    /// `idempotency_error`, `authentication_error`, `rate_limit_error`,
    /// `api_error`.
    pub kind: &'static str,
    pub code: Option<String>,
    pub decline_code: Option<String>,
    pub message: String,
    pub param: Option<String>,
    pub issues: Vec<Issue>,
    /// For card errors: the payment intent as it stands after the decline.
    pub payment_intent: Option<Value>,
}

impl ApiError {
    fn new(status: u16, kind: &'static str, code: &str, message: impl Into<String>) -> ApiError {
        ApiError(Box::new(ErrorDetails {
            status,
            kind,
            code: Some(code.to_owned()),
            decline_code: None,
            message: message.into(),
            param: None,
            issues: Vec::new(),
            payment_intent: None,
        }))
    }

    /// 400 naming the bad parameter.
    pub fn invalid(param: &str, code: &str, message: impl Into<String>) -> ApiError {
        let mut e = ApiError::new(400, "invalid_request_error", code, message);
        if !param.is_empty() {
            e.param = Some(param.to_owned());
        }
        e
    }

    /// 400 `parameter_missing`.
    pub fn missing(param: &str) -> ApiError {
        ApiError::invalid(
            param,
            "parameter_missing",
            format!("Missing required param: {param}."),
        )
    }

    /// 400 `parameter_unknown`.
    pub fn unknown_param(param: &str) -> ApiError {
        ApiError::invalid(
            param,
            "parameter_unknown",
            format!("Received unknown parameter: {param}"),
        )
    }

    /// 400 with every issue of a rule set or payment.
    pub fn issues(param: &str, code: &str, what: &str, issues: Vec<Issue>) -> ApiError {
        let message = match issues.first() {
            Some(first) if issues.len() > 1 => {
                format!("{what}: {first} (and {} more)", issues.len() - 1)
            }
            Some(first) => format!("{what}: {first}"),
            None => what.to_owned(),
        };
        let mut e = ApiError::invalid(param, code, message);
        e.issues = issues;
        e
    }

    pub fn not_found(param: Option<&str>, message: impl Into<String>) -> ApiError {
        let mut e = ApiError::new(404, "invalid_request_error", "resource_missing", message);
        e.param = param.map(str::to_owned);
        e
    }

    pub fn unknown_route(method: &str, path: &str) -> ApiError {
        ApiError::new(
            404,
            "invalid_request_error",
            "resource_missing",
            format!("Unrecognized request URL ({method}: {path})."),
        )
    }

    pub fn method_not_allowed(method: &str, path: &str, allowed: &str) -> ApiError {
        ApiError::new(
            405,
            "invalid_request_error",
            "method_not_allowed",
            format!("{method} is not allowed on {path}; use {allowed}."),
        )
    }

    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(401, "authentication_error", "api_key_invalid", message)
    }

    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(403, "invalid_request_error", "secret_key_required", message)
    }

    pub fn idempotency_reused() -> ApiError {
        ApiError::new(
            400,
            "idempotency_error",
            "idempotency_key_in_use",
            "Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than the one used on the original request.",
        )
    }

    pub fn idempotency_in_flight() -> ApiError {
        ApiError::new(
            409,
            "idempotency_error",
            "idempotency_key_in_use",
            "There is currently another in-progress request using this Idempotent Key (that probably means you submitted twice, and the other request is still going through). Please retry this request later.",
        )
    }

    pub fn unexpected_state(message: impl Into<String>) -> ApiError {
        ApiError::new(
            400,
            "invalid_request_error",
            "payment_intent_unexpected_state",
            message,
        )
    }

    pub fn too_large(limit: usize) -> ApiError {
        ApiError::new(
            400,
            "invalid_request_error",
            "body_too_large",
            format!("The request body is larger than {limit} bytes."),
        )
    }

    /// A fault of the worker itself (storage, runtime): 500, no detail.
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(500, "api_error", "internal_error", message)
    }

    /// Every processor tried failed for reasons of its own.
    pub fn processors_unavailable(message: impl Into<String>) -> ApiError {
        ApiError::new(502, "api_error", "processor_unavailable", message)
    }

    pub fn body(&self) -> Value {
        let mut e = Map::new();
        e.insert("type".into(), Value::from(self.kind));
        if let Some(code) = &self.code {
            e.insert("code".into(), Value::from(code.as_str()));
        }
        if let Some(dc) = &self.decline_code {
            e.insert("decline_code".into(), Value::from(dc.as_str()));
        }
        e.insert("message".into(), Value::from(self.message.as_str()));
        if let Some(p) = &self.param {
            e.insert("param".into(), Value::from(p.as_str()));
        }
        if !self.issues.is_empty() {
            e.insert("issues".into(), json!(self.issues));
        }
        if let Some(pi) = &self.payment_intent {
            e.insert("payment_intent".into(), pi.clone());
        }
        json!({ "error": e })
    }
}

/// A JSON Pointer inside `root` as a Stripe-style bracketed parameter name:
/// `("payment", "/card/number")` → `payment[card][number]`.
pub fn pointer_to_param(root: &str, pointer: &str) -> String {
    let mut out = root.to_owned();
    for part in pointer.split('/').skip(1) {
        out.push('[');
        out.push_str(&part.replace("~1", "/").replace("~0", "~"));
        out.push(']');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let e = ApiError::missing("amount");
        let b = e.body();
        assert_eq!(b["error"]["type"], "invalid_request_error");
        assert_eq!(b["error"]["param"], "amount");
        assert_eq!(b["error"]["code"], "parameter_missing");
        assert!(b["error"].get("issues").is_none());
        assert_eq!(
            pointer_to_param("payment", "/card/number"),
            "payment[card][number]"
        );
        assert_eq!(pointer_to_param("payment", ""), "payment");
    }
}
