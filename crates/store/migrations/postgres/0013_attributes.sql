-- Two attributes the seed's wording asks for, each stated as an exception
-- so that every system recorded before keeps every item it had:
-- a cloud service with no hardware of its own (items 11-12 do not apply),
-- and a web system under the ward's own domain (items 69-71 do not apply).
ALTER TABLE system ADD COLUMN cloud_only BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE system ADD COLUMN ward_domain BOOLEAN NOT NULL DEFAULT FALSE;
