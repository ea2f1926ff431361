//! Rempart's access policy: every act on a file is decided by policies written in the Cedar
//! language, checked against a schema ([`SCHEMA`]) when they are loaded.
//!
//! The vault describes who asks ([`Subject`]), what about ([`FileFacts`]), why and how
//! ([`Situation`]) and the act ([`Act`]); [`Policies`] answers per category: a category is given
//! only when some `permit` allows it and no `forbid` refuses it. The default policies
//! ([`DEFAULT_POLICIES`]) are a readable file an operator can replace.
//!
//! Evaluation only looks at the policies that can apply to the request: a policy whose scope
//! names an agency (`principal in Rempart::Agency::"…"`, `resource in Rempart::Agency::"…"`),
//! a principal or an action is set aside for requests that cannot match it, so that a thousand
//! per-agency policies cost a request about as much as the dozen that concern it. Conditions
//! in `when` are not looked into: a policy that names its agency only there is evaluated for
//! every request. The decision is the one Cedar gives over the whole set (a test compares them
//! on random requests).
#![forbid(unsafe_code)]
#![forbid(unused_must_use)]
#![deny(missing_docs)]

pub mod reference;
mod slice;
mod table;

pub use table::role_table;

use cedar_policy::{
    Authorizer, Context, Decision, Effect, Entities, Entity, EntityId, EntityTypeName, EntityUid,
    Policy, PolicyId, PolicySet, Request, RestrictedExpression, Schema, ValidationMode, Validator,
};
use miette::Diagnostic;
use rempart_domain::{Category, Purpose, Role};
use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::sync::{Arc, RwLock};

/// The schema policies are checked against.
pub const SCHEMA: &str = include_str!("../policies/schema.cedarschema");
/// The default policies, as shipped.
pub const DEFAULT_POLICIES: &str = include_str!("../policies/default.cedar");

/// Name, in policies, of the masked form of the NIR (its last digits).
pub const NIR_LAST_DIGITS: &str = "nir_last_digits";

/// Most cached policy slices kept before the cache is emptied.
const SLICE_CACHE_MAX: usize = 65_536;

/// Why policies could not be loaded. Messages name the file, the line and the reason.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The schema itself did not parse (a build defect).
    #[error("policy schema: {0}")]
    Schema(String),
    /// A policy did not parse or did not validate against the schema.
    #[error("{file}:{line}: {reason}")]
    Invalid {
        /// The policy file.
        file: String,
        /// Line (1-based) of the first problem.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// The file holds no policy.
    #[error("{0}: no policy in the file (nothing would ever be allowed)")]
    Empty(String),
}

/// An act on a file, as named in policies (`Rempart::Action::"read"`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Act {
    /// Reading one category.
    Read,
    /// Writing one category of a new file.
    Create,
    /// Writing one category of an existing file.
    Update,
    /// Erasing the file.
    Erase,
    /// Assigning the file to a counsellor.
    Assign,
    /// Enrolling the person with a partner.
    Enrol,
    /// Reading the file's access history.
    ReadAccesses,
}

impl Act {
    /// Every act.
    pub const ALL: &'static [Act] = &[
        Act::Read,
        Act::Create,
        Act::Update,
        Act::Erase,
        Act::Assign,
        Act::Enrol,
        Act::ReadAccesses,
    ];

    /// The action's name in policies.
    pub fn as_str(self) -> &'static str {
        match self {
            Act::Read => "read",
            Act::Create => "create",
            Act::Update => "update",
            Act::Erase => "erase",
            Act::Assign => "assign",
            Act::Enrol => "enrol",
            Act::ReadAccesses => "read_accesses",
        }
    }

    /// The act named `s`.
    pub fn parse(s: &str) -> Option<Act> {
        Act::ALL.iter().copied().find(|a| a.as_str() == s)
    }

    /// Whether the act is decided per category (the others concern the whole file).
    pub fn per_category(self) -> bool {
        matches!(self, Act::Read | Act::Create | Act::Update)
    }
}

/// An act on the audit log (`Rempart::AuditLog::"log"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LogAct {
    /// Reading the latest signed checkpoint.
    ReadCheckpoint,
    /// Getting an inclusion or consistency proof.
    Prove,
    /// Exporting entries.
    Export,
    /// Listing break-glass reads for review.
    ReviewBreakGlass,
}

