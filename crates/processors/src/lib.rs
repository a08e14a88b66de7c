//! Switchyard's payment model and processors' wire formats.
//!
//! Pure: no I/O, no clock, no randomness of its own. The worker (`src/`)
//! does the HTTP calls and storage; this crate builds the requests, parses the
//! answers, classifies declines and holds the payment state machine.

pub mod adapter;
pub mod card;
pub mod config;
pub mod decline;
pub mod payment;
pub mod sandbox;

pub use adapter::{Adapter, Call, Delivery, Outcome, WireRequest, WireResponse};
pub use config::{FailureMode, ProcessorConfig, ProcessorKind};

/// The adapter of a configured processor, or `None` when its type has no
/// adapter yet (Stripe, Adyen, Checkout.com and Braintree come next; each is
/// one module implementing [`Adapter`] and one arm here).
pub fn adapter_for(config: &ProcessorConfig) -> Option<Box<dyn Adapter>> {
    match config.kind {
        ProcessorKind::Sandbox => Some(Box::new(sandbox::SandboxAdapter::new(config.clone()))),
        ProcessorKind::Stripe
        | ProcessorKind::Adyen
        | ProcessorKind::Checkout
        | ProcessorKind::Braintree => None,
    }
}
