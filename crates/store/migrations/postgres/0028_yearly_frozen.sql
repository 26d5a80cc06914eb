-- What a yearly report said when the security office received it (its
-- header's values and its sections' rows, JSON): a received report is
-- shown from this and does not change afterwards. NULL for receipts
-- recorded before it was kept.
ALTER TABLE yearly_report ADD COLUMN frozen TEXT;
