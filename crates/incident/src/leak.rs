//! A leaked file: a CSV of stolen data found outside (posted on a forum, sold), read row by
//! row into what the vault can look up — each row's exact-search terms, normalised as the vault
//! normalises a file's ([`rempart_domain::SearchTerm`]) — and the categories of data the row
//! holds; and the shape of the answer ([`LeakMatch`]): which rows are people of the vault,
//! which are markers of an export, which matched nobody.
//!
//! The file is read as it comes (a header line, comma or semicolon separated, UTF-8 with or
//! without a byte-order mark). Recognised columns are those of Rempart's CSV import, of an
//! export turned into CSV (`identity.last_name`, `contact.phones[0]`…) and a few French
//! aliases (`nom`, `prénom`, `date_naissance`, `téléphone`, `courriel`…). Other columns are
//! ignored and reported by name. A row the CSV reader cannot read is counted with its line
//! number, never shown. No I/O beyond the reader it is given; no value of the file is ever
//! put in an error, a `Debug` or the report.
//!
//! ```
//! use rempart_domain::{FranceTravailPattern, IndexKind, ValidationRules};
//! use rempart_incident::leak::{LeakReader, Row};
//! let rules = ValidationRules {
//!     today: chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
//!     france_travail: FranceTravailPattern::default(),
//! };
//! let csv = "\u{feff}nom;prénom;courriel;date_naissance\nMartin;Léa;Lea.Martin@example.fr;17/04/2006\n";
//! let mut leak = LeakReader::new(csv.as_bytes(), &rules).unwrap();
//! let Some(Row::Read(row)) = leak.next() else { panic!() };
//! let kinds: Vec<IndexKind> = row.terms.iter().map(|t| t.kind).collect();
//! assert_eq!(kinds, [IndexKind::Email, IndexKind::NameBirth]);
//! assert_eq!(row.line, 2);
//! ```

use rempart_domain::{Category, SearchTerm, ValidationRules};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read};
use zeroize::Zeroize;

/// Longest header line read (a header longer than this is not one).
const HEADER_MAX: usize = 64 * 1024;

/// Why a leaked file could not be read at all. Never repeats anything of the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LeakError {
    /// Nothing to read.
    #[error("the file is empty")]
    Empty,
    /// The first line is not a header Rempart can use.
    #[error("the first line must be a header naming at least one known column (such as nir, email, phone, france_travail_id, last_name with birth_date, or nom, courriel, telephone, date_naissance)")]
    NoKnownColumn,
    /// The first line is not UTF-8, or longer than 64 KiB.
    #[error("the header line is not UTF-8 text of at most 64 KiB")]
    Header,
    /// Reading the input failed.
    #[error("reading the file failed ({0})")]
    Io(std::io::ErrorKind),
}

/// What a recognised column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    Nir,
    Email,
    Phone,
    FranceTravailId,
    MlFileNumber,
    LastName,
    FirstNames,
    BirthDate,
    /// The vault's own file id (an export turned into CSV carries it).
    Id,
    /// The agency code: no category.
    Agency,
    /// Any other field of a category.
    Other(Category),
}

impl Column {
    fn category(self) -> Option<Category> {
        Some(match self {
            Column::Nir => Category::SocialSecurity,
            Column::Email | Column::Phone => Category::Contact,
            Column::FranceTravailId | Column::MlFileNumber => Category::AgencyIds,
            Column::LastName | Column::FirstNames | Column::BirthDate => Category::Identity,
            Column::Other(c) => c,
            Column::Id | Column::Agency => return None,
        })
    }
}

/// A header cell as a key: lower case, accents removed, any run of other characters a single
/// space, trailing list indexes removed (`contact.phones[0]` → `contact phones`).
fn key(header: &str) -> String {
    let mut k = rempart_domain::normalise_name(header.trim_start_matches('\u{feff}'));
    while let Some((head, last)) = k.rsplit_once(' ') {
        if last.bytes().all(|b| b.is_ascii_digit()) {
            k.truncate(head.len());
        } else {
            break;
        }
    }
    // `phone1`, `email2`: a number glued to the name.
    let trimmed = k.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    if trimmed > 0 {
        k.truncate(trimmed);
    }
    k
}

