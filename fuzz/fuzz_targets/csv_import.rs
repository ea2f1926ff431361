//! The CSV import parser on arbitrary bytes: never panics; accepted files are valid.
#![no_main]
#![forbid(unsafe_code)]

use libfuzzer_sys::fuzz_target;
use rempart_domain::{Agency, FranceTravailPattern, ValidationRules};

fuzz_target!(|data: &[u8]| {
    let rules = ValidationRules {
        today: chrono::NaiveDate::from_ymd_opt(2026, 11, 23).unwrap_or_default(),
        france_travail: FranceTravailPattern::default(),
    };
    let agency = Agency::parse("ML-075-13").ok();
    if let Ok(files) = rempart_ingest::parse_csv(data, agency.as_ref(), &rules) {
        for f in files {
            assert!(f.record().identity.is_some());
        }
    }
});
