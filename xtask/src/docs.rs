//! `cargo xtask ci`'s docs check: every file path, command-line flag, environment variable and
//! test name that a Markdown file of the repository cites exists.
//!
//! What counts as a citation, kept narrow so that the true docs raise nothing:
//! - **paths**: words of inline code, code blocks and link targets that hold a `/` (or name a
//!   `.md` file) and whose first part exists relative to the repository root, the document's
//!   folder, a folder named in the section's heading, or a crate (and its `src/`); `*` and `…`
//!   match anything. Words whose first part exists nowhere (`tools/list`, `application/json`,
//!   `target/tools`) are not paths of the repository.
//! - **flags**: `--long` words of inline code and code-block lines that start with a flag or an
//!   `alga-server` subcommand, or that run `alga-server` or `cargo` (after that word), declared by
//!   a clap `#[arg(long …)]` of the workspace (or one of cargo's own, listed below).
//! - **environment variables**: every `ALGA_…` word, named by some source file.
//! - **test names**: inline code that is exactly a snake_case name of four words or more (not an
//!   `alga_` metric), a `#[test]` function or a function of a `tests/` folder; and
//!   `module::tests::name` (or `::*`), a test of that module's file.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{Context, Result, bail};

/// Folders never read: build output, dependencies, local data.
const SKIPPED_DIRS: [&str; 5] = [".git", "target", "node_modules", "data", "__pycache__"];

/// Files whose text is searched for declarations (flags, variables, tests).
const SOURCE_EXTENSIONS: [&str; 9] = ["rs", "mjs", "js", "py", "sh", "toml", "yml", "yaml", "json"];

/// Cargo's own flags that the docs use on `cargo` command lines.
const CARGO_FLAGS: [&str; 9] =
    ["--features", "--release", "--all-targets", "--workspace", "--locked", "--package", "--test", "--bin", "--path"];

/// `alga-server` subcommands: inline code starting with one is an `alga-server` command line.
const SUBCOMMANDS: [&str; 11] =
    ["serve", "migrate", "version", "tenant", "user", "api-key", "audit", "demo-data", "openapi", "routes", "help"];

pub fn run() -> Result<()> {
    let root = crate::tools::root();
    let repo = Repo::scan(&root)?;
    let mut problems = Vec::new();
    let mut docs = 0;
    for (path, text) in &repo.docs {
        docs += 1;
        problems.extend(repo.check(path, text).into_iter().map(|p| format!("{path}: {p}")));
    }
    if !problems.is_empty() {
        bail!("the docs cite what does not exist:\n  {}", problems.join("\n  "));
    }
    eprintln!("docs: every path, flag, environment variable and test name cited in {docs} Markdown files exists");
    Ok(())
}

/// What the repository holds, as far as the check needs it.
#[derive(Debug, Default)]
struct Repo {
    /// Every file and every folder, relative to the root, `/`-separated.
    files: BTreeSet<String>,
    dirs: BTreeSet<String>,
    /// Folders holding a `Cargo.toml` (crates), the root excepted.
    crates: Vec<String>,
    /// The Markdown files, with their text.
    docs: Vec<(String, String)>,
    flags: BTreeSet<String>,
    /// Words of the source files (for environment variables).
    words: BTreeSet<String>,
    /// Test function names, and per module (file stem) its tests.
    tests: BTreeSet<String>,
    module_tests: BTreeMap<String, BTreeSet<String>>,
}

impl Repo {
    fn scan(root: &Path) -> Result<Repo> {
        let mut found = Vec::new();
        walk(root, root, &mut found)?;
        let mut files = Vec::new();
        for rel in found {
            let wanted = rel.ends_with(".md") || SOURCE_EXTENSIONS.iter().any(|e| rel.ends_with(&format!(".{e}")));
            let text = if wanted {
                std::fs::read_to_string(root.join(&rel)).with_context(|| format!("cannot read {rel}"))?
            } else {
                String::new()
            };
            files.push((rel, text));
        }
        Ok(Repo::from_files(files))
    }

