-- A record's link to a library document follows the newest revision while
-- the document's organisation keeps the system; a revision made once it no
-- longer does (the system gone to another vendor) pins the link to the
-- revision before, as an answer's link is pinned.
ALTER TABLE record_document ADD COLUMN pinned_revision INTEGER;  -- NULL: the newest revision
