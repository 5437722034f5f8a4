//! The Cedar policy engine: the schema generated from the catalog, compiling and validating a
//! tenant's policy source, and deciding calls, listings and search. Pure: no database; callers
//! load the facts (`policy::load`) and cache a [`Compiled`] set per (tenant, version).
//!
//! Semantics: the engine runs only after the role check, with an implicit baseline permit;
//! policies may only `forbid`. Any matching forbid denies, and so does a forbid that cannot be
//! evaluated (fail closed).

mod model;
mod request;
mod screen;
mod templates;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::sync::Arc;

use cedar_policy::{
    ActionConstraint, AuthorizationError, Authorizer, Effect, Policy, PolicyId, PolicySet, PrincipalConstraint,
    ResourceConstraint, Schema, ValidationMode,
};
use serde::{Deserialize, Serialize};

pub use templates::{Template, templates};

use crate::policy::facts::{ApprovalNeed, CallFacts, Evaluation, PrincipalFacts, PrincipalKind, Visibility};

/// The most policies a set may hold. A compiled set keeps, per (operation, principal kind), the
/// policies that may apply: about 200 pairs, so every policy may be held 200 times over.
pub const MAX_POLICIES: usize = 500;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("the policy schema could not be generated: {0}")]
    Schema(String),
}

/// The generated Cedar schema.
pub fn schema() -> Result<&'static Schema, EngineError> {
    Ok(model::model()?.schema())
}

/// The schema in Cedar's human-readable syntax, for admins to read.
pub fn schema_text() -> Result<String, EngineError> {
    Ok(model::model()?.text.clone())
}

/// One problem in a policy source, located 1-based.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    pub line: u32,
    pub column: u32,
    pub message: String,
    pub policy_id: Option<String>,
}

/// One policy as admins see it: its id (`@id`, else positional) and `@reason`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PolicySummary {
    pub id: String,
    pub reason: Option<String>,
}

/// What the engine knows of one policy besides Cedar's own form.
#[derive(Clone, Debug)]
struct PolicyMeta {
    /// Cedar's positional id (`policy0`), the key of the compiled set.
    cedar_id: PolicyId,
    /// `@id("…")`, else the positional id.
    id: String,
    reason: Option<String>,
    /// For an `@approval("required")` permit: what it asks of the calls it matches.
    approval: Option<ApprovalRule>,
}

/// What an `@approval("required")` permit asks: `@approvers("Billing, Finance")` (roles an
/// approver must hold) and `@expires("1h")` (how long an approval may wait and be used).
#[derive(Clone, Debug, PartialEq, Eq)]
struct ApprovalRule {
    approvers: Vec<String>,
    expires_in_seconds: i64,
}

/// An approval's lifetime when `@expires` is not given, and its bounds.
const DEFAULT_APPROVAL_SECONDS: i64 = 3600;
const MIN_APPROVAL_SECONDS: i64 = 60;
const MAX_APPROVAL_SECONDS: i64 = 7 * 24 * 3600;

/// `30m`, `1h`, `2d`: minutes, hours or days, within the bounds above.
fn expiry(text: &str) -> Result<i64, String> {
    let text = text.trim();
    let unit = match text.chars().last() {
        Some('m') => 60,
        Some('h') => 3600,
        Some('d') => 86_400,
        _ => {
            return Err(format!(
                "`@expires({text:?})`: write a whole number of minutes, hours or days: \"30m\", \"1h\", \"2d\""
            ));
        }
    };
    let count: i64 = text[..text.len() - 1].parse().map_err(|_| {
        format!("`@expires({text:?})`: write a whole number of minutes, hours or days: \"30m\", \"1h\", \"2d\"")
    })?;
    let seconds = count.saturating_mul(unit);
    if !(MIN_APPROVAL_SECONDS..=MAX_APPROVAL_SECONDS).contains(&seconds) {
        return Err(format!("`@expires({text:?})` must be between 1 minute and 7 days"));
    }
    Ok(seconds)
}

