//! CPU of the pure per-payment work of the worker, measured natively (a
//! timing test, ignored by default):
//!
//! ```text
//! cargo test --release -p switchyard --lib hot_path -- --ignored --nocapture
//! ```
//!
//! and in V8's wasm (Node, WASI), as the worker runs it:
//!
//! ```text
//! cargo test --release -p switchyard --lib --target wasm32-wasip1 --no-run
//! node tests/e2e/wasi-test-run.mjs target/wasm32-wasip1/release/deps/switchyard-*.wasm \
//!   hot_path --ignored --nocapture
//! ```
//!
//! One iteration is everything a create+confirm payment computes in the
//! front worker and its payment object, outside workerd's own I/O: the form
//! body, the parameters, the `/run` message (with the card) written and
//! read, the payment created and routed with a compiled router (the cached
//! case), its state stored as JSON, the sandbox request built, the answer
//! read, the state loaded, finished and stored again, the attempts header
//! and the response JSON. The sandbox's own decision (`simulate`, the
//! processor's side) is timed separately. The edge glue mirrors
//! `edge::payments` / `edge::payment_do` with the same calls.

use std::time::Instant;

use serde_json::Value;
use switchyard_processors::adapter::processor_idempotency_key;
use switchyard_processors::card::Card;
use switchyard_processors::payment::{
    Attempt, AttemptOutcome, ConfirmResult, PaymentIntent, ProcessorDetails,
};
use switchyard_processors::sandbox::{simulate, SandboxRequest};
use switchyard_processors::{adapter_for, Delivery, Outcome, WireResponse};
use switchyard_rules::{Router, ValidateOptions};

use crate::protocol::{
    self, Attach, BeginRequest, CreateFields, FinishRequest, Op, RulesetRef, RunMessage,
    RunRequest, Work, WorkResult,
};

const BODY: &[u8] = b"amount=1999&currency=usd&confirm=true&payment_method=pm_card_visa";

fn fail(what: &str) -> ! {
    // A test: a failure here is a broken benchmark, reported as such.
    std::panic::panic_any(format!("hot path: {what}"))
}

