-- The date the current round's answers are due (YYYY-MM-DD): set with the
-- system and again when a round starts; reminders fall 30, 7 and 1 days
-- before it. Empty for systems recorded before it was asked.
ALTER TABLE system ADD COLUMN due_on TEXT;
