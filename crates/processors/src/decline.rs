//! Declines: Stripe's `decline_code` vocabulary and whether another
//! processor may be tried (soft) or the plan must stop (hard).
//!
//! Choices where sources disagree:
//! `insufficient_funds` and `generic_decline` are soft: another acquirer may
//! approve (different risk models), and neither is on Visa's category 1 list.
//! `authentication_required` is hard for routing: the customer must
//! authenticate, a different processor does not help.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeclineClass {
    /// Another processor may be tried.
    Soft,
    /// Stop: retrying elsewhere would not help or is forbidden.
    Hard,
    /// Stop: the customer must authenticate (3-D Secure); another
    /// processor would ask the same.
    AuthenticationRequired,
}

/// A processor's refusal, mapped to Stripe's vocabulary.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decline {
    /// Stripe's error `code`: `card_declined`, `expired_card`,
    /// `incorrect_cvc`, `processing_error`, `incorrect_number`,
    /// `authentication_required`.
    pub code: String,
    /// Stripe's `decline_code` (`insufficient_funds`, `lost_card`, ...).
    pub decline_code: String,
    pub message: String,
    /// The processor's own code, as it gave it (`20051`, `12`, `2001`).
    pub processor_code: Option<String>,
    pub class: DeclineClass,
}

/// Soft or hard, by Stripe decline code.
pub fn classify(decline_code: &str) -> DeclineClass {
    match decline_code {
        "approve_with_id"
        | "processing_error"
        | "issuer_not_available"
        | "try_again_later"
        | "reenter_transaction"
        | "insufficient_funds"
        | "generic_decline"
        | "do_not_honor"
        | "call_issuer"
        | "card_velocity_exceeded"
        | "withdrawal_count_limit_exceeded"
        | "service_not_allowed"
        | "transaction_not_allowed"
        | "not_permitted" => DeclineClass::Soft,
        "authentication_required" => DeclineClass::AuthenticationRequired,
        // lost_card, stolen_card, pickup_card, expired_card, incorrect_number,
        // incorrect_cvc, invalid_account, do_not_try_again, fraudulent,
        // authentication_required, restricted_card, merchant_blacklist, and
        // anything unknown: stop. Unknown codes are hard because retrying an
        // unexplained refusal at another processor risks card-network fines.
        _ => DeclineClass::Hard,
    }
}

/// The customer-facing message Stripe uses for a decline code.
pub fn message_for(decline_code: &str) -> &'static str {
    match decline_code {
        "insufficient_funds" => "Your card has insufficient funds.",
        "lost_card" | "stolen_card" | "generic_decline" | "do_not_honor" | "fraudulent" => {
            "Your card was declined."
        }
        "expired_card" => "Your card has expired.",
        "incorrect_cvc" => "Your card's security code is incorrect.",
        "incorrect_number" => "Your card number is incorrect.",
        "processing_error" => {
            "An error occurred while processing your card. Try again in a little bit."
        }
        "authentication_required" => {
            "Your card was declined. This transaction requires authentication."
        }
        _ => "Your card was declined.",
    }
}

/// The Stripe error `code` that goes with a decline code.
pub fn error_code_for(decline_code: &str) -> &'static str {
    match decline_code {
        "expired_card" => "expired_card",
        "incorrect_cvc" => "incorrect_cvc",
        "incorrect_number" => "incorrect_number",
        "processing_error" => "processing_error",
        "authentication_required" => "authentication_required",
        _ => "card_declined",
    }
}

impl Decline {
    /// A decline from a Stripe decline code, with Stripe's code and message.
    pub fn from_stripe_code(decline_code: &str, processor_code: Option<String>) -> Decline {
        Decline {
            code: error_code_for(decline_code).to_owned(),
            decline_code: decline_code.to_owned(),
            message: message_for(decline_code).to_owned(),
            processor_code,
            class: classify(decline_code),
        }
    }
    /// A merchant rule's decline (the rule set's `decline` action): hard,
    /// no processor was called.
    pub fn by_rule(code: &str, message: Option<&str>) -> Decline {
        Decline {
            code: "card_declined".to_owned(),
            decline_code: code.to_owned(),
            message: message.unwrap_or("Your card was declined.").to_owned(),
            processor_code: None,
            class: DeclineClass::Hard,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stripe_advice_is_followed() {
        for soft in [
            "approve_with_id",
            "processing_error",
            "issuer_not_available",
            "try_again_later",
            "reenter_transaction",
            "insufficient_funds",
            "generic_decline",
        ] {
            assert_eq!(classify(soft), DeclineClass::Soft, "{soft}");
        }
        for hard in [
            "lost_card",
            "stolen_card",
            "pickup_card",
            "expired_card",
            "incorrect_number",
            "do_not_try_again",
            "fraudulent",
            "something_new",
        ] {
            assert_eq!(classify(hard), DeclineClass::Hard, "{hard}");
        }
        assert_eq!(
            classify("authentication_required"),
            DeclineClass::AuthenticationRequired
        );
    }

    #[test]
    fn codes_and_messages() {
        let d = Decline::from_stripe_code("expired_card", None);
        assert_eq!(d.code, "expired_card");
        assert_eq!(d.message, "Your card has expired.");
        let d = Decline::from_stripe_code("insufficient_funds", Some("51".into()));
        assert_eq!(d.code, "card_declined");
        assert_eq!(d.class, DeclineClass::Soft);
        let d = Decline::by_rule("do_not_honor", None);
        assert_eq!(d.class, DeclineClass::Hard);
    }
}
