//! CSV import: parses a whole export and returns valid files, or every error with its line
//! and column. Nothing is returned unless every line is valid, so an import is all or nothing.
//!
//! Columns (docs/api.md): `last_name,first_names,birth_date,sex,nationality,nir,
//! france_travail_id,email,phone,address_line1,postal_code,city,benefits,education_level,
//! registered_on,status,counsellor`, in any order, plus an optional `agency` column (written by
//! `rempart synth` for several agencies). `benefits` and `phone` take several values separated
//! by `|`. Error messages never repeat a cell's value.
//!
//! ```
//! use rempart_domain::{Agency, FranceTravailPattern, ValidationRules};
//! let rules = ValidationRules { today: chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(), france_travail: FranceTravailPattern::default() };
//! let csv = "last_name,first_names,birth_date,sex,nationality,nir,france_travail_id,email,phone,address_line1,postal_code,city,benefits,education_level,registered_on,status,counsellor\n\
//!            Martin,Léa,2006-04-17,F,FR,2060475113042 33,,lea@example.fr,06 12 34 56 78,,,,RSA|APL,4,2024-09-02,registered,c.durand\n";
//! let files = rempart_ingest::parse_csv(csv.as_bytes(), Some(&Agency::parse("ML-075-13").unwrap()), &rules).unwrap();
//! assert_eq!(files.len(), 1);
//! ```
#![forbid(unsafe_code)]
#![forbid(unused_must_use)]
#![deny(missing_docs)]

use rempart_domain::{
    Address, Agency, Contact, Education, Followup, Identity, PersonInput, Situation, ValidFile,
    ValidationRules,
};
use std::fmt;

/// The columns of docs/api.md, in their documented order.
pub const COLUMNS: [&str; 17] = [
    "last_name",
    "first_names",
    "birth_date",
    "sex",
    "nationality",
    "nir",
    "france_travail_id",
    "email",
    "phone",
    "address_line1",
    "postal_code",
    "city",
    "benefits",
    "education_level",
    "registered_on",
    "status",
    "counsellor",
];

/// The optional extra column naming each line's agency.
pub const AGENCY_COLUMN: &str = "agency";

/// Most errors reported in one run (the count of the others is given).
const MAX_REPORTED: usize = 100;

/// One bad cell or line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    /// 1-based line of the file (the header is line 1).
    pub line: u64,
    /// Column name, or `-` for a whole-line problem.
    pub column: String,
    /// What is wrong (never the value).
    pub message: String,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.line, self.column, self.message
        )
    }
}

/// Why nothing was imported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// The header is not the expected one.
    #[error("header: {0}")]
    Header(String),
    /// Some lines are invalid; nothing was imported.
    #[error("{} invalid line(s), nothing imported; first: {}", .total, .errors.first().map(|e| e.to_string()).unwrap_or_default())]
    Lines {
        /// The first errors, in file order.
        errors: Vec<LineError>,
        /// How many errors in all.
        total: usize,
    },
    /// Neither `--agency` nor an `agency` column.
    #[error("no agency: give --agency or an `agency` column")]
    NoAgency,
    /// The file holds no line.
    #[error("the file holds no line to import")]
    Empty,
}

fn column_of(field: &str) -> &str {
    let head = field.split('[').next().unwrap_or(field);
    match head {
        "identity.last_name" => "last_name",
        "identity.first_names" => "first_names",
        "identity.birth_date" => "birth_date",
        "identity.sex" => "sex",
        "identity.nationality" => "nationality",
        "contact.email" => "email",
        "contact.phones" => "phone",
        "contact.address.line1" => "address_line1",
        "contact.address.postal_code" => "postal_code",
        "contact.address.city" => "city",
        "situation.benefits" => "benefits",
        "education.level" => "education_level",
        "followup.registered_on" => "registered_on",
        "followup.status" => "status",
        "followup.counsellor" => "counsellor",
        "identity" => "last_name",
        other => other,
    }
}

fn split_multi(s: &str) -> Vec<String> {
    s.split('|')
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(String::from)
        .collect()
}