/// The column a header cell names, if Rempart knows it.
fn recognise(header: &str) -> Option<Column> {
    let k = key(header);
    let k = k.as_str();
    // A field of a category, named with it (an export turned into CSV).
    for (prefix, category) in [
        ("legal representatives", Category::LegalRepresentatives),
        ("situation", Category::Situation),
        ("education", Category::Education),
        ("professional", Category::Professional),
        ("followup", Category::Followup),
    ] {
        if k == prefix || k.starts_with(&format!("{prefix} ")) {
            return Some(Column::Other(category));
        }
    }
    if let Some(rest) = k.strip_prefix("identity ") {
        return Some(known(rest).unwrap_or(Column::Other(Category::Identity)));
    }
    if let Some(rest) = k.strip_prefix("contact ") {
        return Some(known(rest).unwrap_or(Column::Other(Category::Contact)));
    }
    if k == "identity" {
        return Some(Column::Other(Category::Identity));
    }
    if k == "contact" {
        return Some(Column::Other(Category::Contact));
    }
    known(k)
}

/// The names of one field (a category's prefix removed).
fn known(k: &str) -> Option<Column> {
    Some(match k {
        "nir"
        | "nir last digits"
        | "social security"
        | "numero securite sociale"
        | "numero de securite sociale"
        | "num secu"
        | "secu"
        | "securite sociale" => Column::Nir,
        "email"
        | "e mail"
        | "mail"
        | "courriel"
        | "adresse mail"
        | "adresse email"
        | "adresse e mail"
        | "adresse electronique" => Column::Email,
        "phone"
        | "phones"
        | "telephone"
        | "telephones"
        | "tel"
        | "portable"
        | "mobile"
        | "numero de telephone"
        | "numero telephone" => Column::Phone,
        "france travail id"
        | "identifiant france travail"
        | "id france travail"
        | "ft id"
        | "pole emploi id"
        | "identifiant pole emploi" => Column::FranceTravailId,
        "ml file number" | "numero dossier" | "numero de dossier" | "num dossier" | "dossier" => {
            Column::MlFileNumber
        }
        "last name" | "nom" | "nom de famille" | "surname" | "family name" => Column::LastName,
        "first names" | "first name" | "prenom" | "prenoms" | "given name" | "given names" => {
            Column::FirstNames
        }
        "birth date" | "date naissance" | "date de naissance" | "ddn" | "naissance"
        | "date of birth" | "dob" => Column::BirthDate,
        "id" => Column::Id,
        "agency" | "agence" => Column::Agency,
        "sex" | "sexe" | "nationality" | "nationalite" => Column::Other(Category::Identity),
        "address"
        | "adresse"
        | "address line"
        | "address line1"
        | "address line2"
        | "postal code"
        | "code postal"
        | "city"
        | "ville"
        | "commune"
        | "country"
        | "pays"
        | "address postal code"
        | "address city"
        | "address country" => Column::Other(Category::Contact),
        "benefits"
        | "monthly resources eur"
        | "housing"
        | "mobility"
        | "aides"
        | "ressources"
        | "logement" => Column::Other(Category::Situation),
        "education level" | "level" | "diplomas" | "trainings" | "niveau" | "diplome"
        | "diplomes" | "formations" => Column::Other(Category::Education),
        "experiences" | "current activity" | "contracts" | "contrats" | "activite" => {
            Column::Other(Category::Professional)
        }
        "registered on" | "status" | "counsellor" | "events" | "conseiller" | "statut"
        | "date inscription" => Column::Other(Category::Followup),
        _ => {
            let line = k.strip_prefix("address ")?;
            return line
                .starts_with("line")
                .then_some(Column::Other(Category::Contact));
        }
    })
}

/// Whether a header cell may be shown by name: short, and not shaped like a value (an address,
/// a number), since a file whose first line is data would otherwise show a person's data.
fn showable(header: &str) -> bool {
    let h = header.trim();
    !h.is_empty()
        && h.chars().count() <= 64
        && !h.contains('@')
        && h.chars().filter(char::is_ascii_digit).count() <= 2
        && h.chars()
            .all(|c| c.is_alphanumeric() || " _-.[]'’".contains(c))
}

/// A cell that holds nothing: empty, or what a conversion wrote for nothing.
fn empty(cell: &str) -> bool {
    matches!(
        cell.trim(),
        "" | "null" | "NULL" | "None" | "none" | "[]" | "{}" | "-" | "\"\""
    )
}

/// The separator of a header line: the one of `;` and `,` that appears more often outside
/// quotes (`,` when neither does).
fn separator(header: &[u8]) -> u8 {
    let (mut commas, mut semicolons, mut quoted) = (0usize, 0usize, false);
    for b in header {
        match b {
            b'"' => quoted = !quoted,
            b',' if !quoted => commas += 1,
            b';' if !quoted => semicolons += 1,
            _ => {}
        }
    }
    if semicolons > commas {
        b';'
    } else {
        b','
    }
}

