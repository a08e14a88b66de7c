//! The golden cases of tests/cases/ run through the binding's exports in a
//! headless browser (wasm-bindgen-test; Chromium with CHROMEDRIVER, Firefox
//! with GECKODRIVER). A browser test cannot read files, so the cases are
//! embedded at compile time by golden_web/cases_gen.rs, which
//! `sh tests/cases/embed.sh` writes (the native golden test checks it is
//! current).
#![cfg(target_arch = "wasm32")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "golden_web/cases_gen.rs"]
mod cases_gen;
#[path = "../../../tests/cases/check.rs"]
mod check;

use check::{
    actual_issue_set, check_decision, compare_sets, expected_simulation, parse_case, Case, Expect,
    Source,
};
use serde_json::Value;
use switchyard_preview::{
    preview, validate, JsRouter, OptionsArg, RatesArg, RouteOptionsArg, SimulateOptionsArg,
};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::{console_log, wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

/// A JS value built the way a page builds it: JSON.parse.
fn js(v: &Value) -> JsValue {
    js_sys::JSON::parse(&v.to_string()).expect("JSON.parse of serde_json output")
}

/// A JS value read back through JSON.stringify (`undefined` for what JSON
/// cannot hold, so a missing `null` shows up as a missing key). Integers past
/// 2^53 - 1 come out of the binding as BigInt (exact); they are compared by
/// value with the case's JSON numbers.
fn json(v: &JsValue) -> Value {
    let bigint_as_number =
        js_sys::Function::new_with_args("k, v", "return typeof v === 'bigint' ? Number(v) : v");
    js_sys::JSON::stringify_with_replacer(v, &bigint_as_number)
        .ok()
        .and_then(|s| s.as_string())
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or(Value::Null)
}

fn ruleset_js(case: &Case) -> JsValue {
    match &case.source {
        Source::Value(v) => js(v),
        Source::Text(t) => JsValue::from_str(t),
    }
}

/// The case's options as JavaScript passes them: absent, or an object.
fn options_js(case: &Case) -> Option<OptionsArg> {
    match case.options_value() {
        Value::Null => None,
        v => Some(js(&v).unchecked_into()),
    }
}

/// The case's options with its rates (when it has some) as `rates`.
fn options_with_rates(case: &Case) -> Option<OptionsArg> {
    let mut o = match case.options_value() {
        Value::Object(o) => o,
        _ => serde_json::Map::new(),
    };
    if let Some(r) = &case.rates {
        o.insert("rates".into(), r.clone());
    }
    (!o.is_empty()).then(|| js(&Value::Object(o)).unchecked_into())
}

/// `{rates}` (plus `extra`) when the case has rates, else `extra` alone.
fn with_rates(case: &Case, extra: Value) -> JsValue {
    let mut o = match extra {
        Value::Object(o) => o,
        _ => serde_json::Map::new(),
    };
    if let Some(r) = &case.rates {
        o.insert("rates".into(), r.clone());
    }
    js(&Value::Object(o))
}

/// The `(path, code)` set of a thrown SwitchyardError, or a problem.
fn thrown_issues(
    what: &str,
    e: &JsValue,
    problems: &mut Vec<String>,
) -> std::collections::BTreeSet<(String, String)> {
    let name = js_sys::Reflect::get(e, &JsValue::from_str("name"))
        .ok()
        .and_then(|n| n.as_string());
    if name.as_deref() != Some("SwitchyardError") {
        problems.push(format!(
            "{what}: threw something else than SwitchyardError: {:?}",
            json(e)
        ));
    }
    let issues =
        js_sys::Reflect::get(e, &JsValue::from_str("issues")).unwrap_or(JsValue::UNDEFINED);
    actual_issue_set(&json(&issues), what, problems)
}

fn run(case: &Case) -> Vec<String> {
    let mut problems = Vec::new();
    let rs = ruleset_js(case);
    let opts = options_js(case);
    match &case.expect {
        Expect::Validation { errors, warnings } => {
            let mut inputs = vec![("validate", rs.clone())];
            if let Source::Value(_) = case.source {
                inputs.push(("validate(text)", JsValue::from_str(&case.ruleset_text())));
            }
            for (via, input) in inputs {
                let r = json(&validate(input, opts.clone()));
                let got_e = actual_issue_set(&r["errors"], via, &mut problems);
                let got_w = actual_issue_set(&r["warnings"], via, &mut problems);
                problems.extend(compare_sets(&format!("{via} errors"), errors, &got_e));
                problems.extend(compare_sets(&format!("{via} warnings"), warnings, &got_w));
                if r["ok"] != Value::Bool(errors.is_empty()) {
                    problems.push(format!(
                        "{via}: ok is {} with {} expected errors",
                        r["ok"],
                        errors.len()
                    ));
                }
            }
            match JsRouter::new(rs, opts) {
                Ok(_) if errors.is_empty() => {}
                Ok(_) => problems.push("new Router accepted an invalid rule set".into()),
                Err(e) if errors.is_empty() => problems.push(format!(
                    "new Router refused a valid rule set: {:?}",
                    json(&e)
                )),
                Err(e) => {
                    let got = thrown_issues("Router", &e, &mut problems);
                    problems.extend(compare_sets("Router errors", errors, &got));
                }
            }
        }
        Expect::Decision(expected) => {
            let payment = js(case.payment.as_ref().unwrap_or(&Value::Null));
            // preview's options: the case's rates, as an array and as JSON text
            let preview_opts = case
                .rates
                .as_ref()
                .map(|r| js(&serde_json::json!({ "rates": r })));
            let previewed = match preview(
                rs.clone(),
                payment.clone(),
                preview_opts.clone().map(JsCast::unchecked_into),
            ) {
                Ok(d) => json(&d),
                Err(e) => return vec![format!("preview threw {:?}", json(&e))],
            };
            problems.extend(
                check_decision(expected, &previewed, true)
                    .into_iter()
                    .map(|p| format!("preview: {p}")),
            );
            if let Some(r) = &case.rates {
                let text = serde_json::json!({ "rates": r.to_string() });
                match preview(
                    rs.clone(),
                    payment.clone(),
                    Some(js(&text).unchecked_into()),
                ) {
                    Ok(d) if json(&d) == previewed => {}
                    Ok(d) => problems.push(format!(
                        "preview with rates as JSON text disagrees: {}",
                        json(&d)
                    )),
                    Err(e) => problems.push(format!("preview(rates text) threw {:?}", json(&e))),
                }
            }
            // The router's own rates (options.rates)
            let router = match JsRouter::new(rs.clone(), options_with_rates(case)) {
                Ok(r) => r,
                Err(e) => return vec![format!("new Router threw {:?}", json(&e))],
            };
            match router.route(payment.clone(), None) {
                Ok(d) => {
                    let d = json(&d);
                    problems.extend(
                        check_decision(expected, &d, false)
                            .into_iter()
                            .map(|p| format!("route: {p}")),
                    );
                    if d.get("trace").is_some() {
                        problems.push("route: carries a trace without {trace: true}".into());
                    }
                }
                Err(e) => problems.push(format!("route threw {:?}", json(&e))),
            }
            match router.route(
                payment.clone(),
                Some(js(&serde_json::json!({"trace": true})).unchecked_into::<RouteOptionsArg>()),
            ) {
                Ok(d) if json(&d) == previewed => {}
                Ok(d) => problems.push(format!(
                    "preview and route({{trace:true}}) disagree: {previewed} vs {}",
                    json(&d)
                )),
                Err(e) => problems.push(format!("route({{trace:true}}) threw {:?}", json(&e))),
            }
            // Per-call rates over a router bound to none, then setRates
            let mut bare = match JsRouter::new(
                rs,
                Some(js(&serde_json::json!({ "rates": [] })).unchecked_into()),
            ) {
                Ok(r) => r,
                Err(e) => return vec![format!("new Router({{rates: []}}) threw {:?}", json(&e))],
            };
            let traced = with_rates(case, serde_json::json!({ "trace": true }));
            match bare.route(payment.clone(), Some(traced.unchecked_into())) {
                Ok(d) if json(&d) == previewed => {}
                Ok(d) => problems.push(format!(
                    "route(p, {{trace, rates}}) disagrees with preview: {}",
                    json(&d)
                )),
                Err(e) => problems.push(format!("route(p, {{trace, rates}}) threw {:?}", json(&e))),
            }
            let rates_js = case.rates.as_ref().map_or(JsValue::NULL, js);
            match bare
                .set_rates(rates_js.unchecked_into::<RatesArg>())
                .and_then(|()| {
                    bare.route(
                        payment.clone(),
                        Some(js(&serde_json::json!({"trace": true})).unchecked_into()),
                    )
                }) {
                Ok(d) if json(&d) == previewed => {}
                Ok(d) => problems.push(format!(
                    "setRates then route disagrees with preview: {}",
                    json(&d)
                )),
                Err(e) => problems.push(format!("setRates then route threw {:?}", json(&e))),
            }
            let want = expected_simulation(expected);
            let batch: JsValue = js_sys::Array::of1(&payment).into();
            let batch_text = JsValue::from_str(&format!(
                "[{}]",
                case.payment.as_ref().unwrap_or(&Value::Null)
            ));
            for (via, got) in [
                ("simulate", router.simulate(batch.clone(), None)),
                ("simulate(text)", router.simulate(batch_text.clone(), None)),
                (
                    "simulate(p, {rates})",
                    bare.simulate(
                        batch,
                        Some(with_rates(case, Value::Null).unchecked_into::<SimulateOptionsArg>()),
                    ),
                ),
                (
                    "simulate(text, {rates})",
                    bare.simulate(
                        batch_text,
                        Some(with_rates(case, Value::Null).unchecked_into::<SimulateOptionsArg>()),
                    ),
                ),
            ] {
                match got {
                    Ok(s) if json(&s) == want => {}
                    Ok(s) => problems.push(format!("{via}: expected {want}, got {}", json(&s))),
                    Err(e) => problems.push(format!("{via} threw {:?}", json(&e))),
                }
            }
        }
        Expect::PaymentErrors(expected) => {
            let payment = js(case.payment.as_ref().unwrap_or(&Value::Null));
            match preview(rs.clone(), payment.clone(), None) {
                Ok(d) => problems.push(format!("preview accepted the payment: {}", json(&d))),
                Err(e) => {
                    let message = js_sys::Reflect::get(&e, &JsValue::from_str("message"))
                        .unwrap_or(JsValue::UNDEFINED);
                    let issues = js_sys::Reflect::get(&e, &JsValue::from_str("issues"))
                        .unwrap_or(JsValue::UNDEFINED);
                    problems.extend(case.echo_problem(
                        "SwitchyardError",
                        &format!("{} {}", json(&message), json(&issues)),
                    ));
                    let got = thrown_issues("preview", &e, &mut problems);
                    problems.extend(compare_sets("preview payment errors", expected, &got));
                }
            }
            match JsRouter::new(rs, opts).map(|r| r.route(payment, None)) {
                Err(e) => problems.push(format!("new Router threw {:?}", json(&e))),
                Ok(Ok(d)) => problems.push(format!("route accepted the payment: {}", json(&d))),
                Ok(Err(e)) => {
                    let got = thrown_issues("route", &e, &mut problems);
                    problems.extend(compare_sets("route payment errors", expected, &got));
                }
            }
        }
    }
    problems
}

#[wasm_bindgen_test]
fn golden_cases_in_the_browser() {
    let cases = cases_gen::CASES;
    assert!(cases.len() >= 100, "only {} golden cases", cases.len());
    let mut failures = Vec::new();
    for (name, text) in cases {
        let problems = match parse_case(text) {
            Ok(case) => run(&case),
            Err(e) => vec![format!("bad case file: {e}")],
        };
        for p in problems {
            // logged as they come, so that a trap later still leaves them
            console_log!("golden failure: {name}: {p}");
            failures.push(format!("{name}: {p}"));
        }
    }
    console_log!(
        "golden: {} cases in the browser, {} failures",
        cases.len(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} golden failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
