//! Stored audit entries (binary form 1, or the JSON of older logs) on arbitrary bytes: never
//! panic, a binary entry that decodes re-encodes to exactly the same bytes, and the persons
//! read alone (for the per-person index) are those of the whole entry.
#![no_main]
#![forbid(unsafe_code)]

use libfuzzer_sys::fuzz_target;
use rempart_audit::AuditEntry;

fuzz_target!(|data: &[u8]| {
    let persons = AuditEntry::persons_of(data);
    if let Ok(e) = AuditEntry::parse(data) {
        if data.first() == Some(&rempart_audit::binary::FORMAT_1) {
            assert_eq!(e.canonical(), data);
        }
        assert_eq!(persons.ok().as_ref(), Some(&e.persons));
        assert_eq!(AuditEntry::parse(&e.canonical()).ok(), Some(e));
    }
    let _ = AuditEntry::time_of(data);
});
