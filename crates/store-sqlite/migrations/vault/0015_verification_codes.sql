-- Verification codes printed on the messages sent: the keyed hash of the code (looked up by),
-- its serial, the keyed hash of the recipient, the day, the agency and the message. The code
-- is recomputed from the row under the key file's key: a row written without it never verifies.
CREATE TABLE verification_codes (
    lookup BLOB NOT NULL,
    serial BLOB NOT NULL,
    recipient BLOB NOT NULL,
    sent_on TEXT NOT NULL,
    agency TEXT NOT NULL,
    message_id TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL
);
CREATE INDEX verification_codes_lookup ON verification_codes (lookup);
