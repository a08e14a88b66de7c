//! The payment core, natively: every transition of the PaymentIntent state
//! machine through `begin` → `execute` → `finish`, with an in-memory store
//! and a scripted transport, and each refusal with its Stripe error.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;

use futures_util::FutureExt;

use serde_json::{json, Value};
use switchyard_processors::card::Card;
use switchyard_processors::payment::{AttemptOutcome, CaptureMethod, STALE_AFTER_MS};
use switchyard_processors::{Delivery, ProcessorConfig, WireRequest, WireResponse};

use super::*;
use crate::protocol::{Attach, CreateFields, Idem, RulesetRef};
use crate::storage::memory::MemoryStore;
use crate::storage::IDEM_STALE_MS;

const VISA: &str = "4242424242424242";
const RULESET_ID: &str = "rs_test";

fn ruleset() -> Value {
    json!({
        "rules": [{
            "name": "big payments",
            "if": { "field": "amount", "gte": 100000 },
            "then": { "decline": { "code": "do_not_honor", "message": "blocked by rule" } }
        }],
        "default": { "route": ["sandbox_a", "sandbox_b"] }
    })
}

/// What a sandbox answers, in its wire format.
fn approved(reference: &str) -> Delivery {
    Delivery::Answered(WireResponse {
        status: 200,
        headers: Vec::new(),
        body: json!({ "status": "authorized", "reference": reference }).to_string(),
    })
}

fn declined(decline_code: &str) -> Delivery {
    Delivery::Answered(WireResponse {
        status: 402,
        headers: Vec::new(),
        body: json!({ "status": "declined", "decline_code": decline_code, "processor_code": "05" })
            .to_string(),
    })
}

fn lost() -> Delivery {
    Delivery::Lost("no answer within 1000 ms".into())
}

/// A processor's answer to a look-up of a call it never received.
fn no_record() -> Delivery {
    Delivery::Answered(WireResponse {
        status: 404,
        headers: Vec::new(),
        body: json!({ "status": "not_found", "message": "no request with this idempotency key" })
            .to_string(),
    })
}

fn refused_connection() -> Delivery {
    Delivery::NotSent("connection refused".into())
}

/// Answers from a script, in order, and records what was sent.
#[derive(Default)]
struct Script {
    answers: RefCell<VecDeque<Delivery>>,
    sent: RefCell<Vec<(String, String)>>,
    /// The processor-side idempotency key of each request.
    keys: RefCell<Vec<String>>,
    /// The clock, and how long each request takes on it.
    clock: std::cell::Cell<u64>,
    step_ms: u64,
    /// Each processor's circuit as `admit` answers it (default: closed).
    circuits: RefCell<std::collections::BTreeMap<String, Admission>>,
    /// `(processor, failed, probe)` of each report to the circuits.
    reports: RefCell<Vec<(String, bool, bool)>>,
}

impl Script {
    fn of(answers: Vec<Delivery>) -> Script {
        Script {
            answers: RefCell::new(answers.into()),
            sent: RefCell::default(),
            keys: RefCell::default(),
            clock: std::cell::Cell::new(1_000),
            step_ms: 0,
            circuits: RefCell::default(),
            reports: RefCell::default(),
        }
    }

    /// (processor, operation) of each request sent.
    fn sent(&self) -> Vec<(String, String)> {
        self.sent.borrow().clone()
    }
}

impl Transport for Script {
    async fn send(&self, cfg: &ProcessorConfig, req: WireRequest, _timeout_ms: u32) -> Delivery {
        let op = req.url.rsplit('/').next().unwrap_or("").to_owned();
        self.sent.borrow_mut().push((cfg.id.clone(), op));
        self.clock.set(self.clock.get() + self.step_ms);
        let key = req.headers.iter().find(|(k, _)| k == "idempotency-key");
        self.keys
            .borrow_mut()
            .push(key.map(|(_, v)| v.clone()).unwrap_or_default());
        self.answers
            .borrow_mut()
            .pop_front()
            .unwrap_or_else(|| panic!("unexpected request to {}", cfg.id))
    }

    fn now_ms(&self) -> u64 {
        self.clock.get()
    }

    async fn admit(&self, processor: &str) -> Admission {
        self.circuits
            .borrow()
            .get(processor)
            .copied()
            .unwrap_or(Admission::Closed)
    }

    fn report(&self, processor: &str, failed: bool, probe: bool) {
        self.reports
            .borrow_mut()
            .push((processor.to_owned(), failed, probe));
    }
}

/// Runs a future that never waits (answers come from memory).
fn ready<F: Future>(f: F) -> F::Output {
    f.now_or_never()
        .unwrap_or_else(|| panic!("a future that answers from memory waited"))
}

/// One payment object: its store, the isolate's router cache, and the
/// processors of the mode.
struct Object {
    store: MemoryStore,
    routers: Routers,
    /// The authorization rates routing sees.
    rates: switchyard_rules::Rates,
    configs: Vec<ProcessorConfig>,
    id: String,
    now_ms: u64,
    /// What the last operation left for the reconciliation queue.
    unsettled: Vec<(Unsettled, bool)>,
}

/// A request to the object, as the front builds it.
struct Req {
    b: BeginRequest,
    card: Option<Card>,
}

impl Object {
    fn new() -> Object {
        Object {
            store: MemoryStore::default(),
            routers: Routers::default(),
            rates: switchyard_rules::Rates::default(),
            configs: ["sandbox_a", "sandbox_b"]
                .iter()
                .map(|id| ProcessorConfig::sandbox(id))
                .collect(),
            id: protocol::payment_id_from_random(b"abcdefghijklmnopqrstuvwx"),
            now_ms: 1_700_000_000_000,
            unsettled: Vec::new(),
        }
    }

    fn req(&self, op: Op) -> Req {
        Req {
            b: BeginRequest::new(op, self.id.clone(), false, self.now_ms, None),
            card: None,
        }
    }

    fn create(&self, amount: u64, capture: CaptureMethod, confirm: bool) -> Req {
        let mut r = self.req(Op::Create);
        r.b.create = Some(CreateFields {
            amount,
            currency: "eur".into(),
            capture_method: capture,
            metadata: Default::default(),
            description: None,
            extras: Default::default(),
            secret_token: "tok".into(),
        });
        r.b.confirm = confirm;
        if confirm {
            r = r.routed();
        }
        r.with_card(VISA)
    }

    fn confirm(&self) -> Req {
        self.req(Op::Confirm).routed()
    }

    fn capture(&self, amount: Option<u64>) -> Req {
        let mut r = self.req(Op::Capture);
        r.b.amount = amount;
        r
    }

    fn retrieve_refund(&self, id: &str) -> Req {
        let mut r = self.req(Op::ReconcileRefund);
        r.b.refund_id = Some(id.to_owned());
        r
    }

    fn refund(&self, amount: Option<u64>) -> Req {
        let mut r = self.req(Op::Refund);
        r.b.amount = amount;
        r
    }

