//! `rempart incident …`: breach response at the console.

use super::*;
use crate::cli::NoticesCommand;
use crate::delivery;
use rempart_incident::Language;
use rempart_vault::{DeliveryReport, IncidentSpec};

fn no_incident(id: &str) -> impl Fn(VaultError) -> anyhow::Error + '_ {
    move |e| match e {
        VaultError::NotFound => anyhow!("no incident {id}"),
        e => e.into(),
    }
}

fn when(s: Option<&str>, flag: &str) -> Result<Option<i64>> {
    s.map(|s| unix_or_date(s, flag)).transpose()
}

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
            key_version,
            copy_as_of,
            leaked_file,
            discovered,
            summary,
        } => {
            let s = of(&store)?;
            let vault = open_vault(&s)?;
            let admin = local_admin()?;
            let leaked = match leaked_file {
                Some(path) => {
                    let file = std::fs::File::open(&path)
                        .with_context(|| format!("opening {}", path.display()))?;
                    Some(
                        vault
                            .match_leaked_from(&admin, std::io::BufReader::new(file))
                            .with_context(|| format!("matching {}", path.display()))?,
                    )
                }
                None => None,
            };
            let spec = IncidentSpec {
                scope: rempart_vault::IncidentScope {
                    principals,
                    tokens,
                    clients,
                    since: when(since.as_deref(), "--since")?.unwrap_or(i64::MIN),
                    until: when(until.as_deref(), "--until")?,
                    // The console covers every agency.
                    agency: None,
                },
                key_version,
                copy_as_of: when(copy_as_of.as_deref(), "--copy-as-of")?,
                leaked,
                discovered_at: when(discovered.as_deref(), "--discovered")?,
                summary,
            };
            let incident = vault.open_incident(&admin, &spec)?;
            vault.checkpoint(&witness(&s)?)?;
            println!("{}", incident.id);
            Ok(())
        }
        IncidentCommand::Show { store, id } => {
            let vault = open_vault(&of(&store)?)?;
            let (i, events) = vault
                .incident(&local_admin()?, &id)
                .map_err(no_incident(&id))?;
            let shown = serde_json::json!({
                "id": i.id,
                "kind": i.kind,
                "status": i.status,
                "opened_at": rfc3339(i.opened_at),
                "opened_by": i.opened_by,
                "discovered_at": rfc3339(i.discovered_at),
                "deadline": rfc3339(i.discovered_at.saturating_add(rempart_incident::draft::DEADLINE)),
                "summary": i.summary,
                "principals": i.principals,
                "tokens": i.tokens,
                "clients": i.clients,
                "since": (i.since != i64::MIN).then(|| rfc3339(i.since)),
                "until": i.until.map(rfc3339),
                "key_version": i.key_version,
                "copy_as_of": i.copy_as_of.map(rfc3339),
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
                .map_err(no_incident(&id))?;
            vault.checkpoint(&witness(&s)?)?;
            if format == "csv" {
                print!("{}", impact.csv());
            } else {
                println!("{}", serde_json::to_string_pretty(&impact.json())?);
            }
            Ok(())
        }
        IncidentCommand::Draft { store, id, format } => {
            if format != "markdown" && format != "json" {
                bail!("--format must be markdown or json");
            }
            let s = of(&store)?;
            let templates = delivery::templates(&s.notices)?;
            let vault = open_vault(&s)?;
            let draft = vault
                .incident_draft(&local_admin()?, &id, &delivery::organisation(&s.notices))
                .map_err(no_incident(&id))?;
            vault.checkpoint(&witness(&s)?)?;
            if format == "json" {
                println!("{}", serde_json::to_string_pretty(&draft.json())?);
            } else {
                print!("{}", draft.markdown(&templates)?);
            }
            Ok(())
        }
        IncidentCommand::Filed {
            store,
            id,
            at,
            reference,
            late_reason,
        } => {
            let s = of(&store)?;
            let vault = open_vault(&s)?;
            let filed = vault
                .file_incident(
                    &local_admin()?,
                    &id,
                    when(at.as_deref(), "--at")?,
                    &reference,
                    late_reason.as_deref(),
                )
                .map_err(no_incident(&id))?;
            vault.checkpoint(&witness(&s)?)?;
            println!(
                "{id}: {} notification recorded (phase {}){}",
                if filed.phase == 1 {
                    "initial"
                } else {
                    "complementary"
                },
                filed.phase,
                if filed.late { ", late" } else { "" }
            );
            Ok(())
        }
        IncidentCommand::Close { store, id, reason } => {
            let s = of(&store)?;
            let vault = open_vault(&s)?;
            vault
                .close_incident(&local_admin()?, &id, &reason)
                .map_err(no_incident(&id))?;
            vault.checkpoint(&witness(&s)?)?;
            println!("{id}: closed");
            Ok(())
        }
        IncidentCommand::Notices { command } => notices(command, of),
        IncidentCommand::Templates { dir } => {
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            for (name, source) in rempart_incident::templates::DEFAULTS {
                let path = dir.join(name);
                if path.exists() {
                    println!("{} exists: kept", path.display());
                    continue;
                }
                std::fs::write(&path, source)
                    .with_context(|| format!("writing {}", path.display()))?;
                println!("{}", path.display());
            }
            Ok(())
        }
    }
}

