//! Words: tokens, singular forms, stop words, synonyms and intents, and the per-entry index
//! search reads (built once per registry).

use std::collections::{HashMap, HashSet};

use crate::registry::RegistryEntry;

const STOP_WORDS: &[&str] = &[
    "a", "an", "the", "to", "for", "of", "in", "on", "at", "by", "with", "and", "or", "from", "api", "v1", "is", "are",
    "be", "it", "this", "that", "please", "can", "could", "would", "should", "do", "does", "how", "what", "which",
    "into", "as", "some", "want", "need", "let", "there",
];

/// Plural to singular, with the original's defects fixed: `statuses`→`status` and
/// `analyses`→`analysis`, and words that merely end in s (`status`, `address`) stay whole.
pub fn singular(word: &str) -> String {
    const IRREGULAR: &[(&str, &str)] = &[
        ("statuses", "status"),
        ("analyses", "analysis"),
        ("addresses", "address"),
        ("aliases", "alias"),
        ("people", "person"),
        ("children", "child"),
        ("indices", "index"),
        ("phases", "phase"),
    ];
    if let Some((_, one)) = IRREGULAR.iter().find(|(many, _)| *many == word) {
        return (*one).to_owned();
    }
    let n = word.len();
    if n > 3 && word.ends_with("ies") {
        return format!("{}y", &word[..n - 3]);
    }
    if ["sses", "shes", "ches", "xes", "zes"].iter().any(|s| word.ends_with(s)) {
        return word[..n - 2].to_owned();
    }
    if n > 2 && word.ends_with('s') && !["ss", "us", "is"].iter().any(|s| word.ends_with(s)) {
        return word[..n - 1].to_owned();
    }
    word.to_owned()
}

/// Lower-cased, split on anything but letters and digits, singular, without stop words and
/// one-letter pieces, first occurrence kept.
pub fn tokens(text: &str) -> Vec<String> {
    let mut seen = HashSet::new();
    text.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.len() > 1)
        .map(singular)
        .filter(|w| !STOP_WORDS.contains(&w.as_str()))
        .filter(|w| seen.insert(w.clone()))
        .collect()
}

/// How people and agents name the API's things, mapped to the words the API uses.
const SYNONYMS: &[(&str, &[&str])] = &[
    ("customer", &["client"]),
    ("company", &["client"]),
    ("account", &["client"]),
    ("organization", &["client"]),
    ("organisation", &["client"]),
    ("org", &["client"]),
    ("person", &["contact"]),
    ("requester", &["contact"]),
    ("issue", &["ticket"]),
    ("incident", &["ticket"]),
    ("case", &["ticket"]),
    ("request", &["ticket"]),
    ("problem", &["ticket"]),
    ("note", &["comment"]),
    ("reply", &["comment"]),
    ("response", &["comment"]),
    ("remark", &["comment"]),
    ("hour", &["time", "entry"]),
    ("timesheet", &["time", "entry"]),
    ("worklog", &["time", "entry"]),
    ("log", &["time", "entry"]),
    ("logged", &["time", "entry"]),
    ("billable", &["time", "entry"]),
    ("queue", &["board"]),
    ("urgency", &["priority"]),
    ("severity", &["priority"]),
    ("state", &["status"]),
    ("staff", &["user"]),
    ("technician", &["user"]),
    ("employee", &["user"]),
    ("member", &["user"]),
    ("token", &["key"]),
    ("credential", &["key"]),
    ("whoami", &["me"]),
    ("my", &["me"]),
    ("myself", &["me"]),
    ("who", &["me"]),
    ("access", &["permission", "role"]),
    ("milestone", &["task"]),
    ("todo", &["task"]),
    ("engagement", &["project"]),
    ("conversation", &["comment"]),
    ("thread", &["comment"]),
    ("discussion", &["comment"]),
    ("profile", &["me"]),
    ("current", &["me"]),
    ("text", &["search"]),
    ("keyword", &["search"]),
    ("label", &["tag"]),
    ("fulltext", &["search"]),
    ("site", &["location"]),
    ("office", &["location"]),
    ("branch", &["location"]),
    ("premises", &["location"]),
    ("device", &["asset"]),
    ("equipment", &["asset"]),
    ("hardware", &["asset"]),
    ("inventory", &["asset"]),
    ("laptop", &["asset"]),
    ("computer", &["asset"]),
    ("workstation", &["asset"]),
    ("pc", &["asset"]),
    ("server", &["asset"]),
    ("firewall", &["asset"]),
    ("router", &["asset"]),
    ("warranty", &["asset"]),
    ("serial", &["asset"]),
    ("cmdb", &["asset"]),
    ("kb", &["knowledge", "base"]),
    ("article", &["knowledge", "base"]),
    ("documentation", &["knowledge", "base"]),
    ("howto", &["knowledge", "base"]),
    ("publish", &["status"]),
    ("unpublish", &["status"]),
    ("archive", &["status"]),
];

