//! The golden cases of tests/cases/ (format: tests/cases/README.md), run
//! natively through the crate's public API. One test runs every case and
//! reports every failure at once, with the file name.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../../tests/cases/check.rs"]
mod check;

use check::{
    actual_issue_set, check_decision, compare_sets, expected_simulation, parse_case, Case, Expect,
    Source,
};
use serde_json::Value;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::Instant;
use switchyard_rules::{validate_str, validate_value, Payment, Rates, Router, ValidateOptions};

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/cases")
}

fn case_files() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(cases_dir())
        .expect("tests/cases exists")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    names
}

fn to_json<T: serde::Serialize>(t: &T) -> Value {
    serde_json::to_value(t).expect("engine output serialises")
}

fn opts_of(case: &Case) -> ValidateOptions {
    ValidateOptions {
        processors: case.processors.clone(),
    }
}

/// Runs one case; each line returned is one disagreement with the case.
fn run(case: &Case) -> Vec<String> {
    let opts = opts_of(case);
    let mut problems = Vec::new();
    match &case.expect {
        Expect::Validation { errors, warnings } => {
            let results = match &case.source {
                Source::Text(t) => vec![("validate_str", validate_str(t, &opts))],
                Source::Value(v) => vec![
                    ("validate_value", validate_value(v, &opts)),
                    ("validate_str", validate_str(&v.to_string(), &opts)),
                ],
            };
            for (via, r) in &results {
                let got_e = actual_issue_set(&to_json(&r.errors), via, &mut problems);
                let got_w = actual_issue_set(&to_json(&r.warnings), via, &mut problems);
                problems.extend(compare_sets(&format!("{via} errors"), errors, &got_e));
                problems.extend(compare_sets(&format!("{via} warnings"), warnings, &got_w));
                if r.ok != errors.is_empty() {
                    problems.push(format!(
                        "{via}: ok is {} with {} expected errors",
                        r.ok,
                        errors.len()
                    ));
                }
            }
            let built = match &case.source {
                Source::Text(t) => Router::from_json_str(t, &opts),
                Source::Value(v) => Router::from_value(v, &opts),
            };
            match built {
                Ok(_) if errors.is_empty() => {}
                Ok(_) => problems.push("Router built from an invalid rule set".into()),
                Err(issues) if errors.is_empty() => problems.push(format!(
                    "Router refused a valid rule set: {}",
                    to_json(&issues)
                )),
                Err(issues) => {
                    let got = actual_issue_set(&to_json(&issues), "Router", &mut problems);
                    problems.extend(compare_sets("Router errors", errors, &got));
                }
            }
        }
        Expect::Decision(expected) => {
            let Source::Value(rs) = &case.source else {
                return vec!["decision case without a ruleset value".into()];
            };
            let router = match Router::from_value(rs, &opts) {
                Ok(r) => r,
                Err(issues) => {
                    return vec![format!("Router refused the rule set: {}", to_json(&issues))]
                }
            };
            let payment = match Payment::from_value(case.payment.as_ref().unwrap_or(&Value::Null)) {
                Ok(p) => p,
                Err(issues) => return vec![format!("payment refused: {}", to_json(&issues))],
            };
            let rates = match &case.rates {
                None => Rates::default(),
                Some(v) => match Rates::from_value(v, "/rates") {
                    Ok(r) => r,
                    Err(issues) => return vec![format!("rates refused: {}", to_json(&issues))],
                },
            };
            let key = case.routing_key();
            let explained = to_json(&router.explain_with(&payment, &key, &rates));
            problems.extend(case.echo_problem("explain", &explained.to_string()));
            problems.extend(
                check_decision(expected, &explained, true)
                    .into_iter()
                    .map(|p| format!("explain: {p}")),
            );
            if explained.get("trace").is_none() {
                problems.push("explain: no trace".into());
            }
            // the hot path decides the same, without a trace
            let decided = to_json(&router.decide_with(&payment, &key, &rates));
            problems.extend(
                check_decision(expected, &decided, false)
                    .into_iter()
                    .map(|p| format!("decide: {p}")),
            );
            if decided.get("trace").is_some() {
                problems.push("decide: carries a trace".into());
            }
            // simulate over this one payment agrees
            let sim = to_json(&router.simulate([&payment], &rates));
            let want = expected_simulation(expected);
            if sim != want {
                problems.push(format!("simulate: expected {want}, got {sim}"));
            }
        }
        Expect::PaymentErrors(expected) => {
            let Source::Value(rs) = &case.source else {
                return vec!["payment case without a ruleset value".into()];
            };
            if let Err(issues) = Router::from_value(rs, &opts) {
                problems.push(format!("Router refused the rule set: {}", to_json(&issues)));
            }
            match Payment::from_value(case.payment.as_ref().unwrap_or(&Value::Null)) {
                Ok(_) => problems.push("payment accepted".into()),
                Err(issues) => {
                    problems
                        .extend(case.echo_problem("payment issues", &to_json(&issues).to_string()));
                    let got = actual_issue_set(&to_json(&issues), "payment", &mut problems);
                    problems.extend(compare_sets("payment errors", expected, &got));
                }
            }
        }
    }
    problems
}

#[test]
fn golden_cases() {
    let names = case_files();
    assert!(names.len() >= 100, "only {} golden cases", names.len());
    let mut failures = Vec::new();
    let mut counts = [0usize; 3];
    for name in &names {
        let text = match std::fs::read_to_string(cases_dir().join(name)) {
            Ok(t) => t,
            Err(e) => {
                failures.push(format!("{name}: unreadable: {e}"));
                continue;
            }
        };
        let case = match parse_case(&text) {
            Ok(c) => c,
            Err(e) => {
                failures.push(format!("{name}: bad case file: {e}"));
                continue;
            }
        };
        counts[match case.expect {
            Expect::Decision(_) => 0,
            Expect::Validation { .. } => 1,
            Expect::PaymentErrors(_) => 2,
        }] += 1;
        let started = Instant::now();
        match catch_unwind(AssertUnwindSafe(|| run(&case))) {
            Ok(problems) => failures.extend(problems.into_iter().map(|p| format!("{name}: {p}"))),
            Err(payload) => {
                let msg = payload
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                failures.push(format!("{name}: PANICKED: {msg}"));
            }
        }
        let took = started.elapsed();
        if took.as_secs() >= 2 {
            eprintln!("golden: {name} took {took:?}");
        }
    }
    eprintln!(
        "golden: {} cases ({} decision, {} validation, {} payment-error), {} failures",
        names.len(),
        counts[0],
        counts[1],
        counts[2],
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} golden failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The browser test embeds the case files at compile time; its list must be
/// the directory's (rerun `sh tests/cases/embed.sh` after adding a case).
#[test]
fn embedded_case_list_is_current() {
    let gen =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../preview/tests/golden_web/cases_gen.rs");
    let text =
        std::fs::read_to_string(&gen).expect("crates/preview/tests/golden_web/cases_gen.rs exists");
    let mut listed: Vec<String> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("(\""))
        .filter_map(|l| l.split('"').next())
        .map(str::to_owned)
        .collect();
    listed.sort();
    assert_eq!(
        listed,
        case_files(),
        "cases_gen.rs is stale: run `sh tests/cases/embed.sh`"
    );
}
