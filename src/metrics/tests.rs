use super::query::{self, parse, Res};
use super::report::{answer, group_of, GroupRow, ShardAnswer};
use super::*;
use serde_json::Value;
use switchyard_processors::payment::{Attempt, AttemptOutcome as O};

fn attempt(p: &str, outcome: O, ms: u64, code: Option<&str>) -> Attempt {
    Attempt {
        processor: p.to_owned(),
        outcome,
        code: None,
        decline_code: code.map(str::to_owned),
        latency_ms: ms,
    }
}

fn facts(brand: &str, currency: &str, amount: u64) -> Facts {
    Facts {
        brand: brand.to_owned(),
        country: Some("US".to_owned()),
        funding: "credit".to_owned(),
        currency: currency.to_owned(),
        rule: Some("cheap".to_owned()),
        amount,
    }
}

#[test]
fn a_retried_payment_counts_once_and_its_recovery_at_the_processor_that_authorized() {
    let f = facts("visa", "usd", 2000);
    let rows = fold(
        &f,
        &[
            attempt("down", O::Skipped, 0, None),
            attempt("a", O::SoftDecline, 40, Some("insufficient_funds")),
            attempt("b", O::Authorized, 50, None),
        ],
    );
    assert_eq!(rows.len(), 3);
    let (k, down) = &rows[0];
    assert_eq!(k.get(Dim::Processor), "down");
    assert_eq!((down.skipped, down.attempts, down.payments), (1, 0, 0));
    assert_eq!(down.latency.count(), 0);
    let (_, a) = &rows[1];
    assert_eq!(
        (a.payments, a.amount, a.attempts, a.soft_declines),
        (1, 2000, 1, 1)
    );
    assert_eq!(a.declines.get("insufficient_funds"), Some(&1));
    let (kb, b) = &rows[2];
    assert_eq!(
        (
            b.authorized,
            b.authorized_amount,
            b.recovered,
            b.recovered_amount
        ),
        (1, 2000, 1, 2000)
    );
    assert_eq!(
        kb.0,
        ["b", "visa", "US", "credit", "usd", "cheap"].map(String::from)
    );
}

#[test]
fn every_outcome_has_its_counter_and_errors_are_the_unprocessed_and_unknown() {
    let f = Facts {
        country: None,
        rule: None,
        ..facts("mastercard", "eur", 500)
    };
    let all = [
        attempt("p", O::Authorized, 1, None),
        attempt("p", O::HardDecline, 2, None),
        attempt("p", O::AuthenticationRequired, 3, None),
        attempt("p", O::NotProcessed, 4, None),
        attempt("p", O::Unknown, 5, None),
    ];
    let rows = fold(&f, &all);
    // One processor: one key, merged.
    assert_eq!(rows.len(), 1);
    let (k, c) = &rows[0];
    assert_eq!(k.get(Dim::Country), "unknown");
    assert_eq!(k.get(Dim::Rule), "");
    assert_eq!(c.attempts, 5);
    assert_eq!(
        (
            c.authorized,
            c.hard_declines,
            c.authentication_required,
            c.not_processed,
            c.unknown
        ),
        (1, 1, 1, 1, 1)
    );
    // The same processor retried is no recovery.
    assert_eq!(c.recovered, 0);
    assert_eq!(c.declines.get("unspecified"), Some(&1));
    assert_eq!(c.latency.count(), 5);
}

#[test]
fn decline_codes_are_bounded_per_row() {
    let mut c = Counts::default();
    for i in 0..100 {
        c.add_decline(&format!("code_{i}"), 1);
    }
    assert_eq!(c.declines.len(), MAX_CODES + 1);
    assert_eq!(c.declines.get("other"), Some(&(100 - MAX_CODES as u64)));
}

#[test]
fn a_key_always_goes_to_one_shard_and_keys_spread() {
    let mut seen = std::collections::BTreeSet::new();
    for b in ["visa", "mastercard", "amex", "discover"] {
        for p in ["a", "b", "c", "d"] {
            let k = Key::of(p, &facts(b, "usd", 1));
            assert_eq!(shard_of(&k, 16), shard_of(&k.clone(), 16));
            seen.insert(shard_of(&k, 16));
        }
    }
    assert!(seen.len() >= 8, "16 keys over {} shards", seen.len());
    let mut batch = Batch::default();
    let f = facts("visa", "usd", 100);
    for (k, c) in fold(
        &f,
        &[
            attempt("a", O::SoftDecline, 3, None),
            attempt("b", O::Authorized, 4, None),
        ],
    ) {
        batch.add(7, k, &c);
    }
    let split = batch.clone().by_shard(16);
    let n: usize = split.values().map(|b| b.entries().count()).sum();
    assert_eq!(n, batch.entries().count());
}