/// The query's tokens followed by the API words their synonyms stand for.
pub fn expand(tokens: &[String]) -> Vec<String> {
    let mut out = tokens.to_vec();
    for t in tokens {
        if let Some((_, words)) = SYNONYMS.iter().find(|(word, _)| word == t) {
            for w in *words {
                if !out.iter().any(|o| o == w) {
                    out.push((*w).to_owned());
                }
            }
        }
    }
    out
}

/// What the caller wants to do, from the query's words.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Intents {
    pub create: bool,
    pub update: bool,
    pub delete: bool,
    pub list: bool,
    pub detail: bool,
}

impl Intents {
    pub fn of(words: &[String]) -> Intents {
        let has = |list: &[&str]| words.iter().any(|w| list.contains(&w.as_str()));
        let list = has(&[
            "list", "search", "find", "all", "recent", "latest", "show", "browse", "any", "every", "many", "count",
        ]);
        // "open" creates ("open a ticket") unless it filters a list ("list open tickets").
        let open = has(&["open"]) && !list;
        Intents {
            create: open
                || has(&[
                    "create", "add", "new", "make", "log", "register", "raise", "file", "submit", "record", "invite",
                ]),
            update: has(&[
                "update",
                "edit",
                "change",
                "set",
                "mark",
                "assign",
                "move",
                "rename",
                "close",
                "resolve",
                "reopen",
                "modify",
                "reassign",
                "escalate",
                "deactivate",
                "activate",
                "disable",
                "enable",
                "complete",
            ]),
            delete: has(&["delete", "remove", "revoke", "erase", "drop", "destroy"]),
            list,
            detail: has(&["id", "detail", "single", "view", "get", "fetch", "lookup", "look", "read", "one"]),
        }
    }

    pub fn mutating(self) -> bool {
        self.create || self.update || self.delete
    }

    pub fn any(self) -> bool {
        self.mutating() || self.list || self.detail
    }
}

/// Words that say what to do rather than what to do it to. `search` is both: it also names the
/// search operation.
pub fn is_intent_word(word: &str) -> bool {
    word != "search" && word != "open" && Intents::of(&[word.to_owned()]).any()
}

/// Every word of the registry, numbered, so that search compares integers, not strings.
#[derive(Debug, Clone, Default)]
pub struct Vocabulary(HashMap<String, u32>);

impl Vocabulary {
    fn intern(&mut self, word: String) -> u32 {
        let next = u32::try_from(self.0.len()).unwrap_or(u32::MAX);
        *self.0.entry(word).or_insert(next)
    }

    /// The id of a word, if any entry uses it (a word no entry uses can match nothing).
    pub fn id(&self, word: &str) -> Option<u32> {
        self.0.get(word).copied()
    }
}

/// A set of word ids, sorted.
#[derive(Debug, Clone, Default)]
pub struct Words(Box<[u32]>);

impl Words {
    fn of(text: &str, vocabulary: &mut Vocabulary) -> Words {
        let mut ids: Vec<u32> = tokens(text).into_iter().map(|w| vocabulary.intern(w)).collect();
        ids.sort_unstable();
        ids.dedup();
        Words(ids.into_boxed_slice())
    }

