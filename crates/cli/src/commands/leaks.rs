//! `rempart leak …`: matching a leaked file against the vault at the console.

use super::*;

pub(crate) fn leak(
    command: LeakCommand,
    of: &dyn Fn(&StoreArgs) -> Result<Settings>,
) -> Result<()> {
    match command {
        LeakCommand::Match {
            store,
            file,
            format,
        } => {
            if format != "text" && format != "json" {
                bail!("--format must be text or json");
            }
            // Opened before the vault: a wrong path stops the command before anything is
            // recorded.
            let input = std::fs::File::open(&file)
                .with_context(|| format!("opening {}", file.display()))?;
            let s = of(&store)?;
            let vault = open_vault(&s)?;
            let found = vault.match_leaked_from(&local_admin()?, std::io::BufReader::new(input))?;
            vault.checkpoint(&witness(&s)?)?;
            if format == "json" {
                println!("{}", serde_json::to_string_pretty(&found.json())?);
            } else {
                print!("{}", found.text());
            }
            Ok(())
        }
    }
}
