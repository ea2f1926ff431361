//! `[verify]`: the rate limit per client address of the public verification of codes
//! (`POST /v1/verify`, `GET /verify`).

use serde::Deserialize;

/// The `[verify]` of one source.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VerifyLayer {
    pub per_minute: Option<u32>,
    pub per_day: Option<u32>,
    pub max_clients: Option<usize>,
}

impl VerifyLayer {
    /// This layer with `over`'s values in place of its own wherever `over` has one.
    pub fn over(self, over: VerifyLayer) -> VerifyLayer {
        let VerifyLayer {
            per_minute,
            per_day,
            max_clients,
        } = self;
        VerifyLayer {
            per_minute: over.per_minute.or(per_minute),
            per_day: over.per_day.or(per_day),
            max_clients: over.max_clients.or(max_clients),
        }
    }

    /// The settings, with the server's defaults where this layer has no value.
    pub fn resolve(self) -> VerifySettings {
        let VerifyLayer {
            per_minute,
            per_day,
            max_clients,
        } = self;
        let d = rempart_server::RateLimit::default();
        VerifySettings {
            per_minute: per_minute.unwrap_or(d.per_minute),
            per_day: per_day.unwrap_or(d.per_day),
            max_clients: max_clients.unwrap_or(d.max_clients),
        }
    }
}

/// `[verify]` in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifySettings {
    /// Attempts per client address at once, refilled at this many a minute.
    pub per_minute: u32,
    /// Attempts per client address over a day, refilled at this many a day.
    pub per_day: u32,
    /// Client addresses tracked at once; when all are still counted, a new address is refused.
    pub max_clients: usize,
}

impl VerifySettings {
    /// The server's rate limit, or which setting is 0.
    pub fn limit(&self) -> Result<rempart_server::RateLimit, &'static str> {
        for (key, zero) in [
            ("per_minute (--verify-per-minute)", self.per_minute == 0),
            ("per_day (--verify-per-day)", self.per_day == 0),
            ("max_clients", self.max_clients == 0),
        ] {
            if zero {
                return Err(key);
            }
        }
        Ok(rempart_server::RateLimit {
            per_minute: self.per_minute,
            per_day: self.per_day,
            max_clients: self.max_clients,
        })
    }
}