    pub fn contains(&self, id: u32) -> bool {
        self.0.binary_search(&id).is_ok()
    }

    pub fn ids(&self) -> &[u32] {
        &self.0
    }
}

/// An entry's words per field, precomputed for search.
#[derive(Debug, Clone)]
pub struct EntryIndex {
    pub display_name: Words,
    pub summary: Words,
    pub description: Words,
    pub path: Words,
    pub tags: Words,
    pub parameters: Words,
    pub playbooks: Words,
    /// Path segments naming resources (no `{param}`, `api` or `vN`), each as its words
    /// (`time-entries` → time, entry).
    pub resources: Vec<Words>,
    pub get_by_id: bool,
    /// A GET of a collection: its path ends in a name, not a `{param}` (`/tickets/{id}/comments`).
    pub is_list: bool,
    pub has_body: bool,
}

impl EntryIndex {
    pub fn of(e: &RegistryEntry, vocabulary: &mut Vocabulary) -> EntryIndex {
        let resources = e
            .path
            .split('/')
            .filter(|s| !s.is_empty() && !s.starts_with('{') && *s != "api")
            .filter(|s| !(s.starts_with('v') && s[1..].chars().all(|c| c.is_ascii_digit())))
            .map(|s| Words::of(s, vocabulary))
            .filter(|w| !w.ids().is_empty())
            .collect();
        let parameters: String =
            e.parameters.iter().map(|p| format!("{} {} ", p.name, p.description)).collect::<String>();
        let has_body = match &e.request_body_schema {
            Some(serde_json::Value::Object(o)) => !o.is_empty(),
            Some(serde_json::Value::Array(a)) => !a.is_empty(),
            _ => false,
        };
        EntryIndex {
            display_name: Words::of(&e.display_name, vocabulary),
            summary: Words::of(&e.summary, vocabulary),
            description: Words::of(&e.description, vocabulary),
            path: Words::of(&e.path.replace(['{', '}'], " "), vocabulary),
            tags: Words::of(&e.tags.join(" "), vocabulary),
            parameters: Words::of(&parameters, vocabulary),
            playbooks: Words::of(&e.playbooks.join(" "), vocabulary),
            resources,
            get_by_id: e.method == "GET" && e.path.ends_with("{id}"),
            is_list: e.method == "GET" && !e.path.ends_with('}'),
            has_body,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counting_questions_read_and_open_filters_them() {
        let of = |q: &str| Intents::of(&tokens(q));
        let counting = of("how many tickets are open");
        assert!(counting.list && !counting.mutating(), "a question about open tickets reads them");
        assert!(of("open a ticket for Acme").create, "opening a ticket still creates one");
    }

    #[test]
    fn singular_forms() {
        for (many, one) in [
            ("tickets", "ticket"),
            ("statuses", "status"),
            ("status", "status"),
            ("analyses", "analysis"),
            ("analysis", "analysis"),
            ("priorities", "priority"),
            ("entries", "entry"),
            ("boxes", "box"),
            ("addresses", "address"),
            ("address", "address"),
            ("bus", "bus"),
            ("ids", "id"),
            ("classes", "class"),
            ("phases", "phase"),
        ] {
            assert_eq!(singular(many), one, "{many}");
        }
    }

    #[test]
    fn tokens_are_whole_words() {
        assert_eq!(tokens("Create a NEW ticket for the API v1"), ["create", "new", "ticket"]);
        assert_eq!(tokens("time-entries/{id}"), ["time", "entry", "id"]);
        assert!(tokens("   ").is_empty());
    }

    #[test]
    fn synonyms_reach_the_api_words() {
        assert_eq!(expand(&tokens("customer hours")), ["customer", "hour", "client", "time", "entry"]);
        assert_eq!(expand(&tokens("laptops out of warranty")), ["laptop", "out", "warranty", "asset"]);
        assert_eq!(expand(&tokens("kb sites")), ["kb", "site", "knowledge", "base", "location"]);
    }
}