/// Parses and validates a whole CSV export. `agency` applies to every line unless the file has
/// an `agency` column; with both, each line's agency must equal `agency`.
pub fn parse_csv(
    data: &[u8],
    agency: Option<&Agency>,
    rules: &ValidationRules,
) -> Result<Vec<ValidFile>, ImportError> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(data);
    let headers = rdr
        .headers()
        .map_err(|e| ImportError::Header(csv_message(&e)))?
        .clone();
    let mut pos = std::collections::HashMap::new();
    for (i, h) in headers.iter().enumerate() {
        let h = h.trim().trim_start_matches('\u{feff}');
        // Named by position, never by its text: in a file without a header line, the first
        // line is a person's data.
        let Some(name) = COLUMNS
            .iter()
            .chain(std::iter::once(&AGENCY_COLUMN))
            .find(|c| **c == h)
        else {
            return Err(ImportError::Header(format!(
                "column {} of line 1 is not a known column name (the first line must be the header: {}[,{AGENCY_COLUMN}])",
                i + 1,
                COLUMNS.join(",")
            )));
        };
        if pos.insert(*name, i).is_some() {
            return Err(ImportError::Header(format!("column {name} appears twice")));
        }
    }
    let missing: Vec<&str> = COLUMNS
        .iter()
        .copied()
        .filter(|c| !pos.contains_key(*c))
        .collect();
    if !missing.is_empty() {
        return Err(ImportError::Header(format!(
            "missing column(s): {}",
            missing.join(",")
        )));
    }
    let agency_col = pos.get(AGENCY_COLUMN).copied();
    if agency.is_none() && agency_col.is_none() {
        return Err(ImportError::NoAgency);
    }

    let mut files = Vec::new();
    let mut errors = Vec::new();
    let mut total = 0usize;
    let mut push = |errors: &mut Vec<LineError>, e: LineError| {
        total += 1;
        if errors.len() < MAX_REPORTED {
            errors.push(e);
        }
    };
    let mut record = csv::StringRecord::new();
    loop {
        let line = rdr.position().line() + 1;
        match rdr.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(line);
                push(
                    &mut errors,
                    LineError {
                        line,
                        column: "-".into(),
                        message: csv_message(&e),
                    },
                );
                if matches!(e.kind(), csv::ErrorKind::Io(_)) {
                    break;
                }
                continue;
            }
        }
        let line = record.position().map(|p| p.line()).unwrap_or(line);
        let cell = |name: &str| -> Option<String> {
            pos.get(name)
                .and_then(|i| record.get(*i))
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
        };
        let row_agency = match (
            agency_col
                .and_then(|i| record.get(i))
                .map(str::trim)
                .filter(|s| !s.is_empty()),
            agency,
        ) {
            (Some(a), Some(given)) if Agency::parse(a).ok().as_ref() != Some(given) => {
                push(
                    &mut errors,
                    LineError {
                        line,
                        column: AGENCY_COLUMN.into(),
                        message: format!("differs from --agency {given}"),
                    },
                );
                continue;
            }
            (Some(a), _) => a.to_string(),
            (None, Some(given)) => given.as_str().to_string(),
            (None, None) => {
                push(
                    &mut errors,
                    LineError {
                        line,
                        column: AGENCY_COLUMN.into(),
                        message: "is required".into(),
                    },
                );
                continue;
            }
        };
        let address = match (cell("address_line1"), cell("postal_code"), cell("city")) {
            (None, None, None) => None,
            (line1, postal_code, city) => Some(Address {
                line1,
                postal_code,
                city,
                ..Default::default()
            }),
        };
        let email = cell("email");
        let phones = cell("phone").map(|p| split_multi(&p)).unwrap_or_default();
        let contact =
            (email.is_some() || !phones.is_empty() || address.is_some()).then_some(Contact {
                email,
                phones,
                address,
            });
        let benefits = cell("benefits")
            .map(|b| split_multi(&b))
            .unwrap_or_default();
        let situation = (!benefits.is_empty()).then(|| Situation {
            benefits,
            ..Default::default()
        });
        let education = cell("education_level").map(|l| Education {
            level: Some(l),
            ..Default::default()
        });
        let (registered_on, status, counsellor) =
            (cell("registered_on"), cell("status"), cell("counsellor"));
        let followup =
            (registered_on.is_some() || status.is_some() || counsellor.is_some()).then(|| {
                Followup {
                    registered_on,
                    status,
                    counsellor,
                    events: Vec::new(),
                }
            });
        let input = PersonInput {
            agency: Some(row_agency),
            identity: Some(Identity {
                last_name: cell("last_name"),
                first_names: cell("first_names"),
                birth_date: cell("birth_date"),
                sex: cell("sex"),
                nationality: cell("nationality"),
            }),
            nir: cell("nir"),
            france_travail_id: cell("france_travail_id"),
            contact,
            situation,
            education,
            followup,
            ..Default::default()
        };
        match ValidFile::parse(input, rules) {
            Ok(f) => files.push(f),
            Err(errs) => {
                for e in errs.0 {
                    push(
                        &mut errors,
                        LineError {
                            line,
                            column: column_of(&e.field).to_string(),
                            message: e.message,
                        },
                    );
                }
            }
        }
    }
    if total > 0 {
        return Err(ImportError::Lines { errors, total });
    }
    if files.is_empty() {
        return Err(ImportError::Empty);
    }
    Ok(files)
}

