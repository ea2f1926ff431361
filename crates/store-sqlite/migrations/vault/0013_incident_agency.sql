-- The agency an incident was opened for (its DPO's or operator's), or LOCAL at the console:
-- an incident opened over HTTP covers its agency's entries only.
ALTER TABLE incidents ADD COLUMN agency TEXT NOT NULL DEFAULT 'LOCAL';