/// The approval rule of a policy's annotations; `None` for a policy without `@approval`.
fn approval_rule(policy: &Policy) -> Result<Option<ApprovalRule>, String> {
    let Some(approval) = policy.annotation("approval") else {
        if policy.annotation("approvers").is_some() || policy.annotation("expires").is_some() {
            return Err("`@approvers` and `@expires` belong to an `@approval(\"required\")` policy".to_owned());
        }
        return Ok(None);
    };
    if approval != "required" {
        return Err(format!("`@approval({approval:?})`: the one requirement is `@approval(\"required\")`"));
    }
    let approvers: Vec<String> = match policy.annotation("approvers") {
        None => Vec::new(),
        Some(list) => {
            let names: Vec<String> = list.split(',').map(|n| n.trim().to_owned()).collect();
            if names.iter().any(|n| n.is_empty() || n.chars().count() > 100) || names.len() > 10 {
                return Err("`@approvers` lists 1 to 10 role names, separated by commas".to_owned());
            }
            names
        }
    };
    let expires_in_seconds = policy.annotation("expires").map_or(Ok(DEFAULT_APPROVAL_SECONDS), expiry)?;
    Ok(Some(ApprovalRule { approvers, expires_in_seconds }))
}

/// A validated policy set, ready to decide.
#[derive(Clone, Debug)]
pub struct Compiled {
    set: PolicySet,
    policies: Vec<PolicyMeta>,
    /// Per (operation, principal type), the policies whose scope may match its calls; none
    /// listed, none apply. Cedar evaluates every policy it is given, so each call gets only these.
    /// Pairs with the same policies share one set (broad forbids apply to every pair).
    applicable: HashMap<(String, PrincipalKind), Arc<Applicable>>,
    /// Policies held in all: the set's and every applicable set's (what the set costs in memory).
    held: usize,
}

/// The policies that may apply to one (operation, principal type): for Cedar, and screened.
#[derive(Debug)]
struct Applicable {
    set: PolicySet,
    screens: Vec<Arc<screen::Screen>>,
}

/// Why a policy is refused besides Cedar's checks: policies only restrict. A `permit` is only
/// ever an approval requirement (`@approval("required") permit (…)`): it asks, never grants.
fn refusal(policy: &Policy) -> Option<String> {
    let rule = match approval_rule(policy) {
        Ok(rule) => rule,
        Err(why) => return Some(why),
    };
    match (policy.effect(), rule) {
        (Effect::Forbid, None) | (Effect::Permit, Some(_)) => None,
        (Effect::Forbid, Some(_)) => {
            Some("`@approval` marks a `permit`: write `@approval(\"required\") permit (…)`; a forbid denies".to_owned())
        }
        (Effect::Permit, None) => Some(
            "policies only restrict what roles allow: write `forbid`, or `@approval(\"required\") permit` to ask a person first; roles grant"
                .to_owned(),
        ),
    }
}

/// 1-based line and column (in characters) of a byte offset.
fn position(source: &str, offset: usize) -> (u32, u32) {
    let offset = offset.min(source.len());
    let before = source.get(..offset).unwrap_or(source);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (u32::try_from(line).unwrap_or(u32::MAX), u32::try_from(column).unwrap_or(u32::MAX))
}

fn diagnostic(source: &str, error: &dyn miette::Diagnostic, message: String, policy_id: Option<String>) -> Diagnostic {
    let offset = error.labels().and_then(|mut labels| labels.next()).map(|l| l.offset()).unwrap_or(0);
    let (line, column) = position(source, offset);
    let message = match error.help() {
        Some(help) => format!("{message} ({help})"),
        None => message,
    };
    Diagnostic { line, column, message, policy_id }
}

/// What the cheap scans of a source see, outside strings and comments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token<'a> {
    Open,
    Close,
    /// A one- or two-character operator (`&&`, `==`, `.`, `!` …).
    Operator,
    /// An identifier or keyword, and whether an `@` precedes it (an annotation's name).
    Word(&'a str, bool),
}

