//! Synthetic files for demos, tests and benchmarks: French names, birth dates 1995–2010,
//! NIRs whose key, sex, year and month agree with the identity, French addresses and postal
//! codes, `+33` mobile numbers, emails, benefits and education levels. The same seed gives the
//! same files. Nothing here is a real person.
//!
//! ```
//! let a = rempart_synth::generate(3, 2, 7);
//! let b = rempart_synth::generate(3, 2, 7);
//! assert_eq!(a, b);
//! assert!(rempart_domain::Nir::parse(&a[0].nir).is_ok());
//! ```
#![forbid(unsafe_code)]
#![forbid(unused_must_use)]
#![deny(missing_docs)]

mod like;

pub use like::young_person_like;

use chrono::{Datelike, NaiveDate};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rempart_domain::{nir_key, normalise_name};
use std::io::Write;

const LAST: &[&str] = &[
    "Martin",
    "Bernard",
    "Thomas",
    "Petit",
    "Robert",
    "Richard",
    "Durand",
    "Dubois",
    "Moreau",
    "Laurent",
    "Simon",
    "Michel",
    "Lefèvre",
    "Leroy",
    "Roux",
    "David",
    "Bertrand",
    "Morel",
    "Fournier",
    "Girard",
    "Bonnet",
    "Dupont",
    "Lambert",
    "Fontaine",
    "Rousseau",
    "Vincent",
    "Muller",
    "Lefebvre",
    "Faure",
    "André",
    "Mercier",
    "Blanc",
    "Guérin",
    "Boyer",
    "Garnier",
    "Chevalier",
    "François",
    "Legrand",
    "Gauthier",
    "Garcia",
    "Perrin",
    "Robin",
    "Clément",
    "Morin",
    "Nicolas",
    "Henry",
    "Roussel",
    "Mathieu",
    "Gautier",
    "Masson",
    "Marchand",
    "Duval",
    "Denis",
    "Dumont",
    "Marie",
    "Lemaire",
    "Noël",
    "Meyer",
    "Dufour",
    "Meunier",
    "Brun",
    "Blanchard",
    "Giraud",
    "Joly",
    "Rivière",
    "Lucas",
    "Brunet",
    "Gaillard",
    "Barbier",
    "Arnaud",
    "Martinez",
    "Gérard",
    "Roche",
    "Renard",
    "Schmitt",
    "Roy",
    "Leroux",
    "Colin",
    "Vidal",
    "Caron",
    "Picard",
    "Roger",
    "Fabre",
    "Aubert",
    "Lemoine",
    "Renaud",
    "Dumas",
    "Lacroix",
    "Olivier",
    "Philippe",
    "Bourgeois",
    "Pierre",
    "Benoît",
    "Rey",
    "Leclerc",
    "Payet",
    "Rolland",
    "Leclercq",
    "Guillaume",
    "Lecomte",
    "Diallo",
    "Traoré",
    "Benali",
    "Haddad",
    "Nguyen",
    "Kone",
    "Mendy",
    "Da Silva",
    "Ferreira",
    "Le Gall",
];
const FIRST_F: &[&str] = &[
    "Léa", "Emma", "Chloé", "Manon", "Camille", "Inès", "Jade", "Sarah", "Louise", "Lina", "Zoé",
    "Clara", "Anaïs", "Lucie", "Océane", "Maëlys", "Mathilde", "Eva", "Juliette", "Nour",
    "Yasmine", "Lola", "Margaux", "Pauline", "Justine", "Morgane", "Aïcha", "Salomé", "Romane",
    "Ambre",
];
const FIRST_M: &[&str] = &[
    "Lucas",
    "Hugo",
    "Enzo",
    "Nathan",
    "Louis",
    "Théo",
    "Mathis",
    "Tom",
    "Noah",
    "Gabriel",
    "Jules",
    "Adam",
    "Raphaël",
    "Arthur",
    "Ethan",
    "Maxime",
    "Yanis",
    "Kylian",
    "Mohamed",
    "Rayan",
    "Clément",
    "Antoine",
    "Quentin",
    "Baptiste",
    "Alexandre",
    "Dylan",
    "Kévin",
    "Samuel",
    "Ibrahim",
    "Loïc",
];
/// (city, postal code, INSEE place of birth: department + commune).
const CITIES: &[(&str, &str, &str)] = &[
    ("Paris", "75013", "75113"),
    ("Paris", "75018", "75118"),
    ("Marseille", "13003", "13203"),
    ("Lyon", "69008", "69388"),
    ("Toulouse", "31100", "31555"),
    ("Nice", "06300", "06088"),
    ("Nantes", "44300", "44109"),
    ("Strasbourg", "67100", "67482"),
    ("Montpellier", "34080", "34172"),
    ("Bordeaux", "33800", "33063"),
    ("Lille", "59000", "59350"),
    ("Rennes", "35200", "35238"),
    ("Reims", "51100", "51454"),
    ("Saint-Étienne", "42100", "42218"),
    ("Le Havre", "76600", "76351"),
    ("Grenoble", "38100", "38185"),
    ("Dijon", "21000", "21231"),
    ("Angers", "49100", "49007"),
    ("Nîmes", "30000", "30189"),
    ("Clermont-Ferrand", "63000", "63113"),
    ("Amiens", "80000", "80021"),
    ("Limoges", "87000", "87085"),
    ("Perpignan", "66000", "66136"),
    ("Metz", "57000", "57463"),
    ("Besançon", "25000", "25056"),
    ("Rouen", "76000", "76540"),
    ("Mulhouse", "68100", "68224"),
    ("Roubaix", "59100", "59512"),
    ("Saint-Denis", "93200", "93066"),
    ("Ajaccio", "20000", "2A004"),
    ("Bastia", "20200", "2B033"),
    ("Saint-Denis", "97400", "97411"),
    ("Fort-de-France", "97200", "97209"),
];
const STREET_TYPES: &[&str] = &[
    "rue",
    "avenue",
    "boulevard",
    "impasse",
    "allée",
    "place",
    "chemin",
];
const STREETS: &[&str] = &[
    "des Lilas",
    "Victor Hugo",
    "Jean Jaurès",
    "de la République",
    "Pasteur",
    "du Général de Gaulle",
    "des Écoles",
    "de la Gare",
    "Jules Ferry",
    "du Moulin",
    "des Tilleuls",
    "Émile Zola",
    "de la Paix",
    "Gambetta",
    "Voltaire",
    "des Acacias",
    "Carnot",
    "de Verdun",
    "du Stade",
    "Louis Blanc",
];
const BENEFITS: &[&str] = &["RSA", "APL", "PPA", "ARE", "AAH", "allocation CEJ"];
const DOMAINS: &[&str] = &["example.fr", "example.com", "example.org", "example.net"];