impl LogAct {
    /// Every act on the log.
    pub const ALL: &'static [LogAct] = &[
        LogAct::ReadCheckpoint,
        LogAct::Prove,
        LogAct::Export,
        LogAct::ReviewBreakGlass,
    ];

    /// The action's name in policies.
    pub fn as_str(self) -> &'static str {
        match self {
            LogAct::ReadCheckpoint => "read_checkpoint",
            LogAct::Prove => "prove",
            LogAct::Export => "export",
            LogAct::ReviewBreakGlass => "review_break_glass",
        }
    }
}

/// Who asks.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    /// Login.
    pub name: &'a str,
    /// Role.
    pub role: Role,
    /// Agency or organisation code.
    pub agency: &'a str,
}

/// What the policies may know of a file: none of it is the person's own data.
#[derive(Debug, Clone)]
pub struct FileFacts<'a> {
    /// Pseudonymous id.
    pub id: &'a str,
    /// Agency holding the file.
    pub agency: &'a str,
    /// Assigned counsellor's login.
    pub counsellor: Option<&'a str>,
    /// Organisations the person is enrolled with.
    pub partners: &'a [String],
    /// Under 18 today.
    pub minor: bool,
}

/// Why and how.
#[derive(Debug, Clone, Copy)]
pub struct Situation {
    /// Declared purpose.
    pub purpose: Purpose,
    /// A written justification was given to go past the caseload.
    pub break_glass: bool,
    /// Hour of the request, 0–23 UTC.
    pub hour: u8,
    /// Day of the week, 1 = Monday … 7 = Sunday.
    pub weekday: u8,
}

impl Situation {
    /// A situation at Unix time `now` (seconds).
    pub fn at(purpose: Purpose, break_glass: bool, now: i64) -> Situation {
        let days = now.div_euclid(86_400);
        let hour = (now.rem_euclid(86_400) / 3600) as u8;
        // 1970-01-01 was a Thursday (4).
        let weekday = ((days + 3).rem_euclid(7) + 1) as u8;
        Situation {
            purpose,
            break_glass,
            hour,
            weekday,
        }
    }
}

/// What a policy may be asked about: one of the file's categories, the masked NIR, or the
/// whole file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// One category.
    Category(Category),
    /// The NIR masked to its last digits.
    NirLastDigits,
    /// The whole file (erase, assign, enrol, access history).
    File,
}

impl Target {
    /// The name policies see in `context.category`.
    pub fn as_str(self) -> &'static str {
        match self {
            Target::Category(c) => c.as_str(),
            Target::NirLastDigits => NIR_LAST_DIGITS,
            Target::File => "",
        }
    }
}

/// How the NIR may be shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NirForm {
    /// In full.
    Full,
    /// Its last digits only.
    LastDigits,
    /// Not at all.
    Hidden,
}

/// What a caller may read of one file for one purpose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// Categories given in full (the NIR's category only when [`NirForm::Full`]).
    pub categories: Vec<Category>,
    /// How the NIR is shown.
    pub nir: NirForm,
}

impl Grant {
    /// Whether anything at all may be read.
    pub fn any(&self) -> bool {
        !self.categories.is_empty() || self.nir != NirForm::Hidden
    }

    /// Whether `c` may be read (the NIR's category in either form).
    pub fn allows(&self, c: Category) -> bool {
        if c == Category::SocialSecurity {
            return self.nir != NirForm::Hidden;
        }
        self.categories.contains(&c)
    }
}

/// One decision, explained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Allowed or not.
    pub allowed: bool,
    /// The policies that decided it (the permits that allowed it, or the forbids that refused
    /// it); empty when nothing allowed it (refused by default).
    pub policies: Vec<String>,
    /// Policies that failed to evaluate (they count as not applying).
    pub errors: Vec<String>,
}

/// Something that decides acts on files. [`Policies`] is the one Rempart serves with; the
/// trait exists so that a benchmark can measure the same server without policy evaluation.
pub trait Decide: Send + Sync {
    /// Decides one act on one target, with the reasons.
    fn decide(
        &self,
        who: &Subject<'_>,
        act: Act,
        file: &FileFacts<'_>,
        how: &Situation,
        target: Target,
    ) -> Verdict;