/// A CSV error described without the offending bytes.
fn csv_message(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Utf8 { .. } => "is not valid UTF-8".into(),
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("has {len} fields, expected {expected_len}"),
        csv::ErrorKind::Io(err) => format!("read error: {err}"),
        _ => "is not valid CSV".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rempart_domain::FranceTravailPattern;

    fn rules() -> ValidationRules {
        ValidationRules {
            today: chrono::NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
            france_travail: FranceTravailPattern::default(),
        }
    }
    fn header() -> String {
        COLUMNS.join(",")
    }
    const GOOD: &str = "Martin,Léa Anne,2006-04-17,F,FR,2060475113042 33,1234567A,lea@example.fr,06 12 34 56 78|0712345678,\"12, rue des Lilas\",75013,Paris,RSA|APL,4,2024-09-02,registered,c.durand";

    fn ml() -> Agency {
        Agency::parse("ML-075-13").unwrap()
    }

    #[test]
    fn a_good_file_imports_with_normalised_values() {
        let csv = format!("{}\n{GOOD}\n{GOOD}\n", header());
        let files = parse_csv(csv.as_bytes(), Some(&ml()), &rules()).unwrap();
        assert_eq!(files.len(), 2);
        let r = files[0].record();
        assert_eq!(
            r.contact.as_ref().unwrap().phones,
            vec!["+33612345678", "+33712345678"]
        );
        assert_eq!(
            r.contact
                .as_ref()
                .unwrap()
                .address
                .as_ref()
                .unwrap()
                .line1
                .as_deref(),
            Some("12, rue des Lilas")
        );
        assert_eq!(r.situation.as_ref().unwrap().benefits, vec!["RSA", "APL"]);
        assert_eq!(files[0].counsellor(), Some("c.durand"));
    }

    #[test]
    fn errors_name_line_and_column_and_nothing_is_imported() {
        let bad_nir = GOOD.replace("2060475113042 33", "2060475113042 34");
        let bad_mail = GOOD.replace("lea@example.fr", "lea-at-example");
        let csv = format!("{}\n{GOOD}\n{bad_nir}\n{GOOD}\n{bad_mail}\n", header());
        let err = parse_csv(csv.as_bytes(), Some(&ml()), &rules()).unwrap_err();
        let ImportError::Lines { errors, total } = err else {
            panic!("expected line errors")
        };
        assert_eq!(total, 2);
        assert_eq!((errors[0].line, errors[0].column.as_str()), (3, "nir"));
        assert_eq!((errors[1].line, errors[1].column.as_str()), (5, "email"));
        assert!(!errors[1].message.contains("lea-at-example"));
    }

    #[test]
    fn a_quoted_multiline_cell_keeps_line_numbers_right() {
        let two_lines = GOOD.replace("\"12, rue des Lilas\"", "\"12 rue\ndes Lilas\"");
        let bad = GOOD.replace(",F,", ",Z,");
        let csv = format!("{}\n{two_lines}\n{bad}\n", header());
        let ImportError::Lines { errors, .. } =
            parse_csv(csv.as_bytes(), Some(&ml()), &rules()).unwrap_err()
        else {
            panic!()
        };
        assert_eq!((errors[0].line, errors[0].column.as_str()), (4, "sex"));
    }

    #[test]
    fn header_problems() {
        assert!(matches!(
            parse_csv(b"last_name\nX\n", Some(&ml()), &rules()),
            Err(ImportError::Header(_))
        ));
        let extra = format!("{},shoe_size\n", header());
        assert!(matches!(
            parse_csv(extra.as_bytes(), Some(&ml()), &rules()),
            Err(ImportError::Header(_))
        ));
        assert_eq!(
            parse_csv(format!("{}\n", header()).as_bytes(), Some(&ml()), &rules()).unwrap_err(),
            ImportError::Empty
        );
        assert_eq!(
            parse_csv(format!("{}\n{GOOD}\n", header()).as_bytes(), None, &rules()).unwrap_err(),
            ImportError::NoAgency
        );
    }

    #[test]
    fn a_file_without_its_header_line_is_refused_without_echoing_its_first_line() {
        // Some exports put the NIR or the email first.
        let row = "2060475113042 33,lea.martin@example.fr,Martin,Léa Anne,2006-04-17";
        for csv in [
            format!("{row}\n{GOOD}\n"),
            format!("{GOOD}\n{GOOD}\n"),
            format!("{},{row}\n{GOOD}\n", header()),
        ] {
            let err = parse_csv(csv.as_bytes(), Some(&ml()), &rules()).unwrap_err();
            assert!(matches!(err, ImportError::Header(_)), "{err:?}");
            let shown = format!("{err} {err:?}");
            for value in [
                "2060475113042",
                "lea.martin@example.fr",
                "lea@example.fr",
                "Martin",
                "Léa",
                "2006-04-17",
            ] {
                assert!(!shown.contains(value), "{value} echoed in: {shown}");
            }
            assert!(shown.contains("must be the header"), "{shown}");
        }
        let twice = format!("{},email\n{GOOD},x\n", header());
        assert_eq!(
            parse_csv(twice.as_bytes(), Some(&ml()), &rules()).unwrap_err(),
            ImportError::Header("column email appears twice".into())
        );
    }

    #[test]
    fn ragged_lines_and_bad_utf8_are_reported_by_line() {
        let csv = format!("{}\n{GOOD}\nMartin,Léa\n", header());
        let ImportError::Lines { errors, .. } =
            parse_csv(csv.as_bytes(), Some(&ml()), &rules()).unwrap_err()
        else {
            panic!()
        };
        assert_eq!((errors[0].line, errors[0].column.as_str()), (3, "-"));
        let mut bytes = format!("{}\n", header()).into_bytes();
        bytes.extend_from_slice(&GOOD.as_bytes()[..3]);
        bytes.push(0xff);
        bytes.extend_from_slice(&GOOD.as_bytes()[3..]);
        bytes.push(b'\n');
        let ImportError::Lines { errors, .. } =
            parse_csv(&bytes, Some(&ml()), &rules()).unwrap_err()
        else {
            panic!()
        };
        assert_eq!(errors[0].line, 2);
    }

    #[test]
    fn an_agency_column_sets_each_line_and_must_agree_with_the_flag() {
        let csv = format!("{},agency\n{GOOD},ML-001-01\n{GOOD},ML-002-01\n", header());
        let files = parse_csv(csv.as_bytes(), None, &rules()).unwrap();
        assert_eq!(files[1].agency().as_str(), "ML-002-01");
        let ImportError::Lines { errors, .. } = parse_csv(
            csv.as_bytes(),
            Some(&Agency::parse("ML-001-01").unwrap()),
            &rules(),
        )
        .unwrap_err() else {
            panic!()
        };
        assert_eq!((errors[0].line, errors[0].column.as_str()), (3, "agency"));
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..400)) {
            let mut input = format!("{}\n", header()).into_bytes();
            input.extend(data);
            let _ = parse_csv(&input, Some(&ml()), &rules());
        }
    }
}