/// One synthetic file, in the CSV import's columns (plus its agency).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SynthFile {
    /// Agency code.
    pub agency: String,
    /// Last name.
    pub last_name: String,
    /// First names.
    pub first_names: String,
    /// `YYYY-MM-DD`.
    pub birth_date: String,
    /// `F` or `M`.
    pub sex: String,
    /// NIR with its key, written with spaces.
    pub nir: String,
    /// France Travail identifier (7 digits and a letter), for about half.
    pub france_travail_id: String,
    /// Email.
    pub email: String,
    /// Phone, French national form with spaces.
    pub phone: String,
    /// Street line.
    pub address_line1: String,
    /// Postal code.
    pub postal_code: String,
    /// City.
    pub city: String,
    /// Benefits, `|`-separated.
    pub benefits: String,
    /// Education level 3–6.
    pub education_level: String,
    /// `YYYY-MM-DD`.
    pub registered_on: String,
    /// `registered` or `struck_off`.
    pub status: String,
    /// Assigned counsellor's login.
    pub counsellor: String,
}

/// Agency codes for `k` agencies: `ML-` + department + a number.
pub fn agency_codes(k: usize) -> Vec<String> {
    (0..k)
        .map(|i| {
            let (_, postal, _) = CITIES[i % CITIES.len()];
            format!("ML-{}-{:02}", &postal[..2], i + 1)
        })
        .collect()
}

/// Counsellor logins of an agency (five per agency).
pub fn counsellors(agency_index: usize) -> Vec<String> {
    ["durand", "lefevre", "benali", "nguyen", "moreau"]
        .iter()
        .map(|n| format!("c.{n}{agency_index}"))
        .collect()
}

fn ascii_slug(s: &str) -> String {
    normalise_name(s)
        .replace(' ', "-")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect()
}

/// The first 13 digits of a NIR agreeing with a sex, a birth date and a place of birth (INSEE
/// code), with a random serial number.
fn nir_first13(rng: &mut ChaCha8Rng, female: bool, birth: NaiveDate, place: &str) -> String {
    format!(
        "{}{:02}{:02}{}{:03}",
        if female { 2 } else { 1 },
        birth.year() % 100,
        birth.month(),
        place,
        rng.gen_range(1..=999)
    )
}