/// The tokens of `source` with their byte offsets, skipping strings, comments and whatever else,
/// without parsing: cheap enough to run on any text before Cedar reads it.
fn tokens(source: &str) -> impl Iterator<Item = (usize, Token<'_>)> {
    let bytes = source.as_bytes();
    let mut i = 0usize;
    std::iter::from_fn(move || {
        while i < bytes.len() {
            let at = i;
            match bytes[i] {
                b'"' => {
                    i += 1;
                    while i < bytes.len() && bytes[i] != b'"' {
                        i += if bytes[i] == b'\\' { 2 } else { 1 };
                    }
                }
                // Cedar ends a comment at either line break (`//[^\n\r]*`): so must this, or a
                // policy after a bare `\r` would go unseen, and unbounded.
                b'/' if bytes.get(i + 1) == Some(&b'/') => {
                    while i < bytes.len() && !matches!(bytes[i], b'\n' | b'\r') {
                        i += 1;
                    }
                }
                b'(' | b'{' | b'[' => {
                    i += 1;
                    return Some((at, Token::Open));
                }
                b')' | b'}' | b']' => {
                    i += 1;
                    return Some((at, Token::Close));
                }
                b'&' | b'|' | b'=' | b'!' | b'<' | b'>' | b'+' | b'-' | b'*' | b'.' => {
                    // Two-character operators are one.
                    i += if matches!(bytes.get(i + 1), Some(b'&' | b'|' | b'=')) { 2 } else { 1 };
                    return Some((at, Token::Operator));
                }
                c if c.is_ascii_alphabetic() || c == b'_' => {
                    while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                        i += 1;
                    }
                    let annotation = at > 0 && bytes[at - 1] == b'@';
                    return Some((at, Token::Word(&source[at..i], annotation)));
                }
                _ => {}
            }
            i += 1;
        }
        None
    })
}

/// Byte offsets of the effect keywords (`permit`/`forbid`) of each policy, in source order:
/// the only identifiers outside brackets, strings and comments besides `when`/`unless`.
fn effect_offsets(source: &str) -> Vec<usize> {
    let mut depth = 0i32;
    let mut out = Vec::new();
    for (at, token) in tokens(source) {
        match token {
            Token::Open => depth += 1,
            Token::Close => depth -= 1,
            Token::Word("permit" | "forbid", false) if depth == 0 => out.push(at),
            _ => {}
        }
    }
    out
}

/// The most operators (`&&`, `==`, `.`, `!`, `has`, `if` …) one policy may hold, and the deepest
/// its brackets may nest. Cedar's evaluator and validator recurse about 4 KB of stack per level
/// and fail past their limit (the evaluator with an error, the validator silently), and the
/// JSON form the screen reads is built recursively too: bounding a policy's size bounds its depth
/// well within a 2 MiB thread, before anything recursive reads it.
pub const MAX_POLICY_OPERATORS: usize = 100;
pub const MAX_POLICY_NESTING: usize = 16;

/// Per policy (from each effect keyword to the next), its operators and deepest nesting,
/// counted on the text outside strings and comments.
fn policy_sizes(source: &str) -> Vec<(usize, usize, usize)> {
    let offsets = effect_offsets(source);
    let mut sizes: Vec<(usize, usize, usize)> = offsets.iter().map(|&start| (start, 0, 0)).collect();
    let (mut policy, mut depth) = (0usize, 0usize);
    for (at, token) in tokens(source) {
        while offsets.get(policy + 1).is_some_and(|&next| at >= next) {
            policy += 1;
            depth = 0;
        }
        let Some((start, operators, deepest)) = sizes.get_mut(policy) else { break };
        if at < *start {
            continue;
        }
        match token {
            Token::Open => {
                depth += 1;
                *deepest = (*deepest).max(depth);
            }
            Token::Close => depth = depth.saturating_sub(1),
            Token::Operator | Token::Word("if" | "has" | "like" | "in" | "is", _) => *operators += 1,
            Token::Word(..) => {}
        }
    }
    sizes
}

/// How many policies a source holds, counted by their effect keywords without parsing: cheap
/// enough to refuse an oversized source before compiling it.
pub fn policy_count(source: &str) -> usize {
    effect_offsets(source).len()
}

