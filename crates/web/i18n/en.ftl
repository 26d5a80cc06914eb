app-name = mamori
app-tagline = The security requirements checklist for every system, in one place.
nav-signin = Sign in
nav-home = Home
lang-switch = 日本語
lang-switch-href = ?lang=ja
footer-note = mamori — security requirements checklist for information systems

home-title = Welcome to mamori
home-lead = mamori keeps the security requirements checklist (79 items) for every system the ward procures: vendors' answers, evidence and the security office's review, with automatic verification of the technical web items.
home-roles = Security officers, department staff, vendors and auditors: sign in with the account issued to you.
home-signin = Sign in

error-request-id = Request ID
error-request-id-help = Please quote this ID when you contact us.
error-back-home = Back to home
error-400-title = Bad request
error-400 = The request could not be processed. Check what you entered and try again.
error-403-title = Access denied
error-403 = You do not have permission for this operation.
error-404-title = Page not found
error-404 = The page you are looking for was not found. Check the address.
error-405-title = Operation not allowed
error-405 = This page does not accept that kind of request.
error-408-title = Timed out
error-408 = The request took too long and was stopped. Please try again.
error-413-title = Too large
error-413 = The data sent exceeds the limit. Check the size of the file.
error-429-title = Too many requests
error-429 = Too many requests in a short time. Please wait a moment and try again.
error-500-title = Something went wrong
error-500 = The server met a problem. Please try again later. If it persists, give the request ID below to your administrator.
error-503-title = Temporarily unavailable
error-503 = The service is temporarily unavailable. Please try again later.

# Common
lang-switch-code = ja
nav-label = Menu
nav-dashboard = Dashboard
nav-users = Accounts
nav-ledger = Account ledger
nav-access-review = Access review
nav-organisations = Organisations
nav-account = My account
nav-signout = Sign out
form-save = Save
export-csv = CSV (UTF-8)
export-csv-sjis = CSV (Shift_JIS)
export-xlsx = Excel

# Validation
field-empty = Enter { $field }.
field-too-short = { $field } must be at least { $min } characters.
field-too-long = { $field } must be at most { $max } characters.
field-bad-characters = { $field } contains characters that cannot be used.
field-bad-format = { $field } is not in the right format.

# Fields
field-login = User ID
field-login-help = (lower-case letters, digits and . _ - @, 3 to 64 characters)
field-password = Password
field-current-password = Current password
field-new-password = New password
field-confirm-password = New password (again)
field-display-name = Name
field-email = E-mail
field-role = Role
field-organisation = Organisation
field-organisation-help = (a department for department staff, a vendor for vendors, none for other roles)
field-reason = Reason
field-totp-code = Code (6 digits)
field-recovery-code = Recovery code
field-org-name = Organisation name
field-org-kind = Kind
field-org-contact = Contact

# Roles
role-admin = System administrator
role-security-officer = Security officer
role-department = Department staff
role-vendor = Vendor
role-auditor = Auditor
role-invalid = Choose a role.
status-active = Active
status-disabled = Disabled
status-locked = Locked

# Sign-in
login-title = Sign in
login-submit = Sign in
login-failed = The user ID or password is incorrect
login-expired = You were signed out after a period of inactivity. Please sign in again.
login-taken = This user ID is taken. Choose another.
totp-login-title = Enter your code
totp-login-lead = Enter the 6-digit code shown in your authenticator app.
totp-failed = The code is not correct. Enter the latest code from your authenticator app.
totp-use-recovery = Cannot use your app? (recovery code)
totp-submit = Verify

# First-run setup
setup-title = First-run setup
setup-lead = Create the first system administrator. This account manages accounts and settings only; people who review need a separate security officer account.
setup-submit = Create the administrator
setup-done = The administrator account was created. Please sign in.

# Password
password-title = Change password
password-policy = Use at least 12 characters with three of: upper-case letters, lower-case letters, digits, symbols. It may not contain your user ID or repeat one of your last 5 passwords.
password-too-long = The password may have at most 128 characters.
password-contains-login = The password may not contain your user ID.
password-control = The password contains characters that cannot be used.
password-reused = You used this password recently; choose one you have not used in your last 5.
password-mismatch = The two new passwords do not match.
password-current-wrong = The current password is not correct.
password-due = Your password has expired or was reset by an administrator. Choose a new password.
password-submit = Change
password-changed = Your password was changed.

# Second factor
totp-enrol-title = Set up two-factor authentication
totp-required = Two-factor authentication is required for this role. Other screens are available once it is set up.
totp-enrol-lead = Scan the QR code with an authenticator app (Google Authenticator, Microsoft Authenticator, …) or type the key, then enter the 6-digit code it shows.
totp-secret-label = Key:
totp-confirm = Finish setup
totp-codes-title = Recovery codes
totp-codes-lead = Use these if you lose your authenticator app. Each works once. This page is never shown again: print it or keep it somewhere safe.
totp-codes-done = I have stored them
totp-already = Two-factor authentication is already set up.

# Dashboard and my account
dashboard-title = Dashboard
dashboard-welcome = Welcome, { $name }.
dashboard-coming = The checklist screens (systems, answers, review) are coming.
account-title = My account
account-previous-signin = Previous sign-in
account-password-changed = Password changed
account-totp = Two-factor authentication
account-totp-on = On
account-totp-off = Off
account-totp-enrol = Set up

# Accounts
users-title = Accounts
users-new = Issue an account
users-edit = Change the account
users-last-signin = Last sign-in
users-status = Status
users-initial-password-help = Set an initial password. The person changes it at first sign-in.
users-created = The account was issued.
users-saved = The account was changed. If the role or organisation changed, the person's sessions have ended.
users-disable = Disable
users-enable = Enable
users-unlock = Unlock
users-reset-password = Reset password
users-reset-totp = Reset two-factor authentication
users-disabled = The account was disabled.
users-enabled = The account was enabled.
users-unlocked = The account was unlocked.
users-password-reset = The password was reset. The person changes it at next sign-in.
users-totp-reset = Two-factor authentication was reset. The person sets it up again at next sign-in.
users-not-self = You cannot do this to your own account.
organisation-invalid = Choose an organisation from the list.
organisation-need-vendor = A vendor account needs an organisation of kind "vendor".
organisation-need-department = A department staff account needs an organisation of kind "department".
organisation-none-for-role = Accounts of this role have no organisation.

# Organisations
orgs-title = Organisations
orgs-new = Register an organisation
orgs-created = The organisation was registered.
org-kind-department = Department
org-kind-vendor = Vendor
org-kind-invalid = Choose a kind.
org-name-taken = This organisation is registered already.

# Ledger
ledger-title = Account ledger
ledger-lead = Every issue, change and disable of an account, with time, who did it and why.
ledger-file = account-ledger
ledger-at = Time
ledger-change = Change
ledger-before = Before
ledger-after = After
ledger-actor = By
ledger-change-issued = Issued
ledger-change-role = Role changed
ledger-change-organisation = Organisation changed
ledger-change-display_name = Name changed
ledger-change-email = E-mail changed
ledger-change-disabled = Disabled
ledger-change-enabled = Enabled
ledger-change-password_reset = Password reset
ledger-change-totp_reset = Two-factor reset

# Access review
review-title = Access review
review-lead = Check every account's role, organisation and last sign-in, disable the ones no longer needed, then record that the review is done.
review-inactive-help = Highlighted rows have not signed in for { $days } days or more.
review-sign = Record the review
review-comment = Findings
review-submit = Record
review-signed = The access review was recorded.
review-history = Reviews
review-at = When
review-reviewer = By
review-accounts = Accounts