fn q(s: &str) -> Result<query::Query, crate::error::ApiError> {
    // 2026-12-01 12:30:30 UTC
    parse(Some(s), 1_796_128_230_000)
}

fn param_of(e: crate::error::ApiError) -> String {
    e.body()["error"]["param"].as_str().unwrap_or("").to_owned()
}

#[test]
fn bad_parameters_are_refused_by_name() {
    for (s, param) in [
        ("window=0", "window"),
        ("window=abc", "window"),
        ("window=31622401", "window"),
        ("bucket=week", "bucket"),
        ("group_by[]=colour", "group_by"),
        ("brand=", "brand"),
        ("country=", "country"),
        ("colour=red", "colour"),
        // 30 days of minutes: more buckets than allowed, and not kept.
        ("window=2592000&bucket=minute", "bucket"),
        // Hours are kept 32 days.
        ("window=3456000&bucket=hour", "bucket"),
    ] {
        match q(s) {
            Ok(_) => panic!("{s} accepted"),
            Err(e) => assert_eq!(param_of(e), param, "{s}"),
        }
    }
}

#[test]
fn parameters_are_read() -> Result<(), crate::error::ApiError> {
    // `rule=`: the default route's (stored as the empty rule name).
    assert_eq!(q("rule=")?.filters, vec![(Dim::Rule, String::new())]);
    let d = q("")?;
    assert_eq!(
        (d.window_s, d.bucket, d.group_by.clone()),
        (3600, None, vec![Dim::Processor])
    );
    let x = q("window=86400&bucket=hour&group_by[]=brand&group_by[]=country&brand=VISA&country=us&currency=EUR")?;
    assert_eq!(x.bucket, Some(Res::Hour));
    assert_eq!(x.group_by, vec![Dim::Brand, Dim::Country]);
    assert_eq!(
        x.filters,
        vec![
            (Dim::Brand, "visa".to_owned()),
            (Dim::Country, "US".to_owned()),
            (Dim::Currency, "eur".to_owned())
        ]
    );
    // Hour buckets: the start is moved back to its hour.
    assert_eq!(x.start % 60, 0);
    assert_eq!(x.lo, x.start);
    Ok(())
}

/// Every minute of `[start, end)` is counted exactly once, from a cube
/// row (which holds a shard's minutes before its watermark `w`) or from a
/// minute row, and no minute outside it.
fn check_exactly_once(query: &str, now_ms: u64, w: u64) -> Result<(), crate::error::ApiError> {
    let x = parse(Some(query), now_ms)?;
    let group = super::report::group_of(&x);
    let cubes = query::cube_query(&x, &group, None)
        .map(|c| c.ranges)
        .unwrap_or_default();
    let minutes = query::minute_query(&x, &group, w, None).ranges;
    let lo = x.start.saturating_sub(3000);
    for m in lo..x.end {
        let from_cubes = cubes
            .iter()
            .filter(|(res, a, b)| *a <= res.floor(m) && res.floor(m) < *b && m < w)
            .count();
        let from_minutes = minutes.iter().filter(|(a, b)| *a <= m && m < *b).count();
        let want = usize::from(m >= x.start);
        assert_eq!(
            from_cubes + from_minutes,
            want,
            "{query} w={w}: minute {m} ({cubes:?} {minutes:?})"
        );
    }
    // Few cube ranges, whatever the window.
    assert!(cubes.len() <= 2, "{cubes:?}");
    Ok(())
}

#[test]
fn a_window_reads_each_minute_once_from_cubes_or_minutes() -> Result<(), crate::error::ApiError> {
    let now_ms = 1_796_128_230_000; // 2026-12-01 12:30:30 UTC
    let now = minute_of(now_ms);
    for window in [
        60,
        3599,
        3600,
        3660,
        86_399,
        86_400,
        90_000,
        3 * 86_400 + 7,
        10 * 86_400,
        30 * 86_400,
        40 * 86_400,
        366 * 86_400,
    ] {
        for w in [0, now - 3 * 1440, now - 61, now - 7, now - 1, now, now + 1] {
            for extra in ["", "&bucket=hour", "&bucket=day", "&bucket=minute"] {
                let q = format!("window={window}{extra}");
                match check_exactly_once(&q, now_ms, w) {
                    Ok(()) => {}
                    // Refused combinations (too many buckets, not kept).
                    Err(e) if param_of(e.clone()) == "bucket" => {}
                    Err(e) => return Err(e),
                }
            }
        }
    }
    Ok(())
}

