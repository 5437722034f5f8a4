//! A sound way past Cedar for the common call, the one no forbid matches. Each policy's
//! conditions are read once, from Cedar's JSON form, into a small expression tree. On a call,
//! a policy whose conditions come out false, with every step Cedar would take defined on the
//! way (no attribute missing, no operand of the wrong type), neither matches nor errors, so
//! Cedar need not evaluate it. Whatever the screen does not model (entity literals, `in`, `is`,
//! `like`, tags, arithmetic, extension functions, the action) is unknown; a call for which any
//! applicable policy is not ruled out goes to Cedar with the whole applicable set, so Cedar alone
//! decides every call that may be denied. The screen is tested against Cedar on generated
//! policies and calls (`tests::the_screen_agrees_with_cedar_on_generated_policies_and_calls`).
//!
//! The scope (`principal`, `action`, `resource` constraints) needs no screening: a condition
//! evaluated false means no match whether or not the scope held, and Cedar evaluates the scope
//! first, which never errors.

use std::collections::{BTreeMap, HashSet};

use cedar_policy::Policy;
use serde_json::Value;

use super::request::{EntityVal, Input, Val};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Var {
    Principal,
    Resource,
    Context,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmp {
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SetOp {
    Contains,
    ContainsAll,
    ContainsAny,
}

/// The part of Cedar's expression language the screen evaluates; anything else is `Unknown`.
#[derive(Debug)]
enum Expr {
    Str(String),
    Long(i64),
    Bool(bool),
    Var(Var),
    Set(Vec<Expr>),
    Attr(Box<Expr>, String),
    Has(Box<Expr>, String),
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    If(Box<Expr>, Box<Expr>, Box<Expr>),
    Eq(Box<Expr>, Box<Expr>),
    Ne(Box<Expr>, Box<Expr>),
    Cmp(Cmp, Box<Expr>, Box<Expr>),
    SetOp(SetOp, Box<Expr>, Box<Expr>),
    IsEmpty(Box<Expr>),
    Unknown,
}

/// One policy's conditions, in source order: a `when` body must hold, an `unless` body must not.
#[derive(Debug)]
pub(super) struct Screen {
    clauses: Vec<(bool, Expr)>,
}

impl Screen {
    /// The policy's conditions; a policy whose JSON form cannot be read is never ruled out.
    pub fn of(policy: &Policy) -> Screen {
        let unknown = Screen { clauses: vec![(true, Expr::Unknown)] };
        let Ok(json) = policy.to_json() else { return unknown };
        let Some(conditions) = json.get("conditions").and_then(Value::as_array) else { return unknown };
        let mut clauses = Vec::new();
        for condition in conditions {
            let when = match condition.get("kind").and_then(Value::as_str) {
                Some("when") => true,
                Some("unless") => false,
                _ => return unknown,
            };
            clauses.push((when, parse(condition.get("body").unwrap_or(&Value::Null), 0)));
        }
        Screen { clauses }
    }

    /// Whether the policy certainly neither matches nor errors on this input: its clauses,
    /// taken in Cedar's order, reach one that fails after every earlier one held, each defined.
    pub fn rules_out(&self, input: &Input) -> bool {
        for (when, body) in &self.clauses {
            match eval(body, input) {
                Some(V::Bool(holds)) if holds == *when => continue,
                Some(V::Bool(_)) => return true,
                _ => return false,
            }
        }
        // Every clause holds (or there is none): the policy matches when its scope does.
        false
    }
}

/// Deeper expressions are not screened (Cedar decides them); compiling bounds their depth anyway.
const MAX_DEPTH: usize = 64;

fn boxed(json: Option<&Value>, depth: usize) -> Box<Expr> {
    Box::new(parse(json.unwrap_or(&Value::Null), depth + 1))
}

fn literal(json: &Value, depth: usize) -> Expr {
    if depth > MAX_DEPTH {
        return Expr::Unknown;
    }
    match json {
        Value::String(s) => Expr::Str(s.clone()),
        Value::Bool(b) => Expr::Bool(*b),
        Value::Number(n) => n.as_i64().map_or(Expr::Unknown, Expr::Long),
        Value::Array(items) => Expr::Set(items.iter().map(|item| literal(item, depth + 1)).collect()),
        _ => Expr::Unknown,
    }
}

/// Cedar's JSON expression form (the EST) → [`Expr`], `depth` levels down.
fn parse(json: &Value, depth: usize) -> Expr {
    if depth > MAX_DEPTH {
        return Expr::Unknown;
    }
    let Some(object) = json.as_object() else { return Expr::Unknown };
    let mut entries = object.iter();
    let (Some((key, v)), None) = (entries.next(), entries.next()) else { return Expr::Unknown };
    let (left, right) = (|| boxed(v.get("left"), depth), || boxed(v.get("right"), depth));
    match key.as_str() {
        "Value" => literal(v, depth),
        "Var" => match v.as_str() {
            Some("principal") => Expr::Var(Var::Principal),
            Some("resource") => Expr::Var(Var::Resource),
            Some("context") => Expr::Var(Var::Context),
            _ => Expr::Unknown,
        },
        "Set" => match v.as_array() {
            Some(items) => Expr::Set(items.iter().map(|item| parse(item, depth + 1)).collect()),
            None => Expr::Unknown,
        },
        "!" => Expr::Not(boxed(v.get("arg"), depth)),
        "isEmpty" => Expr::IsEmpty(boxed(v.get("arg"), depth)),
        "&&" => Expr::And(left(), right()),
        "||" => Expr::Or(left(), right()),
        "==" => Expr::Eq(left(), right()),
        "!=" => Expr::Ne(left(), right()),
        "<" => Expr::Cmp(Cmp::Lt, left(), right()),
        "<=" => Expr::Cmp(Cmp::Le, left(), right()),
        ">" => Expr::Cmp(Cmp::Gt, left(), right()),
        ">=" => Expr::Cmp(Cmp::Ge, left(), right()),
        "contains" => Expr::SetOp(SetOp::Contains, left(), right()),
        "containsAll" => Expr::SetOp(SetOp::ContainsAll, left(), right()),
        "containsAny" => Expr::SetOp(SetOp::ContainsAny, left(), right()),
        "." => match v.get("attr").and_then(Value::as_str) {
            Some(a) => Expr::Attr(left(), a.to_owned()),
            None => Expr::Unknown,
        },
        "has" => match v.get("attr") {
            Some(Value::String(a)) => Expr::Has(left(), a.clone()),
            Some(Value::Array(path)) => extended_has(v.get("left"), path, depth),
            _ => Expr::Unknown,
        },
        "if-then-else" => Expr::If(boxed(v.get("if"), depth), boxed(v.get("then"), depth), boxed(v.get("else"), depth)),
        _ => Expr::Unknown,
    }
}

/// `e has a.b.c`: `e has a && e.a has b && e.a.b has c`.
fn extended_has(left: Option<&Value>, path: &[Value], depth: usize) -> Expr {
    let Some(names) = path.iter().map(Value::as_str).collect::<Option<Vec<_>>>() else { return Expr::Unknown };
    let mut test: Option<Expr> = None;
    for (i, name) in names.iter().enumerate() {
        let mut at = boxed(left, depth);
        for step in &names[..i] {
            at = Box::new(Expr::Attr(at, (*step).to_owned()));
        }
        let has = Expr::Has(at, (*name).to_owned());
        test = Some(match test {
            None => has,
            Some(earlier) => Expr::And(Box::new(earlier), Box::new(has)),
        });
    }
    test.unwrap_or(Expr::Unknown)
}

/// What one step of the evaluation yields. `Opaque` is a value the screen does not compare
/// (a date-time).
#[derive(Debug)]
enum V<'a> {
    Str(&'a str),
    Long(i64),
    Bool(bool),
    Set(Vec<V<'a>>),
    Record(&'a BTreeMap<String, Val>),
    Entity(&'a EntityVal),
    Opaque,
}

fn value(v: &Val) -> V<'_> {
    match v {
        Val::Str(s) => V::Str(s),
        Val::Long(n) => V::Long(*n),
        Val::Bool(b) => V::Bool(*b),
        Val::DateTime(_) => V::Opaque,
        Val::Set(items) => V::Set(items.iter().map(value).collect()),
        Val::Record(fields) => V::Record(fields),
        Val::Entity(entity) => V::Entity(entity),
    }
}

/// Cedar's `==` where the screen is sure of it: scalars (of different types, unequal).
fn equal(a: &V, b: &V) -> Option<bool> {
    match (a, b) {
        (V::Str(a), V::Str(b)) => Some(a == b),
        (V::Long(a), V::Long(b)) => Some(a == b),
        (V::Bool(a), V::Bool(b)) => Some(a == b),
        (V::Str(_) | V::Long(_) | V::Bool(_), V::Str(_) | V::Long(_) | V::Bool(_)) => Some(false),
        _ => None,
    }
}

/// A scalar as a key of a hashed set.
#[derive(Debug, PartialEq, Eq, Hash)]
enum Key<'a> {
    Str(&'a str),
    Long(i64),
    Bool(bool),
}

fn key<'a>(v: &V<'a>) -> Option<Key<'a>> {
    match v {
        V::Str(s) => Some(Key::Str(s)),
        V::Long(n) => Some(Key::Long(*n)),
        V::Bool(b) => Some(Key::Bool(*b)),
        _ => None,
    }
}

/// A set's elements, hashed (a call may send large ones): `None` when one is not a scalar, as
/// the screen then does not decide. Scalars of different types are unequal, as in Cedar.
fn keys<'a>(set: &[V<'a>]) -> Option<HashSet<Key<'a>>> {
    set.iter().map(key).collect()
}

