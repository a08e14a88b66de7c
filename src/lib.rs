//! Switchyard's edge worker: the Stripe-compatible payments API, rule-set
//! management and routing previews on Cloudflare Workers.
//!
//! Pure modules (compiled and tested natively), lowest first: `error` (the
//! one place failures become HTTP), `form` (request bodies), `auth` (keys),
//! `config` (keys and processors from settings), `params`, `preview`,
//! `protocol` (the messages to the payment object, ids, fingerprints),
//! `storage` (storage traits, idempotency records) and `payment` (the
//! payment core: begin, processor calls, finish). `edge` is the Workers
//! glue (wasm32 only): the fetch handler and the Durable Objects.

// Natively only the tests use the pure modules (the worker that calls them
// is wasm32): dead code is found by the wasm32 build's lints.
#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code, unused_imports))]

mod auth;
mod config;
mod error;
mod form;
mod headers;
mod health;
mod listing;
mod metrics;
mod money;
mod params;
mod payment;
mod preview;
mod protocol;
mod storage;

#[cfg(target_arch = "wasm32")]
mod edge;
#[cfg(test)]
mod hot_path;
