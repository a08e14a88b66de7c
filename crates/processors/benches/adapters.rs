//! The CPU an adapter spends on one payment: building every request and
//! parsing every answer of an authorization that captures at once (or,
//! where the processor authorizes only, the authorization and the worker's
//! capture), a capture and a refund. The answers are the processors' own,
//! recorded from the wire tests' peers (`benches/fixtures.json`; recorded by
//! running `tests/processors/*.test.mjs` with `SWITCHYARD_RECORD=<file>`).
//! Target (issue 10): at most 50 µs per payment. BENCHMARKS.md has the
//! figures and the command.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::Value;
use switchyard_processors::card::Card;
use switchyard_processors::{
    adapter_for, Adapter, Call, Credentials, Delivery, Parsed, ProcessorConfig, WireResponse,
};

fn deliveries(v: &Value) -> Vec<Delivery> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|a| {
            Delivery::Answered(WireResponse {
                status: a["status"].as_u64().unwrap() as u16,
                headers: a["headers"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|h| {
                        (
                            h[0].as_str().unwrap().to_owned(),
                            h[1].as_str().unwrap().to_owned(),
                        )
                    })
                    .collect(),
                body: a["body"].as_str().unwrap().to_owned(),
            })
        })
        .collect()
}

/// Builds and parses one call through its recorded answers.
fn through(adapter: &dyn Adapter, call: &Call<'_>, answers: &[Delivery]) {
    let mut req = adapter.build(call);
    for (step, d) in answers.iter().enumerate() {
        std::hint::black_box(&req);
        match adapter.parse(call, step as u8, d) {
            Parsed::Done(o) => {
                std::hint::black_box(o);
                return;
            }
            Parsed::Next(next) => req = next,
        }
    }
    panic!("{} {}: ran out of answers", adapter.kind(), call.op());
}

fn bench(c: &mut Criterion) {
    let fixtures: Value = serde_json::from_str(include_str!("fixtures.json")).unwrap();
    let card = Card::from_raw("4242424242424242", 3, 2030, Some("737")).unwrap();
    let mut group = c.benchmark_group("adapter: one payment (authorize+capture, capture, refund)");
    for kind in ["stripe", "adyen", "checkout", "braintree"] {
        let f = &fixtures[kind];
        let authorize = deliveries(&f["authorize"]);
        let capture = deliveries(&f["capture"]);
        let refund = deliveries(&f["refund"]);
        let cfg: ProcessorConfig = serde_json::from_value(serde_json::json!({
            "id": kind, "type": kind, "base_url": "https://processor.example",
            "account": "SwitchyardECOM", "currency": "usd",
        }))
        .unwrap();
        assert_eq!(cfg.kind.as_str(), kind);
        let creds = Credentials {
            api_key: Some("sk_test_key".into()),
            public_key: Some("public".into()),
            private_key: Some("private".into()),
        };
        let adapter = adapter_for(&cfg, Some(&creds)).unwrap();
        let reference = "ref_0123456789abcdef";
        group.bench_function(kind, |b| {
            b.iter(|| {
                let key = "pi_0123456789abcdefghijklmn-authorize-1-".to_owned() + kind;
                let auth = Call::Authorize {
                    key: &key,
                    payment_id: "pi_0123456789abcdefghijklmn",
                    amount: 4200,
                    currency: "usd",
                    capture: adapter.captures_with_authorization(),
                    card: &card.secret,
                    facts: &card.facts,
                    descriptor: Default::default(),
                };
                through(&*adapter, &auth, &authorize);
                let ckey = "pi_0123456789abcdefghijklmn-capture-1-".to_owned() + kind;
                let cap = Call::Capture {
                    key: &ckey,
                    reference,
                    amount: 4200,
                    currency: "usd",
                };
                if !adapter.captures_with_authorization() {
                    // The worker's own capture of a payment that captures
                    // at once.
                    through(&*adapter, &cap, &capture);
                }
                through(&*adapter, &cap, &capture);
                let rkey = "pi_0123456789abcdefghijklmn-refund-1-".to_owned() + kind;
                let refund_call = Call::Refund {
                    key: &rkey,
                    reference,
                    amount: 1000,
                    currency: "usd",
                };
                through(&*adapter, &refund_call, &refund);
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