    /// The repository made of these files (path, text; text only where it matters).
    fn from_files(files: Vec<(String, String)>) -> Repo {
        let mut repo = Repo::default();
        for (path, text) in files {
            let mut dir = path.as_str();
            while let Some((parent, _)) = dir.rsplit_once('/') {
                repo.dirs.insert(parent.to_owned());
                dir = parent;
            }
            if let Some(krate) = path.strip_suffix("/Cargo.toml") {
                repo.crates.push(krate.to_owned());
            }
            if path.ends_with(".md") {
                repo.docs.push((path.clone(), text));
            } else {
                if path.ends_with(".rs") {
                    repo.read_rust(&path, &text);
                }
                repo.words.extend(words(&text).map(str::to_owned));
            }
            repo.files.insert(path);
        }
        repo
    }

    /// Collects the clap flags and the test functions of one Rust file.
    fn read_rust(&mut self, path: &str, text: &str) {
        let lines: Vec<&str> = text.lines().map(str::trim).collect();
        let module = module_of(path);
        let in_tests_folder = path.starts_with("tests/") || path.contains("/tests/");
        for (i, line) in lines.iter().enumerate() {
            if (line.starts_with("#[arg(") || line.starts_with("#[clap("))
                && let Some(flag) = flag_of(&lines[i..])
            {
                self.flags.insert(flag);
            }
            let Some(name) = fn_name(line) else { continue };
            let attributes = lines[..i].iter().rev().take_while(|l| l.starts_with("#[") || l.starts_with("//"));
            let is_test =
                attributes.filter(|l| l.starts_with("#[")).any(|l| l.contains("test]") || l.contains("::test("));
            if is_test || in_tests_folder {
                self.tests.insert(name.to_owned());
            }
            if is_test {
                self.module_tests.entry(module.clone()).or_default().insert(name.to_owned());
            }
        }
    }

    /// Every citation of `doc` that does not exist, described.
    fn check(&self, doc: &str, text: &str) -> Vec<String> {
        let doc_dir = doc.rsplit_once('/').map_or("", |(dir, _)| dir);
        let mut problems = Vec::new();
        let mut heading_dirs: Vec<String> = Vec::new();
        let foreign = foreign_flags(text);
        let mut fenced = false;
        for line in text.lines() {
            if line.trim_start().starts_with("```") {
                fenced = !fenced;
                continue;
            }
            let mut bases: Vec<String> = vec![String::new(), doc_dir.to_owned()];
            for dir in heading_dirs.iter().chain(&self.crates) {
                bases.push(dir.clone());
                bases.push(format!("{dir}/src"));
            }
            if fenced {
                self.check_command(line, &foreign, &mut problems);
                for word in line.split_whitespace() {
                    self.check_path(word, &bases, &mut problems);
                }
            } else {
                if line.starts_with('#') {
                    heading_dirs = spans(line)
                        .filter(|s| self.dirs.contains(s.trim_end_matches('/')))
                        .map(|s| s.trim_end_matches('/').to_owned())
                        .collect();
                }
                for span in spans(line) {
                    self.check_command(span, &foreign, &mut problems);
                    self.check_test(span, &mut problems);
                    for word in span.split_whitespace() {
                        self.check_path(word, &bases, &mut problems);
                    }
                }
                for target in link_targets(line) {
                    if !target.contains("://") && !target.starts_with('#') && !target.starts_with("mailto:") {
                        let path = target.split('#').next().unwrap_or(target);
                        if !self.exists(&join(doc_dir, path)) {
                            problems.push(format!("link to `{target}`, which does not exist"));
                        }
                    }
                }
            }
            for name in words(line).filter(|w| w.starts_with("ALGA_") && w.len() > 5) {
                if !self.words.contains(name) {
                    problems.push(format!("environment variable `{name}`, which no source file reads"));
                }
            }
        }
        problems.sort();
        problems.dedup();
        problems
    }

    /// The flags of a command line (inline code or a code block's line), when it is one of ours.
    /// A flag cited alone may also be one that the same doc shows on another tool's command line
    /// (`foreign`: `npx --prefix …` makes `--prefix` npx's).
    fn check_command(&self, text: &str, foreign: &BTreeSet<&str>, problems: &mut Vec<String>) {
        let words: Vec<&str> = text.split_whitespace().collect();
        let (start, alone) = match command_start(&words) {
            Some(start) => (start, words.len() == 1),
            None => return,
        };
        for flag in words[start..].iter().filter_map(|w| flag_in(w)) {
            let known =
                self.flags.contains(flag) || CARGO_FLAGS.contains(&flag) || ["--help", "--version"].contains(&flag);
            if !known && (!alone || !foreign.contains(flag)) {
                problems.push(format!("flag `{flag}`, which no command declares"));
            }
        }
    }