/// The diagnostic of a set holding more than [`MAX_POLICIES`].
fn too_many(count: usize) -> Diagnostic {
    Diagnostic {
        line: 1,
        column: 1,
        message: format!("a policy set may hold at most {MAX_POLICIES} policies; this one holds {count}"),
        policy_id: None,
    }
}

/// Parses and validates a tenant's policy source against the schema (strictly) and the
/// project's rules. Every problem found is returned, each at its line and column.
pub fn compile(source: &str) -> Result<Compiled, Vec<Diagnostic>> {
    let (model, set, policies) = checked(source)?;
    let (applicable, shared) =
        applicable(model, &set).map_err(|message| vec![Diagnostic { line: 1, column: 1, message, policy_id: None }])?;
    let held = policies.len() + shared;
    Ok(Compiled { set, policies, applicable, held })
}

/// What [`compile`] checks, without building the per-operation sets that deciding needs (the
/// costly part of a large set): each policy's id and `@reason`, in source order, or every problem.
pub fn summarize(source: &str) -> Result<Vec<PolicySummary>, Vec<Diagnostic>> {
    let (_, _, policies) = checked(source)?;
    Ok(policies.into_iter().map(|p| PolicySummary { id: p.id, reason: p.reason }).collect())
}

/// Parsed and validated: the model, the set and each policy's ids and reason.
fn checked(source: &str) -> Result<(&'static model::Model, PolicySet, Vec<PolicyMeta>), Vec<Diagnostic>> {
    let model =
        model::model().map_err(|e| vec![Diagnostic { line: 1, column: 1, message: e.to_string(), policy_id: None }])?;
    let oversized: Vec<Diagnostic> = policy_sizes(source)
        .into_iter()
        .filter(|(_, operators, nesting)| *operators > MAX_POLICY_OPERATORS || *nesting > MAX_POLICY_NESTING)
        .map(|(offset, operators, nesting)| {
            let (line, column) = position(source, offset);
            Diagnostic {
                line,
                column,
                message: format!(
                    "a policy may hold at most {MAX_POLICY_OPERATORS} operators and nest brackets {MAX_POLICY_NESTING} deep; this one holds {operators}, nested {nesting} deep: split it into several policies"
                ),
                policy_id: None,
            }
        })
        .collect();
    if !oversized.is_empty() {
        return Err(oversized);
    }
    let set = PolicySet::from_str(source)
        .map_err(|errors| errors.iter().map(|e| diagnostic(source, e, e.to_string(), None)).collect::<Vec<_>>())?;
    // Also here, not only where sources are received: a stored set over the limit (saved before
    // it existed) must not be expanded per operation either.
    let count = set.policies().count() + set.templates().count();
    if count > MAX_POLICIES {
        return Err(vec![too_many(count)]);
    }
    // Cedar numbers policies `policy0`, `policy1`, … in source order.
    let offsets = effect_offsets(source);
    let mut policies = Vec::new();
    let mut diagnostics = Vec::new();
    let mut seen = HashSet::new();
    for index in 0.. {
        let cedar_id = PolicyId::new(format!("policy{index}"));
        let Some(policy) = set.policy(&cedar_id) else { break };
        let id = policy.annotation("id").map_or_else(|| cedar_id.to_string(), str::to_owned);
        let at = |message: String| {
            let (line, column) = position(source, offsets.get(index).copied().unwrap_or(0));
            Diagnostic { line, column, message, policy_id: Some(id.clone()) }
        };
        if id.trim().is_empty() {
            diagnostics.push(at("`@id` must not be empty".to_owned()));
        } else if !seen.insert(id.clone()) {
            diagnostics.push(at(format!("another policy already has the id {id:?}")));
        }
        if let Some(why) = refusal(policy) {
            diagnostics.push(at(why));
        }
        // An approval is consumed with the write it lets run; a read writes nothing to go with it.
        if policy.annotation("approval").is_some()
            && let Some(read) = model.operations.values().filter(|op| op.reads).find(|op| action_matches(policy, op))
        {
            diagnostics.push(at(format!(
                "`@approval` applies to operations that change something, and this policy's actions include {}: scope it to writes (`action in Alga::Action::\"write\"`, or the operations named)",
                read.action
            )));
        }
        let approval = approval_rule(policy).ok().flatten();
        policies.push(PolicyMeta { cedar_id, id, reason: policy.annotation("reason").map(str::to_owned), approval });
    }
    // Templates (`?principal`) never apply unless linked, and nothing links them.
    if set.templates().next().is_some() {
        diagnostics.push(Diagnostic {
            line: 1,
            column: 1,
            message: "slots (`?principal`, `?resource`) are not supported: name the entities or use conditions"
                .to_owned(),
            policy_id: None,
        });
        return Err(diagnostics);
    }
    let result = model.validator.validate(&set, ValidationMode::Strict);
    for error in result.validation_errors() {
        let meta = policies.iter().find(|p| &p.cedar_id == error.policy_id());
        // Cedar names the policy by its positional id; the admin knows it by its `@id`.
        let message = match meta {
            Some(m) => error.to_string().replace(&format!("`{}`", m.cedar_id), &format!("`{}`", m.id)),
            None => error.to_string(),
        };
        diagnostics.push(diagnostic(source, error, message, meta.map(|m| m.id.clone())));
    }
    if diagnostics.is_empty() {
        Ok((model, set, policies))
    } else {
        // Cedar reports a problem once per action the policy may apply to.
        diagnostics.sort_by(|a, b| (a.line, a.column, &a.message).cmp(&(b.line, b.column, &b.message)));
        diagnostics.dedup();
        Err(diagnostics)
    }
}

