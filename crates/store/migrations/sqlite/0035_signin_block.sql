-- The block a sign-in attempt came from (an IPv6 address's /48, an IPv4
-- address itself), for the throttle of a whole block: a client given a
-- /48 holds 65,536 /64s, each throttled alone. Attempts made before are
-- left without one: the throttle's window is minutes, and an account that
-- signed in before is still known by its address.
ALTER TABLE signin_attempt ADD COLUMN client_block TEXT;
CREATE INDEX signin_attempt_block ON signin_attempt (client_block, at_us);
-- A login's sign-ins in the window, for the limit of one account's.
CREATE INDEX signin_attempt_login ON signin_attempt (login, at_us);
