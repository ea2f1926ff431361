//! What binds a token's use beyond its secret: the scopes it may act in, the client addresses
//! it may come from, and the key whose DPoP proofs it needs. Written in the token's row as one
//! text, tagged with its other fields.

use crate::error::VaultError;
use ipnet::IpNet;
use std::net::IpAddr;

/// The scopes a token may be limited to, each naming the routes it opens.
pub const SCOPES: [&str; 6] = [
    "persons:read",
    "persons:write",
    "exports",
    "audit",
    "incidents",
    "admin",
];

/// A token's bounds. Empty: nothing more than the token.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenBounds {
    /// Scopes it acts in (empty: every scope its role allows).
    pub scopes: Vec<String>,
    /// Networks its clients must be in (empty: any address).
    pub allow: Vec<IpNet>,
    /// The SHA-256 thumbprint (RFC 7638) of the key whose DPoP proofs it needs.
    pub jkt: Option<String>,
    /// A session of an agent signed in at the identity provider (not an API token).
    pub session: bool,
}

impl TokenBounds {
    /// Bounds from their parts: every scope known, every network a CIDR, the thumbprint 43
    /// base64url characters.
    pub fn new(
        scopes: &[String],
        allow: &[String],
        jkt: Option<&str>,
    ) -> Result<TokenBounds, VaultError> {
        let mut s: Vec<String> = Vec::new();
        for x in scopes {
            let x = x.trim().to_ascii_lowercase();
            if !SCOPES.contains(&x.as_str()) {
                return Err(VaultError::Rejected(
                    "a scope is one of persons:read, persons:write, exports, audit, incidents, admin",
                ));
            }
            if !s.contains(&x) {
                s.push(x);
            }
        }
        s.sort();
        let mut nets = Vec::new();
        for a in allow {
            let a = a.trim();
            let net = a
                .parse::<IpNet>()
                .or_else(|_| a.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    VaultError::Rejected(
                        "a client network is an address or a CIDR, e.g. 10.0.0.0/8",
                    )
                })?;
            nets.push(net.trunc());
        }
        nets.sort();
        nets.dedup();
        let jkt = match jkt.map(str::trim) {
            None => None,
            Some(j)
                if j.len() == 43
                    && j.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
            {
                Some(j.to_string())
            }
            Some(_) => {
                return Err(VaultError::Rejected(
                    "a DPoP key's thumbprint is 43 base64url characters (RFC 7638, SHA-256)",
                ))
            }
        };
        Ok(TokenBounds {
            scopes: s,
            allow: nets,
            jkt,
            session: false,
        })
    }

    /// The text kept in the row (empty when there are no bounds).
    pub fn to_text(&self) -> String {
        let mut parts = Vec::new();
        if !self.scopes.is_empty() {
            parts.push(format!("scopes={}", self.scopes.join(",")));
        }
        if !self.allow.is_empty() {
            let nets: Vec<String> = self.allow.iter().map(IpNet::to_string).collect();
            parts.push(format!("allow={}", nets.join(",")));
        }
        if let Some(j) = &self.jkt {
            parts.push(format!("jkt={j}"));
        }
        if self.session {
            parts.push("session=1".into());
        }
        parts.join(";")
    }

    /// Bounds read back from a row (whose tag verified): anything unreadable is an error, never
    /// no bounds.
    pub fn parse(text: &str) -> Result<TokenBounds, VaultError> {
        let mut scopes = Vec::new();
        let mut allow = Vec::new();
        let mut jkt = None;
        let mut session = false;
        for part in text.split(';').filter(|p| !p.is_empty()) {
            let (k, v) = part
                .split_once('=')
                .ok_or(rempart_store::StoreError::Corrupt("token bounds"))?;
            let list = || v.split(',').map(str::to_string).collect::<Vec<_>>();
            match k {
                "scopes" => scopes = list(),
                "allow" => allow = list(),
                "jkt" => jkt = Some(v.to_string()),
                "session" if v == "1" => session = true,
                _ => return Err(rempart_store::StoreError::Corrupt("token bounds").into()),
            }
        }
        Ok(TokenBounds {
            session,
            ..TokenBounds::new(&scopes, &allow, jkt.as_deref())?
        })
    }

    /// Whether `ip` may use the token.
    pub fn admits(&self, ip: Option<IpAddr>) -> bool {
        if self.allow.is_empty() {
            return true;
        }
        let Some(ip) = ip else { return false };
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        self.allow.iter().any(|n| n.contains(&ip))
    }

    /// Whether the token acts in `scope`.
    pub fn opens(&self, scope: &str) -> bool {
        self.scopes.is_empty() || self.scopes.iter().any(|s| s == scope)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn v(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn bounds_round_trip_and_bind() {
        let b = TokenBounds::new(
            &v(&["persons:read", "Persons:Read", "audit"]),
            &v(&["10.1.2.3/8", "2001:db8::/32", "192.0.2.4"]),
            Some("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"),
        )
        .unwrap_or_default();
        let s = TokenBounds {
            session: true,
            ..TokenBounds::default()
        };
        assert_eq!(TokenBounds::parse(&s.to_text()).ok(), Some(s));
        assert_eq!(b.scopes, v(&["audit", "persons:read"]));
        assert_eq!(TokenBounds::parse(&b.to_text()).ok(), Some(b.clone()));
        assert!(b.admits(Some(
            "10.200.0.1".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
        )));
        assert!(b.admits(Some(
            "::ffff:192.0.2.4"
                .parse()
                .unwrap_or(IpAddr::from([0, 0, 0, 0]))
        )));
        assert!(!b.admits(Some(
            "192.0.2.5".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
        )));
        assert!(!b.admits(None), "no address, no admission");
        assert!(b.opens("audit") && !b.opens("persons:write"));
        assert!(TokenBounds::default().opens("admin") && TokenBounds::default().admits(None));
        assert_eq!(TokenBounds::default().to_text(), "");
    }

    #[test]
    fn bad_bounds_are_refused() {
        assert!(TokenBounds::new(&v(&["root"]), &[], None).is_err());
        assert!(TokenBounds::new(&[], &v(&["10.0.0.0/33"]), None).is_err());
        assert!(TokenBounds::new(&[], &v(&["example.org"]), None).is_err());
        assert!(TokenBounds::new(&[], &[], Some("short")).is_err());
        assert!(TokenBounds::parse("scopes").is_err());
        assert!(TokenBounds::parse("other=1").is_err());
    }

    proptest! {
        #[test]
        fn parsing_any_text_never_panics(s in ".{0,200}") {
            let _ = TokenBounds::parse(&s);
        }
    }
}
