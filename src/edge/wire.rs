//! Stripe's wire details around every response: the request's headers
//! checked (`crate::headers`), `Stripe-Version` and `Idempotency-Key`
//! echoed, `Stripe-Should-Retry: true` on a 429 (a lock timeout: the SDKs
//! then retry it), and CORS, so that a page on another origin can make the
//! publishable-key calls (the preview, client-side confirmation).

use worker::{Headers, Response};

use super::runtime::json_text_response;
use crate::error::ApiError;
use crate::headers;

/// What the response needs to know of the request.
pub(crate) struct Incoming {
    checked: Result<String, ApiError>,
    idempotency_key: Option<String>,
}

impl Incoming {
    pub fn of(h: &Headers, post: bool) -> Incoming {
        let pairs: Vec<(String, String)> = h.entries().collect();
        Incoming {
            checked: headers::check(pairs.iter().map(|(n, v)| (n.as_str(), v.as_str()))),
            idempotency_key: if post {
                h.get("idempotency-key").ok().flatten()
            } else {
                None
            },
        }
    }

    /// A header the worker does not honour refuses the request.
    pub fn check(&self) -> Result<(), ApiError> {
        self.checked.as_ref().map(|_| ()).map_err(Clone::clone)
    }

    pub fn answer(&self, r: &Response) {
        let h = r.headers();
        let version = self
            .checked
            .as_deref()
            .unwrap_or(headers::DEFAULT_STRIPE_VERSION);
        let _ = h.set("stripe-version", version);
        if let Some(k) = &self.idempotency_key {
            let _ = h.set("idempotency-key", k);
        }
        if r.status_code() == 429 && !h.has("stripe-should-retry").unwrap_or(false) {
            let _ = h.set("stripe-should-retry", "true");
        }
        let _ = h.set("access-control-allow-origin", "*");
        let _ = h.set(
            "access-control-expose-headers",
            "request-id, stripe-version, idempotency-key, idempotent-replayed, stripe-should-retry",
        );
    }
}

/// The answer to a browser's CORS preflight.
pub(crate) fn preflight() -> Response {
    let r = json_text_response(204, String::new());
    let h = r.headers();
    let _ = h.set("access-control-allow-methods", "GET, POST");
    let _ = h.set(
        "access-control-allow-headers",
        "authorization, content-type, idempotency-key, stripe-version",
    );
    let _ = h.set("access-control-max-age", "600");
    r
}
