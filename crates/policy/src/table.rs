//! The table of what each role sees for each purpose, computed from the policies.

use crate::{FileFacts, Grant, NirForm, Policies, Situation, Subject};
use rempart_domain::{Category, Purpose, Role};

/// How the caller stands to the file, in one row of the table.
struct Row {
    role: Role,
    label: &'static str,
    counsellor: &'static str,
    file_agency: &'static str,
    enrolled: bool,
    break_glass: bool,
}

const AGENCY: &str = "ML-075-13";
const OTHER_AGENCY: &str = "ML-093-01";
const ME: &str = "me";
const PARTNER: &str = "PARTNER-1";

const ROWS: &[Row] = &[
    Row {
        role: Role::Counsellor,
        label: "file of their caseload",
        counsellor: ME,
        file_agency: AGENCY,
        enrolled: false,
        break_glass: false,
    },
    Row {
        role: Role::Counsellor,
        label: "other file of their agency",
        counsellor: "a.colleague",
        file_agency: AGENCY,
        enrolled: false,
        break_glass: false,
    },
    Row {
        role: Role::Counsellor,
        label: "other file, break-glass",
        counsellor: "a.colleague",
        file_agency: AGENCY,
        enrolled: false,
        break_glass: true,
    },
    Row {
        role: Role::Counsellor,
        label: "file of another agency",
        counsellor: "a.colleague",
        file_agency: OTHER_AGENCY,
        enrolled: false,
        break_glass: false,
    },
    Row {
        role: Role::Partner,
        label: "person enrolled with it",
        counsellor: "a.colleague",
        file_agency: AGENCY,
        enrolled: true,
        break_glass: false,
    },
    Row {
        role: Role::Partner,
        label: "person not enrolled with it",
        counsellor: "a.colleague",
        file_agency: AGENCY,
        enrolled: false,
        break_glass: false,
    },
    Row {
        role: Role::Dpo,
        label: "file of their agency",
        counsellor: "a.colleague",
        file_agency: AGENCY,
        enrolled: false,
        break_glass: false,
    },
    Row {
        role: Role::Operator,
        label: "file of their agency",
        counsellor: "a.colleague",
        file_agency: AGENCY,
        enrolled: false,
        break_glass: false,
    },
    Row {
        role: Role::Service,
        label: "file of their agency",
        counsellor: "a.colleague",
        file_agency: AGENCY,
        enrolled: false,
        break_glass: false,
    },
];

fn code(c: Category) -> &'static str {
    match c {
        Category::Identity => "I",
        Category::SocialSecurity => "N",
        Category::AgencyIds => "A",
        Category::Contact => "C",
        Category::Situation => "S",
        Category::Education => "E",
        Category::Professional => "P",
        Category::Followup => "F",
        Category::LegalRepresentatives => "L",
        other => other.as_str(),
    }
}

fn cell(adult: &Grant, minor: &Grant) -> String {
    let mut out = Vec::new();
    for &c in Category::ALL {
        let (a, m) = if c == Category::SocialSecurity {
            let form = |g: &Grant| match g.nir {
                NirForm::Full => Some("N"),
                NirForm::LastDigits => Some("n"),
                NirForm::Hidden => None,
            };
            match (form(adult), form(minor)) {
                (Some(x), _) => {
                    out.push(x.to_string());
                    continue;
                }
                (None, Some(x)) => {
                    out.push(format!("{x}¹"));
                    continue;
                }
                (None, None) => continue,
            }
        } else {
            (adult.categories.contains(&c), minor.categories.contains(&c))
        };
        match (a, m) {
            (true, true) => out.push(code(c).to_string()),
            (false, true) => out.push(format!("{}¹", code(c))),
            (true, false) => out.push(format!("{}²", code(c))),
            (false, false) => {}
        }
    }
    if out.is_empty() {
        "—".into()
    } else {
        out.join(" ")
    }
}

/// The Markdown table of what each role sees of a file, by how it stands to the file and by
/// purpose, as decided by `policies` (a request at 10:00 on a Tuesday).
pub fn role_table(policies: &Policies) -> String {
    let mut s = String::new();
    s.push_str("| role | file |");
    for p in Purpose::ALL {
        s.push_str(&format!(" `{}` |", p.as_str()));
    }
    s.push_str("\n| --- | --- |");
    for _ in Purpose::ALL {
        s.push_str(" --- |");
    }
    s.push('\n');
    let partners = [PARTNER.to_string()];
    for row in ROWS {
        let who = Subject {
            name: ME,
            role: row.role,
            agency: if row.role == Role::Partner {
                PARTNER
            } else {
                AGENCY
            },
        };
        s.push_str(&format!("| {} | {} |", row.role.as_str(), row.label));
        for &purpose in Purpose::ALL {
            // Tuesday 2026-01-06 10:00 UTC.
            let how = Situation::at(purpose, row.break_glass, 1_767_693_600);
            let grant = |minor: bool| {
                let file = FileFacts {
                    id: "f",
                    agency: row.file_agency,
                    counsellor: Some(row.counsellor),
                    partners: if row.enrolled { &partners } else { &[] },
                    minor,
                };
                policies.grant(&who, &file, &how)
            };
            s.push_str(&format!(" {} |", cell(&grant(false), &grant(true))));
        }
        s.push('\n');
    }
    s.push_str(
        "\nI identity · N NIR in full · n NIR masked to its last digits · A agency identifiers · \
         C contact · S social situation · E education · P professional · F follow-up · \
         L legal representatives · ¹ for minors only · ² for adults only · — nothing \
         (the file is answered 404, as a missing one)\n",
    );
    s
}
