//! The leaked-file parser on arbitrary bytes: never panics; every row is read or counted
//! unreadable, with lines in increasing order past the header; no row's `Debug` shows a value.
#![no_main]
#![forbid(unsafe_code)]

use libfuzzer_sys::fuzz_target;
use rempart_domain::{FranceTravailPattern, ValidationRules};
use rempart_incident::leak::{LeakReader, Row};

fuzz_target!(|data: &[u8]| {
    let rules = ValidationRules {
        today: chrono::NaiveDate::from_ymd_opt(2026, 11, 23).unwrap_or_default(),
        france_travail: FranceTravailPattern::default(),
    };
    let Ok(reader) = LeakReader::new(data, &rules) else {
        return;
    };
    let mut last = 1;
    for row in reader {
        let line = match &row {
            Row::Read(r) => {
                assert!(format!("{r:?}").contains("<redacted>"));
                r.line
            }
            Row::Unreadable(line) => *line,
        };
        assert!(line >= last, "lines go forward");
        last = line;
    }
});