    /// begin, the scripted processor calls, finish: the API's reply.
    fn run(&mut self, r: Req, script: &Script) -> Reply {
        match begin(&self.store, &mut self.routers, &self.rates, &r.b) {
            Ok(Begun::Reply(reply)) => reply,
            Ok(Begun::Work(work)) => {
                let store = &self.store;
                let record = |a: &switchyard_processors::payment::Attempt| {
                    assert!(record_attempt(store, work.seq, a).is_ok());
                };
                let (attempts, result) =
                    ready(execute(script, &self.configs, true, &work, r.card, &record));
                let f = FinishRequest {
                    work: *work,
                    idem: r.b.idem.clone(),
                    now_ms: self.now_ms,
                    attempts,
                    result,
                };
                let reply =
                    finish(&self.store, &f).unwrap_or_else(|e| panic!("finish: {}", e.message));
                self.unsettled = unsettled_after(&self.store, &f)
                    .unwrap_or_else(|e| panic!("unsettled: {}", e.message));
                reply
            }
            Ok(Begun::NeedRuleset) => panic!("the rule set was given"),
            Err(e) => panic!("begin: {}", e.message),
        }
    }

    /// `begin` alone: what it leaves to do.
    fn begin(&mut self, r: &Req) -> Begun {
        begin(&self.store, &mut self.routers, &self.rates, &r.b)
            .unwrap_or_else(|e| panic!("{}", e.message))
    }

    fn payment(&self) -> PaymentIntent {
        self.store
            .get::<PaymentIntent>(PAYMENT)
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!("no payment stored"))
    }
}

impl Req {
    fn routed(mut self) -> Req {
        self.b.ruleset = Some(RulesetRef {
            id: RULESET_ID.into(),
            ruleset: Some(ruleset()),
        });
        self
    }

    fn with_card(mut self, number: &str) -> Req {
        let card = Card::from_raw(number, 12, 2030, Some("123"))
            .unwrap_or_else(|e| panic!("card: {}", e.message));
        self.b.attach = Some(Attach {
            payment_method: "pm_raw".into(),
            card: card.facts.clone(),
            routing_bin: Some(card.routing_bin()),
            billing: None,
        });
        self.card = Some(card);
        self
    }

    fn keyed(mut self, key: &str, fingerprint: &str) -> Req {
        self.b.idem = Some(Idem {
            key: key.into(),
            fingerprint: fingerprint.into(),
        });
        self
    }
}

fn body(reply: &Reply) -> Value {
    reply.answer.value()
}

fn status_of(reply: &Reply) -> String {
    body(reply)["status"].as_str().unwrap_or("").to_owned()
}

/// The Stripe error of a reply: (HTTP status, type, code).
fn error_of(reply: &Reply) -> (u16, String, String) {
    let b = body(reply);
    let e = &b["error"];
    let s = |k: &str| e[k].as_str().unwrap_or("").to_owned();
    (reply.answer.status, s("type"), s("code"))
}

#[test]
fn create_without_confirmation_waits_for_it() {
    let mut o = Object::new();
    let r = o.run(
        o.create(2000, CaptureMethod::Automatic, false),
        &Script::default(),
    );
    assert_eq!(r.answer.status, 200);
    assert_eq!(status_of(&r), "requires_confirmation");
    let mut r = o.req(Op::Create);
    r.b.create = o.create(2000, CaptureMethod::Automatic, false).b.create;
    let mut o = Object::new();
    let r = o.run(r, &Script::default());
    assert_eq!(status_of(&r), "requires_payment_method");
}

#[test]
fn automatic_capture_succeeds_and_never_stores_the_card() {
    let mut o = Object::new();
    let script = Script::of(vec![approved("sbx_1")]);
    let r = o.run(o.create(2000, CaptureMethod::Automatic, true), &script);
    assert_eq!(r.answer.status, 200);
    assert_eq!(status_of(&r), "succeeded");
    assert_eq!(body(&r)["amount_received"], 2000);
    assert_eq!(body(&r)["processor_details"]["processor"], "sandbox_a");
    assert_eq!(script.sent(), [("sandbox_a".into(), "authorize".into())]);
    let stored = o.store.docs.borrow().values().cloned().collect::<String>();
    assert!(!stored.contains(VISA) && !stored.contains("\"123\""));
    assert!(!r.answer.body.to_string().contains(VISA));
}

#[test]
fn manual_capture_then_partial_capture_then_refunds() {
    let mut o = Object::new();
    let r = o.run(
        o.create(5000, CaptureMethod::Manual, true),
        &Script::of(vec![approved("sbx_1")]),
    );
    assert_eq!(status_of(&r), "requires_capture");
    assert_eq!(body(&r)["amount_capturable"], 5000);
    // More than capturable: refused, nothing sent.
    let r = o.run(o.capture(Some(6000)), &Script::default());
    assert_eq!(
        error_of(&r),
        (
            400,
            "invalid_request_error".into(),
            "amount_too_large".into()
        )
    );
    assert_eq!(body(&r)["error"]["param"], "amount_to_capture");
    // A refund before capture is refused.
    let r = o.run(o.refund(None), &Script::default());
    assert_eq!(error_of(&r).2, "charge_not_refundable");
    let r = o.run(o.capture(Some(3000)), &Script::of(vec![approved("sbx_1")]));
    assert_eq!(status_of(&r), "succeeded");
    assert_eq!(body(&r)["amount_received"], 3000);
    // Captured already.
    let r = o.run(o.capture(None), &Script::default());
    assert_eq!(
        error_of(&r),
        (
            400,
            "invalid_request_error".into(),
            "payment_intent_unexpected_state".into()
        )
    );
    // Refunds: partial, too much, the rest, then nothing left.
    let r = o.run(o.refund(Some(1000)), &Script::of(vec![approved("sbr_1")]));
    assert_eq!(
        (status_of(&r), &body(&r)["amount"]),
        ("succeeded".to_owned(), &json!(1000))
    );
    let refund_id = body(&r)["id"].as_str().unwrap_or("").to_owned();
    let r = o.run(o.refund(Some(2500)), &Script::default());
    assert_eq!(error_of(&r).2, "amount_too_large");
    assert_eq!(body(&r)["error"]["param"], "amount");
    let r = o.run(o.refund(None), &Script::of(vec![approved("sbr_2")]));
    assert_eq!(body(&r)["amount"], 2000);
    let r = o.run(o.refund(None), &Script::default());
    assert_eq!(error_of(&r).2, "charge_already_refunded");
    let pi = o.payment();
    assert_eq!((pi.amount_refunded, pi.refund_reserved), (3000, 3000));
    let r = o.run(o.retrieve_refund(&refund_id), &Script::default());
    assert_eq!(status_of(&r), "succeeded");
    let r = o.run(o.retrieve_refund("re_x"), &Script::default());
    assert_eq!(error_of(&r).0, 404);
    // A refund of a payment that does not exist: no such refund.
    let r = Object::new().run(Object::new().retrieve_refund("re_y"), &Script::default());
    assert_eq!(
        error_of(&r),
        (
            404,
            "invalid_request_error".into(),
            "resource_missing".into()
        )
    );
    assert!(body(&r)["error"]["message"]
        .as_str()
        .unwrap_or("")
        .contains("No such refund"));
}