fn eval<'a>(expr: &'a Expr, input: &'a Input) -> Option<V<'a>> {
    let bool_of = |e: &'a Expr| match eval(e, input)? {
        V::Bool(b) => Some(b),
        _ => None,
    };
    Some(match expr {
        Expr::Str(s) => V::Str(s),
        Expr::Long(n) => V::Long(*n),
        Expr::Bool(b) => V::Bool(*b),
        Expr::Var(Var::Principal) => V::Entity(&input.principal),
        // A resource whose attributes were not read is not in Cedar's entities.
        Expr::Var(Var::Resource) => V::Entity(input.record.as_ref()?),
        Expr::Var(Var::Context) => V::Record(&input.context),
        Expr::Set(items) => V::Set(items.iter().map(|e| eval(e, input)).collect::<Option<Vec<_>>>()?),
        Expr::Attr(of, name) => match eval(of, input)? {
            V::Record(fields) => value(fields.get(name)?),
            V::Entity(entity) => value(entity.attrs.get(name)?),
            _ => return None,
        },
        Expr::Has(of, name) => match eval(of, input)? {
            V::Record(fields) => V::Bool(fields.contains_key(name)),
            V::Entity(entity) => V::Bool(entity.attrs.contains_key(name)),
            _ => return None,
        },
        Expr::Not(e) => V::Bool(!bool_of(e)?),
        Expr::And(l, r) => V::Bool(bool_of(l)? && bool_of(r)?),
        Expr::Or(l, r) => V::Bool(bool_of(l)? || bool_of(r)?),
        Expr::If(c, t, e) => {
            if bool_of(c)? {
                eval(t, input)?
            } else {
                eval(e, input)?
            }
        }
        Expr::Eq(l, r) => V::Bool(equal(&eval(l, input)?, &eval(r, input)?)?),
        Expr::Ne(l, r) => V::Bool(!equal(&eval(l, input)?, &eval(r, input)?)?),
        Expr::Cmp(op, l, r) => match (eval(l, input)?, eval(r, input)?) {
            (V::Long(a), V::Long(b)) => V::Bool(match op {
                Cmp::Lt => a < b,
                Cmp::Le => a <= b,
                Cmp::Gt => a > b,
                Cmp::Ge => a >= b,
            }),
            _ => return None,
        },
        Expr::SetOp(op, l, r) => {
            let V::Set(set) = eval(l, input)? else { return None };
            let operand = eval(r, input)?;
            let set = keys(&set)?;
            V::Bool(match (op, operand) {
                (SetOp::Contains, item) => set.contains(&key(&item)?),
                (SetOp::ContainsAll, V::Set(items)) => keys(&items)?.iter().all(|k| set.contains(k)),
                (SetOp::ContainsAny, V::Set(items)) => keys(&items)?.iter().any(|k| set.contains(k)),
                _ => return None,
            })
        }
        Expr::IsEmpty(e) => match eval(e, input)? {
            V::Set(items) => V::Bool(items.is_empty()),
            _ => return None,
        },
        Expr::Unknown => return None,
    })
}