/// A date of birth as the vault writes it (`YYYY-MM-DD`), also from the French `DD/MM/YYYY`
/// (or with dashes or dots) a leaked file may use.
fn iso_date(cell: &str) -> String {
    let t = cell.trim();
    let t = t.split(['T', ' ']).next().unwrap_or(t);
    let parts: Vec<&str> = t.split(['/', '-', '.']).collect();
    match parts.as_slice() {
        [d, m, y] if y.len() == 4 && d.len() <= 2 && m.len() <= 2 => {
            format!("{y}-{m:0>2}-{d:0>2}")
        }
        _ => t.to_string(),
    }
}

/// One row of the leaked file, as the vault looks it up. `Debug` shows no value.
#[derive(Clone, PartialEq, Eq)]
pub struct LeakedRow {
    /// Its line in the file (the header is line 1).
    pub line: u64,
    /// Its exact-search terms (NIR, email, phones, France Travail id, last name with birth
    /// date), normalised as a file's: to be hashed into blind-index keys, never kept.
    pub terms: Vec<SearchTerm>,
    /// The vault's file id, when the row carries one (an export turned into CSV).
    pub id: Option<String>,
    /// The categories of data the row holds (a non-empty cell in a column of the category).
    pub categories: BTreeSet<Category>,
}

impl std::fmt::Debug for LeakedRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "LeakedRow(line {}, {} term(s), <redacted>)",
            self.line,
            self.terms.len()
        )
    }
}

/// What reading one more row gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Row {
    /// A row read.
    Read(LeakedRow),
    /// A row the CSV reader could not read (bad quoting, not UTF-8), by line.
    Unreadable(u64),
}

/// Reads a leaked CSV one row at a time ([`Iterator`] of [`Row`]).
pub struct LeakReader<R: Read> {
    reader: csv::Reader<std::io::Chain<std::io::Cursor<Vec<u8>>, BufReader<R>>>,
    columns: Vec<Option<Column>>,
    unrecognised: Vec<String>,
    rules: ValidationRules,
    record: csv::ByteRecord,
    done: bool,
}

impl<R: Read> std::fmt::Debug for LeakReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LeakReader(<redacted>)")
    }
}

impl<R: Read> LeakReader<R> {
    /// Reads the header line of `input` and what its columns are. `rules` gives the France
    /// Travail identifier pattern.
    pub fn new(input: R, rules: &ValidationRules) -> Result<LeakReader<R>, LeakError> {
        let mut input = BufReader::new(input);
        let mut head = Vec::new();
        (&mut input)
            .take(HEADER_MAX as u64 + 1)
            .read_until(b'\n', &mut head)
            .map_err(|e| LeakError::Io(e.kind()))?;
        if head.len() > HEADER_MAX {
            return Err(LeakError::Header);
        }
        if head.iter().all(u8::is_ascii_whitespace) {
            return Err(LeakError::Empty);
        }
        if head.starts_with(b"\xef\xbb\xbf") {
            head.drain(..3);
        }
        let sep = separator(&head);
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .delimiter(sep)
            .from_reader(std::io::Cursor::new(head).chain(input));
        let headers = reader.headers().map_err(|_| LeakError::Header)?.clone();
        let columns: Vec<Option<Column>> = headers.iter().map(recognise).collect();
        if columns.iter().all(Option::is_none) {
            return Err(LeakError::NoKnownColumn);
        }
        let unrecognised = headers
            .iter()
            .zip(&columns)
            .enumerate()
            .filter(|(_, (_, c))| c.is_none())
            .map(|(i, (h, _))| {
                if showable(h) {
                    h.trim().to_string()
                } else {
                    format!("column {}", i + 1)
                }
            })
            .collect();
        Ok(LeakReader {
            reader,
            columns,
            unrecognised,
            rules: rules.clone(),
            record: csv::ByteRecord::new(),
            done: false,
        })
    }

    /// The columns ignored, by name (by position, `column N`, when the name looks like a value).
    pub fn unrecognised(&self) -> &[String] {
        &self.unrecognised
    }

