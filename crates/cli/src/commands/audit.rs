//! `rempart audit …`: checkpoints, verification, proofs, export, the per-person index.

use super::*;

pub(crate) fn audit(
    command: AuditCommand,
    of: &dyn Fn(&StoreArgs) -> Result<Settings>,
) -> Result<()> {
    match command {
        AuditCommand::Checkpoint { store } => {
            let s = of(&store)?;
            let vault = open_vault(&s)?;
            let w = witness_of(&s, &vault)?;
            match vault.checkpoint_as_holder(&w, 10)? {
                Some(cp) => {
                    println!("{}", serde_json::to_string(&cp)?);
                    eprintln!(
                        "rempart: checkpoint of {} entries recorded and appended to {}",
                        cp.size,
                        w.path().display()
                    );
                }
                None => {
                    let latest = vault.checkpoint(&w)?;
                    println!("{}", serde_json::to_string(&latest)?);
                    eprintln!(
                        "rempart: another node signs the checkpoints now (it holds the lease); the latest covers {} entries",
                        latest.size
                    );
                }
            }
            Ok(())
        }
        AuditCommand::Prove {
            store,
            seq,
            size,
            first,
            second,
        } => {
            let vault = open_vault(&of(&store)?)?;
            let me = Principal::local(Agency::parse("LOCAL")?);
            let json = match (seq, first, second) {
                (Some(seq), _, _) => {
                    serde_json::to_string_pretty(&vault.inclusion_proof(&me, seq, size)?)?
                }
                (None, Some(a), Some(b)) => {
                    serde_json::to_string_pretty(&vault.consistency_proof(&me, a, b)?)?
                }
                _ => bail!("give --seq N [--size S], or --first A --second B"),
            };
            println!("{json}");
            Ok(())
        }
        AuditCommand::CheckProof { file, public_key } => {
            let key: [u8; 32] = hex::decode(public_key.trim())
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| anyhow!("--public-key must be 64 hexadecimal characters"))?;
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let value: serde_json::Value = serde_json::from_str(&text)
                .with_context(|| format!("{} is not JSON", file.display()))?;
            let verdict = if value.get("seq").is_some() {
                let p: rempart_audit::InclusionProof =
                    serde_json::from_value(value).context("not an inclusion proof")?;
                p.verify(&key).map(|()| {
                    format!(
                        "entry {} is in the signed log of {} entries{}",
                        p.seq,
                        p.checkpoint.size,
                        if p.redacted {
                            " (its leaf only: the entry is redacted for this caller, and its readable fields are not checked)"
                        } else {
                            ""
                        }
                    )
                })
            } else {
                let p: rempart_audit::ConsistencyProof =
                    serde_json::from_value(value).context("not a consistency proof")?;
                p.verify(&key).map(|()| {
                    format!(
                        "the log of {} entries is a prefix of the log of {}",
                        p.first.size, p.second.size
                    )
                })
            };
            match verdict {
                Ok(msg) => {
                    eprintln!("rempart: proof valid: {msg}");
                    Ok(())
                }
                Err(why) => bail!("proof invalid: {why}"),
            }
        }
        AuditCommand::Export {
            store,
            since,
            format,
            out,
        } => {
            let format: rempart_vault::ExportFormat =
                format.parse().map_err(|e: String| anyhow!(e))?;
            let since = match since.as_deref() {
                None => i64::MIN,
                Some(s) => unix_or_date(s, "--since")?,
            };
            let vault = open_vault(&of(&store)?)?;
            let local = Principal::local(Agency::parse("LOCAL")?);
            let n = match &out {
                Some(path) => {
                    let tmp = path.with_extension("partial");
                    let mut f = std::io::BufWriter::new(
                        std::fs::File::create(&tmp)
                            .with_context(|| format!("creating {}", tmp.display()))?,
                    );
                    let n = match vault.export_audit(&local, since, format, &mut f) {
                        Ok(n) => n,
                        Err(e) => {
                            drop(f);
                            let _ = std::fs::remove_file(&tmp);
                            return Err(e.into());
                        }
                    };
                    std::io::Write::flush(&mut f)?;
                    f.into_inner()
                        .map_err(|e| e.into_error())?
                        .sync_all()
                        .with_context(|| format!("writing {}", tmp.display()))?;
                    std::fs::rename(&tmp, path)?;
                    n
                }
                None => {
                    let mut out = std::io::BufWriter::new(std::io::stdout());
                    let n = vault.export_audit(&local, since, format, &mut out)?;
                    std::io::Write::flush(&mut out)?;
                    n
                }
            };
            eprintln!("rempart: exported {n} audit entries");
            Ok(())
        }
        AuditCommand::Reindex { store } => {
            let vault = open_vault(&of(&store)?)?;
            let pb = bar(vault.audit_len()?, "rebuilding the per-person index");
            let n = vault.rebuild_audit_index(&|d, _| pb.set_position(d))?;
            pb.finish_and_clear();
            eprintln!("rempart: per-person index rebuilt from the log: {n} entries indexed");
            Ok(())
        }
        AuditCommand::PublicKey { store } => {
            let vault = open_vault(&of(&store)?)?;
            println!("{}", hex::encode(vault.audit_public_key()?));
            Ok(())
        }
        AuditCommand::Verify {
            store,
            public_key,
            from_checkpoint,
            no_witness,
        } => {
            let trusted = from_checkpoint
                .as_deref()
                .map(read_checkpoint_file)
                .transpose()?;
            let s = of(&store)?;
            let vault = open_vault(&s)?;
            let key: [u8; 32] = match public_key {
                Some(h) => hex::decode(h.trim())
                    .ok()
                    .and_then(|b| b.try_into().ok())
                    .ok_or_else(|| anyhow!("--public-key must be 64 hexadecimal characters"))?,
                None => vault.audit_public_key()?,
            };
            let w = witness(&s)?;
            let witnessed = if no_witness {
                Witnessed::NotChecked
            } else {
                w.read()?
            };
            let pb = bar(vault.audit_len()?, "verifying the audit log");
            let result = vault.verify_audit_from(&key, &witnessed, trusted.as_ref(), &|d, _| {
                pb.set_position(d)
            });
            pb.finish_and_clear();
            let v = match result {
                Ok(Ok(v)) => v,
                Ok(Err(t)) => bail!("audit log tampered: {t}"),
                Err(VaultError::NoWitness {
                    checkpoints,
                    latest,
                }) => bail!(
                    "audit log not verified: the witness {} {}, but the database holds {checkpoints} signed checkpoint(s), the latest of size {latest}: the witness was deleted or emptied (or --witness names another file), and without it a log cut back together with its checkpoints goes unnoticed. Restore the witness or give its path with --witness; `--no-witness` verifies against the database's checkpoints alone",
                    w.path().display(),
                    if matches!(witnessed, Witnessed::Missing) {
                        "does not exist"
                    } else {
                        "holds no checkpoint"
                    }
                ),
                Err(e) => return Err(e.into()),
            };
            let witness_note = match &witnessed {
                Witnessed::NotChecked => "witness not checked".to_string(),
                _ => format!(
                    "{} in the witness {}",
                    witnessed.checkpoints().len(),
                    w.path().display()
                ),
            };
            eprintln!(
                "rempart: audit log intact: {} entries, {} signed checkpoints ({witness_note}), {} entries after the last checkpoint",
                v.entries, v.checkpoints, v.unchecked_tail
            );
            if no_witness {
                eprintln!(
                    "rempart: the witness was NOT checked (--no-witness): the log matches the checkpoints of the database{}, but a log cut back or rolled back together with them would not be detected",
                    if trusted.is_some() {
                        " and the checkpoint file"
                    } else {
                        ""
                    }
                );
            }
            let pb = bar(v.entries, "checking the per-person index");
            let index = vault.check_audit_index(&|d, _| pb.set_position(d))?;
            pb.finish_and_clear();
            if let Some(seq) = index.first_difference {
                bail!(
                    "the per-person index (audit-index.db) disagrees with the log at entry {seq}: the access history (GET /v1/persons/{{id}}/accesses) could miss entries; the log itself is intact. Rebuild the index with `rempart audit reindex`"
                );
            }
            eprintln!(
                "rempart: per-person index matches the log through entry {} (later entries are read from the log itself)",
                index.through
            );
            Ok(())
        }
    }
}

/// A signed checkpoint kept outside the installation: one JSON object (as `audit checkpoint`
/// prints it and `GET /v1/audit/checkpoint` serves it).
pub(crate) fn read_checkpoint_file(path: &Path) -> Result<rempart_audit::Checkpoint> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(text.trim()).map_err(|e| {
        anyhow!(
            "{} is not a checkpoint (a JSON object with size, root, time and signature, as printed by `rempart audit checkpoint`): {} error at line {}, column {}",
            path.display(),
            match e.classify() {
                serde_json::error::Category::Io => "read",
                serde_json::error::Category::Syntax => "syntax",
                serde_json::error::Category::Data => "field",
                serde_json::error::Category::Eof => "truncation",
            },
            e.line(),
            e.column()
        )
    })
}
