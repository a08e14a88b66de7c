//! The processor boundary: what the worker asks of a processor (`Call`),
//! the HTTP request an adapter builds for it (`WireRequest`), what came back
//! (`Delivery`) and what that means for routing (`Outcome`).
//!
//! An adapter is pure: `build` and `parse`. The worker sends the request and
//! hands back the delivery. Adding a processor (Stripe, Adyen, Checkout.com,
//! Braintree) is adding one file that implements [`Adapter`] and one arm in
//! [`crate::adapter_for`]; the worker's flow does not change.

use crate::card::{CardFacts, CardSecret};
use crate::decline::Decline;

/// One request to a processor. `key` is the processor-side idempotency key,
/// derived from the payment id, the operation and the attempt, so that a
/// retried call is deduplicated by the processor.
#[derive(Debug)]
pub enum Call<'a> {
    Authorize {
        key: &'a str,
        payment_id: &'a str,
        amount: u64,
        currency: &'a str,
        /// Capture at once (`capture_method=automatic`).
        capture: bool,
        card: &'a CardSecret,
        facts: &'a CardFacts,
        /// What the customer's statement shows (Stripe's parameters).
        descriptor: StatementDescriptor<'a>,
    },
    Capture {
        key: &'a str,
        reference: &'a str,
        amount: u64,
        currency: &'a str,
    },
    Void {
        key: &'a str,
        reference: &'a str,
    },
    Refund {
        key: &'a str,
        reference: &'a str,
        amount: u64,
        currency: &'a str,
    },
    /// What became of an earlier call whose answer was lost, asked by that
    /// call's idempotency key, which each adapter also sends as the
    /// processor-side merchant reference of the call (reconciliation).
    /// `NotProcessed` means the processor has no record of it, or (where
    /// the processor can not be asked, Adyen) that it was cancelled there
    /// by reference, so that it certainly does not charge.
    Lookup {
        key: &'a str,
        of: Looked<'a>,
    },
}

/// The earlier call a [`Call::Lookup`] asks about.
#[derive(Debug)]
pub enum Looked<'a> {
    /// An authorization (`Call::Authorize` with the same key).
    Authorize { amount: u64, currency: &'a str },
    /// A refund of the payment the processor knows as `reference`.
    Refund {
        reference: &'a str,
        amount: u64,
        currency: &'a str,
    },
}

/// Stripe's `statement_descriptor` (the whole text) and
/// `statement_descriptor_suffix` (after the account's prefix), as given,
/// checked by the API. Each adapter sends what its processor takes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatementDescriptor<'a> {
    pub full: Option<&'a str>,
    pub suffix: Option<&'a str>,
}

impl Call<'_> {
    pub fn op(&self) -> &'static str {
        match self {
            Call::Authorize { .. } => "authorize",
            Call::Capture { .. } => "capture",
            Call::Void { .. } => "void",
            Call::Refund { .. } => "refund",
            Call::Lookup { .. } => "lookup",
        }
    }
    pub fn key(&self) -> &str {
        match self {
            Call::Authorize { key, .. }
            | Call::Capture { key, .. }
            | Call::Void { key, .. }
            | Call::Refund { key, .. }
            | Call::Lookup { key, .. } => key,
        }
    }
}

/// An HTTP request to a processor. The body may hold card data, so `Debug`
/// shows the method and URL only, and the body is read through `body()` by
/// the transport alone.
pub struct WireRequest {
    pub method: &'static str,
    pub url: String,
    pub headers: Vec<(String, String)>,
    body: String,
}

impl WireRequest {
    pub fn new(
        method: &'static str,
        url: String,
        headers: Vec<(String, String)>,
        body: String,
    ) -> Self {
        WireRequest {
            method,
            url,
            headers,
            body,
        }
    }
    pub fn body(&self) -> &str {
        &self.body
    }
}

impl std::fmt::Debug for WireRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WireRequest({} {})", self.method, self.url)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WireResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl WireResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What the transport observed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// The processor answered.
    Answered(WireResponse),
    /// The request was certainly not sent (connection refused, DNS failure).
    NotSent(String),
    /// Sent, but no answer: timeout, connection lost. The processor may have
    /// acted on it.
    Lost(String),
}

/// What an adapter makes of a delivery: the call's outcome, or the next
/// request of a call that takes several (Stripe: the card's payment method,
/// then the payment intent). The worker sends at most [`MAX_STEPS`]
/// requests for one call.
#[derive(Debug)]
pub enum Parsed {
    Done(Outcome),
    Next(WireRequest),
}

/// The most requests one call may take.
pub const MAX_STEPS: u8 = 3;