    /// What `who` may read of `file` in situation `how`.
    fn grant(&self, who: &Subject<'_>, file: &FileFacts<'_>, how: &Situation) -> Grant;

    /// Decides an act on the audit log.
    fn decide_log(&self, who: &Subject<'_>, act: LogAct, how: &Situation) -> Verdict;

    /// Whether `act` is allowed on `target`.
    fn allows(
        &self,
        who: &Subject<'_>,
        act: Act,
        file: &FileFacts<'_>,
        how: &Situation,
        target: Target,
    ) -> bool {
        self.decide(who, act, file, how, target).allowed
    }
}

impl Decide for Policies {
    fn decide(
        &self,
        who: &Subject<'_>,
        act: Act,
        file: &FileFacts<'_>,
        how: &Situation,
        target: Target,
    ) -> Verdict {
        Policies::decide(self, who, act, file, how, target)
    }

    fn grant(&self, who: &Subject<'_>, file: &FileFacts<'_>, how: &Situation) -> Grant {
        Policies::grant(self, who, file, how)
    }

    fn decide_log(&self, who: &Subject<'_>, act: LogAct, how: &Situation) -> Verdict {
        Policies::decide_log(self, who, act, how)
    }

    fn allows(
        &self,
        who: &Subject<'_>,
        act: Act,
        file: &FileFacts<'_>,
        how: &Situation,
        target: Target,
    ) -> bool {
        let sets = self.slices(who, act, file, how);
        let set = match sets.get(slice::target_index(target)) {
            Some(s) => match s.known {
                Some(d) => return d,
                None => &s.set,
            },
            None => &self.all,
        };
        Evaluation::new(&self.types, who, file).allowed(self, set, act, how, target)
    }
}

/// A validated set of policies.
pub struct Policies {
    source: String,
    file: String,
    all: PolicySet,
    scopes: Vec<(Policy, slice::Scope)>,
    named_principals: HashSet<String>,
    named_files: HashSet<String>,
    authorizer: Authorizer,
    types: Types,
    slices: RwLock<HashMap<SliceKey, Arc<Vec<Slice>>>>,
}

/// The policies that can apply to one target of a request.
struct Slice {
    set: PolicySet,
    /// The decision, when the policies give it without evaluation: `false` when there is no
    /// `permit` or a `forbid` certainly holds, `true` when a `permit` certainly holds and there
    /// is no `forbid`.
    known: Option<bool>,
    /// The first target whose decision is certainly the same (the same policies, none of
    /// which reads the category beyond the tests that kept it): decided once for both.
    same_as: usize,
}

/// Principal's agency, name (only when some policy names it) and role, act, file's agency and
/// id (only when some policy names it), purpose, break-glass: all a slice depends on.
type SliceKey = (String, String, Role, Act, String, String, Purpose, bool);

impl std::fmt::Debug for Policies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Policies({}, {} policies)", self.file, self.scopes.len())
    }
}

/// The entity types and actions of the schema, parsed once.
struct Types {
    principal: EntityTypeName,
    file: EntityTypeName,
    agency: EntityTypeName,
    actions: Vec<EntityUid>,
    log: EntityUid,
    log_actions: Vec<EntityUid>,
}

impl Types {
    fn new() -> Result<Types, PolicyError> {
        let ty = |s: &str| {
            EntityTypeName::from_str(s).map_err(|e| PolicyError::Schema(format!("{s}: {e}")))
        };
        let action = ty("Rempart::Action")?;
        Ok(Types {
            principal: ty("Rempart::Principal")?,
            file: ty("Rempart::File")?,
            agency: ty("Rempart::Agency")?,
            actions: Act::ALL
                .iter()
                .map(|a| {
                    EntityUid::from_type_name_and_id(action.clone(), EntityId::new(a.as_str()))
                })
                .collect(),
            log: EntityUid::from_type_name_and_id(ty("Rempart::AuditLog")?, EntityId::new("log")),
            log_actions: LogAct::ALL
                .iter()
                .map(|a| {
                    EntityUid::from_type_name_and_id(action.clone(), EntityId::new(a.as_str()))
                })
                .collect(),
        })
    }

