//! `rempart policy …`: checking a policy file and explaining what it decides.

use super::*;

pub(crate) fn policy(
    command: PolicyCommand,
    settings: &dyn Fn(Layer) -> Result<Settings>,
) -> Result<()> {
    match command {
        PolicyCommand::Check {
            store,
            principal,
            role,
            agency,
            action,
            person,
            purpose,
            break_glass,
        } => {
            let role = Role::parse(&role)
                .ok_or_else(|| anyhow!("--role must be one of {}", Role::expected()))?;
            let agency = Agency::parse(&agency).map_err(|e| anyhow!("--agency: {e}"))?;
            let act = Act::parse(&action).ok_or_else(|| {
                anyhow!("--action must be one of read, create, update, erase, assign, enrol, read_accesses")
            })?;
            let purpose = Purpose::parse(&purpose)
                .ok_or_else(|| anyhow!("--purpose must be one of {}", Purpose::expected()))?;
            let vault = open_vault(&settings(store.layer())?)?;
            let mut who = Principal::described(&principal, role, agency);
            if break_glass {
                who = who.with_break_glass("(policy check)".into());
            }
            let e = vault
                .explain(&local_admin()?, &who, &person, act, purpose)
                .with_context(|| format!("explaining a decision on file {person}"))?;
            println!(
                "{} ({}, {}) · {} · file {person} (agency {}, counsellor {}, partners [{}], {}) · purpose {}{}",
                who.name(),
                who.role().as_str(),
                who.agency().as_str(),
                act.as_str(),
                e.agency,
                e.counsellor.as_deref().unwrap_or("none"),
                e.partners.join(", "),
                if e.minor { "minor" } else { "adult" },
                purpose.as_str(),
                if break_glass { " · break-glass" } else { "" },
            );
            for (target, v) in &e.decisions {
                let why = if v.policies.is_empty() {
                    "no policy permits it (refused by default)".to_string()
                } else if v.allowed {
                    format!("permitted by {}", v.policies.join(", "))
                } else {
                    format!("forbidden by {}", v.policies.join(", "))
                };
                println!(
                    "  {:<24} {:<8} {why}",
                    target,
                    if v.allowed { "ALLOW" } else { "DENY" }
                );
                for err in &v.errors {
                    println!("  {:<24} error in a policy: {err}", "");
                }
            }
            Ok(())
        }
        PolicyCommand::Table { policies } => {
            let s = settings(Layer {
                vault: VaultLayer {
                    policies,
                    france_travail_pattern: None,
                },
                ..Layer::default()
            })?;
            print!(
                "{}",
                rempart_policy::role_table(&load_policies(s.vault.policies.as_deref())?)
            );
            Ok(())
        }
        PolicyCommand::Validate { file } => {
            let p = load_policies(Some(&file))?;
            println!(
                "{}: {} policies, valid against the schema",
                file.display(),
                p.len()
            );
            Ok(())
        }
        PolicyCommand::Default => {
            print!("{}", rempart_policy::DEFAULT_POLICIES);
            Ok(())
        }
        PolicyCommand::Schema => {
            print!("{}", rempart_policy::SCHEMA);
            Ok(())
        }
    }
}