#[test]
fn a_refused_refund_frees_its_amount_and_an_unknown_one_keeps_it() {
    let mut o = Object::new();
    o.run(
        o.create(1000, CaptureMethod::Automatic, true),
        &Script::of(vec![approved("sbx_1")]),
    );
    let r = o.run(
        o.refund(Some(400)),
        &Script::of(vec![declined("generic_decline")]),
    );
    assert_eq!(
        error_of(&r),
        (502, "api_error".into(), "processor_unavailable".into())
    );
    assert_eq!(o.payment().refund_reserved, 0);
    // Unknown twice (the follow-up is retried once): the refund stays pending.
    let r = o.run(o.refund(Some(400)), &Script::of(vec![lost(), lost()]));
    assert_eq!(
        (r.answer.status, status_of(&r)),
        (200, "pending".to_owned())
    );
    assert_eq!(o.payment().refund_reserved, 400);
    assert_eq!(o.payment().amount_refunded, 0);
}

#[test]
fn cancel_before_authorization_and_void_after() {
    let mut o = Object::new();
    o.run(
        o.create(1000, CaptureMethod::Manual, false),
        &Script::default(),
    );
    let mut r = o.req(Op::Cancel);
    r.b.reason = Some("requested_by_customer".into());
    let r = o.run(r, &Script::default());
    assert_eq!(status_of(&r), "canceled");
    assert_eq!(body(&r)["cancellation_reason"], "requested_by_customer");
    let r = o.run(o.req(Op::Cancel), &Script::default());
    assert_eq!(error_of(&r).2, "payment_intent_unexpected_state");

    let mut o = Object::new();
    o.run(
        o.create(1000, CaptureMethod::Manual, true),
        &Script::of(vec![approved("sbx_1")]),
    );
    let script = Script::of(vec![approved("sbx_1")]);
    let r = o.run(o.req(Op::Cancel), &script);
    assert_eq!(status_of(&r), "canceled");
    assert_eq!(body(&r)["amount_capturable"], 0);
    assert_eq!(script.sent(), [("sandbox_a".into(), "void".into())]);
    let r = o.run(o.confirm(), &Script::default());
    assert_eq!(error_of(&r).2, "payment_intent_unexpected_state");
}

#[test]
fn a_failed_void_or_capture_leaves_the_authorization() {
    let mut o = Object::new();
    o.run(
        o.create(1000, CaptureMethod::Manual, true),
        &Script::of(vec![approved("sbx_1")]),
    );
    let r = o.run(
        o.req(Op::Cancel),
        &Script::of(vec![refused_connection(), refused_connection()]),
    );
    assert_eq!(error_of(&r).2, "processor_unavailable");
    assert_eq!(o.payment().status, Status::RequiresCapture);
    let r = o.run(o.capture(None), &Script::of(vec![lost(), lost()]));
    assert_eq!(error_of(&r).0, 502);
    // Unknown: the capture stays pending, so a new operation waits.
    assert_eq!(o.payment().pending.map(|p| p.op), Some(PendingOp::Capture));
    let r = o.run(o.req(Op::Cancel), &Script::default());
    assert_eq!(
        error_of(&r),
        (429, "invalid_request_error".into(), "lock_timeout".into())
    );
}

#[test]
fn soft_decline_moves_on_and_hard_decline_stops() {
    let mut o = Object::new();
    let script = Script::of(vec![declined("insufficient_funds"), approved("sbx_2")]);
    let r = o.run(o.create(1000, CaptureMethod::Automatic, true), &script);
    assert_eq!(status_of(&r), "succeeded");
    assert_eq!(body(&r)["processor_details"]["processor"], "sandbox_b");
    let attempts = o.payment().routing.attempts;
    assert_eq!(
        attempts.iter().map(|a| a.outcome).collect::<Vec<_>>(),
        [AttemptOutcome::SoftDecline, AttemptOutcome::Authorized]
    );

    let mut o = Object::new();
    let script = Script::of(vec![declined("stolen_card")]);
    let r = o.run(o.create(1000, CaptureMethod::Automatic, true), &script);
    assert_eq!(
        error_of(&r),
        (402, "card_error".into(), "card_declined".into())
    );
    assert_eq!(body(&r)["error"]["decline_code"], "stolen_card");
    assert_eq!(
        body(&r)["error"]["payment_intent"]["status"],
        "requires_payment_method"
    );
    assert_eq!(
        script.sent().len(),
        1,
        "a hard decline is not sent elsewhere"
    );
}

#[test]
fn a_processor_that_did_not_process_is_passed_and_all_down_is_a_502() {
    let mut o = Object::new();
    let script = Script::of(vec![refused_connection(), approved("sbx_2")]);
    let r = o.run(o.create(1000, CaptureMethod::Automatic, true), &script);
    assert_eq!(status_of(&r), "succeeded");

    let mut o = Object::new();
    let script = Script::of(vec![refused_connection(), refused_connection()]);
    let r = o.run(
        o.create(1000, CaptureMethod::Automatic, true)
            .keyed("k1", "f1"),
        &script,
    );
    assert_eq!(
        error_of(&r),
        (502, "api_error".into(), "processor_unavailable".into())
    );
    assert!(r.decided, "a 5xx stored for its key is final");
    assert_eq!(o.payment().status, Status::RequiresPaymentMethod);
}

#[test]
fn a_rule_declines_without_calling_a_processor() {
    let mut o = Object::new();
    let r = o.run(
        o.create(150_000, CaptureMethod::Automatic, true),
        &Script::default(),
    );
    assert_eq!(
        error_of(&r),
        (402, "card_error".into(), "card_declined".into())
    );
    assert_eq!(body(&r)["error"]["decline_code"], "do_not_honor");
    assert_eq!(o.payment().routing.rule.as_deref(), Some("big payments"));
}

#[test]
fn an_8_digit_bin_routes_a_15_digit_card_and_6_digits_are_kept() {
    let bins = |r: &mut Req| {
        if let Some(rs) = r.b.ruleset.as_mut() {
            rs.id = "rs_bins".into();
            rs.ruleset = Some(json!({
                "rules": [{ "name": "leaked range", "if": { "field": "card.bin", "prefix": "37828224" },
                            "then": { "decline": { "code": "do_not_honor" } } }],
                "default": { "route": ["sandbox_a"] }
            }));
        }
    };
    let mut o = Object::new();
    let mut r = o
        .create(1000, CaptureMethod::Automatic, true)
        .with_card("378282246310005");
    bins(&mut r);
    let reply = o.run(r, &Script::default());
    assert_eq!(error_of(&reply).2, "card_declined");
    assert_eq!(o.payment().routing.rule.as_deref(), Some("leaked range"));
    let stored = o.store.docs.borrow().values().cloned().collect::<String>();
    assert!(
        stored.contains("\"378282\"") && !stored.contains("37828224"),
        "{stored}"
    );
    // A test payment method confirmed later routes by its card's 8 digits.
    let mut o = Object::new();
    let mut create = o.req(Op::Create);
    create.b.create = o.create(1000, CaptureMethod::Automatic, false).b.create;
    let amex = Card::from_test_payment_method("pm_card_amex").unwrap_or_else(|| panic!("amex"));
    create.b.attach = Some(Attach {
        payment_method: "pm_card_amex".into(),
        card: amex.facts.clone(),
        routing_bin: None,
        billing: None,
    });
    o.run(create, &Script::default());
    let mut confirm = o.confirm();
    bins(&mut confirm);
    let reply = o.run(confirm, &Script::default());
    assert_eq!(error_of(&reply).2, "card_declined");
}