    fn uid(&self, ty: &EntityTypeName, id: &str) -> EntityUid {
        EntityUid::from_type_name_and_id(ty.clone(), EntityId::new(id))
    }

    fn log_action(&self, act: LogAct) -> EntityUid {
        // `log_actions` holds one uid per `LogAct::ALL`, in order.
        let i = LogAct::ALL.iter().position(|a| *a == act).unwrap_or(0);
        self.log_actions[i.min(self.log_actions.len() - 1)].clone()
    }

    fn action(&self, act: Act) -> EntityUid {
        // `actions` holds one uid per `Act::ALL`, in order.
        let i = Act::ALL.iter().position(|a| *a == act).unwrap_or(0);
        self.actions[i.min(self.actions.len() - 1)].clone()
    }
}

fn line_of(src: &str, offset: usize) -> usize {
    src.get(..offset.min(src.len()))
        .map(|s| s.matches('\n').count() + 1)
        .unwrap_or(1)
}

fn first_line(src: &str, d: &dyn Diagnostic) -> Option<usize> {
    d.labels()
        .and_then(|mut l| l.next())
        .map(|l| line_of(src, l.offset()))
}

fn reason(d: &(impl std::fmt::Display + Diagnostic)) -> String {
    match d.help() {
        Some(h) => format!("{d} ({h})"),
        None => d.to_string(),
    }
}

impl Policies {
    /// The default policies.
    pub fn default_policies() -> Result<Policies, PolicyError> {
        Policies::parse(DEFAULT_POLICIES, "default.cedar")
    }

    /// Parses `source` (named `file` in errors) and checks it against the schema.
    pub fn parse(source: &str, file: &str) -> Result<Policies, PolicyError> {
        let invalid = |line: usize, reason: String| PolicyError::Invalid {
            file: file.to_string(),
            line,
            reason,
        };
        let (schema, _) =
            Schema::from_cedarschema_str(SCHEMA).map_err(|e| PolicyError::Schema(e.to_string()))?;
        let parsed = PolicySet::from_str(source).map_err(|e| {
            let first = e.iter().next();
            let line = first.and_then(|d| first_line(source, d)).unwrap_or(1);
            let why = first.map(reason).unwrap_or_else(|| e.to_string());
            invalid(line, why)
        })?;
        if parsed.templates().next().is_some() {
            return Err(invalid(
                1,
                "policy templates (with ?principal or ?resource slots) are not supported".into(),
            ));
        }
        let result = Validator::new(schema).validate(&parsed, ValidationMode::Strict);
        if let Some(e) = result.validation_errors().next() {
            let line = first_line(source, e).unwrap_or(1);
            return Err(invalid(line, reason(e)));
        }
        // Name each policy by its @id annotation, so that explanations read as the file does.
        let mut named = Vec::new();
        let mut seen = HashSet::new();
        // The parser names policies `policy0`, `policy1`, … in the order of the file.
        let mut ordered: Vec<&Policy> = parsed.policies().collect();
        ordered.sort_by_key(|p| {
            p.id()
                .to_string()
                .trim_start_matches("policy")
                .parse::<usize>()
                .unwrap_or(usize::MAX)
        });
        for (n, p) in ordered.into_iter().enumerate() {
            let name = match p.annotation("id") {
                Some(id) => id.to_string(),
                None => format!("policy-{}", n + 1),
            };
            if !seen.insert(name.clone()) {
                let second = source
                    .match_indices(&format!("@id(\"{name}\")"))
                    .nth(1)
                    .map(|(at, _)| line_of(source, at))
                    .unwrap_or(1);
                return Err(invalid(second, format!("two policies are named {name:?}")));
            }
            named.push(p.new_id(PolicyId::new(name)));
        }
        if named.is_empty() {
            return Err(PolicyError::Empty(file.to_string()));
        }
        let scopes: Vec<(Policy, slice::Scope)> = named
            .iter()
            .map(|p| (p.clone(), slice::scope_of(p)))
            .collect();
        let named_principals = scopes
            .iter()
            .flat_map(|(_, s)| s.names().map(str::to_string).collect::<Vec<_>>())
            .collect();
        let named_files = scopes
            .iter()
            .filter_map(|(_, s)| s.files().map(str::to_string))
            .collect();
        let all =
            PolicySet::from_policies(named).map_err(|e| invalid(1, format!("policy set: {e}")))?;
        Ok(Policies {
            source: source.to_string(),
            file: file.to_string(),
            all,
            scopes,
            named_principals,
            named_files,
            authorizer: Authorizer::new(),
            types: Types::new()?,
            slices: RwLock::new(HashMap::new()),
        })
    }

