//! Which policies can apply to a request, from what a policy says in its scope and in the
//! plain tests of its `when` conditions, so that a request evaluates only those.
//!
//! A policy is set aside for a request only when it certainly cannot be satisfied by it: its
//! scope names another agency, principal, file or action, or one of the conjuncts of a `when`
//! condition compares an attribute the request fixes (the principal's role, agency or name,
//! the file's agency, the purpose, the category, break-glass) with values the request does
//! not have. Anything else in a condition is left to Cedar.

use crate::{Act, Target};
use cedar_policy::{ActionConstraint, EntityUid, Policy, PrincipalConstraint, ResourceConstraint};
use rempart_domain::{Category, Purpose, Role};
use serde_json::Value;

/// What the request fixes, for the policies to be sorted by.
pub(crate) struct Shape<'a> {
    pub agency: &'a str,
    pub name: &'a str,
    pub role: Role,
    pub act: Act,
    pub file_agency: &'a str,
    pub file_id: &'a str,
    pub purpose: Purpose,
    pub break_glass: bool,
}

/// The targets of decisions, in the order of [`target_index`].
pub(crate) const TARGETS: usize = 11;

/// Position of a target among [`TARGETS`]: the categories, the masked NIR, the whole file.
pub(crate) fn target_index(t: Target) -> usize {
    match t {
        Target::Category(c) => Category::ALL.iter().position(|x| *x == c).unwrap_or(0),
        Target::NirLastDigits => Category::ALL.len(),
        Target::File => Category::ALL.len() + 1,
    }
}

fn target_of(i: usize) -> Target {
    match Category::ALL.get(i) {
        Some(c) => Target::Category(*c),
        None if i == Category::ALL.len() => Target::NirLastDigits,
        None => Target::File,
    }
}

#[derive(Debug, Clone)]
enum Who {
    Any,
    Agency(String),
    Name(String),
    Never,
}

#[derive(Debug, Clone)]
enum What {
    Any,
    Agency(String),
    File(String),
    Never,
}

/// An attribute a request fixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Attr {
    Role,
    Agency,
    Name,
    FileAgency,
    Purpose,
    Category,
}

/// A test a satisfied policy must pass.
#[derive(Debug, Clone)]
enum Fact {
    /// The attribute is one of these values.
    OneOf(Attr, Vec<String>),
    /// `resource.agency == principal.agency`.
    SameAgency,
    /// `context.break_glass`.
    BreakGlass,
    /// The test does not hold (from an `unless`).
    Not(Box<Fact>),
}

impl Fact {
    /// The principal names the test compares with, wherever they sit: a `when` test, or an
    /// `unless` test (negated) — a request's name changes the outcome of either.
    fn names(&self) -> Vec<&str> {
        match self {
            Fact::OneOf(Attr::Name, v) => v.iter().map(String::as_str).collect(),
            Fact::Not(inner) => inner.names(),
            Fact::OneOf(..) | Fact::SameAgency | Fact::BreakGlass => Vec::new(),
        }
    }

    fn holds(&self, s: &Shape<'_>, category: &str) -> bool {
        match self {
            Fact::OneOf(attr, values) => {
                let v = match attr {
                    Attr::Role => s.role.as_str(),
                    Attr::Agency => s.agency,
                    Attr::Name => s.name,
                    Attr::FileAgency => s.file_agency,
                    Attr::Purpose => s.purpose.as_str(),
                    Attr::Category => category,
                };
                values.iter().any(|x| x == v)
            }
            Fact::SameAgency => s.agency == s.file_agency,
            Fact::BreakGlass => s.break_glass,
            Fact::Not(f) => !f.holds(s, category),
        }
    }
}

/// Which requests a policy can apply to.
#[derive(Debug, Clone)]
pub(crate) struct Scope {
    who: Who,
    acts: Option<Vec<Act>>,
    what: What,
    facts: Vec<Fact>,
    /// `context.category` is read only in the facts: once the policy is kept for a target,
    /// it decides the same for every target it is kept for.
    category_in_facts_only: bool,
    /// Its conditions are all facts: kept for a request, it is certainly satisfied.
    certain: bool,
}

impl Scope {
    /// Principal names the policy tests for: a request's name matters only if it is one.
    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        let scoped = match &self.who {
            Who::Name(n) => Some(n.as_str()),
            _ => None,
        };
        let tested = self.facts.iter().flat_map(Fact::names);
        scoped.into_iter().chain(tested)
    }

    /// Whether the policy is certainly satisfied by any request it is kept for.
    pub(crate) fn certain(&self) -> bool {
        self.certain
    }

    /// Whether the policy reads the category only in its facts.
    pub(crate) fn category_in_facts_only(&self) -> bool {
        self.category_in_facts_only
    }

    /// File ids the policy names.
    pub(crate) fn files(&self) -> Option<&str> {
        match &self.what {
            What::File(id) => Some(id),
            _ => None,
        }
    }

    /// Whether the policy can apply to a request of this shape, on this target.
    pub(crate) fn may_apply(&self, s: &Shape<'_>, target: usize) -> bool {
        let who = match &self.who {
            Who::Any => true,
            Who::Agency(a) => a == s.agency,
            Who::Name(n) => n == s.name,
            Who::Never => false,
        };
        let what = match &self.what {
            What::Any => true,
            What::Agency(a) => a == s.file_agency,
            What::File(id) => id == s.file_id,
            What::Never => false,
        };
        let act = self.acts.as_ref().is_none_or(|a| a.contains(&s.act));
        let category = target_of(target).as_str();
        who && what && act && self.facts.iter().all(|f| f.holds(s, category))
    }
}

