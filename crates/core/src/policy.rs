//! Sign-in and session rules (checklist items 41, 46, 3, 65).

use crate::identity::Role;
use time::{Duration, OffsetDateTime};

/// Which roles sign in with a second factor (item 75): the administrator
/// and the security office always ([`Role::requires_totp`]), the others as
/// the ward decides; vendors by default, since they see every weakness of
/// their systems.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecondFactorPolicy {
    pub department: bool,
    pub vendor: bool,
    pub auditor: bool,
}

impl Default for SecondFactorPolicy {
    fn default() -> Self {
        SecondFactorPolicy { department: false, vendor: true, auditor: false }
    }
}

impl SecondFactorPolicy {
    /// Must a person of `role` sign in with a second factor?
    pub fn required(&self, role: Role) -> bool {
        match role {
            Role::Admin | Role::SecurityOfficer => true,
            Role::Department => self.department,
            Role::Vendor => self.vendor,
            Role::Auditor => self.auditor,
        }
    }

    /// The policy of a list of role codes (`vendor`, `department`, …); the
    /// administrator and the security office need not be listed. `Err`
    /// names a code that is no role.
    pub fn of_roles(codes: &[String]) -> Result<SecondFactorPolicy, String> {
        let mut p = SecondFactorPolicy { department: false, vendor: false, auditor: false };
        for code in codes {
            match Role::parse(code.trim()) {
                Some(Role::Department) => p.department = true,
                Some(Role::Vendor) => p.vendor = true,
                Some(Role::Auditor) => p.auditor = true,
                Some(Role::Admin | Role::SecurityOfficer) => {}
                None => return Err(code.clone()),
            }
        }
        Ok(p)
    }
}

/// Item 41: lock the account after `max_failures` consecutive failures, for
/// `lock_for`. Counted in the database so every instance agrees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    pub max_failures: u32,
    pub lock_for: Duration,
    /// Per client address ([`source_of`]): at most this many failed
    /// sign-ins in `address_window`.
    pub address_max_failures: u32,
    pub address_window: Duration,
    /// Per IPv6 /48 ([`block_of`]): at most this many in the same window,
    /// so that a client given a /48 (65,536 /64s) is held back as a few
    /// addresses are, not as thousands.
    pub block_max_failures: u32,
    /// Per account: at most this many successful sign-ins in the same
    /// window, so that someone who has a password cannot keep the password
    /// checks (and the session table) busy by signing in again and again.
    pub account_max_signins: u32,
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        LockoutPolicy {
            max_failures: 10,
            lock_for: Duration::minutes(30),
            address_max_failures: 50,
            address_window: Duration::minutes(15),
            block_max_failures: 200,
            account_max_signins: 60,
        }
    }
}

impl LockoutPolicy {
    /// Is an account with this lock end locked at `now`?
    pub fn is_locked(locked_until: Option<OffsetDateTime>, now: OffsetDateTime) -> bool {
        locked_until.is_some_and(|t| now < t)
    }
}

/// Item 46: sessions end after `idle` without a request and at the latest
/// `absolute` after sign-in, whatever the activity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    pub idle: Duration,
    pub absolute: Duration,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        SessionPolicy { idle: Duration::minutes(60), absolute: Duration::hours(12) }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionState {
    Active,
    IdleExpired,
    AbsoluteExpired,
}

impl SessionPolicy {
    pub fn state(&self, signed_in_at: OffsetDateTime, last_seen: OffsetDateTime, now: OffsetDateTime) -> SessionState {
        if now - signed_in_at >= self.absolute {
            SessionState::AbsoluteExpired
        } else if now - last_seen >= self.idle {
            SessionState::IdleExpired
        } else {
            SessionState::Active
        }
    }
}

/// Items 3, 65: accounts unused for `review_after` are listed for review;
/// after `disable_after` they are disabled automatically.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InactivityPolicy {
    pub review_after: Duration,
    pub disable_after: Duration,
}

impl Default for InactivityPolicy {
    fn default() -> Self {
        InactivityPolicy { review_after: Duration::days(90), disable_after: Duration::days(180) }
    }
}

/// How long the daily housekeeping keeps what it removes once past its
/// time. Failed sign-ins are anyone's to cause, one row each: they are
/// kept for the sign-in watch and the statistics page (a week) and a day
/// more, so that what attackers can grow the database by is what the
/// password checks let through in eight days, not in ninety; their audit
/// events stay for the audit log's retention.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keeping {
    pub done_jobs: Duration,
    pub failed_jobs: Duration,
    pub failed_signins: Duration,
    /// Every successful sign-in of this long stays; older ones, but an
    /// address's first and last, go.
    pub signins: Duration,
    /// Alerts acknowledged and quiet this long go, with their deliveries
    /// (the audit log's retention).
    pub alerts: Duration,
}

impl Default for Keeping {
    fn default() -> Self {
        Keeping {
            done_jobs: Duration::days(31),
            failed_jobs: Duration::days(400),
            failed_signins: Duration::days(8),
            signins: Duration::days(90),
            alerts: Duration::days(730),
        }
    }
}