fn summary(id: &str, r: &DeliveryReport) {
    println!(
        "{id}: {} messages: {} sent, {} awaiting approval, {} to send or retry, {} uncertain, {} failed",
        r.total, r.sent, r.awaiting, r.ready, r.uncertain, r.failed
    );
}

fn notices(command: NoticesCommand, of: &dyn Fn(&StoreArgs) -> Result<Settings>) -> Result<()> {
    match command {
        NoticesCommand::Prepare {
            store,
            id,
            language,
        } => {
            let s = of(&store)?;
            let lang = language.as_deref().unwrap_or(&s.notices.language);
            let lang = Language::parse(lang)
                .ok_or_else(|| anyhow!("the notices' language is fr or en"))?;
            let vault = open_vault(&s)?;
            let r = vault
                .prepare_notices(&local_admin()?, &id, lang)
                .map_err(no_incident(&id))?;
            vault.checkpoint(&witness(&s)?)?;
            summary(&id, &r);
            if r.unreachable > 0 {
                println!(
                    "{id}: {} people have no address or phone on file: tell them by post",
                    r.unreachable
                );
            }
            println!("the DPO approves them with `rempart incident notices approve {id} --dpo-token-file FILE`");
            Ok(())
        }
        NoticesCommand::Approve {
            store,
            id,
            dpo_token_file,
        } => {
            let token = if dpo_token_file == Path::new("-") {
                let mut t = String::new();
                std::io::stdin()
                    .read_line(&mut t)
                    .context("reading the DPO's token from standard input")?;
                t
            } else {
                std::fs::read_to_string(&dpo_token_file)
                    .with_context(|| format!("reading {}", dpo_token_file.display()))?
            };
            let token = secrecy::SecretString::from(token.trim().to_string());
            let s = of(&store)?;
            let vault = open_vault(&s)?;
            let dpo = vault
                .authenticate(token.expose_secret())
                .map_err(|e| anyhow!("the DPO's token: {e}"))?;
            let r = vault.approve_notices(&dpo, &id).map_err(no_incident(&id))?;
            vault.checkpoint(&witness(&s)?)?;
            summary(&id, &r);
            Ok(())
        }
        NoticesCommand::Deliver {
            store,
            id,
            wait,
            resend_uncertain,
        } => {
            let s = of(&store)?;
            let channels = delivery::Channels::from_settings(&s.notices)?;
            let templates = delivery::templates(&s.notices)?;
            let options = delivery::options(&s);
            let vault = open_vault(&s)?;
            let admin = local_admin()?;
            if !resend_uncertain.is_empty() {
                let n = vault
                    .release_uncertain_notices(&admin, &id, &resend_uncertain)
                    .map_err(no_incident(&id))?;
                println!("{id}: {n} uncertain messages will be sent again");
            }
            let before = vault.notice_report(&admin, &id).map_err(no_incident(&id))?;
            let pb = bar(before.total, "sending notices");
            let r = vault
                .deliver_notices(
                    &admin,
                    &id,
                    rempart_vault::Sender {
                        templates: &templates,
                        courier: &channels,
                        options: &options,
                    },
                    wait,
                    &|done: u64, _total: u64| pb.set_position(done),
                )
                .map_err(no_incident(&id))?;
            pb.finish_and_clear();
            vault.checkpoint(&witness(&s)?)?;
            summary(&id, &r);
            if r.uncertain > 0 {
                println!(
                    "{id}: {} messages may have left (a delivery stopped, or the relay broke off); check the relay's log, then --resend-uncertain NTC_ID for each that did not leave",
                    r.uncertain
                );
            }
            if r.failed > 0 {
                eprintln!(
                    "{id}: {} messages failed; `rempart incident notices status {id}` lists them",
                    r.failed
                );
            }
            Ok(())
        }
        NoticesCommand::Status { store, id } => {
            let s = of(&store)?;
            let vault = open_vault(&s)?;
            let admin = local_admin()?;
            let r = vault.notice_report(&admin, &id).map_err(no_incident(&id))?;
            summary(&id, &r);
            for n in vault.notices(&admin, &id).map_err(no_incident(&id))? {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    n.id,
                    n.person,
                    if n.recipient == 0 {
                        "person".to_string()
                    } else {
                        format!("representative {}", n.recipient)
                    },
                    n.channel,
                    n.status.as_str(),
                    n.error.as_deref().unwrap_or("")
                );
            }
            Ok(())
        }
    }
}
