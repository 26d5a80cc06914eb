//! Accounts, roles and permissions (checklist items 1, 2, 3, 6, 64).
//!
//! Permissions are declared here, in one place; every route names the
//! permission it needs. An administrator holds no business permission: a
//! person who also reviews has a second, separate account (items 1, 6, 64).

use std::fmt;

/// A login id: 3–64 characters of `a-z 0-9 . _ - @`, stored in lower case so
/// that "Yamada" and "yamada" are one person (item 1: one person, one id).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Login(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldError {
    Empty,
    TooShort {
        min: usize,
    },
    TooLong {
        max: usize,
    },
    BadCharacters,
    BadFormat,
    /// A name the server keeps for itself ([`SERVER_LOGINS`]).
    Reserved,
}

/// The names the server records its own actions under in the audit log:
/// its jobs, the daily scans, the first-run setup, the demonstration data
/// and the console. No account takes one, so that an event under one of
/// them is the server's and no person's.
pub const SERVER_LOGINS: [&str; 5] = ["system", "scanner", "setup", "demo", "console"];

impl Login {
    pub const MIN: usize = 3;
    pub const MAX: usize = 64;

    pub fn parse(s: &str) -> Result<Login, FieldError> {
        let s = s.trim().to_ascii_lowercase();
        let n = s.chars().count();
        if n == 0 {
            return Err(FieldError::Empty);
        }
        if !s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-@".contains(c)) {
            return Err(FieldError::BadCharacters);
        }
        if n < Self::MIN {
            return Err(FieldError::TooShort { min: Self::MIN });
        }
        if n > Self::MAX {
            return Err(FieldError::TooLong { max: Self::MAX });
        }
        Ok(Login(s))
    }

    /// The login of a new account: as [`Login::parse`], and not one of
    /// [`SERVER_LOGINS`] (an account made before keeps signing in).
    pub fn parse_new(s: &str) -> Result<Login, FieldError> {
        let login = Login::parse(s)?;
        if SERVER_LOGINS.contains(&login.as_str()) {
            return Err(FieldError::Reserved);
        }
        Ok(login)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Login {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A person's name as shown: 1–100 characters, no control characters.
pub fn parse_display_name(s: &str) -> Result<String, FieldError> {
    parse_text(s, 1, 100)
}

/// Free text of bounded length without control characters or the marks
/// that reorder text ([`crate::text::hidden`]).
pub fn parse_text(s: &str, min: usize, max: usize) -> Result<String, FieldError> {
    bounded(s.trim().to_owned(), min, max, crate::text::hidden)
}

/// Multi-line free text (a reason, a comment): newlines and tabs allowed.
pub fn parse_multiline(s: &str, min: usize, max: usize) -> Result<String, FieldError> {
    bounded(s.trim().replace("\r\n", "\n"), min, max, crate::text::hidden_in_lines)
}

fn bounded(s: String, min: usize, max: usize, refused: fn(char) -> bool) -> Result<String, FieldError> {
    let n = s.chars().count();
    if n == 0 && min > 0 {
        return Err(FieldError::Empty);
    }
    if n < min {
        return Err(FieldError::TooShort { min });
    }
    if n > max {
        return Err(FieldError::TooLong { max });
    }
    if s.chars().any(refused) {
        return Err(FieldError::BadCharacters);
    }
    Ok(s)
}

/// An e-mail address: one `@`, a dot in the domain, no spaces; at most 254.
pub fn parse_email(s: &str) -> Result<String, FieldError> {
    let s = s.trim();
    if s.is_empty() {
        return Err(FieldError::Empty);
    }
    if s.len() > 254 {
        return Err(FieldError::TooLong { max: 254 });
    }
    let ok = match s.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains('@')
                && s.chars().all(|c| c.is_ascii_graphic())
        }
        None => false,
    };
    if ok {
        Ok(s.to_owned())
    } else {
        Err(FieldError::BadFormat)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// システム管理者: accounts, organisations, settings; no reviewing.
    Admin,
    /// 情報セキュリティ担当: catalog, systems, review, reports, audit log, scans.
    SecurityOfficer,
    /// 所管課職員: their department's systems.
    Department,
    /// 事業者: only systems assigned to their organisation.
    Vendor,
    /// 監査: reads everything, the audit log included; changes nothing.
    Auditor,
}

impl Role {
    pub const ALL: [Role; 5] = [Role::Admin, Role::SecurityOfficer, Role::Department, Role::Vendor, Role::Auditor];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::SecurityOfficer => "security-officer",
            Role::Department => "department",
            Role::Vendor => "vendor",
            Role::Auditor => "auditor",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Roles whose sign-in requires a second factor (item 75 and the
    /// identity issue): the ones that can change who sees what.
    pub fn requires_totp(self) -> bool {
        matches!(self, Role::Admin | Role::SecurityOfficer)
    }

    /// The kind of organisation a person of this role belongs to, if any.
    pub fn organisation_kind(self) -> Option<OrgKind> {
        match self {
            Role::Department => Some(OrgKind::Department),
            Role::Vendor => Some(OrgKind::Vendor),
            Role::Admin | Role::SecurityOfficer | Role::Auditor => None,
        }
    }

    pub fn permissions(self) -> &'static [Permission] {
        use Permission::*;
        match self {
            Role::Admin => &[ManageAccounts, ViewAccounts, ReviewAccess],
            Role::SecurityOfficer => &[
                ViewAccounts,
                ReviewAccess,
                ViewSystems,
                ManageSystems,
                ManageCatalog,
                ReviewAnswers,
                ViewAuditLog,
                ManageAlerts,
                ReviewLogs,
                RequestScans,
                ViewPortDetails,
            ],
            Role::Department => &[ViewSystems, AnswerChecklist, SignOffReviews],
            Role::Vendor => &[ViewSystems, AnswerChecklist, RequestScans, SignOffReviews],
            Role::Auditor => &[ViewAccounts, ViewSystems, ViewAuditLog],
        }
    }

    pub fn can(self, p: Permission) -> bool {
        self.permissions().contains(&p)
    }
}

crate::closed_set!(
    /// What a line of the account ledger (ID管理簿) records.
    LedgerChange {
        Issued = "issued",
        Role = "role",
        Organisation = "organisation",
        DisplayName = "display_name",
        Email = "email",
        Disabled = "disabled",
        Enabled = "enabled",
        PasswordReset = "password_reset",
        TotpReset = "totp_reset",
        Unlocked = "unlocked",
    }
);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrgKind {
    Department,
    Vendor,
}

impl OrgKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OrgKind::Department => "department",
            OrgKind::Vendor => "vendor",
        }
    }

    pub fn parse(s: &str) -> Option<OrgKind> {
        match s {
            "department" => Some(OrgKind::Department),
            "vendor" => Some(OrgKind::Vendor),
            _ => None,
        }
    }
}