    /// Inline code that names a test.
    fn check_test(&self, span: &str, problems: &mut Vec<String>) {
        let identifier = |s: &str| {
            s.starts_with(|c: char| c.is_ascii_lowercase())
                && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        };
        if let Some((module, name)) = span.split_once("::tests::") {
            let module = module.rsplit("::").next().unwrap_or(module);
            let known = self.module_tests.get(module);
            let exists = match name {
                "*" => known.is_some_and(|tests| !tests.is_empty()),
                _ => known.is_some_and(|tests| tests.contains(name)),
            };
            if identifier(module) && (name == "*" || identifier(name)) && !exists {
                problems.push(format!("test `{span}`, which does not exist"));
            }
        } else if identifier(span)
            && span.split('_').count() >= 4
            && !span.starts_with("alga_")
            && !self.tests.contains(span)
        {
            problems.push(format!("test `{span}`, which does not exist"));
        }
    }

    /// A word that looks like a path of the repository must exist.
    fn check_path(&self, word: &str, bases: &[String], problems: &mut Vec<String>) {
        let word = word.trim_matches(|c: char| "\"'(),;:".contains(c));
        let word = word.strip_suffix('.').unwrap_or(word);
        let word = word.strip_prefix("./").unwrap_or(word);
        let refused = ["://", "$", "~", "<", "{", "@", "=", "\\"];
        if word.is_empty() || word.starts_with('/') || refused.iter().any(|r| word.contains(r)) {
            return;
        }
        if !word.contains('/') && !word.ends_with(".md") {
            return;
        }
        let first = word.split('/').next().unwrap_or(word);
        // `…/keys` abbreviates a path named just before; `./x` and `../x` are no part of ours.
        if first.chars().all(|c| matches!(c, '.' | '*' | '…')) {
            return;
        }
        let path = word.trim_end_matches('/');
        let rooted = |base: &str, rest: &str| join(base, rest);
        let is_repo_path = word.ends_with(".md") || bases.iter().any(|b| self.exists(&rooted(b, first)));
        if is_repo_path && !bases.iter().any(|b| self.exists(&rooted(b, path))) {
            problems.push(format!("path `{word}`, which does not exist"));
        }
    }

    /// A file or folder, where `*` and `…` match any run of characters within a part.
    fn exists(&self, path: &str) -> bool {
        if !path.contains(['*', '…']) {
            return self.files.contains(path) || self.dirs.contains(path);
        }
        let pattern: Vec<&str> = path.split('/').collect();
        self.files.iter().chain(&self.dirs).any(|candidate| {
            let parts: Vec<&str> = candidate.split('/').collect();
            parts.len() == pattern.len() && parts.iter().zip(&pattern).all(|(part, glob)| glob_match(glob, part))
        })
    }
}

/// Where a command line's flags to check begin: at a flag or an `alga-server` subcommand opening
/// it, or after `alga-server` or `cargo`; `None` for another tool's command line.
fn command_start(words: &[&str]) -> Option<usize> {
    match words.first() {
        Some(first) if flag_in(first).is_some() || SUBCOMMANDS.contains(first) => Some(0),
        _ => words.iter().position(|w| *w == "alga-server" || *w == "cargo").map(|at| at + 1),
    }
}

/// The long flag a command line's word is (`[--name N]`, `--name=value`, …).
fn flag_in(word: &str) -> Option<&str> {
    let flag = word.trim_start_matches('[').trim_end_matches([']', ',', ')', '.', ';']);
    let flag = flag.split('=').next().unwrap_or(flag);
    let name = flag.strip_prefix("--")?;
    let plain = name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    plain.then_some(flag)
}

/// Flags shown on other tools' command lines of a doc (code blocks and inline code).
fn foreign_flags(text: &str) -> BTreeSet<&str> {
    let mut fenced = false;
    let mut found = BTreeSet::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        let units: Vec<&str> = if fenced { vec![line] } else { spans(line).collect() };
        for unit in units {
            let words: Vec<&str> = unit.split_whitespace().collect();
            if command_start(&words).is_none() {
                found.extend(words.iter().filter_map(|w| flag_in(w)));
            }
        }
    }
    found
}

