//! The JSON body of `POST /v1/persons` on arbitrary bytes: parsing and validation never panic.
#![no_main]
#![forbid(unsafe_code)]

use libfuzzer_sys::fuzz_target;
use rempart_domain::{FranceTravailPattern, PersonInput, ValidFile, ValidationRules};

fuzz_target!(|data: &[u8]| {
    let rules = ValidationRules {
        today: chrono::NaiveDate::from_ymd_opt(2026, 11, 23).unwrap_or_default(),
        france_travail: FranceTravailPattern::default(),
    };
    if let Ok(input) = rempart_server::parse_json::<PersonInput>(data) {
        let _ = ValidFile::parse(input, &rules);
    }
});
