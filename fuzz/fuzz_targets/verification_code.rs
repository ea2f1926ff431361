//! The verification code parser on arbitrary text (what a person types on the public page):
//! never panics, and what it accepts is written back in a form that reads as the same code,
//! whatever its case and separators.
#![no_main]
#![forbid(unsafe_code)]

use libfuzzer_sys::fuzz_target;
use rempart_crypto::VerificationCode;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(code) = VerificationCode::parse(s) {
        let written = code.to_string();
        assert_eq!(written.len(), 14);
        assert_eq!(VerificationCode::parse(&written), Ok(code));
        assert_eq!(VerificationCode::parse(&written.to_lowercase()), Ok(code));
        assert_eq!(VerificationCode::parse(&code.compact()), Ok(code));
    }
});
