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
//! front worker and its payment object, outside workerd's own I/O, with the
//! worker's own code: the form body, the parameters, the `/run` message
//! (with the card) written and read, `payment::begin` (the payment created
//! and routed with a compiled router, the cached case), `payment::execute`
//! (the sandbox request built, its answer read) over a transport that
//! answers from memory, `payment::finish`, the run outcome written and read
//! back by the front. Storage is `MemoryStore` (the same JSON documents
//! the SQLite adapter stores). The sandbox's own decision (`simulate`, the
//! processor's side) is timed separately.

use std::cell::RefCell;
use std::future::Future;

use futures_util::FutureExt;
use std::time::Instant;

use switchyard_processors::card::Card;
use switchyard_processors::payment::Attempt;
use switchyard_processors::sandbox::{simulate, SandboxRequest};
use switchyard_processors::{Delivery, ProcessorConfig, WireRequest, WireResponse};
use switchyard_rules::{Router, ValidateOptions};

use crate::payment::{self, Admission, Begun, Routers, Transport};
use crate::protocol::{
    self, BeginRequest, FinishRequest, RulesetRef, RunAnswer, RunMessage, RunOutcome, RunRequest,
};
use crate::storage::memory::MemoryStore;

const BODY: &[u8] = b"amount=1999&currency=usd&confirm=true&payment_method=pm_card_visa";

fn fail(what: &str) -> ! {
    // A test: a failure here is a broken benchmark, reported as such.
    std::panic::panic_any(format!("hot path: {what}"))
}

/// Answers like the sandbox, from memory: a fixed approval, or the
/// sandbox's own decision (`simulate`).
struct MemoryTransport {
    simulate_sandbox: bool,
}

impl Transport for MemoryTransport {
    async fn send(&self, _cfg: &ProcessorConfig, req: WireRequest, _timeout_ms: u32) -> Delivery {
        let body = if self.simulate_sandbox {
            let sreq: SandboxRequest =
                serde_json::from_str(req.body()).unwrap_or_else(|_| fail("sandbox in"));
            simulate("authorize", &sreq, None, "sbx_0123456789", None)
                .body
                .to_string()
        } else {
            r#"{"status":"captured","reference":"sbx_0123456789abcdefghij"}"#.to_owned()
        };
        Delivery::Answered(WireResponse {
            status: 200,
            headers: vec![("content-type".into(), "application/json".into())],
            body,
        })
    }

    fn now_ms(&self) -> u64 {
        1_700_000_000_005
    }

    async fn admit(&self, _processor: &str) -> Admission {
        Admission::Closed
    }

    fn report(&self, _processor: &str, _failed: bool, _probe: bool) {}
}

/// Runs a future that never waits (the memory transport's).
/// Runs a future that never waits (answers come from memory).
fn ready<F: Future>(f: F) -> F::Output {
    f.now_or_never()
        .unwrap_or_else(|| panic!("a future that answers from memory waited"))
}

thread_local! {
    static ROUTERS: RefCell<Routers> = RefCell::new(Routers::default());
}