/// The source a limit per address counts by: an IPv4 address (an
/// IPv4-mapped IPv6 one too) as it is, an IPv6 address by its /64, the
/// share of one site or host; a client given a /64 would otherwise be a
/// new source with every address it takes from it.
pub fn source_of(ip: std::net::IpAddr) -> std::net::IpAddr {
    match ip.to_canonical() {
        std::net::IpAddr::V6(v6) => {
            let s = v6.segments();
            std::net::IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        v4 => v4,
    }
}

/// The block a sign-in's address belongs to, for the wider of the two
/// throttles: an IPv6 address by its /48, the share of one site; an IPv4
/// address (an IPv4-mapped IPv6 one too) as it is.
pub fn block_of(ip: std::net::IpAddr) -> std::net::IpAddr {
    match ip.to_canonical() {
        std::net::IpAddr::V6(v6) => {
            let s = v6.segments();
            std::net::IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], 0, 0, 0, 0, 0))
        }
        v4 => v4,
    }
}

/// [`block_of`] of an address as recorded: its text, the key under which
/// a block's sign-ins are counted and wait their turn; what is no address
/// (a test's name for one) is its own block.
pub fn block_key(addr: &str) -> String {
    addr.parse().map_or_else(|_| addr.to_owned(), |ip| block_of(ip).to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_second_factor_is_the_administrators_and_officers_always_and_vendors_by_default() {
        use super::SecondFactorPolicy;
        use crate::identity::Role;
        let d = SecondFactorPolicy::default();
        let required: Vec<Role> = Role::ALL.into_iter().filter(|r| d.required(*r)).collect();
        assert_eq!(required, [Role::Admin, Role::SecurityOfficer, Role::Vendor]);
        let none = SecondFactorPolicy::of_roles(&[]).unwrap();
        assert!(none.required(Role::Admin) && none.required(Role::SecurityOfficer), "never fewer than these");
        assert!(!none.required(Role::Vendor));
        let all = SecondFactorPolicy::of_roles(&["department".into(), "vendor".into(), "auditor".into()]).unwrap();
        assert!(Role::ALL.into_iter().all(|r| all.required(r)));
        assert_eq!(SecondFactorPolicy::of_roles(&["vendors".into()]), Err("vendors".into()));
    }

    #[test]
    fn an_ipv6_address_counts_by_its_64_and_an_ipv4_one_by_itself() {
        use super::source_of;
        let v = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        assert_eq!(source_of(v("2001:db8:1:2:aaaa::1")), v("2001:db8:1:2::"));
        assert_eq!(source_of(v("2001:db8:1:2:ffff:1:2:3")), source_of(v("2001:db8:1:2::9")));
        assert_ne!(source_of(v("2001:db8:1:3::1")), source_of(v("2001:db8:1:2::1")));
        assert_eq!(source_of(v("192.0.2.7")), v("192.0.2.7"));
        assert_eq!(source_of(v("::ffff:192.0.2.7")), v("192.0.2.7"));
    }

    #[test]
    fn an_ipv6_address_is_in_the_block_of_its_48_and_an_ipv4_one_its_own() {
        use super::{block_of, source_of};
        let v = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        assert_eq!(block_of(v("2001:db8:1:2:aaaa::1")), v("2001:db8:1::"));
        assert_eq!(block_of(v("2001:db8:1:ffff::1")), block_of(v("2001:db8:1:2::9")));
        assert_eq!(block_of(source_of(v("2001:db8:1:2::9"))), v("2001:db8:1::"), "a /64's block is its address's");
        assert_ne!(block_of(v("2001:db8:2::1")), block_of(v("2001:db8:1::1")));
        assert_eq!(block_of(v("192.0.2.7")), v("192.0.2.7"));
        assert_eq!(block_of(v("::ffff:192.0.2.7")), v("192.0.2.7"));
    }

    use super::*;
    use time::macros::datetime;

    #[test]
    fn item_46_idle_and_absolute() {
        let p = SessionPolicy::default();
        let t0 = datetime!(2026-11-28 00:00 UTC);
        assert_eq!(p.state(t0, t0, t0 + Duration::minutes(59)), SessionState::Active);
        assert_eq!(p.state(t0, t0, t0 + Duration::minutes(60)), SessionState::IdleExpired);
        // Active all day: still ends at 12 hours.
        let seen = t0 + Duration::hours(12) - Duration::minutes(1);
        assert_eq!(p.state(t0, seen, t0 + Duration::hours(12)), SessionState::AbsoluteExpired);
        assert_eq!(p.state(t0, seen, seen), SessionState::Active);
    }

    #[test]
    fn item_41_lock_ends_on_time() {
        let t = datetime!(2026-11-28 00:30 UTC);
        assert!(LockoutPolicy::is_locked(Some(t), t - Duration::seconds(1)));
        assert!(!LockoutPolicy::is_locked(Some(t), t));
        assert!(!LockoutPolicy::is_locked(None, t));
    }
}
