-- What every node of an installation must agree on (where containment counts, its budgets),
-- as a fingerprint: recorded by the first node that starts, checked by every other one at its
-- start (src/agreement.rs). Global: one row per name, a handful in all.
CREATE TABLE node_agreement (
    name TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    recorded_at BIGINT NOT NULL
);
