//! Stripe-shaped API errors: the one place where a failure becomes an HTTP
//! status and a JSON body.

use serde_json::{json, Map, Value};
use switchyard_rules::Issue;

/// Stripe's error `type`: what kind of failure the client is told of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    InvalidRequest,
    Card,
    Idempotency,
    Authentication,
    Api,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidRequest => "invalid_request_error",
            ErrorKind::Card => "card_error",
            ErrorKind::Idempotency => "idempotency_error",
            // Stripe answers a bad key (401) as an invalid request.
            ErrorKind::Authentication => "invalid_request_error",
            ErrorKind::Api => "api_error",
        }
    }
}

/// An error answered to the client as `{"error": {...}}`. Boxed, so that
/// `Result<_, ApiError>` stays one pointer wide on the happy path. Built
/// only by the constructors below; its fields are read-only outside.
#[derive(Clone, Debug)]
pub struct ApiError(Box<ErrorDetails>);

impl std::ops::Deref for ApiError {
    type Target = ErrorDetails;
    fn deref(&self) -> &ErrorDetails {
        &self.0
    }
}

#[derive(Clone, Debug)]
pub struct ErrorDetails {
    pub status: u16,
    pub kind: ErrorKind,
    pub code: Option<String>,
    pub decline_code: Option<String>,
    pub message: String,
    pub param: Option<String>,
    pub issues: Vec<Issue>,
    /// For card errors: the payment intent as it stands after the decline.
    pub payment_intent: Option<Value>,
}

impl ApiError {
    fn new(status: u16, kind: ErrorKind, code: &str, message: impl Into<String>) -> ApiError {
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

    /// The same error, carrying the payment as it stands.
    pub fn with_payment_intent(mut self, pi: Value) -> ApiError {
        self.0.payment_intent = Some(pi);
        self
    }

    /// 400 that names no parameter: the request is well formed, but the
    /// object's state refuses it (`payment_intent_unexpected_state`, ...).
    pub fn refused(code: &str, message: impl Into<String>) -> ApiError {
        ApiError::new(400, ErrorKind::InvalidRequest, code, message)
    }

    /// 429 `lock_timeout`: another request holds the object; retry later.
    pub fn lock_timeout(message: impl Into<String>) -> ApiError {
        ApiError::new(429, ErrorKind::InvalidRequest, "lock_timeout", message)
    }

    /// 402 for card data that cannot be charged, naming the parameter.
    pub fn invalid_card(param: &str, code: &str, message: impl Into<String>) -> ApiError {
        let mut e = ApiError::new(402, ErrorKind::Card, code, message);
        e.0.param = Some(param.to_owned());
        e
    }

    /// 402: the payment was declined (by a processor or by a rule).
    pub fn declined(code: &str, decline_code: &str, message: impl Into<String>) -> ApiError {
        let mut e = ApiError::new(402, ErrorKind::Card, code, message);
        e.0.decline_code = Some(decline_code.to_owned());
        e
    }

    /// 400 naming the bad parameter.
    pub fn invalid(param: &str, code: &str, message: impl Into<String>) -> ApiError {
        let mut e = ApiError::new(400, ErrorKind::InvalidRequest, code, message);
        if !param.is_empty() {
            e.0.param = Some(param.to_owned());
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
        e.0.issues = issues;
        e
    }

    pub fn not_found(param: Option<&str>, message: impl Into<String>) -> ApiError {
        let mut e = ApiError::new(404, ErrorKind::InvalidRequest, "resource_missing", message);
        e.0.param = param.map(str::to_owned);
        e
    }

    /// 404: no such object (its id quoted, at most 64 characters).
    pub fn no_such(param: &str, what: &str, id: &str) -> ApiError {
        ApiError::not_found(Some(param), format!("No such {what}: '{}'", short(id)))
    }

    /// 400: a parameter names an object that does not exist.
    pub fn no_such_in(param: &str, what: &str, id: &str) -> ApiError {
        ApiError::invalid(
            param,
            "resource_missing",
            format!("No such {what}: '{}'", short(id)),
        )
    }

    pub fn unknown_route(method: &str, path: &str) -> ApiError {
        ApiError::new(
            404,
            ErrorKind::InvalidRequest,
            "resource_missing",
            format!("Unrecognized request URL ({method}: {path})."),
        )
    }

    pub fn method_not_allowed(method: &str, path: &str, allowed: &str) -> ApiError {
        ApiError::new(
            405,
            ErrorKind::InvalidRequest,
            "method_not_allowed",
            format!("{method} is not allowed on {path}; use {allowed}."),
        )
    }

    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(401, ErrorKind::Authentication, "api_key_invalid", message)
    }

    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(
            403,
            ErrorKind::InvalidRequest,
            "secret_key_required",
            message,
        )
    }

