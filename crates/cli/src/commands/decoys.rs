//! `rempart decoys …`: planting decoy files and listing where they are.

use super::*;

/// Most decoys planted in one agency at once.
const MOST_PER_AGENCY: usize = 1_000;

pub(crate) fn decoys(
    command: DecoysCommand,
    of: &dyn Fn(&StoreArgs) -> Result<Settings>,
) -> Result<()> {
    match command {
        DecoysCommand::Plant {
            store,
            per_agency,
            agencies,
        } => {
            if per_agency == 0 || per_agency > MOST_PER_AGENCY {
                bail!("--per-agency must be between 1 and {MOST_PER_AGENCY}");
            }
            let s = of(&store)?;
            let vault = open_vault(&s)?;
            let agencies: Vec<Agency> = if agencies.is_empty() {
                vault
                    .agencies()?
                    .into_iter()
                    .map(|(a, _)| Agency::parse(&a))
                    .collect::<Result<_, _>>()?
            } else {
                agencies
                    .iter()
                    .map(|a| Agency::parse(a).with_context(|| format!("--agency {a}")))
                    .collect::<Result<_>>()?
            };
            if agencies.is_empty() {
                bail!(
                    "no agency has files yet: import files first, or name agencies with --agency"
                );
            }
            let mut total = 0;
            for agency in &agencies {
                let planted = plant(&vault, agency, per_agency)?;
                println!("{agency}\t{planted}");
                total += planted;
            }
            vault.checkpoint(&witness(&s)?)?;
            eprintln!(
                "rempart: {total} decoys planted in {} agencies",
                agencies.len()
            );
            Ok(())
        }
        DecoysCommand::List { store } => {
            let vault = open_vault(&of(&store)?)?;
            println!("agency\tdecoys");
            for (agency, n) in vault.agencies()? {
                println!("{agency}\t{n}");
            }
            Ok(())
        }
    }
}

/// Plants `n` decoys in `agency`, drawing synthetic files until that many have search keys
/// no file of the agency has (a few rounds at most).
fn plant(vault: &Vault, agency: &Agency, n: usize) -> Result<usize> {
    let mut planted = 0;
    for _ in 0..4 {
        if planted == n {
            break;
        }
        let seed: u64 = rand::random();
        let mut files = rempart_synth::generate(n - planted, 1, seed);
        for f in &mut files {
            f.counsellor.clear();
            f.agency = agency.to_string();
        }
        let mut csv = Vec::new();
        rempart_synth::write_csv(&files, &mut csv).context("writing synthetic decoys")?;
        let files = rempart_ingest::parse_csv(&csv, Some(agency), &vault.rules())
            .map_err(|e| anyhow!("synthetic decoys do not validate: {e}"))?;
        planted += vault.plant_decoys(&local_admin()?, agency, &files)?;
    }
    Ok(planted)
}
