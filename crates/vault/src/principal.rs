//! Who is calling, and the break-glass justification a request may carry.

use crate::JUSTIFICATION_MAX;
use rempart_domain::{Agency, Role};

/// Who is calling. Its fields are private: a principal comes only from one of its sources —
/// a token the vault authenticated ([`crate::Vault::authenticate`]), the local administrator
/// ([`Principal::local`]), or a principal described to the policy to ask what it would decide
/// ([`Principal::described`]) — and a request adds only its own facts (client, request id,
/// break-glass justification).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Public id of the token used.
    pub(crate) token_id: String,
    /// Principal name, e.g. `c.durand`.
    pub(crate) name: String,
    /// Role.
    pub(crate) role: Role,
    /// Agency.
    pub(crate) agency: Agency,
    /// Client address, for the audit log.
    pub(crate) client: Option<String>,
    /// Request id, for the audit log.
    pub(crate) request_id: Option<String>,
    /// Break-glass: the written justification given to read past the caseload, if any. It
    /// is recorded with every entry of the request; it must say why, not name the person.
    pub(crate) break_glass: Option<String>,
    /// When its credential was made (a token's creation, Unix seconds; 0 for Rempart's own
    /// principals): containment keeps a new one on probation.
    pub(crate) since: i64,
}

impl Principal {
    fn new(token_id: String, name: String, role: Role, agency: Agency) -> Principal {
        Principal {
            token_id,
            name,
            role,
            agency,
            client: None,
            request_id: None,
            break_glass: None,
            since: 0,
        }
    }

    /// The holder of a token the vault authenticated (its record verified against its tag).
    pub(crate) fn from_token(
        token_id: String,
        name: String,
        role: Role,
        agency: Agency,
        created_at: i64,
    ) -> Principal {
        Principal {
            since: created_at,
            ..Principal::new(token_id, name, role, agency)
        }
    }

    /// A principal described by the local administrator, to ask the policy what it would
    /// decide for them (`rempart policy check`); never authenticated, token `-`.
    pub fn described(name: &str, role: Role, agency: Agency) -> Principal {
        Principal::new("-".into(), name.to_string(), role, agency)
    }

    /// The request's own facts, recorded with every entry it makes: the client's address, the
    /// request id, and a break-glass justification (checked by [`justification`]).
    pub fn with_request(
        mut self,
        client: Option<String>,
        request_id: Option<String>,
        break_glass: Option<String>,
    ) -> Principal {
        self.client = client;
        self.request_id = request_id;
        self.break_glass = break_glass;
        self
    }

    /// The same principal reading past its caseload, for this justification.
    pub fn with_break_glass(mut self, justification: String) -> Principal {
        self.break_glass = Some(justification);
        self
    }

    /// Public id of the token used (`-` for the local administrator).
    pub fn token_id(&self) -> &str {
        &self.token_id
    }

    /// Principal name, e.g. `c.durand`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Agency.
    pub fn agency(&self) -> &Agency {
        &self.agency
    }

    /// The break-glass justification of the request, if any.
    pub fn break_glass(&self) -> Option<&str> {
        self.break_glass.as_deref()
    }

    /// Rempart itself, recording what no caller did (an integrity alert for a row that does
    /// not verify, before anyone is authenticated): principal `integrity`, token `-`.
    pub(crate) fn integrity(agency: Agency) -> Principal {
        Principal {
            token_id: "-".into(),
            name: "integrity".into(),
            role: Role::Operator,
            agency,
            client: None,
            request_id: None,
            break_glass: None,
            since: 0,
        }
    }

    /// Rempart's gate, recording a refused credential: principal `auth`, token `-`.
    pub(crate) fn gate(agency: Agency) -> Principal {
        Principal {
            name: "auth".into(),
            ..Principal::integrity(agency)
        }
    }

    /// Rempart's containment, suspending a principal: principal `guard`, token `-`.
    pub(crate) fn guard(agency: Agency) -> Principal {
        Principal {
            name: "guard".into(),
            ..Principal::integrity(agency)
        }
    }

    /// The local administrator running a command on the server (`rempart import`,
    /// `token create`, `keys rotate`): recorded as principal `cli`, token `-`.
    pub fn local(agency: Agency) -> Principal {
        Principal {
            token_id: "-".into(),
            name: "cli".into(),
            role: Role::Operator,
            agency,
            client: None,
            request_id: None,
            break_glass: None,
            since: 0,
        }
    }
}

/// Checks a break-glass justification: 10 to 500 characters of text, no control characters.
pub fn justification(raw: &str) -> Result<String, &'static str> {
    let j = raw.trim();
    let n = j.chars().count();
    if !(10..=JUSTIFICATION_MAX).contains(&n) || j.chars().any(char::is_control) {
        return Err("a break-glass justification is 10 to 500 characters of plain text");
    }
    Ok(j.to_string())
}