fn principal_may_match(policy: &Policy, kind: PrincipalKind) -> bool {
    let name = request::principal_type(kind);
    match policy.principal_constraint() {
        PrincipalConstraint::Any => true,
        PrincipalConstraint::Is(t) | PrincipalConstraint::IsIn(t, _) => t.basename() == name,
        PrincipalConstraint::Eq(uid) | PrincipalConstraint::In(uid) => uid.type_name().basename() == name,
    }
}

fn action_matches(policy: &Policy, op: &model::OperationModel) -> bool {
    match policy.action_constraint() {
        ActionConstraint::Any => true,
        ActionConstraint::Eq(uid) => uid == op.action,
        ActionConstraint::In(uids) => uids.iter().any(|u| *u == op.action || op.groups.contains(u)),
    }
}

/// Whether the resource scope holds for every resource of the operation, and for some.
/// Resources have no parents: a constraint naming one record may match some calls.
fn resource_scope(policy: &Policy, op: &model::OperationModel) -> (bool, bool) {
    match policy.resource_constraint() {
        ResourceConstraint::Any => (true, true),
        ResourceConstraint::Is(t) => (t == op.resource_type, t == op.resource_type),
        ResourceConstraint::Eq(uid) | ResourceConstraint::In(uid) => (false, uid.type_name() == &op.resource_type),
        ResourceConstraint::IsIn(t, uid) => (false, t == op.resource_type && uid.type_name() == &t),
    }
}

/// The applicable sets per (operation, principal kind), and how many policies they hold in all
/// (each distinct set counted once).
type ApplicableSets = (HashMap<(String, PrincipalKind), Arc<Applicable>>, usize);

