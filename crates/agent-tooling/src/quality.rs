//! Search quality: NDCG@10 and MRR of a set of queries with known relevant entries.

use serde::Deserialize;

use crate::registry::Registry;
use crate::search::search;

#[derive(Debug, Clone, Deserialize)]
pub struct QualitySet {
    pub cases: Vec<Case>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Case {
    pub query: String,
    /// The ids of the entries that answer the query.
    pub relevant: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Quality {
    /// Mean NDCG@10 (binary relevance).
    pub ndcg_at_10: f64,
    /// Mean reciprocal rank of the first relevant result (0 when none is in the top 10).
    pub mrr: f64,
    /// Per query: the 1-based rank of its first relevant result, if in the top 10.
    pub ranks: Vec<(String, Option<usize>)>,
}

pub fn evaluate(registry: &Registry, set: &QualitySet) -> Quality {
    let mut ndcg = 0.0;
    let mut mrr = 0.0;
    let mut ranks = Vec::new();
    for case in &set.cases {
        let hits = search(registry, &case.query, 10, |_| true).hits;
        let relevant = |id: &str| case.relevant.iter().any(|r| r == id);
        let dcg: f64 = hits
            .iter()
            .enumerate()
            .filter(|(_, h)| relevant(&h.entry.id))
            .map(|(i, _)| 1.0 / (i as f64 + 2.0).log2())
            .sum();
        let ideal: f64 = (0..case.relevant.len().min(10)).map(|i| 1.0 / (i as f64 + 2.0).log2()).sum();
        if ideal > 0.0 {
            ndcg += dcg / ideal;
        }
        let first = hits.iter().position(|h| relevant(&h.entry.id)).map(|p| p + 1);
        if let Some(rank) = first {
            mrr += 1.0 / rank as f64;
        }
        ranks.push((case.query.clone(), first));
    }
    let n = set.cases.len().max(1) as f64;
    Quality { ndcg_at_10: ndcg / n, mrr: mrr / n, ranks }
}
