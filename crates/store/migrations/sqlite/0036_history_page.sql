-- A round's history read a page at a time, in the order it was written:
-- without this, each page sorted every line of the round first.
CREATE INDEX answer_event_round ON answer_event (system_id, round, id);