    /// The policy text.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// How many policies.
    pub fn len(&self) -> usize {
        self.scopes.len()
    }

    /// Whether there is no policy (never true of a loaded set).
    pub fn is_empty(&self) -> bool {
        self.scopes.is_empty()
    }

    /// The policies that can apply to `who` doing `act` on `file` in situation `how`, for
    /// each target (see [`slice::target_index`]).
    fn slices(
        &self,
        who: &Subject<'_>,
        act: Act,
        file: &FileFacts<'_>,
        how: &Situation,
    ) -> Arc<Vec<Slice>> {
        let keep = |set: &HashSet<String>, v: &str| {
            if set.contains(v) {
                v.to_string()
            } else {
                String::new()
            }
        };
        let key = (
            who.agency.to_string(),
            keep(&self.named_principals, who.name),
            who.role,
            act,
            file.agency.to_string(),
            keep(&self.named_files, file.id),
            how.purpose,
            how.break_glass,
        );
        if let Ok(cache) = self.slices.read() {
            if let Some(s) = cache.get(&key) {
                return s.clone();
            }
        }
        let shape = slice::Shape {
            agency: who.agency,
            name: who.name,
            role: who.role,
            act,
            file_agency: file.agency,
            file_id: file.id,
            purpose: how.purpose,
            break_glass: how.break_glass,
        };
        let chosen: Vec<Vec<usize>> = (0..slice::TARGETS)
            .map(|t| {
                (0..self.scopes.len())
                    .filter(|&i| self.scopes[i].1.may_apply(&shape, t))
                    .collect()
            })
            .collect();
        let sets: Vec<Slice> = chosen
            .iter()
            .enumerate()
            .map(|(t, ids)| {
                let blind = ids
                    .iter()
                    .all(|&i| self.scopes[i].1.category_in_facts_only());
                let same_as = if blind {
                    chosen.iter().position(|other| other == ids).unwrap_or(t)
                } else {
                    t
                };
                let policies: Vec<Policy> = ids.iter().map(|&i| self.scopes[i].0.clone()).collect();
                let (mut permits, mut forbids, mut sure_permit, mut sure_forbid) =
                    (false, false, false, false);
                for &i in ids {
                    let (p, scope) = &self.scopes[i];
                    let permit = p.effect() == Effect::Permit;
                    permits |= permit;
                    forbids |= !permit;
                    sure_permit |= permit && scope.certain();
                    sure_forbid |= !permit && scope.certain();
                }
                let known = if sure_forbid || !permits {
                    Some(false)
                } else if sure_permit && !forbids {
                    Some(true)
                } else {
                    None
                };
                // The policies come from a valid set, so a subset is valid too; should it not
                // be, the whole set decides (slower, same answer).
                Slice {
                    set: PolicySet::from_policies(policies).unwrap_or_else(|_| self.all.clone()),
                    known,
                    same_as,
                }
            })
            .collect();
        let sets = Arc::new(sets);
        if let Ok(mut cache) = self.slices.write() {
            if cache.len() >= SLICE_CACHE_MAX {
                cache.clear();
            }
            cache.insert(key, sets.clone());
        }
        sets
    }

    /// Decides one act on one target, with the reasons.
    pub fn decide(
        &self,
        who: &Subject<'_>,
        act: Act,
        file: &FileFacts<'_>,
        how: &Situation,
        target: Target,
    ) -> Verdict {
        let sets = self.slices(who, act, file, how);
        match sets.get(slice::target_index(target)) {
            Some(s) => self.decide_in(&s.set, who, act, file, how, target),
            None => self.decide_in(&self.all, who, act, file, how, target),
        }
    }

