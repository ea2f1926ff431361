//! `rempart verify CODE`: checks a verification code against the installation, offline.

use super::*;

/// Prints whether `code` is genuine and, if so, the day and the agency (`genuine\tDAY\tAGENCY`);
/// `not genuine` and an error (exit status 1) otherwise.
pub(crate) fn verify_code(s: &Settings, code: &str) -> Result<()> {
    let vault = open_vault(s)?;
    match vault.verify_code(code) {
        Ok(Some(v)) => {
            println!("genuine\t{}\t{}", v.sent_on.format("%Y-%m-%d"), v.agency);
            Ok(())
        }
        Ok(None) => {
            println!("not genuine");
            bail!("this installation did not issue this code: the message it came with is not ours")
        }
        Err(VaultError::MalformedCode(e)) => {
            println!("not genuine");
            bail!("not a verification code: {e}")
        }
        Err(e) => Err(e.into()),
    }
}