#[test]
fn unknown_outcome_stays_processing_and_is_reconciled() {
    let mut o = Object::new();
    // Lost twice at the same processor (one retry), never sent elsewhere.
    let script = Script::of(vec![lost(), lost()]);
    let r = o.run(o.create(1000, CaptureMethod::Automatic, true), &script);
    assert_eq!(
        (r.answer.status, status_of(&r)),
        (200, "processing".to_owned())
    );
    assert_eq!(
        script.sent(),
        [
            ("sandbox_a".into(), "authorize".into()),
            ("sandbox_a".into(), "authorize".into())
        ]
    );
    // Nobody is working on it, so the status decides: not capturable.
    let r = o.run(o.capture(None), &Script::default());
    assert_eq!(error_of(&r).2, "payment_intent_unexpected_state");
    // A retrieve asks the processor by the same key and settles it.
    let script = Script::of(vec![approved("sbx_1")]);
    let r = o.run(o.req(Op::Reconcile), &script);
    assert_eq!(status_of(&r), "succeeded");
    assert_eq!(script.sent(), [("sandbox_a".into(), "lookup".into())]);
    // Nothing left to reconcile: a plain read.
    let r = o.run(o.req(Op::Reconcile), &Script::default());
    assert_eq!(status_of(&r), "succeeded");
}

#[test]
fn a_stale_confirmation_is_taken_over_with_its_plan_and_keys() {
    let mut o = Object::new();
    let first = o.create(1000, CaptureMethod::Automatic, true);
    let Begun::Work(work) = o.begin(&first) else {
        panic!("a confirmation has work")
    };
    // The first run died with its processor calls. Before it is stale, a
    // retry waits; after, it takes over with the same sequence and plan.
    let retry = o.confirm().with_card(VISA);
    let r = o.run(retry, &Script::default());
    assert_eq!(error_of(&r).2, "lock_timeout");
    o.now_ms += STALE_AFTER_MS;
    let retry = o.confirm().with_card(VISA);
    let Begun::Work(again) = o.begin(&retry) else {
        panic!("a takeover has work")
    };
    assert_eq!((again.seq, &again.plan), (work.seq, &work.plan));
    // The first run's late finish no longer matches: it changes nothing.
    let f = FinishRequest {
        work: Work {
            seq: work.seq + 1,
            ..*work
        },
        idem: None,
        now_ms: o.now_ms,
        attempts: Vec::new(),
        result: WorkResult::Unknown,
    };
    assert!(finish(&o.store, &f).is_ok());
    assert_eq!(o.payment().status, Status::Processing);
}

#[test]
fn idempotency_replays_refuses_and_waits() {
    let mut o = Object::new();
    let r = o.run(
        o.create(1000, CaptureMethod::Manual, true).keyed("k", "f"),
        &Script::of(vec![approved("sbx_1")]),
    );
    assert!(!r.replayed);
    let again = o.run(
        o.create(1000, CaptureMethod::Manual, true).keyed("k", "f"),
        &Script::default(),
    );
    assert!(again.replayed);
    assert_eq!(again.answer, r.answer);
    let other = o.run(
        o.create(2000, CaptureMethod::Manual, true)
            .keyed("k", "other"),
        &Script::default(),
    );
    assert_eq!(
        error_of(&other),
        (
            400,
            "idempotency_error".into(),
            "idempotency_key_in_use".into()
        )
    );
    // In flight: 409 until the first is abandoned.
    let capture = o.capture(None).keyed("c", "f");
    assert!(matches!(o.begin(&capture), Begun::Work(_)));
    let r = o.run(o.capture(None).keyed("c", "f"), &Script::default());
    assert_eq!(
        error_of(&r),
        (
            409,
            "idempotency_error".into(),
            "idempotency_key_in_use".into()
        )
    );
    o.now_ms += IDEM_STALE_MS.max(STALE_AFTER_MS);
    let r = o.run(
        o.capture(None).keyed("c", "f"),
        &Script::of(vec![approved("sbx_1")]),
    );
    assert_eq!(status_of(&r), "succeeded");
}

#[test]
fn refusals_before_the_start_release_the_key() {
    // An operation on a payment that does not exist creates nothing.
    let mut o = Object::new();
    let r = o.run(o.capture(None).keyed("k", "f"), &Script::default());
    assert_eq!(
        error_of(&r),
        (
            404,
            "invalid_request_error".into(),
            "resource_missing".into()
        )
    );
    assert!(r.key_released);
    assert!(!o.store.tables.get() && o.store.docs.borrow().is_empty());
    let r = o.run(o.refund(None).keyed("k", "f"), &Script::default());
    assert_eq!(
        error_of(&r),
        (
            400,
            "invalid_request_error".into(),
            "resource_missing".into()
        )
    );
    assert_eq!(body(&r)["error"]["param"], "payment_intent");

    // A refusal after the start is stored for its key.
    o.run(
        o.create(1000, CaptureMethod::Manual, false),
        &Script::default(),
    );
    let r = o.run(o.refund(None).keyed("r", "f"), &Script::default());
    assert_eq!(error_of(&r).2, "charge_not_refundable");
    assert!(!r.key_released);
    let again = o.run(o.refund(None).keyed("r", "f"), &Script::default());
    assert!(again.replayed);
}

#[test]
fn confirmation_needs_card_data_and_a_compiled_rule_set() {
    let mut o = Object::new();
    // Raw card data is never kept: a later confirmation must bring it.
    let mut create = o.create(1000, CaptureMethod::Automatic, false);
    create.card = None;
    o.run(create, &Script::default());
    let r = o.run(o.confirm(), &Script::default());
    assert_eq!(error_of(&r).2, "payment_intent_unexpected_state");
    assert_eq!(body(&r)["error"]["param"], "payment_method_data");
    // A rule set this isolate has not compiled must come with its content.
    let mut c = o.confirm().with_card(VISA);
    if let Some(rs) = c.b.ruleset.as_mut() {
        rs.id = "rs_unseen".into();
        rs.ruleset = None;
    }
    assert_eq!(o.begin(&c), Begun::NeedRuleset);
    // With it, the confirmation goes ahead (and the set is compiled).
    let r = o.run(
        o.confirm().with_card(VISA),
        &Script::of(vec![approved("sbx_1")]),
    );
    assert_eq!(status_of(&r), "succeeded");
    assert!(o.routers.has(false, RULESET_ID));
}