    pub fn idempotency_reused() -> ApiError {
        ApiError::new(
            400,
            ErrorKind::Idempotency,
            "idempotency_key_in_use",
            "Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than the one used on the original request.",
        )
    }

    pub fn idempotency_in_flight() -> ApiError {
        ApiError::new(
            409,
            ErrorKind::Idempotency,
            "idempotency_key_in_use",
            "There is currently another in-progress request using this Idempotent Key (that probably means you submitted twice, and the other request is still going through). Please retry this request later.",
        )
    }

    pub fn too_large(limit: usize) -> ApiError {
        ApiError::new(
            400,
            ErrorKind::InvalidRequest,
            "body_too_large",
            format!("The request body is larger than {limit} bytes."),
        )
    }

    /// A fault of the worker itself (storage, runtime): 500. The message is
    /// for the log: clients get `for_client`'s.
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(500, ErrorKind::Api, "internal_error", message)
    }

    /// What a client is told of a fault of the worker: a generic message
    /// with the request id; the detail goes to the log only.
    pub fn internal_for_client(request_id: &str) -> ApiError {
        ApiError::new(
            500,
            ErrorKind::Api,
            "internal_error",
            format!("An error occurred on our side. It is logged under the request id {request_id}; please retry, and quote that id if it persists."),
        )
    }

    /// The worker's configuration is not usable (a key in the wrong slot, no
    /// keys on a deployed worker, ...): 503, naming the settings.
    pub fn configuration(message: impl Into<String>) -> ApiError {
        ApiError::new(503, ErrorKind::Api, "configuration_error", message)
    }

    /// An activation stored, but not yet on every replica of the active set.
    pub fn activation_incomplete(missing: usize) -> ApiError {
        ApiError::new(
            503,
            ErrorKind::Api,
            "activation_incomplete",
            format!("The rule set is active, but {missing} of the replicas that confirmations read could not be updated: payments may still use the previous set. Retry the activation."),
        )
    }

    /// Every processor tried failed for reasons of its own.
    pub fn processors_unavailable(message: impl Into<String>) -> ApiError {
        ApiError::new(502, ErrorKind::Api, "processor_unavailable", message)
    }

    pub fn body(&self) -> Value {
        let mut e = Map::new();
        e.insert("type".into(), Value::from(self.kind.as_str()));
        if let Some(code) = &self.code {
            e.insert("code".into(), Value::from(code.as_str()));
        }
        if let Some(dc) = &self.decline_code {
            e.insert("decline_code".into(), Value::from(dc.as_str()));
        }
        e.insert(
            "message".into(),
            Value::from(redact_card_numbers(&self.message)),
        );
        if let Some(p) = &self.param {
            e.insert("param".into(), Value::from(redact_card_numbers(p)));
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

/// At most 64 characters of an id quoted back.
fn short(id: &str) -> String {
    id.chars().take(64).collect()
}

/// The text with every run that could be a card number replaced by
/// `[redacted]` (`switchyard_processors::adapter::mask_digit_runs`): whatever
/// an error quotes of the request, a card number pasted into the wrong field
/// never comes back.
pub fn redact_card_numbers(text: &str) -> String {
    switchyard_processors::adapter::mask_digit_runs(text, "[redacted]")
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

    #[test]
    fn errors_never_quote_a_card_number() {
        for number in [
            "4242424242424242",
            "4242 4242 4242 4242",
            "3782-822463-10005",
            "424242424242",
        ] {
            let e = ApiError::not_found(
                Some("intent"),
                format!("No such payment_intent: '{number}'"),
            );
            let text = e.body().to_string();
            assert!(!text.contains(number), "{text}");
            assert!(text.contains("[redacted]"), "{text}");
            let e = ApiError::unknown_param(&format!("card[{number}]"));
            assert!(!e.body().to_string().contains(number));
        }
        // Short numbers, amounts and ids stay as they are.
        let e = ApiError::invalid(
            "amount",
            "x",
            "Amount 99999999999 is over 8 digits; pi_123 2030-12",
        );
        assert_eq!(
            e.body()["error"]["message"],
            "Amount 99999999999 is over 8 digits; pi_123 2030-12"
        );
        assert_eq!(redact_card_numbers("é4242424242424242é"), "é[redacted]é");
    }

    #[test]
    fn clients_get_no_internal_detail() {
        let e = ApiError::internal_for_client("req_abc");
        assert_eq!(e.status, 500);
        assert!(e.message.contains("req_abc"));
    }
}