/// The scope and plain tests of a policy.
pub(crate) fn scope_of(p: &Policy) -> Scope {
    let who_in = |u: &EntityUid| match u.type_name().to_string().as_str() {
        "Rempart::Agency" => Who::Agency(u.id().unescaped().to_string()),
        "Rempart::Principal" => Who::Name(u.id().unescaped().to_string()),
        _ => Who::Never,
    };
    let who = match p.principal_constraint() {
        PrincipalConstraint::Any => Who::Any,
        PrincipalConstraint::Is(t) if t.to_string() == "Rempart::Principal" => Who::Any,
        PrincipalConstraint::Is(_) => Who::Never,
        PrincipalConstraint::In(u) => who_in(&u),
        // `principal == Rempart::Agency::"…"` never holds: a principal is not an agency.
        PrincipalConstraint::Eq(u) => match who_in(&u) {
            Who::Name(n) => Who::Name(n),
            _ => Who::Never,
        },
        PrincipalConstraint::IsIn(t, u) if t.to_string() == "Rempart::Principal" => who_in(&u),
        PrincipalConstraint::IsIn(..) => Who::Never,
    };
    let acts = match p.action_constraint() {
        ActionConstraint::Any => None,
        ActionConstraint::Eq(u) => Some(Act::parse(u.id().unescaped()).into_iter().collect()),
        ActionConstraint::In(us) => Some(
            us.iter()
                .filter_map(|u| Act::parse(u.id().unescaped()))
                .collect(),
        ),
    };
    let what_in = |u: &EntityUid| match u.type_name().to_string().as_str() {
        "Rempart::Agency" => What::Agency(u.id().unescaped().to_string()),
        "Rempart::File" => What::File(u.id().unescaped().to_string()),
        _ => What::Never,
    };
    let what = match p.resource_constraint() {
        ResourceConstraint::Any => What::Any,
        ResourceConstraint::Is(t) if t.to_string() == "Rempart::File" => What::Any,
        ResourceConstraint::Is(_) => What::Never,
        ResourceConstraint::In(u) => what_in(&u),
        // `resource == Rempart::Agency::"…"` never holds: a file is not an agency.
        ResourceConstraint::Eq(u) => match what_in(&u) {
            What::File(id) => What::File(id),
            _ => What::Never,
        },
        ResourceConstraint::IsIn(t, u) if t.to_string() == "Rempart::File" => what_in(&u),
        ResourceConstraint::IsIn(..) => What::Never,
    };
    let mut facts = Vec::new();
    let mut category_in_facts_only = false;
    let mut certain = false;
    if let Ok(json) = p.to_json() {
        certain = true;
        for c in json["conditions"].as_array().into_iter().flatten() {
            let consumed = if c["kind"] == "when" {
                conjuncts(&c["body"], &mut facts)
            } else {
                negated_disjuncts(&c["body"], &mut facts)
            };
            certain &= consumed;
        }
        let in_facts = facts
            .iter()
            .filter(|f| match f {
                Fact::OneOf(Attr::Category, _) => true,
                Fact::Not(inner) => matches!(**inner, Fact::OneOf(Attr::Category, _)),
                _ => false,
            })
            .count();
        category_in_facts_only = category_reads(&json["conditions"]) == in_facts;
    }
    Scope {
        who,
        acts,
        what,
        facts,
        category_in_facts_only,
        certain,
    }
}

/// How many times `e` reads `context.category`.
fn category_reads(e: &Value) -> usize {
    match e {
        Value::Object(m) => {
            let here = usize::from(attr(e) == Some(Attr::Category));
            here + m.values().map(category_reads).sum::<usize>()
        }
        Value::Array(a) => a.iter().map(category_reads).sum(),
        _ => 0,
    }
}

/// The attribute `e` reads, if it is one a request fixes.
fn attr(e: &Value) -> Option<Attr> {
    let dot = e.get(".")?;
    let var = dot["left"]["Var"].as_str()?;
    Some(match (var, dot["attr"].as_str()?) {
        ("principal", "role") => Attr::Role,
        ("principal", "agency") => Attr::Agency,
        ("principal", "name") => Attr::Name,
        ("resource", "agency") => Attr::FileAgency,
        ("context", "purpose") => Attr::Purpose,
        ("context", "category") => Attr::Category,
        _ => return None,
    })
}

