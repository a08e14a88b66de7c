//! Times `Router::select` on the benchmark rule sets, for comparing the
//! engine compiled natively with the engine compiled to wasm (run under
//! Node's WASI by `bench/wasm.mjs`): the same code, the same inputs.
//!
//! `cargo run --release -p switchyard-bench-timing -- target/bench-data`
//! `cargo build --release -p switchyard-bench-timing --target wasm32-wasip1`

use std::hint::black_box;
use std::time::Instant;
use switchyard_rules::{Payment, Router, ValidateOptions};

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.total_cmp(b));
    xs[xs.len() / 2]
}

fn main() -> Result<(), String> {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "target/bench-data".to_owned());
    let read =
        |f: &str| std::fs::read_to_string(format!("{dir}/{f}")).map_err(|e| format!("{f}: {e}"));
    if std::env::args().nth(2).as_deref() == Some("compile-only") {
        // For profilers: compile the 10,000-rule set once and stop.
        let text = read("rules-10000-middle.json")?;
        let r = Router::from_json_str(&text, &ValidateOptions::default())
            .map_err(|e| format!("{e:?}"))?;
        println!("{} rules", r.rule_count());
        return Ok(());
    }
    let hit = Payment::from_json_str(&read("target-hit.json")?).map_err(|e| format!("{e:?}"))?;
    let miss = Payment::from_json_str(&read("target-miss.json")?).map_err(|e| format!("{e:?}"))?;
    println!("rules\tdeciding\tselect_ns\tfastest_ns\tcompile_ms");
    for n in [10usize, 100, 1_000, 10_000] {
        for label in ["start", "middle", "none"] {
            let text = read(&format!("rules-{n}-{label}.json"))?;
            let t = Instant::now();
            let router = Router::from_json_str(&text, &ValidateOptions::default())
                .map_err(|e| format!("{e:?}"))?;
            let compile_ms = t.elapsed().as_secs_f64() * 1e3;
            let p = if label == "none" { &miss } else { &hit };
            let batch = 20_000;
            for _ in 0..batch {
                black_box(router.select(black_box(p), "order_1").rule_index());
            }
            let mut per_call = Vec::new();
            for _ in 0..61 {
                let t = Instant::now();
                for _ in 0..batch {
                    black_box(router.select(black_box(p), "order_1").rule_index());
                }
                per_call.push(t.elapsed().as_nanos() as f64 / batch as f64);
            }
            // The median batch, and the fastest (the host runs this machine
            // at two speeds; bench/wasm.mjs says more).
            let fastest = per_call.iter().copied().fold(f64::INFINITY, f64::min);
            println!(
                "{n}\t{label}\t{:.0}\t{fastest:.0}\t{compile_ms:.1}",
                median(per_call)
            );
        }
    }
    Ok(())
}
