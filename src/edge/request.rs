//! A request as the handlers see it.

use serde_json::Value;
use std::rc::Rc;

use worker::{Context, Headers, Method};

use super::objects::Touched;

use crate::auth::Principal;
use crate::error::ApiError;
use crate::protocol::Idem;

/// Method, path, headers, parsed body and who is calling.
pub(crate) struct Call {
    pub method: Method,
    pub path: String,
    pub headers: Headers,
    pub query: Option<String>,
    pub body: Value,
    pub principal: Principal,
    /// The key used, redacted (who made a change, for the rule sets).
    pub key_label: Option<String>,
    /// For work that may finish after the response (metrics).
    pub ctx: Context,
    /// The objects this request reaches (for its log line).
    pub touched: Rc<Touched>,
}

impl Call {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).ok().flatten()
    }

    /// The request's idempotency key, with its fingerprint.
    pub fn idem(&self) -> Result<Option<Idem>, ApiError> {
        Idem::of_request(
            self.header("idempotency-key"),
            self.method.as_ref(),
            &self.path,
            &self.body,
        )
    }
}
