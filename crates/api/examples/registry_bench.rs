//! Registry search figures for `cargo xtask bench`: quality on the repository's query set, and
//! time per query on the real registry and on a synthetic 5,000-entry one. Prints; asserts nothing.

#![allow(clippy::print_stdout)] // a report

use std::time::Instant;

use alga_agent_tooling::quality::{QualitySet, evaluate};
use alga_agent_tooling::registry::Registry;
use alga_agent_tooling::search::search;
use alga_agent_tooling::tools::{definitions, one_tool_per_operation};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let registry = alga_api::registry::registry()?;
    let set: QualitySet = serde_json::from_str(alga_api::registry::quality_set().ok_or("no quality set")?)?;
    let quality = evaluate(&registry, &set);
    println!(
        "registry search quality: {} queries, NDCG@10 {:.3}, MRR {:.3}",
        set.cases.len(),
        quality.ndcg_at_10,
        quality.mrr
    );
    let queries: Vec<&str> = set.cases.iter().map(|c| c.query.as_str()).collect();
    println!(
        "real registry ({} entries): {:.1} µs per query",
        registry.entries().len(),
        per_query_us(&registry, &queries)
    );
    // tools/list for an Admin: the three meta-tools, against one tool per operation.
    let mut groups: Vec<String> = registry.entries().iter().flat_map(|e| e.tags.clone()).collect();
    groups.sort();
    groups.dedup();
    let meta = serde_json::to_string(&serde_json::json!({ "tools": definitions(&groups) }))?.len();
    let per_op =
        serde_json::to_string(&serde_json::json!({ "tools": one_tool_per_operation(registry.entries()) }))?.len();
    println!(
        "tools/list: 3 meta-tools {meta} bytes (~{} tokens); one tool per operation ({} tools) {per_op} bytes (~{} tokens); {:.1}x smaller",
        meta / 4,
        registry.entries().len(),
        per_op / 4,
        per_op as f64 / meta as f64
    );
    let synthetic = synthetic(&registry, 5000);
    println!(
        "synthetic registry ({} entries): {:.1} µs per query",
        synthetic.entries().len(),
        per_query_us(&synthetic, &queries)
    );
    Ok(())
}

/// Mean time of one search, over enough rounds of every query to take about a second.
fn per_query_us(registry: &Registry, queries: &[&str]) -> f64 {
    let mut rounds = 0u32;
    let started = Instant::now();
    while started.elapsed().as_millis() < 1000 || rounds < 3 {
        for q in queries {
            std::hint::black_box(search(registry, q, 10, |_| true));
        }
        rounds += 1;
    }
    started.elapsed().as_secs_f64() * 1e6 / f64::from(rounds) / queries.len() as f64
}

/// `n` entries made from the real ones, with other resource names, so that many entries share
/// the query words as a large real catalog would.
fn synthetic(real: &Registry, n: usize) -> Registry {
    const NOUNS: [&str; 24] = [
        "asset",
        "invoice",
        "contract",
        "quote",
        "opportunity",
        "webhook",
        "team",
        "tag",
        "category",
        "article",
        "schedule",
        "service",
        "product",
        "vendor",
        "license",
        "device",
        "site",
        "location",
        "document",
        "survey",
        "workflow",
        "campaign",
        "order",
        "shipment",
    ];
    let entries = (0..n)
        .map(|i| {
            let mut e = real.entries()[i % real.entries().len()].clone();
            let noun = NOUNS[(i / real.entries().len()) % NOUNS.len()];
            e.id = format!("{}.{i}", e.id);
            e.path = e.path.replacen("/api/v1/", &format!("/api/v1/{noun}s-{i}/"), 1);
            e.display_name = format!("{} {noun}", e.display_name);
            e.tags.push(noun.to_owned());
            e
        })
        .collect();
    Registry::from_entries(entries)
}