#[test]
fn test_payment_methods_stand_for_their_cards_in_test_mode_only() {
    let work = Work {
        op: Op::Confirm,
        payment_id: "pi_x".into(),
        seq: 1,
        amount: 100,
        currency: "eur".into(),
        plan: vec!["sandbox_a".into()],
        capture: true,
        reference: None,
        payment_method: Some("pm_card_visa".into()),
        refund_id: None,
        attempts_left: 20,
        view: Default::default(),
        statement_descriptor: None,
        statement_descriptor_suffix: None,
    };
    let configs = vec![ProcessorConfig::sandbox("sandbox_a")];
    let script = Script::of(vec![approved("sbx_1")]);
    let (_, result) = ready(execute(&script, &configs, true, &work, None, &|_| {}));
    assert!(matches!(result, WorkResult::Authorized { .. }));
    let (_, result) = ready(execute(
        &Script::default(),
        &configs,
        false,
        &work,
        None,
        &|_| {},
    ));
    assert_eq!(result, WorkResult::NoneAvailable);
    // A processor of the plan that is not configured is skipped, recorded.
    let mut plan = work.clone();
    plan.plan = vec!["gone".into(), "sandbox_a".into()];
    let (attempts, _) = ready(execute(
        &Script::of(vec![approved("sbx_1")]),
        &configs,
        true,
        &plan,
        None,
        &|_| {},
    ));
    assert_eq!(attempts[0].code.as_deref(), Some("not_configured"));
}

#[test]
fn a_refund_retried_after_its_call_was_abandoned_is_the_same_refund() {
    let mut o = Object::new();
    o.run(
        o.create(1000, CaptureMethod::Automatic, true),
        &Script::of(vec![approved("sbx_1")]),
    );
    // The first attempt dies in its processor call.
    let first = o.refund(Some(400)).keyed("rk", "f");
    let Begun::Work(work) = o.begin(&first) else {
        panic!("a refund has work")
    };
    // Its retry, with the same key, once the first is stale.
    o.now_ms += IDEM_STALE_MS.max(STALE_AFTER_MS);
    let script = Script::of(vec![approved("sbr_1")]);
    let r = o.run(o.refund(Some(400)).keyed("rk", "f"), &script);
    assert_eq!(status_of(&r), "succeeded");
    assert_eq!(body(&r)["id"].as_str(), work.refund_id.as_deref());
    let pi = o.payment();
    assert_eq!(
        (pi.refunds, pi.refund_reserved, pi.amount_refunded),
        (1, 400, 400)
    );
    // The processor was asked under the first attempt's key.
    let key = switchyard_processors::adapter::processor_idempotency_key(
        &o.id,
        "refund",
        work.seq,
        "sandbox_a",
    );
    assert_eq!(script.keys.borrow().clone(), [key]);
}

#[test]
fn a_refund_of_unknown_outcome_is_reconciled_by_a_retrieval() {
    for (lookup, status, refunded, reserved) in [
        (approved("sbr_1"), "succeeded", 300, 300),
        (no_record(), "failed", 0, 0),
    ] {
        let mut o = Object::new();
        o.run(
            o.create(1000, CaptureMethod::Automatic, true),
            &Script::of(vec![approved("sbx_1")]),
        );
        let r = o.run(o.refund(Some(300)), &Script::of(vec![lost(), lost()]));
        assert_eq!(status_of(&r), "pending");
        let id = body(&r)["id"].as_str().unwrap_or("").to_owned();
        assert_eq!(o.payment().refund_reserved, 300, "locked while unknown");
        let script = Script::of(vec![lookup]);
        let r = o.run(o.retrieve_refund(&id), &script);
        assert_eq!(status_of(&r), status);
        assert_eq!(script.sent(), [("sandbox_a".into(), "lookup".into())]);
        let pi = o.payment();
        assert_eq!(
            (pi.amount_refunded, pi.refund_reserved),
            (refunded, reserved)
        );
        // Settled: a later retrieval asks nobody.
        let r = o.run(o.retrieve_refund(&id), &Script::default());
        assert_eq!(status_of(&r), status);
    }
}

#[test]
fn a_capture_takeover_keeps_the_amount_it_takes_over() {
    let mut o = Object::new();
    o.run(
        o.create(1000, CaptureMethod::Manual, true),
        &Script::of(vec![approved("sbx_1")]),
    );
    let first = o.capture(Some(300));
    let Begun::Work(work) = o.begin(&first) else {
        panic!("a capture has work")
    };
    o.now_ms += STALE_AFTER_MS;
    // Another amount: refused, nothing sent (the processor would answer the
    // retry with the first capture).
    let r = o.run(o.capture(Some(500)), &Script::default());
    assert_eq!(error_of(&r).2, "payment_intent_unexpected_state");
    assert_eq!(body(&r)["error"]["param"], "amount_to_capture");
    // Without an amount, or with the same: the first capture, resumed.
    let script = Script::of(vec![approved("sbx_1")]);
    let r = o.run(o.capture(None), &script);
    assert_eq!(status_of(&r), "succeeded");
    assert_eq!(body(&r)["amount_received"], 300);
    let key = switchyard_processors::adapter::processor_idempotency_key(
        &o.id,
        "capture",
        work.seq,
        "sandbox_a",
    );
    assert_eq!(script.keys.borrow().clone(), [key]);
}

#[test]
fn a_run_stops_trying_processors_before_a_takeover_could_start() {
    let mut o = Object::new();
    // Each request takes 25 s: after the first, the next processor's 8 s
    // timeout no longer fits in the run's 30 s.
    let mut script = Script::of(vec![refused_connection(), approved("sbx_2")]);
    script.step_ms = 25_000;
    let r = o.run(o.create(1000, CaptureMethod::Automatic, true), &script);
    assert_eq!(
        error_of(&r),
        (502, "api_error".into(), "processor_unavailable".into())
    );
    assert_eq!(script.sent().len(), 1, "sandbox_b was not tried");
    assert_eq!(o.payment().status, Status::RequiresPaymentMethod);
    // An unknown outcome is not retried past the budget either: processing.
    let mut o = Object::new();
    let mut script = Script::of(vec![lost()]);
    script.step_ms = 25_000;
    let r = o.run(o.create(1000, CaptureMethod::Automatic, true), &script);
    assert_eq!(status_of(&r), "processing");
    assert_eq!(script.sent().len(), 1);
}

