#![recursion_limit = "256"]
//! Switchyard's payment model and processors' wire formats.
//!
//! Pure: no I/O, no clock, no randomness of its own. The worker (`src/`)
//! does the HTTP calls and storage; this crate builds the requests, parses the
//! answers, classifies declines and holds the payment state machine.

pub mod adapter;
pub mod adyen;
pub mod braintree;
pub mod card;
pub mod checkout;
pub mod config;
pub mod decline;
pub mod extras;
pub mod payment;
pub mod sandbox;
pub mod stripe;

pub use adapter::{
    Adapter, Call, Delivery, Looked, Outcome, Parsed, WireRequest, WireResponse, MAX_STEPS,
};
pub use config::{Credentials, FailureMode, ProcessorConfig, ProcessorKind};

/// The adapter of a configured processor, or `None` when its type has no
/// adapter yet or a real processor's credentials are missing (the worker's
/// configuration check reports those before any payment). Each type is one
/// module implementing [`Adapter`] and one arm here.
pub fn adapter_for(
    config: &ProcessorConfig,
    credentials: Option<&Credentials>,
) -> Option<Box<dyn Adapter>> {
    if config::missing_credentials(config.kind, credentials).is_some() {
        return None;
    }
    let credentials = credentials.cloned().unwrap_or_default();
    match config.kind {
        ProcessorKind::Sandbox => Some(Box::new(sandbox::SandboxAdapter::new(config.clone()))),
        ProcessorKind::Stripe => Some(Box::new(stripe::StripeAdapter::new(
            config.clone(),
            credentials,
        ))),
        ProcessorKind::Adyen => Some(Box::new(adyen::AdyenAdapter::new(
            config.clone(),
            credentials,
        ))),
        ProcessorKind::Checkout => Some(Box::new(checkout::CheckoutAdapter::new(
            config.clone(),
            credentials,
        ))),
        ProcessorKind::Braintree => Some(Box::new(braintree::BraintreeAdapter::new(
            config.clone(),
            credentials,
        ))),
    }
}