#[test]
fn the_cube_read_keeps_just_the_dimensions_grouped_or_filtered(
) -> Result<(), crate::error::ApiError> {
    let x = q("group_by[]=rule&brand=visa'--")?;
    let group = super::report::group_of(&x);
    assert_eq!(group, vec![Dim::Processor, Dim::Currency, Dim::Rule]);
    let c = query::cube_query(&x, &group, None)
        .ok_or_else(|| crate::error::ApiError::internal("none"))?;
    assert_eq!(c.cube, 1 | 8);
    for sql in [c.counts_sql(), c.latency_sql(), c.declines_sql()] {
        assert!(!sql.text.contains("visa"), "{}", sql.text);
        assert_eq!(
            sql.text.matches('?').count(),
            sql.args.len(),
            "{}",
            sql.text
        );
    }
    let m = query::minute_query(&x, &group, 0, None);
    for s in [m.counts_sql(), m.latency_sql(), m.declines_sql()] {
        assert!(!s.text.contains("visa"));
        assert_eq!(s.text.matches('?').count(), s.args.len(), "{}", s.text);
    }
    assert!(
        m.latency_sql().text.ends_with("GROUP BY 1, 2, 3, 4"),
        "{}",
        m.latency_sql().text
    );
    for s in query::rollup(0, 10, 20) {
        assert!(s.text.contains("'*'"), "{}", s.text);
        assert_eq!(s.text.matches('?').count(), s.args.len());
    }
    Ok(())
}

fn row(key: &[&str], t: Option<u64>, c: Counts) -> GroupRow {
    GroupRow {
        key: key.iter().map(|s| s.to_string()).collect(),
        t,
        counts: c,
    }
}

#[test]
fn shards_merge_into_groups_totals_and_processors() -> Result<(), crate::error::ApiError> {
    let x = q("group_by[]=rule&bucket=minute&window=180")?;
    let group = group_of(&x);
    let f = facts("visa", "usd", 1000);
    let mut a = Counts::default();
    for (_, c) in fold(&f, &[attempt("pa", O::Authorized, 40, None)]) {
        a.merge(&c);
    }
    let mut d = Counts::default();
    for (_, c) in fold(
        &Facts {
            currency: "eur".into(),
            ..f.clone()
        },
        &[attempt("pa", O::HardDecline, 30, Some("stolen_card"))],
    ) {
        d.merge(&c);
    }
    let t0 = x.start;
    // Totals by processor, currency and rule; the series by rule alone.
    let totals = vec![
        ShardAnswer {
            groups: vec![row(&["pa", "usd", "cheap"], None, a.clone())],
        },
        ShardAnswer {
            groups: vec![
                row(&["pa", "eur", "cheap"], None, d.clone()),
                row(&["pa", "usd", ""], None, a.clone()),
            ],
        },
    ];
    let series = vec![ShardAnswer {
        groups: vec![
            row(&["cheap"], Some(t0), a.clone()),
            row(&["cheap"], Some(t0 + 1), d.clone()),
            row(&[""], Some(t0), a.clone()),
        ],
    }];
    let v = answer(&x, false, &group, totals, series, Some(x.start));
    assert_eq!(v["livemode"], false);
    assert_eq!(v["rolled_up_through"], x.start * 60);
    assert_eq!(v["totals"]["attempts"], 3);
    assert_eq!(
        v["totals"]["amount"],
        serde_json::json!({"usd": 2000, "eur": 1000})
    );
    assert_eq!(v["processors"]["pa"]["authorized"], 2);
    assert_eq!(
        v["processors"]["pa"]["decline_codes"][0]["code"],
        "stolen_card"
    );
    let groups = v["groups"].as_array().cloned().unwrap_or_default();
    assert_eq!(groups.len(), 2);
    assert_eq!(groups[0]["key"]["rule"], "cheap");
    assert_eq!(groups[0]["attempts"], 2);
    assert_eq!(groups[1]["key"]["rule"], Value::Null);
    let series = groups[0]["series"].as_array().cloned().unwrap_or_default();
    assert_eq!(series.len() as u64, x.end - x.start);
    assert_eq!(series[0]["authorized"], 1);
    assert_eq!(series[1]["hard_declines"], 1);
    assert_eq!(series[1]["latency_ms"]["p50"], 30);
    assert_eq!(series[2]["authorization_rate"], Value::Null);
    Ok(())
}
