//! The same `rempart serve`, for measurement only, with the access policy replaced by the rule
//! that preceded it (a principal sees every category of every file of its own agency) decided
//! in plain Rust: the difference with the real server is the cost of evaluating the policies.
//! Like the server without read audit, it lives here, behind a hidden subcommand.

use anyhow::Result;
use rempart_domain::{Category, Role};
use rempart_policy::{
    Act, Decide, FileFacts, Grant, LogAct, NirForm, Situation, Subject, Target, Verdict,
};
use rempart_store_sqlite::SqliteStore;
use std::path::Path;
use std::sync::Arc;

/// Same agency: everything; otherwise nothing.
struct AgencyRule;

impl Decide for AgencyRule {
    fn decide(
        &self,
        who: &Subject<'_>,
        _act: Act,
        file: &FileFacts<'_>,
        _how: &Situation,
        _target: Target,
    ) -> Verdict {
        Verdict {
            allowed: who.agency == file.agency,
            policies: vec![],
            errors: vec![],
        }
    }

    fn decide_log(&self, who: &Subject<'_>, act: LogAct, _how: &Situation) -> Verdict {
        let allowed = match act {
            LogAct::ReadCheckpoint => true,
            LogAct::Prove | LogAct::Export => matches!(who.role, Role::Operator | Role::Dpo),
            LogAct::ReviewBreakGlass => who.role == Role::Dpo,
        };
        Verdict {
            allowed,
            policies: vec![],
            errors: vec![],
        }
    }

    fn grant(&self, who: &Subject<'_>, file: &FileFacts<'_>, _how: &Situation) -> Grant {
        if who.agency == file.agency {
            Grant {
                categories: Category::ALL.to_vec(),
                nir: NirForm::Full,
            }
        } else {
            Grant {
                categories: vec![],
                nir: NirForm::Hidden,
            }
        }
    }
}

/// Serves the installation in `data` deciding by the agency rule alone; prints
/// `listening on ADDR` to stderr once bound.
pub fn serve_without_policies(data: &Path, key_file: &Path, listen: &str) -> Result<()> {
    let store = Arc::new(SqliteStore::open(data)?);
    crate::noaudit::serve_with(store, data, key_file, Arc::new(AgencyRule), listen)
}