/// The front worker and the payment object's work for one payment; returns
/// the response text and the sandbox request (for the sandbox's part).
fn one_payment(router: &Router, simulate_sandbox: bool) -> String {
    // Front: body, parameters, the `/run` message.
    let v = crate::form::parse_body(Some("application/x-www-form-urlencoded"), BODY)
        .unwrap_or_else(|_| fail("form"));
    let p = crate::params::create(&v, true, &mut || "pm_x".to_owned())
        .unwrap_or_else(|_| fail("params"));
    let payment_id = protocol::payment_id_from_random(b"0123456789abcdefghijklmn");
    let given = p.card.unwrap_or_else(|| fail("card"));
    let b = BeginRequest {
        op: Op::Create,
        payment_id: payment_id.clone(),
        livemode: false,
        now_ms: 1_700_000_000_000,
        idem: None,
        create: Some(CreateFields {
            amount: p.amount,
            currency: p.currency.clone(),
            capture_method: p.capture_method.clone(),
            metadata: p.metadata.clone(),
            description: p.description.clone(),
        }),
        attach: Some(Attach {
            payment_method: given.payment_method.clone(),
            card: given.card.facts.clone(),
        }),
        confirm: true,
        ruleset: Some(RulesetRef {
            id: "rs_example".into(),
            ruleset: None,
        }),
        amount: None,
        reason: None,
        metadata: None,
        refund_id: None,
    };
    let transit = given.card.into_transit();
    let msg = serde_json::to_string(&RunMessage {
        begin: &b,
        card: Some(&transit),
    })
    .unwrap_or_else(|_| fail("run out"));

    // Payment object: begin.
    let RunRequest {
        begin: b,
        card: sent,
    } = serde_json::from_str(&msg).unwrap_or_else(|_| fail("run in"));
    let c = b.create.as_ref().unwrap_or_else(|| fail("create"));
    let mut pi = PaymentIntent::new(
        b.payment_id.clone(),
        b.livemode,
        b.now_ms / 1000,
        c.amount,
        c.currency.clone(),
        c.capture_method.clone(),
        c.metadata.clone(),
        c.description.clone(),
    );
    let a = b.attach.as_ref().unwrap_or_else(|| fail("attach"));
    pi.attach(a.payment_method.clone(), a.card.clone())
        .unwrap_or_else(|_| fail("attach"));
    let payment = pi.routing_payment().unwrap_or_else(|_| fail("payment"));
    let seq = pi
        .begin_confirm(b.now_ms)
        .unwrap_or_else(|_| fail("confirm"));
    let decision = router.decide(&payment, &pi.id);
    pi.routing.ruleset = Some("rs_example".into());
    pi.routing.rule = decision.rule.clone();
    pi.routing.rule_index = decision.rule_index;
    pi.set_pending_plan(decision.processors.clone());
    let stored = serde_json::to_string(&pi).unwrap_or_else(|_| fail("save"));
    let work = Work {
        op: Op::Confirm,
        payment_id: pi.id.clone(),
        seq,
        amount: pi.amount,
        currency: pi.currency.clone(),
        plan: decision.processors.clone(),
        capture: true,
        reference: None,
        payment_method: pi.payment_method.clone(),
        refund_id: None,
    };

    // Payment object: the processor call.
    let card = Card::from_transit(sent.unwrap_or_else(|| fail("card sent")));
    let configs = switchyard_processors::config::default_processors();
    let processor = work.plan.first().cloned().unwrap_or_else(|| fail("plan"));
    let cfg = configs
        .iter()
        .find(|c| c.id == processor)
        .unwrap_or_else(|| fail("cfg"));
    let adapter = adapter_for(cfg).unwrap_or_else(|| fail("adapter"));
    let key = processor_idempotency_key(&work.payment_id, "authorize", work.seq, &processor);
    let call = work.authorize(&key, &card);
    let wire = adapter.build(&call);
    let body = if simulate_sandbox {
        let sreq: SandboxRequest =
            serde_json::from_str(wire.body()).unwrap_or_else(|_| fail("sandbox in"));
        simulate("authorize", &sreq, None, "sbx_0123456789", None)
            .body
            .to_string()
    } else {
        r#"{"status":"captured","reference":"sbx_0123456789abcdefghij"}"#.to_owned()
    };
    drop(wire);
    let delivery = Delivery::Answered(WireResponse {
        status: 200,
        headers: vec![("content-type".into(), "application/json".into())],
        body,
    });
    let Outcome::Approved { reference } = adapter.parse(&call, &delivery) else {
        fail("not approved")
    };
    let f = FinishRequest {
        work,
        idem: None,
        now_ms: 1_700_000_000_010,
        attempts: vec![Attempt {
            processor: processor.clone(),
            outcome: AttemptOutcome::Authorized,
            code: None,
            decline_code: None,
            latency_ms: 1,
        }],
        result: WorkResult::Authorized {
            details: ProcessorDetails {
                processor: processor.clone(),
                kind: adapter.kind().to_owned(),
                reference,
            },
        },
    };

    // Payment object: finish.
    let attempts = serde_json::to_string(&f.attempts).unwrap_or_else(|_| fail("attempts"));
    drop(attempts);
    let mut pi: PaymentIntent = serde_json::from_str(&stored).unwrap_or_else(|_| fail("load"));
    let WorkResult::Authorized { details } = &f.result else {
        fail("result")
    };
    pi.finish_confirm(
        f.attempts.clone(),
        ConfirmResult::Authorized(details.clone()),
    );
    let stored = serde_json::to_string(&pi).unwrap_or_else(|_| fail("save"));
    drop(stored);
    let response: Value = pi.to_json();
    serde_json::to_string(&response).unwrap_or_else(|_| fail("response"))
}

fn median_ns(router: &Router, simulate_sandbox: bool) -> f64 {
    const BATCH: u32 = 2000;
    let mut batches: Vec<f64> = (0..15)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..BATCH {
                std::hint::black_box(one_payment(router, simulate_sandbox));
            }
            t.elapsed().as_nanos() as f64 / f64::from(BATCH)
        })
        .collect();
    batches.sort_by(f64::total_cmp);
    batches[batches.len() / 2]
}

#[test]
#[ignore = "a timing measurement: run with --release --ignored --nocapture"]
fn cpu_per_payment() {
    let ruleset = switchyard_processors::config::example_ruleset();
    let router = Router::from_value(&ruleset, &ValidateOptions::default())
        .unwrap_or_else(|_| fail("router"));
    let response = one_payment(&router, false);
    assert!(response.contains("\"status\":\"succeeded\""), "{response}");
    let worker = median_ns(&router, false);
    let with_sandbox = median_ns(&router, true);
    let t = Instant::now();
    let n = 200;
    for _ in 0..n {
        std::hint::black_box(
            Router::from_value(&ruleset, &ValidateOptions::default())
                .unwrap_or_else(|_| fail("router")),
        );
    }
    let compile = t.elapsed().as_nanos() as f64 / f64::from(n);
    let target = if cfg!(target_arch = "wasm32") {
        "wasm32"
    } else {
        "native"
    };
    println!(
        "cpu per payment ({target}, median of 15 batches of 2000): worker {:.1} µs; \
         with the sandbox's own decision {:.1} µs; compiling the example rule set \
         (not on the path when cached) {:.1} µs",
        worker / 1000.0,
        with_sandbox / 1000.0,
        compile / 1000.0
    );
}
