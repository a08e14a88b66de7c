//! What every part of the worker needs of the Workers runtime: the clock,
//! the random source, and JSON responses. The bottom layer of `edge`.

use serde_json::Value;
use worker::{Headers, Response};

use crate::error::ApiError;
use crate::protocol::Answer;

impl From<worker::Error> for ApiError {
    fn from(e: worker::Error) -> Self {
        ApiError::internal(format!("worker runtime error: {e}"))
    }
}

/// Milliseconds since the epoch.
pub(crate) fn now_ms() -> u64 {
    worker::Date::now().as_millis()
}

/// `n` characters drawn from `[0-9A-Za-z]` by the runtime's cryptographic
/// random source. Ids must never be guessable: if the source fails, so
/// does the request.
pub(crate) fn random_token(n: usize) -> Result<String, ApiError> {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes)
        .map_err(|e| ApiError::internal(format!("the random source failed: {e}")))?;
    Ok(bytes
        .iter()
        .map(|b| ALPHABET[(*b as usize) % ALPHABET.len()] as char)
        .collect())
}

pub(crate) fn json_response(status: u16, body: &Value) -> Response {
    let text = serde_json::to_string(body).unwrap_or_else(|_| "{}".to_owned());
    json_text_response(status, text)
}

/// A response whose body is JSON text already.
pub(crate) fn json_text_response(status: u16, text: String) -> Response {
    let headers = Headers::new();
    let _ = headers.set("content-type", "application/json");
    let _ = headers.set("cache-control", "no-store");
    match Response::ok(text) {
        Ok(r) => r.with_status(status).with_headers(headers),
        Err(_) => Response::empty()
            .map(|r| r.with_status(500))
            .unwrap_or_else(|_| Response::builder().with_status(500).empty()),
    }
}

/// An answer (an object's, or the API's) as the response.
pub(crate) fn answer_response(a: Answer) -> Response {
    json_text_response(a.status, Box::<str>::from(a.body).into_string())
}

pub(crate) fn error_response(e: &ApiError) -> Response {
    json_response(e.status, &e.body())
}
