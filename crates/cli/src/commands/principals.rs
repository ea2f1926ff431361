//! `rempart principal …`: principals as records, at the console (the console is one operator:
//! what it asks for, another operator approves, and the reverse).

use super::*;
use rempart_vault::{AccountRequest, RequestKind};

fn console() -> Result<Principal> {
    Ok(Principal::local(Agency::parse("LOCAL")?))
}

fn request_state(q: &AccountRequest, now: i64) -> &'static str {
    match q.approved {
        Some(true) => "approved",
        Some(false) => "refused",
        None if now - q.requested_at >= rempart_vault::REQUEST_TTL_SECS => "expired",
        None => "pending",
    }
}

fn print_request(q: &AccountRequest, now: i64) {
    println!(
        "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
        q.id,
        q.kind,
        q.name,
        q.role,
        q.agency,
        q.requested_by,
        rfc3339(q.requested_at),
        request_state(q, now)
    );
}

/// The lifecycle commands; `None` when `command` is not one of them.
pub(crate) fn principals(
    command: PrincipalCommand,
    of: &dyn Fn(&StoreArgs) -> Result<Settings>,
) -> Result<Option<()>> {
    let now = chrono::Utc::now().timestamp();
    match command {
        PrincipalCommand::Bootstrap {
            store,
            agency,
            names,
        } => {
            let s = of(&store)?;
            let vault = open_vault(&s)?;
            let made = vault.bootstrap_operators(&console()?, &names, &Agency::parse(&agency)?)?;
            vault.checkpoint(&witness_of(&s, &vault)?)?;
            for a in made {
                eprintln!("rempart: operator {} of {} is active", a.name, a.agency);
            }
        }
        PrincipalCommand::List { store } => {
            let vault = open_vault(&of(&store)?)?;
            println!("name\tagency\trole\tstate\tcreated_by\tapproved_by\tapproved_at");
            for a in vault.accounts(&console()?)? {
                let r = &a.record;
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    r.name,
                    r.agency,
                    r.role,
                    a.state.as_str(),
                    r.created_by,
                    r.approved_by,
                    rfc3339(r.approved_at)
                );
            }
        }
        PrincipalCommand::Request {
            store,
            kind,
            name,
            role,
            agency,
        } => {
            let kind = RequestKind::parse(&kind)
                .ok_or_else(|| anyhow!("the kind of request is create, role or move"))?;
            let role = Role::parse(&role).ok_or_else(|| {
                anyhow!(
                    "unknown role {role:?}; expected one of {}",
                    Role::expected()
                )
            })?;
            let s = of(&store)?;
            let vault = open_vault(&s)?;
            let q =
                vault.request_account(&console()?, kind, &name, role, &Agency::parse(&agency)?)?;
            vault.checkpoint(&witness_of(&s, &vault)?)?;
            eprintln!(
                "rempart: request {} recorded; a second operator approves it (POST /v1/principals/requests/{}/approve)",
                q.id, q.id
            );
            println!("{}", q.id);
        }
        PrincipalCommand::Requests { store, pending } => {
            let vault = open_vault(&of(&store)?)?;
            println!("id\tkind\tprincipal\trole\tagency\tasked_by\tasked_at\tstate");
            for q in vault.account_requests(&console()?, pending)? {
                print_request(&q, now);
            }
        }
        other => return decide(other, of, now),
    }
    Ok(Some(()))
}

fn decide(
    command: PrincipalCommand,
    of: &dyn Fn(&StoreArgs) -> Result<Settings>,
    now: i64,
) -> Result<Option<()>> {
    let (store, id, approve) = match command {
        PrincipalCommand::Approve { store, id } => (store, id, true),
        PrincipalCommand::Refuse { store, id } => (store, id, false),
        PrincipalCommand::Disable { store, name } => {
            let s = of(&store)?;
            let vault = open_vault(&s)?;
            let a = vault.disable_account(&console()?, &name)?;
            vault.checkpoint(&witness_of(&s, &vault)?)?;
            eprintln!("rempart: {} is disabled", a.name);
            return Ok(Some(()));
        }
        _ => return Ok(None),
    };
    let s = of(&store)?;
    let vault = open_vault(&s)?;
    let q = vault
        .decide_account(&console()?, &id, approve)
        .map_err(|e| match e {
            VaultError::NotFound => {
                anyhow!("no request {id}; `rempart principal requests` lists them")
            }
            e => e.into(),
        })?;
    vault.checkpoint(&witness_of(&s, &vault)?)?;
    print_request(&q, now);
    Ok(Some(()))
}
