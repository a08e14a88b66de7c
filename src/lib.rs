//! Switchyard's edge worker: the Stripe-compatible payments API, rule-set
//! management and routing previews on Cloudflare Workers.
//!
//! Pure modules (compiled and unit-tested natively): `error` (the one place
//! failures become HTTP), `form` (request bodies), `auth` (keys), `preview`.
//! `edge` is the Workers glue (wasm32 only): the fetch handler and the
//! Durable Objects.

pub mod auth;
pub mod error;
pub mod form;
pub mod params;
pub mod preview;
pub mod protocol;

#[cfg(target_arch = "wasm32")]
mod edge;
#[cfg(test)]
mod hot_path;