fn applicable(model: &model::Model, set: &PolicySet) -> Result<ApplicableSets, String> {
    let mut out = HashMap::new();
    // Each distinct list of policies is built once and shared: ~200 pairs would otherwise each
    // hold a copy of every broad forbid. Each policy is screened once.
    let mut distinct: HashMap<Vec<PolicyId>, Arc<Applicable>> = HashMap::new();
    let screens: HashMap<&PolicyId, Arc<screen::Screen>> =
        set.policies().map(|p| (p.id(), Arc::new(screen::Screen::of(p)))).collect();
    let mut held = 0;
    for (id, op) in &model.operations {
        for kind in [PrincipalKind::Agent, PrincipalKind::User] {
            let policies: Vec<&Policy> = set
                .policies()
                .filter(|p| principal_may_match(p, kind) && action_matches(p, op) && resource_scope(p, op).1)
                .collect();
            if policies.is_empty() {
                continue;
            }
            let ids: Vec<PolicyId> = policies.iter().map(|p| p.id().clone()).collect();
            let shared = match distinct.get(&ids) {
                Some(shared) => shared.clone(),
                None => {
                    held += policies.len();
                    let screens = policies
                        .iter()
                        .map(|p| screens.get(p.id()).cloned().unwrap_or_else(|| Arc::new(screen::Screen::of(p))))
                        .collect();
                    let set = PolicySet::from_policies(policies.into_iter().cloned()).map_err(|e| e.to_string())?;
                    let built = Arc::new(Applicable { set, screens });
                    distinct.insert(ids, built.clone());
                    built
                }
            };
            out.insert((id.clone(), kind), shared);
        }
    }
    Ok((out, held))
}

impl Compiled {
    /// The empty set: roles alone.
    pub fn empty() -> Compiled {
        Compiled { set: PolicySet::new(), policies: Vec::new(), applicable: HashMap::new(), held: 0 }
    }

    /// Policies held in all, the set's and every per-operation set's: a measure of its memory.
    pub fn held(&self) -> usize {
        self.held
    }

    pub fn len(&self) -> usize {
        self.policies.len()
    }

    pub fn is_empty(&self) -> bool {
        self.policies.is_empty()
    }

    /// The policies' ids (`@id`, else positional), in source order.
    pub fn ids(&self) -> Vec<String> {
        self.policies.iter().map(|p| p.id.clone()).collect()
    }

    /// Each policy's id and `@reason`, in source order: what admins see of a set.
    pub fn summaries(&self) -> Vec<PolicySummary> {
        self.policies.iter().map(|p| PolicySummary { id: p.id.clone(), reason: p.reason.clone() }).collect()
    }

    /// Decides one call that roles already allowed: denied when a forbid matches or cannot be
    /// evaluated.
    pub fn decide(&self, principal: &PrincipalFacts, call: &CallFacts) -> Evaluation {
        self.evaluate(principal, call, true)
    }

