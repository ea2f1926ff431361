-- The index also holds each entry under its principal and day (`@principal/DAY`), for incidents
-- over one principal and a few days. An index built before holds no such rows: emptied, it is
-- built again from the log, as after `audit reindex`.
DELETE FROM persons;
UPDATE position SET through = 0, leaf = NULL WHERE id = 1;