#[test]
fn each_attempt_is_stored_before_the_next_and_a_payment_makes_at_most_20() {
    // A run that dies after its first attempt: the attempt is kept, and the
    // takeover's finish adds it to the payment's.
    let mut o = Object::new();
    let first = o.create(1000, CaptureMethod::Automatic, true);
    let Begun::Work(work) = o.begin(&first) else {
        panic!("a confirmation has work")
    };
    let script = Script::of(vec![declined("insufficient_funds")]);
    let store = &o.store;
    let record = |a: &switchyard_processors::payment::Attempt| {
        assert!(record_attempt(store, work.seq, a).is_ok());
    };
    // Only the first processor answers before the "crash".
    let one = Work {
        plan: vec!["sandbox_a".into()],
        ..*work.clone()
    };
    ready(execute(
        &script, &o.configs, true, &one, first.card, &record,
    ));
    let kept: Option<Vec<switchyard_processors::payment::Attempt>> =
        o.store.get("attempts:1").ok().flatten();
    assert_eq!(kept.map(|k| k.len()), Some(1), "stored before the next");
    o.now_ms += STALE_AFTER_MS;
    let r = o.run(
        o.confirm().with_card(VISA),
        &Script::of(vec![declined("insufficient_funds"), approved("sbx_2")]),
    );
    assert_eq!(status_of(&r), "succeeded");
    assert_eq!(
        o.payment().routing.attempts.len(),
        3,
        "the dead run's attempt too"
    );

    // The cap: soft declines until 20 attempts, then no more.
    let mut o = Object::new();
    o.run(
        o.create(1000, CaptureMethod::Automatic, false),
        &Script::default(),
    );
    let mut confirmations = 0;
    loop {
        let script = Script::of(vec![
            declined("insufficient_funds"),
            declined("insufficient_funds"),
        ]);
        // After a decline a confirmation brings a new payment method.
        let mut c = o.confirm().with_card(VISA);
        if let Some(a) = c.b.attach.as_mut() {
            a.payment_method = format!("pm_raw_{confirmations}");
        }
        let r = o.run(c, &script);
        if error_of(&r).2 == "payment_intent_unexpected_state" {
            assert!(body(&r)["error"]["message"]
                .as_str()
                .unwrap_or("")
                .contains("20 processor attempts"));
            assert!(script.sent().is_empty());
            break;
        }
        confirmations += 1;
        assert!(confirmations <= 10, "the cap holds");
    }
    assert_eq!(o.payment().routing.attempts.len(), MAX_ATTEMPTS);
}

#[test]
fn authentication_required_stops_the_plan() {
    let mut o = Object::new();
    let script = Script::of(vec![declined("authentication_required")]);
    let r = o.run(o.create(1000, CaptureMethod::Automatic, true), &script);
    assert_eq!(body(&r)["error"]["code"], "authentication_required");
    assert_eq!(
        script.sent().len(),
        1,
        "another processor would ask the same"
    );
    assert_eq!(
        o.payment().routing.attempts[0].outcome,
        AttemptOutcome::AuthenticationRequired
    );
}

#[test]
fn an_open_circuit_is_skipped_and_a_probe_is_reported() {
    let mut o = Object::new();
    let script = Script::of(vec![approved("sbx_2")]);
    script
        .circuits
        .borrow_mut()
        .insert("sandbox_a".into(), Admission::Skip);
    let r = o.run(o.create(1000, CaptureMethod::Automatic, true), &script);
    assert_eq!(status_of(&r), "succeeded");
    assert_eq!(body(&r)["processor_details"]["processor"], "sandbox_b");
    assert_eq!(script.sent(), [("sandbox_b".into(), "authorize".into())]);
    let attempts = o.payment().routing.attempts;
    assert_eq!(attempts[0].outcome, AttemptOutcome::Skipped);
    assert_eq!(attempts[0].code.as_deref(), Some("circuit_open"));
    assert_eq!(body(&r)["routing"]["attempts"][0]["outcome"], "skipped");
    assert_eq!(
        *script.reports.borrow(),
        [("sandbox_b".to_owned(), false, false)],
        "a skipped processor is not reported; an approval is a working processor"
    );

    // A probe: the call goes, and its result is reported as the probe's.
    let mut o = Object::new();
    let script = Script::of(vec![refused_connection(), approved("sbx_2")]);
    script
        .circuits
        .borrow_mut()
        .insert("sandbox_a".into(), Admission::Probe);
    let r = o.run(o.create(1000, CaptureMethod::Automatic, true), &script);
    assert_eq!(status_of(&r), "succeeded");
    assert_eq!(
        *script.reports.borrow(),
        [
            ("sandbox_a".to_owned(), true, true),
            ("sandbox_b".to_owned(), false, false)
        ]
    );
}

#[test]
fn declines_are_not_failures_of_the_processor() {
    let mut o = Object::new();
    let script = Script::of(vec![declined("insufficient_funds"), lost(), lost()]);
    o.run(o.create(1000, CaptureMethod::Automatic, true), &script);
    assert_eq!(
        *script.reports.borrow(),
        [
            ("sandbox_a".to_owned(), false, false),
            ("sandbox_b".to_owned(), true, false),
            ("sandbox_b".to_owned(), true, false)
        ]
    );
}

#[test]
fn a_late_authorization_of_a_given_up_payment_is_voided() {
    let configs: Vec<ProcessorConfig> = ["sandbox_a", "sandbox_b"]
        .iter()
        .map(|id| ProcessorConfig::sandbox(id))
        .collect();
    let g = GivenUp {
        payment_id: "pi_late".into(),
        seq: 1,
        plan: vec!["sandbox_a".into(), "sandbox_b".into()],
        amount: 1000,
        currency: "usd".into(),
    };
    // sandbox_a: no record; sandbox_b: authorized after all → voided.
    let script = Script::of(vec![
        no_record(),
        approved("sbx_late"),
        approved("sbx_late"),
    ]);
    let found = ready(check_given_up(&script, &configs, &g));
    assert_eq!(
        found,
        LateCheck::Voided {
            processor: "sandbox_b".into(),
            reference: "sbx_late".into()
        }
    );
    assert_eq!(
        script.sent(),
        [
            ("sandbox_a".into(), "lookup".into()),
            ("sandbox_b".into(), "lookup".into()),
            ("sandbox_b".into(), "void".into())
        ]
    );
    assert_eq!(
        script.keys.borrow()[..2],
        [
            "pi_late-authorize-1-sandbox_a",
            "pi_late-authorize-1-sandbox_b"
        ],
        "asked by the confirmation's own keys"
    );
    // Nothing anywhere; or a processor that cannot say: look again later.
    let script = Script::of(vec![no_record(), no_record()]);
    assert_eq!(
        ready(check_given_up(&script, &configs, &g)),
        LateCheck::Nothing
    );
    let script = Script::of(vec![lost()]);
    assert!(matches!(
        ready(check_given_up(&script, &configs, &g)),
        LateCheck::Unsettled { .. }
    ));
}