    fn row(&self, line: u64) -> Result<LeakedRow, ()> {
        let mut row = LeakedRow {
            line,
            terms: Vec::new(),
            id: None,
            categories: BTreeSet::new(),
        };
        let (mut last, mut birth) = (None::<String>, None::<String>);
        for (i, cell) in self.record.iter().enumerate() {
            let Some(column) = self.columns.get(i).copied().flatten() else {
                continue;
            };
            let cell = std::str::from_utf8(cell).map_err(|_| ())?;
            if empty(cell) {
                continue;
            }
            if let Some(c) = column.category() {
                row.categories.insert(c);
            }
            let term = match column {
                Column::Nir => SearchTerm::nir(cell).ok(),
                Column::Email => SearchTerm::email(cell).ok(),
                Column::FranceTravailId => SearchTerm::france_travail_id(cell, &self.rules).ok(),
                Column::Phone => {
                    for one in cell.split(['|', ';', ',']) {
                        let one = one.trim_matches(|c: char| "[]\"' ".contains(c));
                        if let Ok(t) = SearchTerm::phone(one) {
                            push_new(&mut row.terms, t);
                        }
                    }
                    None
                }
                Column::LastName => {
                    last = Some(cell.to_string());
                    None
                }
                Column::BirthDate => {
                    birth = Some(iso_date(cell));
                    None
                }
                Column::Id => {
                    let id = cell.trim();
                    if id.len() == 36 {
                        row.id = Some(id.to_ascii_lowercase());
                    }
                    None
                }
                _ => None,
            };
            if let Some(t) = term {
                push_new(&mut row.terms, t);
            }
        }
        if let (Some(l), Some(b)) = (&last, &birth) {
            if let Ok(t) = SearchTerm::name_birth(l, b) {
                push_new(&mut row.terms, t);
            }
        }
        for mut s in [last, birth].into_iter().flatten() {
            s.zeroize();
        }
        Ok(row)
    }
}

fn push_new(terms: &mut Vec<SearchTerm>, t: SearchTerm) {
    if !terms.contains(&t) {
        terms.push(t);
    }
}

impl<R: Read> Iterator for LeakReader<R> {
    type Item = Row;

    fn next(&mut self) -> Option<Row> {
        if self.done {
            return None;
        }
        let line = self.reader.position().line() + 1;
        let read = self.reader.read_byte_record(&mut self.record);
        let row = match read {
            Ok(false) => {
                self.done = true;
                return None;
            }
            Ok(true) => {
                let line = self.record.position().map_or(line, |p| p.line());
                match self.row(line) {
                    Ok(r) => Row::Read(r),
                    Err(()) => Row::Unreadable(line),
                }
            }
            Err(e) => {
                if matches!(e.kind(), csv::ErrorKind::Io(_)) {
                    self.done = true;
                }
                Row::Unreadable(e.position().map_or(line, |p| p.line()))
            }
        };
        self.record.clear();
        Some(row)
    }
}

/// A person of the vault found in a leaked file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LeakedPerson {
    /// Pseudonymous id.
    pub id: String,
    /// The file's agency.
    pub agency: String,
    /// The categories of theirs the leaked file holds (over all their rows).
    pub categories: BTreeSet<String>,
    /// The rows that are them, by line.
    pub lines: Vec<u64>,
}

/// A row matched to a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MatchedRow {
    /// Its line in the file.
    pub line: u64,
    /// The person's id.
    pub person: String,
    /// The categories the row holds.
    pub categories: BTreeSet<String>,
    /// What matched: `strong` (a NIR, France Travail id, email, phone or the file id) or
    /// `name_birth` (the last name with the birth date alone).
    pub by: &'static str,
}

/// A row that is a marker of an export: the export the leaked file came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MarkerHit {
    /// Its line in the file.
    pub line: u64,
    /// The export (`exp_…`).
    pub export: String,
    /// The exporting agency.
    pub agency: String,
    /// The recipient organisation the export went to.
    pub recipient: String,
    /// When the export ran, Unix seconds.
    pub exported_at: i64,
}

/// What a leaked file holds of the vault.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LeakMatch {
    /// Rows read (the header not counted, unreadable rows counted).
    pub rows_read: u64,
    /// Rows that are people of the vault, in file order.
    pub matched: Vec<MatchedRow>,
    /// Rows that are nobody in the vault (nor a marker or decoy), by line.
    pub unmatched: Vec<u64>,
    /// Rows whose identifiers point to different people, by line: not guessed.
    pub ambiguous: Vec<u64>,
    /// Rows the CSV reader could not read, by line.
    pub unreadable: Vec<u64>,
    /// Rows that are containment's decoy files (not markers), by line: data that never left
    /// through the API (decoys trip containment) — a copy of the database and its key, or a
    /// forgery.
    pub decoys: Vec<u64>,
    /// Columns ignored, by name.
    pub unrecognised_columns: Vec<String>,
    /// The people found, by id.
    pub people: BTreeMap<String, LeakedPerson>,
    /// Rows that are markers: the exports the file came from.
    pub markers: Vec<MarkerHit>,
}

impl LeakMatch {
    /// Records row `row` as person `id` of `agency`, matched `by`.
    pub fn matched(&mut self, row: &LeakedRow, id: &str, agency: &str, by: &'static str) {
        let categories: BTreeSet<String> = row
            .categories
            .iter()
            .map(|c| c.as_str().to_string())
            .collect();
        let p = self
            .people
            .entry(id.to_string())
            .or_insert_with(|| LeakedPerson {
                id: id.to_string(),
                agency: agency.to_string(),
                ..LeakedPerson::default()
            });
        p.categories.extend(categories.iter().cloned());
        p.lines.push(row.line);
        self.matched.push(MatchedRow {
            line: row.line,
            person: id.to_string(),
            categories,
            by,
        });
    }

