//! `rempart keys rotate`: a new master key version, every data key re-wrapped.

use super::*;

pub(crate) fn rotate(s: &Settings, batch: usize, retire_old: bool) -> Result<()> {
    let backend = backend(s)?;
    backend.check_exists()?;
    let pass = passphrase()?;
    let (mut ring, key_file) = load_keyring(s, &backend)?;
    let pending = vault_with(
        &backend,
        Keyring::load(&key_file, pass.as_ref())?,
        pattern(s)?,
        load_policies(s.vault.policies.as_deref())?,
    )?
    .pending_rewrap()?;
    if pending > 0 {
        eprintln!(
            "rempart: resuming the unfinished rotation to master key v{} ({pending} keys left)",
            ring.current_version()
        );
    } else {
        let v = ring.rotate();
        // The new version is on disk before any data key is wrapped under it.
        ring.replace_file(&key_file, pass.as_ref())?;
        eprintln!(
            "rempart: master key v{v} installed in {}",
            key_file.display()
        );
    }
    let current = ring.current_version();
    let vault = vault_with(
        &backend,
        Keyring::load(&key_file, pass.as_ref())?,
        pattern(s)?,
        load_policies(s.vault.policies.as_deref())?,
    )?;
    let total = vault.pending_rewrap()?;
    let pb = bar(total, "re-wrapping data keys");
    let report = vault.rewrap_all(batch, &|d, _| pb.set_position(d))?;
    pb.finish_and_clear();
    eprintln!(
        "rempart: {} data keys re-wrapped under master key v{current}; no file was decrypted",
        report.rewrapped
    );
    vault.checkpoint(&witness_of(s, &vault)?)?;
    if retire_old {
        ring.retire_before(current);
        ring.replace_file(&key_file, pass.as_ref())?;
        eprintln!(
            "rempart: older master key versions removed from {}",
            key_file.display()
        );
    }
    Ok(())
}
