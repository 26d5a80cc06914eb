//! Form validation messages: every field has a declared type, length and
//! character rule; a violation is said in the user's language next to the
//! field, and nothing changes.

use crate::i18n::Tr;
use crate::AppState;
use mamori_core::identity::FieldError;
use mamori_core::identity::{parse_display_name, parse_email, Login};
use mamori_core::password::PasswordProblem;
use serde::Deserialize;

/// Messages by field name, in the order the form asks (the error summary
/// at the top of the page lists them so).
#[derive(Debug, Default)]
pub struct FormErrors(Vec<(&'static str, String)>);

impl FormErrors {
    pub fn new() -> Self {
        Self::default()
    }

    /// The first message for a field stays.
    pub fn add(&mut self, field: &'static str, message: String) {
        if self.get(field).is_none() {
            self.0.push((field, message));
        }
    }

    /// Every message with its field, in order.
    pub fn iter(&self) -> impl Iterator<Item = &(&'static str, String)> {
        self.0.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The message for a field (templates: `errors.get("login")`).
    pub fn get(&self, field: &str) -> Option<&String> {
        self.0.iter().find(|(f, _)| *f == field).map(|(_, m)| m)
    }

    /// Keeps the value of a validation, recording the message on failure.
    pub fn check<T>(&mut self, t: &Tr, field: &'static str, label_key: &str, r: Result<T, FieldError>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.add(field, field_message(t, label_key, e));
                None
            }
        }
    }
}

pub fn field_message(t: &Tr, label_key: &str, e: FieldError) -> String {
    let label = t.get(label_key);
    match e {
        FieldError::Empty => t.with("field-empty", &[("field", &label)]),
        FieldError::TooShort { min } => t.with("field-too-short", &[("field", &label), ("min", &min.to_string())]),
        FieldError::TooLong { max } => t.with("field-too-long", &[("field", &label), ("max", &max.to_string())]),
        FieldError::BadCharacters => t.with("field-bad-characters", &[("field", &label)]),
        FieldError::BadFormat => t.with("field-bad-format", &[("field", &label)]),
        FieldError::Reserved => t.with("field-reserved", &[("field", &label)]),
    }
}

pub fn password_message(t: &Tr, p: PasswordProblem) -> String {
    t.get(match p {
        PasswordProblem::TooShort | PasswordProblem::TooFewClasses => "password-policy",
        PasswordProblem::TooLong => "password-too-long",
        PasswordProblem::ContainsLogin => "password-contains-login",
        PasswordProblem::ControlCharacter => "password-control",
        PasswordProblem::Reused => "password-reused",
    })
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct PersonForm {
    pub login: String,
    pub display_name: String,
    pub email: String,
    pub new_password: String,
    pub confirm_password: String,
}

/// Validates a new person's login, name, e-mail and password; the messages
/// go into `errors`.
pub fn validate_person(
    state: &AppState,
    t: &crate::i18n::Tr,
    form: &PersonForm,
    errors: &mut FormErrors,
) -> Option<(Login, String, String)> {
    let login = errors.check(t, "login", "field-login", Login::parse_new(&form.login));
    let name = errors.check(t, "display_name", "field-display-name", parse_display_name(&form.display_name));
    let email = errors.check(t, "email", "field-email", parse_email(&form.email));
    // The rule against the ID in the password reads the ID as it is kept
    // (trimmed, lower case), not as typed.
    let typed = login.as_ref().map_or(form.login.as_str(), |l| l.as_str());
    validate_new_password(state, t, typed, &form.new_password, &form.confirm_password, errors);
    Some((login?, name?, email?))
}

pub fn validate_new_password(
    state: &AppState,
    t: &crate::i18n::Tr,
    login: &str,
    password: &str,
    confirm: &str,
    errors: &mut FormErrors,
) {
    if let Some(problem) = state.config.security.password.check(password, login).first() {
        errors.add("new_password", password_message(t, *problem));
    } else if password != confirm {
        errors.add("confirm_password", t.get("password-mismatch"));
    }
}

/// The most fields a form of repeated fields ([`Pairs`]) may have: the
/// longest such form ticks up to 1,000 systems.
pub const MAX_PAIRS: usize = 1_100;

/// A form's fields in order, for the forms that repeat a field (ticked
/// items or systems, the documents of a record), at most [`MAX_PAIRS`]: a
/// body of `a&a&…` (1 MiB, the most a form may be) was half a million
/// pairs kept at once, tens of MB a request. More are refused (400).
pub struct Pairs(pub Vec<(String, String)>);

impl<S: Send + Sync> axum::extract::FromRequest<S> for Pairs {
    type Rejection = crate::error::AppError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes =
            axum::body::Bytes::from_request(req, state).await.map_err(|_| crate::error::AppError::BadRequest)?;
        let mut pairs = Vec::new();
        for (k, v) in form_urlencoded::parse(&bytes) {
            if pairs.len() == MAX_PAIRS {
                return Err(crate::error::AppError::BadRequest);
            }
            pairs.push((k.into_owned(), v.into_owned()));
        }
        Ok(Pairs(pairs))
    }
}
