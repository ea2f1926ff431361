-- Decoy files: synthetic files planted where enumeration finds them and normal work does not.
-- Through the API they look like real ones; the vault suspends a principal shown one.
ALTER TABLE persons ADD COLUMN decoy INTEGER NOT NULL DEFAULT 0;
