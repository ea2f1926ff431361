//! The operator's configuration is the only way claims become a principal, an agency and a
//! role; and the second factor each role must show (`acr` or `amr`).

use crate::access::Agent;
use crate::OidcError;
use serde_json::Value;
use std::collections::BTreeMap;

/// How claims map to a principal, an agency and a role.
#[derive(Debug, Clone, Default)]
pub struct ClaimMap {
    /// The claim naming the principal (e.g. `email`, or `sub`), lower-cased.
    pub principal_claim: String,
    /// The claim naming the agent's organisation (e.g. ProConnect's `siret`), if used.
    pub agency_claim: Option<String>,
    /// Its values, mapped to agencies; any other value is refused.
    pub agencies: BTreeMap<String, String>,
    /// The claim carrying a role, if the provider sends one.
    pub role_claim: Option<String>,
    /// Its values, mapped to roles; any other value is refused (never trusted as is).
    pub roles: BTreeMap<String, String>,
}

/// What the claims say, through the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapped {
    /// The principal's name, lower-cased.
    pub principal: String,
    /// The agency, when the configuration maps one.
    pub agency: Option<String>,
    /// The role, when the provider sends one the configuration maps.
    pub role: Option<String>,
}

fn text<'a>(a: &'a Agent, claim: &str) -> Option<&'a str> {
    if claim == "sub" {
        return Some(&a.subject);
    }
    match a.claims.get(claim) {
        Some(Value::String(s)) => Some(s.as_str()),
        _ => None,
    }
}

impl ClaimMap {
    /// The principal, agency and role `agent`'s claims give. A missing principal claim, an
    /// agency claim whose value is not mapped, or a role claim whose value is not mapped is
    /// refused.
    pub fn map(&self, agent: &Agent) -> Result<Mapped, OidcError> {
        let principal = text(agent, &self.principal_claim)
            .map(str::trim)
            .filter(|p| !p.is_empty() && p.len() <= 64)
            .ok_or_else(|| OidcError::Claim(self.principal_claim.clone()))?
            .to_ascii_lowercase();
        let agency = match &self.agency_claim {
            None => None,
            Some(c) => Some(
                text(agent, c)
                    .and_then(|v| self.agencies.get(v))
                    .ok_or_else(|| OidcError::Claim(c.clone()))?
                    .clone(),
            ),
        };
        let role = match &self.role_claim {
            None => None,
            Some(c) => match agent.claims.get(c) {
                None => None,
                Some(v) => Some(
                    v.as_str()
                        .and_then(|v| self.roles.get(v))
                        .ok_or_else(|| OidcError::Claim(c.clone()))?
                        .clone(),
                ),
            },
        };
        Ok(Mapped {
            principal,
            agency,
            role,
        })
    }
}

/// The second factor a sign-in must show: an `acr` among those accepted (ProConnect's `eidas2`
/// and `eidas3` by default), or `amr` values that show one.
#[derive(Debug, Clone)]
pub struct SecondFactor {
    /// Accepted `acr` values.
    pub acr: Vec<String>,
    /// Roles that sign in without a second factor (none by default).
    pub exempt_roles: Vec<String>,
}

impl Default for SecondFactor {
    fn default() -> Self {
        SecondFactor {
            acr: vec!["eidas2".into(), "eidas3".into()],
            exempt_roles: vec![],
        }
    }
}

/// `amr` values (RFC 8176, and ProConnect's two vocabularies) that prove possession of
/// something beyond a password: a one-time code, a key, a PIN on a device.
const POSSESSION: [&str; 7] = ["otp", "totp", "hwk", "swk", "pop", "pin", "sms"];
/// Every `amr` value of the two vocabularies ProConnect publishes, and RFC 8176's `sms`.
const KNOWN: [&str; 10] = [
    "pwd", "mail", "otp", "pin", "hwk", "swk", "mfa", "totp", "pop", "sms",
];