/// What a route may require. Later capabilities add their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// Create, change, disable, unlock accounts; organisations (admin only,
    /// and only from the admin networks).
    ManageAccounts,
    /// See the account list, the ledger (ID管理簿) and exports.
    ViewAccounts,
    /// Sign off the periodic access review (item 7).
    ReviewAccess,
    /// See systems: all of them (officer, auditor), or only one's own
    /// department's or vendor company's (checked per system).
    ViewSystems,
    /// Register and change systems, override applicability.
    ManageSystems,
    /// Import a new version of the requirements catalog.
    ManageCatalog,
    /// Answer the items one's own organisation answers (a vendor's party,
    /// or the department's own items) of the systems one may see.
    AnswerChecklist,
    /// Approve or return answers.
    ReviewAnswers,
    /// Read the audit log, its exports and the sign-in monitoring (items 28, 67).
    ViewAuditLog,
    /// Acknowledge alerts.
    ManageAlerts,
    /// Record that the logs were reviewed.
    ReviewLogs,
    /// Ask for a scan of a system's URLs (officer; the system's vendor).
    RequestScans,
    /// See which ports a scan found open: a map of the network, for the
    /// security office only.
    ViewPortDetails,
    /// Sign off the year's review of a system's administrator accounts and
    /// logs (item 68's report; the vendor or the owning department).
    SignOffReviews,
}