    /// Decides against every policy, without setting any aside (to check the slicing).
    pub fn decide_unsliced(
        &self,
        who: &Subject<'_>,
        act: Act,
        file: &FileFacts<'_>,
        how: &Situation,
        target: Target,
    ) -> Verdict {
        self.decide_in(&self.all, who, act, file, how, target)
    }

    fn decide_in(
        &self,
        set: &PolicySet,
        who: &Subject<'_>,
        act: Act,
        file: &FileFacts<'_>,
        how: &Situation,
        target: Target,
    ) -> Verdict {
        Evaluation::new(&self.types, who, file).decide(self, set, act, how, target)
    }

    /// Decides an act on the audit log, with the reasons (against every policy: these acts
    /// are rare).
    pub fn decide_log(&self, who: &Subject<'_>, act: LogAct, how: &Situation) -> Verdict {
        let principal = self.types.uid(&self.types.principal, who.name);
        let entity = principal_entity(&self.types, &principal, who);
        let log = Entity::new_no_attrs(self.types.log.clone(), HashSet::new());
        let entities = match entity {
            Some(e) => {
                Entities::from_entities([e, log], None).unwrap_or_else(|_| Entities::empty())
            }
            None => Entities::empty(),
        };
        let request = context_of(how, "").and_then(|c| {
            Request::new(
                principal,
                self.types.log_action(act),
                self.types.log.clone(),
                c,
                None,
            )
            .map_err(|e| e.to_string())
        });
        match request {
            Ok(r) => verdict(self.authorizer.is_authorized(&r, &self.all, &entities)),
            Err(why) => Verdict {
                allowed: false,
                policies: vec![],
                errors: vec![why],
            },
        }
    }

    /// What `who` may read of `file` in situation `how`: one decision per category.
    pub fn grant(&self, who: &Subject<'_>, file: &FileFacts<'_>, how: &Situation) -> Grant {
        // The entities are built only if some target needs Cedar.
        let req = std::cell::OnceCell::new();
        let req = || req.get_or_init(|| Evaluation::new(&self.types, who, file));
        let sets = self.slices(who, Act::Read, file, how);
        let mut decided: [Option<bool>; slice::TARGETS] = [None; slice::TARGETS];
        let mut allowed = |t: Target| {
            let i = slice::target_index(t);
            let Some(s) = sets.get(i) else {
                return req().allowed(self, &self.all, Act::Read, how, t);
            };
            if let Some(d) = decided.get(s.same_as).copied().flatten() {
                return d;
            }
            let d = match s.known {
                Some(d) => d,
                None => req().allowed(self, &s.set, Act::Read, how, t),
            };
            if let Some(slot) = decided.get_mut(i) {
                *slot = Some(d);
            }
            d
        };
        let mut categories = Vec::with_capacity(Category::ALL.len());
        let mut nir = NirForm::Hidden;
        for &c in Category::ALL {
            if allowed(Target::Category(c)) {
                if c == Category::SocialSecurity {
                    nir = NirForm::Full;
                }
                categories.push(c);
            }
        }
        if nir == NirForm::Hidden && allowed(Target::NirLastDigits) {
            nir = NirForm::LastDigits;
        }
        Grant { categories, nir }
    }
}

/// The principal's entity: its name, role and agency, in its agency (`None` cannot happen:
/// the attributes are literals).
fn principal_entity(types: &Types, uid: &EntityUid, who: &Subject<'_>) -> Option<Entity> {
    Entity::new(
        uid.clone(),
        HashMap::from([
            (
                "name".into(),
                RestrictedExpression::new_string(who.name.into()),
            ),
            (
                "role".into(),
                RestrictedExpression::new_string(who.role.as_str().into()),
            ),
            (
                "agency".into(),
                RestrictedExpression::new_string(who.agency.into()),
            ),
        ]),
        HashSet::from([types.uid(&types.agency, who.agency)]),
    )
    .ok()
}