/// Every file under `dir`, relative to `root`.
fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            if !SKIPPED_DIRS.contains(&name.as_str()) {
                walk(root, &path, out)?;
            }
        } else if let Ok(rel) = path.strip_prefix(root) {
            out.push(rel.to_string_lossy().replace('\\', "/"));
        }
    }
    Ok(())
}

/// `base/rest`, with `..` and `.` resolved.
fn join(base: &str, rest: &str) -> String {
    let mut parts: Vec<&str> = base.split('/').filter(|p| !p.is_empty()).collect();
    for part in rest.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            part => parts.push(part),
        }
    }
    parts.join("/")
}

fn glob_match(glob: &str, text: &str) -> bool {
    let glob = glob.replace('…', "*");
    let mut pieces = glob.split('*');
    let first = pieces.next().unwrap_or_default();
    let Some(mut rest) = text.strip_prefix(first) else { return false };
    let pieces: Vec<&str> = pieces.collect();
    for (i, piece) in pieces.iter().enumerate() {
        if i + 1 == pieces.len() {
            return rest.ends_with(piece);
        }
        match rest.find(piece) {
            Some(at) => rest = &rest[at + piece.len()..],
            None => return false,
        }
    }
    rest.is_empty()
}

/// The module a Rust file is: its stem, or its folder's name for `mod.rs`.
fn module_of(path: &str) -> String {
    let mut parts = path.rsplit('/');
    let file = parts.next().unwrap_or(path);
    match file.strip_suffix(".rs") {
        Some("mod") => parts.next().unwrap_or("mod").to_owned(),
        Some(stem) => stem.to_owned(),
        None => file.to_owned(),
    }
}

/// The name of the function a line declares.
fn fn_name(line: &str) -> Option<&str> {
    let at = line.find("fn ")?;
    let before = &line[..at];
    let qualifiers = ["pub", "pub(crate)", "async", "const", "unsafe"];
    if !before.split_whitespace().all(|w| qualifiers.contains(&w)) {
        return None;
    }
    let rest = &line[at + 3..];
    let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))?;
    (end > 0).then(|| &rest[..end])
}

/// The long flag an `#[arg(…)]` attribute (starting `lines`, over one line or several) declares:
/// `long = "name"`, or `long` and the field's name.
fn flag_of(lines: &[&str]) -> Option<String> {
    let end = lines.iter().position(|l| l.ends_with(")]"))?;
    let attribute = lines[..=end].join(" ");
    let args = attribute.strip_prefix("#[arg(").or_else(|| attribute.strip_prefix("#[clap("))?;
    let mut long = None;
    for arg in args.trim_end_matches(")]").split(',').map(str::trim) {
        if arg == "long" {
            long = Some(None);
        } else if let Some(name) = arg.strip_prefix("long =") {
            long = Some(Some(name.trim().trim_matches('"').to_owned()));
        }
    }
    match long? {
        Some(name) => Some(format!("--{name}")),
        None => {
            let field = lines[end + 1..].iter().find(|l| !l.starts_with("#[") && !l.starts_with("//"))?;
            let field = field.strip_prefix("pub ").unwrap_or(field);
            let name = field.split(':').next()?.trim();
            Some(format!("--{}", name.replace('_', "-")))
        }
    }
}

/// The inline code spans of a line.
fn spans(line: &str) -> impl Iterator<Item = &str> {
    line.split('`').skip(1).step_by(2)
}

/// The targets of a line's Markdown links and images.
fn link_targets(line: &str) -> Vec<&str> {
    let mut targets = Vec::new();
    let mut rest = line;
    while let Some(at) = rest.find("](") {
        rest = &rest[at + 2..];
        if let Some(end) = rest.find(')') {
            targets.push(&rest[..end]);
            rest = &rest[end..];
        }
    }
    targets
}