/// Generates `count` files spread over `agencies` agencies, deterministically from `seed`.
pub fn generate(count: usize, agencies: usize, seed: u64) -> Vec<SynthFile> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let codes = agency_codes(agencies.max(1));
    let start = NaiveDate::from_ymd_opt(1995, 1, 1).unwrap_or_default();
    let span = (NaiveDate::from_ymd_opt(2010, 12, 31).unwrap_or_default() - start).num_days();
    (0..count)
        .map(|_| {
            let ai = rng.gen_range(0..codes.len());
            let female = rng.gen_bool(0.5);
            let last = *LAST.choose(&mut rng).unwrap_or(&"Martin");
            let pool = if female { FIRST_F } else { FIRST_M };
            let first = *pool.choose(&mut rng).unwrap_or(&"Camille");
            let first_names = if rng.gen_bool(0.3) {
                format!("{first} {}", pool.choose(&mut rng).unwrap_or(&"Marie"))
            } else {
                first.to_string()
            };
            let birth = start + chrono::Duration::days(rng.gen_range(0..=span));
            let (_, _, place) = *CITIES.choose(&mut rng).unwrap_or(&CITIES[0]);
            let first13 = nir_first13(&mut rng, female, birth, place);
            let key = nir_key(&first13).unwrap_or(0);
            let nir = format!(
                "{} {} {} {} {} {} {key:02}",
                &first13[0..1],
                &first13[1..3],
                &first13[3..5],
                &first13[5..7],
                &first13[7..10],
                &first13[10..13]
            );
            let (city, postal, _) = CITIES[ai % CITIES.len()];
            let email = format!(
                "{}.{}{}@{}",
                ascii_slug(first),
                ascii_slug(last),
                rng.gen_range(1..10_000),
                DOMAINS.choose(&mut rng).unwrap_or(&"example.fr")
            );
            let phone = format!(
                "0{} {:02} {:02} {:02} {:02}",
                rng.gen_range(6..=7),
                rng.gen_range(0..100),
                rng.gen_range(0..100),
                rng.gen_range(0..100),
                rng.gen_range(0..100)
            );
            let address_line1 = format!(
                "{} {} {}",
                rng.gen_range(1..200),
                STREET_TYPES.choose(&mut rng).unwrap_or(&"rue"),
                STREETS.choose(&mut rng).unwrap_or(&"Pasteur")
            );
            let n_benefits = rng.gen_range(0..=2);
            let benefits: Vec<&str> = BENEFITS
                .choose_multiple(&mut rng, n_benefits)
                .copied()
                .collect();
            let registered = NaiveDate::from_ymd_opt(2022, 1, 1).unwrap_or_default()
                + chrono::Duration::days(rng.gen_range(0..1000));
            let ft = if rng.gen_bool(0.5) {
                format!(
                    "{:07}{}",
                    rng.gen_range(0..10_000_000),
                    (b'A' + rng.gen_range(0..26u8)) as char
                )
            } else {
                String::new()
            };
            let cs = counsellors(ai);
            SynthFile {
                agency: codes[ai].clone(),
                last_name: last.to_string(),
                first_names,
                birth_date: birth.format("%Y-%m-%d").to_string(),
                sex: if female { "F" } else { "M" }.to_string(),
                nir,
                france_travail_id: ft,
                email,
                phone,
                address_line1,
                postal_code: postal.to_string(),
                city: city.to_string(),
                benefits: benefits.join("|"),
                education_level: rng.gen_range(3..=6).to_string(),
                registered_on: registered.format("%Y-%m-%d").to_string(),
                status: if rng.gen_bool(0.85) {
                    "registered"
                } else {
                    "struck_off"
                }
                .to_string(),
                counsellor: cs.choose(&mut rng).cloned().unwrap_or_default(),
            }
        })
        .collect()
}

/// Writes files as CSV in the import's columns followed by an `agency` column.
pub fn write_csv<W: Write>(files: &[SynthFile], out: W) -> Result<(), csv::Error> {
    let mut w = csv::Writer::from_writer(out);
    let mut header: Vec<&str> = rempart_ingest::COLUMNS.to_vec();
    header.push(rempart_ingest::AGENCY_COLUMN);
    w.write_record(&header)?;
    for f in files {
        w.write_record([
            &f.last_name,
            &f.first_names,
            &f.birth_date,
            &f.sex,
            "FR",
            &f.nir,
            &f.france_travail_id,
            &f.email,
            &f.phone,
            &f.address_line1,
            &f.postal_code,
            &f.city,
            &f.benefits,
            &f.education_level,
            &f.registered_on,
            &f.status,
            &f.counsellor,
            &f.agency,
        ])?;
    }
    w.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rempart_domain::{FranceTravailPattern, ValidationRules};

    #[test]
    fn every_generated_file_imports() {
        let files = generate(2000, 5, 42);
        let mut csv = Vec::new();
        write_csv(&files, &mut csv).unwrap();
        let rules = ValidationRules {
            today: NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(),
            france_travail: FranceTravailPattern::default(),
        };
        let parsed = rempart_ingest::parse_csv(&csv, None, &rules).unwrap();
        assert_eq!(parsed.len(), 2000);
        let agencies: std::collections::BTreeSet<_> = parsed
            .iter()
            .map(|f| f.agency().as_str().to_string())
            .collect();
        assert_eq!(agencies.len(), 5);
    }

    #[test]
    fn same_seed_same_files_other_seed_other_files() {
        assert_eq!(generate(50, 3, 1), generate(50, 3, 1));
        assert_ne!(generate(50, 3, 1), generate(50, 3, 2));
    }
}