    /// [`Compiled::decide`]; with `screened`, Cedar is skipped when every applicable policy is
    /// ruled out by its screen (without, for tests, Cedar decides every call).
    fn evaluate(&self, principal: &PrincipalFacts, call: &CallFacts, screened: bool) -> Evaluation {
        let allowed = Evaluation::allow();
        if self.policies.is_empty() {
            return allowed;
        }
        let denied_by_all = |error: String| Evaluation {
            allowed: false,
            policy_ids: self.ids(),
            errors: vec![error],
            ..Evaluation::default()
        };
        let model = match model::model() {
            Ok(model) => model,
            Err(e) => return denied_by_all(e.to_string()),
        };
        let Some(op) = model.operations.get(&call.operation_id) else {
            return denied_by_all(format!("unknown operation {}", call.operation_id));
        };
        let Some(applicable) = self.applicable.get(&(call.operation_id.clone(), principal.kind)) else {
            return allowed;
        };
        // `build` cannot fail on what `input` returns (distinct uids by type, date-times Cedar
        // reads, record keys unique): a call screened past Cedar would otherwise not be refused
        // as one that could not be built is.
        let built = request::input(op, principal, call).and_then(|input| {
            // The common call: every applicable forbid certainly fails its conditions.
            if screened && applicable.screens.iter().all(|s| s.rules_out(&input)) {
                return Ok(None);
            }
            request::build(op, &input).map(Some)
        });
        let built = match built {
            Ok(Some(built)) => built,
            Ok(None) => return allowed,
            Err(e) => return denied_by_all(format!("the call could not be put to the policies: {e}")),
        };
        let response = Authorizer::new().is_authorized(&built.request, &applicable.set, &built.entities);
        // Cedar's reason holds the matching forbids when any matched, else the matching
        // (approval) permits; a policy that failed denies either way (fail closed). In source
        // order (Cedar reports them in no set order).
        let matched: HashSet<&PolicyId> = response.diagnostics().reason().collect();
        let failed: HashMap<&PolicyId, String> = response
            .diagnostics()
            .errors()
            .map(|AuthorizationError::PolicyEvaluationError(error)| (error.policy_id(), error_text(error.inner())))
            .collect();
        let mut evaluation = allowed;
        let mut asking: Vec<(&PolicyMeta, &ApprovalRule)> = Vec::new();
        for meta in &self.policies {
            if let Some(text) = failed.get(&meta.cedar_id) {
                evaluation.errors.push(format!("{}: {text}", meta.id));
            } else if !matched.contains(&meta.cedar_id) {
                continue;
            } else if let Some(rule) = &meta.approval {
                asking.push((meta, rule));
                continue;
            }
            evaluation.policy_ids.push(meta.id.clone());
            evaluation.reasons.extend(meta.reason.clone());
        }
        // Every policy Cedar names is one of ours (templates are refused, so ids are positional);
        // should one not be, it still decides, by its Cedar id.
        let known: HashSet<&PolicyId> = self.policies.iter().map(|p| &p.cedar_id).collect();
        for id in matched.iter().chain(failed.keys()).filter(|id| !known.contains(*id)) {
            if let Some(text) = failed.get(*id) {
                evaluation.errors.push(format!("{id}: {text}"));
            }
            evaluation.policy_ids.push(id.to_string());
        }
        if evaluation.policy_ids.is_empty() && !asking.is_empty() {
            let mut approvers: Vec<String> = asking.iter().flat_map(|(_, rule)| rule.approvers.clone()).collect();
            approvers.sort();
            approvers.dedup();
            evaluation.approval = Some(ApprovalNeed {
                policy_ids: asking.iter().map(|(meta, _)| meta.id.clone()).collect(),
                approvers,
                expires_in_seconds: asking
                    .iter()
                    .map(|(_, rule)| rule.expires_in_seconds)
                    .min()
                    .unwrap_or(DEFAULT_APPROVAL_SECONDS),
            });
        }
        evaluation.allowed = evaluation.policy_ids.is_empty();
        evaluation
    }

    /// Whether an operation is listed and found for a principal (roles having allowed it).
    pub fn visibility(&self, principal: &PrincipalFacts, operation_id: &str) -> Visibility {
        let Ok(model) = model::model() else { return Visibility::Conditional };
        let Some(op) = model.operations.get(operation_id) else { return Visibility::Conditional };
        let Ok(principal_uid) = request::principal_uid(principal) else { return Visibility::Conditional };
        let principal_type = principal_uid.type_name();
        let mut visibility = Visibility::Open;
        for policy in self.set.policies() {
            let principal_matches = match policy.principal_constraint() {
                PrincipalConstraint::Any => true,
                PrincipalConstraint::Is(t) => &t == principal_type,
                // Principals have no parents: `in` holds only for the principal itself.
                PrincipalConstraint::Eq(uid) | PrincipalConstraint::In(uid) => uid == principal_uid,
                PrincipalConstraint::IsIn(t, uid) => &t == principal_type && uid == principal_uid,
            };
            if !principal_matches || !action_matches(policy, op) {
                continue;
            }
            let (every_resource, some_resource) = resource_scope(policy, op);
            // An approval requirement hides nothing: the call may run once a person agrees.
            if every_resource && !policy.has_non_scope_constraint() && policy.effect() == Effect::Forbid {
                return Visibility::Hidden;
            }
            if some_resource {
                visibility = Visibility::Conditional;
            }
        }
        visibility
    }
}

/// What an evaluation error says, for the caller and the audit row, without the values it would
/// quote where they may be a call's arguments (an extension function's input, the numbers that
/// overflowed): the audit redacts arguments by name, and an error message has none.
fn error_text(error: &cedar_policy::EvaluationError) -> String {
    use cedar_policy::EvaluationError as E;
    match error {
        E::FailedExtensionFunctionExecution(_) => "an extension function failed on the value it was given".to_owned(),
        E::IntegerOverflow(_) => "integer overflow".to_owned(),
        other => other.to_string(),
    }
}