impl Permission {
    /// Screens that change who may do what answer only to the admin
    /// networks (items 35, 75).
    pub fn admin_network_only(self) -> bool {
        matches!(self, Permission::ManageAccounts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logins() {
        assert_eq!(Login::parse(" Yamada.Taro ").unwrap().as_str(), "yamada.taro");
        assert_eq!(Login::parse("a@b.jp").unwrap().as_str(), "a@b.jp");
        assert_eq!(Login::parse(""), Err(FieldError::Empty));
        assert_eq!(Login::parse("ab"), Err(FieldError::TooShort { min: 3 }));
        assert_eq!(Login::parse(&"a".repeat(65)), Err(FieldError::TooLong { max: 64 }));
        for bad in ["山田", "a b c", "abc<script>", "abc'--", "ab\ncd"] {
            assert_eq!(Login::parse(bad), Err(FieldError::BadCharacters), "{bad}");
        }
    }

    /// The server's own names are no new account's: an event under
    /// `system` or `scanner` is the server's.
    #[test]
    fn a_new_account_takes_no_name_the_server_records_itself_under() {
        assert!(SERVER_LOGINS.contains(&crate::audit::Actor::system().login.as_str()));
        for name in SERVER_LOGINS.iter().copied().chain([" Scanner ", "SYSTEM"]) {
            assert_eq!(Login::parse_new(name), Err(FieldError::Reserved), "{name}");
            assert!(Login::parse(name).is_ok(), "{name}: an older account still signs in");
        }
        assert_eq!(Login::parse_new("scanner2").unwrap().as_str(), "scanner2");
        assert_eq!(Login::parse_new("ab"), Err(FieldError::TooShort { min: 3 }));
    }

    #[test]
    fn emails() {
        assert!(parse_email("taro@city.example.lg.jp").is_ok());
        for bad in ["", "taro", "taro@", "@x.jp", "taro@jp", "ta ro@x.jp", "a@b@c.jp", "a@.jp"] {
            assert!(parse_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn text_fields() {
        assert_eq!(parse_display_name(" 山田 太郎 ").unwrap(), "山田 太郎");
        assert_eq!(parse_display_name("a\u{0}b"), Err(FieldError::BadCharacters));
        assert_eq!(parse_multiline("行1\r\n行2", 1, 10).unwrap(), "行1\n行2");
        assert_eq!(parse_multiline("  ", 1, 10), Err(FieldError::Empty));
    }

    #[test]
    fn admin_holds_no_business_permission_and_auditor_changes_nothing() {
        assert!(Role::Admin.can(Permission::ManageAccounts));
        for r in [Role::SecurityOfficer, Role::Department, Role::Vendor, Role::Auditor] {
            assert!(!r.can(Permission::ManageAccounts), "{r:?}");
        }
        assert!(Role::Auditor
            .permissions()
            .iter()
            .all(|p| matches!(p, Permission::ViewAccounts | Permission::ViewSystems | Permission::ViewAuditLog)));
        assert!(!Role::Admin.can(Permission::ReviewAnswers) && !Role::Admin.can(Permission::ViewSystems));
    }

    #[test]
    fn totp_for_admin_and_officer() {
        let required: Vec<Role> = Role::ALL.into_iter().filter(|r| r.requires_totp()).collect();
        assert_eq!(required, [Role::Admin, Role::SecurityOfficer]);
    }

    #[test]
    fn roles_round_trip() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse("root"), None);
    }
}
