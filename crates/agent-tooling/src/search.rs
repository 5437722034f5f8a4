//! Ranked search over the registry: deterministic, total, whole-word.
//!
//! Starts from the original system's scoring (field weights, intent terms, resource bonuses) and
//! fixes its defects: correct singular forms, whole-token matches (`id` no longer matches
//! `provide`), synonyms for how people name things, and no bonus for registry position, so an
//! entry must match something the caller named: an irrelevant query returns nothing.

use crate::registry::{Registry, RegistryEntry};
use crate::text::{Intents, expand, is_intent_word, tokens};

/// Results whose best score is below this are flagged as low confidence.
pub const LOW_CONFIDENCE: f64 = 10.0;

#[derive(Debug, Clone)]
pub struct Hit<'a> {
    pub entry: &'a RegistryEntry,
    pub score: f64,
    /// The fields the query matched, such as `displayName`, `path`, `intent`, `resourceTail`.
    pub matched_fields: Vec<&'static str>,
}

#[derive(Debug, Clone)]
pub struct Outcome<'a> {
    pub hits: Vec<Hit<'a>>,
    /// True when the best match is weak: the caller should rephrase or check the results.
    pub low_confidence: bool,
}

/// The `limit` best entries for `query` among those `allowed` (the caller's permission check).
pub fn search<'a>(
    registry: &'a Registry,
    query: &str,
    limit: usize,
    allowed: impl Fn(&RegistryEntry) -> bool,
) -> Outcome<'a> {
    let raw = tokens(query);
    if raw.is_empty() || limit == 0 {
        return Outcome { hits: Vec::new(), low_confidence: false };
    }
    let intents = Intents::of(&raw);
    let id_lookup = raw.iter().any(|w| ["id", "detail", "single"].contains(&w.as_str()));
    let mentions_list = raw.iter().any(|w| ["list", "search", "find", "all", "recent", "latest"].contains(&w.as_str()));
    // Words as vocabulary ids: a word no entry uses cannot match, so it is dropped here.
    let vocabulary = &registry.vocabulary;
    let ids = |list: &[String], keep: &dyn Fn(&str) -> bool| -> Vec<u32> {
        list.iter().filter(|w| keep(w)).filter_map(|w| vocabulary.id(w)).collect()
    };
    let expanded = expand(&raw);
    let words = ids(&expanded, &|_| true);
    let subject = ids(&expanded, &|w| !is_intent_word(w));
    // The first thing named is usually the object ("add a status to a board"), with its synonyms.
    let object = raw
        .iter()
        .find(|w| !is_intent_word(w))
        .map(|w| ids(&expand(std::slice::from_ref(w)), &|_| true))
        .unwrap_or_default();
    let mut hits: Vec<Hit<'a>> = Vec::new();
    for (entry, idx) in registry.entries().iter().zip(&registry.index) {
        // Relevance gate: the entry must be about something the caller named.
        let about =
            subject.iter().any(|w| idx.path.contains(*w) || idx.tags.contains(*w) || idx.display_name.contains(*w));
        if !about || !allowed(entry) {
            continue;
        }
        let mut score = 0.0;
        let mut matched = Vec::new();
        let fields = [
            (&idx.display_name, 3.0, "displayName"),
            (&idx.summary, 2.5, "summary"),
            (&idx.description, 1.5, "description"),
            (&idx.path, 3.0, "path"),
            (&idx.tags, 2.5, "tags"),
            (&idx.parameters, 1.5, "parameters"),
            (&idx.playbooks, 1.0, "playbooks"),
        ];
        for (set, weight, name) in fields {
            let n = words.iter().filter(|w| set.contains(**w)).count();
            if n > 0 {
                score += weight * n as f64;
                matched.push(name);
            }
        }

        let method = entry.method.as_str();
        let get = method == "GET";
        let is_list = idx.is_list;
        let is_item = get && !idx.is_list;
        let mut intent = 0.0;
        if intents.create && method == "POST" {
            intent += 14.0;
        }
        if intents.update && (method == "PUT" || method == "PATCH") {
            intent += 12.0;
        }
        if intents.delete && method == "DELETE" {
            intent += 14.0;
        }
        if intents.list {
            intent += if is_list {
                6.0
            } else if get {
                1.0
            } else {
                0.0
            };
        }
        if intents.detail {
            intent += if idx.get_by_id {
                6.0
            } else if is_item {
                2.0
            } else {
                0.0
            };
        }
        if id_lookup && idx.get_by_id {
            intent += 3.0;
        }
        if mentions_list && is_list {
            intent += 3.0;
        }
        if !intents.detail && idx.get_by_id {
            intent -= 3.0;
        }
        if !intents.detail && is_item {
            intent -= 1.0;
        }
        if !intents.any() && is_list {
            intent += 1.0; // naming only a thing most often means "show me those"
        }
        if intents.mutating() && get {
            intent -= 6.0;
        }
        if intent != 0.0 {
            score += intent;
            matched.push("intent");
        }

        let resource = subject.iter().filter(|w| idx.path.contains(**w) || idx.tags.contains(**w)).count();
        if resource > 0 {
            score += 2.0 * resource as f64;
            matched.push("resource");
        }
        let named = |segment: &crate::text::Words| segment.ids().iter().all(|part| words.contains(part));
        let mutation_fits = (intents.create && method == "POST")
            || (intents.update && (method == "PUT" || method == "PATCH"))
            || (intents.delete && method == "DELETE");
        if mutation_fits && idx.resources.last().is_some_and(named) {
            score += 4.0;
            matched.push("resourceTail");
        }
        if !idx.resources.is_empty() && idx.resources.iter().all(named) {
            score += 4.0;
            matched.push("resourceExact");
        }
        if idx.resources.last().is_some_and(|tail| tail.ids().iter().all(|part| object.contains(part))) {
            score += 2.0;
            matched.push("object");
        }
        if (intents.create || intents.update) && idx.has_body {
            score += 2.0;
            matched.push("requestBodySchema");
        }
        if score > 0.0 {
            hits.push(Hit { entry, score, matched_fields: matched });
        }
    }
    // Stable: equal scores keep catalog order, so results are deterministic.
    hits.sort_by(|a, b| b.score.total_cmp(&a.score));
    hits.truncate(limit);
    let low_confidence = hits.first().is_some_and(|h| h.score < LOW_CONFIDENCE);
    Outcome { hits, low_confidence }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::registry::{Parameter, RegistryEntry};

    fn entry(id: &str, method: &str, path: &str, name: &str, tags: &[&str]) -> RegistryEntry {
        RegistryEntry {
            id: id.to_owned(),
            method: method.to_owned(),
            path: path.to_owned(),
            display_name: name.to_owned(),
            summary: name.to_owned(),
            description: String::new(),
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
            rbac_resource: None,
            approval_required: false,
            parameters: Vec::new(),
            request_body_schema: (method == "POST" || method == "PUT")
                .then(|| json!({"type": "object", "properties": {"title": {}}})),
            response_body_schema: None,
            playbooks: Vec::new(),
            examples: Vec::new(),
            permission: None,
            read_only: method == "GET",
        }
    }

    /// The original's test fixture, plus the entries its later tests added.
    fn fixture() -> Registry {
        let mut get = entry("tickets.get", "GET", "/api/v1/tickets/{id}", "Get Ticket", &["Tickets"]);
        get.parameters.push(Parameter {
            name: "id".to_owned(),
            location: "path".to_owned(),
            required: true,
            description: String::new(),
            schema: json!({"type": "string"}),
        });
        Registry::from_entries(vec![
            entry("tickets.list", "GET", "/api/v1/tickets", "List Tickets", &["Tickets"]),
            get,
            entry("tickets.create", "POST", "/api/v1/tickets", "Create Ticket", &["Tickets"]),
            entry("contacts.list", "GET", "/api/v1/contacts", "List Contacts", &["Contacts"]),
            entry(
                "categories.ticket.create",
                "POST",
                "/api/v1/categories/ticket",
                "Create Ticket Category",
                &["Categories"],
            ),
            entry("categories.list", "GET", "/api/v1/categories", "List Categories", &["Categories"]),
            entry("priorities.list", "GET", "/api/v1/priorities", "List Priorities", &["Priorities"]),
            entry("statuses.list", "GET", "/api/v1/statuses", "List Statuses", &["Statuses"]),
            entry("providers.list", "GET", "/api/v1/providers", "Provide a list of providers", &["Providers"]),
        ])
    }

    fn ids(registry: &Registry, query: &str) -> Vec<String> {
        search(registry, query, 10, |_| true).hits.iter().map(|h| h.entry.id.clone()).collect()
    }

    fn first(registry: &Registry, query: &str) -> String {
        ids(registry, query).into_iter().next().unwrap_or_default()
    }

    #[test]
    fn the_originals_orderings_hold() {
        let r = fixture();
        assert_eq!(first(&r, "create a ticket"), "tickets.create");
        assert_eq!(first(&r, "get ticket by id"), "tickets.get");
        assert_eq!(first(&r, "list tickets"), "tickets.list");
        assert_eq!(first(&r, "contacts"), "contacts.list");
        let create = ids(&r, "create a ticket");
        let contacts = create.iter().position(|i| i == "contacts.list");
        assert!(contacts.is_none_or(|p| p > 0), "contacts below tickets.create: {create:?}");
        assert!(ids(&r, "   ").is_empty(), "a whitespace query returns nothing");
    }

    #[test]
    fn categories_and_priorities() {
        let r = fixture();
        assert_eq!(first(&r, "create ticket"), "tickets.create");
        assert_eq!(first(&r, "create ticket category"), "categories.ticket.create");
        assert_eq!(first(&r, "list priorities"), "priorities.list");
        assert_eq!(first(&r, "priorities"), "priorities.list");
        assert_eq!(first(&r, "categories"), "categories.list");
    }

    #[test]
    fn plural_status_finds_statuses() {
        let r = fixture();
        assert_eq!(first(&r, "statuses"), "statuses.list");
        let hit = search(&r, "statuses", 1, |_| true).hits.into_iter().next().unwrap();
        assert!(hit.matched_fields.contains(&"resourceExact"), "{:?}", hit.matched_fields);
    }

    #[test]
    fn whole_words_only() {
        let r = fixture();
        // `id` must not match "provide"/"providers".
        assert!(!ids(&r, "id").contains(&"providers.list".to_owned()));
        assert_eq!(ids(&r, "provider"), ["providers.list"]);
    }

    #[test]
    fn irrelevant_queries_return_nothing() {
        let r = fixture();
        assert!(ids(&r, "zzz unrelated").is_empty());
        assert!(ids(&r, "create something").is_empty(), "an intent alone names nothing");
    }

    #[test]
    fn synonyms() {
        let mut r = fixture().entries().to_vec();
        r.push(entry("clients.list", "GET", "/api/v1/clients", "List clients", &["Clients"]));
        r.push(entry("time_entries.create", "POST", "/api/v1/time-entries", "Log time", &["Time entries"]));
        r.push(entry(
            "tickets.comments.create",
            "POST",
            "/api/v1/tickets/{id}/comments",
            "Comment on a ticket",
            &["Tickets"],
        ));
        r.push(entry("tickets.update", "PUT", "/api/v1/tickets/{id}", "Update a ticket", &["Tickets"]));
        let r = Registry::from_entries(r);
        assert_eq!(first(&r, "show me our customers"), "clients.list");
        assert_eq!(first(&r, "log 2 hours on a ticket"), "time_entries.create");
        assert_eq!(first(&r, "add a note to the ticket"), "tickets.comments.create");
        assert_eq!(first(&r, "close the ticket"), "tickets.update");
    }

    #[test]
    fn search_is_deterministic_and_respects_the_filter() {
        let r = fixture();
        assert_eq!(ids(&r, "list tickets"), ids(&r, "list tickets"));
        let only_reads = search(&r, "create a ticket", 10, |e| e.method == "GET");
        assert!(only_reads.hits.iter().all(|h| h.entry.method == "GET"));
        assert!(search(&r, "tickets", 1, |_| true).hits.len() == 1);
    }

    #[test]
    fn weak_matches_are_flagged() {
        let r = fixture();
        assert!(!search(&r, "create a ticket", 5, |_| true).low_confidence);
        let weak = search(&r, "ticket category", 5, |_| true);
        assert!(!weak.hits.is_empty());
    }
}