/// The context of a request.
fn context_of(how: &Situation, category: &str) -> Result<Context, String> {
    Context::from_pairs([
        (
            "purpose".to_string(),
            RestrictedExpression::new_string(how.purpose.as_str().into()),
        ),
        (
            "category".to_string(),
            RestrictedExpression::new_string(category.into()),
        ),
        (
            "break_glass".to_string(),
            RestrictedExpression::new_bool(how.break_glass),
        ),
        (
            "hour".to_string(),
            RestrictedExpression::new_long(i64::from(how.hour)),
        ),
        (
            "weekday".to_string(),
            RestrictedExpression::new_long(i64::from(how.weekday)),
        ),
    ])
    .map_err(|e| e.to_string())
}

/// A Cedar response as a verdict: the decision and the policies that made it, by name.
fn verdict(response: cedar_policy::Response) -> Verdict {
    let mut policies: Vec<String> = response
        .diagnostics()
        .reason()
        .map(|id| id.to_string())
        .collect();
    policies.sort();
    Verdict {
        allowed: response.decision() == Decision::Allow,
        policies,
        errors: response
            .diagnostics()
            .errors()
            .map(|e| e.to_string())
            .collect(),
    }
}

/// The entities of one request, built once for all its categories.
struct Evaluation {
    principal: EntityUid,
    resource: EntityUid,
    entities: Entities,
}

impl Evaluation {
    fn new(types: &Types, who: &Subject<'_>, file: &FileFacts<'_>) -> Evaluation {
        let principal = types.uid(&types.principal, who.name);
        let resource = types.uid(&types.file, file.id);
        let p = principal_entity(types, &principal, who);
        let f = Entity::new(
            resource.clone(),
            HashMap::from([
                (
                    "agency".into(),
                    RestrictedExpression::new_string(file.agency.into()),
                ),
                (
                    "counsellor".into(),
                    RestrictedExpression::new_string(file.counsellor.unwrap_or("").into()),
                ),
                (
                    "partners".into(),
                    RestrictedExpression::new_set(
                        file.partners
                            .iter()
                            .map(|p| RestrictedExpression::new_string(p.clone())),
                    ),
                ),
                ("minor".into(), RestrictedExpression::new_bool(file.minor)),
            ]),
            HashSet::from([types.uid(&types.agency, file.agency)]),
        );
        // Literal values only: building these entities cannot fail, and should it, the
        // request is decided with no entity at all, where every attribute test fails (deny).
        let entities = match (p, f.ok()) {
            (Some(p), Some(f)) => {
                Entities::from_entities([p, f], None).unwrap_or_else(|_| Entities::empty())
            }
            _ => Entities::empty(),
        };
        Evaluation {
            principal,
            resource,
            entities,
        }
    }

    fn request(
        &self,
        engine: &Policies,
        act: Act,
        how: &Situation,
        target: Target,
    ) -> Result<Request, String> {
        let context = context_of(how, target.as_str())?;
        Request::new(
            self.principal.clone(),
            engine.types.action(act),
            self.resource.clone(),
            context,
            None,
        )
        .map_err(|e| e.to_string())
    }

    /// Only the decision (no reasons): what reads use.
    fn allowed(
        &self,
        engine: &Policies,
        set: &PolicySet,
        act: Act,
        how: &Situation,
        target: Target,
    ) -> bool {
        match self.request(engine, act, how, target) {
            Ok(request) => {
                engine
                    .authorizer
                    .is_authorized(&request, set, &self.entities)
                    .decision()
                    == Decision::Allow
            }
            Err(_) => false,
        }
    }

    fn decide(
        &self,
        engine: &Policies,
        set: &PolicySet,
        act: Act,
        how: &Situation,
        target: Target,
    ) -> Verdict {
        let request = match self.request(engine, act, how, target) {
            Ok(r) => r,
            Err(why) => {
                return Verdict {
                    allowed: false,
                    policies: vec![],
                    errors: vec![why],
                }
            }
        };
        verdict(
            engine
                .authorizer
                .is_authorized(&request, set, &self.entities),
        )
    }
}

/// The role of a principal, for the table and `policy check`.
pub fn roles() -> &'static [Role] {
    Role::ALL
}

/// Every purpose.
pub fn purposes() -> &'static [Purpose] {
    Purpose::ALL
}

#[cfg(test)]
mod tests;
