//! `rempart incident …`: breach response at the console.

use super::*;

pub(crate) fn incident(
    command: IncidentCommand,
    of: &dyn Fn(&StoreArgs) -> Result<Settings>,
) -> Result<()> {
    match command {
        IncidentCommand::Open {
            store,
            principals,
            tokens,
            clients,
            since,
            until,
        } => {
            let scope = rempart_vault::IncidentScope {
                principals,
                tokens,
                clients,
                since: since
                    .as_deref()
                    .map(|s| unix_or_date(s, "--since"))
                    .transpose()?
                    .unwrap_or(i64::MIN),
                until: until
                    .as_deref()
                    .map(|s| unix_or_date(s, "--until"))
                    .transpose()?,
                // The console covers every agency.
                agency: None,
            };
            let s = of(&store)?;
            let vault = open_vault(&s)?;
            let incident = vault.open_incident(&local_admin()?, &scope)?;
            vault.checkpoint(&witness(&s)?)?;
            println!("{}", incident.id);
            Ok(())
        }
        IncidentCommand::Show { store, id } => {
            let vault = open_vault(&of(&store)?)?;
            let (i, events) = vault.incident(&local_admin()?, &id).map_err(|e| match e {
                VaultError::NotFound => anyhow!("no incident {id}"),
                e => e.into(),
            })?;
            let shown = serde_json::json!({
                "id": i.id,
                "status": i.status,
                "opened_at": rfc3339(i.opened_at),
                "opened_by": i.opened_by,
                "principals": i.principals,
                "tokens": i.tokens,
                "clients": i.clients,
                "since": (i.since != i64::MIN).then(|| rfc3339(i.since)),
                "until": i.until.map(rfc3339),
                "timeline": events.iter().map(|e| serde_json::json!({
                    "at": rfc3339(e.at), "by": e.by, "what": e.what,
                })).collect::<Vec<_>>(),
            });
            println!("{}", serde_json::to_string_pretty(&shown)?);
            Ok(())
        }
        IncidentCommand::Impact { store, id, format } => {
            if format != "json" && format != "csv" {
                bail!("--format must be json or csv");
            }
            let s = of(&store)?;
            let vault = open_vault(&s)?;
            let impact = vault
                .incident_impact(&local_admin()?, &id)
                .map_err(|e| match e {
                    VaultError::NotFound => anyhow!("no incident {id}"),
                    e => e.into(),
                })?;
            vault.checkpoint(&witness(&s)?)?;
            if format == "csv" {
                print!("{}", impact.csv());
            } else {
                println!("{}", serde_json::to_string_pretty(&impact.json())?);
            }
            Ok(())
        }
    }
}