    /// The exports the markers found name, each once: (export, agency, recipient, when).
    pub fn exports(&self) -> Vec<(&str, &str, &str, i64)> {
        let mut seen = BTreeMap::new();
        for m in &self.markers {
            seen.entry(m.export.as_str()).or_insert((
                m.export.as_str(),
                m.agency.as_str(),
                m.recipient.as_str(),
                m.exported_at,
            ));
        }
        seen.into_values().collect()
    }

    /// People found per category.
    pub fn per_category(&self) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for p in self.people.values() {
            for c in &p.categories {
                *out.entry(c.clone()).or_insert(0) += 1;
            }
        }
        out
    }

    /// The summary in counts alone (what the audit entry records).
    pub fn counts(&self) -> String {
        format!(
            "rows={} matched={} unmatched={} ambiguous={} unreadable={} decoys={} people={} markers={} exports={}",
            self.rows_read,
            self.matched.len(),
            self.unmatched.len(),
            self.ambiguous.len(),
            self.unreadable.len(),
            self.decoys.len(),
            self.people.len(),
            self.markers.len(),
            self.exports().len()
        )
    }

    /// The JSON of `rempart leak match --format json`.
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "rows_read": self.rows_read,
            "rows_matched": self.matched.len(),
            "rows_unmatched": self.unmatched.len(),
            "rows_ambiguous": self.ambiguous.len(),
            "rows_unreadable": self.unreadable.len(),
            "rows_decoys": self.decoys.len(),
            "matched": self.matched,
            "unmatched": self.unmatched,
            "ambiguous": self.ambiguous,
            "unreadable": self.unreadable,
            "decoys": self.decoys,
            "unrecognised_columns": self.unrecognised_columns,
            "people": self.people.values().collect::<Vec<_>>(),
            "per_category": self.per_category(),
            "markers": self.markers,
            "exports": self.exports().iter().map(|(id, agency, recipient, at)| serde_json::json!({
                "id": id, "agency": agency, "recipient": recipient, "exported_at": at,
            })).collect::<Vec<_>>(),
        })
    }

    /// The text of `rempart leak match`: the summary, the people with their categories, and
    /// the exports the markers name.
    pub fn text(&self) -> String {
        let mut out = format!(
            "rows read: {}\nrows matched: {}\nrows unmatched: {}\nrows ambiguous: {}\nrows unreadable: {}\n",
            self.rows_read,
            self.matched.len(),
            self.unmatched.len(),
            self.ambiguous.len(),
            self.unreadable.len()
        );
        if !self.decoys.is_empty() {
            out.push_str(&format!(
                "rows that are decoy files: {} (lines {})\n",
                self.decoys.len(),
                lines(&self.decoys)
            ));
        }
        if !self.ambiguous.is_empty() {
            out.push_str(&format!("ambiguous lines: {}\n", lines(&self.ambiguous)));
        }
        if !self.unreadable.is_empty() {
            out.push_str(&format!("unreadable lines: {}\n", lines(&self.unreadable)));
        }
        if !self.unrecognised_columns.is_empty() {
            out.push_str(&format!(
                "columns ignored: {}\n",
                self.unrecognised_columns.join(", ")
            ));
        }
        out.push_str(&format!("people: {}\n", self.people.len()));
        for p in self.people.values() {
            let cats: Vec<&str> = p.categories.iter().map(String::as_str).collect();
            out.push_str(&format!("  {}\t{}\t{}\n", p.id, p.agency, cats.join(",")));
        }
        let exports = self.exports();
        if exports.is_empty() {
            out.push_str("exports: none (no marker in the file)\n");
        } else {
            out.push_str(&format!("exports: {}\n", exports.len()));
            for (id, agency, recipient, at) in exports {
                out.push_str(&format!("  {id}\tfrom {agency}\tto {recipient}\tat {at}\n"));
            }
        }
        out
    }
}