fn string(e: &Value) -> Option<String> {
    e.get("Value")?.as_str().map(str::to_string)
}

/// Collects the plain tests among the conjuncts of `e`; other conjuncts are left to Cedar.
/// Whether every conjunct was a plain test.
fn conjuncts(e: &Value, out: &mut Vec<Fact>) -> bool {
    if let Some(and) = e.get("&&") {
        let left = conjuncts(&and["left"], out);
        let right = conjuncts(&and["right"], out);
        return left && right;
    }
    match fact(e) {
        Some(f) => {
            out.push(f);
            true
        }
        None => false,
    }
}

/// For `unless { e }`: when `e` is a plain test or an `||` of plain tests, the policy needs
/// each of them false. Whether all of `e` was understood (otherwise nothing is collected).
fn negated_disjuncts(e: &Value, out: &mut Vec<Fact>) -> bool {
    fn walk(e: &Value, found: &mut Vec<Fact>) -> bool {
        if let Some(or) = e.get("||") {
            return walk(&or["left"], found) && walk(&or["right"], found);
        }
        match fact(e) {
            Some(f) => {
                found.push(Fact::Not(Box::new(f)));
                true
            }
            None => false,
        }
    }
    let mut found = Vec::new();
    if walk(e, &mut found) {
        out.extend(found);
        true
    } else {
        false
    }
}

/// The plain test `e` is, if it is one.
fn fact(e: &Value) -> Option<Fact> {
    if let Some(eq) = e.get("==") {
        let (l, r) = (&eq["left"], &eq["right"]);
        return match (attr(l), attr(r), string(l), string(r)) {
            (Some(a), _, _, Some(v)) | (_, Some(a), Some(v), _) => Some(Fact::OneOf(a, vec![v])),
            (Some(Attr::FileAgency), Some(Attr::Agency), _, _)
            | (Some(Attr::Agency), Some(Attr::FileAgency), _, _) => Some(Fact::SameAgency),
            _ => None,
        };
    }
    if let Some(contains) = e.get("contains") {
        let set = contains["left"]["Set"].as_array()?;
        let a = attr(&contains["right"])?;
        let values: Option<Vec<String>> = set.iter().map(string).collect();
        return values.map(|v| Fact::OneOf(a, v));
    }
    if e.get(".")
        .is_some_and(|d| d["left"]["Var"] == "context" && d["attr"] == "break_glass")
    {
        return Some(Fact::BreakGlass);
    }
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::str::FromStr;

    #[test]
    fn plain_tests_are_read_from_conditions() {
        let p = Policy::from_str(
            r#"permit (principal, action == Rempart::Action::"read", resource)
               when { principal.role == "counsellor" && resource.agency == principal.agency
                      && context.break_glass && ["identity", "contact"].contains(context.category)
                      && "payment" == context.purpose && resource.minor };"#,
        )
        .unwrap();
        let s = scope_of(&p);
        assert_eq!(s.facts.len(), 5, "{:?}", s.facts);
        let shape = |role, agency, bg| Shape {
            agency,
            name: "x",
            role,
            act: Act::Read,
            file_agency: "ML-1",
            file_id: "f",
            purpose: Purpose::Payment,
            break_glass: bg,
        };
        let identity = target_index(Target::Category(Category::Identity));
        let nir = target_index(Target::Category(Category::SocialSecurity));
        assert!(s.may_apply(&shape(Role::Counsellor, "ML-1", true), identity));
        assert!(!s.may_apply(&shape(Role::Counsellor, "ML-1", true), nir));
        assert!(!s.may_apply(&shape(Role::Dpo, "ML-1", true), identity));
        assert!(!s.may_apply(&shape(Role::Counsellor, "ML-2", true), identity));
        assert!(!s.may_apply(&shape(Role::Counsellor, "ML-1", false), identity));
        assert!(s.category_in_facts_only);
        // An `||` is left to Cedar.
        let p = Policy::from_str(
            r#"permit (principal, action, resource) when { principal.role == "dpo" || context.purpose == "payment" };"#,
        )
        .unwrap();
        assert!(scope_of(&p).facts.is_empty());
        let p = Policy::from_str(
            r#"permit (principal, action, resource) when { principal.role == "dpo" || context.category == "situation" };"#,
        )
        .unwrap();
        assert!(!scope_of(&p).category_in_facts_only);
        // An `unless` of plain tests is a test that they fail.
        let p = Policy::from_str(
            r#"forbid (principal, action, resource) when { context.category == "social_security" }
               unless { ["payment", "legal_obligation"].contains(context.purpose) || context.break_glass };"#,
        )
        .unwrap();
        let s = scope_of(&p);
        assert!(s.certain && s.category_in_facts_only);
        assert!(!s.may_apply(&shape(Role::Dpo, "ML-1", false), nir));
        let mut accompany = shape(Role::Dpo, "ML-1", false);
        accompany.purpose = Purpose::Accompaniment;
        assert!(s.may_apply(&accompany, nir));
        assert!(!s.may_apply(&accompany, identity));
    }
}