impl SecondFactor {
    /// Whether a sign-in with this `acr` and `amr` shows a second factor: an accepted `acr`;
    /// or `amr` holding `mfa`; or two known methods or more, one of them a possession factor
    /// (`otp`, `totp`, `hwk`, `swk`, `pop`, `pin`, `sms`).
    pub fn shown(&self, acr: Option<&str>, amr: &[String]) -> bool {
        if acr.is_some_and(|a| self.acr.iter().any(|x| x == a)) {
            return true;
        }
        if amr.iter().any(|m| m == "mfa") {
            return true;
        }
        let mut known: Vec<&str> = amr
            .iter()
            .map(String::as_str)
            .filter(|m| KNOWN.contains(m))
            .collect();
        known.sort_unstable();
        known.dedup();
        known.len() >= 2 && known.iter().any(|m| POSSESSION.contains(m))
    }

    /// Whether `role` must show a second factor.
    pub fn required_for(&self, role: &str) -> bool {
        !self.exempt_roles.iter().any(|r| r == role)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn agent(claims: Value) -> Agent {
        Agent {
            subject: "s-1".into(),
            claims: claims.as_object().cloned().unwrap_or_default(),
            acr: None,
            amr: vec![],
            jti: None,
            issued_at: 0,
            expires_at: 0,
            jkt: None,
        }
    }

    fn v(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_second_factor_is_an_accepted_acr_or_amr_showing_one() {
        let f = SecondFactor::default();
        assert!(f.shown(Some("eidas2"), &[]));
        assert!(f.shown(Some("eidas3"), &[]));
        assert!(!f.shown(Some("eidas1"), &[]));
        assert!(!f.shown(None, &v(&["pwd"])));
        assert!(f.shown(None, &v(&["pwd", "otp"])));
        assert!(f.shown(None, &v(&["pwd", "totp"])));
        assert!(f.shown(None, &v(&["mail", "pop"])));
        assert!(f.shown(None, &v(&["mfa"])));
        assert!(!f.shown(None, &v(&["pwd", "mail"])));
        assert!(!f.shown(None, &v(&["otp", "otp"])));
        assert!(!f.shown(None, &v(&["otp", "whatever"])));
        assert!(!f.shown(Some("EIDAS2"), &[]));
    }

    fn map() -> ClaimMap {
        ClaimMap {
            principal_claim: "email".into(),
            agency_claim: Some("siret".into()),
            agencies: [("00000000000001".to_string(), "ML75".to_string())].into(),
            role_claim: Some("rempart_role".into()),
            roles: [("conseiller".to_string(), "counsellor".to_string())].into(),
        }
    }

    #[test]
    fn claims_map_only_through_the_configuration() {
        let m = map();
        let ok = m.map(&agent(
            json!({"email": "A.Un@ML.fr", "siret": "00000000000001"}),
        ));
        assert_eq!(
            ok,
            Ok(Mapped {
                principal: "a.un@ml.fr".into(),
                agency: Some("ML75".into()),
                role: None
            })
        );
        let role = m.map(&agent(
            json!({"email": "a", "siret": "00000000000001", "rempart_role": "conseiller"}),
        ));
        assert_eq!(role.map(|r| r.role), Ok(Some("counsellor".into())));
        // A role the operator has not mapped is refused, never taken as is.
        for unmapped in [
            json!("operator"),
            json!("admin"),
            json!(["conseiller"]),
            json!(1),
        ] {
            let r = m.map(&agent(
                json!({"email": "a", "siret": "00000000000001", "rempart_role": unmapped}),
            ));
            assert_eq!(r, Err(OidcError::Claim("rempart_role".into())));
        }
        assert!(m.map(&agent(json!({"email": "a", "siret": "99"}))).is_err());
        assert!(m.map(&agent(json!({"siret": "00000000000001"}))).is_err());
        assert!(m
            .map(&agent(json!({"email": "", "siret": "00000000000001"})))
            .is_err());
    }
}