/// Runs of letters, digits and `_`.
fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).filter(|w| !w.is_empty())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A small repository: a server with two flags, a test, a module test and a doc.
    fn repo(doc: &str) -> Repo {
        let file = |path: &str, text: &str| (path.to_owned(), text.to_owned());
        Repo::from_files(vec![
            file("Cargo.toml", ""),
            file("crates/server/Cargo.toml", ""),
            file(
                "crates/server/src/cli.rs",
                "struct Serve {\n    /// Where.\n    #[arg(long, env = \"ALGA_BIND\")]\n    pub bind: String,\n    \
                 #[arg(long = \"log-format\")]\n    format: String,\n}\n",
            ),
            file(
                "crates/server/src/redact.rs",
                "#[cfg(test)]\nmod tests {\n    #[test]\n    fn secrets_are_hidden() {}\n}\n",
            ),
            file("crates/server/tests/it/api.rs", "fn the_routes_are_exactly_the_table() {}\n"),
            file("tests/interop/client.mjs", "process.env.ALGA_OIDC_MODULES\n"),
            file("docs/images/a.png", ""),
            file("docs/api.md", ""),
            file("docs/guide.md", doc),
        ])
    }

    fn problems(doc: &str) -> Vec<String> {
        let repo = repo(doc);
        repo.check("docs/guide.md", doc)
    }

    const TRUE_DOC: &str = "# Guide\n\nRun `alga-server --bind 127.0.0.1:9 --log-format json` (`ALGA_BIND`), \
        see `crates/server/src/cli.rs`, `api.md`, [the API](api.md) and ![x](images/a.png); \
        `ALGA_OIDC_MODULES` for `tests/interop/client.mjs`. Guarded by \
        `the_routes_are_exactly_the_table` and `redact::tests::secrets_are_hidden`, `redact::tests::*`.\n\n\
        Not ours: `tools/list`, `application/json`, `target/tools`, `~/.cursor/mcp.json`, `alga_http_requests_total`, \
        `claude mcp add --transport http`, `api_keys_hash_idx (key_hash)`, `--transport` (claude's).\n\n\
        ## `crates/server`\n\n`src/cli.rs` and `tests/it/api.rs` are relative to the heading.\n\n\
        ```sh\ncargo run --release -p alga-server --features enterprise -- --bind 127.0.0.1:0\n\
        curl -X POST --data x $ALGA/api\n```\n";

    #[test]
    fn the_true_doc_passes() {
        assert_eq!(problems(TRUE_DOC), Vec::<String>::new());
    }

    /// The true doc with `added` after it raises exactly `problem`, for each pair.
    fn each_fails(cases: &[(&str, &str)]) {
        for (added, problem) in cases {
            assert_eq!(problems(&format!("{TRUE_DOC}\n{added}\n")), [*problem], "{added}");
        }
    }

    #[test]
    fn a_false_path_fails() {
        each_fails(&[
            ("See `crates/server/src/gone.rs`.", "path `crates/server/src/gone.rs`, which does not exist"),
            ("See [the guide](missing.md).", "link to `missing.md`, which does not exist"),
            ("See `operations.md`.", "path `operations.md`, which does not exist"),
        ]);
    }

    #[test]
    fn a_false_flag_fails() {
        each_fails(&[
            ("Run `alga-server serve --listen 0.0.0.0`.", "flag `--listen`, which no command declares"),
            ("Set `--log-level`.", "flag `--log-level`, which no command declares"),
            ("```sh\nalga-server migrate --dry-run\n```", "flag `--dry-run`, which no command declares"),
        ]);
    }

    #[test]
    fn a_false_environment_variable_fails() {
        each_fails(&[("Set `ALGA_LISTEN`.", "environment variable `ALGA_LISTEN`, which no source file reads")]);
    }

    #[test]
    fn a_false_test_name_fails() {
        each_fails(&[
            (
                "Guarded by `the_routes_are_exactly_the_catalog`.",
                "test `the_routes_are_exactly_the_catalog`, which does not exist",
            ),
            (
                "Guarded by `redact::tests::keys_are_hidden`.",
                "test `redact::tests::keys_are_hidden`, which does not exist",
            ),
            ("Guarded by `cli::tests::*`.", "test `cli::tests::*`, which does not exist"),
        ]);
    }

    #[test]
    fn globs_match_within_a_part() {
        assert!(glob_match("*.json", "search-quality.json"));
        assert!(glob_match("…_grant_epochs", "2026-11-25-500004_grant_epochs"));
        assert!(!glob_match("*.json", "README.md"));
        assert!(glob_match("migrations-*", "migrations-ce"));
    }
}
