//! What the vault gives back: files as the caller may see them, search hits, pages, histories.

use rempart_audit::{Action, Outcome};
use rempart_domain::{Identity, PersonInput};
use serde::Serialize;

/// One access in a file's history, as shown to the caller.
#[derive(Debug, Serialize)]
pub struct Access {
    /// Position in the audit log.
    pub seq: u64,
    /// Unix seconds.
    pub time: i64,
    /// Who.
    pub principal: String,
    /// Their role.
    pub role: String,
    /// Their agency.
    pub agency: String,
    /// What.
    pub action: Action,
    /// Which categories.
    pub categories: Vec<String>,
    /// Why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    /// Allowed or denied.
    pub outcome: Outcome,
}

/// What the policy decided for one principal, act and file, and why.
#[derive(Debug)]
pub struct Explanation {
    /// The file's agency.
    pub agency: String,
    /// Its assigned counsellor.
    pub counsellor: Option<String>,
    /// Partners the person is enrolled with.
    pub partners: Vec<String>,
    /// Whether the person is a minor today.
    pub minor: bool,
    /// Per category (`nir_last_digits` for the masked NIR, `(whole file)` for acts on the
    /// whole file): the decision and the policies that made it.
    pub decisions: Vec<(String, rempart_policy::Verdict)>,
}

/// One break-glass read, for the DPO's review.
#[derive(Debug, Serialize)]
pub struct BreakGlassUse {
    /// Position in the audit log.
    pub seq: u64,
    /// Unix seconds.
    pub time: i64,
    /// Who.
    pub principal: String,
    /// What.
    pub action: Action,
    /// Which files.
    pub persons: Vec<String>,
    /// Which categories were returned.
    pub categories: Vec<String>,
    /// Allowed or denied.
    pub outcome: Outcome,
    /// Why, in the counsellor's words.
    pub justification: String,
}

/// A file as shown to a caller: only the categories read.
#[derive(Serialize)]
pub struct PersonView {
    /// Pseudonymous id.
    pub id: String,
    /// The categories read, agency included; the others absent.
    #[serde(flatten)]
    pub record: PersonInput,
}

impl std::fmt::Debug for PersonView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PersonView({}, <redacted>)", self.id)
    }
}

/// A search or listing result: the id and the identity fields.
#[derive(Serialize)]
pub struct SearchHit {
    /// Pseudonymous id.
    pub id: String,
    /// Identity category.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<Identity>,
}

/// A page of the caller's caseload.
#[derive(Serialize)]
pub struct Page {
    /// Files of this page.
    pub items: Vec<SearchHit>,
    /// Cursor of the next page, absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// Progress of a long operation: called with (done, total).
pub type ImportProgress<'a> = &'a (dyn Fn(u64, u64) + Sync);

/// What a key rotation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationReport {
    /// Data keys re-wrapped by this run.
    pub rewrapped: u64,
}
