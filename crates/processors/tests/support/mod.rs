//! Shared by the wire tests: sends an adapter's request to a local processor
//! fake (plain HTTP on 127.0.0.1), as the worker's transport would, and
//! runs a whole call (every step) to its outcome.
//!
//! The wire tests are `#[ignore]`d: they need their fake running, and
//! `tests/processors/*.test.mjs` (run by `scripts/test.sh`) starts it, sets
//! its URL in the environment and runs them with `--ignored`.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use switchyard_processors::{
    Adapter, Call, Delivery, Outcome, Parsed, WireRequest, WireResponse, MAX_STEPS,
};

/// The URL of a fake, from the environment variable the runner sets.
pub fn fake_url(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| {
        panic!("{var} is not set: run this test through tests/processors/ (scripts/test.sh)")
    })
}

/// Sends one request; connection refused is `NotSent`, any other transport
/// failure (timeout, reset) is `Lost`.
pub fn send(req: &WireRequest, timeout_ms: u32) -> Delivery {
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_millis(u64::from(timeout_ms)))
        .build();
    let mut r = agent.request(req.method, &req.url);
    for (k, v) in &req.headers {
        r = r.set(k, v);
    }
    let result = if req.method == "GET" {
        r.call()
    } else {
        r.send_string(req.body())
    };
    let resp = match result {
        Ok(resp) => resp,
        Err(ureq::Error::Status(_, resp)) => resp,
        Err(ureq::Error::Transport(t)) => {
            let refused = t.kind() == ureq::ErrorKind::ConnectionFailed;
            return if refused {
                Delivery::NotSent(t.to_string())
            } else {
                Delivery::Lost(t.to_string())
            };
        }
    };
    let status = resp.status();
    let headers = resp
        .headers_names()
        .into_iter()
        .filter_map(|n| resp.header(&n).map(|v| (n.clone(), v.to_owned())))
        .collect();
    match resp.into_string() {
        Ok(body) => Delivery::Answered(WireResponse {
            status,
            headers,
            body,
        }),
        Err(e) => Delivery::Lost(e.to_string()),
    }
}

/// Runs a call to its outcome, every step, as the worker does. With
/// `SWITCHYARD_RECORD=<file>`, the answers of a call that ended approved
/// are appended to that file (one JSON line: processor type, operation,
/// capture, the answers of each step), the adapters benchmark's fixtures
/// (`crates/processors/benches/`). Answers only: requests hold card data.
pub fn run(adapter: &dyn Adapter, call: &Call<'_>) -> Outcome {
    let mut req = adapter.build(call);
    let mut answers = Vec::new();
    for step in 0..MAX_STEPS {
        let delivery = send(&req, adapter.timeout_ms());
        if let Delivery::Answered(r) = &delivery {
            answers.push(
                serde_json::json!({ "status": r.status, "headers": r.headers, "body": r.body }),
            );
        }
        match adapter.parse(call, step, &delivery) {
            Parsed::Done(outcome) => {
                record(adapter, call, &outcome, answers);
                return outcome;
            }
            Parsed::Next(next) => req = next,
        }
    }
    Outcome::Unknown {
        reason: "too many steps".into(),
    }
}

fn record(
    adapter: &dyn Adapter,
    call: &Call<'_>,
    outcome: &Outcome,
    answers: Vec<serde_json::Value>,
) {
    let Ok(path) = std::env::var("SWITCHYARD_RECORD") else {
        return;
    };
    if !matches!(outcome, Outcome::Approved { .. }) {
        return;
    }
    let capture = matches!(call, Call::Authorize { capture: true, .. });
    let line = serde_json::json!({
        "kind": adapter.kind(), "op": call.op(), "capture": capture, "answers": answers,
    });
    use std::io::Write;
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = writeln!(f, "{line}");
    }
}