#[test]
fn the_reconciliation_queue_watches_what_is_unsettled() {
    let mut o = Object::new();
    let pi = o.id.clone();
    o.run(
        o.create(1000, CaptureMethod::Automatic, true),
        &Script::of(vec![lost(), lost()]),
    );
    assert_eq!(o.unsettled, [(Unsettled::Payment(pi.clone()), true)]);
    // Reconciled: forgotten.
    o.run(o.req(Op::Reconcile), &Script::of(vec![approved("sbx_1")]));
    assert_eq!(o.unsettled, [(Unsettled::Payment(pi.clone()), false)]);
    // A refund whose outcome is unknown is watched, then forgotten.
    let r = o.run(o.refund(Some(300)), &Script::of(vec![lost(), lost()]));
    let refund_id = body(&r)["id"].as_str().unwrap_or_default().to_owned();
    assert!(refund_id.starts_with("re_"), "{}", body(&r));
    assert_eq!(o.unsettled, [(Unsettled::Refund(refund_id.clone()), true)]);
    o.run(
        o.retrieve_refund(&refund_id),
        &Script::of(vec![approved("sbx_re_1")]),
    );
    assert_eq!(o.unsettled, [(Unsettled::Refund(refund_id), false)]);

    // No record anywhere: the payment fails, and is watched as given up.
    let mut o = Object::new();
    o.run(
        o.create(1000, CaptureMethod::Automatic, true),
        &Script::of(vec![lost(), lost()]),
    );
    o.run(
        o.req(Op::Reconcile),
        &Script::of(vec![no_record(), no_record()]),
    );
    assert_eq!(o.unsettled.len(), 2);
    assert_eq!(o.unsettled[0], (Unsettled::Payment(o.id.clone()), false));
    match &o.unsettled[1] {
        (Unsettled::GivenUp(g), true) => {
            assert_eq!(g.payment_id, o.id);
            assert_eq!(g.plan, ["sandbox_a", "sandbox_b"]);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_processor_account_of_another_currency_is_passed_over() {
    let mut o = Object::new();
    o.configs[0].currency = Some("USD".into());
    let script = Script::of(vec![approved("sbx_2")]);
    // The harness's payments are in EUR.
    let r = o.run(o.create(1000, CaptureMethod::Automatic, true), &script);
    assert_eq!(body(&r)["processor_details"]["processor"], "sandbox_b");
    assert_eq!(script.sent(), [("sandbox_b".into(), "authorize".into())]);
    let a = &o.payment().routing.attempts[0];
    assert_eq!(
        (a.outcome, a.code.as_deref()),
        (AttemptOutcome::NotProcessed, Some("currency_not_supported"))
    );
}

#[test]
fn a_retry_that_was_not_processed_does_not_settle_an_unknown_outcome() {
    // Lost, then the retry is refused: the first call may have charged, so
    // the plan never moves on.
    let mut o = Object::new();
    let script = Script::of(vec![lost(), refused_connection()]);
    let r = o.run(o.create(1000, CaptureMethod::Automatic, true), &script);
    assert_eq!(status_of(&r), "processing");
    assert_eq!(
        script.sent(),
        [
            ("sandbox_a".into(), "authorize".into()),
            ("sandbox_a".into(), "authorize".into())
        ]
    );
    // The same for a capture: still unknown, not "failed".
    let mut o = Object::new();
    o.run(
        o.create(1000, CaptureMethod::Manual, true),
        &Script::of(vec![approved("sbx_1")]),
    );
    let r = o.run(
        o.capture(None),
        &Script::of(vec![lost(), refused_connection()]),
    );
    assert_eq!(error_of(&r).0, 502);
    assert_eq!(o.payment().pending.map(|p| p.op), Some(PendingOp::Capture));
}

#[test]
fn reconciliation_sends_a_capture_of_unknown_outcome_again() {
    let mut o = Object::new();
    let pi = o.id.clone();
    o.run(
        o.create(1000, CaptureMethod::Manual, true),
        &Script::of(vec![approved("sbx_1")]),
    );
    o.run(o.capture(Some(600)), &Script::of(vec![lost(), lost()]));
    assert_eq!(o.unsettled, [(Unsettled::Payment(pi.clone()), true)]);
    // A plain retrieve does not touch it, nor does the queue's
    // reconciliation while the capture may still be under way.
    let r = o.run(o.req(Op::Reconcile), &Script::default());
    assert_eq!(status_of(&r), "requires_capture");
    let mut settle = o.req(Op::Reconcile);
    settle.b.settle_follow_ups = true;
    let r = o.run(settle, &Script::default());
    assert_eq!(status_of(&r), "requires_capture");
    // Once abandoned, the queue's reconciliation sends it again: same key,
    // same amount.
    o.now_ms += STALE_AFTER_MS;
    let mut settle = o.req(Op::Reconcile);
    settle.b.settle_follow_ups = true;
    let script = Script::of(vec![approved("sbx_1")]);
    let r = o.run(settle, &script);
    assert_eq!(status_of(&r), "succeeded");
    assert_eq!(body(&r)["amount_received"], 600);
    assert_eq!(script.sent(), [("sandbox_a".into(), "capture".into())]);
    assert_eq!(
        script.keys.borrow()[0],
        format!("{pi}-capture-1-sandbox_a"),
        "the first capture's key"
    );
    assert_eq!(o.unsettled, [(Unsettled::Payment(pi), false)]);
}

#[test]
fn update_merges_metadata_and_changes_money_before_confirmation_only() {
    use switchyard_processors::extras::Update;
    let mut o = Object::new();
    o.run(
        o.create(2000, CaptureMethod::Manual, false),
        &Script::default(),
    );
    let mut u = o.req(Op::Update).keyed("u1", "f1");
    let mut metadata = std::collections::BTreeMap::new();
    metadata.insert("a".to_owned(), Some("1".to_owned()));
    u.b.update = Some(Update {
        amount: Some(3000),
        currency: Some("usd".into()),
        metadata,
        description: Some(Some("order".into())),
        ..Update::default()
    });
    let r = o.run(u, &Script::default());
    assert_eq!(r.answer.status, 200, "{}", body(&r));
    assert_eq!(body(&r)["amount"], 3000);
    assert_eq!(body(&r)["metadata"]["a"], "1");
    assert_eq!(body(&r)["description"], "order");
    // Authorized: the amount cannot change any more; metadata still can,
    // and a refused update saves no result for its key.
    o.run(o.confirm(), &Script::of(vec![approved("sbx_1")]));
    let mut late = o.req(Op::Update).keyed("u2", "f2");
    late.b.update = Some(Update {
        amount: Some(10),
        ..Update::default()
    });
    let r = o.run(late, &Script::default());
    assert_eq!(error_of(&r).0, 400);
    assert!(r.key_released, "a refused update is not stored for its key");
    assert_eq!(o.payment().amount, 3000);
    let mut meta = o.req(Op::Update);
    let mut m = std::collections::BTreeMap::new();
    m.insert("a".to_owned(), None);
    meta.b.update = Some(Update {
        metadata: m,
        ..Update::default()
    });
    let r = o.run(meta, &Script::default());
    assert_eq!(body(&r)["metadata"], serde_json::json!({}));
}

#[test]
fn charges_one_per_attempt_that_reached_a_processor_and_refunds_name_theirs() {
    let mut o = Object::new();
    o.configs.push(ProcessorConfig::sandbox("sandbox_c"));
    let r = o.run(
        o.create(2000, CaptureMethod::Automatic, true),
        &Script::of(vec![declined("insufficient_funds"), approved("sbx_2")]),
    );
    assert_eq!(status_of(&r), "succeeded", "{}", body(&r));
    let list = o.run(o.req(Op::Charges), &Script::default());
    let data = body(&list)["data"].as_array().cloned().unwrap_or_default();
    assert_eq!(data.len(), 2);
    // Newest first: the authorized one, then the decline.
    assert_eq!(data[0]["status"], "succeeded");
    assert_eq!(data[1]["status"], "failed");
    assert_eq!(body(&r)["latest_charge"], data[0]["id"]);
    let mut one = o.req(Op::Charges);
    one.b.charge_id = data[1]["id"].as_str().map(str::to_owned);
    let got = o.run(one, &Script::default());
    assert_eq!(body(&got)["outcome"]["reason"], "insufficient_funds");
    // A refund of the failed charge is refused; of the paid one it names it.
    let mut bad = o.refund(Some(100));
    bad.b.charge_id = data[1]["id"].as_str().map(str::to_owned);
    assert_eq!(error_of(&o.run(bad, &Script::default())).0, 400);
    let r = o.run(o.refund(Some(100)), &Script::of(vec![approved("sbx_re")]));
    assert_eq!(body(&r)["charge"], data[0]["id"]);
    assert!(body(&r).get("failure_reason").is_none());
    let mut missing = o.req(Op::Charges);
    missing.b.charge_id = Some(switchyard_processors::extras::charge_id(&o.id, 9));
    assert_eq!(o.run(missing, &Script::default()).answer.status, 404);
}

#[test]
fn a_client_secret_opens_its_payment_only_and_shows_the_client_fields() {
    let mut o = Object::new();
    let r = o.run(
        o.create(2000, CaptureMethod::Automatic, false),
        &Script::default(),
    );
    let secret = body(&r)["client_secret"].as_str().unwrap_or("").to_owned();
    assert!(secret.starts_with(&format!("{}_secret_", o.id)), "{secret}");
    let mut wrong = o.req(Op::Reconcile);
    wrong.b.client_secret = Some(format!("{}_secret_nope", o.id));
    wrong.b.view.client = true;
    let r = o.run(wrong, &Script::default());
    assert_eq!(error_of(&r).0, 400);
    assert_eq!(body(&r)["error"]["param"], "client_secret");
    let mut right = o.req(Op::Reconcile);
    right.b.client_secret = Some(secret);
    right.b.view.client = true;
    let r = o.run(right, &Script::default());
    assert_eq!(r.answer.status, 200);
    let b = body(&r);
    assert!(
        b.get("metadata").is_none() && b.get("routing").is_none(),
        "{b}"
    );
    assert!(b.get("client_secret").is_some());
}

#[test]
fn a_lock_timeout_saves_no_result_for_its_key() {
    let mut o = Object::new();
    o.run(
        o.create(2000, CaptureMethod::Manual, true),
        &Script::of(vec![approved("sbx_1")]),
    );
    // A capture under way (begun, not finished) ...
    let first = o.capture(None);
    assert!(matches!(o.begin(&first), Begun::Work(_)));
    // ... meets a second one: 429, and its key is free for the retry.
    let second = o.capture(None).keyed("cap", "f");
    let r = o.run(second, &Script::default());
    assert_eq!(error_of(&r).0, 429);
    assert!(r.key_released);
}

#[test]
fn index_rows_follow_what_changed_with_a_rising_version() {
    use crate::protocol::IndexTable;
    let mut o = Object::new();
    let before = snapshot(&o.store).unwrap_or_default();
    let create = o.create(2000, CaptureMethod::Automatic, true);
    let b = create.b.clone();
    o.run(create, &Script::of(vec![approved("sbx_1")]));
    let rows = index_rows(&o.store, before.as_deref(), &b).unwrap_or_default();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].table, IndexTable::Intents);
    assert_eq!(rows[0].status, "succeeded");
    assert!(rows[0].charge.is_some(), "the latest Charge, for expand");
    let v1 = rows[0].version;
    // A retrieval that changes nothing writes nothing.
    let before = snapshot(&o.store).unwrap_or_default();
    let get = o.req(Op::Reconcile);
    let b = get.b.clone();
    o.run(get, &Script::default());
    assert!(index_rows(&o.store, before.as_deref(), &b)
        .unwrap_or_default()
        .is_empty());
    // A refund: the payment's row and the refund's, a later version.
    let before = snapshot(&o.store).unwrap_or_default();
    let refund = o.refund(Some(500));
    let b = refund.b.clone();
    o.run(refund, &Script::of(vec![approved("sbx_re")]));
    let rows = index_rows(&o.store, before.as_deref(), &b).unwrap_or_default();
    let tables: Vec<IndexTable> = rows.iter().map(|r| r.table).collect();
    assert_eq!(tables, vec![IndexTable::Intents, IndexTable::Refunds]);
    assert!(rows.iter().all(|r| r.version > v1));
    assert_eq!(rows[1].payment_intent, o.id);
}

#[test]
fn auth_rate_routes_by_the_rates_given_and_records_why() {
    let mut o = Object::new();
    let mut create = o.create(1000, CaptureMethod::Automatic, true);
    create.b.ruleset = Some(RulesetRef {
        id: "rs_rate".into(),
        ruleset: Some(json!({
            "default": {
                "auth_rate": {"processors": ["sandbox_a", "sandbox_b"], "explore": 0, "min_sample": 10},
                "fallback": ["sandbox_a"]
            }
        })),
    });
    // sandbox_b authorizes more visa payments: it goes first, then the fallback.
    o.rates = switchyard_rules::Rates::from_value(
        &json!([
            {"processor": "sandbox_a", "brand": "visa", "attempts": 100, "authorized": 60},
            {"processor": "sandbox_b", "brand": "visa", "attempts": 100, "authorized": 95}
        ]),
        "",
    )
    .unwrap_or_else(|e| panic!("rates: {e:?}"));
    let script = Script::of(vec![approved("sbx_1")]);
    let r = o.run(create, &script);
    assert_eq!(status_of(&r), "succeeded");
    assert_eq!(script.sent(), [("sandbox_b".into(), "authorize".into())]);
    let pi = o.payment();
    let info = pi
        .routing
        .auth_rate
        .unwrap_or_else(|| panic!("no auth_rate"));
    assert_eq!(
        (info.picked.as_str(), info.reason, info.candidates.len()),
        ("sandbox_b", switchyard_rules::Reason::BestRate, 2)
    );
    assert_eq!(info.candidates[1].rate, Some(0.95));
    // Shown on the payment's routing, beside the rule that decided.
    let body: Value = serde_json::from_str(r.answer.body.get()).unwrap_or_default();
    assert_eq!(body["routing"]["auth_rate"]["picked"], "sandbox_b");
    assert_eq!(
        body["routing"]["auth_rate"]["candidates"][0]["group"],
        "brand"
    );
}
