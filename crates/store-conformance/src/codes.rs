//! Verification codes.

use crate::Fixture;
use rempart_store::CodeRecord;

fn code(lookup: u8, serial: &[u8], message_id: &str) -> CodeRecord {
    CodeRecord {
        lookup: vec![lookup; 32],
        serial: serial.to_vec(),
        recipient: vec![lookup ^ 0xff; 32],
        sent_on: "2026-03-02".into(),
        agency: "ML-075-13".into(),
        message_id: message_id.into(),
        created_at: 1_772_400_000,
    }
}

/// Codes are kept exactly as given (bytes of any length, an empty message id) and found by
/// their lookup key only, every row under a key oldest first (two codes may share one).
pub fn verification_codes_are_kept_whole_and_found_by_lookup(open: &dyn Fn() -> Fixture) {
    let f = open();
    let s = &*f.store;
    assert!(s.codes(&[1; 32]).unwrap().is_empty());
    let a = code(1, &[7; 16], "msg_1");
    let b = code(2, &[8; 16], "");
    s.insert_codes(&[a.clone(), b.clone()]).unwrap();
    assert_eq!(s.codes(&[1; 32]).unwrap(), vec![a.clone()]);
    assert_eq!(s.codes(&[2; 32]).unwrap(), vec![b]);
    assert!(s.codes(&[1; 31]).unwrap().is_empty());
    assert!(s.codes(&[]).unwrap().is_empty());
    // A second row under the same key (a collision, or a row written by someone else) is
    // returned too, after the first: the caller tells them apart with its key.
    let again = code(1, &[9; 3], "msg_2");
    s.insert_codes(std::slice::from_ref(&again)).unwrap();
    assert_eq!(s.codes(&[1; 32]).unwrap(), vec![a, again]);
    s.insert_codes(&[]).unwrap();
}
