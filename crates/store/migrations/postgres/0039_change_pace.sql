-- How many changes (and audited downloads) a person made in the current
-- minute and the current day in Japan, for the limits of a person's
-- changes. They were counted in each instance's memory, so that behind a
-- balancer over several instances a person could make that many times as
-- many; here every instance counts in one row an account.
CREATE TABLE change_pace (
    account_id BIGINT NOT NULL PRIMARY KEY REFERENCES account (id),
    minute     BIGINT NOT NULL,   -- minutes since 1970-01-01 00:00 UTC
    in_minute  BIGINT NOT NULL,
    day        BIGINT NOT NULL,   -- days since 1970-01-01 in Japan
    in_day     BIGINT NOT NULL
);
