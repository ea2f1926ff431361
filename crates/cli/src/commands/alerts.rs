//! `rempart alerts …`: containment's alerts for the operator at the console.

use super::*;

pub(crate) fn alerts(
    command: AlertsCommand,
    of: &dyn Fn(&StoreArgs) -> Result<Settings>,
) -> Result<()> {
    match command {
        AlertsCommand::List { store, limit } => {
            if !(1..=200).contains(&limit) {
                bail!("--limit must be between 1 and 200");
            }
            let vault = open_vault(&of(&store)?)?;
            println!("id\ttime\tprincipal\trole\tagency\ttrip\tpeople\tstate");
            for a in vault.alerts(&local_admin()?, None, limit)? {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    a.id,
                    rfc3339(a.at),
                    a.principal,
                    a.role,
                    a.agency,
                    a.trip,
                    a.people.len(),
                    if a.restored_at.is_some() {
                        "restored"
                    } else {
                        "open"
                    }
                );
            }
            Ok(())
        }
        AlertsCommand::Show { store, id } => {
            let vault = open_vault(&of(&store)?)?;
            let a = vault.alert(&local_admin()?, &id).map_err(|e| match e {
                VaultError::NotFound => anyhow!("no alert {id}"),
                e => e.into(),
            })?;
            let signals: serde_json::Map<String, serde_json::Value> = a
                .signals
                .split(' ')
                .filter_map(|w| w.split_once('='))
                .map(|(k, v)| (k.to_string(), serde_json::Value::from(v)))
                .collect();
            let shown = serde_json::json!({
                "id": a.id,
                "time": rfc3339(a.at),
                "principal": a.principal,
                "role": a.role,
                "agency": a.agency,
                "token": a.token,
                "trip": a.trip,
                "signals": signals,
                "people": a.people,
                "state": if a.restored_at.is_some() { "restored" } else { "open" },
                "restored_at": a.restored_at.map(rfc3339),
                "restored_by": a.restored_by,
            });
            println!("{}", serde_json::to_string_pretty(&shown)?);
            Ok(())
        }
        AlertsCommand::Restore {
            store,
            id,
            justification,
        } => {
            let s = of(&store)?;
            // With Redis, the restored principal's refusals are cleared there.
            let vault = match redis_counts(&s)? {
                Some(redis) => open_vault(&s)?.with_shared_counts(redis),
                None => open_vault(&s)?,
            };
            let admin = local_admin()?;
            let a = vault.alert(&admin, &id).map_err(|e| match e {
                VaultError::NotFound => anyhow!("no alert {id}"),
                e => e.into(),
            })?;
            let n = vault.restore_alert(&admin, &id, &justification)?;
            vault.checkpoint(&witness(&s)?)?;
            eprintln!(
                "rempart: principal {} restored ({n} tokens work again)",
                a.principal
            );
            Ok(())
        }
    }
}