/// The front worker and the payment object's work for one payment; returns
/// the response text.
fn one_payment(simulate_sandbox: bool, metrics: bool) -> String {
    // Front: body, parameters, the `/run` message.
    let v = crate::form::parse_body(Some("application/x-www-form-urlencoded"), BODY)
        .unwrap_or_else(|_| fail("form"));
    let p = crate::params::create(&v, true, &mut || "pm_x".to_owned())
        .unwrap_or_else(|_| fail("params"));
    let payment_id = protocol::payment_id_from_random(b"0123456789abcdefghijklmn");
    let (mut b, card) =
        BeginRequest::create(p, "tok".into(), payment_id, false, 1_700_000_000_000, None);
    b.ruleset = Some(RulesetRef {
        id: "rs_example".into(),
        ruleset: None,
    });
    let transit = card.map(Card::into_transit);
    let msg = serde_json::to_string(&RunMessage {
        begin: &b,
        card: transit.as_ref(),
    })
    .unwrap_or_else(|_| fail("run out"));

    // Payment object: begin, the processor calls, finish.
    let RunRequest { begin: b, card } =
        serde_json::from_str(&msg).unwrap_or_else(|_| fail("run in"));
    let store = MemoryStore::default();
    let before = payment::snapshot(&store).unwrap_or_else(|_| fail("snapshot"));
    let begun = ROUTERS
        .with(|r| payment::begin(&store, &mut r.borrow_mut(), &switchyard_rules::NO_RATES, &b));
    let Ok(Begun::Work(work)) = begun else {
        fail("begin")
    };
    let configs = switchyard_processors::config::default_processors();
    let transport = MemoryTransport { simulate_sandbox };
    let record = |a: &Attempt| {
        let _ = payment::record_attempt(&store, work.seq, a);
    };
    let (attempts, result) = ready(payment::execute(
        &transport,
        &configs,
        true,
        &work,
        card.map(Card::from_transit),
        &record,
    ));
    let finish = FinishRequest {
        work: *work,
        idem: b.idem.clone(),
        now_ms: 1_700_000_000_010,
        attempts,
        result,
    };
    let reply = payment::finish(&store, &finish).unwrap_or_else(|_| fail("finish"));
    // The index rows the run changed (the front writes them after the
    // response).
    let index =
        payment::index_rows(&store, before.as_deref(), &b).unwrap_or_else(|_| fail("index rows"));
    let facts = if metrics {
        payment::metrics_facts(&store).unwrap_or_else(|_| fail("facts"))
    } else {
        None
    };
    let outcome = serde_json::to_string(&RunOutcome::Answered(RunAnswer {
        status: reply.answer.status,
        body: reply.answer.body,
        replayed: reply.replayed,
        key_released: reply.key_released,
        decided: reply.decided,
        attempts: finish.attempts,
        facts,
        index,
    }))
    .unwrap_or_else(|_| fail("outcome out"));

    // Front: the outcome read, the response body passed on.
    let Ok(RunOutcome::Answered(a)) = serde_json::from_str::<RunOutcome>(&outcome) else {
        fail("outcome in")
    };
    let _: &[Attempt] = &a.attempts;
    // The metrics' share of the front: the attempts folded into the
    // isolate's batch, and (after the response, alone in its batch at low
    // traffic) the batch split by shard and written as the shard's message
    // and read back by the shard.
    if let Some(f) = &a.facts {
        let mut batch = crate::metrics::Batch::default();
        for (k, c) in crate::metrics::fold(f, &a.attempts) {
            batch.add(crate::metrics::minute_of(1_700_000_000_010), k, &c);
        }
        for (_, part) in batch.by_shard(16) {
            let entries: Vec<(u64, crate::metrics::Key, crate::metrics::Counts)> = part
                .0
                .into_iter()
                .flat_map(|(m, keys)| keys.into_iter().map(move |(k, c)| (m, k, c)))
                .collect();
            let text = serde_json::to_string(&entries).unwrap_or_else(|_| fail("metrics out"));
            let back: Vec<(u64, crate::metrics::Key, crate::metrics::Counts)> =
                serde_json::from_str(&text).unwrap_or_else(|_| fail("metrics in"));
            if back.is_empty() {
                fail("metrics");
            }
        }
    }
    a.body.get().to_owned()
}

fn median_ns(simulate_sandbox: bool, metrics: bool) -> f64 {
    median_of(2000, || one_payment(simulate_sandbox, metrics))
}

#[test]
#[ignore = "a timing measurement: run with --release --ignored --nocapture"]
fn cpu_per_payment() {
    let ruleset = switchyard_processors::config::example_ruleset();
    // The router cache holds the example set, as a warm isolate's does.
    ROUTERS
        .with(|r| r.borrow_mut().router(false, "rs_example", Some(&ruleset)))
        .unwrap_or_else(|_| fail("router"));
    let response = one_payment(false, true);
    assert!(response.contains("\"status\":\"succeeded\""), "{response}");
    let worker = median_ns(false, true);
    let with_sandbox = median_ns(true, true);
    // The metrics' pure share: the same payment without recording, in
    // alternating measurements (the smallest difference of three pairs).
    let metrics_share = (0..3)
        .map(|_| median_ns(false, true) - median_ns(false, false))
        .fold(f64::INFINITY, f64::min);
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
         (not on the path when cached) {:.1} µs; of the worker's, recording the \
         metrics (facts, fold, batch, the shard's message written and read) {:.1} µs",
        worker / 1000.0,
        with_sandbox / 1000.0,
        compile / 1000.0,
        metrics_share / 1000.0
    );
}

