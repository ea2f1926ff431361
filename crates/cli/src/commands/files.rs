//! Tokens, imports and synthetic files.

use super::*;

pub fn create_token(
    vault: &Vault,
    principal: &str,
    role: &str,
    agency: &str,
    expires: &str,
) -> Result<String> {
    create_bounded_token(
        vault,
        principal,
        role,
        agency,
        expires,
        &rempart_vault::TokenBounds::default(),
        false,
    )
}

/// A token with its bounds (scopes, client networks, a DPoP key); `people_sign_in`: agents
/// sign in at an identity provider here, so no token is made for people.
pub fn create_bounded_token(
    vault: &Vault,
    principal: &str,
    role: &str,
    agency: &str,
    expires: &str,
    bounds: &rempart_vault::TokenBounds,
    people_sign_in: bool,
) -> Result<String> {
    let role = Role::parse(role).ok_or_else(|| {
        anyhow!(
            "unknown role {role:?}; expected one of {}",
            Role::expected()
        )
    })?;
    let agency = Agency::parse(agency)?;
    let p = rempart_vault::principal_name(principal).map_err(|e| anyhow!("--principal: {e}"))?;
    let p = p.as_str();
    let ttl = parse_duration(expires)?;
    let (token, rec) = vault.create_bounded_token(
        &Principal::local(agency.clone()),
        p,
        role,
        &agency,
        ttl,
        bounds,
        people_sign_in,
    )?;
    eprintln!(
        "rempart: token {} for {} ({}, {}) valid {}{}; it is shown once and only its hash is kept",
        rec.id,
        rec.principal,
        rec.role,
        rec.agency,
        expires,
        if rec.bounds.is_empty() {
            String::new()
        } else {
            format!(", bound to {}", rec.bounds)
        }
    );
    Ok(token.reveal_once().to_string())
}

pub fn import(vault: &Vault, agency: Option<&str>, file: &Path) -> Result<usize> {
    let agency = agency.map(Agency::parse).transpose()?;
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let files = match rempart_ingest::parse_csv(&bytes, agency.as_ref(), &vault.rules()) {
        Ok(f) => f,
        Err(rempart_ingest::ImportError::Lines { errors, total }) => {
            for e in &errors {
                eprintln!("{}: {e}", file.display());
            }
            if total > errors.len() {
                eprintln!("{}: … and {} more", file.display(), total - errors.len());
            }
            bail!(
                "{total} error(s) in {}; nothing was imported",
                file.display()
            );
        }
        Err(e) => return Err(e).with_context(|| format!("importing {}", file.display())),
    };
    let pb = bar(files.len() as u64, "importing");
    let n = vault.import(&files, &|d, _| pb.set_position(d))?;
    pb.finish_and_clear();
    Ok(n)
}

pub fn synth(count: usize, agencies: usize, seed: u64, out: &Path) -> Result<()> {
    let files = rempart_synth::generate(count, agencies, seed);
    let tmp = out.with_extension("csv.partial");
    let f = std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    rempart_synth::write_csv(&files, std::io::BufWriter::new(f))
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, out).with_context(|| format!("renaming to {}", out.display()))?;
    Ok(())
}
