//! Who is calling, and the break-glass justification a request may carry.

use crate::JUSTIFICATION_MAX;
use rempart_domain::{Agency, Role};

/// Who is calling: established by [`Vault::authenticate`] from a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Public id of the token used.
    pub token_id: String,
    /// Principal name, e.g. `c.durand`.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Agency.
    pub agency: Agency,
    /// Client address, for the audit log.
    pub client: Option<String>,
    /// Request id, for the audit log.
    pub request_id: Option<String>,
    /// Break-glass: the written justification given to read past the caseload, if any. It
    /// is recorded with every entry of the request; it must say why, not name the person.
    pub break_glass: Option<String>,
}

impl Principal {
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