/// What an answer means for the payment and for routing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Done: authorized (or captured, voided, refunded). `reference` is the
    /// processor's id of the payment (or of the refund).
    Approved { reference: String },
    /// Refused by the issuer or the processor's risk checks, or the
    /// customer must authenticate (`Decline::class` tells which).
    Declined(Decline),
    /// Certainly not acted on (not sent, 429, an explicit "not processed"):
    /// another processor may be tried.
    NotProcessed { reason: String },
    /// May or may not have been acted on (timeout after sending, connection
    /// lost, unexplained 5xx): never move to another processor.
    Unknown { reason: String },
}

pub trait Adapter {
    /// The processor type (`sandbox`, `stripe`, ...).
    fn kind(&self) -> &'static str;
    /// Builds the (first) HTTP request for a call.
    fn build(&self, call: &Call<'_>) -> WireRequest;
    /// Reads what came back for the request of step `step` (0 for the one
    /// `build` made, 1 for the first `Parsed::Next`, ...).
    fn parse(&self, call: &Call<'_>, step: u8, delivery: &Delivery) -> Parsed;
    /// How long to wait for an answer before treating the call as lost.
    fn timeout_ms(&self) -> u32;
    /// Whether the processor deduplicates a call sent again with the same
    /// idempotency key. When it does not (Braintree), a call whose outcome
    /// is unknown is never sent again: it is looked up instead.
    fn deduplicates(&self) -> bool {
        true
    }
    /// Whether an authorization can capture at once (`capture: true`). When
    /// a lookup cannot tell a captured payment (Adyen's technical cancel
    /// undoes only uncaptured ones), the worker authorizes and then sends
    /// a capture call of its own.
    fn captures_with_authorization(&self) -> bool {
        true
    }
}

/// Percent-encodes a URL path segment, query value or form field: RFC 3986's
/// unreserved characters stay, every other byte is `%XX`.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The text with every run that could be a card number (12 or more digits,
/// single spaces or dashes allowed between them) replaced by `replacement`.
/// The one masker of card numbers in text: the adapters' reasons and
/// messages (`mask_card_numbers`), the worker's errors and log lines.
pub fn mask_digit_runs(text: &str, replacement: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_digit() {
            // The run: digits, each separator followed by a digit.
            let (mut j, mut digits) = (i, 0);
            while j < b.len() {
                if b[j].is_ascii_digit() {
                    digits += 1;
                    j += 1;
                } else if matches!(b[j], b' ' | b'-')
                    && b.get(j + 1).is_some_and(u8::is_ascii_digit)
                {
                    j += 1;
                } else {
                    break;
                }
            }
            if digits >= 12 {
                out.push_str(replacement);
            } else {
                out.push_str(&text[i..j]);
            }
            i = j;
        } else {
            let ch = text[i..].chars().next().unwrap_or(' ');
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

/// A processor's text fit for a reason or a message: a card number it
/// quotes back (an error about an input) masked.
pub fn mask_card_numbers(s: &str) -> String {
    mask_digit_runs(s, "[number]")
}

/// The processor-side idempotency key of one call: the payment, the
/// operation, and its sequence number (the n-th confirmation, capture, ...),
/// and the processor's position in the plan. A retry of the same call gets
/// the same key; a different call never does.
pub fn processor_idempotency_key(payment_id: &str, op: &str, seq: u32, processor: &str) -> String {
    format!("{payment_id}-{op}-{seq}-{processor}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_stable_and_distinct() {
        let a = processor_idempotency_key("pi_1", "authorize", 1, "sandbox_a");
        assert_eq!(
            a,
            processor_idempotency_key("pi_1", "authorize", 1, "sandbox_a")
        );
        assert_ne!(
            a,
            processor_idempotency_key("pi_1", "authorize", 2, "sandbox_a")
        );
        assert_ne!(
            a,
            processor_idempotency_key("pi_1", "authorize", 1, "sandbox_b")
        );
        assert_ne!(
            a,
            processor_idempotency_key("pi_1", "capture", 1, "sandbox_a")
        );
    }

    #[test]
    fn encoding_and_masking() {
        assert_eq!(percent_encode("pay_1/../x y~"), "pay_1%2F..%2Fx%20y~");
        assert_eq!(
            mask_card_numbers("card 4242424242424242 at 402"),
            "card [number] at 402"
        );
    }

    #[test]
    fn wire_request_debug_hides_body() {
        let r = WireRequest::new(
            "POST",
            "https://x/".into(),
            vec![],
            "number=4242424242424242".into(),
        );
        assert!(!format!("{r:?}").contains("4242"));
    }
}
