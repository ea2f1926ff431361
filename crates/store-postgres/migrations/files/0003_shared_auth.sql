-- Authentication's counts shared by the nodes (when no Redis is configured), so that a guesser
-- or a replayed proof meets the same limits whichever node it reaches.
-- auth_failures: failed credential checks per client address and per principal, opaque bytes
-- written by the vault, kept until keep_until (Unix seconds). Distribution key: key.
-- proofs_seen: the DPoP proofs accepted (their key's thumbprint and jti, hashed), each refused
-- again until keep_until. Distribution key: key.
CREATE TABLE auth_failures (
    key TEXT PRIMARY KEY,
    part BYTEA NOT NULL,
    keep_until BIGINT NOT NULL
);
CREATE INDEX auth_failures_keep_until ON auth_failures (keep_until);
CREATE TABLE proofs_seen (
    key TEXT PRIMARY KEY,
    keep_until BIGINT NOT NULL
);
CREATE INDEX proofs_seen_keep_until ON proofs_seen (keep_until);
