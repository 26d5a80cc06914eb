-- A data key is recorded before it seals anything; `sealing` is 1 while
-- the values stored before encryption at rest are still being sealed
-- under it (a first start stopped part way resumes at the next).
ALTER TABLE data_key ADD COLUMN sealing INTEGER NOT NULL DEFAULT 0;
