-- caseloads (the assigned counsellor's login, as in the sealed follow-up category) and partner
-- enrolments, for access policies. Staff logins and organisation codes only: no personal data
-- of the people followed.
ALTER TABLE persons ADD COLUMN counsellor TEXT;
CREATE INDEX persons_caseload ON persons (agency, counsellor, id);
CREATE TABLE enrolments (
    person_id TEXT NOT NULL,
    partner TEXT NOT NULL,
    since INTEGER NOT NULL,
    PRIMARY KEY (person_id, partner)
) WITHOUT ROWID;
CREATE INDEX enrolments_partner ON enrolments (partner, person_id);
INSERT INTO audit_meta (key, value) VALUES ('caseloads_from_followup', (SELECT COUNT(*) > 0 FROM persons));
