//! Writes the benchmark rule sets and payments as JSON, for the wasm
//! benchmark in Node (`bench/wasm.mjs`): the same inputs as the criterion
//! benchmarks, so the two sets of figures compare.
//!
//! `cargo run --release -p switchyard-rules --example gen_bench -- DIR`

use std::io::Write;

#[path = "../benches/gen.rs"]
mod gen;

fn main() -> std::io::Result<()> {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "target/bench-data".to_owned());
    std::fs::create_dir_all(&dir)?;
    for n in [10usize, 100, 1_000, 10_000] {
        for (label, at) in [("start", Some(1)), ("middle", Some(n / 2)), ("none", None)] {
            std::fs::write(
                format!("{dir}/rules-{n}-{label}.json"),
                gen::rule_set(n, at).to_string(),
            )?;
        }
    }
    std::fs::write(
        format!("{dir}/target-hit.json"),
        gen::target_payment(true).to_string(),
    )?;
    std::fs::write(
        format!("{dir}/target-miss.json"),
        gen::target_payment(false).to_string(),
    )?;
    let mut f = std::io::BufWriter::new(std::fs::File::create(format!("{dir}/traffic-1m.json"))?);
    f.write_all(b"[")?;
    for i in 0..1_000_000 {
        if i > 0 {
            f.write_all(b",")?;
        }
        f.write_all(gen::traffic_payment(i).to_string().as_bytes())?;
    }
    f.write_all(b"]")?;
    f.flush()?;
    println!("wrote benchmark inputs to {dir}");
    Ok(())
}