/// A mode's rates as the metrics would give them: `processors` processors,
/// each with attempts in `groups` brand/country/funding groups.
fn rate_rows(processors: usize, groups: usize) -> Vec<crate::metrics::rates::Row> {
    // the first eight brands: the named networks, not cartes_bancaires or unknown
    let brands: Vec<&str> = switchyard_rules::Brand::names().take(8).collect();
    const FUNDING: [&str; 3] = ["credit", "debit", "prepaid"];
    let countries: Vec<&str> = switchyard_rules::Country::all().collect();
    let mut out = Vec::new();
    for p in 0..processors {
        for g in 0..groups {
            out.push(crate::metrics::rates::Row {
                processor: format!("processor_{p}"),
                brand: brands[g % brands.len()].to_owned(),
                country: countries[(g / brands.len()) % countries.len()].to_owned(),
                funding: FUNDING[(g / (brands.len() * countries.len())) % FUNDING.len()].to_owned(),
                attempts: 1000 + (g as u64 * 7) % 500,
                authorized: 800 + (g as u64 * 3) % 200,
            });
        }
    }
    out
}

/// The median time of one call of `f`, over 15 batches of `n` calls.
fn median_of<T>(n: u32, mut f: impl FnMut() -> T) -> f64 {
    let mut runs: Vec<f64> = (0..15)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..n {
                std::hint::black_box(f());
            }
            t.elapsed().as_nanos() as f64 / f64::from(n)
        })
        .collect();
    runs.sort_by(f64::total_cmp);
    runs[runs.len() / 2]
}

/// The CPU of a rates refresh (`edge/rates.rs`): in an isolate, reading the
/// table the rates object sends (its binary form) — the share of the
/// payment whose routing starts the refresh; in the rates object, the
/// table computed from the metrics' answers and encoded (no payment's).
#[test]
#[ignore = "a timing measurement: run with --release --ignored --nocapture"]
fn cpu_per_rate_refresh() {
    use crate::metrics::rates::{rows, table};
    use crate::metrics::report::{GroupRow, ShardAnswer};
    use crate::metrics::{Counts, Dim};
    let target = if cfg!(target_arch = "wasm32") {
        "wasm32"
    } else {
        "native"
    };
    for (processors, groups) in [(3, 50), (5, 200), (5, 720), (8, 2000)] {
        let finest = rate_rows(processors, groups);
        let bytes = table(&finest).encode();
        let isolate = median_of(20, || switchyard_rules::Rates::decode(bytes.clone()));
        // The object's side: 17 answers (16 shards and the rollup), each
        // row split over two currencies, summed, turned into the table.
        let group = [
            Dim::Processor,
            Dim::Brand,
            Dim::Country,
            Dim::Funding,
            Dim::Currency,
        ];
        let parts: Vec<ShardAnswer> = (0..17)
            .map(|s| ShardAnswer {
                groups: finest
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| i % 17 == s)
                    .flat_map(|(_, r)| {
                        ["usd", "eur"].map(|cur| GroupRow {
                            key: vec![
                                r.processor.clone(),
                                r.brand.clone(),
                                r.country.clone(),
                                r.funding.clone(),
                                cur.to_owned(),
                            ],
                            t: None,
                            counts: Counts {
                                attempts: r.attempts / 2,
                                authorized: r.authorized / 2,
                                ..Counts::default()
                            },
                        })
                    })
                    .collect(),
            })
            .collect();
        let texts: Vec<String> = parts
            .iter()
            .map(|p| serde_json::to_string(p).unwrap_or_default())
            .collect();
        let object = median_of(3, || {
            let parts: Vec<ShardAnswer> = texts
                .iter()
                .filter_map(|t| serde_json::from_str(t).ok())
                .collect();
            table(&rows(&group, &parts)).encode()
        });
        println!(
            "rates refresh ({target}, median of 15): {processors} processors x {groups} groups \
             ({} bytes): an isolate reads the table in {:.1} µs; the rates object computes it \
             from 17 answers in {:.1} µs",
            bytes.len(),
            isolate / 1000.0,
            object / 1000.0
        );
    }
}
