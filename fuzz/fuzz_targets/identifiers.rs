//! NIR, email and phone parsers on arbitrary text: never panic, and what they accept re-parses
//! to the same value.
#![no_main]
#![forbid(unsafe_code)]

use libfuzzer_sys::fuzz_target;
use rempart_domain::{Email, Nir, Phone};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(n) = Nir::parse(s) {
        assert_eq!(Nir::parse(n.as_str()).ok(), Some(n));
    }
    if let Ok(p) = Phone::parse(s) {
        assert_eq!(Phone::parse(p.as_str()).ok(), Some(p));
    }
    if let Ok(e) = Email::parse(s) {
        assert_eq!(Email::parse(e.as_str()).ok(), Some(e));
    }
});