fn lines(v: &[u64]) -> String {
    v.iter().map(u64::to_string).collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rempart_domain::{FranceTravailPattern, IndexKind};

    fn rules() -> ValidationRules {
        ValidationRules {
            today: chrono::NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
            france_travail: FranceTravailPattern::default(),
        }
    }

    fn rows(csv: &str) -> (Vec<Row>, Vec<String>) {
        let r = LeakReader::new(csv.as_bytes(), &rules()).unwrap();
        let unrecognised = r.unrecognised().to_vec();
        (r.collect(), unrecognised)
    }

    fn read(row: &Row) -> &LeakedRow {
        match row {
            Row::Read(r) => r,
            Row::Unreadable(l) => panic!("line {l} unreadable"),
        }
    }

    fn kinds(r: &LeakedRow) -> Vec<IndexKind> {
        r.terms.iter().map(|t| t.kind).collect()
    }

    fn cats(r: &LeakedRow) -> Vec<&'static str> {
        r.categories.iter().map(|c| c.as_str()).collect()
    }

    #[test]
    fn the_import_columns_are_read_as_the_vault_normalises_them() {
        let header = rempart_ingest::COLUMNS.join(",");
        let csv = format!(
            "{header},agency\nMartin,Léa,2006-04-17,F,FR,2060475113042 33,1234567A,Lea.Martin@Example.fr,06 12 34 56 78|07 00 00 00 01,,75013,Paris,RSA,4,2024-09-02,registered,c.durand,ML-1\n"
        );
        let (rows, unrecognised) = rows(&csv);
        assert!(unrecognised.is_empty(), "{unrecognised:?}");
        let r = read(&rows[0]);
        assert_eq!(r.line, 2);
        assert_eq!(
            kinds(r),
            [
                IndexKind::Nir,
                IndexKind::FranceTravailId,
                IndexKind::Email,
                IndexKind::Phone,
                IndexKind::Phone,
                IndexKind::NameBirth
            ]
        );
        let values: Vec<&str> = r.terms.iter().map(|t| t.normalised_value()).collect();
        assert_eq!(
            values,
            [
                "206047511304233",
                "1234567A",
                "lea.martin@example.fr",
                "+33612345678",
                "+33700000001",
                "martin|2006-04-17"
            ]
        );
        assert_eq!(
            cats(r),
            [
                "identity",
                "social_security",
                "agency_ids",
                "contact",
                "situation",
                "education",
                "followup"
            ]
        );
    }

    #[test]
    fn every_import_column_is_recognised() {
        for c in rempart_ingest::COLUMNS {
            assert!(recognise(c).is_some(), "{c}");
        }
    }

    #[test]
    fn an_export_turned_into_csv_is_read_with_semicolons_and_a_bom() {
        let csv = "\u{feff}id;agency;identity.last_name;identity.first_names;identity.birth_date;contact.email;contact.phones[0];contact.address.city;education.level;legal_representatives[0].email;nir_last_digits\n\
                   0F8E2C1A-0000-4000-8000-000000000001;ML-1;Petit;Noé;2012-01-01;noe@example.fr;+33612345678;Lyon;3;mother@example.fr;***********42 33\n";
        let (rows, unrecognised) = rows(csv);
        assert!(unrecognised.is_empty(), "{unrecognised:?}");
        let r = read(&rows[0]);
        assert_eq!(
            r.id.as_deref(),
            Some("0f8e2c1a-0000-4000-8000-000000000001")
        );
        // The representative's email is not the person's; a masked NIR is no search key.
        assert_eq!(
            kinds(r),
            [IndexKind::Email, IndexKind::Phone, IndexKind::NameBirth]
        );
        assert_eq!(r.terms.len(), 3);
        assert_eq!(
            r.terms
                .iter()
                .find(|t| t.kind == IndexKind::Email)
                .unwrap()
                .normalised_value(),
            "noe@example.fr"
        );
        assert_eq!(
            cats(r),
            [
                "identity",
                "social_security",
                "contact",
                "education",
                "legal_representatives"
            ]
        );
    }

    #[test]
    fn french_aliases_and_french_dates() {
        let (rows, unrecognised) =
            rows("Nom,Prénoms,Date de naissance,Téléphone,Courriel,Remarque\nDupré,Éloïse,03/02/2001,+33 6 12 34 56 78,x@example.fr,vue le 3\n");
        assert_eq!(unrecognised, ["Remarque"]);
        let r = read(&rows[0]);
        let nb = r
            .terms
            .iter()
            .find(|t| t.kind == IndexKind::NameBirth)
            .unwrap();
        assert_eq!(nb.normalised_value(), "dupre|2001-02-03");
        assert_eq!(cats(r), ["identity", "contact"]);
    }

    #[test]
    fn a_header_of_nothing_known_is_refused_and_values_are_never_shown() {
        let err = LeakReader::new("Martin,lea@example.fr\n".as_bytes(), &rules()).unwrap_err();
        assert_eq!(err, LeakError::NoKnownColumn);
        assert!(!err.to_string().contains("Martin"));
        assert_eq!(
            LeakReader::new("".as_bytes(), &rules()).unwrap_err(),
            LeakError::Empty
        );
        let (_, unrecognised) = rows("email,lea@example.fr,0612345678,Notes\n");
        assert_eq!(unrecognised, ["column 2", "column 3", "Notes"]);
    }

    #[test]
    fn unreadable_rows_are_counted_by_line_never_shown() {
        let csv = b"email,nom,notes\na@example.fr,Martin,\n\xff\xfe@example.fr,Secret,\nb@example.fr,Roux,\xff\nc@example.fr,\"Dupont\nsur deux lignes\",\n\xffd@example.fr,Petit\n";
        let r = LeakReader::new(&csv[..], &rules()).unwrap();
        let rows: Vec<Row> = r.collect();
        assert!(matches!(rows[0], Row::Read(_)));
        assert_eq!(rows[1], Row::Unreadable(3));
        // A bad byte in a column not read is no matter.
        assert!(matches!(rows[2], Row::Read(ref r) if r.line == 4));
        // A quoted cell over two lines is one row.
        assert!(matches!(rows[3], Row::Read(ref r) if r.line == 5 && r.terms.len() == 1));
        assert_eq!(rows[4], Row::Unreadable(7));
        assert_eq!(rows.len(), 5);
        let shown = format!("{rows:?}");
        assert!(
            !shown.contains("Secret") && !shown.contains("example"),
            "{shown}"
        );
    }

    #[test]
    fn invalid_values_give_no_term_but_their_category() {
        let (rows, _) = rows("nir,email,phone\n123,not-an-email,12\n");
        let r = read(&rows[0]);
        assert!(r.terms.is_empty());
        assert_eq!(cats(r), ["social_security", "contact"]);
    }

    #[test]
    fn the_report_is_in_counts_and_names_each_export_once() {
        let mut m = LeakMatch {
            rows_read: 3,
            unmatched: vec![3],
            ..LeakMatch::default()
        };
        let row = LeakedRow {
            line: 2,
            terms: vec![],
            id: None,
            categories: [Category::Identity, Category::Contact].into(),
        };
        m.matched(&row, "p1", "ML-1", "strong");
        for line in [4, 5] {
            m.markers.push(MarkerHit {
                line,
                export: "exp_1".into(),
                agency: "ML-1".into(),
                recipient: "AFPA".into(),
                exported_at: 7,
            });
        }
        assert_eq!(m.exports(), [("exp_1", "ML-1", "AFPA", 7)]);
        assert_eq!(
            m.counts(),
            "rows=3 matched=1 unmatched=1 ambiguous=0 unreadable=0 decoys=0 people=1 markers=2 exports=1"
        );
        assert_eq!(m.people["p1"].categories.len(), 2);
        let j = m.json();
        assert_eq!(j["exports"][0]["recipient"], "AFPA");
        assert_eq!(j["people"][0]["id"], "p1");
        assert!(m.text().contains("exp_1\tfrom ML-1\tto AFPA"));
        assert!(LeakMatch::default().text().contains("exports: none"));
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// A NIR with its key, as 13 digits and a key, for a sex, year and month.
        fn nir(sex: u8, yy: u32, mm: u32, place: u32, order: u32) -> String {
            let first13 = format!("{sex}{yy:02}{mm:02}{place:05}{order:03}");
            format!("{first13}{:02}", rempart_domain::nir_key(&first13).unwrap())
        }

        #[derive(Debug, Clone)]
        struct Person {
            last: Option<String>,
            birth: Option<(i32, u32, u32)>,
            email: Option<String>,
            phone: Option<String>,
            nir: Option<String>,
            ft: Option<String>,
        }

        fn person() -> impl Strategy<Value = Person> {
            (
                proptest::option::of("[A-Za-zéÉèçÇœ][a-zéèêïô' -]{0,12}[a-z]"),
                proptest::option::of((1950i32..2020, 1u32..=12, 1u32..=28)),
                proptest::option::of(
                    "[a-zA-Z0-9]{1,10}(\\.[a-z0-9]{1,5})?@[a-z]{2,8}\\.(fr|com|org)",
                ),
                proptest::option::of((6u8..=7, 0u32..100_000_000)),
                proptest::option::of((1u8..=2, 0u32..100, 1u32..=12, 1000u32..96000, 1u32..999)),
                proptest::option::of((0u32..10_000_000, 0u8..26)),
            )
                .prop_map(|(last, birth, email, phone, nir_parts, ft)| Person {
                    last,
                    birth,
                    email,
                    phone: phone.map(|(p, n)| format!("0{p}{n:08}")),
                    nir: nir_parts.map(|(s, y, m, place, o)| nir(s, y, m, place, o)),
                    ft: ft.map(|(n, l)| format!("{n:07}{}", char::from(b'A' + l))),
                })
        }

        /// The terms the vault derives from the same values.
        fn expected(p: &Person) -> Vec<(IndexKind, String)> {
            let mut out = Vec::new();
            let mut push = |t: Result<SearchTerm, String>| {
                if let Ok(t) = t {
                    out.push((t.kind, t.normalised_value().to_string()));
                }
            };
            if let Some(n) = &p.nir {
                push(SearchTerm::nir(n));
            }
            if let Some(e) = &p.email {
                push(SearchTerm::email(e));
            }
            if let Some(ph) = &p.phone {
                push(SearchTerm::phone(ph));
            }
            if let Some(f) = &p.ft {
                push(SearchTerm::france_travail_id(f, &rules()));
            }
            if let (Some(l), Some((y, m, d))) = (&p.last, p.birth) {
                push(SearchTerm::name_birth(l, &format!("{y:04}-{m:02}-{d:02}")));
            }
            out.sort();
            out.dedup();
            out
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            #[test]
            fn a_rendered_row_parses_back_to_the_same_terms(
                people in proptest::collection::vec(person(), 1..8),
                semicolon in any::<bool>(),
                bom in any::<bool>(),
                french in any::<bool>(),
                spaced in any::<bool>(),
            ) {
                let names: [&str; 6] = if french {
                    ["nom", "date_naissance", "courriel", "téléphone", "numéro de sécurité sociale", "identifiant France Travail"]
                } else {
                    ["identity.last_name", "identity.birth_date", "contact.email", "contact.phones[0]", "nir", "france_travail_id"]
                };
                let mut w = csv::WriterBuilder::new()
                    .delimiter(if semicolon { b';' } else { b',' })
                    .from_writer(Vec::new());
                w.write_record(names).unwrap();
                for p in &people {
                    let birth = p.birth.map(|(y, m, d)| if french {
                        format!("{d:02}/{m:02}/{y:04}")
                    } else {
                        format!("{y:04}-{m:02}-{d:02}")
                    });
                    let nir = p.nir.as_ref().map(|n| if spaced {
                        format!("{} {} {} {} {} {} {}", &n[0..1], &n[1..3], &n[3..5], &n[5..7], &n[7..10], &n[10..13], &n[13..15])
                    } else {
                        n.clone()
                    });
                    let phone = p.phone.as_ref().map(|ph| if spaced {
                        format!("{} {} {} {} {}", &ph[0..2], &ph[2..4], &ph[4..6], &ph[6..8], &ph[8..10])
                    } else {
                        ph.clone()
                    });
                    w.write_record([
                        p.last.clone().unwrap_or_default(),
                        birth.unwrap_or_default(),
                        p.email.clone().unwrap_or_default(),
                        phone.unwrap_or_default(),
                        nir.unwrap_or_default(),
                        p.ft.clone().unwrap_or_default(),
                    ]).unwrap();
                }
                let mut bytes = if bom { b"\xef\xbb\xbf".to_vec() } else { Vec::new() };
                bytes.extend(w.into_inner().unwrap());
                let r = LeakReader::new(&bytes[..], &rules()).unwrap();
                prop_assert!(r.unrecognised().is_empty());
                let rows: Vec<Row> = r.collect();
                prop_assert_eq!(rows.len(), people.len());
                for (i, (row, p)) in rows.iter().zip(&people).enumerate() {
                    let Row::Read(row) = row else {
                        return Err(TestCaseError::fail(format!("row {i} unreadable")));
                    };
                    prop_assert_eq!(row.line, i as u64 + 2);
                    let mut got: Vec<(IndexKind, String)> = row
                        .terms
                        .iter()
                        .map(|t| (t.kind, t.normalised_value().to_string()))
                        .collect();
                    got.sort();
                    prop_assert_eq!(got, expected(p));
                }
            }

            #[test]
            fn any_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
                if let Ok(r) = LeakReader::new(&bytes[..], &rules()) {
                    for _ in r {}
                }
            }

            #[test]
            fn any_text_under_a_known_header_never_panics(
                body in "[a-z0-9@.;,\"\n\r /+*-]{0,400}",
                names in proptest::collection::vec("nir|email|phone|nom|prenom|date_naissance|id|x", 0..6),
                semicolon in any::<bool>(),
            ) {
                let sep = if semicolon { ";" } else { "," };
                let text = format!("nir{sep}{}\n{body}", names.join(sep));
                let r = LeakReader::new(text.as_bytes(), &rules()).unwrap();
                let n = r.count();
                let ends = body.bytes().filter(|b| *b == b'\n' || *b == b'\r').count();
                prop_assert!(n <= ends + 1);
            }
        }
    }
}
